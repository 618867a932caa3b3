"""Parsers for conversation fields: free text with caps, dates (bot.domain.dateparse), units (bot.domain.unitmatch), \
people
and yes/no-like menus. Each is `parser(fc, text) -> JSON-friendly value` and raises engine.Invalid / Choose.

Stored values: dates as ISO strings, units and people as {"id", "name"}.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Optional

from sqlalchemy import select

from bot.conversation.flow import Choose, FieldContext, Invalid
from bot.domain.dateparse import DateAmbiguous, DateInvalid, DateOk, parse_date
from bot.domain.responsibility import UnitRolesError, parse_unit_roles
from bot.domain.unitmatch import UnitRef, match_many, match_unit, similar_units
from bot.infra.text import cn_date, cn_weekday
from models import DispatchRow, Person, Unit

NONE_WORDS = ("无", "没有", "暂无", "无问题", "没有问题", "暂无问题", "无困难", "没有困难", "暂无困难", "不填", "跳过",
              "/", "没", "没了", "没有了", "无了")
NONE_TRIM = " 。.！!～~"


def is_none(raw: str) -> bool:
    """The answer means "none" (无 / 没有 / 暂无 / 无问题 …, with a trailing 。 or ！): the one test for it."""
    return (raw or "").strip().strip(NONE_TRIM) in NONE_WORDS
SELF_UNIT_WORDS = ("本单位", "我单位", "本局")
SAME_WORDS = ("同上", "同责任单位")


def text(max_len: int = 1000, min_len: int = 1, optional: bool = False) -> Callable:
    """Free text, trimmed, between min_len and max_len characters; `optional`: 无 means no value."""

    def parse(fc: FieldContext, raw: str):
        value = raw.strip()
        if optional and is_none(value):
            return None
        if len(value) > max_len:
            raise Invalid("engine/err_too_long.txt", max=max_len, got=len(value))
        if len(value) < min_len or not any(ch.isalnum() for ch in value):
            raise Invalid("engine/err_too_short.txt", min=min_len)
        return value

    return parse


def date_label(d: date) -> str:
    return f"{cn_date(d)}（{cn_weekday(d)}）"


def a_date(direction: str = "future", not_before: Optional[Callable[[FieldContext], Optional[date]]] = None,
           not_before_template: str = "engine/err_date_before.txt") -> Callable:
    """A date typed the Chinese way; ambiguous input is asked back with numbered candidates, never guessed.
    `not_before(fc)` gives a floor (e.g. the meeting date for a deadline)."""

    def check_floor(fc: FieldContext, value: date) -> None:
        floor = not_before(fc) if not_before else None
        if floor is not None and value < floor:
            raise Invalid(not_before_template, floor=floor, value=value)

    def parse(fc: FieldContext, raw: str):
        result = parse_date(raw, fc.today, direction)
        if isinstance(result, DateOk):
            check_floor(fc, result.value)
            return result.value.isoformat()
        if isinstance(result, DateAmbiguous):
            options, dropped = [], []
            for d in result.candidates:
                try:
                    check_floor(fc, d)
                except Invalid:
                    dropped.append(d)
                    continue
                options.append((d.isoformat(), date_label(d)))
            if not options:
                check_floor(fc, result.candidates[0])
            raise Choose(options, "engine/choose_date.txt", text=raw, reason=result.reason, dropped=dropped,
                         floor=not_before(fc) if not_before else None, literal=result.literal)
        assert isinstance(result, DateInvalid)
        if result.reason == "in_past" and not_before is not None:  # say "before the meeting" when it is
            anyway = parse_date(raw, fc.today, "any")
            if isinstance(anyway, DateOk):
                check_floor(fc, anyway.value)
        raise Invalid("engine/err_date.txt", reason=result.reason, direction=direction, text=raw,
                      year=result.year, month=result.month, day=result.day)

    return parse


def parse_iso(value: Optional[str]) -> Optional[date]:
    return date.fromisoformat(value) if value else None


# -- units ---------------------------------------------------------------------------------------------
def unit_refs(session) -> list[UnitRef]:
    units = session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id))
    return [UnitRef(str(u.id), u.name, tuple(u.aliases or ())) for u in units]


def unit_value(unit: Unit) -> dict:
    return {"id": unit.id, "name": unit.name}


def a_unit(allow_self: bool = True, optional: bool = False, same_as: Optional[str] = None) -> Callable:
    """One unit of the org chart, matched tolerantly; several candidates are offered by number.
    `allow_self`: 本单位 = the person's unit. `optional`: 无 = none. `same_as`: 同上 = that item field."""

    def parse(fc: FieldContext, raw: str):
        value = raw.strip()
        if optional and is_none(value):
            return None
        if same_as and value in SAME_WORDS and fc.item and fc.item.get(same_as):
            return fc.item[same_as]
        session = fc.ctx.session
        if allow_self and value in SELF_UNIT_WORDS:
            unit = fc.ctx.person.unit
            if unit is None:
                raise Invalid("engine/err_no_own_unit.txt")
            return unit_value(unit)
        if len(value) > 100:
            raise Invalid("engine/err_too_long.txt", max=100, got=len(value))
        refs = unit_refs(session)
        parts = match_many(value, refs)
        if len(parts) > 1:
            raise Invalid("engine/err_one_unit.txt", names=[p for p, _r in parts])
        result = match_unit(value, refs)
        if result.exact is not None:
            return {"id": int(result.exact.id), "name": result.exact.name}
        if len(result.candidates) == 1:  # a near name: confirmed (是/否), never taken silently
            only = result.candidates[0]
            raise Choose([({"id": int(only.id), "name": only.name}, only.name)], "engine/confirm_unit.txt",
                         text=value, unit=only.name)
        if result.candidates:
            raise Choose([({"id": int(r.id), "name": r.name}, r.name) for r in result.candidates],
                         "engine/choose_unit.txt", text=value)
        raise Invalid("engine/err_unit.txt", text=value, similar=[u.name for u in similar_units(value, refs)])

    return parse


