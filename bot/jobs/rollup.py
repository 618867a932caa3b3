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

from sqlalchemy import and_, case, func, select, update

from bot.jobs.base import JobResult, Notices, bulk_audit, insert_ignore, people
from bot.jobs.overdue import last_deadline
from bot.domain import reporting
from bot.domain.ledger import sql_active, sql_overdue
from bot.domain.reporting import sql_expected_in
from bot.domain.periods import Period
from bot.infra.text import render
from bot.domain.workdays import shift_to_workday_before
from models import (MATTER_CLAIMED, MATTER_CLOSED, DispatchRow, Matter, ReportItem, ReportSubmission, RollUp,
                    Unit, dispatch_row_liaison, dispatch_row_unit, utcnow)

HARDEST_PER_ROW = 10
ITEM_COLUMNS = (Matter.id, Matter.code, Matter.title, Matter.deadline, Matter.escalation_level, Matter.leader_id,
                Matter.responsible_unit_id)


def hardest_items(session, period_key: str, *, where=(), order=(), key=None, per_leader: Optional[int] = None,
                  limit: Optional[int] = None) -> list[dict]:
    """Open items with a 难点痛点堵点 — the one noted in a current report of `period_key`, else the
    slip row's own — best first by `order` (SQL) / `key` (the same order in Python): the top
    `per_leader` of each leader, or the top `limit` overall.

    Two narrow queries (items with their own obstacle; report items with one) each cut to the top N,
    merged, and one look-up of report obstacles for the winners: one outer join of the whole ledger
    with the reports is far slower on SQLite."""
    def top(q):
        if per_leader:
            rn = func.row_number().over(partition_by=Matter.leader_id, order_by=order).label("rn")
            sub = q.add_columns(rn).subquery()
            return session.execute(select(sub).where(sub.c.rn <= per_leader)).mappings().all()
        return session.execute(q.order_by(*order).limit(limit)).mappings().all()

    current = and_(ReportSubmission.period_key == period_key, ReportSubmission.current.is_(True),
                   func.coalesce(ReportItem.obstacle, "") != "")
    own = top(select(*ITEM_COLUMNS, Matter.obstacles.label("obstacle"))
              .where(sql_active(), func.coalesce(Matter.obstacles, "") != "", *where))
    reported = top(select(*ITEM_COLUMNS, ReportItem.obstacle.label("obstacle"))
                   .join(ReportItem, ReportItem.matter_id == Matter.id)
                   .join(ReportSubmission, ReportSubmission.id == ReportItem.submission_id)
                   .where(sql_active(), current, *where))
    merged = {r["id"]: dict(r) for r in own}
    merged.update({r["id"]: dict(r) for r in reported})
    ranked = sorted(merged.values(), key=key)
    if per_leader:
        seen: dict = defaultdict(int)
        kept = []
        for r in ranked:
            seen[r["leader_id"]] += 1
            if seen[r["leader_id"]] <= per_leader:
                kept.append(r)
        ranked = kept
    else:
        ranked = ranked[:limit]
    only_own = [r["id"] for r in ranked if r["id"] not in {x["id"] for x in reported}]
    if only_own:  # an item cut from the report list may still have a reported obstacle
        for mid, text in session.execute(select(ReportItem.matter_id, ReportItem.obstacle)
                                         .join(ReportSubmission, ReportSubmission.id == ReportItem.submission_id)
                                         .where(current, ReportItem.matter_id.in_(only_own))):
            merged[mid]["obstacle"] = text
    for r in ranked:
        r.pop("rn", None)
    return ranked


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
    first = reporting.first_submissions(session, period, unit_ids)
    subs = {uid: (at, reporting.classify(first.get(uid), period) == reporting.LATE) for uid, at in session.execute(
        select(ReportSubmission.unit_id, ReportSubmission.submitted_at)
        .where(ReportSubmission.period_key == period.key, ReportSubmission.current.is_(True),
               ReportSubmission.unit_id.in_(sorted(unit_ids))))}
    # hardest items per leader: this period's reported obstacle, else the slip row's 难点痛点堵点
    hardest: dict[int, list[dict]] = defaultdict(list)
    for h in hardest_items(session, period.key, where=(Matter.leader_id.in_(leader_ids),),
                           order=(Matter.deadline, Matter.id), key=lambda h: (h["deadline"], h["id"]),
                           per_leader=HARDEST_PER_ROW):
        hardest[h["leader_id"]].append(dict(h, unit=names.get(h["responsible_unit_id"], ""),
                                            overdue=h["deadline"] < today))
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
        todo = s.scalars(select(DispatchRow.id).where(DispatchRow.id.not_in(existing))).all() if existing else None
        compiled = compile_rows(s, period, row_ids=todo) if todo is None or todo else {}
        now = utcnow()
        new_rows = insert_ignore(s, RollUp.__table__, [
            dict(dispatch_row_id=c.row_id, period_key=period.key, office_liaison_id=c.liaison_ids[0], compiled_at=now,
                 content=c.content, hardest=c.hardest, is_late=False) for c in compiled.values()],
            ["dispatch_row_id", "period_key"], (RollUp.__table__.c.id, RollUp.__table__.c.dispatch_row_id))
        new_ids = [r.id for r in new_rows]
        bulk_audit(s, "system:rollup_compile", "rollup_compiled", "rollup", [
            (r.id, None, {"dispatch_row_id": r.dispatch_row_id, "period_key": period.key,
                          "office_liaison_id": compiled[r.dispatch_row_id].liaison_ids[0]}, None)
            for r in new_rows])
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
        late_rows = s.execute(select(RollUp.id, RollUp.dispatch_row_id, RollUp.is_late).where(
            RollUp.period_key == period.key,
            (RollUp.submitted_at.is_(None)) | (RollUp.submitted_at > period.rollup_due))).all()
        flagged = [r.id for r in late_rows if not r.is_late]
        if flagged:
            s.execute(update(RollUp).where(RollUp.id.in_(flagged)).values(is_late=True))
            bulk_audit(s, "system:rollup_overdue", "rollup_late", "rollup",
                       [(rid, {"is_late": False}, {"is_late": True}, period.key) for rid in flagged])
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
