"""Reporting calendar: twice-monthly report periods, roll-ups and weekly forms.

Units report by 18:00 on the 5th and the 20th; office liaisons roll up by 18:00 two days
later (7th / 22nd, `Period.rollup_due`); key projects file a weekly form every Monday.

A 5th or 20th that is not a working day (bot.domain.workdays: weekends and holidays off, 调休 Saturdays
on): by default the deadline moves to the next working day at the same hour, as offices usually do, and
the roll-up is due two days after the moved deadline (itself moved the same way) —
Settings.DEADLINE_ON_NON_WORKING_DAY = "next_working_day" | "keep", applied by `deadline_day`, the ONE
function every reader of a report deadline goes through (`Period.deadline`, reminders, 超期未报, the
lateness rule, texts, board, forms). The period keeps its name and key from the nominal day
(`Period.key`, `Period.nominal_date`: "12月5日期"). The
minutes' 3-day draft rule is the minutes_draft job's (bot/jobs/minutes.py). Everything is in the
bot's zone (bot.domain.clock.tz(), from BOT_TIMEZONE).  Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.domain.clock import tz
from bot.domain.workdays import next_workday

DEADLINE_DAYS = (5, 20)           # unit reports due on these days of the month
DEADLINE_TIME = time(18, 0)       # ... at this local time
ROLLUP_DELAY_DAYS = 2             # liaison roll-up: deadline + 2 days (7th / 22nd)
ROLLUP_TIME = time(18, 0)
WEEKLY_REPORT_HOUR = 18           # weekly project form due Monday at this hour

NEXT_WORKING_DAY = "next_working_day"  # a deadline on a non-working day moves to the next working day
KEEP = "keep"  # ... or stays where it falls
DEADLINE_RULES = (NEXT_WORKING_DAY, KEEP)
_deadline_rule = NEXT_WORKING_DAY

_KEY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period: the window (opens, deadline]. Ordered by deadline."""

    deadline: datetime
    opens: datetime = field(compare=False)
    rollup_due: datetime = field(compare=False)
    key: str = field(compare=False)
    half: str = field(compare=False)  # "first" (5th) or "second" (20th)

    @property
    def deadline_date(self) -> date:
        return self.deadline.date()

    @property
    def nominal_date(self) -> date:
        """The 5th or 20th the period is named after ("12月5日期"), whether or not its deadline moved."""
        return date.fromisoformat(self.key)

    @property
    def moved(self) -> bool:
        """True if the deadline is not on the nominal day (it fell on a non-working day)."""
        return self.deadline_date != self.nominal_date

    @property
    def year(self) -> int:
        return self.nominal_date.year

    @property
    def month(self) -> int:
        return self.nominal_date.month

    def contains(self, moment: datetime) -> bool:
        """True if opens < moment <= deadline."""
        m = _to_local(moment)
        return self.opens < m <= self.deadline


def _to_local(moment: datetime) -> datetime:
    """Convert an aware datetime to the bot's zone; reject naive ones."""
    if not isinstance(moment, datetime):
        raise TypeError("expected a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime; an aware datetime is required")
    return moment.astimezone(tz())


def _at(d: date, t: time) -> datetime:
    return datetime.combine(d, t, tzinfo=tz())


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def _prev_deadline_date(d: date) -> date:
    """Deadline date just before the deadline date d."""
    if d.day == DEADLINE_DAYS[1]:
        return d.replace(day=DEADLINE_DAYS[0])
    y, m = _add_months(d.year, d.month, -1)
    return date(y, m, DEADLINE_DAYS[1])


def _next_deadline_date(d: date) -> date:
    """Deadline date just after the deadline date d."""
    if d.day == DEADLINE_DAYS[0]:
        return d.replace(day=DEADLINE_DAYS[1])
    y, m = _add_months(d.year, d.month, 1)
    return date(y, m, DEADLINE_DAYS[0])


def set_deadline_rule(rule: str) -> None:
    """Use `rule` (NEXT_WORKING_DAY or KEEP; Settings.DEADLINE_ON_NON_WORKING_DAY) from now on (the app
    factory calls it)."""
    global _deadline_rule
    if rule not in DEADLINE_RULES:
        raise ValueError(f"unknown deadline rule {rule!r} (expected one of {', '.join(DEADLINE_RULES)})")
    _deadline_rule = rule


def deadline_rule() -> str:
    return _deadline_rule


def deadline_day(nominal: date, rule: str | None = None) -> date:
    """THE rule for a report deadline that falls on a non-working day: the day it is really due —
    the next working day (NEXT_WORKING_DAY, the default) or the nominal day itself (KEEP)."""
    if (rule or _deadline_rule) == KEEP:
        return nominal
    return next_workday(nominal, include_self=True)


