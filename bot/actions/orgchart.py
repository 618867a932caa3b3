"""The org chart kept by the office in chat (issue 19): units, people, 附件2 rows, key projects' leaders,
group robots. Every change is one do_* function: it checks, writes the row and an audit row
(`orgchart.<verb>`, before/after as field values) and queues its notices in the caller's transaction.

Nothing a ledger item refers to is deleted: a unit, a person or a 附件2 row is *deactivated* (retired).
Every change can be taken back with `do_undo` (撤销: the latest change not yet undone is reverted and the
revert is audited as such); a change made back by hand is just another audited change.

联络员一旦选定，无特殊情况不得更换: in chat a unit's liaison is replaced only with a reason, which is audited
with the old and new person; the unit head and the supervision group are told. (The YAML's first import
may name a first liaison or replace a placeholder without one: bot/actions/seed.py.)
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import select

from bot.actions.base import Act, lock, notify_people
from bot.infra import audit
from models import UNIT_KINDS, AuditLog, ChatGroup, DispatchRow, KeyProject, Person, Unit

PREFIX = "orgchart."
UNDO = PREFIX + "undo"
SUPERVISION_CHAT = "supervision"
MOBILE_RE = re.compile(r"^1\d{10}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# What a change may write and an undo may put back, per audited entity.
MODELS = {"unit": Unit, "person": Person, "dispatch_row": DispatchRow, "key_project": KeyProject,
          "chat_group": ChatGroup}
FIELDS = {
    "unit": ("name", "aliases", "kind", "head_id", "liaison_id", "active"),
    "person": ("name", "title", "mobile", "unit_id", "active"),
    "dispatch_row": ("leader_id", "content", "cycle", "lead_units_note", "office_supervisor_id", "active",
                     "lead_unit_ids", "office_liaison_ids"),
    "key_project": ("leader_id",),
    "chat_group": ("name", "channel", "robot_key_env"),
}


class Refused(Exception):
    """The change can't be made: `template` (templates/orgchart/…) says why, with `kw`."""

    def __init__(self, template: str, **kw):
        super().__init__(template)
        self.template = template
        self.kw = kw


def is_mobile(text: str) -> bool:
    return bool(MOBILE_RE.match(text or ""))


# -- reading and writing the audited fields ---------------------------------------------------------
def state(entity: str, obj) -> dict:
    out: dict[str, Any] = {}
    for f in FIELDS[entity]:
        if f == "lead_unit_ids":
            out[f] = sorted(u.id for u in obj.lead_units)
        elif f == "office_liaison_ids":
            out[f] = sorted(p.id for p in obj.office_liaisons)
        elif f == "aliases":
            out[f] = list(obj.aliases or [])
        else:
            out[f] = getattr(obj, f)
    return out


def _put(session, entity: str, obj, values: Mapping[str, Any]) -> None:
    for f, v in values.items():
        if f not in FIELDS[entity]:
            continue  # labels kept for readers of the audit trail (names), not fields
        if f == "lead_unit_ids":
            obj.lead_units = [session.get(Unit, i) for i in v]
        elif f == "office_liaison_ids":
            obj.office_liaisons = [session.get(Person, i) for i in v]
        else:
            setattr(obj, f, list(v) if f == "aliases" else v)


def _change(act: Act, verb: str, entity: str, obj, values: Mapping[str, Any], *, reason: Optional[str] = None,
            labels: Optional[Mapping[str, Any]] = None) -> Optional[AuditLog]:
    """Write `values` to `obj` and audit what changed (None and nothing written when nothing would)."""
    before = state(entity, obj)
    _put(act.session, entity, obj, values)
    act.session.flush()
    after = state(entity, obj)
    b, a = audit.diff(before, after)
    if not a:
        return None
    if labels:
        a = {**a, **{k: v[1] for k, v in labels.items()}}
        b = {**b, **{k: v[0] for k, v in labels.items()}}
    return audit.record(act.session, actor=act.actor, action=PREFIX + verb, entity=entity, entity_id=obj.id,
                        before=b, after=a, reason=reason)


def _created(act: Act, verb: str, entity: str, obj) -> AuditLog:
    act.session.add(obj)
    act.session.flush()
    return audit.record(act.session, actor=act.actor, action=PREFIX + verb, entity=entity, entity_id=obj.id,
                        before=None, after=state(entity, obj))


def _label(person: Optional[Person]) -> Optional[str]:
    return None if person is None else f"{person.name}（{person.key or person.id}）"


