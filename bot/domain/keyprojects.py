"""Seed 001's calendar and milestone rules (泉港政办〔2021〕6号): the weekly form is due every Monday (填表说明
"请各牵头单位每周一填报"), a milestone (攻坚目标 + 完成时限) is met, due or overdue. Pure functions: chat,
jobs and exports all ask these."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from bot.domain.workdays import next_workday

MET = "met"
DUE = "due"
SOON = "soon"  # due within SOON_DAYS: listed as approaching in reminders and the digest
OVERDUE = "overdue"
SOON_DAYS = 7


def week_start(d: date) -> date:
    """The Monday of d's week: the week a form belongs to."""
    return d - timedelta(days=d.weekday())


def form_due(week: date) -> date:
    """The day the week's form is due: its Monday, or the next working day when that Monday is a holiday."""
    return next_workday(week_start(week))


def chase_day(week: date) -> date:
    """The working day after the due day: the joint office is told which forms are missing or unreviewed."""
    return next_workday(form_due(week) + timedelta(days=1))


def on_time(week: date, reviewed_on: Optional[date]) -> bool:
    """A form counts as submitted only once reviewed; on time when reviewed by its due day."""
    return reviewed_on is not None and reviewed_on <= form_due(week)


def weeks_in(start: date, end: date, today: date) -> list[date]:
    """The weeks of [start, end] that have begun by `today`: each week whose Monday falls in the range."""
    weeks = []
    d = week_start(start) if week_start(start) >= start else week_start(start) + timedelta(days=7)
    while d <= end and d <= today:
        weeks.append(d)
        d += timedelta(days=7)
    return weeks


@dataclass(frozen=True)
class MilestoneState:
    state: str  # MET / SOON / DUE / OVERDUE
    days: int  # MET: 0; SOON / DUE: days left; OVERDUE: days late


def milestone_state(deadline: date, done_on: Optional[date], today: date) -> MilestoneState:
    """Met (with its date, kept by the caller), due (soon or later) or overdue as of `today`."""
    if done_on is not None:
        return MilestoneState(MET, 0)
    left = (deadline - today).days
    if left < 0:
        return MilestoneState(OVERDUE, -left)
    return MilestoneState(SOON if left <= SOON_DAYS else DUE, left)
