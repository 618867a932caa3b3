"""Office-liaison roll-up (归口汇总): compiled on the 6th/21st, reminded on the 7th/22nd, late after 18:00.

For each dispatch row (附件2) with office liaisons, `compile_rows` builds the summary of the row
leader's units for the period that just closed: who reported, the items done / open / overdue, and
the hardest items (难点痛点堵点: obstacles noted in this period's reports, else the slip row's own).
The RollUp row is created once per (row, period); the office liaison answers 提交 (optionally after
修改汇总) in chat (handlers/rollup.py) and the summary goes to the supervision group.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, case, func, select

from bot import audit
from bot.jobs.base import JobResult, Notices, people
from bot.jobs.overdue import last_deadline
from bot.ledger import sql_active, sql_expected_in, sql_overdue
from bot.periods import Period
from bot.text import render
from bot.workdays import shift_to_workday_before
from models import (MATTER_CLAIMED, MATTER_CLOSED, DispatchRow, Matter, ReportItem, ReportSubmission, RollUp,
                    Unit, dispatch_row_liaison, dispatch_row_unit, utcnow)

HARDEST_PER_ROW = 10


@dataclass
class Compiled:
    """The roll-up of one dispatch row for one period, before it is stored."""

    row_id: int
    seq: int
    leader_id: int
    leader: str
    liaison_ids: list[int]
    content: str
    hardest: str
    units: int = 0
    reported: int = 0
    stats: dict = field(default_factory=dict)


def _rows(session, row_ids: Optional[Iterable[int]]):
    q = select(DispatchRow.id, DispatchRow.seq, DispatchRow.leader_id, DispatchRow.content).order_by(DispatchRow.seq)
    if row_ids is not None:
        q = q.where(DispatchRow.id.in_(list(row_ids)))
    rows = session.execute(q).all()
    ids = [r.id for r in rows]
    lead: dict[int, list[int]] = defaultdict(list)
    for rid, uid in session.execute(select(dispatch_row_unit.c.dispatch_row_id, dispatch_row_unit.c.unit_id)
                                    .where(dispatch_row_unit.c.dispatch_row_id.in_(ids))):
        lead[rid].append(uid)
    liaisons: dict[int, list[int]] = defaultdict(list)
    for rid, pid in session.execute(select(dispatch_row_liaison.c.dispatch_row_id, dispatch_row_liaison.c.person_id)
                                    .where(dispatch_row_liaison.c.dispatch_row_id.in_(ids))
                                    .order_by(dispatch_row_liaison.c.person_id)):
        liaisons[rid].append(pid)
    return rows, lead, liaisons


def compile_rows(session, period: Period, row_ids: Optional[Iterable[int]] = None) -> dict[int, Compiled]:
    """The roll-ups of `period` for every dispatch row with office liaisons (or only `row_ids`)."""
    rows, lead, liaisons = _rows(session, row_ids)
    rows = [r for r in rows if liaisons.get(r.id)]
    if not rows:
        return {}
    leader_ids = sorted({r.leader_id for r in rows})
    today = period.deadline_date
    # items per (leader, unit): total, closed, claimed, active, overdue — one grouped query
    stats: dict[int, dict[int, dict]] = defaultdict(dict)
    for leader_id, unit_id, total, closed, claimed, active, overdue in session.execute(
            select(Matter.leader_id, Matter.responsible_unit_id, func.count(Matter.id),
                   func.sum(case((Matter.state == MATTER_CLOSED, 1), else_=0)),
                   func.sum(case((Matter.state == MATTER_CLAIMED, 1), else_=0)),
                   func.sum(case((sql_active(), 1), else_=0)),
                   func.sum(case((and_(sql_active(), sql_overdue(today)), 1), else_=0)))
            .where(sql_expected_in(period), Matter.leader_id.in_(leader_ids))
            .group_by(Matter.leader_id, Matter.responsible_unit_id)):
        stats[leader_id][unit_id] = dict(total=total, closed=int(closed or 0), claimed=int(claimed or 0),
                                         active=int(active or 0), overdue=int(overdue or 0))
    unit_ids = {u for r in rows for u in lead.get(r.id, [])} | {u for d in stats.values() for u in d}
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(sorted(unit_ids)))).all())
    subs = {uid: (at, late) for uid, at, late in session.execute(
        select(ReportSubmission.unit_id, ReportSubmission.submitted_at, ReportSubmission.is_late)
        .where(ReportSubmission.period_key == period.key, ReportSubmission.current.is_(True),
               ReportSubmission.unit_id.in_(sorted(unit_ids))))}
    # hardest items per leader: this period's reported obstacle, else the slip row's 难点痛点堵点
    current_subs = select(ReportSubmission.id).where(ReportSubmission.period_key == period.key,
                                                     ReportSubmission.current.is_(True))
    obstacle = func.coalesce(func.nullif(ReportItem.obstacle, ""), func.nullif(Matter.obstacles, ""))
    ranked = (select(Matter.leader_id, Matter.code, Matter.title, Matter.deadline, Matter.responsible_unit_id,
                     obstacle.label("obstacle"),
                     func.row_number().over(partition_by=Matter.leader_id,
                                            order_by=(Matter.deadline, Matter.id)).label("rn"))
              .outerjoin(ReportItem, and_(ReportItem.matter_id == Matter.id,
                                          ReportItem.submission_id.in_(current_subs)))
              .where(sql_active(), Matter.leader_id.in_(leader_ids), obstacle.is_not(None))
              .subquery())
    hardest: dict[int, list[dict]] = defaultdict(list)
    for h in session.execute(select(ranked).where(ranked.c.rn <= HARDEST_PER_ROW).order_by(ranked.c.rn)):
        hardest[h.leader_id].append(dict(code=h.code, title=h.title, deadline=h.deadline, obstacle=h.obstacle,
                                         unit=names.get(h.responsible_unit_id, ""),
                                         overdue=h.deadline < today))
    leaders = people(session, leader_ids)
    out: dict[int, Compiled] = {}
    for r in rows:
        by_unit = stats.get(r.leader_id, {})
        row_units = list(dict.fromkeys(lead.get(r.id, []) + sorted(by_unit)))
        if not row_units:
            continue
        lines = []
        for uid in row_units:
            st = by_unit.get(uid, dict(total=0, closed=0, claimed=0, active=0, overdue=0))
            at, late = subs.get(uid, (None, False))
            lines.append(dict(name=names.get(uid, "?"), submitted_at=at, late=late, **st))
        lines = [x for x in lines if x["total"] or x["submitted_at"]]  # units with nothing to report left out
        if not lines:
            continue
        totals = {k: sum(line[k] for line in lines) for k in ("total", "closed", "claimed", "active", "overdue")}
        leader = leaders[r.leader_id].name if r.leader_id in leaders else ""
        ctx = dict(seq=r.seq, leader=leader, period=period, lines=lines, totals=totals,
                   reported=sum(1 for x in lines if x["submitted_at"]),
                   late=sum(1 for x in lines if x["submitted_at"] and x["late"]),
                   missing=[x["name"] for x in lines if not x["submitted_at"]])
        hard_text = render("jobs/rollup_hardest.txt", items=hardest.get(r.leader_id, []))
        out[r.id] = Compiled(r.id, r.seq, r.leader_id, leader, liaisons[r.id],
                             render("jobs/rollup_content.txt", **ctx), hard_text, len(lines), ctx["reported"],
                             totals)
    return out


def _insert_ignore(session, rows: list[dict]):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    if not rows:
        return []
    stmt = (insert(RollUp).values(rows)
            .on_conflict_do_nothing(index_elements=["dispatch_row_id", "period_key"]).returning(RollUp.id))
    return list(session.scalars(stmt))


def rollups_of(session, period: Period, *, unsubmitted_only: bool = False):
    q = (select(RollUp.id, RollUp.dispatch_row_id, RollUp.content, RollUp.hardest, RollUp.submitted_at,
                RollUp.is_late, DispatchRow.seq, DispatchRow.leader_id)
         .join(DispatchRow, DispatchRow.id == RollUp.dispatch_row_id)
         .where(RollUp.period_key == period.key).order_by(DispatchRow.seq))
    if unsubmitted_only:
        q = q.where(RollUp.submitted_at.is_(None))
    return session.execute(q).all()


def row_liaisons(session, row_ids: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for rid, pid in session.execute(select(dispatch_row_liaison.c.dispatch_row_id, dispatch_row_liaison.c.person_id)
                                    .where(dispatch_row_liaison.c.dispatch_row_id.in_(list(row_ids)))
                                    .order_by(dispatch_row_liaison.c.person_id)):
        out[rid].append(pid)
    return out


def run_compile(runtime, as_of: datetime) -> JobResult:
    """rollup_compile: create the period's roll-ups and send each to its office liaisons."""
    result = JobResult("rollup_compile", as_of)
    period = last_deadline(as_of)
    if as_of > period.rollup_due:
        result.skipped = f"roll-up of {period.key} was due {period.rollup_due.isoformat()}"
        return result
    with runtime.db.session() as s:
        existing = {r.dispatch_row_id for r in rollups_of(s, period)}
        compiled = {rid: c for rid, c in compile_rows(s, period).items() if rid not in existing}
        now = utcnow()
        new_ids = _insert_ignore(s, [dict(dispatch_row_id=c.row_id, period_key=period.key,
                                          office_liaison_id=c.liaison_ids[0], compiled_at=now, content=c.content,
                                          hardest=c.hardest, is_late=False) for c in compiled.values()])
        if new_ids:
            for r in s.execute(select(RollUp).where(RollUp.id.in_(new_ids))).scalars():
                audit.record(s, actor="system:rollup_compile", action="rollup_compiled", entity="rollup",
                             entity_id=r.id, after=audit.snapshot(r, ("dispatch_row_id", "period_key",
                                                                      "office_liaison_id")))
        pending = rollups_of(s, period, unsubmitted_only=True)
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in pending])
        who = people(s, [p for lst in liaisons.values() for p in lst])
        out = Notices(runtime, "rollup_compile")
        for r in pending:
            for pid in liaisons.get(r.dispatch_row_id, []):
                if pid in who:
                    text = render("jobs/rollup_dm.txt", content=r.content, hardest=r.hardest, seq=r.seq,
                                  period=period, multiple=len(pending) > 1)
                    out.to_person(who[pid], text, key=f"rollup:r{r.dispatch_row_id}:{period.key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "compiled": len(new_ids), "pending": len(pending)}
    return result


def reminder_day(period: Period):
    """The roll-up reminder day: the due day (7th/22nd) moved to the previous working day, but not
    before the day after the report deadline (when the roll-up is compiled)."""
    return max(shift_to_workday_before(period.rollup_due.date()), period.deadline_date + timedelta(days=1))


def run_reminder(runtime, as_of: datetime) -> JobResult:
    """rollup_reminder: on the reminder day, office liaisons whose roll-up is not submitted yet."""
    result = JobResult("rollup_reminder", as_of)
    period = last_deadline(as_of)
    today = as_of.astimezone(runtime.tz).date()
    if as_of >= period.rollup_due or today < reminder_day(period):
        result.skipped = "no roll-up reminder due"
        return result
    with runtime.db.session() as s:
        pending = rollups_of(s, period, unsubmitted_only=True)
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in pending])
        who = people(s, [p for lst in liaisons.values() for p in lst] + [r.leader_id for r in pending])
        out = Notices(runtime, "rollup_reminder")
        for r in pending:
            leader = who[r.leader_id].name if r.leader_id in who else ""
            for pid in liaisons.get(r.dispatch_row_id, []):
                if pid in who:
                    text = render("jobs/rollup_reminder_dm.txt", seq=r.seq, leader=leader, period=period)
                    out.to_person(who[pid], text, key=f"rollup_reminder:r{r.dispatch_row_id}:{period.key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "pending": len(pending)}
    return result


def run_overdue(runtime, as_of: datetime, window_hours: int = 48) -> JobResult:
    """rollup_overdue: after 18:00 on the 7th/22nd, mark unsubmitted roll-ups late and list them."""
    result = JobResult("rollup_overdue", as_of)
    period = last_deadline(as_of)
    if as_of < period.rollup_due:
        period = last_deadline(period.opens)  # the previous period's roll-up may still be in its window
    if as_of < period.rollup_due or as_of - period.rollup_due > timedelta(hours=window_hours):
        result.skipped = "no roll-up deadline just passed"
        return result
    with runtime.db.session() as s:
        late_rows = s.execute(select(RollUp).where(
            RollUp.period_key == period.key,
            (RollUp.submitted_at.is_(None)) | (RollUp.submitted_at > period.rollup_due))).scalars().all()
        for r in late_rows:
            if not r.is_late:
                before = audit.snapshot(r, ("is_late",))
                r.is_late = True
                audit.record(s, actor="system:rollup_overdue", action="rollup_late", entity="rollup", entity_id=r.id,
                             before=before, after={"is_late": True}, reason=period.key)
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in late_rows])
        seqs = dict(s.execute(select(DispatchRow.id, DispatchRow.seq)
                              .where(DispatchRow.id.in_([r.dispatch_row_id for r in late_rows]))).all())
        leaders = dict(s.execute(select(DispatchRow.id, DispatchRow.leader_id)
                                 .where(DispatchRow.id.in_([r.dispatch_row_id for r in late_rows]))).all())
        who = people(s, [p for lst in liaisons.values() for p in lst] + list(leaders.values()))
        listed = sorted(({"seq": seqs.get(r.dispatch_row_id), "leader": who[leaders[r.dispatch_row_id]].name
                          if leaders.get(r.dispatch_row_id) in who else "",
                          "liaisons": [who[p].name for p in liaisons.get(r.dispatch_row_id, []) if p in who]}
                         for r in late_rows), key=lambda x: x["seq"] or 0)
        out = Notices(runtime, "rollup_overdue")
        if listed:
            out.to_group("supervision", render("jobs/rollup_overdue_group.txt", rows=listed, period=period),
                         key=f"rollup_overdue:group:supervision:{period.key}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "late": len(late_rows)}
    return result
