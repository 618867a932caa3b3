from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.periods import (
    Period,
    is_late,
    month_bounds,
    next_period,
    period_at,
    period_by_key,
    period_for_report,
    periods_between,
    periods_in_month,
    previous_period,
    reminder_dates,
    week_start,
    weekly_report_due,
)

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

TZ = ZoneInfo("Asia/Shanghai")  # the default BOT_TIMEZONE


def sh(*args):
    return datetime(*args, tzinfo=TZ)


def test_period_fields():
    p = period_by_key("2026-12-05")
    assert p.deadline == sh(2026, 12, 5, 18, 0)
    assert p.opens == sh(2026, 11, 20, 18, 0)
    assert p.rollup_due == sh(2026, 12, 7, 18, 0)
    assert p.key == "2026-12-05"
    assert p.half == "first"
    assert p.deadline_date == date(2026, 12, 5)
    q = period_by_key("2026-12-20")
    assert q.half == "second"
    assert q.opens == p.deadline
    assert q.rollup_due == sh(2026, 12, 22, 18, 0)


def test_first_period_of_year_opens_in_december():
    p = period_by_key("2027-01-05")
    assert p.opens == sh(2026, 12, 20, 18, 0)


@pytest.mark.parametrize("moment,key", [
    (sh(2026, 12, 5, 18, 0, 0), "2026-12-05"),
    (sh(2026, 12, 5, 18, 0, 1), "2026-12-20"),
    (sh(2026, 12, 5, 17, 59, 59), "2026-12-05"),
    (sh(2026, 11, 20, 18, 0, 1), "2026-12-05"),
    (sh(2026, 12, 1, 0, 0), "2026-12-05"),
    (sh(2026, 12, 20, 18, 0), "2026-12-20"),
    (sh(2026, 12, 20, 18, 0, 0, 1), "2027-01-05"),
    (sh(2026, 12, 31, 23, 59), "2027-01-05"),
    (sh(2026, 12, 10, 9, 0), "2026-12-20"),
])
def test_period_at_boundaries(moment, key):
    assert period_at(moment).key == key


def test_period_at_converts_other_timezones():
    # 10:00 UTC == 18:00 Shanghai -> still inside the 12-05 period
    assert period_at(datetime(2026, 12, 5, 10, 0, tzinfo=UTC)).key == "2026-12-05"
    assert period_at(datetime(2026, 12, 5, 10, 0, 1, tzinfo=UTC)).key == "2026-12-20"
    ny = ZoneInfo("America/New_York")
    # 2026-12-05 05:30 New York == 18:30 Shanghai
    assert period_at(datetime(2026, 12, 5, 5, 30, tzinfo=ny)).key == "2026-12-20"


def test_naive_datetimes_rejected():
    with pytest.raises(ValueError):
        period_at(datetime(2026, 12, 5, 12, 0))
    with pytest.raises(ValueError):
        is_late(datetime(2026, 12, 5, 19, 0), period_by_key("2026-12-05"))


@pytest.mark.parametrize("bad", ["2026-12-06", "2026-13-05", "2026-02-30", "20261205",
                                 "2026-12-5", "", "xxxx", " 2026-12-05"])
def test_period_by_key_rejects_bad_keys(bad):
    with pytest.raises(ValueError):
        period_by_key(bad)


def test_next_and_previous():
    p = period_by_key("2026-12-20")
    assert next_period(p).key == "2027-01-05"
    assert previous_period(p).key == "2026-12-05"
    assert previous_period(period_by_key("2027-01-05")).key == "2026-12-20"
    assert next_period(previous_period(p)) == p


def test_ordering_and_contains():
    a, b = period_by_key("2026-12-05"), period_by_key("2026-12-20")
    assert a < b and sorted([b, a]) == [a, b]
    assert a.contains(sh(2026, 12, 5, 18, 0))
    assert not a.contains(sh(2026, 11, 20, 18, 0))  # opens is exclusive
    assert b.contains(sh(2026, 11, 20, 18, 0) + timedelta(days=15, seconds=1))


