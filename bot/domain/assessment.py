"""The year-end 绩效考评 (seed 000: "督查结果纳入年底绩效考评"; "效能问责情况纳入年度绩效考评察访核验扣分项目"):
one row per unit with what the assessment counts, each column from the one function of its rule —

- reports on time / late / missing: `bot.domain.reporting.report_status` over the year's periods due by
  the day asked; 超期未报（记录）: the deadlines recorded as missed (`reporting.missed_counts`, shown only);
- items on time / overdue: ledger items of the unit whose deadline fell in the year and has passed: on time
  iff closed on or before it (`supervision.on_time`), overdue otherwise (closed late or still open);
- escalations: raised in the year on the unit's items, at the levels `escalation_levels` names;
- findings: rectifications asked of the unit by the year's spot checks; findings overdue: of those, past
  their deadline and not closed, or closed after it;
- deductions: the 效能问责 cases of the year decided against the unit;
- score: `AssessmentRules.score` (config/supervision.yaml's weights).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain import reporting, supervision
from bot.domain.clock import tz
from bot.domain.periods import periods_in_month
from models import CASE_DECIDED, TASK_RECTIFICATION, AccountabilityCase, Escalation, Matter, SupervisionTask, Unit


@dataclass
class UnitRow:
    unit_id: int
    unit: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(supervision.COLUMNS, 0))
    missed_recorded: int = 0
    deductions: float = 0.0
    score: float = 0.0


def _local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(tz()).date() if moment is not None else None


def assessment(session: Session, year: int, as_of: datetime, rules: supervision.AssessmentRules,
               unit_ids=None) -> list[UnitRow]:
    """The table of `year` as of `as_of` (only `unit_ids` when given), lowest score first."""
    wanted = None if unit_ids is None else set(unit_ids)
    rows: dict[int, UnitRow] = {}
    names = dict(session.execute(select(Unit.id, Unit.name)).all())

    def row(uid: int) -> UnitRow | None:
        if wanted is not None and uid not in wanted:
            return None
        if uid not in rows:
            rows[uid] = UnitRow(uid, names.get(uid, "?"))
        return rows[uid]

    periods = [p for m in range(1, 13) for p in periods_in_month(year, m) if p.deadline <= as_of]
    column = {reporting.ON_TIME: "reports_on_time", reporting.LATE: "reports_late",
              reporting.MISSING: "reports_missing"}
    for (uid, _src, _key), st in reporting.report_status(session, periods, as_of).items():  # one per list
        if (r := row(uid)) is not None:
            r.counts[column[st]] += 1
    for uid, n in reporting.missed_counts(session, year).items():
        if (r := row(uid)) is not None:
            r.missed_recorded = n
    today = as_of.astimezone(tz()).date()
    for uid, deadline, closed_at in session.execute(
            select(Matter.responsible_unit_id, Matter.deadline, Matter.closed_at)
            .where(Matter.deadline >= date(year, 1, 1), Matter.deadline <= date(year, 12, 31),
                   Matter.deadline < today)):
        if (r := row(uid)) is not None:
            r.counts["items_on_time" if supervision.on_time(deadline, _local_date(closed_at)) else "items_overdue"] += 1
    start, end = datetime(year, 1, 1, tzinfo=tz()), datetime(year + 1, 1, 1, tzinfo=tz())
    for uid, n in session.execute(
            select(Matter.responsible_unit_id, func.count(Escalation.id))
            .join(Matter, Matter.id == Escalation.matter_id)
            .where(Escalation.raised_at >= start, Escalation.raised_at < end, Escalation.raised_at <= as_of,
                   Escalation.level.in_(rules.escalation_levels)).group_by(Matter.responsible_unit_id)):
        if (r := row(uid)) is not None:
            r.counts["escalations"] = n
    for t in session.scalars(select(SupervisionTask).where(
            SupervisionTask.kind == TASK_RECTIFICATION, SupervisionTask.created_at >= start,
            SupervisionTask.created_at < end, SupervisionTask.created_at <= as_of)):
        if (r := row(t.unit_id)) is not None:
            r.counts["findings"] += 1
            closed_on = _local_date(t.closed_at)
            late = (supervision.task_overdue(t, today) if closed_on is None
                    else not supervision.on_time(t.deadline, closed_on))
            r.counts["findings_overdue"] += late
    for uid, total in session.execute(
            select(AccountabilityCase.unit_id, func.sum(AccountabilityCase.deduction))
            .where(AccountabilityCase.year == year, AccountabilityCase.state == CASE_DECIDED,
                   AccountabilityCase.decided_at <= as_of).group_by(AccountabilityCase.unit_id)):
        if (r := row(uid)) is not None:
            r.deductions = float(total or 0)
    for r in rows.values():
        r.score = rules.score(r.counts, r.deductions)
    return sorted(rows.values(), key=lambda r: (r.score, r.unit))


__all__ = ["assessment", "UnitRow"]
