from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.dateparse import DateAmbiguous, DateInvalid, DateOk, parse_date

TODAY = date(2026, 11, 22)  # a Sunday
D = date


@pytest.mark.parametrize("text,expected", [
    ("2026-12-05", D(2026, 12, 5)),
    ("2026/12/5", D(2026, 12, 5)),
    ("2026.12.5", D(2026, 12, 5)),
    ("2026年12月5日", D(2026, 12, 5)),
    ("2026年12月5号", D(2026, 12, 5)),
    ("20261205", D(2026, 12, 5)),
    ("12月5日", D(2026, 12, 5)),
    ("12月5号", D(2026, 12, 5)),
    ("12-05", D(2026, 12, 5)),
    ("12/5", D(2026, 12, 5)),
    ("12.5", D(2026, 12, 5)),
    ("今天", D(2026, 11, 22)),
    ("明天", D(2026, 11, 23)),
    ("后天", D(2026, 11, 24)),
    ("大后天", D(2026, 11, 25)),
    ("下周五", D(2026, 11, 27)),
    ("下周一", D(2026, 11, 23)),
    ("下个星期五", D(2026, 11, 27)),
    ("周五", D(2026, 11, 27)),
    ("星期五", D(2026, 11, 27)),
    ("礼拜五", D(2026, 11, 27)),
    ("周日", D(2026, 11, 22)),
    ("本周日", D(2026, 11, 22)),
    ("下周日", D(2026, 11, 29)),
    ("下下周一", D(2026, 11, 30)),
    ("月底", D(2026, 11, 30)),
    ("本月底", D(2026, 11, 30)),
    ("这个月底", D(2026, 11, 30)),
    ("下月底", D(2026, 12, 31)),
    ("下个月底", D(2026, 12, 31)),
    ("3月底", D(2027, 3, 31)),
    ("2月底", D(2027, 2, 28)),
    ("下月5日", D(2026, 12, 5)),
    ("下个月5号", D(2026, 12, 5)),
    ("5号", D(2026, 12, 5)),
    ("5日", D(2026, 12, 5)),
    ("22号", D(2026, 11, 22)),
    ("30号", D(2026, 11, 30)),
    ("3天后", D(2026, 11, 25)),
    ("三天后", D(2026, 11, 25)),
    ("10天以后", D(2026, 12, 2)),
    ("十天以后", D(2026, 12, 2)),
    ("2周后", D(2026, 12, 6)),
    ("两周后", D(2026, 12, 6)),
    ("一个月后", D(2026, 12, 22)),
    ("3天内", D(2026, 11, 25)),
    ("3个工作日后", D(2026, 11, 25)),
    ("年底", D(2026, 12, 31)),
    ("明年3月1日", D(2027, 3, 1)),
    ("3月25日", D(2027, 3, 25)),       # this year's is 8 months ago -> next year, silently
    ("1月5日", D(2027, 1, 5)),
    # fullwidth, spaces, Chinese numerals, punctuation
    ("１２月５日", D(2026, 12, 5)),
    (" ２０２６－１２－０５ ", D(2026, 12, 5)),
    ("２０２６／１２／５", D(2026, 12, 5)),
    ("2026 年 12 月 5 日", D(2026, 12, 5)),
    ("十二月五日", D(2026, 12, 5)),
    ("十二月三十一日", D(2026, 12, 31)),
    ("二〇二六年十二月五日", D(2026, 12, 5)),
    ("12月5日。", D(2026, 12, 5)),
    ("12月5日前", D(2026, 12, 5)),
    ("12月5日之前", D(2026, 12, 5)),
    ("截至12月5日", D(2026, 12, 5)),
    ("月底前", D(2026, 11, 30)),
    ("5日前", D(2026, 12, 5)),           # "by the 5th", not "5 days ago"
])
def test_future_examples(text, expected):
    assert parse_date(text, TODAY) == DateOk(expected)


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("   ", "empty"),
    ("。", "empty"),
    ("hello", "unrecognised"),
    ("下周", "unrecognised"),
    ("2026年12月", "unrecognised"),
    ("45", "unrecognised"),
    ("2月30日", "no_such_date"),
    ("2026-02-30", "no_such_date"),
    ("2026-13-01", "no_such_date"),
    ("4月31日", "no_such_date"),
    ("13月1日", "no_such_date"),
    ("32号", "no_such_date"),
    ("2026-11-21", "in_past"),
    ("昨天", "in_past"),
    ("上周五", "in_past"),
    ("3天前", "in_past"),
    ("2032-01-01", "too_far"),
    ("6年后", "too_far"),
    ("99999天后", "too_far"),
    ("1" + "0" * 5000 + "天后", "too_far"),
    ("3000天后", "too_far"),
])
def test_future_invalid(text, reason):
    assert parse_date(text, TODAY) == DateInvalid(reason)