# -- units ------------------------------------------------------------------------------------------
def do_replace_liaison(act: Act, unit: Unit, new: Person, reason: Optional[str]) -> Optional[Person]:
    """Make `new` the unit's 联络员; returns the old one. Refused without a reason."""
    reason = (reason or "").strip()
    lock(act.session, unit)
    old = unit.liaison
    if not unit.active:
        raise Refused("orgchart/inactive_unit.txt", unit=unit)
    if not new.active or new.placeholder:
        raise Refused("orgchart/not_a_liaison.txt", person=new)
    if old is not None and old.id == new.id:
        raise Refused("orgchart/liaison_same.txt", unit=unit, person=new)
    if not reason:
        raise Refused("orgchart/liaison_reason.txt", unit=unit, old=old, new=new)
    if new.unit_id is None:
        _change(act, "set_person", "person", new, {"unit_id": unit.id})
    _change(act, "liaison", "unit", unit, {"liaison_id": new.id}, reason=reason,
            labels={"liaison": (_label(old), _label(new))})
    text = act.render("orgchart/liaison_changed_notice.txt", unit=unit, old=old, new=new, reason=reason)
    notify_people(act, [unit.head, new] + ([old] if old is not None and not old.placeholder else []), text)
    act.notify_group(SUPERVISION_CHAT, text)
    return old


def do_set_unit_head(act: Act, unit: Unit, head: Person) -> None:
    _change(act, "unit_head", "unit", unit, {"head_id": head.id}, labels={"head": (_label(unit.head), _label(head))})


def do_add_unit(act: Act, name: str, kind: str = "bureau", aliases: tuple[str, ...] = ()) -> Unit:
    name = name.strip()
    if kind not in UNIT_KINDS:
        raise Refused("orgchart/bad_kind.txt", kind=kind, kinds=UNIT_KINDS)
    taken = _unit_name_taken(act.session, name)
    if taken is not None:
        raise Refused("orgchart/unit_exists.txt", name=name, unit=taken)
    unit = Unit(name=name, kind=kind, aliases=list(aliases))
    _created(act, "add_unit", "unit", unit)
    return unit


def _unit_name_taken(session, name: str, except_id: Optional[int] = None) -> Optional[Unit]:
    for u in session.scalars(select(Unit)):
        if u.id != except_id and (u.name == name or name in (u.aliases or [])):
            return u
    return None


def do_rename_unit(act: Act, unit: Unit, new_name: str) -> None:
    """A renamed unit keeps its old name as an alias (what people still type, and what the YAML matches)."""
    new_name = new_name.strip()
    taken = _unit_name_taken(act.session, new_name, except_id=unit.id)
    if taken is not None:
        raise Refused("orgchart/unit_exists.txt", name=new_name, unit=taken)
    aliases = [a for a in (unit.aliases or []) if a != new_name]
    if unit.name not in aliases:
        aliases.append(unit.name)
    _change(act, "rename_unit", "unit", unit, {"name": new_name, "aliases": aliases})


def do_set_unit_active(act: Act, unit: Unit, active: bool) -> None:
    _change(act, "unit_active", "unit", unit, {"active": active})


# -- people -----------------------------------------------------------------------------------------
def do_add_person(act: Act, name: str, *, mobile: Optional[str] = None, unit: Optional[Unit] = None,
                  title: Optional[str] = None, identities: Optional[Mapping[str, str]] = None) -> Person:
    """A new person; their key (the YAML's name for them) is their first platform userid when it is a
    valid key, else `p<id>`."""
    name = "".join(name.split())
    if mobile and not is_mobile(mobile):
        raise Refused("orgchart/bad_mobile.txt", mobile=mobile)
    identities = dict(identities or {})
    for channel, external_id in identities.items():
        if act.session.scalar(select(Person).where(getattr(Person, f"{channel}_userid") == external_id)):
            raise Refused("orgchart/identity_taken.txt", userid=external_id)
    person = Person(name=name, mobile=mobile, unit=unit, title=title)
    for channel, external_id in identities.items():
        person.set_identity(channel, external_id)
    act.session.add(person)
    act.session.flush()
    wanted = next((i.lower() for i in identities.values() if KEY_RE.match(i.lower())), None)
    if wanted is None or act.session.scalar(select(Person.id).where(Person.key == wanted)):
        wanted = f"p{person.id}"
    person.key = wanted
    act.session.flush()
    audit.record(act.session, actor=act.actor, action=PREFIX + "add_person", entity="person", entity_id=person.id,
                 before=None, after={**state("person", person), "key": person.key, "identities": identities})
    return person


def do_set_person(act: Act, person: Person, *, title: Optional[str] = None, mobile: Optional[str] = None,
                  name: Optional[str] = None, unit: Optional[Unit] = None) -> Optional[AuditLog]:
    values: dict[str, Any] = {}
    if title is not None:
        values["title"] = title.strip()
    if mobile is not None:
        if not is_mobile(mobile):
            raise Refused("orgchart/bad_mobile.txt", mobile=mobile)
        values["mobile"] = mobile
    if name is not None:
        values["name"] = "".join(name.split())
    if unit is not None:
        values["unit_id"] = unit.id
    return _change(act, "set_person", "person", person, values)


