"""Matter deadlines (事项时限): due soon, overdue, and long overdue (久拖不办).

- due in `due_days` days (the reminder day moved to the previous working day) → the responsible
  unit's liaison, once per item and deadline;
- overdue → the liaison (one message per item and deadline) and the office liaisons who follow the
  item (one digest per run of the items that just became overdue);
- overdue by more than `overdue_interview_days` → one alert to the supervision group, key
  `escalation:3:<matter id>` (the escalation module uses the same key, so it is one notice).

Items already notified are excluded in SQL by the notice key (an anti-join on the unique index),
so a daily run only touches what is new.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import String, cast, exists, literal, select

from bot.jobs.base import JobResult, Notices, office_liaisons_by_leader, people
from bot.ledger import sql_active, sql_overdue
from bot.text import render
from bot.workdays import shift_to_workday_before
from models import ESC_INTERVIEW, Matter, Minutes, Notice, Unit, dispatch_row_liaison

SHIFT_SLACK_DAYS = 12  # the longest run of days off (Spring Festival) a reminder day can move over


def _key_expr(prefix: str, with_deadline: bool = True):
    expr = literal(prefix) + cast(Matter.id, String)
    if with_deadline:
        expr = expr + literal(":") + cast(Matter.deadline, String)
    return expr


def _not_notified(prefix: str, with_deadline: bool = True):
    return ~exists(select(Notice.id).where(Notice.key == _key_expr(prefix, with_deadline)))


def _columns():
    return (Matter.id, Matter.code, Matter.title, Matter.deadline, Matter.leader_id, Matter.responsible_unit_id,
            Unit.name.label("unit"), Unit.liaison_id, Minutes.dispatch_row_id)


def _select():
    return (select(*_columns()).join(Unit, Unit.id == Matter.responsible_unit_id)
            .outerjoin(Minutes, Minutes.id == Matter.minutes_id))


def due_reminder_day(deadline, due_days: int):
    return shift_to_workday_before(deadline - timedelta(days=due_days))


def run(runtime, as_of: datetime, due_days: int = 3, overdue_interview_days=None) -> JobResult:
    result = JobResult("matter_deadlines", as_of)
    limit = overdue_interview_days if overdue_interview_days is not None else runtime.settings.OVERDUE_INTERVIEW_DAYS
    today = as_of.astimezone(runtime.tz).date()
    with runtime.db.session() as s:
        soon = s.execute(_select().where(
            sql_active(), Matter.deadline >= today, Matter.deadline <= today + timedelta(days=due_days + SHIFT_SLACK_DAYS),
            _not_notified("matter_due:")).order_by(Matter.deadline, Matter.id)).all()
        soon = [m for m in soon if due_reminder_day(m.deadline, due_days) <= today]
        late = s.execute(_select().where(sql_active(), sql_overdue(today), _not_notified("matter_overdue:"))
                         .order_by(Matter.deadline, Matter.id)).all()
        long_late = s.execute(_select().add_columns(Matter.escalation_level).where(
            sql_active(), sql_overdue(today, min_days=limit + 1), Matter.escalation_level < ESC_INTERVIEW,
            _not_notified("escalation:3:", with_deadline=False)).order_by(Matter.deadline, Matter.id)).all()
        by_leader = office_liaisons_by_leader(s)
        by_row: dict[int, list[int]] = defaultdict(list)
        row_ids = {m.dispatch_row_id for m in late if m.dispatch_row_id}
        if row_ids:
            for rid, pid in s.execute(select(dispatch_row_liaison.c.dispatch_row_id, dispatch_row_liaison.c.person_id)
                                      .where(dispatch_row_liaison.c.dispatch_row_id.in_(sorted(row_ids)))):
                by_row[rid].append(pid)
        office_of = {m.id: list(dict.fromkeys(by_leader.get(m.leader_id, []) + by_row.get(m.dispatch_row_id, [])))
                     for m in late}
        who = people(s, [m.liaison_id for m in soon + late] + [p for lst in office_of.values() for p in lst]
                     + [m.leader_id for m in long_late])
        out = Notices(runtime, "matter_deadlines")
        for m in soon:
            if m.liaison_id in who:
                text = render("jobs/matter_due_dm.txt", unit=m.unit, code=m.code, title=m.title, deadline=m.deadline,
                              days_left=(m.deadline - today).days)
                out.to_person(who[m.liaison_id], text, key=f"matter_due:{m.id}:{m.deadline.isoformat()}",
                              kind="matter_due")
        for m in late:
            if m.liaison_id in who:
                text = render("jobs/matter_overdue_dm.txt", unit=m.unit, code=m.code, title=m.title,
                              deadline=m.deadline, days=(today - m.deadline).days)
                out.to_person(who[m.liaison_id], text, key=f"matter_overdue:{m.id}:{m.deadline.isoformat()}",
                              kind="matter_overdue")
        for m in long_late:
            text = render("jobs/matter_interview_group.txt", code=m.code, title=m.title, unit=m.unit,
                          leader=who[m.leader_id].name if m.leader_id in who else "", deadline=m.deadline,
                          days=(today - m.deadline).days, limit=limit)
            out.to_group("supervision", text, key=f"escalation:3:{m.id}", kind="matter_interview")
        inserted = out.flush(s)
        # office liaisons: one digest of the items whose overdue notice was created just now
        fresh = [m for m in late if f"matter_overdue:{m.id}:{m.deadline.isoformat()}" in inserted]
        digests: dict[int, list] = defaultdict(list)
        for m in fresh:
            for pid in office_of.get(m.id, []):
                digests[pid].append(m)
        for pid, items in digests.items():
            if pid not in who:
                continue
            ids = ",".join(str(m.id) for m in items)
            digest = hashlib.sha1(ids.encode()).hexdigest()[:12]
            text = render("jobs/matter_overdue_office.txt", items=[
                dict(code=m.code, title=m.title, unit=m.unit, deadline=m.deadline, days=(today - m.deadline).days)
                for m in items])
            out.to_person(who[pid], text, key=f"matter_overdue_office:p{pid}:{today.isoformat()}:{digest}",
                          kind="matter_overdue")
        inserted |= out.flush(s)
        result.notices = len(inserted)
    result.details = {"due_soon": len(soon), "overdue_new": len(fresh), "interview": len(long_late)}
    return result