def _make(deadline_day_: date, deadline_time: time = DEADLINE_TIME) -> Period:
    if deadline_day_.day not in DEADLINE_DAYS:
        raise ValueError(f"not a deadline day: {deadline_day_}")
    real = deadline_day(deadline_day_)
    deadline = _at(real, deadline_time)
    opens = _at(deadline_day(_prev_deadline_date(deadline_day_)), deadline_time)
    rollup = _at(deadline_day(real + timedelta(days=ROLLUP_DELAY_DAYS)), ROLLUP_TIME)
    half = "first" if deadline_day_.day == DEADLINE_DAYS[0] else "second"
    return Period(deadline=deadline, opens=opens, rollup_due=rollup,
                  key=deadline_day_.isoformat(), half=half)


def period_at(moment: datetime, deadline_time: time = DEADLINE_TIME) -> Period:
    """The period whose window (opens, deadline] contains moment (aware, any tz)."""
    m = _to_local(moment)
    # the last period of the month before may still be open (its deadline moved into this month)
    py, pm = _add_months(m.year, m.month, -1)
    for y, mo, day in [(py, pm, DEADLINE_DAYS[-1])] + [(m.year, m.month, d) for d in DEADLINE_DAYS]:
        candidate = _make(date(y, mo, day), deadline_time)
        if m <= candidate.deadline:
            return candidate
    y, mo = _add_months(m.year, m.month, 1)
    return _make(date(y, mo, DEADLINE_DAYS[0]), deadline_time)


def period_by_key(key: str, deadline_time: time = DEADLINE_TIME) -> Period:
    """Period from its key "YYYY-MM-DD" (a 5th or 20th); ValueError otherwise."""
    if not isinstance(key, str):
        raise ValueError("period key must be a string")
    m = _KEY_RE.match(key)
    if not m:
        raise ValueError(f"bad period key: {key!r}")
    d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))  # ValueError if invalid
    return _make(d, deadline_time)


def next_period(p: Period) -> Period:
    return _make(_next_deadline_date(p.nominal_date), p.deadline.timetz())


def previous_period(p: Period) -> Period:
    return _make(_prev_deadline_date(p.nominal_date), p.deadline.timetz())


def periods_in_month(year: int, month: int,
                     deadline_time: time = DEADLINE_TIME) -> list[Period]:
    """The two periods whose deadlines fall in the given month."""
    return [_make(date(year, month, d), deadline_time) for d in DEADLINE_DAYS]


def periods_between(start: date | datetime, end: date | datetime,
                    deadline_time: time = DEADLINE_TIME) -> list[Period]:
    """Periods whose deadlines fall in [start, end], ascending.

    Plain dates compare with the deadline date, aware datetimes with the deadline moment.
    """
    def bound(b: date | datetime) -> tuple[date, Callable[[Period], date]]:
        if isinstance(b, datetime):
            local = _to_local(b)
            return local.date(), lambda p: p.deadline
        return b, lambda p: p.deadline_date

    lo_day, lo_get = bound(start)
    hi_day, hi_get = bound(end)
    lo = _to_local(start) if isinstance(start, datetime) else start
    hi = _to_local(end) if isinstance(end, datetime) else end
    out: list[Period] = []
    y, m = lo_day.year, lo_day.month
    while (y, m) <= (hi_day.year, hi_day.month):
        out.extend(p for p in periods_in_month(y, m, deadline_time)
                   if lo_get(p) >= lo and hi_get(p) <= hi)
        y, m = _add_months(y, m, 1)
    return out


def is_late(submitted_at: datetime, period: Period) -> bool:
    """True if this moment is strictly after the period's deadline (whether a unit's report for the
    period is late is the rule of bot.domain.reporting: its first submission decides)."""
    return _to_local(submitted_at) > period.deadline


def period_for_report(moment: datetime,
                      already_reported: Callable[[Period], bool],
                      deadline_time: time = DEADLINE_TIME) -> Period:
    """The period a unit's report made at moment counts for.

    Normally period_at(moment). If the previous period's roll-up is still ahead
    (moment < previous.rollup_due) and the unit has not reported for it, the report is
    a late report for the previous period.
    """
    current = period_at(moment, deadline_time)
    prev = previous_period(current)
    if _to_local(moment) < prev.rollup_due and not already_reported(prev):
        return prev
    return current


def week_start(d: date) -> date:
    """Monday of the week containing d."""
    if isinstance(d, datetime):
        d = _to_local(d).date()
    return d - timedelta(days=d.weekday())


def weekly_report_due(moment: datetime | date, hour: int = WEEKLY_REPORT_HOUR) -> datetime:
    """Monday of the week containing moment, at hour:00 local time."""
    d = _to_local(moment).date() if isinstance(moment, datetime) else moment
    return _at(week_start(d), time(hour, 0))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """(first moment of the month, first moment of the next month), aware."""
    ny, nm = _add_months(year, month, 1)
    return _at(date(year, month, 1), time(0)), _at(date(ny, nm, 1), time(0))


def reminder_dates(period: Period, days_before: tuple[int, ...] = (2, 0)) -> list[date]:
    """Nominal reminder dates (deadline date minus N days), ascending, unadjusted."""
    return sorted({period.deadline_date - timedelta(days=n) for n in days_before})
