"""填报 (ReportSubmission): a unit's progress report for one period — a new version (an earlier one is kept
with current=False), one ReportItem per matter, each matter's last progress updated, and the state changes
that go with it: 已完成 claims completion (the office liaisons are asked to confirm), 未完成 after an earlier
已完成 of the same period withdraws that claim.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional, Sequence

from sqlalchemy import func, select

from bot.actions.base import Act, lock, person_id
from bot.actions.closeout import do_claim_completion, do_withdraw_claim
from bot.domain import ledger
from bot.domain import reporting
from bot.domain.periods import Period
from bot.infra import audit
from models import (ITEM_DONE, ITEM_OPEN, MATTER_CLAIMED, MATTER_EXTENSION, MATTER_OPEN, MATTER_RETURNED, Matter,
                    ReportItem, ReportSubmission, Unit)

REPORTABLE = (MATTER_OPEN, MATTER_EXTENSION, MATTER_RETURNED)  # items a unit reports on
PROGRESS_FIELDS = ("last_progress_at", "last_progress", "planned_deadline")


@dataclass
class ItemReport:
    """What the unit says about one matter."""

    matter_id: int
    code: str
    status: str  # ITEM_DONE | ITEM_OPEN
    progress: str
    planned_deadline: Optional[date] = None  # open items only
    obstacle: Optional[str] = None  # open items only


@dataclass
class Submitted:
    submission: ReportSubmission
    replaced: Optional[ReportSubmission]
    done: int
    open: int


def do_submit_report(act: Act, unit: Unit, period: Period, items: Sequence[ItemReport]) -> Submitted:
    """Save the unit's report of `period`. An item no longer the unit's, or no longer reportable, refuses
    the whole report before anything is written (TransitionError "changed" with the item's code)."""
    s = act.session
    lock(s, unit)  # one version at a time per unit: the version number and the current flag
    matters = [s.get(Matter, answer.matter_id) for answer in items]
    for answer, matter in zip(items, matters):
        if matter is None or matter.responsible_unit_id != unit.id or \
                matter.state not in REPORTABLE + (MATTER_CLAIMED,):
            raise ledger.TransitionError("changed", item=answer.code)
    prev_versions = list(s.scalars(select(ReportSubmission).where(
        ReportSubmission.unit_id == unit.id, ReportSubmission.period_key == period.key)))
    replaced = None
    for old in prev_versions:
        if old.current:
            replaced = old
            old.current = False
            audit.record(s, actor=act.actor, action="supersede", entity="report_submission", entity_id=old.id,
                         before={"current": True}, after={"current": False}, at=act.now)
    version = (s.scalar(select(func.max(ReportSubmission.version)).where(
        ReportSubmission.unit_id == unit.id, ReportSubmission.period_key == period.key)) or 0) + 1
    s.flush()
    sub = ReportSubmission(unit_id=unit.id, period_key=period.key, version=version, current=True,
                           submitted_by_id=person_id(act.actor), submitted_at=act.now,
                           is_late=reporting.late_if_submitted(s, unit.id, period, act.now))
    s.add(sub)
    s.flush()
    for answer, matter in zip(items, matters):
        planned = answer.planned_deadline if answer.status == ITEM_OPEN else None
        s.add(ReportItem(submission_id=sub.id, matter_id=matter.id, status=answer.status, progress=answer.progress,
                         planned_deadline=planned,
                         obstacle=answer.obstacle if answer.status == ITEM_OPEN else None))
        before = audit.snapshot(matter, PROGRESS_FIELDS)
        matter.last_progress_at = act.now
        matter.last_progress = answer.progress
        if answer.status == ITEM_OPEN:
            matter.planned_deadline = planned
        b, a = audit.diff(before, audit.snapshot(matter, PROGRESS_FIELDS))
        audit.record(s, actor=act.actor, action="report", entity="matter", entity_id=matter.id, before=b,
                     after=a, at=act.now)
        if answer.status == ITEM_DONE:
            do_claim_completion(act, matter, answer.progress)
        else:  # a later report of the same period may revise an earlier 已完成
            do_withdraw_claim(act, matter, answer.progress)
    s.flush()
    audit.record(s, actor=act.actor, action="create", entity="report_submission", entity_id=sub.id,
                 after=audit.snapshot(sub), at=act.now)
    done = sum(1 for a in items if a.status == ITEM_DONE)
    return Submitted(sub, replaced, done, len(items) - done)
