"""Minutes jobs: a meeting whose minutes are not drafted 3 days later (纪要初稿), and a leader with no
dispatch meeting recorded this month by the 25th (每月至少 1 次调度).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select

from bot.jobs.base import JobResult, Notices, people
from bot.domain.periods import month_bounds
from bot.infra.text import render
from bot.domain.workdays import shift_to_workday_before
from models import MINUTES_RECORDED, DispatchRow, Minutes, Unit, dispatch_row_liaison


def run_draft(runtime, as_of: datetime, days: int = 3) -> JobResult:
    """minutes_draft: minutes still only recorded `days` days after the meeting → the drafting
    unit's liaison, once per minutes."""
    result = JobResult("minutes_draft", as_of)
    today = as_of.astimezone(runtime.tz).date()
    with runtime.db.session() as s:
        rows = s.execute(
            select(Minutes.id, Minutes.title, Minutes.meeting_date, Minutes.leader_id, Unit.name, Unit.liaison_id)
            .join(Unit, Unit.id == Minutes.drafting_unit_id)
            .where(Minutes.state == MINUTES_RECORDED, Minutes.meeting_date <= today - timedelta(days=days))
            .order_by(Minutes.id)).all()
        who = people(s, [r.liaison_id for r in rows] + [r.leader_id for r in rows])
        out = Notices(runtime, "minutes_draft")
        for r in rows:
            if r.liaison_id in who:
                text = render("jobs/minutes_draft_dm.txt", unit=r.name, title=r.title, meeting_date=r.meeting_date,
                              leader=who[r.leader_id].name if r.leader_id in who else "",
                              due=r.meeting_date + timedelta(days=days))
                out.to_person(who[r.liaison_id], text, key=f"minutes_draft:{r.id}")
        result.notices = len(out.flush(s))
    result.details = {"undrafted": len(rows)}
    return result


def meeting_reminder_day(year: int, month: int, day: int = 25) -> date:
    return shift_to_workday_before(date(year, month, day))


def run_leader_meeting(runtime, as_of: datetime, day: int = 25) -> JobResult:
    """leader_meeting: from the `day`th (moved to the previous working day) until the month ends, a
    leader of 附件2 with no meeting recorded this month → their office liaisons, once a month."""
    result = JobResult("leader_meeting", as_of)
    local = as_of.astimezone(runtime.tz)
    if local.date() < meeting_reminder_day(local.year, local.month, day):
        result.skipped = "before the monthly meeting check"
        return result
    start, end = month_bounds(local.year, local.month)
    month_key = f"{local.year:04d}-{local.month:02d}"
    with runtime.db.session() as s:
        met = select(Minutes.leader_id).where(Minutes.meeting_date >= start.date(), Minutes.meeting_date < end.date())
        rows = s.execute(select(DispatchRow.id, DispatchRow.seq, DispatchRow.leader_id, dispatch_row_liaison.c.person_id)
                         .join(dispatch_row_liaison, dispatch_row_liaison.c.dispatch_row_id == DispatchRow.id)
                         .where(DispatchRow.leader_id.not_in(met))
                         .order_by(DispatchRow.seq)).all()
        seqs: dict[int, list[int]] = defaultdict(list)
        targets: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            if r.seq not in seqs[r.leader_id]:
                seqs[r.leader_id].append(r.seq)
            if r.person_id not in targets[r.leader_id]:
                targets[r.leader_id].append(r.person_id)
        who = people(s, list(seqs) + [p for lst in targets.values() for p in lst])
        out = Notices(runtime, "leader_meeting")
        for leader_id, pids in targets.items():
            leader = who[leader_id].name if leader_id in who else ""
            text = render("jobs/leader_meeting_dm.txt", leader=leader, month=local.month, seqs=seqs[leader_id])
            for pid in pids:
                if pid in who:
                    out.to_person(who[pid], text, key=f"leader_meeting:{leader_id}:{month_key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"month": month_key, "leaders_without_meeting": len(targets)}
    return result
