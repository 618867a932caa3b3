"""Overdue report notice (超期未报): when a report deadline passes (18:00 on the 5th/20th, or the working
day it moved to: bot.domain.periods.deadline_day), the units that missed it go to the liaisons' group
(with @s) and the supervision group. Never on a non-working day: a deadline kept on one
(DEADLINE_ON_NON_WORKING_DAY=keep) is listed on the next working day at the deadline's hour (`post_at`).

Each miss is also recorded once, as a `MissedDeadline` row (bot.domain.reporting.record_missed), in the
same transaction as the notices; the notices show each unit's tally for the year
(`reporting.missed_counts`).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain import reporting
from bot.domain.address import address
from bot.domain.address import is_named as named
from bot.domain.periods import Period, period_at, previous_period
from bot.domain.workdays import is_workday, next_workday
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import Unit

KIND = "report_overdue"


def last_deadline(as_of: datetime) -> Period:
    """The latest period whose deadline is at or before `as_of`."""
    p = period_at(as_of)
    return p if as_of >= p.deadline else previous_period(p)


def post_at(period: Period) -> datetime:
    """When the overdue list of `period` goes out: its deadline, or the next working day at the deadline's
    hour when the deadline is on a non-working day (only with DEADLINE_ON_NON_WORKING_DAY=keep)."""
    d = period.deadline
    return d if is_workday(d.date()) else datetime.combine(next_workday(d.date()), d.timetz())


def run(runtime, as_of: datetime, window_hours: int = 48) -> JobResult:
    result = JobResult(KIND, as_of)
    if not is_workday(as_of.astimezone(runtime.tz).date()):
        result.skipped = "not a working day"
        return result
    period = last_deadline(as_of)
    if as_of < post_at(period):  # a deadline kept on a day off: listed on the next working day
        period = previous_period(period)
    if as_of < post_at(period) or as_of - post_at(period) > timedelta(hours=window_hours):
        result.skipped = f"no deadline of a report just passed (last: {period.key})"
        return result
    with runtime.db.session() as s:
        status = reporting.report_status(s, [period], as_of=period.deadline)
        if not status:  # no unit had items to report on: nothing to say ("0 个应报单位均已按时报送" is noise)
            result.skipped = f"no unit owed a report for {period.key}"
            result.details = {"period": period.key, "owing": 0, "missed": 0}
            return result
        # one line per problem list not sent by the deadline (lead unit, minutes or slip)
        missed = sorted((uid, src) for (uid, src, _k), st in status.items() if st != reporting.ON_TIME)
        missed_ids = sorted({uid for uid, _src in missed})
        units = s.execute(select(Unit.id, Unit.name, Unit.liaison_id)
                          .where(Unit.id.in_(missed_ids), Unit.active.is_(True)).order_by(Unit.id)).all() \
            if missed_ids else []
        who = people(s, [u.liaison_id for u in units])
        counts = reporting.missed_counts(s, period.year, [u.id for u in units])
        labels = reporting.source_labels(s, {src for _u, src in missed}, public=True)  # group posts
        lists = {u.id: [labels[src] for uid, src in missed if uid == u.id] for u in units}
        listed = [{"id": u.id, "name": u.name,
                   "liaison": address(who[u.liaison_id]) if named(who.get(u.liaison_id)) else None,
                   "lists": lists[u.id], "count": counts.get(u.id, 0) + len(lists[u.id])} for u in units]
        ctx = dict(units=listed, deadline=period.deadline, period=period, owing=len({uid for uid, _s, _k in status}),
                   lists=len(status), missed=sum(len(v) for v in lists.values()), year=period.year)
        out = Notices(runtime, KIND)
        mention = list({u.liaison_id: who[u.liaison_id] for u in units if named(who.get(u.liaison_id))}.values())
        group_key = f"{KIND}:group:liaisons:{period.key}"
        out.to_group("liaisons", render("jobs/report_overdue_group.txt", **ctx), key=group_key, mention=mention)
        out.to_group("supervision", render("jobs/report_overdue_group.txt", **ctx),
                     key=f"{KIND}:group:supervision:{period.key}")
        inserted = out.flush(s)
        if group_key in {q.key for q in inserted}:  # first run for this deadline: record the misses once
            reporting.record_missed(s, period, [(uid, src) for uid, src in missed if uid in lists])
        result.notices = len(inserted)
    result.details = {"period": period.key, "owing": ctx["owing"], "missed": len(units)}
    return result
