"""Minutes jobs: a dispatch meeting whose minutes have no first draft 3 days later (纪要初稿: "调度会结束后3天内
形成初稿进入送签程序（办公室调度联络员跟踪督促）"), and a leader with no dispatch meeting recorded this month by
the 25th (每月至少 1 次调度, for each 附件2 row whose `cycle` owes one this month).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import select

from bot.domain.meetings import DRAFT_DAYS, draft_due, meeting_owed
from bot.domain.periods import month_bounds
from bot.domain.workdays import shift_to_workday_before
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import (
    MINUTES_DRAFTED,
    MINUTES_ISSUED,
    MINUTES_RETURNED,
    DispatchRow,
    Meeting,
    Minutes,
    Person,
    Unit,
    dispatch_row_liaison,
)

DRAFTED = (MINUTES_DRAFTED, MINUTES_RETURNED, MINUTES_ISSUED)  # a first draft exists


def run_draft(runtime, as_of: datetime, days: int = DRAFT_DAYS) -> JobResult:
    """minutes_draft: a meeting with no first draft of its minutes by its due day (`days` after it) → the
    lead unit's liaison (who drafts), and the office liaisons of its 附件2 row (who chase), once per meeting;
    the office liaisons are told when the lead unit has no liaison to remind."""
    result = JobResult("minutes_draft", as_of)
    today = as_of.astimezone(runtime.tz).date()
    with runtime.db.session() as s:
        drafted = select(Minutes.meeting_id).where(Minutes.meeting_id.is_not(None), Minutes.state.in_(DRAFTED))
        meetings = list(s.scalars(select(Meeting).where(Meeting.meeting_date <= date.fromordinal(
            today.toordinal() - days), Meeting.id.not_in(drafted)).order_by(Meeting.id)))
        chasers: dict[int, list[int]] = defaultdict(list)
        row_ids = {m.dispatch_row_id for m in meetings if m.dispatch_row_id}
        for row_id, pid in s.execute(select(dispatch_row_liaison.c.dispatch_row_id, dispatch_row_liaison.c.person_id)
                                     .where(dispatch_row_liaison.c.dispatch_row_id.in_(row_ids))
                                     .order_by(dispatch_row_liaison.c.person_id)):
            chasers[row_id].append(pid)
        liaisons = {u.id: u.liaison_id for u in s.scalars(select(Unit).where(
            Unit.id.in_({m.lead_unit_id for m in meetings if m.lead_unit_id})))}
        real = set(s.scalars(select(Person.id).where(Person.placeholder.is_(False))))
        who = people(s, [p for lst in chasers.values() for p in lst] + list(liaisons.values()))
        out = Notices(runtime, "minutes_draft")
        for m in meetings:
            unit = m.lead_unit
            due = draft_due(m.meeting_date, days)
            liaison_id = liaisons.get(m.lead_unit_id)
            reached = liaison_id in who and liaison_id in real
            if reached:
                out.to_person(who[liaison_id], render(
                    "jobs/minutes_draft_dm.txt", unit=unit.name, title=m.subject, meeting_date=m.meeting_date,
                    leader=render("jobs/_leader.txt", leader=m.leader), due=due), key=f"minutes_draft:{m.id}")
            text = render("jobs/minutes_chase_dm.txt", meeting=m, due=due, reached=reached)
            for pid in chasers.get(m.dispatch_row_id, []):
                if pid in who:
                    out.to_person(who[pid], text, key=f"minutes_chase:{m.id}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"undrafted": len(meetings)}
    return result


def meeting_reminder_day(year: int, month: int, day: int = 25) -> date:
    return shift_to_workday_before(date(year, month, day))


def run_leader_meeting(runtime, as_of: datetime, day: int = 25) -> JobResult:
    """leader_meeting: from the `day`th (moved to the previous working day) until the month ends, a
    leader of 附件2 with no meeting (会议、调研、一线调度, minutes typed in or not) this month, on an active
    row (a retired one owes nothing) whose cycle owes one this month → their office liaisons, once a month."""
    result = JobResult("leader_meeting", as_of)
    local = as_of.astimezone(runtime.tz)
    if local.date() < meeting_reminder_day(local.year, local.month, day):
        result.skipped = "before the monthly meeting check"
        return result
    start, end = month_bounds(local.year, local.month)
    month_key = f"{local.year:04d}-{local.month:02d}"
    with runtime.db.session() as s:
        met = select(Meeting.leader_id).where(Meeting.meeting_date >= start.date(), Meeting.meeting_date < end.date())
        rows = [r for r in s.execute(
            select(DispatchRow.id, DispatchRow.seq, DispatchRow.leader_id, DispatchRow.cycle,
                   dispatch_row_liaison.c.person_id)
            .join(dispatch_row_liaison, dispatch_row_liaison.c.dispatch_row_id == DispatchRow.id)
            .where(DispatchRow.active.is_(True), DispatchRow.leader_id.not_in(met))
            .order_by(DispatchRow.seq)).all() if meeting_owed(r.cycle, local.year, local.month)]
        seqs: dict[int, list[int]] = defaultdict(list)
        targets: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            if r.seq not in seqs[r.leader_id]:
                seqs[r.leader_id].append(r.seq)
            if r.person_id not in targets[r.leader_id]:
                targets[r.leader_id].append(r.person_id)
        who = people(s, list(seqs) + [p for lst in targets.values() for p in lst])
        leaders = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(list(seqs))))}
        out = Notices(runtime, "leader_meeting")
        for leader_id, pids in targets.items():
            leader = render("jobs/_leader.txt", leader=leaders.get(leader_id))
            text = render("jobs/leader_meeting_dm.txt", leader=leader, month=local.month, seqs=seqs[leader_id])
            for pid in pids:
                if pid in who:
                    out.to_person(who[pid], text, key=f"leader_meeting:{leader_id}:{month_key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"month": month_key, "leaders_without_meeting": len(targets)}
    return result
