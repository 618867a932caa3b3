"""Who follows which ledger item, and who may see which: ONE selectable, `followers`, gives the
(matter, person, role) rows that visibility (`matter_filter`), 销号, extensions, the office digests and
the 久推不动 consultation all use.

The rule (seed 000 附件2: a leader's row lists its office supervisor and office liaisons): an item
belongs to the dispatch row of its minutes if it has one, else to every row of its leader. Its
followers are the office liaisons and the office supervisor of those rows, and its leader; and the
liaison of the lead unit (牵头单位) of its minutes or slip, who "细化分解分发并跟踪落实" (§三(一)) — role
`lead_unit_liaison`, asked for by name (the office roles are the default); and the liaisons of its
responsible units, 主办 and 协办 (`unit_liaison`, by name too).

Who sees what:
- supervision group members, admins and the coordination group (the task-force office): everything
  except what is 保密;
- a leader, an office liaison, an office supervisor: the items they follow;
- a unit liaison / unit head: the items their unit is responsible for — as 主办 or as 协办 (配合), ONE
  answer: bot.domain.responsibility — and every item of the minutes and slips their unit leads — never
  another unit's otherwise;
- the drafter of minutes or a slip: its items;
- a convener of seed 001's joint meeting (总召集人、召集人): every joint-meeting decision (T items), which
  they sign and answer for (§三(三)).
Anyone else sees nothing. Items of 保密 (confidential) minutes and slips are still tracked (jobs and
counts do not use this filter) but only people with a role on them — the last three lines — see them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from sqlalchemy import String, false, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session

from bot.domain.reporting import sql_led_by
from bot.domain.responsibility import sql_responsible_for, sql_units, unit_ids_of
from bot.domain.roles import Roles
from models import (
    KIND_TOPIC,
    ROLE_CONVENER,
    ROLE_COORDINATION,
    ROLE_LEADER,
    ROLE_OFFICE_LIAISON,
    ROLE_OFFICE_SUPERVISOR,
    AssignmentSlip,
    DispatchRow,
    Matter,
    Minutes,
    Person,
    Unit,
    dispatch_row_liaison,
)

ROLE_LEAD_UNIT_LIAISON = "lead_unit_liaison"  # not a PersonRole: the liaison of the item's lead unit
ROLE_UNIT_LIAISON = "unit_liaison"  # not a PersonRole: the liaison of one of its responsible units
FOLLOWER_ROLES = (ROLE_OFFICE_LIAISON, ROLE_OFFICE_SUPERVISOR, ROLE_LEADER)


def item_rows(*where, row_ids=None):
    """(matter_id, row_id): the 附件2 rows each item belongs to — its minutes' row, else its leader's rows.
    `where`: conditions on Matter; `row_ids`: only these rows (a list or a select)."""
    own_row = [] if row_ids is None else [DispatchRow.id.in_(row_ids)]
    # two equi-joins (UNION ALL), not one join ON … OR …: the planners can hash or index them
    by_minutes = (select(Matter.id.label("matter_id"), DispatchRow.id.label("row_id"))
                  .join(Minutes, Minutes.id == Matter.minutes_id)
                  .join(DispatchRow, DispatchRow.id == Minutes.dispatch_row_id).where(*where, *own_row))
    by_leader = (select(Matter.id, DispatchRow.id)
                 .outerjoin(Minutes, Minutes.id == Matter.minutes_id)
                 .join(DispatchRow, DispatchRow.leader_id == Matter.leader_id)
                 .where(Minutes.dispatch_row_id.is_(None), *where, *own_row))
    return union_all(by_minutes, by_leader)


def followers(*where, person_id: Optional[int] = None, roles: Iterable[str] = FOLLOWER_ROLES):
    """A subquery of (matter_id, person_id, role) — role: office_liaison / office_supervisor / leader — for
    the items matching `where` (conditions on Matter), only for `person_id` and `roles` when given."""
    roles = tuple(roles)
    liaison = dispatch_row_liaison.c
    mine = None
    if person_id is not None:  # only the person's rows: the join above then touches one or two rows
        mine = union(select(liaison.dispatch_row_id).where(liaison.person_id == person_id),
                     select(DispatchRow.id).where(DispatchRow.office_supervisor_id == person_id))
    parts = []
    if ROLE_OFFICE_LIAISON in roles:
        rows = item_rows(*where, row_ids=mine).subquery()
        q = (select(rows.c.matter_id, liaison.person_id.label("person_id"),
                    literal(ROLE_OFFICE_LIAISON, String).label("role"))
             .join(dispatch_row_liaison, liaison.dispatch_row_id == rows.c.row_id))
        parts.append(q if person_id is None else q.where(liaison.person_id == person_id))
    if ROLE_OFFICE_SUPERVISOR in roles:
        rows = item_rows(*where, row_ids=mine).subquery()
        q = (select(rows.c.matter_id, DispatchRow.office_supervisor_id.label("person_id"),
                    literal(ROLE_OFFICE_SUPERVISOR, String).label("role"))
             .join(DispatchRow, DispatchRow.id == rows.c.row_id).where(DispatchRow.office_supervisor_id.is_not(None)))
        parts.append(q if person_id is None else q.where(DispatchRow.office_supervisor_id == person_id))
    if ROLE_LEADER in roles:
        q = (select(Matter.id.label("matter_id"), Matter.leader_id.label("person_id"),
                    literal(ROLE_LEADER, String).label("role")).where(Matter.leader_id.is_not(None), *where))
        parts.append(q if person_id is None else q.where(Matter.leader_id == person_id))
    if ROLE_LEAD_UNIT_LIAISON in roles:
        led = union_all(
            select(Matter.id.label("matter_id"), Minutes.lead_unit_id.label("unit_id"))
            .join(Minutes, Minutes.id == Matter.minutes_id).where(Minutes.lead_unit_id.is_not(None), *where),
            select(Matter.id, AssignmentSlip.lead_unit_id)
            .join(AssignmentSlip, AssignmentSlip.id == Matter.slip_id)
            .where(AssignmentSlip.lead_unit_id.is_not(None), *where)).subquery()
        q = (select(led.c.matter_id, Unit.liaison_id.label("person_id"),
                    literal(ROLE_LEAD_UNIT_LIAISON, String).label("role"))
             .join(Unit, Unit.id == led.c.unit_id).where(Unit.liaison_id.is_not(None)))
        parts.append(q if person_id is None else q.where(Unit.liaison_id == person_id))
    if ROLE_UNIT_LIAISON in roles:
        units = sql_units(*where).subquery()
        q = (select(units.c.matter_id, Unit.liaison_id.label("person_id"),
                    literal(ROLE_UNIT_LIAISON, String).label("role"))
             .join(Unit, Unit.id == units.c.unit_id).where(Unit.liaison_id.is_not(None)))
        parts.append(q if person_id is None else q.where(Unit.liaison_id == person_id))
    sel = union(*parts) if len(parts) > 1 else parts[0]
    return sel.subquery("followers")


def sees_all(roles: Roles) -> bool:
    """The supervision group, admins and the office (coordination group) see the whole ledger."""
    return roles.sees_everything or roles.has(ROLE_COORDINATION)


def office_row_ids(roles: Roles) -> frozenset[int]:
    """Dispatch rows a person follows for the office (as office liaison or office supervisor)."""
    return roles.liaison_row_ids | roles.supervised_row_ids


def sql_confidential():
    """The condition on Matter for items of 保密 minutes or slips (ids start at 1: 0 stands for "none")."""
    return or_(func.coalesce(Matter.minutes_id, 0).in_(select(Minutes.id).where(Minutes.confidential.is_(True))),
               func.coalesce(Matter.slip_id, 0).in_(
                   select(AssignmentSlip.id).where(AssignmentSlip.confidential.is_(True))))


def confidential_ids(session, ids) -> set[int]:
    """Of these item ids, those of 保密 minutes or slips (`sql_confidential`). Group chats, mail and the files
    sent there count them and never show their content ("另有涉密事项2项，未列明细": templates/core/_secret.txt):
    only people with a role on an item see it."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return set()
    out: set[int] = set()
    for i in range(0, len(ids), 5000):
        out.update(session.scalars(select(Matter.id).where(Matter.id.in_(ids[i:i + 5000]), sql_confidential())))
    return out