def a_units(optional: bool = False, same_as: Optional[str] = None) -> Callable:
    """The responsible units of a matter: one unit (as `a_unit`), or several with their roles —
    "区住建局（主办）、区发改局、南埔镇" or "主办：区住建局；配合：区发改局" (bot.domain.responsibility; an
    unmarked list's first unit is the 主办). Each name is matched to the org chart; a name that matches
    several units is asked back. Stored as the 主办's {"id", "name"} with "assist": [{"id", "name"}…]
    when there are 协办 units."""
    one = a_unit(optional=optional, same_as=same_as)

    def parse(fc: FieldContext, raw: str):
        value = raw.strip()
        if len(value) > 500:
            raise Invalid("engine/err_too_long.txt", max=500, got=len(value))
        try:
            roles = parse_unit_roles(value)
        except UnitRolesError as exc:
            if exc.code == "empty":
                return one(fc, raw)
            raise Invalid("engine/err_unit_roles.txt", code=exc.code, unit=exc.name) from None
        if not roles.assist:
            return one(fc, roles.host)
        refs = unit_refs(fc.ctx.session)
        found = []
        for name in roles.names:
            if name in SELF_UNIT_WORDS and fc.ctx.person.unit is not None:
                found.append(unit_value(fc.ctx.person.unit))
                continue
            result = match_unit(name, refs)
            if result.exact is None:
                raise Invalid("engine/err_unit_in_list.txt", text=name,
                              candidates=[r.name for r in result.candidates[:5]])
            found.append({"id": int(result.exact.id), "name": result.exact.name})
        ids = [u["id"] for u in found]
        if len(set(ids)) != len(ids):
            raise Invalid("engine/err_unit_roles.txt", code="duplicate",
                          unit=next(u["name"] for u in found if ids.count(u["id"]) > 1))
        return {**found[0], "assist": found[1:]}

    return parse


def assist_ids(value: Optional[dict]) -> list[int]:
    """The 协办 unit ids of a stored `a_units` value."""
    return [u["id"] for u in (value or {}).get("assist", [])]


# -- people --------------------------------------------------------------------------------------------
def leader_choices(fc: FieldContext) -> list[tuple[dict, str]]:
    """The district leaders who own dispatch rows (附件2), in row order."""
    rows = fc.ctx.session.scalars(select(DispatchRow).order_by(DispatchRow.seq))
    out, seen = [], set()
    for row in rows:
        if row.leader_id not in seen:
            seen.add(row.leader_id)
            out.append(({"id": row.leader.id, "name": row.leader.name}, row.leader.name))
    return out


def a_leader(fc: FieldContext, raw: str):
    """A leader by (part of) the name, e.g. 陈剑锋 or 剑锋; titles like 副区长 are ignored."""
    value = raw.strip()
    for suffix in ("副区长", "区长", "同志", "领导"):
        if value.endswith(suffix) and len(value) > len(suffix):
            value = value[: -len(suffix)]
    options = leader_choices(fc)
    hits = [(v, label) for v, label in options if value and (value in label or label in value)]
    if len(hits) == 1:
        return hits[0][0]
    if len(hits) > 1:
        raise Choose(hits, "engine/choose_person.txt", text=raw)
    raise Invalid("engine/err_leader.txt", text=raw, options=[label for _v, label in options])


def person_by_id(session, value: Optional[dict]) -> Optional[Person]:
    return session.get(Person, value["id"]) if value else None
