"""Matter deadlines (事项时限): digests of the items due soon and overdue, on working days.

- each unit liaison gets ONE message a working day (key ``matter_due:u<unit>:<day>``) when their unit
  has items due soon or overdue: due soon = from the reminder day (deadline − `due_days`, moved to the
  previous working day) to the deadline; overdue = every working day until the item is claimed done or
  closed. Up to `limit` items are listed (due soon first, then the longest overdue), then "等共 N 项";
- each office liaison gets ONE message a working day (``matter_overdue_office:p<person>:<day>``) listing
  the items they follow that became overdue since the previous working day (with the total overdue);
- the 久拖不办 alert (overdue more than OVERDUE_INTERVIEW_DAYS) is NOT sent here: the escalation job
  (`bot.escalation.auto_escalate`) raises level 3 and sends it, once per item.

Nothing is sent on non-working days (the next working day's digests cover them). Membership is a rule
of the date, so a rerun, a second scheduler or a catch-up run as of the same day builds the same keys
and adds nothing; the keys that exist already are looked up first so their digests are not rendered.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.jobs.base import CHUNK, JobResult, Notices, office_liaisons_by_leader, people
from bot.ledger import sql_active
from bot.text import render
from bot.workdays import is_workday, previous_workday, shift_to_workday_before
from models import Matter, Minutes, Notice, Unit, dispatch_row_liaison

SHIFT_SLACK_DAYS = 12  # the longest run of days off (Spring Festival) a reminder day can move over
DIGEST_LIMIT = 30  # items listed in one digest; the rest are counted


def due_reminder_day(deadline, due_days: int):
    return shift_to_workday_before(deadline - timedelta(days=due_days))


def _existing(session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        found.update(session.scalars(select(Notice.key).where(Notice.key.in_(keys[start:start + CHUNK]))))
    return found


def _follow(session, items) -> dict[int, list[int]]:
    """matter id -> office liaisons following it (those of its leader's rows and of its minutes' row)."""
    by_leader = office_liaisons_by_leader(session)
    by_row: dict[int, list[int]] = defaultdict(list)
    for rid, pid in session.execute(select(dispatch_row_liaison.c.dispatch_row_id, dispatch_row_liaison.c.person_id)):
        by_row[rid].append(pid)
    return {m.id: list(dict.fromkeys(by_leader.get(m.leader_id, []) + by_row.get(m.dispatch_row_id, [])))
            for m in items}


def run(runtime, as_of: datetime, due_days: int = 3, limit: int = DIGEST_LIMIT) -> JobResult:
    result = JobResult("matter_deadlines", as_of)
    today = as_of.astimezone(runtime.tz).date()
    if not is_workday(today):
        result.skipped = "not a working day"
        return result
    since = previous_workday(today, include_self=False)  # newly overdue: deadline in [since, today)
    day = today.isoformat()
    with runtime.db.session() as s:
        rows = s.execute(
            select(Matter.id, Matter.code, Matter.title, Matter.deadline, Matter.leader_id,
                   Matter.responsible_unit_id, Unit.name.label("unit"), Unit.liaison_id, Minutes.dispatch_row_id)
            .join(Unit, Unit.id == Matter.responsible_unit_id).outerjoin(Minutes, Minutes.id == Matter.minutes_id)
            .where(sql_active(), Matter.deadline <= today + timedelta(days=due_days + SHIFT_SLACK_DAYS))
            .order_by(Matter.deadline, Matter.id)).all()
        soon = [m for m in rows if m.deadline >= today and due_reminder_day(m.deadline, due_days) <= today]
        late = [m for m in rows if m.deadline < today]
        fresh = [m for m in late if m.deadline >= since]

        by_unit: dict[int, dict] = {}
        for m in soon + late:
            by_unit.setdefault(m.responsible_unit_id, dict(unit=m.unit, liaison=m.liaison_id, soon=[], late=[]))
            by_unit[m.responsible_unit_id]["soon" if m.deadline >= today else "late"].append(m)
        unit_key = {uid: f"matter_due:u{uid}:{day}" for uid in by_unit}

        followers = _follow(s, late)
        office: dict[int, dict] = defaultdict(lambda: dict(fresh=[], total=0))
        fresh_ids = {m.id for m in fresh}
        for m in late:
            for pid in followers[m.id]:
                office[pid]["total"] += 1
                if m.id in fresh_ids:
                    office[pid]["fresh"].append(m)
        office = {pid: o for pid, o in office.items() if o["fresh"]}
        office_key = {pid: f"matter_overdue_office:p{pid}:{day}" for pid in office}

        done = _existing(s, list(unit_key.values()) + list(office_key.values()))
        who = people(s, [u["liaison"] for uid, u in by_unit.items() if unit_key[uid] not in done]
                     + [pid for pid in office if office_key[pid] not in done])
        out = Notices(runtime, "matter_deadlines")
        for uid, u in by_unit.items():
            if unit_key[uid] in done or u["liaison"] not in who:
                continue
            shown_soon = u["soon"][:limit]
            shown_late = u["late"][:max(limit - len(shown_soon), 0)]
            text = render("jobs/matter_digest_dm.txt", unit=u["unit"], today=today, limit=limit,
                          soon=[dict(code=m.code, title=m.title, deadline=m.deadline,
                                     days_left=(m.deadline - today).days) for m in shown_soon],
                          late=[dict(code=m.code, title=m.title, deadline=m.deadline, days=(today - m.deadline).days)
                                for m in shown_late],
                          soon_total=len(u["soon"]), late_total=len(u["late"]))
            out.to_person(who[u["liaison"]], text, key=unit_key[uid], kind="matter_due")
        for pid, o in office.items():
            if office_key[pid] in done or pid not in who:
                continue
            text = render("jobs/matter_overdue_office.txt", total=o["total"], fresh_total=len(o["fresh"]), items=[
                dict(code=m.code, title=m.title, unit=m.unit, deadline=m.deadline, days=(today - m.deadline).days)
                for m in o["fresh"][:limit]])
            out.to_person(who[pid], text, key=office_key[pid], kind="matter_overdue")
        result.notices = len(out.flush(s))
    result.details = {"due_soon": len(soon), "overdue": len(late), "overdue_new": len(fresh),
                      "units": len(by_unit), "office": len(office)}
    return result
