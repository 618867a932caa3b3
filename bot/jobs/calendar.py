"""Calendar check (节假日安排): in December, while next year's holidays and make-up working days are not
confirmed (config/calendar.yaml, see bot.domain.workdays), the office is told in chat — the
administrators directly and the office's group — once when December's first run finds it missing and
once more from `again_from_day`. Reminders, deadlines and digests of a year that is not confirmed
follow the festivals the `holidays` package computes, with no make-up working days.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.domain import workdays
from bot.domain.roles import people_with_role
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import ROLE_ADMIN, ChatGroup

KIND = "calendar_check"
OFFICE_GROUP = "office"


def run(runtime, as_of: datetime, again_from_day: int = 20) -> JobResult:
    result = JobResult(KIND, as_of)
    local = as_of.astimezone(runtime.tz)
    if local.month != 12:
        result.skipped = "only in December"
        return result
    year = local.year + 1
    status = workdays.year_status(year)
    result.details = {"year": year, "status": status}
    if status == workdays.CONFIRMED:
        result.skipped = f"{year} is confirmed"
        return result
    round_no = 2 if local.day >= again_from_day else 1
    text = render("jobs/calendar_missing.txt", year=year, provisional=status == workdays.PROVISIONAL,
                  path="config/calendar.yaml")
    with runtime.db.session() as s:
        admin_ids = [p.id for p in people_with_role(s, ROLE_ADMIN)]  # the active ones
        out = Notices(runtime, KIND)
        for who in people(s, admin_ids).values():
            out.to_person(who, text, key=f"{KIND}:{year}:{round_no}:{who.id}")
        if s.scalar(select(ChatGroup.id).where(ChatGroup.code == OFFICE_GROUP)) is not None:
            out.to_group(OFFICE_GROUP, text, key=f"{KIND}:{year}:{round_no}:group", markdown=False)
        result.notices = len(out.flush(s))
    return result
