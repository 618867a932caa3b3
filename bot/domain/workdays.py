"""Chinese working days: statutory holidays off, make-up weekend days (调休上班) on.

Where a year's days come from, first source that knows the year wins:

1. the office's override file (config/calendar.yaml, `CALENDAR_FILE`) for a year marked `confirmed`:
   its `holidays` and `workdays` lists, entered from the State Council's annual notice
   (国务院办公厅关于部分节假日安排的通知), are the whole truth for that year;
2. chinese-calendar, which carries those notices (1.11.0: up to 2026);
3. the `holidays` package's China calendar, which computes the festivals of later years but does not
   know the make-up working days until the notice is out ("provisional");
4. Monday to Friday.

For a year that is not confirmed, the override file's dates are still applied on top of sources 2–4
(e.g. the make-up days alone). `year_status` tells which case a year is in: the calendar_check job
warns the office in December when next year is not confirmed, and a log line says it once per year.
Never raises for a valid date.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Optional

import chinese_calendar
import yaml

logger = logging.getLogger(__name__)

CONFIRMED = "confirmed"  # the notice is known (override file or chinese-calendar)
PROVISIONAL = "provisional"  # festivals known, make-up working days not
WEEKDAYS = "weekdays"  # nothing known: Monday to Friday

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "calendar.yaml"

_lock = threading.Lock()
_warned_years: set[int] = set()
_override_path: Path = DEFAULT_FILE
_override: Optional[dict[int, YearOverride]] = None
_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


class CalendarFileError(ValueError):
    """The override file is not valid (the message says where)."""


@dataclass(frozen=True)
class YearOverride:
    """One year of the office's override file."""

    year: int
    confirmed: bool = False
    notice: str = ""
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)


def _as_date(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def load_override(path: Path) -> dict[int, YearOverride]:
    """Read and check the override file; a missing file is an empty override."""
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CalendarFileError(f"{path}: not valid YAML ({exc})") from exc
    years = doc.get("years") or {}
    if not isinstance(years, dict):
        raise CalendarFileError(f"{path}: `years` must be a mapping of year -> dates")
    out: dict[int, YearOverride] = {}
    for key, spec in years.items():
        where = f"{path}: years.{key}"
        if not isinstance(key, int) or not 2000 <= key <= 2100:
            raise CalendarFileError(f"{where}: a year like 2027 is expected")
        spec = spec or {}
        lists = {}
        for name in ("holidays", "workdays"):
            values = spec.get(name) or []
            for i, v in enumerate(values):
                if not isinstance(v, date) or isinstance(v, datetime):
                    raise CalendarFileError(f"{where}.{name}[{i}]: {v!r} is not a date (write 2027-02-06)")
                if v.year != key:
                    raise CalendarFileError(f"{where}.{name}[{i}]: {v} is not in {key}")
            lists[name] = frozenset(values)
        both = lists["holidays"] & lists["workdays"]
        if both:
            raise CalendarFileError(f"{where}: {min(both)} is listed both as a holiday and as a working day")
        out[key] = YearOverride(key, bool(spec.get("confirmed", False)), str(spec.get("notice") or ""),
                                lists["holidays"], lists["workdays"])
    return out


def configure(path: Optional[str | Path]) -> None:
    """Use this override file from now on (the app factory calls it with `CALENDAR_FILE`)."""
    global _override_path, _override
    new = Path(path) if path else DEFAULT_FILE
    loaded = load_override(new)  # check before switching: a bad file names itself at start-up
    with _lock:
        _override_path, _override = new, loaded
        _warned_years.clear()


def _overrides() -> dict[int, YearOverride]:
    global _override
    if _override is None:
        loaded = load_override(_override_path)
        with _lock:
            if _override is None:
                _override = loaded
    return _override


@lru_cache(maxsize=64)
def _package_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off, make-up working days) of the `holidays` package for a year (imported only when a year
    beyond chinese-calendar is asked for: 0.1 s)."""
    import holidays as holidays_lib

    cn = holidays_lib.China(years=year)
    off, on = set(), set()
    for d, name in cn.items():
        off.add(d)
        for m in _SUBSTITUTED.finditer(name):
            on.add(date(int(m.group(3)), int(m.group(1)), int(m.group(2))))
    return frozenset(off), frozenset(on)


def _chinese_calendar_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def year_status(year: int) -> str:
    """CONFIRMED, PROVISIONAL or WEEKDAYS: how well `year`'s working days are known."""
    ov = _overrides().get(year)
    if (ov is not None and ov.confirmed) or _chinese_calendar_knows(year):
        return CONFIRMED
    return PROVISIONAL if _package_year(year)[0] else WEEKDAYS


