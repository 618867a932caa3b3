"""认领催办: new items a responsible unit has not acknowledged (认领, bot.actions.matterunits), on working days.

A unit told of an item (the issue of its minutes or slip, a 分解督办 sub-item, a unit added) that has not
sent "认领 <编号>" by the ACK_CHASE_WORKDAYS-th working day after is chased: its liaison gets one message
for the item (key ``ack_chase:<matter_unit id>``). Still not acknowledged ACK_ESCALATE_WORKDAYS working
days after, the item's lead unit (牵头单位, when another unit) and the office liaisons following it
(bot.domain.scope.followers) are told who has not acknowledged (``ack_escalate:<matter_unit id>:p<person>``).
Each key is a rule of the row alone, so a rerun, a second scheduler or a catch-up adds nothing; nothing is
sent on a day off (the next working day's run sends it). Closed items are not chased.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.domain.ledger import sql_active
from bot.domain.scope import followers
from bot.domain.workdays import add_workdays, is_workday
from bot.infra.text import render
from bot.jobs.base import CHUNK, JobResult, Notices, people
from models import ROLE_OFFICE_LIAISON, AssignmentSlip, Matter, MatterUnit, Minutes, Notice, Unit


def run(runtime, as_of: datetime, chase_days: int | None = None, escalate_days: int | None = None) -> JobResult:
    result = JobResult("acknowledge_chase", as_of)
    settings = runtime.settings
    chase_days = settings.ACK_CHASE_WORKDAYS if chase_days is None else chase_days
    escalate_days = settings.ACK_ESCALATE_WORKDAYS if escalate_days is None else escalate_days
    today = as_of.astimezone(runtime.tz).date()
    if not is_workday(today):
        result.skipped = "not a working day"
        return result
    n_chase = n_escalate = 0
    with runtime.db.session() as s:
        rows = list(s.execute(
            select(MatterUnit, Matter).join(Matter, Matter.id == MatterUnit.matter_id)
            .where(MatterUnit.assigned_at.is_not(None), MatterUnit.acknowledged_at.is_(None),
                   MatterUnit.assigned_at <= as_of, sql_active())
            .order_by(MatterUnit.id)).all())
        chase, escalate = [], []
        for row, m in rows:
            told_on = row.assigned_at.astimezone(runtime.tz).date()
            if add_workdays(told_on, escalate_days) <= today:
                escalate.append((row, m))
            if add_workdays(told_on, chase_days) <= today:
                chase.append((row, m))
        # who else is told at the second stage: the lead unit's liaison and the office liaisons
        ids = sorted({m.id for _r, m in escalate})
        office: dict[int, list[int]] = {}
        lead: dict[int, Unit] = {}
        if ids:
            fol = followers(Matter.id.in_(ids), roles=(ROLE_OFFICE_LIAISON,))
            for mid, pid in s.execute(select(fol.c.matter_id, fol.c.person_id)):
                office.setdefault(mid, []).append(pid)
            for mid, unit in s.execute(
                    select(Matter.id, Unit).join(Minutes, Minutes.id == Matter.minutes_id)
                    .join(Unit, Unit.id == Minutes.lead_unit_id).where(Matter.id.in_(ids))):
                lead[mid] = unit
            for mid, unit in s.execute(
                    select(Matter.id, Unit).join(AssignmentSlip, AssignmentSlip.id == Matter.slip_id)
                    .join(Unit, Unit.id == AssignmentSlip.lead_unit_id).where(Matter.id.in_(ids))):
                lead[mid] = unit
        wanted = [r.unit.liaison_id for r, _m in chase if r.unit.liaison_id]
        for row, m in escalate:
            wanted += office.get(m.id, [])
            if m.id in lead and lead[m.id].id != row.unit_id and lead[m.id].liaison_id:
                wanted.append(lead[m.id].liaison_id)
        who = people(s, wanted)
        keys = [f"ack_chase:{r.id}" for r, _m in chase] + [
            f"ack_escalate:{r.id}:p{pid}" for r, m in escalate for pid in set(office.get(m.id, [])) | (
                {lead[m.id].liaison_id} if m.id in lead else set())]
        done = set()
        for start in range(0, len(keys), CHUNK):  # those sent already are not rendered again
            done.update(s.scalars(select(Notice.key).where(Notice.key.in_(keys[start:start + CHUNK]))))
        out = Notices(runtime, "acknowledge_chase")
        for row, m in chase:
            liaison = who.get(row.unit.liaison_id)
            if liaison is None or f"ack_chase:{row.id}" in done:
                continue
            text = render("jobs/ack_chase.txt", m=m, row=row, unit=row.unit)
            if out.to_person(liaison, text, key=f"ack_chase:{row.id}", kind="acknowledge"):
                n_chase += 1
        for row, m in escalate:
            lead_unit = lead.get(m.id)
            targets = list(office.get(m.id, []))
            if lead_unit is not None and lead_unit.id != row.unit_id and lead_unit.liaison_id:
                targets.append(lead_unit.liaison_id)
            text = render("jobs/ack_escalate.txt", m=m, row=row, unit=row.unit, days=escalate_days)
            for pid in dict.fromkeys(targets):
                key = f"ack_escalate:{row.id}:p{pid}"
                if pid in who and key not in done and out.to_person(who[pid], text, key=key, kind="acknowledge"):
                    n_escalate += 1
        result.notices = out.flush(s, count_only=True)
    result.details = {"unacknowledged": len(rows), "chased": n_chase, "escalated": n_escalate}
    return result
