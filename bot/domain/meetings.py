"""Dispatch meetings and their minutes: the rules of seed 000 §三(一), in one place for chat and jobs.

- "调度会结束后3天内形成初稿进入送签程序（办公室调度联络员跟踪督促）": the first draft is due `DRAFT_DAYS`
  calendar days after the meeting (calendar, not working days: the seed says 3天; configurable here);
- "区政府领导每月至少召开1次" (附件2 `cycle`): a row's cycle says in which months a meeting is owed;
- "除涉及保密工作事项外，所有印发纪要/事项交办单均要抄送督导考核组": only an issued, non-confidential record
  is copied.
"""
from __future__ import annotations

from datetime import date, timedelta

from models import MINUTES_ISSUED, SLIP_ISSUED

DRAFT_DAYS = 3
# months between meetings a 附件2 cycle asks for (the shipped chart has only 每月)
CYCLE_MONTHS = {"weekly": 1, "semimonthly": 1, "monthly": 1, "quarterly": 3}


def draft_due(meeting_date: date, days: int = DRAFT_DAYS) -> date:
    """The last day for the minutes' first draft of a meeting held on `meeting_date`."""
    return meeting_date + timedelta(days=days)


def meeting_owed(cycle: str, year: int, month: int) -> bool:
    """Does a 附件2 row of this cycle owe a meeting in this month? Monthly rows every month; a row every
    n months in the months n, 2n, … (March, June… for quarterly); an unknown cycle as monthly."""
    every = CYCLE_MONTHS.get(cycle, 1)
    return month % every == 0


def copied_to_supervision(state: str, confidential: bool) -> bool:
    """Is minutes or a slip in `state` copied to 督导考核组? Only when issued, never when confidential."""
    return state in (MINUTES_ISSUED, SLIP_ISSUED) and not confidential
