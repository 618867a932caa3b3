"""会议纪要 (Minutes): recording a dispatch meeting's minutes with its matters into the ledger; the
supervision group gets a copy and each responsible unit's liaison is told what it owes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional, Sequence

from sqlalchemy import select

from bot.actions.base import Act, person_id
from bot.domain.codes import add_matter
from bot.delivery.addressing import group_channel
from bot.infra import audit
from models import KIND_MINUTES, MINUTES_DRAFTED, DispatchRow, Matter, Minutes, Person, Unit


@dataclass
class MatterInput:
    """One 调度事项 of the minutes."""

    title: str
    responsible_unit_id: int
    deadline: date
    lead_unit_id: Optional[int] = None


def notify_units(act: Act, matters: Sequence[Matter], *, key: str, what,
                 template: str = "minutes/unit_notice.txt") -> None:
    """Tell each responsible unit's liaison what it owes and by when (one message per unit)."""
    by_unit: dict[int, list[Matter]] = {}
    for m in matters:
        by_unit.setdefault(m.responsible_unit_id, []).append(m)
    for unit_id, items in by_unit.items():
        unit = act.session.get(Unit, unit_id)
        liaison = unit.liaison
        if liaison is None or liaison.placeholder or not liaison.active:
            continue
        act.notify_person(liaison, act.render(template, unit=unit, matters=items, source=what),
                          key=f"{key}:{unit_id}", kind="assignment")


def do_record_minutes(act: Act, *, leader: Person, number: Optional[str], title: str, meeting_date: date,
                      drafting_unit: Unit, matters: Sequence[MatterInput]) -> tuple[Minutes, list[Matter]]:
    """The minutes (filed under the leader's dispatch row led by the drafting unit, else the leader's first
    row) and its matters enter the ledger, audited; the copy and the unit notices are queued."""
    s = act.session
    rows = list(s.scalars(select(DispatchRow).where(DispatchRow.leader_id == leader.id).order_by(DispatchRow.seq)))
    row = next((r for r in rows if drafting_unit in r.lead_units), rows[0] if rows else None)
    minutes = Minutes(number=number, title=title, leader_id=leader.id, dispatch_row_id=row.id if row else None,
                      meeting_date=meeting_date, drafting_unit_id=drafting_unit.id, state=MINUTES_DRAFTED,
                      drafted_at=act.now, created_by_id=person_id(act.actor), created_at=act.now)
    s.add(minutes)
    s.flush()
    audit.record(s, actor=act.actor, action="create", entity="minutes", entity_id=minutes.id,
                 after=audit.snapshot(minutes), at=act.now)
    created = []
    for seq, item in enumerate(matters, 1):
        m = add_matter(s, Matter(kind=KIND_MINUTES, minutes_id=minutes.id, seq=seq, title=item.title,
                                 leader_id=leader.id, responsible_unit_id=item.responsible_unit_id,
                                 lead_unit_id=item.lead_unit_id, deadline=item.deadline,
                                 original_deadline=item.deadline, created_by_id=person_id(act.actor),
                                 created_at=act.now))
        audit.record(s, actor=act.actor, action="create", entity="matter", entity_id=m.id,
                     after=audit.snapshot(m), at=act.now)
        created.append(m)
    s.refresh(minutes)
    act.notify_group("supervision", act.render("minutes/copy.md", minutes=minutes, matters=created,
                                                   md_channel=supervision_channel(act)),
                     key=f"minutes-copy:{minutes.id}", kind="minutes")
    notify_units(act, created, key=f"minutes-unit:{minutes.id}", what=minutes)
    return minutes, created


def supervision_channel(act: Act) -> str:
    """The channel of the supervision group's chat: its copies escape user text for that markdown."""
    return group_channel(act.session, "supervision", getattr(act.runtime, "settings", None))