def _role_conds(roles: Roles) -> list:
    """Conditions on Matter for the items `roles` has a role on (follows, is responsible for, drafted)."""
    conds = []
    following = ([ROLE_LEADER] if roles.led_row_ids else []) + \
        ([ROLE_OFFICE_LIAISON, ROLE_OFFICE_SUPERVISOR] if office_row_ids(roles) else [])
    if following:
        fol = followers(person_id=roles.person_id, roles=following)
        conds.append(Matter.id.in_(select(fol.c.matter_id)))
    units = roles.liaison_unit_ids | roles.head_unit_ids
    if units:
        conds.append(sql_responsible_for(units))
        conds.append(sql_led_by(units))
    if roles.has(ROLE_CONVENER):
        conds.append(Matter.kind == KIND_TOPIC)
    conds.append(func.coalesce(Matter.minutes_id, 0).in_(
        select(Minutes.id).where(Minutes.created_by_id == roles.person_id)))
    conds.append(func.coalesce(Matter.slip_id, 0).in_(
        select(AssignmentSlip.id).where(AssignmentSlip.drafted_by_id == roles.person_id)))
    return conds


def matter_filter(roles: Roles):
    """The SQL condition on Matter for the items `roles` may see."""
    conds = _role_conds(roles)
    if sees_all(roles):
        return or_(~sql_confidential(), *conds)
    return or_(*conds) if conds else false()