def _warn_once(year: int, status: str) -> None:
    with _lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    if status == PROVISIONAL:
        logger.warning("working days of %d are provisional: holidays from the `holidays` package, make-up "
                       "working days unknown until entered in %s", year, _override_path)
    else:
        logger.warning("no holiday data for %d; falling back to Monday-Friday working days", year)


def _reset_fallback_warnings() -> None:
    """Forget which years were warned about (for tests)."""
    with _lock:
        _warned_years.clear()


def is_workday(d: date) -> bool:
    """True on a working day (holidays off, make-up weekend days on)."""
    d = _as_date(d)
    ov = _overrides().get(d.year)
    if ov is not None:
        if d in ov.workdays:
            return True
        if d in ov.holidays:
            return False
        if ov.confirmed:
            return d.weekday() < 5
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        pass
    off, on = _package_year(d.year)
    _warn_once(d.year, PROVISIONAL if off else WEEKDAYS)
    if d in on:
        return True
    return d not in off and d.weekday() < 5


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


# -- holidays by name (元旦前, 春节前 …) -------------------------------------------------------------------
# The Chinese word → the holiday's name in chinese-calendar (`chinese_calendar.Holiday`) and the words of
# its name in the `holidays` package (English). Names only: the dates come from the calendars.
HOLIDAY_NAMES = {
    "元旦": ("New Year's Day", ("new year's day",)),
    "春节": ("Spring Festival", ("spring festival",)),
    "清明": ("Tomb-sweeping Day", ("tomb-sweeping",)),
    "劳动节": ("Labour Day", ("labour day", "labor day")),
    "端午": ("Dragon Boat Festival", ("dragon boat",)),
    "中秋": ("Mid-autumn Festival", ("mid-autumn",)),
    "国庆": ("National Day", ("national day",)),
}


@lru_cache(maxsize=128)
def holiday_days(name: str, year: int) -> tuple[date, ...]:
    """The days named after holiday `name` (a key of HOLIDAY_NAMES) in `year`, from chinese-calendar for
    the years it knows, else from the `holidays` package; () when neither knows it. The office's override
    file has no names: its lists decide the working days around these (see holiday_start)."""
    cc_name, words = HOLIDAY_NAMES[name]
    if _chinese_calendar_knows(year):
        from chinese_calendar.constants import holidays as known  # {date: name} of the days off

        return tuple(sorted(d for d, label in known.items() if d.year == year and label == cc_name))
    import holidays as holidays_lib

    cn = holidays_lib.China(years=year)
    return tuple(sorted(d for d, label in cn.items() if any(w in label.lower() for w in words)))


def holiday_start(name: str, year: int) -> Optional[date]:
    """The first day off of the break around holiday `name` in `year`: its first named day, moved back over
    the days off just before it (a weekend, 除夕) — by is_workday, so the override file counts."""
    days = holiday_days(name, year)
    if not days:
        return None
    d = days[0]
    while not is_workday(d - timedelta(days=1)):
        d -= timedelta(days=1)
    return d


def last_workday_before_holiday(name: str, year: int) -> Optional[date]:
    """元旦前 / 春节前 …: the last working day before the break of holiday `name` in `year` (None: unknown)."""
    start = holiday_start(name, year)
    return None if start is None else previous_workday(start, include_self=False)
