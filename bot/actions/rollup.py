"""归口汇总 (RollUp): the office liaisons' roll-up of a dispatch row (附件2) for one period.

`compile_rows` builds the summary of the row leader's units for the period that just closed: who reported,
the items done / open / overdue, and the hardest items (难点痛点堵点: obstacles noted in this period's
reports, else the slip row's own). `do_compile_rollups` stores it once per (row, period) (the
rollup_compile job); the office liaison may edit its 难点痛点堵点 (`do_edit_rollup`) and submits it
(`do_submit_rollup`: the figures are compiled afresh, it is late after the 7th / 22nd 18:00, and the
supervision group gets it).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from bot.actions.base import Act, actor_name, lock, person_id
from bot.actions.forms import SUPERVISION, send_forms
from bot.delivery.outbox import people
from bot.documents.problems import annex3_filename, annex3_xlsx
from bot.domain import reporting
from bot.domain.address import address
from bot.domain.ledger import TransitionError, sql_active, sql_overdue
from bot.domain.periods import Period, period_by_key
from bot.domain.reporting import sql_expected_in
from bot.domain.roles import Roles
from bot.domain.scope import item_rows, sql_confidential
from bot.infra import audit
from bot.infra.db import insert_ignore
from bot.infra.text import render
from models import (
    MATTER_CLAIMED,
    MATTER_CLOSED,
    ROLE_OFFICE_LIAISON,
    DispatchRow,
    Matter,
    ReportItem,
    ReportSubmission,
    RollUp,
    Unit,
    dispatch_row_liaison,
    dispatch_row_unit,
    utcnow,
)

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
    # items per (row, reporting unit): total, closed, claimed, active, overdue — one grouped query. An item
    # belongs to the rows of bot.domain.scope.item_rows (its minutes' row, else its own leader's rows), and
    # is reported on by its lead unit (bot.domain.reporting.sql_reporting_unit); a 附件2 lead unit with no
    # item of the row is not listed (it made "事项 0 项…已报 2 个" roll-ups that were then chased).
    belongs = item_rows(sql_expected_in(period), row_ids=[r.id for r in rows]).subquery()
    flags = (select(belongs.c.row_id, reporting.sql_reporting_unit().label("unit_id"),
                    case((Matter.state == MATTER_CLOSED, 1), else_=0).label("closed"),
                    case((Matter.state == MATTER_CLAIMED, 1), else_=0).label("claimed"),
                    case((sql_active(), 1), else_=0).label("active"),
                    case((and_(sql_active(), sql_overdue(today)), 1), else_=0).label("overdue"),
                    case((and_(sql_active(), sql_confidential()), 1), else_=0).label("secret"))
             .join(belongs, belongs.c.matter_id == Matter.id)).subquery()
    stats: dict[int, dict[int, dict]] = defaultdict(dict)
    secret: dict[int, int] = defaultdict(int)  # per row: its items of 保密 minutes / slips still to do
    for row_id, unit_id, total, closed, claimed, active, overdue, n_secret in session.execute(
            select(flags.c.row_id, flags.c.unit_id, func.count(), func.sum(flags.c.closed), func.sum(flags.c.claimed),
                   func.sum(flags.c.active), func.sum(flags.c.overdue), func.sum(flags.c.secret))
            .group_by(flags.c.row_id, flags.c.unit_id)):
        stats[row_id][unit_id] = dict(total=total, closed=int(closed or 0), claimed=int(claimed or 0),
                                      active=int(active or 0), overdue=int(overdue or 0))
        secret[row_id] += int(n_secret or 0)
    unit_ids = {u for d in stats.values() for u in d}
    names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(sorted(unit_ids)))).all())
    # each unit's current version (shown) and first submission (decides lateness: bot.domain.reporting), in one query
    first = reporting.sql_first_submissions(period.key).where(ReportSubmission.unit_id.in_(sorted(unit_ids)))
    first = first.add_columns(func.max(case((ReportSubmission.current.is_(True), ReportSubmission.submitted_at))))
    subs = {uid: (at, reporting.classify(first_at, period) == reporting.LATE)
            for uid, first_at, at in session.execute(first) if at is not None}
    # hardest items per leader: this period's reported obstacle, else the slip row's 难点痛点堵点
    # the roll-up goes to the supervision group: items of 保密 minutes / slips counted, never listed
    hardest: dict[int, list[dict]] = defaultdict(list)
    for h in hardest_items(session, period.key, where=(Matter.leader_id.in_(leader_ids), ~sql_confidential()),
                           order=(Matter.deadline, Matter.id), key=lambda h: (h["deadline"], h["id"]),
                           per_leader=HARDEST_PER_ROW):
        hardest[h["leader_id"]].append(dict(h, unit=names.get(h["responsible_unit_id"], ""),
                                            overdue=h["deadline"] < today))
    leaders = people(session, leader_ids)
    out: dict[int, Compiled] = {}
    for r in rows:
        by_unit = stats.get(r.id, {})
        row_units = list(dict.fromkeys([u for u in lead.get(r.id, []) if u in by_unit] + sorted(by_unit)))
        if not row_units:
            continue
        lines = []
        for uid in row_units:
            st = by_unit.get(uid, dict(total=0, closed=0, claimed=0, active=0, overdue=0))
            at, late = subs.get(uid, (None, False))
            lines.append(dict(name=names.get(uid, "?"), submitted_at=at, late=late, **st))
        if not lines:
            continue
        totals = {k: sum(line[k] for line in lines) for k in ("total", "closed", "claimed", "active", "overdue")}
        leader = address(leaders.get(r.leader_id))
        ctx = dict(seq=r.seq, leader=leader, period=period, lines=lines, totals=totals,
                   reported=sum(1 for x in lines if x["submitted_at"]),
                   late=sum(1 for x in lines if x["submitted_at"] and x["late"]),
                   missing=[x["name"] for x in lines if not x["submitted_at"]])
        hard_text = render("jobs/rollup_hardest.txt", items=hardest.get(r.leader_id, []),
                           secret=secret.get(r.id, 0))
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


def do_compile_rollups(session: Session, period: Period) -> list[int]:
    """Store the roll-up of `period` of every dispatch row that has none yet (once per row and period,
    however many compile at once: ON CONFLICT DO NOTHING); the ids of the new ones."""
    existing = {r.dispatch_row_id for r in rollups_of(session, period)}
    todo = session.scalars(select(DispatchRow.id).where(DispatchRow.id.not_in(existing))).all() if existing else None
    compiled = compile_rows(session, period, row_ids=todo) if todo is None or todo else {}
    now = utcnow()
    new_rows = insert_ignore(session, RollUp.__table__, [
        dict(dispatch_row_id=c.row_id, period_key=period.key, office_liaison_id=c.liaison_ids[0], compiled_at=now,
             content=c.content, hardest=c.hardest, is_late=False) for c in compiled.values()],
        ["dispatch_row_id", "period_key"], (RollUp.__table__.c.id, RollUp.__table__.c.dispatch_row_id))
    audit.record_many(session, "system:rollup_compile", "rollup_compiled", "rollup", [
        (r.id, None, {"dispatch_row_id": r.dispatch_row_id, "period_key": period.key,
                      "office_liaison_id": compiled[r.dispatch_row_id].liaison_ids[0]}, None)
        for r in new_rows])
    return [r.id for r in new_rows]


def _need_unsubmitted(act: Act, rollup: RollUp) -> None:
    lock(act.session, rollup)
    if rollup.submitted_at is not None:
        raise TransitionError("already_submitted", rollup=rollup.id)


def do_edit_rollup(act: Act, rollup: RollUp, hardest: str) -> None:
    """Replace the roll-up's 难点痛点堵点 before it is submitted."""
    _need_unsubmitted(act, rollup)
    before = audit.snapshot(rollup, ("hardest",))
    rollup.hardest = hardest
    audit.record(act.session, actor=act.actor, action="rollup_edited", entity="rollup", entity_id=rollup.id,
                 before=before, after={"hardest": hardest}, at=act.now)


