"""Who may do what: one place that derives a person's roles and scopes from the org chart."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, String, literal, null, select, union_all
from sqlalchemy.orm import Session

from models import (
    ROLE_ADMIN,
    ROLE_LEADER,
    ROLE_OFFICE_LIAISON,
    ROLE_OFFICE_SUPERVISOR,
    ROLE_SUPERVISION,
    ROLE_UNIT_HEAD,
    ROLE_UNIT_LIAISON,
    DispatchRow,
    Person,
    PersonRole,
    Unit,
    dispatch_row_liaison,
)


@dataclass(frozen=True)
class Roles:
    person_id: int
    names: frozenset[str] = frozenset()
    liaison_unit_ids: frozenset[int] = frozenset()  # units this person reports for
    head_unit_ids: frozenset[int] = frozenset()
    led_row_ids: frozenset[int] = frozenset()  # dispatch rows where they are the leader
    liaison_row_ids: frozenset[int] = frozenset()  # rows where they are the office liaison
    supervised_row_ids: frozenset[int] = frozenset()  # rows where they are the office supervisor

    def has(self, *names: str) -> bool:
        return any(n in self.names for n in names)

    @property
    def sees_everything(self) -> bool:
        """Supervision group and admins see the whole ledger."""
        return self.has(ROLE_SUPERVISION, ROLE_ADMIN)


def roles_of(session: Session, person: Person) -> Roles:
    """Compute a person's roles: stored roles plus unit and dispatch-row positions.

    One round trip (a UNION ALL), because this runs for every incoming message."""
    pid = person.id
    none_s, none_i = null().cast(String), null().cast(Integer)
    parts = [
        select(literal("role"), PersonRole.role, none_i).where(PersonRole.person_id == pid),
        select(literal("liaison_unit"), none_s, Unit.id).where(Unit.liaison_id == pid),
        select(literal("head_unit"), none_s, Unit.id).where(Unit.head_id == pid),
        select(literal("led"), none_s, DispatchRow.id).where(DispatchRow.leader_id == pid),
        select(literal("supervised"), none_s, DispatchRow.id).where(DispatchRow.office_supervisor_id == pid),
        select(literal("liaison_row"), none_s, dispatch_row_liaison.c.dispatch_row_id)
        .where(dispatch_row_liaison.c.person_id == pid),
    ]
    found: dict[str, set] = {k: set() for k in ("role", "liaison_unit", "head_unit", "led", "supervised",
                                                  "liaison_row")}
    for kind, text_value, n1 in session.execute(union_all(*parts)):
        if kind == "role":
            found[kind].add(text_value)
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
    return Roles(person.id, frozenset(names), liaison_units, head_units, led, liaison_rows, supervised)


def people_with_role(session: Session, role: str) -> list[Person]:
    """The active people holding a stored role (the supervision group's members, the admins), by id."""
    return list(session.scalars(select(Person).join(PersonRole, PersonRole.person_id == Person.id)
                                .where(PersonRole.role == role, Person.active.is_(True)).order_by(Person.id)))
