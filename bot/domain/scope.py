"""Who may see which ledger items: ONE function, `matter_filter`, gives the SQL condition every query
command, report and circular uses.

- supervision group members, admins and the coordination group (the task-force office): everything;
- a leader: the items they dispatched (Matter.leader_id);
- an office liaison / office supervisor: the items of the leaders of their dispatch rows, and the
  items of minutes filed under those rows;
- a unit liaison / unit head: the items their unit is responsible for — never another unit's.
Anyone else sees nothing.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import false, or_, select, true
from sqlalchemy.orm import Session

from bot.domain.roles import Roles
from models import ROLE_COORDINATION, DispatchRow, Matter, Minutes, Person


def sees_all(roles: Roles) -> bool:
    """The supervision group, admins and the office (coordination group) see the whole ledger."""
    return roles.sees_everything or roles.has(ROLE_COORDINATION)


def office_row_ids(roles: Roles) -> frozenset[int]:
    """Dispatch rows a person follows for the office (as office liaison or office supervisor)."""
    return roles.liaison_row_ids | roles.supervised_row_ids


def matter_filter(roles: Roles):
    """The SQL condition on Matter for the items `roles` may see."""
    if sees_all(roles):
        return true()
    conds = []
    if roles.led_row_ids:
        conds.append(Matter.leader_id == roles.person_id)
    rows = office_row_ids(roles)
    if rows:
        row_leaders = select(DispatchRow.leader_id).where(DispatchRow.id.in_(rows))
        row_minutes = select(Minutes.id).where(Minutes.dispatch_row_id.in_(rows))
        conds.append(Matter.leader_id.in_(row_leaders))
        conds.append(Matter.minutes_id.in_(row_minutes))
    units = roles.liaison_unit_ids | roles.head_unit_ids
    if units:
        conds.append(Matter.responsible_unit_id.in_(units))
    return or_(*conds) if conds else false()


def can_see(session: Session, roles: Roles, matter: Matter) -> bool:
    """The same rule for one item (through the same SQL, so the two cannot differ)."""
    return session.scalar(select(Matter.id).where(Matter.id == matter.id, matter_filter(roles))) is not None


def rows_of(session: Session, matter: Matter) -> list[DispatchRow]:
    """The dispatch rows an item belongs to: its minutes' row, else its leader's rows."""
    if matter.minutes_id is not None:
        minutes = session.get(Minutes, matter.minutes_id)
        if minutes is not None and minutes.dispatch_row_id is not None:
            return [session.get(DispatchRow, minutes.dispatch_row_id)]
    if matter.leader_id is None:
        return []
    return list(session.scalars(select(DispatchRow).where(DispatchRow.leader_id == matter.leader_id)
                                .order_by(DispatchRow.seq)))


def office_supervisors_of(session: Session, matter: Matter) -> list[Person]:
    """办公室挂钩督导领导 of the item's rows (they decide extensions)."""
    out: dict[int, Person] = {}
    for row in rows_of(session, matter):
        if row.office_supervisor is not None:
            out.setdefault(row.office_supervisor.id, row.office_supervisor)
    return list(out.values())


def office_liaisons_of(session: Session, matter: Matter) -> list[Person]:
    """办公室调度联络员 of the item's rows (they confirm 销号 or return the item)."""
    out: dict[int, Person] = {}
    for row in rows_of(session, matter):
        for p in row.office_liaisons:
            out.setdefault(p.id, p)
    return list(out.values())


def unit_liaison_of(matter: Matter) -> Optional[Person]:
    return matter.responsible_unit.liaison if matter.responsible_unit is not None else None