def test_next_month_day_that_does_not_exist():
    assert parse_date("下月31日", TODAY) == DateOk(D(2026, 12, 31))
    r = parse_date("下月31日", D(2026, 10, 15))
    assert r == DateInvalid("no_such_day") and (r.year, r.month, r.day) == (2026, 11, 31)


def test_bare_numbers_are_ambiguous():
    assert parse_date("5", TODAY) == DateAmbiguous((D(2026, 12, 5),), "bare_number")
    assert parse_date("５", TODAY) == DateAmbiguous((D(2026, 12, 5),), "bare_number")
    assert parse_date("5", TODAY, "past") == DateAmbiguous((D(2026, 11, 5),), "bare_number")
    r = parse_date("1205", TODAY)
    assert isinstance(r, DateAmbiguous) and r.reason == "bare_number"
    assert r.candidates[0] == D(2026, 12, 5)


def test_year_missing_recent_past_is_ambiguous_in_future_mode():
    # only the date the field allows is offered; the literal reading is given to say "10月30日已过"
    r = parse_date("10月30日", TODAY)
    assert r == DateAmbiguous((D(2027, 10, 30),), "year_missing_past") and r.literal == D(2026, 10, 30)


def test_year_missing_near_future_is_ambiguous_in_past_mode():
    r = parse_date("12月5日", TODAY, "past")
    assert r == DateAmbiguous((D(2025, 12, 5),), "year_missing_future") and r.literal == D(2026, 12, 5)
    # far enough ahead -> last year, silently
    assert parse_date("8月1日", TODAY, "past") == DateOk(D(2026, 8, 1))
    assert parse_date("2026/12/5", TODAY, "past") == DateInvalid("in_future")


def test_year_boundary():
    assert parse_date("1月5日", D(2026, 12, 28)) == DateOk(D(2027, 1, 5))
    assert parse_date("12月28日", D(2027, 1, 3), "past") == DateOk(D(2026, 12, 28))
    assert parse_date("1月底", D(2026, 12, 28)) == DateOk(D(2027, 1, 31))


def test_this_week_day_already_past():
    # documented rule: explicit 本周/这周 X already past -> ask, next week's first
    expected = DateAmbiguous((D(2026, 11, 27),), "this_week_past")
    assert parse_date("本周五", TODAY) == expected
    assert parse_date("这周五", TODAY) == expected
    assert parse_date("这个星期五", TODAY) == expected
    # still ahead -> plain
    assert parse_date("本周五", D(2026, 11, 18)) == DateOk(D(2026, 11, 20))
    # past mode: literal this-week date that is still ahead -> ambiguous the other way
    r = parse_date("本周五", D(2026, 11, 18), "past")
    assert r == DateAmbiguous((D(2026, 11, 13),), "this_week_future") and r.literal == D(2026, 11, 20)


def test_past_mode():
    assert parse_date("周五", TODAY, "past") == DateOk(D(2026, 11, 20))
    assert parse_date("上周五", TODAY, "past") == DateOk(D(2026, 11, 13))
    assert parse_date("昨天", TODAY, "past") == DateOk(D(2026, 11, 21))
    assert parse_date("3天前", TODAY, "past") == DateOk(D(2026, 11, 19))
    assert parse_date("三天前", TODAY, "past") == DateOk(D(2026, 11, 19))
    assert parse_date("25号", TODAY, "past") == DateOk(D(2026, 10, 25))
    assert parse_date("明天", TODAY, "past") == DateInvalid("in_future")
    assert parse_date("今天", TODAY, "past") == DateOk(TODAY)


