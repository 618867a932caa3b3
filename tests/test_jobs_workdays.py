"""Working days: reminder days on a weekend or holiday move to the previous working day (deadlines
stay); years chinese-calendar does not know (2027) fall back to Monday-Friday without crashing."""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.periods import period_by_key, periods_between, reminder_dates
from bot.domain.workdays import is_workday
from bot.jobs import BUILTIN, config_of, run_job
from bot.jobs.deadlines import due_reminder_day
from bot.jobs.minutes import meeting_reminder_day
from bot.jobs.reminders import reminder_days
from bot.jobs.rollup import reminder_day as rollup_reminder_day
from tests.jobs_helpers import at, build_december, notices, run_cli

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")


def holiday_reminders_2026():
    """(period, nominal reminder day) pairs of 2026 whose nominal day is a statutory holiday."""
    out = []
    for p in periods_between(date(2026, 1, 1), date(2026, 12, 31)):
        for d in reminder_dates(p, (2, 0)):
            on_holiday, name = chinese_calendar.get_holiday_detail(d)
            if on_holiday and name:
                out.append((p, d))
    return out


def test_2026_holiday_reminders_move_to_the_previous_working_day():
    found = holiday_reminders_2026()
    assert (period_by_key("2026-10-05"), date(2026, 10, 3)) in found  # National Day
    for p, nominal in found:
        days = reminder_days(p)
        moved = max(d for d in days if d <= nominal)
        assert moved < nominal and is_workday(moved)
        assert all(not is_workday(moved + timedelta(days=i)) for i in range(1, (nominal - moved).days + 1))
        assert p.deadline.hour == 18 and p.deadline_date.day in (5, 20)  # the deadline itself never moves


def test_national_day_reminders_merge_into_one_on_september_30():
    p = period_by_key("2026-10-05")  # Oct 3 and Oct 5 are both in the National Day holiday
    assert reminder_days(p) == [date(2026, 9, 30)]
    assert rollup_reminder_day(p) == date(2026, 10, 6)  # roll-up due Oct 7 (holiday), not before the 6th
    assert due_reminder_day(date(2026, 10, 8), 3) == date(2026, 9, 30)
    assert meeting_reminder_day(2026, 10) == date(2026, 10, 23)  # Oct 25 2026 is a Sunday


def test_report_reminder_is_sent_on_the_moved_day_and_not_again_on_the_holiday(seeded, runner):
    with seeded.db.session() as s:
        d = build_december(s, created=at(2026, 9, 1))
    run_cli(runner, "report_reminder", at(2026, 9, 29))
    assert notices(seeded, "report_reminder:") == []
    run_cli(runner, "report_reminder", at(2026, 9, 30))
    first = notices(seeded, "report_reminder:")
    assert first and all(n.key.endswith(":2026-10-05:2026-09-30") for n in first)
    assert d.liaison["区发改局"].wecom_userid in {n.target for n in first}
    for day in (3, 4, 5):
        run_cli(runner, "report_reminder", at(2026, 10, day))
    assert len(notices(seeded, "report_reminder:")) == len(first)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)), st.sampled_from([5, 20]),
       st.lists(st.integers(0, 6), min_size=1, max_size=3))
def test_reminder_days_are_working_days_before_the_deadline(day, deadline_day, days_before):
    p = period_by_key(day.replace(day=deadline_day).isoformat())
    days = reminder_days(p, days_before)
    assert days == sorted(set(days))
    for d in days:
        assert d <= p.deadline_date and d > p.opens.date()
        assert is_workday(d) or d == p.opens.date() + timedelta(days=1)
    nominal = reminder_dates(p, tuple(days_before))
    for n in nominal:
        if is_workday(n):
            assert n in days  # a working day is never moved


def test_2027_does_not_crash(seeded, runner):
    """chinese-calendar 1.11 has no 2027 data: every job still runs (festivals from the `holidays` package)."""
    with seeded.db.session() as s:
        build_december(s)
    config = config_of(seeded)
    for moment in (at(2027, 1, 4), at(2027, 1, 5, 18, 1), at(2027, 2, 1, 8), at(2027, 2, 3),
                   at(2027, 10, 1), at(2027, 12, 24)):
        for name in BUILTIN:
            run_job(seeded, config.jobs[name], moment)
    # Jan 3 is a Sunday and Jan 1 元旦: the reminder moves back to Thursday, Dec 31
    assert reminder_days(period_by_key("2027-01-05")) == [date(2026, 12, 31), date(2027, 1, 5)]
    assert notices(seeded, "monthly_report:2027-01:")