def do_set_person_active(act: Act, person: Person, active: bool) -> None:
    """Deactivate (or bring back) a person; someone still liaison of a unit is refused: replace them first."""
    if not active:
        liaison_of = act.session.scalars(select(Unit).where(Unit.liaison_id == person.id, Unit.active.is_(True))).all()
        if liaison_of:
            raise Refused("orgchart/still_liaison.txt", person=person, units=liaison_of)
    _change(act, "person_active", "person", person, {"active": active})


# -- 附件2 rows, key projects, group chats ---------------------------------------------------------------
def do_set_dispatch_row(act: Act, seq: int, *, leader: Optional[Person] = None, content: Optional[str] = None,
                        lead_units: Optional[list[Unit]] = None, office_supervisor: Optional[Person] = None,
                        office_liaisons: Optional[list[Person]] = None, active: Optional[bool] = None,
                        cycle: Optional[str] = None) -> DispatchRow:
    """Add the 附件2 row `seq` (leader and content needed) or change the given fields of it; `active=False`
    retires it (kept: matters point at it)."""
    row = act.session.scalar(select(DispatchRow).where(DispatchRow.seq == seq))
    if row is None:
        if leader is None or not content:
            raise Refused("orgchart/row_needs.txt", seq=seq)
        row = DispatchRow(seq=seq, leader=leader, content=content, cycle=cycle or "monthly",
                          office_supervisor=office_supervisor, lead_units=list(lead_units or []),
                          office_liaisons=list(office_liaisons or []))
        _created(act, "add_row", "dispatch_row", row)
        return row
    values: dict[str, Any] = {}
    if leader is not None:
        values["leader_id"] = leader.id
    if content:
        values["content"] = content
    if cycle:
        values["cycle"] = cycle
    if lead_units is not None:
        values["lead_unit_ids"] = sorted(u.id for u in lead_units)
    if office_supervisor is not None:
        values["office_supervisor_id"] = office_supervisor.id
    if office_liaisons is not None:
        values["office_liaison_ids"] = sorted(p.id for p in office_liaisons)
    if active is not None:
        values["active"] = active
    _change(act, "set_row", "dispatch_row", row, values)
    return row


def do_set_project_leader(act: Act, project: KeyProject, leader: Person) -> None:
    _change(act, "project_leader", "key_project", project, {"leader_id": leader.id},
            labels={"leader": (_label(project.leader), _label(leader))})


def do_set_chat_robot(act: Act, chat: ChatGroup, robot_key_env: str) -> None:
    """Point a group chat at the environment variable holding its robot's key (the key itself is never
    typed in chat)."""
    if not re.match(r"^[A-Z][A-Z0-9_]*$", robot_key_env):
        raise Refused("orgchart/bad_env.txt", env=robot_key_env)
    _change(act, "chat_robot", "chat_group", chat, {"robot_key_env": robot_key_env})


# -- 撤销 ---------------------------------------------------------------------------------------------
def last_change(session) -> Optional[AuditLog]:
    """The latest org-chart change that has not been undone (an undo itself is not undone by 撤销)."""
    undone = {int(a["undoes"]) for (a,) in session.execute(select(AuditLog.after).where(AuditLog.action == UNDO))
              if a and a.get("undoes") is not None}
    for row in session.scalars(select(AuditLog).where(AuditLog.action.like(PREFIX + "%"), AuditLog.action != UNDO)
                               .order_by(AuditLog.id.desc())):
        if row.id not in undone:
            return row
    return None


def do_undo(act: Act) -> AuditLog:
    """Revert the latest org-chart change: the fields it changed get their values back; something it
    created is deactivated (never deleted). The revert is audited (`orgchart.undo`, `undoes` = the row)."""
    change = last_change(act.session)
    if change is None:
        raise Refused("orgchart/nothing_to_undo.txt")
    entity = change.entity
    obj = act.session.get(MODELS[entity], int(change.entity_id))
    if change.before is None:  # a creation
        values = {"active": False} if "active" in FIELDS[entity] else {}
    else:
        values = {k: v for k, v in change.before.items() if k in FIELDS[entity]}
    before = state(entity, obj)
    _put(act.session, entity, obj, values)
    act.session.flush()
    after = state(entity, obj)
    b, a = audit.diff(before, after)
    return audit.record(act.session, actor=act.actor, action=UNDO, entity=entity, entity_id=obj.id,
                        before=b, after={**a, "undoes": change.id}, reason=f"撤销 {change.action}")
