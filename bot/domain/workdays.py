"""Chinese working days (statutory holidays and make-up days) via chinese_calendar.

For years chinese_calendar has no data for, fall back to Monday-Friday and log a
warning once per year. Never raises for a valid date.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta

import chinese_calendar

logger = logging.getLogger(__name__)

_warned_years: set[int] = set()
_warned_lock = threading.Lock()


def _as_date(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def _warn_fallback(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    logger.warning("chinese_calendar has no holiday data for %d; "
                   "falling back to Monday-Friday working days", year)


def _reset_fallback_warnings() -> None:
    """Forget which years were warned about (for tests)."""
    with _warned_lock:
        _warned_years.clear()


def is_workday(d: date) -> bool:
    """True on a working day (holidays off, make-up weekend days on)."""
    d = _as_date(d)
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        _warn_fallback(d.year)
        return d.weekday() < 5


def previous_workday(d: date, include_self: bool = True) -> date:
    """The latest working day on or before d (strictly before if not include_self)."""
    d = _as_date(d)
    if not include_self:
        d -= timedelta(days=1)
    while not is_workday(d):
        d -= timedelta(days=1)
    return d


def next_workday(d: date, include_self: bool = True) -> date:
    """The earliest working day on or after d (strictly after if not include_self)."""
    d = _as_date(d)
    if not include_self:
        d += timedelta(days=1)
    while not is_workday(d):
        d += timedelta(days=1)
    return d


def shift_to_workday_before(d: date) -> date:
    """A reminder date on a holiday/weekend moves to the previous working day."""
    return previous_workday(d, include_self=True)


def add_workdays(d: date, n: int) -> date:
    """Move n working days from d (negative n goes back); n == 0 returns d unchanged.

    Counting starts the day after (before) d, so add_workdays(fri, 1) is the next
    working day even if d itself is not one.
    """
    d = _as_date(d)
    step = timedelta(days=1 if n > 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_workday(d):
            remaining -= 1
    return d
