"""Who may do what: one place that derives a person's roles and scopes from the org chart."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (ROLE_ADMIN, ROLE_LEADER, ROLE_OFFICE_LIAISON, ROLE_OFFICE_SUPERVISOR, ROLE_SUPERVISION,
                    ROLE_UNIT_HEAD, ROLE_UNIT_LIAISON, DispatchRow, Person, PersonRole, Unit,
                    dispatch_row_liaison, dispatch_row_unit)


@dataclass(frozen=True)
class Roles:
    person_id: int
    names: frozenset[str] = frozenset()
    liaison_unit_ids: frozenset[int] = frozenset()  # units this person reports for
    head_unit_ids: frozenset[int] = frozenset()
    led_row_ids: frozenset[int] = frozenset()  # dispatch rows where they are the leader
    liaison_row_ids: frozenset[int] = frozenset()  # rows where they are the office liaison
    supervised_row_ids: frozenset[int] = frozenset()  # rows where they are the office supervisor
    row_unit_ids: dict = field(default_factory=dict)  # row id -> frozenset of lead unit ids

    def has(self, *names: str) -> bool:
        return any(n in self.names for n in names)

    @property
    def sees_everything(self) -> bool:
        """Supervision group and admins see the whole ledger."""
        return self.has(ROLE_SUPERVISION, ROLE_ADMIN)

    def unit_ids_for_rows(self, row_ids) -> frozenset[int]:
        out: set[int] = set()
        for rid in row_ids:
            out |= self.row_unit_ids.get(rid, frozenset())
        return frozenset(out)


def roles_of(session: Session, person: Person) -> Roles:
    """Compute a person's roles: stored roles plus unit and dispatch-row positions."""
    names = set(session.scalars(select(PersonRole.role).where(PersonRole.person_id == person.id)))
    liaison_units = frozenset(session.scalars(select(Unit.id).where(Unit.liaison_id == person.id)))
    head_units = frozenset(session.scalars(select(Unit.id).where(Unit.head_id == person.id)))
    led = frozenset(session.scalars(select(DispatchRow.id).where(DispatchRow.leader_id == person.id)))
    supervised = frozenset(session.scalars(
        select(DispatchRow.id).where(DispatchRow.office_supervisor_id == person.id)))
    liaison_rows = frozenset(session.scalars(
        select(dispatch_row_liaison.c.dispatch_row_id).where(dispatch_row_liaison.c.person_id == person.id)))
    rows = led | supervised | liaison_rows
    row_units: dict[int, frozenset[int]] = {}
    if rows:
        for rid, uid in session.execute(
                select(dispatch_row_unit.c.dispatch_row_id, dispatch_row_unit.c.unit_id)
                .where(dispatch_row_unit.c.dispatch_row_id.in_(rows))):
            row_units[rid] = row_units.get(rid, frozenset()) | {uid}
    if liaison_units:
        names.add(ROLE_UNIT_LIAISON)
    if head_units:
        names.add(ROLE_UNIT_HEAD)
    if led:
        names.add(ROLE_LEADER)
    if supervised:
        names.add(ROLE_OFFICE_SUPERVISOR)
    if liaison_rows:
        names.add(ROLE_OFFICE_LIAISON)
    return Roles(person.id, frozenset(names), liaison_units, head_units, led, liaison_rows, supervised,
                 row_units)
