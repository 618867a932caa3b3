"""Which units are responsible for a matter, and in which role — ONE answer (`sql_units` / `units_of`),
used by visibility and followers (bot.domain.scope), reports, notices, 认领 and the forms.

A matter has one 主办 unit — its `responsible_unit_id`, which everything older reads — and any number of
协办 (配合) units, the `matter_unit` rows of role `assist`. Every responsible unit, 主办 included, has a
`matter_unit` row carrying its 认领 (acknowledgement); a matter created without one (a joint-meeting
decision, a row older than migration 0013 is back-filled) still has its 主办 from `responsible_unit_id`.

What the offices type and print (seed 000 §三(二) "分解督办": 主办 and 协办 units):
"区住建局（主办）、区发改局、南埔镇" or "主办：区住建局；配合：区发改局" — `parse_unit_roles` splits such a
text into the 主办 name and the 协办 names (unmarked lists: the first named is the 主办), and `units_label`
prints "区住建局（主办）、区发改局" (a single unit: just its name).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple, Optional

from sqlalchemy import String, literal, or_, select, union_all

from bot.infra.text import env
from models import UNIT_ASSIST, UNIT_HOST, Matter, MatterUnit, Unit

ROLE_LABEL = {UNIT_HOST: "主办", UNIT_ASSIST: "配合"}
_HOST_WORDS = ("主办", "牵头")
_ASSIST_WORDS = ("协办", "配合")
_WORDS = "|".join(_HOST_WORDS + _ASSIST_WORDS)
_FOLD = str.maketrans({"：": ":", "（": "(", "）": ")", "；": ";", "，": ",", "\u3000": " "})
_LABEL = re.compile(rf"({_WORDS})(?:单位)?\s*:")  # "主办：" "配合单位:"
_MARK = re.compile(rf"\(\s*({_WORDS})(?:单位)?\s*\)")  # "（主办）"
_SEP = re.compile(r"[、,;/\n]+")


class UnitRolesError(ValueError):
    """What is wrong with a typed list of units: `code` is empty / two_hosts / no_host / duplicate."""

    def __init__(self, code: str, name: str = ""):
        super().__init__(code)
        self.code, self.name = code, name


class UnitRoles(NamedTuple):
    host: str
    assist: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.host, *self.assist)


def _role_of(word: str) -> str:
    return UNIT_HOST if word in _HOST_WORDS else UNIT_ASSIST


def parse_unit_roles(text: Optional[str]) -> UnitRoles:
    """The 主办 name and the 协办 names of a typed list of units (names as typed, trimmed; not yet matched
    to the org chart). Raises UnitRolesError. Role words: 主办 / 牵头 for the 主办, 协办 / 配合 for the
    others, as a label ("主办：…；配合：…") or a mark after a name ("区住建局（主办）")."""
    folded = (text or "").translate(_FOLD)
    named: list[tuple[str, Optional[str]]] = []  # (name, role or None)
    pos, label = 0, None
    segments = []
    for m in _LABEL.finditer(folded):
        segments.append((folded[pos:m.start()], label))
        pos, label = m.end(), _role_of(m[1])
    segments.append((folded[pos:], label))
    for segment, seg_role in segments:
        for part in _SEP.split(segment):
            role = seg_role
            mark = _MARK.search(part)
            if mark is not None:
                role = _role_of(mark[1])
                part = part[:mark.start()] + part[mark.end():]
            name = part.strip()
            if name:
                named.append((name, role))
    if not named:
        raise UnitRolesError("empty")
    seen = set()
    for name, _role in named:
        if name in seen:
            raise UnitRolesError("duplicate", name)
        seen.add(name)
    hosts = [n for n, r in named if r == UNIT_HOST]
    if len(hosts) > 1:
        raise UnitRolesError("two_hosts", hosts[1])
    if not hosts:
        unmarked = [n for n, r in named if r is None]
        if not unmarked:
            raise UnitRolesError("no_host")
        hosts = unmarked[:1]
    host = hosts[0]
    return UnitRoles(host, tuple(n for n, _r in named if n != host))


def format_unit_roles(host: str, assist: Iterable[str] = ()) -> str:
    """How the offices write it: "区住建局（主办）、区发改局" — just the name when there is one unit."""
    assist = [a for a in assist if a != host]
    return "、".join([f"{host}（主办）", *assist]) if assist else host


# -- the one answer ----------------------------------------------------------------------------------
def sql_units(*where):
    """A selectable of (matter_id, unit_id, role) for the matters matching `where` (conditions on Matter):
    the 主办 (responsible_unit_id) and every 协办 unit."""
    mu = MatterUnit.__table__.c
    host = select(Matter.id.label("matter_id"), Matter.responsible_unit_id.label("unit_id"),
                  literal(UNIT_HOST, String).label("role")).where(*where)
    assist = (select(mu.matter_id, mu.unit_id, literal(UNIT_ASSIST, String))
              .join(Matter, Matter.id == mu.matter_id)
              .where(mu.role == UNIT_ASSIST, mu.unit_id != Matter.responsible_unit_id, *where))
    return union_all(host, assist)


def sql_responsible_for(unit_ids: Iterable[int], roles: Iterable[str] = (UNIT_HOST, UNIT_ASSIST)):
    """The condition on Matter: one of these units is responsible for it (in one of `roles`)."""
    ids, roles = sorted(set(unit_ids)), tuple(roles)
    conds = []
    if UNIT_HOST in roles:
        conds.append(Matter.responsible_unit_id.in_(ids))
    if UNIT_ASSIST in roles:
        conds.append(Matter.id.in_(select(MatterUnit.matter_id).where(MatterUnit.unit_id.in_(ids),
                                                                     MatterUnit.role == UNIT_ASSIST)))
    return or_(*conds)


def units_of(matter: Matter) -> list[tuple[Unit, str]]:
    """(unit, role) for one loaded matter: the 主办 first, then the 协办 units in the order they were added."""
    out = [(matter.responsible_unit, UNIT_HOST)] if matter.responsible_unit is not None else []
    # a lightweight row (bot.actions.status) without the relationship: its 主办 only
    out += [(link.unit, UNIT_ASSIST) for link in getattr(matter, "unit_links", ())
            if link.role == UNIT_ASSIST and link.unit_id != matter.responsible_unit_id]
    return out


def unit_ids_of(matter: Matter) -> list[int]:
    return [u.id for u, _role in units_of(matter)]


def role_of(matter: Matter, unit_id: Optional[int]) -> Optional[str]:
    """The unit's role on the matter (UNIT_HOST / UNIT_ASSIST), None when it is not responsible."""
    return next((role for u, role in units_of(matter) if u.id == unit_id), None)


def units_label(matter: Matter) -> str:
    """责任单位 as the forms and texts print it: "区住建局（主办）、区发改局"."""
    units = units_of(matter)
    if not units:
        return ""
    return format_unit_roles(units[0][0].name, [u.name for u, _r in units[1:]])


env.filters.setdefault("units", units_label)  # {{ m | units }} in every template
env.filters.setdefault("unit_list", lambda m: [u for u, _role in units_of(m)])  # {{ m | unit_list }}: Units