SUBMIT_FIELDS = ("content", "submitted_at", "is_late", "office_liaison_id")


def do_submit_rollup(act: Act, rollup: RollUp, row: DispatchRow) -> None:
    """Submit the roll-up with freshly compiled figures (late after the roll-up deadline); the supervision
    group gets it, with the consolidated 附件3 (.xlsx) of the submitting liaison's rows as a file."""
    s = act.session
    _need_unsubmitted(act, rollup)
    period = period_by_key(rollup.period_key)
    fresh = compile_rows(s, period, row_ids=[row.id]).get(row.id)
    before = audit.snapshot(rollup, SUBMIT_FIELDS)
    if fresh is not None:
        rollup.content = fresh.content
    rollup.submitted_at = act.now
    rollup.is_late = rollup.is_late or act.now > period.rollup_due
    rollup.office_liaison_id = person_id(act.actor)
    b, a = audit.diff(before, audit.snapshot(rollup, SUBMIT_FIELDS))
    audit.record(s, actor=act.actor, action="rollup_submitted", entity="rollup", entity_id=rollup.id,
                 before=b, after=a, at=act.now)
    act.notify_group("supervision", act.render("rollup/group.txt", content=rollup.content, hardest=rollup.hardest,
                                               liaison=actor_name(act.actor), at=act.now, late=rollup.is_late),
                     key=f"rollup_submitted:r{row.id}:{rollup.period_key}", kind="rollup_submitted")
    if person_id(act.actor) is not None:  # the consolidated 附件3 of the liaison's rows rides along
        scope = Roles(person_id=person_id(act.actor), names=frozenset({ROLE_OFFICE_LIAISON}),
                      liaison_row_ids=frozenset({row.id}))
        send_forms(act, [(annex3_filename(period, row.leader.name), annex3_xlsx(s, scope, period, public=True))],
                   key=f"rollup:r{row.id}:{rollup.period_key}", kind="rollup_submitted", group=SUPERVISION)