def can_see_record(roles: Roles, record) -> bool:
    """May `roles` see minutes or a slip itself (查 JB3, 待签)? The same rule as for its items: everyone who
    sees the whole ledger unless it is 保密; its leader and drafter; the office liaisons and supervisor of
    its row (minutes) or of its leader's rows (slips); the units responsible for one of its items."""
    if sees_all(roles) and not record.confidential:
        return True
    pid = roles.person_id
    drafter = record.created_by_id if isinstance(record, Minutes) else record.drafted_by_id
    if pid in (record.leader_id, drafter):
        return True
    rows = {record.dispatch_row_id} if isinstance(record, Minutes) and record.dispatch_row_id else \
        {r.id for r in _rows_of_leader(record)}
    if rows & office_row_ids(roles):
        return True
    units = roles.liaison_unit_ids | roles.head_unit_ids
    if getattr(record, "lead_unit_id", None) in units:  # the lead unit files its problem list
        return True
    items = record.matters if isinstance(record, Minutes) else record.rows
    return any(set(unit_ids_of(m)) & units for m in items)


def _rows_of_leader(record) -> list[DispatchRow]:
    from sqlalchemy.orm import object_session

    return list(object_session(record).scalars(select(DispatchRow).where(DispatchRow.leader_id == record.leader_id)))


def can_see(session: Session, roles: Roles, matter: Matter) -> bool:
    """The same rule for one item (through the same SQL, so the two cannot differ)."""
    return session.scalar(select(Matter.id).where(Matter.id == matter.id, matter_filter(roles))) is not None


def followers_of(session: Session, matter: Matter, role: str) -> list[Person]:
    """The people following `matter` in `role`, by id."""
    fol = followers(Matter.id == matter.id, roles=(role,))
    return list(session.scalars(select(Person).where(Person.id.in_(select(fol.c.person_id))).order_by(Person.id)))


def office_supervisors_of(session: Session, matter: Matter) -> list[Person]:
    """办公室挂钩督导领导 of the item's rows (they decide extensions)."""
    return followers_of(session, matter, ROLE_OFFICE_SUPERVISOR)


def office_liaisons_of(session: Session, matter: Matter) -> list[Person]:
    """办公室调度联络员 of the item's rows (they confirm 销号 or return the item)."""
    return followers_of(session, matter, ROLE_OFFICE_LIAISON)


def unit_liaison_of(matter: Matter) -> Optional[Person]:
    """The liaison of the item's 主办 unit."""
    return matter.responsible_unit.liaison if matter.responsible_unit is not None else None


def unit_liaisons_of(matter: Matter) -> list[Person]:
    """The liaisons of all the item's responsible units, 主办 first, then the 协办 units (they get its
    notices too)."""
    from bot.domain.responsibility import units_of

    out = []
    for unit, _role in units_of(matter):
        if unit.liaison is not None and unit.liaison not in out:
            out.append(unit.liaison)
    return out