def test_periods_in_month_and_between():
    assert [p.key for p in periods_in_month(2026, 2)] == ["2026-02-05", "2026-02-20"]
    keys = [p.key for p in periods_between(date(2026, 11, 20), date(2027, 1, 5))]
    assert keys == ["2026-11-20", "2026-12-05", "2026-12-20", "2027-01-05"]
    assert periods_between(date(2026, 12, 6), date(2026, 12, 19)) == []
    # aware datetimes compare with the deadline moment
    keys = [p.key for p in periods_between(sh(2026, 12, 5, 18, 0, 1), sh(2026, 12, 20, 18, 0))]
    assert keys == ["2026-12-20"]


def test_is_late():
    p = period_by_key("2026-12-05")
    assert not is_late(sh(2026, 12, 5, 18, 0), p)
    assert is_late(sh(2026, 12, 5, 18, 0, 1), p)
    assert not is_late(sh(2026, 11, 30, 9, 0), p)


def test_period_for_report_late_goes_to_previous_until_rollup():
    reported: set[str] = set()

    def already(p: Period) -> bool:
        return p.key in reported

    # 12-06 10:00: 12-05 deadline passed, roll-up (12-07 18:00) not yet, not reported
    assert period_for_report(sh(2026, 12, 6, 10, 0), already).key == "2026-12-05"
    assert period_for_report(sh(2026, 12, 7, 17, 59), already).key == "2026-12-05"
    # at/after roll-up time it counts for the current period
    assert period_for_report(sh(2026, 12, 7, 18, 0), already).key == "2026-12-20"
    # already reported for 12-05 -> new report belongs to 12-20
    reported.add("2026-12-05")
    assert period_for_report(sh(2026, 12, 6, 10, 0), already).key == "2026-12-20"
    # an on-time report stays where it is
    assert period_for_report(sh(2026, 12, 5, 17, 0), lambda p: False).key == "2026-12-05"


def test_period_for_report_late_report_is_late():
    p = period_for_report(sh(2026, 12, 21, 9, 0), lambda p: False)
    assert p.key == "2026-12-20"
    assert is_late(sh(2026, 12, 21, 9, 0), p)


def test_week_start_and_weekly_due():
    assert week_start(date(2026, 11, 22)) == date(2026, 11, 16)  # Sunday -> Monday before
    assert week_start(date(2026, 11, 23)) == date(2026, 11, 23)
    assert weekly_report_due(sh(2026, 11, 25, 9, 0)) == sh(2026, 11, 23, 18, 0)
    assert weekly_report_due(sh(2026, 11, 22, 23, 0), hour=12) == sh(2026, 11, 16, 12, 0)
    # 2026-11-22 20:00 UTC is Monday 04:00 in Shanghai
    utc = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert weekly_report_due(utc) == sh(2026, 11, 23, 18, 0)


def test_month_bounds():
    start, end = month_bounds(2026, 12)
    assert start == sh(2026, 12, 1) and end == sh(2027, 1, 1)
    assert start.tzinfo is not None
    assert month_bounds(2028, 2)[1] - month_bounds(2028, 2)[0] == timedelta(days=29)


def test_rollup_and_reminders():
    p = period_by_key("2026-12-05")
    assert p.rollup_due == sh(2026, 12, 7, 18, 0)
    assert reminder_dates(p) == [date(2026, 12, 3), date(2026, 12, 5)]
    assert reminder_dates(p, days_before=(0, 1, 3, 1)) == [
        date(2026, 12, 2), date(2026, 12, 4), date(2026, 12, 5)]
    q = period_by_key("2027-03-05")
    assert reminder_dates(q, days_before=(5,)) == [date(2027, 2, 28)]


def test_custom_deadline_time():
    p = period_at(sh(2026, 12, 5, 17, 30), deadline_time=time(17, 0))
    assert p.key == "2026-12-20" and p.deadline == sh(2026, 12, 20, 17, 0)
    assert next_period(p).deadline == sh(2027, 1, 5, 17, 0)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(TZ))


@settings(deadline=None)
@given(moments)
def test_period_at_contains_moment(m):
    p = period_at(m)
    assert p.contains(m)
    assert p.deadline.time() == time(18, 0) and p.deadline.day in (5, 20)
    assert not next_period(p).contains(m) and not previous_period(p).contains(m)
    assert period_by_key(p.key) == p