def test_any_mode():
    assert parse_date("2026-11-01", TODAY, "any") == DateOk(D(2026, 11, 1))
    assert parse_date("周五", TODAY, "any") == DateOk(D(2026, 11, 20))
    assert parse_date("12月5日", TODAY, "any") == DateOk(D(2026, 12, 5))
    assert parse_date("1月5日", TODAY, "any") == DateOk(D(2027, 1, 5))
    assert parse_date("3天前", TODAY, "any") == DateOk(D(2026, 11, 19))


def test_leap_day_without_year():
    # never a silent jump to 2028: the next 2月29日 would be in 2027, which has none
    r = parse_date("2月29日", TODAY)
    assert r == DateInvalid("not_leap") and r.year == 2027
    assert parse_date("2月29日", D(2027, 12, 1)) == DateOk(D(2028, 2, 29))
    assert parse_date("2028-02-29", TODAY) == DateOk(D(2028, 2, 29))
    assert parse_date("2027-02-29", TODAY) == DateInvalid("not_leap")


def test_month_arithmetic_clamps():
    assert parse_date("一个月后", D(2027, 1, 31)) == DateOk(D(2027, 2, 28))


def test_bad_direction_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_date("今天", TODAY, "sideways")


# ---------------------------------------------------------------- properties

todays = st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31))


@settings(deadline=None)
@given(todays, st.integers(min_value=-1800, max_value=1800),
       st.sampled_from(["{y:04d}-{m:02d}-{d:02d}", "{y}年{m}月{d}日", "{y}/{m}/{d}",
                        "{y}.{m}.{d}", "{y:04d}{m:02d}{d:02d}"]))
def test_formatted_dates_round_trip(today, offset, fmt):
    d = today + timedelta(days=offset)
    text = fmt.format(y=d.year, m=d.month, d=d.day)
    assert parse_date(text, today, "any") == DateOk(d)


@settings(deadline=None)
@given(st.text(), todays, st.sampled_from(["future", "past", "any"]))
def test_never_raises(text, today, direction):
    r = parse_date(text, today, direction)
    assert isinstance(r, (DateOk, DateAmbiguous, DateInvalid))
    if isinstance(r, DateAmbiguous):
        assert r.candidates and r.reason


@settings(deadline=None)
@given(st.text(alphabet="0123456789０１２３一二三十两年月日号天周后前下上本这个-/. ",
               max_size=12), todays, st.sampled_from(["future", "past", "any"]))
def test_never_raises_on_date_like_text(text, today, direction):
    r = parse_date(text, today, direction)
    assert isinstance(r, (DateOk, DateAmbiguous, DateInvalid))


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=1500), todays,
       st.sampled_from(["{n}天后", "{n}天以后", "{n}天之后", "{n}日后"]))
def test_n_days_later(n, today, fmt):
    assert parse_date(fmt.format(n=n), today) == DateOk(today + timedelta(days=n))


@settings(deadline=None)
@given(st.text(alphabet="0123456789一二三四五六七八九十两年月日号天周星期后前下上本这个底-/.",
               max_size=10), todays)
def test_future_ok_is_never_before_today(text, today):
    r = parse_date(text, today, "future")
    if isinstance(r, DateOk):
        assert r.value >= today


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=31), todays)
def test_month_day_future_mode(m, d, today):
    r = parse_date(f"{m}月{d}日", today, "future")
    if isinstance(r, DateOk):
        assert r.value >= today and (r.value.month, r.value.day) == (m, d)
        assert r.value - today <= timedelta(days=366 * 4)
    elif isinstance(r, DateAmbiguous):
        assert r.reason == "year_missing_past"
        assert all(c >= today for c in r.candidates) and r.literal < today
    else:
        assert r in (DateInvalid("no_such_date"), DateInvalid("not_leap"))
