import logging
from datetime import date, datetime, timedelta

import pytest

from bot.domain import workdays
from bot.domain.workdays import (
    add_workdays, is_workday, next_workday, previous_workday, shift_to_workday_before,
)

# Facts from chinese-calendar 1.11.0 for 2026.
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]


@pytest.mark.parametrize("d", NATIONAL_DAY_2026)
def test_national_day_2026_is_off(d):
    assert not is_workday(d)


@pytest.mark.parametrize("d", [date(2026, 9, 20), date(2026, 10, 10)])
def test_national_day_2026_makeup_days_are_workdays(d):
    assert d.weekday() >= 5  # a Sunday and a Saturday
    assert is_workday(d)


def test_ordinary_days_2026():
    assert is_workday(date(2026, 11, 23))          # Monday
    assert not is_workday(date(2026, 11, 22))      # Sunday
    assert not is_workday(date(2026, 11, 21))      # Saturday
    assert not is_workday(date(2026, 10, 11))      # Sunday after the make-up Saturday
    assert not is_workday(date(2026, 2, 16))       # Spring Festival Monday
    assert is_workday(date(2026, 2, 14))           # make-up Saturday


def test_accepts_datetime():
    assert not is_workday(datetime(2026, 10, 1, 9, 0))


def test_shift_to_workday_before():
    assert shift_to_workday_before(date(2026, 10, 5)) == date(2026, 9, 30)
    assert shift_to_workday_before(date(2026, 11, 22)) == date(2026, 11, 20)
    assert shift_to_workday_before(date(2026, 11, 20)) == date(2026, 11, 20)
    assert shift_to_workday_before(date(2026, 10, 10)) == date(2026, 10, 10)


def test_previous_and_next_workday():
    assert previous_workday(date(2026, 10, 8)) == date(2026, 10, 8)
    assert previous_workday(date(2026, 10, 8), include_self=False) == date(2026, 9, 30)
    assert next_workday(date(2026, 10, 1)) == date(2026, 10, 8)
    assert next_workday(date(2026, 10, 9), include_self=False) == date(2026, 10, 10)
    assert next_workday(date(2026, 11, 21)) == date(2026, 11, 23)


def test_add_workdays():
    assert add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_workdays(date(2026, 10, 8), 2) == date(2026, 10, 10)
    assert add_workdays(date(2026, 10, 8), -1) == date(2026, 9, 30)
    assert add_workdays(date(2026, 11, 22), 0) == date(2026, 11, 22)
    assert add_workdays(date(2026, 11, 20), 5) == date(2026, 11, 27)


def test_unknown_year_falls_back_to_weekdays_and_warns_once(caplog):
    workdays._reset_fallback_warnings()
    caplog.set_level(logging.WARNING, logger="bot.domain.workdays")
    # 2027-10-01 is a Friday; without data it is a plain working day
    assert is_workday(date(2027, 10, 1))
    assert not is_workday(date(2027, 10, 2))
    assert not is_workday(date(2027, 10, 3))
    assert next_workday(date(2027, 10, 2)) == date(2027, 10, 4)
    assert add_workdays(date(2026, 12, 31), 2) == date(2027, 1, 4)
    warnings = [r for r in caplog.records if r.name == "bot.domain.workdays"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage()
    caplog.clear()
    is_workday(date(2028, 1, 3))
    is_workday(date(2028, 1, 4))
    assert len([r for r in caplog.records if "2028" in r.getMessage()]) == 1


def test_fallback_matches_weekday_rule():
    d = date(2031, 1, 1)
    for i in range(14):
        day = d + timedelta(days=i)
        assert is_workday(day) == (day.weekday() < 5)
