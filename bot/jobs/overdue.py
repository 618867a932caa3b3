"""Overdue report notice (超期未报): at 18:00 on the 5th/20th, the units that missed the deadline go to
the liaisons' group (with @s) and the supervision group.

Each miss is also recorded once, as an audit row (action `report_missed`, entity unit, reason = the
period key), written in the same transaction as the notices; `late_counts` adds them up per unit
for the circular (通报) and the notices show each unit's tally for the year.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.jobs.base import JobResult, Notices, bulk_audit, people
from bot.domain.ledger import MISSING, ON_TIME, report_status
from bot.domain.periods import Period, period_at, previous_period
from bot.infra.text import render
from models import AuditLog, Unit

KIND = "report_overdue"
MISSED_ACTION = "report_missed"


def last_deadline(as_of: datetime) -> Period:
    """The latest period whose deadline is at or before `as_of`."""
    p = period_at(as_of)
    return p if as_of >= p.deadline else previous_period(p)


def late_counts(session, year: int) -> dict[int, int]:
    """unit id -> number of report deadlines of `year` the unit missed (recorded at each deadline)."""
    rows = session.execute(select(AuditLog.entity_id, func.count(AuditLog.id))
                           .where(AuditLog.action == MISSED_ACTION, AuditLog.entity == "unit",
                                  AuditLog.reason.like(f"{year}-%"))
                           .group_by(AuditLog.entity_id))
    return {int(uid): n for uid, n in rows}


def run(runtime, as_of: datetime, window_hours: int = 48) -> JobResult:
    result = JobResult(KIND, as_of)
    period = last_deadline(as_of)
    if as_of - period.deadline > timedelta(hours=window_hours):
        result.skipped = f"deadline {period.key} passed more than {window_hours} h ago"
        return result
    with runtime.db.session() as s:
        status = report_status(s, [period], as_of=period.deadline)
        if not status:  # no unit had items to report on: nothing to say ("0 个应报单位均已按时报送" is noise)
            result.skipped = f"no unit owed a report for {period.key}"
            result.details = {"period": period.key, "owing": 0, "missed": 0}
            return result
        missed_ids = sorted(uid for (uid, _k), st in status.items() if st != ON_TIME)
        units = s.execute(select(Unit.id, Unit.name, Unit.liaison_id)
                          .where(Unit.id.in_(missed_ids), Unit.active.is_(True)).order_by(Unit.id)).all() \
            if missed_ids else []
        who = people(s, [u.liaison_id for u in units])
        counts = late_counts(s, period.year)
        listed = [{"id": u.id, "name": u.name, "liaison": who[u.liaison_id].name if u.liaison_id in who else None,
                   "count": counts.get(u.id, 0) + 1} for u in units]
        ctx = dict(units=listed, deadline=period.deadline, owing=len({uid for uid, _k in status}),
                   year=period.year)
        out = Notices(runtime, KIND)
        mention = list({u.liaison_id: who[u.liaison_id] for u in units if u.liaison_id in who}.values())
        group_key = f"{KIND}:group:liaisons:{period.key}"
        out.to_group("liaisons", render("jobs/report_overdue_group.txt", **ctx), key=group_key, mention=mention)
        out.to_group("supervision", render("jobs/report_overdue_group.txt", **ctx),
                     key=f"{KIND}:group:supervision:{period.key}")
        inserted = out.flush(s)
        if group_key in {q.key for q in inserted}:  # first run for this deadline: record the misses once
            bulk_audit(s, f"system:{KIND}", MISSED_ACTION, "unit", [
                (u.id, None, {"period": period.key, "status": status.get((u.id, period.key), MISSING)}, period.key)
                for u in units])
        result.notices = len(inserted)
    result.details = {"period": period.key, "owing": ctx["owing"], "missed": len(units)}
    return result
