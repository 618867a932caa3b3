"""Parse the dates people type in chat ("12月5日", "下周五", "月底", "3天后", ...).

parse_date(text, today, direction) never raises for a str; it returns one of
DateOk / DateAmbiguous / DateInvalid.  Reason codes are short machine strings; the
Chinese wording is left to templates.

Rules (today = the caller's local date; the week runs Monday..Sunday):

* direction "future" (deadlines): DateOk is never before today; "past" (e.g. a meeting
  date): never after today; "any": no direction check.  A fully specified date on the
  wrong side gives DateInvalid("in_past") / DateInvalid("in_future").
* A result more than 5 years from today gives DateInvalid("too_far").
* Month-day without a year ("12月5日", "12/5", "3月底"): the literal this-year date if it
  lies on the requested side of today (today itself counts).  Otherwise the nearest date
  in the direction (next year / last year) -- but if the literal this-year date is on the
  wrong side by at most AMBIGUITY_WINDOW (183 days), DateAmbiguous with candidates
  (other-year date, literal date) and reason "year_missing_past" (future mode) or
  "year_missing_future" (past mode).  In "any" mode the nearest of the nearby years wins.
* Weekdays: bare "周五"/"星期五"/"礼拜五" is the next (future) / last (past) such day,
  today included; in "any" mode the one in this week.  "本周五"/"这周五" is this week's;
  if that already passed in future mode (or is still ahead in past mode) the result is
  DateAmbiguous((same day next/last week, literal date), "this_week_past" /
  "this_week_future"), since people often say "这周五" meaning the coming Friday.
  "下周X"/"下下周X"/"上周X" are fixed and only checked against the direction.
* "5号"/"5日": the next (future) / last (past) 5th, today included; "any": this month's,
  else the nearest.  Bare numbers ("5", "1205") give DateAmbiguous(..., "bare_number")
  whose candidates hold the "5号" / "12月5日" reading.
* A trailing "前/之前/以前/内/以内/为止" on a date is ignored ("12月5日前" = "12月5日"),
  except in durations: "3天前" is 3 days ago, "3天内" is today + 3.  "5日前" reads as
  "by the 5th" (a deadline), not "5 days ago".
* Candidates in DateAmbiguous are ordered best guess first and are always on the requested side of
  today: a date the field forbids is never offered. Where the literal reading was on the wrong side
  (year_missing_*, this_week_*), it is given as `literal` so the question can say "12月1日已过".
* Never a silent guess of a date that does not exist: "2月29日" whose year (the next / last such day's)
  is not a leap year is DateInvalid("not_leap", year=…); "31号" whose month (this month, or the next /
  last one once this month's day has passed) has no 31st is DateInvalid("no_such_day", year, month);
  "11月31日" is DateInvalid("no_such_date", month=11). Those details do not take part in equality.
* Spans: 下个月 / 本月 / 上个月, "1月", 上半年 / 下半年 (June 30 / December 31), 月中 / 下月中 / "1月中"
  (the 15th), 元旦前 / 春节前 / 清明前 / 五一前 / 端午前 / 中秋前 / 国庆前 (the last working day before the
  holiday's first day, from bot.domain.workdays, i.e. the calendar). For a deadline ("future") a
  month resolves to its last day; in "past" mode (a meeting date, which must be one day) a month or a
  span is DateInvalid("month_only", month=…) / DateInvalid("vague"): asked back, never guessed. 月中
  is the 15th in every mode.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional, Union

from bot.domain.workdays import add_workdays, last_workday_before_holiday

MAX_YEARS_AWAY = 5
AMBIGUITY_WINDOW = timedelta(days=183)
DIRECTIONS = ("future", "past", "any")

_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class DateOk:
    value: date


@dataclass(frozen=True)
class DateAmbiguous:
    candidates: tuple[date, ...]
    reason: str
    literal: Optional[date] = field(default=None, compare=False)  # the wrong-side reading, if any


@dataclass(frozen=True)
class DateInvalid:
    reason: str
    year: Optional[int] = field(default=None, compare=False)
    month: Optional[int] = field(default=None, compare=False)
    day: Optional[int] = field(default=None, compare=False)


DateResult = Union[DateOk, DateAmbiguous, DateInvalid]

# ---------------------------------------------------------------- normalisation

_CN_DIGIT = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_RUN = re.compile(r"[〇零一二两三四五六七八九十百]+")
_CN_POS = re.compile(r"^(?:([一二两三四五六七八九])?百)?零?(?:([一二两三四五六七八九])?十)?"
                     r"([一二两三四五六七八九])?$")
_EXTRA_MAP = str.maketrans({"。": ".", "—": "-", "–": "-", "‐": "-", "−": "-",
                            "～": "~", "〜": "~"})
_EDGE_PUNCT = " .,;:!?~，。、；：！？"
_PREFIX = re.compile(r"^(?:截止到|截止于|截至|截止|定于|定在|于|在|到)")
_SUFFIX = re.compile(r"(?:之前|以前|前|以内|之内|内|为止|止)$")


def _cn_number(run: str) -> Optional[str]:
    """Chinese numeral run -> decimal string ("三十一" -> "31", "二〇二六" -> "2026")."""
    if "十" in run or "百" in run:
        m = _CN_POS.match(run)
        if not m:
            return None
        hundreds = m.group(1)
        tens = m.group(2)
        ones = m.group(3)
        value = 0
        if "百" in run:
            value += 100 * (_CN_DIGIT[hundreds] if hundreds else 1)
        if "十" in run:
            value += 10 * (_CN_DIGIT[tens] if tens else 1)
        if ones:
            value += _CN_DIGIT[ones]
        return str(value)
    return "".join(str(_CN_DIGIT[ch]) for ch in run)


def _replace_cn_numbers(s: str) -> str:
    def repl(m: re.Match[str]) -> str:
        conv = _cn_number(m.group(0))
        return conv if conv is not None else m.group(0)
    return _CN_RUN.sub(repl, s)


def _normalise_words(text: str) -> str:
    """Width, spaces and edge punctuation; Chinese numerals still as typed (五一前 is a holiday, not 51)."""
    s = unicodedata.normalize("NFKC", text).translate(_EXTRA_MAP)
    s = "".join(s.split()).lower()
    return _PREFIX.sub("", s.strip(_EDGE_PUNCT))


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).translate(_EXTRA_MAP)
    s = "".join(s.split()).lower()
    s = s.strip(_EDGE_PUNCT)
    s = _replace_cn_numbers(s)
    return _PREFIX.sub("", s)


# ---------------------------------------------------------------- date helpers

def _mk(y: int, m: int, d: int) -> Optional[date]:
    try:
        return date(y, m, d)
    except (ValueError, OverflowError):
        return None


def _month_end(y: int, m: int) -> Optional[date]:
    if not (1 <= y <= 9999 and 1 <= m <= 12):
        return None
    if m == 12:
        return date(y, 12, 31)
    return date(y, m + 1, 1) - timedelta(days=1)


def _shift_month(y: int, m: int, n: int) -> tuple[int, int]:
    idx = y * 12 + (m - 1) + n
    return idx // 12, idx % 12 + 1


def _add_months(d: date, n: int) -> Optional[date]:
    y, m = _shift_month(d.year, d.month, n)
    end = _month_end(y, m)
    return None if end is None else end.replace(day=min(d.day, end.day))


def _shift_years(d: date, n: int) -> Optional[date]:
    y = d.year + n
    if not 1 <= y <= 9999:
        return None
    return _mk(y, d.month, d.day) or date(y, d.month, 28)


def _md_possible(m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= _MAX_DAYS[m - 1]


def _check(d: Optional[date], today: date, direction: str) -> DateResult:
    """Final direction and distance checks for a fully determined date."""
    if d is None:
        return DateInvalid("too_far")
    if direction == "future" and d < today:
        return DateInvalid("in_past")
    if direction == "past" and d > today:
        return DateInvalid("in_future")
    hi = _shift_years(today, MAX_YEARS_AWAY)
    lo = _shift_years(today, -MAX_YEARS_AWAY)
    if (hi is not None and d > hi) or (lo is not None and d < lo):
        return DateInvalid("too_far")
    return DateOk(d)


def _resolve_yearless(make: Callable[[int], Optional[date]], today: date,
                      direction: str) -> DateResult:
    """Pick the year for a month-day (see the module docstring)."""
    this = make(today.year)
    if direction == "any":
        options = [(abs((x - today).days), abs(k), x)
                   for k in range(-4, 5) if (x := make(today.year + k)) is not None]
        if not options:
            return DateInvalid("no_such_date")
        return _check(min(options)[2], today, direction)
    future = direction == "future"
    if this is not None and (this >= today if future else this <= today):
        return _check(this, today, direction)
    sign = 1 if future else -1
    other = next((x for k in range(1, 9)
                  if (x := make(today.year + sign * k)) is not None), None)
    if other is None:
        return DateInvalid("no_such_date")
    if this is not None and abs(this - today) <= AMBIGUITY_WINDOW:
        reason = "year_missing_past" if future else "year_missing_future"
        checked = _check(other, today, direction)
        if not isinstance(checked, DateOk):
            return checked
        return DateAmbiguous((other,), reason, literal=this)
    return _check(other, today, direction)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _resolve_month_day(m: int, d: int, today: date, direction: str) -> DateResult:
    if not _md_possible(m, d):
        return DateInvalid("no_such_date", month=m, day=d)
    if (m, d) == (2, 29):  # the year it would be: this year's, or the next / last one once that passed
        here = (today.month, today.day)
        y = today.year
        if direction == "future" and here > (2, 29):
            y += 1
        elif direction == "past" and here < (2, 29):
            y -= 1
        if not _leap(y):
            return DateInvalid("not_leap", year=y, month=2, day=29)
    return _resolve_yearless(lambda y: _mk(y, m, d), today, direction)


def _resolve_day(day: int, today: date, direction: str) -> DateResult:
    """Bare day of month ("5号")."""
    if not 1 <= day <= 31:
        return DateInvalid("no_such_date")

    # the month it would be in: this month, or (once this month's day has passed, or is still ahead in
    # "past" mode) the next / last month. A month without that day is said, never skipped.
    k = 0
    if direction == "future" and day < today.day:
        k = 1
    elif direction == "past" and day > today.day:
        k = -1
    y, m = _shift_month(today.year, today.month, k)
    value = _mk(y, m, day)
    if value is None:
        return DateInvalid("no_such_day", year=y, month=m, day=day)
    return _check(value, today, direction)


def _explicit(y: int, m: int, d: int, today: date, direction: str) -> DateResult:
    if not _md_possible(m, d):
        return DateInvalid("no_such_date", month=m, day=d)
    value = _mk(y, m, d)
    if value is None:
        if (m, d) == (2, 29):
            return DateInvalid("not_leap", year=y, month=2, day=29)
        return DateInvalid("no_such_date", month=m, day=d)
    return _check(value, today, direction)


# ---------------------------------------------------------------- patterns

_WEEK_OFFSET = {None: None, "本": 0, "这": 0, "这个": 0, "下": 1, "下个": 1,
                "下下": 2, "下下个": 2, "上": -1, "上个": -1, "上上": -2, "上上个": -2}
_MONTH_OFFSET = {None: 0, "本": 0, "这": 0, "这个": 0, "下": 1, "下个": 1,
                 "下下": 2, "下下个": 2, "上": -1, "上个": -1}
_YEAR_WORD = {"今": 0, "本": 0, "明": 1, "后": 2, "去": -1, "前": -2}
_REL_DAY = {"今天": 0, "今日": 0, "今儿": 0, "明天": 1, "明日": 1, "明儿": 1, "后天": 2,
            "大后天": 3, "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3}
_FORWARD = ("后", "以后", "之后", "内", "以内", "之内")

_RE_YMD_SEP = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:日|号)?$")
_RE_YMD_CN = re.compile(r"^(\d{4}|\d{2})年(\d{1,2})月(\d{1,2})(?:日|号)?$")
_RE_YM_END = re.compile(r"^(\d{4})年(\d{1,2})月(?:底|末)$")
_RE_YW_MD = re.compile(r"^(今|本|明|后|去|前)年(\d{1,2})月(\d{1,2})(?:日|号)?$")
_RE_YW_MEND = re.compile(r"^(今|本|明|后|去|前)年(\d{1,2})月(?:底|末)$")
_RE_YEAR_END = re.compile(r"^(?:(今|本|明|去)年)?年?(?:底|末)$")
_RE_MD_CN = re.compile(r"^(\d{1,2})月(\d{1,2})(?:日|号)?$")
_RE_MD_SEP = re.compile(r"^(\d{1,2})[-/.](\d{1,2})$")
_RE_M_END = re.compile(r"^(\d{1,2})月(?:份)?(?:底|末)$")
_RE_WEEKDAY = re.compile(r"^(本|这个|这|下下个|下下|下个|下|上上个|上上|上个|上)?"
                         r"(?:周|星期|礼拜)([1-7]|日|天)$")
_RE_REL_MEND = re.compile(r"^(本|这个|这|下下个|下下|下个|下|上个|上)?月(?:底|末)$")
_RE_REL_MDAY = re.compile(r"^(本|这个|这|下下个|下下|下个|下|上个|上)月(\d{1,2})(?:日|号)$")
_RE_DAY = re.compile(r"^(\d{1,2})(?:日|号)$")
_RE_DURATION = re.compile(
    r"^(\d+)(天|日|个工作日|工作日|周|个星期|星期|个礼拜|礼拜|个月|年)"
    r"(后|以后|之后|内|以内|之内|前|以前|之前)$")
_RE_DIGITS = re.compile(r"^\d+$")
_RE_MONTH_ONLY = re.compile(r"^(\d{1,2})月份?$")
_RE_REL_MONTH = re.compile(r"^(本|这个|这|下下个|下下|下个|下|上个|上)月份?$")
_RE_REL_MMID = re.compile(r"^(本|这个|这|下下个|下下|下个|下|上个|上)?月(?:中|中旬)$")
_RE_M_MID = re.compile(r"^(\d{1,2})月份?(?:中|中旬)$")
_RE_HALF = re.compile(r"^(?:(今|本|明|去)年)?(上|下)半年$")
_HOLIDAYS = {"元旦": "元旦", "春节": "春节", "过年": "春节", "清明": "清明", "五一": "劳动节", "劳动": "劳动节",
             "端午": "端午", "中秋": "中秋", "国庆": "国庆", "十一": "国庆"}
_RE_HOLIDAY = re.compile(r"^(元旦|春节|过年|清明|五一|劳动|端午|中秋|国庆|十一)节?(?:前|之前|以前)$")


def _span_end(make: Callable[[int], Optional[date]], today: date, direction: str,
              month: Optional[int] = None) -> DateResult:
    """A span ("1月", "上半年") is a deadline at its end; a past date must be one day: asked back."""
    if direction == "past":
        return DateInvalid("month_only", month=month) if month else DateInvalid("vague")
    return _resolve_yearless(make, today, direction)


def _holiday(name: str, today: date, direction: str) -> DateResult:
    """元旦前 / 春节前 …: the last working day before the holiday's first day (bot.domain.workdays). For a
    deadline, the next one not yet passed; a past date must be one day: asked back."""
    if direction == "past":
        return DateInvalid("vague")
    for y in (today.year, today.year + 1):
        d = last_workday_before_holiday(name, y)
        if d is not None and (direction == "any" or d >= today):
            return _check(d, today, direction)
    return DateInvalid("unrecognised")


def _duration(n: int, unit: str, suffix: str, today: date,
              direction: str) -> Optional[DateResult]:
    if unit == "日" and suffix not in _FORWARD:
        return None  # "5日前" means "by the 5th": let the suffix be stripped
    sign = 1 if suffix in _FORWARD else -1
    if unit in ("天", "日"):
        if n > 366 * MAX_YEARS_AWAY + 1:
            return DateInvalid("too_far")
        return _check(today + timedelta(days=sign * n), today, direction)
    if unit in ("周", "个星期", "星期", "个礼拜", "礼拜"):
        if n > 53 * MAX_YEARS_AWAY:
            return DateInvalid("too_far")
        return _check(today + timedelta(weeks=sign * n), today, direction)
    if unit == "个月":
        if n > 12 * MAX_YEARS_AWAY + 1:
            return DateInvalid("too_far")
        return _check(_add_months(today, sign * n), today, direction)
    if unit == "年":
        if n > MAX_YEARS_AWAY + 1:
            return DateInvalid("too_far")
        return _check(_shift_years(today, sign * n), today, direction)
    # working days
    if n > 262 * MAX_YEARS_AWAY:
        return DateInvalid("too_far")
    return _check(add_workdays(today, sign * n), today, direction)


def _weekday(prefix: Optional[str], token: str, today: date, direction: str) -> DateResult:
    target = 6 if token in ("日", "天", "7") else int(token) - 1
    monday = today - timedelta(days=today.weekday())
    offset = _WEEK_OFFSET[prefix]
    if offset is None:
        if direction == "future":
            return _check(today + timedelta(days=(target - today.weekday()) % 7),
                          today, direction)
        if direction == "past":
            return _check(today - timedelta(days=(today.weekday() - target) % 7),
                          today, direction)
        return _check(monday + timedelta(days=target), today, direction)
    value = monday + timedelta(weeks=offset, days=target)
    if offset == 0 and direction == "future" and value < today:
        return DateAmbiguous((value + timedelta(weeks=1),), "this_week_past", literal=value)
    if offset == 0 and direction == "past" and value > today:
        return DateAmbiguous((value - timedelta(weeks=1),), "this_week_future", literal=value)
    return _check(value, today, direction)


def _bare_number(s: str, today: date, direction: str) -> DateResult:
    if len(s) == 8:
        return _explicit(int(s[:4]), int(s[4:6]), int(s[6:]), today, direction)
    if len(s) <= 2:
        inner = _resolve_day(int(s), today, direction)
    elif len(s) in (3, 4):
        split = len(s) - 2
        inner = _resolve_month_day(int(s[:split]), int(s[split:]), today, direction)
    else:
        return DateInvalid("unrecognised")
    if isinstance(inner, DateOk):
        return DateAmbiguous((inner.value,), "bare_number")
    if isinstance(inner, DateAmbiguous):
        return DateAmbiguous(inner.candidates, "bare_number")
    return DateInvalid("unrecognised")


def _match(s: str, today: date, direction: str) -> Optional[DateResult]:
    """Try every pattern on the normalised text; None if nothing fits."""
    if _RE_DIGITS.match(s):
        return _bare_number(s, today, direction)
    if s in _REL_DAY:
        return _check(today + timedelta(days=_REL_DAY[s]), today, direction)
    if m := _RE_YMD_SEP.match(s):
        return _explicit(int(m[1]), int(m[3]), int(m[4]), today, direction)
    if m := _RE_YMD_CN.match(s):
        year = int(m[1]) + (2000 if len(m[1]) == 2 else 0)
        return _explicit(year, int(m[2]), int(m[3]), today, direction)
    if m := _RE_YM_END.match(s):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12 or not 1 <= y <= 9999:
            return DateInvalid("no_such_date")
        return _check(_month_end(y, mo), today, direction)
    if m := _RE_YW_MD.match(s):
        return _explicit(today.year + _YEAR_WORD[m[1]], int(m[2]), int(m[3]),
                         today, direction)
    if m := _RE_YW_MEND.match(s):
        mo = int(m[2])
        if not 1 <= mo <= 12:
            return DateInvalid("no_such_date")
        return _check(_month_end(today.year + _YEAR_WORD[m[1]], mo), today, direction)
    if "年" in s and (m := _RE_YEAR_END.match(s)):
        y = today.year + _YEAR_WORD.get(m[1] or "今", 0)
        return _check(_mk(y, 12, 31), today, direction)
    if m := (_RE_MD_CN.match(s) or _RE_MD_SEP.match(s)):
        return _resolve_month_day(int(m[1]), int(m[2]), today, direction)
    if m := _RE_M_END.match(s):
        mo = int(m[1])
        if not 1 <= mo <= 12:
            return DateInvalid("no_such_date")
        return _resolve_yearless(lambda y: _month_end(y, mo), today, direction)
    if m := _RE_WEEKDAY.match(s):
        return _weekday(m[1], m[2], today, direction)
    if m := _RE_REL_MEND.match(s):
        y, mo = _shift_month(today.year, today.month, _MONTH_OFFSET[m[1]])
        return _check(_month_end(y, mo), today, direction)
    if m := _RE_REL_MDAY.match(s):
        y, mo = _shift_month(today.year, today.month, _MONTH_OFFSET[m[1]])
        day = int(m[2])
        if not 1 <= day <= 31:
            return DateInvalid("no_such_date")
        value = _mk(y, mo, day)
        if value is None:
            return DateInvalid("no_such_day", year=y, month=mo, day=day)
        return _check(value, today, direction)
    if m := _RE_DAY.match(s):
        return _resolve_day(int(m[1]), today, direction)
    if m := _RE_MONTH_ONLY.match(s):
        mo = int(m[1])
        if not 1 <= mo <= 12:
            return DateInvalid("no_such_date", month=mo)
        return _span_end(lambda y: _month_end(y, mo), today, direction, month=mo)
    if m := _RE_REL_MONTH.match(s):
        y, mo = _shift_month(today.year, today.month, _MONTH_OFFSET[m[1]])
        if direction == "past":
            return DateInvalid("month_only", year=y, month=mo)
        return _check(_month_end(y, mo), today, direction)
    if m := _RE_REL_MMID.match(s):
        y, mo = _shift_month(today.year, today.month, _MONTH_OFFSET[m[1]])
        return _check(_mk(y, mo, 15), today, direction)
    if m := _RE_M_MID.match(s):
        mo = int(m[1])
        if not 1 <= mo <= 12:
            return DateInvalid("no_such_date", month=mo)
        return _resolve_yearless(lambda y: _mk(y, mo, 15), today, direction)
    if m := _RE_HALF.match(s):
        mo, d = (6, 30) if m[2] == "上" else (12, 31)
        if m[1]:
            if direction == "past":
                return DateInvalid("vague")
            return _check(_mk(today.year + _YEAR_WORD[m[1]], mo, d), today, direction)
        return _span_end(lambda y: _mk(y, mo, d), today, direction)
    if m := _RE_DURATION.match(s):
        if len(m[1]) > 6:
            return DateInvalid("too_far")
        return _duration(int(m[1]), m[2], m[3], today, direction)
    return None


def parse_date(text: str, today: date, direction: str = "future") -> DateResult:
    """Parse a typed Chinese/ISO date relative to today (see the module docstring)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    if not isinstance(text, str):
        return DateInvalid("empty" if text is None else "unrecognised")
    try:
        s = _normalise(text)
        if not s:
            return DateInvalid("empty")
        if m := _RE_HOLIDAY.match(_normalise_words(text)):
            return _holiday(_HOLIDAYS[m[1]], today, direction)
        result = _match(s, today, direction)
        if result is None:
            stripped = _SUFFIX.sub("", s).strip(_EDGE_PUNCT)
            if stripped and stripped != s:
                result = _match(stripped, today, direction)
        return result if result is not None else DateInvalid("unrecognised")
    except OverflowError:
        return DateInvalid("too_far")


# -- a month ("12月", "2026年12月", "2026-12", "本月", "上月") -----------------------------------------
_MONTH = re.compile(r"^(?:(\d{4})\s*(?:年|[-/.])\s*)?(\d{1,2})\s*月?(?:份)?$")
_RELATIVE_MONTH = {"本月": 0, "这个月": 0, "当月": 0, "上月": -1, "上个月": -1}


def parse_month(text: str, today: date) -> Optional[tuple[int, int]]:
    """(year, month) for a month typed in chat, or None if the text is not one. Without a year it is the
    latest such month not after today's ("12月" typed in January is last December). A bare number needs
    "月" ("12" alone is not a month) unless a year comes with it ("2026-12")."""
    if not isinstance(text, str):
        return None
    s = unicodedata.normalize("NFKC", text).strip()
    if s in _RELATIVE_MONTH:
        return _shift_month(today.year, today.month, _RELATIVE_MONTH[s])
    m = _MONTH.match(s)
    if not m or (m.group(1) is None and "月" not in s):
        return None
    month = int(m.group(2))
    if not 1 <= month <= 12:
        return None
    if m.group(1) is not None:
        return int(m.group(1)), month
    return (today.year, month) if month <= today.month else (today.year - 1, month)
