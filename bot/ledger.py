"""Ledger rules, in one place for chat, jobs and reports: which states are open, lights, overdue.

Each rule exists as a Python function (for one item) and, where jobs need it, as a SQL expression
(for set-based queries) — kept side by side so they cannot drift apart.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, or_

from models import (MATTER_CLAIMED, MATTER_CLOSED, MATTER_EXTENSION, MATTER_OPEN, MATTER_RETURNED, Matter)

OPEN_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_CLAIMED, MATTER_RETURNED)  # not yet 销号
DUE_SOON_DAYS = 3

GREEN = "green"  # on track
YELLOW = "yellow"  # due within 3 days, or no progress reported in the last period
RED = "red"  # overdue
CLOSED = "closed"
LIGHT_ICONS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", CLOSED: "✅"}


def is_open(matter: Matter) -> bool:
    return matter.state in OPEN_STATES


def overdue_days(matter: Matter, today: date) -> int:
    """Days past the deadline (0 if not overdue or closed)."""
    if not is_open(matter) or matter.deadline >= today:
        return 0
    return (today - matter.deadline).days


def light(matter: Matter, today: date, *, progress_reported: bool = True) -> str:
    """The light of one item. `progress_reported`: was progress reported in the last period?"""
    if not is_open(matter):
        return CLOSED
    if matter.deadline < today:
        return RED
    if (matter.deadline - today).days <= DUE_SOON_DAYS or not progress_reported:
        return YELLOW
    return GREEN


# -- the same rules as SQL, for set-based jobs and queries ------------------------------------------
def sql_open():
    return Matter.state.in_(OPEN_STATES)


def sql_overdue(today: date, min_days: int = 1):
    """Open and at least `min_days` past the deadline."""
    return and_(sql_open(), Matter.deadline <= today - timedelta(days=min_days))


def sql_due_within(today: date, days: int = DUE_SOON_DAYS):
    return and_(sql_open(), Matter.deadline >= today, Matter.deadline <= today + timedelta(days=days))


def sql_light_red(today: date):
    return sql_overdue(today)


def sql_light_yellow(today: date, no_progress_since=None):
    """Due soon, or (when `no_progress_since` is given) no progress since that moment."""
    cond = sql_due_within(today)
    if no_progress_since is not None:
        cond = or_(cond, and_(sql_open(), Matter.deadline >= today,
                              or_(Matter.last_progress_at.is_(None), Matter.last_progress_at < no_progress_since)))
    return cond
