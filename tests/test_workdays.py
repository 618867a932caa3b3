import logging
from datetime import date, datetime, timedelta

import pytest

from bot.domain import workdays
from bot.domain.workdays import (
    add_workdays,
    is_workday,
    next_workday,
    previous_workday,
    shift_to_workday_before,
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


def test_a_year_without_any_data_falls_back_to_weekdays_and_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(workdays, "_package_year", lambda year: (frozenset(), frozenset()))
    workdays._reset_fallback_warnings()
    caplog.set_level(logging.WARNING, logger="bot.domain.workdays")
    # 2027-10-01 is a Friday; with no data at all it is a plain working day
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
    assert workdays.year_status(2028) == workdays.WEEKDAYS


def test_2027_takes_the_festivals_of_the_holidays_package(caplog):
    """chinese-calendar 1.11.0 ends with 2026; 2027 comes from `holidays` (provisional)."""
    workdays._reset_fallback_warnings()
    caplog.set_level(logging.WARNING, logger="bot.domain.workdays")
    assert workdays.year_status(2026) == workdays.CONFIRMED
    assert workdays.year_status(2027) == workdays.PROVISIONAL
    assert not is_workday(date(2027, 1, 1))      # 元旦, a Friday
    assert not is_workday(date(2027, 10, 1))     # 国庆, a Friday
    assert not is_workday(date(2027, 10, 4))     # 国庆 (a Monday)
    assert not is_workday(date(2027, 2, 8))      # 春节 (a Monday)
    assert is_workday(date(2027, 10, 8))         # an ordinary Friday
    assert next_workday(date(2027, 9, 30), include_self=False) == date(2027, 10, 6)
    assert "provisional" in caplog.records[0].getMessage()


def test_the_package_make_up_days_count_where_it_knows_them():
    """`holidays` names a make-up day in its substitute entries ("substituted from 01/04/2026")."""
    off, on = workdays._package_year(2026)
    assert date(2026, 1, 4) in on and date(2026, 1, 2) in off


@pytest.fixture
def calendar_file(tmp_path):
    path = tmp_path / "calendar.yaml"
    yield path
    workdays.configure(None)


def test_a_confirmed_override_year_is_the_whole_truth(calendar_file):
    calendar_file.write_text(
        "years:\n  2027:\n    confirmed: true\n    notice: 国办发明电〔2026〕1号\n"
        "    holidays: [2027-01-01, 2027-10-01, 2027-10-04]\n    workdays: [2027-09-26]\n", encoding="utf-8")
    workdays.configure(calendar_file)
    assert workdays.year_status(2027) == workdays.CONFIRMED
    assert is_workday(date(2027, 9, 26))        # a Sunday, 调休上班
    assert not is_workday(date(2027, 10, 4))
    assert is_workday(date(2027, 10, 5))        # not listed: an ordinary Tuesday works
    assert is_workday(date(2027, 2, 8))         # not listed → works: the list is complete when confirmed
    assert not is_workday(date(2027, 9, 25))    # an ordinary Saturday


def test_an_unconfirmed_override_adds_make_up_days_to_the_package(calendar_file):
    calendar_file.write_text("years:\n  2027:\n    workdays: [2027-02-20]\n", encoding="utf-8")
    workdays.configure(calendar_file)
    assert workdays.year_status(2027) == workdays.PROVISIONAL
    assert is_workday(date(2027, 2, 20))        # Saturday made a working day by the office
    assert not is_workday(date(2027, 2, 8))     # 春节 from the package still off


@pytest.mark.parametrize("body, where", [
    ("years:\n  2027:\n    holidays: [2028-01-01]\n", "years.2027.holidays[0]"),
    ("years:\n  2027:\n    workdays: [明天]\n", "years.2027.workdays[0]"),
    ("years:\n  twenty:\n    workdays: []\n", "years.twenty"),
    ("years:\n  2027:\n    holidays: [2027-10-01]\n    workdays: [2027-10-01]\n", "years.2027"),
])
def test_a_bad_override_file_names_the_place(calendar_file, body, where):
    calendar_file.write_text(body, encoding="utf-8")
    with pytest.raises(workdays.CalendarFileError) as err:
        workdays.configure(calendar_file)
    assert where in str(err.value)

def test_fallback_matches_weekday_rule(monkeypatch):
    monkeypatch.setattr(workdays, "_package_year", lambda year: (frozenset(), frozenset()))
    d = date(2031, 1, 1)
    for i in range(14):
        day = d + timedelta(days=i)
        assert is_workday(day) == (day.weekday() < 5)
