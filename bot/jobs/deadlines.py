"""Matter deadlines (事项时限): digests of the items due soon and overdue, on working days.

- each unit liaison gets ONE message a working day (key ``matter_due:u<unit>:<day>``) when their unit
  has items due soon or overdue: due soon = from the reminder day (deadline − `due_days`, moved to the
  previous working day) to the deadline; overdue = every working day until the item is claimed done or
  closed. Up to `limit` items are listed (due soon first, then the longest overdue), then "等共 N 项";
- each office liaison gets ONE message a working day (``matter_overdue_office:p<person>:<day>``) listing
  the items they follow that became overdue since the previous working day (with the total overdue);
- the 久拖不办 alert (overdue more than OVERDUE_INTERVIEW_DAYS) is NOT sent here: the escalation job
  (`bot.actions.escalation.auto_escalate`) raises level 3 and sends it, once per item.

Nothing is sent on non-working days (the next working day's digests cover them). Membership is a rule
of the date, so a rerun, a second scheduler or a catch-up run as of the same day builds the same keys
and adds nothing; the keys that exist already are looked up first so their digests are not rendered.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select

from bot.domain.ledger import sql_active
from bot.domain.scope import followers
from bot.domain.workdays import is_workday, previous_workday, shift_to_workday_before
from bot.infra.text import env, render
from bot.jobs.base import CHUNK, JobResult, Notices, people
from models import ROLE_OFFICE_LIAISON, Matter, Notice, Unit

SHIFT_SLACK_DAYS = 12  # the longest run of days off (Spring Festival) a reminder day can move over
DIGEST_LIMIT = 30  # items listed in one digest; the rest are counted


@lru_cache(maxsize=4096)
def due_reminder_day(deadline, due_days: int):
    return shift_to_workday_before(deadline - timedelta(days=due_days))


def _existing(session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        found.update(session.scalars(select(Notice.key).where(Notice.key.in_(keys[start:start + CHUNK]))))
    return found




def run(runtime, as_of: datetime, due_days: int = 3, limit: int = DIGEST_LIMIT) -> JobResult:
    result = JobResult("matter_deadlines", as_of)
    today = as_of.astimezone(runtime.tz).date()
    if not is_workday(today):
        result.skipped = "not a working day"
        return result
    since = previous_workday(today, include_self=False)  # newly overdue: deadline in [since, today)
    day = today.isoformat()
    with runtime.db.session() as s:
        rows = s.connection().execute(
            select(Matter.id, Matter.code, Matter.title, Matter.deadline, Matter.responsible_unit_id)
            .where(sql_active(), Matter.deadline <= today + timedelta(days=due_days + SHIFT_SLACK_DAYS))
            .order_by(Matter.deadline, Matter.id)).all()
        units = {u.id: u for u in s.connection().execute(select(Unit.id, Unit.name, Unit.liaison_id))}
        by_unit: dict[int, tuple[list, list]] = {}
        by_id = {}
        n_soon = n_late = n_fresh = 0
        for m in rows:
            if m.deadline < today:
                n_late += 1
                by_unit.setdefault(m.responsible_unit_id, ([], []))[1].append(m)
                if m.deadline >= since:
                    n_fresh += 1
                    by_id[m.id] = m
            elif due_reminder_day(m.deadline, due_days) <= today:
                n_soon += 1
                by_unit.setdefault(m.responsible_unit_id, ([], []))[0].append(m)
        unit_key = {uid: f"matter_due:u{uid}:{day}" for uid in by_unit}

        # office liaisons following the items (bot.domain.scope.followers): the newly overdue ones, and
        # how many of theirs are overdue in all
        office: dict[int, dict] = defaultdict(lambda: dict(fresh=[], total=0))
        late = (sql_active(), Matter.deadline < today)
        fol = followers(*late, Matter.deadline >= since, roles=(ROLE_OFFICE_LIAISON,))
        for mid, pid in s.connection().execute(select(fol.c.matter_id, fol.c.person_id)):
            office[pid]["fresh"].append(by_id[mid])
        fol = followers(*late, roles=(ROLE_OFFICE_LIAISON,))
        for pid, n in s.connection().execute(select(fol.c.person_id, func.count()).where(
                fol.c.person_id.in_(sorted(office))).group_by(fol.c.person_id)):
            office[pid]["total"] = n
        office = dict(office)
        office_key = {pid: f"matter_overdue_office:p{pid}:{day}" for pid in office}

        done = _existing(s, list(unit_key.values()) + list(office_key.values()))
        who = people(s, [units[uid].liaison_id for uid in by_unit if unit_key[uid] not in done]
                     + [pid for pid in office if office_key[pid] not in done])
        out = Notices(runtime, "matter_deadlines")
        digest = env.get_template("jobs/matter_digest_dm.txt")  # compiled once: thousands of digests
        for uid, (soon, late) in by_unit.items():
            unit = units[uid]
            if unit_key[uid] in done or unit.liaison_id not in who:
                continue
            shown_soon = soon[:limit]
            text = digest.render(unit=unit.name, today=today, soon=shown_soon,
                                 late=late[:max(limit - len(shown_soon), 0)], soon_total=len(soon),
                                 late_total=len(late))
            out.to_person(who[unit.liaison_id], text, key=unit_key[uid], kind="matter_due")
        for pid, o in office.items():
            if office_key[pid] in done or pid not in who:
                continue
            items = sorted(o["fresh"], key=lambda m: (m.deadline, m.id))[:limit]
            text = render("jobs/matter_overdue_office.txt", total=o["total"], fresh_total=len(o["fresh"]), items=[
                dict(code=m.code, title=m.title, unit=units[m.responsible_unit_id].name, deadline=m.deadline,
                     days=(today - m.deadline).days) for m in items])
            out.to_person(who[pid], text, key=office_key[pid], kind="matter_overdue")
        # The keys that existed were left out above, so the count is what this run queued (a concurrent
        # run may count the same keys; the notices still exist once).
        result.notices = out.flush(s, count_only=True)
    result.details = {"due_soon": n_soon, "overdue": n_late, "overdue_new": n_fresh, "units": len(by_unit),
                      "office": len(office)}
    return result
