"""Who may do what: one place that derives a person's roles and scopes from the org chart."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, String, literal, null, or_, select, union_all
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
    """Compute a person's roles: stored roles plus unit and dispatch-row positions.

    One round trip (a UNION ALL), because this runs for every incoming message."""
    pid = person.id
    none_s, none_i = null().cast(String), null().cast(Integer)
    my_rows = union_all(
        select(DispatchRow.id).where(or_(DispatchRow.leader_id == pid, DispatchRow.office_supervisor_id == pid)),
        select(dispatch_row_liaison.c.dispatch_row_id).where(dispatch_row_liaison.c.person_id == pid),
    ).subquery()
    parts = [
        select(literal("role"), PersonRole.role, none_i, none_i).where(PersonRole.person_id == pid),
        select(literal("liaison_unit"), none_s, Unit.id, none_i).where(Unit.liaison_id == pid),
        select(literal("head_unit"), none_s, Unit.id, none_i).where(Unit.head_id == pid),
        select(literal("led"), none_s, DispatchRow.id, none_i).where(DispatchRow.leader_id == pid),
        select(literal("supervised"), none_s, DispatchRow.id, none_i).where(DispatchRow.office_supervisor_id == pid),
        select(literal("liaison_row"), none_s, dispatch_row_liaison.c.dispatch_row_id, none_i)
        .where(dispatch_row_liaison.c.person_id == pid),
        select(literal("row_unit"), none_s, dispatch_row_unit.c.dispatch_row_id, dispatch_row_unit.c.unit_id)
        .where(dispatch_row_unit.c.dispatch_row_id.in_(select(my_rows.c[0]))),
    ]
    found: dict[str, set] = {k: set() for k in ("role", "liaison_unit", "head_unit", "led", "supervised",
                                                  "liaison_row")}
    row_units: dict[int, frozenset[int]] = {}
    for kind, text_value, n1, n2 in session.execute(union_all(*parts)):
        if kind == "role":
            found[kind].add(text_value)
        elif kind == "row_unit":
            row_units[n1] = row_units.get(n1, frozenset()) | {n2}
        else:
            found[kind].add(n1)
    names = set(found["role"])
    liaison_units, head_units = frozenset(found["liaison_unit"]), frozenset(found["head_unit"])
    led, supervised, liaison_rows = (frozenset(found["led"]), frozenset(found["supervised"]),
                                     frozenset(found["liaison_row"]))
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
