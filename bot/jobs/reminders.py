"""Report reminders (填报提醒): before each 5th/20th deadline, the units that have not reported yet.

Reminder days are the deadline minus `days_before` (default 2 and 0), each moved to the previous
working day when it falls on a weekend or holiday (the deadline itself is the period's: on a non-working
day it moves to the next working day unless DEADLINE_ON_NON_WORKING_DAY=keep, bot.domain.periods). Two reminder
days that land on the same working day are one reminder. On a reminder day each missing unit's
liaison gets a direct message and the liaisons' group one notice that @s exactly those liaisons.

A run late in the window sends only the latest reminder that is due (a catch-up, not a burst).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from bot.domain.address import address, is_named
from bot.domain.periods import Period, period_at, reminder_dates
from bot.domain.reporting import MISSING, source_labels, sql_status
from bot.domain.workdays import shift_to_workday_before
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import Unit

KIND = "report_reminder"


def reminder_days(period: Period, days_before=(2, 0)) -> list[date]:
    """The working days on which reminders for `period` go out, ascending and distinct."""
    first_possible = period.opens.date() + timedelta(days=1)
    return sorted({max(shift_to_workday_before(d), first_possible)
                   for d in reminder_dates(period, tuple(days_before))})


def missing_units(session, period: Period):
    """Active units that owe a problem list for `period` (one per minutes or slip they lead) and have not
    sent it (at any time: a catch-up run as of an earlier moment does not remind a unit that has reported
    since): (id, name, liaison_id, lists) rows, `lists` naming each list still missing."""
    status = sql_status(period).subquery()
    rows = session.execute(
        select(Unit.id, Unit.name, Unit.liaison_id, status.c.source).join(status, status.c.unit_id == Unit.id)
        .where(status.c.status == MISSING, Unit.active.is_(True))
        .order_by(Unit.id, status.c.source)).all()
    labels = source_labels(session, {r.source for r in rows})
    public = source_labels(session, {r.source for r in rows}, public=True)  # the group post: no 保密 title
    out: dict[int, dict] = {}
    for r in rows:
        u = out.setdefault(r.id, dict(id=r.id, name=r.name, liaison_id=r.liaison_id, lists=[], public=[]))
        u["lists"].append(labels[r.source])
        u["public"].append(public[r.source])
    return [SimpleNamespace(**u) for u in out.values()]


def run(runtime, as_of: datetime, days_before=(2, 0)) -> JobResult:
    result = JobResult(KIND, as_of)
    period = period_at(as_of)
    today = as_of.astimezone(runtime.tz).date()
    due = [d for d in reminder_days(period, days_before) if d <= today]
    if not due:
        result.skipped = "no reminder due"
        return result
    stage = due[-1]
    with runtime.db.session() as s:
        units = missing_units(s, period)
        who = people(s, [u.liaison_id for u in units])
        out = Notices(runtime, KIND)
        days_left = (period.deadline_date - today).days
        listed = []
        for u in units:
            liaison = who.get(u.liaison_id)
            listed.append({"name": u.name, "liaison": address(liaison) if is_named(liaison) else None,
                           "lists": u.public})
            if is_named(liaison):
                text = render("jobs/report_reminder_dm.txt", unit=u.name, deadline=period.deadline, period=period,
                              days_left=days_left, lists=u.lists)
                out.to_person(liaison, text, key=f"{KIND}:u{u.id}:{period.key}:{stage.isoformat()}")
        if units:
            mention = [who[u.liaison_id] for u in units if is_named(who.get(u.liaison_id))]
            text = render("jobs/report_reminder_group.txt", units=listed, deadline=period.deadline,
                          period=period)
            out.to_group("liaisons", text, key=f"{KIND}:group:liaisons:{period.key}:{stage.isoformat()}",
                         mention=mention)
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "reminder_day": stage.isoformat(), "missing": len(units)}
    return result
