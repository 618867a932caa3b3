"""Report compliance — ONE rule for 未报, reminders, 超期未报, roll-ups, 通报 and the monthly report.

Who reports on a matter (`sql_reporting_unit` / `reporting_unit_id`): the lead unit (牵头单位) of its minutes
or slip — "会议纪要撰写、会签及问题清单填报、后续跟踪均由牵头单位负责" (seed 000 附件3 note 2) — else (a slip
without a lead unit, a joint-meeting decision, minutes older than migration 0008) its responsible unit. A
responsible unit may still report on its own items; that is shown to the lead unit, not counted for it.

A unit owes a report for a period when it reports on a matter created by the period's deadline, not closed
before the period opened, and not already awaiting 销号 when the period opened (`sql_expected_in`: such a
unit is told "无需填报", so it is not counted, reminded, named or recorded as missing either). Its report is

- on time iff its FIRST submission for the period came at or before the deadline (a later revision
  does not make it late);
- late if the first submission came after the deadline;
- missing if none came by `as_of`.

`classify` is the rule for one unit; `sql_status` is the same rule as one SQL statement for jobs over
thousands of units. A deadline a unit missed is also recorded as a fact (`MissedDeadline`, written by
the report_overdue job through `record_missed`) and counted from there (`missed_counts`).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Optional

from sqlalchemy import String, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.domain.periods import Period, is_late
from bot.infra.db import dialect_insert
from models import AssignmentSlip, Matter, Minutes, MissedDeadline, ReportSubmission, utcnow

ON_TIME = "on_time"
LATE = "late"
MISSING = "missing"
# The source of a report (ReportSubmission.source): the problem list of ONE minutes (附件3) or ONE slip
# (附件4) — "minutes:12" / "slip:3" — or NO_SOURCE for items of neither (joint-meeting decisions). ALL_SOURCES
# is a report made before reports were per source (migration 0014): it counts for each source of the unit.
NO_SOURCE = ""
ALL_SOURCES = "*"
STATUS_ORDER = {ON_TIME: 0, LATE: 1, MISSING: 2}


def classify(first_at: Optional[datetime], period: Period, as_of: Optional[datetime] = None) -> str:
    """The status of a unit's report from its first submission for `period` (None: none yet), as of
    `as_of` (None: whatever has been submitted)."""
    if first_at is None or (as_of is not None and first_at > as_of):
        return MISSING
    return LATE if is_late(first_at, period) else ON_TIME


def sql_reporting_unit():
    """The unit that reports on each Matter (a SQL expression): the lead unit of its minutes or slip,
    else its responsible unit."""
    minutes_lead = select(Minutes.lead_unit_id).where(Minutes.id == Matter.minutes_id).scalar_subquery()
    slip_lead = select(AssignmentSlip.lead_unit_id).where(AssignmentSlip.id == Matter.slip_id).scalar_subquery()
    return func.coalesce(minutes_lead, slip_lead, Matter.responsible_unit_id)


def reporting_unit_id(matter: Matter) -> int:
    """`sql_reporting_unit` for one loaded Matter."""
    source = matter.minutes if matter.minutes_id is not None else matter.slip if matter.slip_id is not None else None
    lead = getattr(source, "lead_unit_id", None)
    return lead if lead is not None else matter.responsible_unit_id


def sql_source():
    """The source of each Matter's report (a SQL expression): "minutes:<id>", "slip:<id>" or ""."""
    return func.coalesce(literal("minutes:") + cast(Matter.minutes_id, String),
                         literal("slip:") + cast(Matter.slip_id, String), literal(NO_SOURCE))


def source_of(matter: Matter) -> str:
    """`sql_source` for one loaded Matter."""
    if matter.minutes_id is not None:
        return f"minutes:{matter.minutes_id}"
    if matter.slip_id is not None:
        return f"slip:{matter.slip_id}"
    return NO_SOURCE


SECRET_LABEL = "涉密事项问题清单（未列明细）"


def source_labels(session: Session, sources: Iterable[str], public: bool = False) -> dict[str, str]:
    """source -> how texts name it: "《区长专题调度会议纪要（2026-12-03）》问题清单", "事项交办单JB3落实情况",
    "本单位其他事项" (no source), "问题清单" (a report of every source, made before 0014). `public`: for a
    group chat or mail — a 保密 minutes / slip is named SECRET_LABEL, never by its title."""
    wanted = set(sources)
    minutes_ids = [int(x.split(":")[1]) for x in wanted if x.startswith("minutes:")]
    slip_ids = [int(x.split(":")[1]) for x in wanted if x.startswith("slip:")]
    out = {NO_SOURCE: "本单位其他事项", ALL_SOURCES: "问题清单"}
    for mid, title, day, secret in session.execute(
            select(Minutes.id, Minutes.title, Minutes.meeting_date, Minutes.confidential)
            .where(Minutes.id.in_(minutes_ids))) if minutes_ids else ():
        out[f"minutes:{mid}"] = SECRET_LABEL if public and secret else f"《{title}（{day.isoformat()}）》问题清单"
    for sid, code, secret in session.execute(select(AssignmentSlip.id, AssignmentSlip.code, AssignmentSlip.confidential)
                                             .where(AssignmentSlip.id.in_(slip_ids))) if slip_ids else ():
        out[f"slip:{sid}"] = SECRET_LABEL if public and secret else f"事项交办单{code}落实情况"
    return {k: out.get(k, k) for k in wanted}


def worst(statuses: Iterable[str]) -> str:
    """One unit's status over its lists of a period: missing if one is missing, else late if one is late."""
    return max(statuses, key=STATUS_ORDER.__getitem__, default=ON_TIME)


def by_unit(status: dict[tuple[int, str, str], str]) -> dict[tuple[int, str], str]:
    """(unit, source, period) -> status folded to (unit, period) -> the worst of its lists."""
    out: dict[tuple[int, str], list[str]] = {}
    for (uid, _src, key), st in status.items():
        out.setdefault((uid, key), []).append(st)
    return {k: worst(v) for k, v in out.items()}


def sql_led_by(unit_ids: Iterable[int]):
    """Matters of the minutes and slips these units lead (a SQL condition on Matter)."""
    ids = sorted(set(unit_ids))
    return or_(Matter.minutes_id.in_(select(Minutes.id).where(Minutes.lead_unit_id.in_(ids))),
               Matter.slip_id.in_(select(AssignmentSlip.id).where(AssignmentSlip.lead_unit_id.in_(ids))))


def owes_report(matter: Matter, period: Period) -> bool:
    """`sql_expected_in` for one loaded Matter."""
    return (matter.created_at <= period.deadline
            and (matter.closed_at is None or matter.closed_at > period.opens)
            and (matter.claimed_at is None or matter.claimed_at > period.opens)
            and (matter.withdrawn_at is None or matter.withdrawn_at > period.deadline))


def sql_expected_in(period: Period):
    """Matters that owe a report for `period`: created by its deadline, not closed before it opened, not
    awaiting 销号 since before it opened (nothing left to report: "无需填报") and not withdrawn (撤销印发 of
    its minutes / slip) by its deadline: a withdrawn item is void, owed only in periods already due."""
    return and_(Matter.created_at <= period.deadline,
                or_(Matter.closed_at.is_(None), Matter.closed_at > period.opens),
                or_(Matter.claimed_at.is_(None), Matter.claimed_at > period.opens),
                or_(Matter.withdrawn_at.is_(None), Matter.withdrawn_at > period.deadline))


def sql_first_submissions(period_key: str, as_of: Optional[datetime] = None):
    """(unit_id, first_at): each unit's first submission for the period (made by `as_of`), of any source."""
    conds = [ReportSubmission.period_key == period_key]
    if as_of is not None:
        conds.append(ReportSubmission.submitted_at <= as_of)
    return (select(ReportSubmission.unit_id, func.min(ReportSubmission.submitted_at).label("first_at"))
            .where(*conds).group_by(ReportSubmission.unit_id))


def sql_first_by_source(period_key: str, as_of: Optional[datetime] = None):
    """(unit_id, source, first_at): each unit's first submission per source for the period."""
    conds = [ReportSubmission.period_key == period_key]
    if as_of is not None:
        conds.append(ReportSubmission.submitted_at <= as_of)
    return (select(ReportSubmission.unit_id, ReportSubmission.source,
                   func.min(ReportSubmission.submitted_at).label("first_at"))
            .where(*conds).group_by(ReportSubmission.unit_id, ReportSubmission.source))


def sql_owed(period: Period, scope=None):
    """(unit_id, source): what is owed for `period` — ONE problem list per (reporting unit, minutes or slip),
    for the matters that owe a report (`sql_expected_in`; `scope`: an extra condition on them)."""
    return (select(sql_reporting_unit().label("unit_id"), sql_source().label("source"))
            .where(sql_expected_in(period), *(() if scope is None else (scope,))).distinct())


def sql_status(period: Period, as_of: Optional[datetime] = None, scope=None):
    """(unit_id, source, first_at, status) for every list owed for `period` — `classify` as one statement.
    A report made for every source at once (ALL_SOURCES, before 0014) counts for each."""
    owing = sql_owed(period, scope).subquery("owing")
    first = sql_first_by_source(period.key, as_of).subquery("first")
    first_at = func.min(first.c.first_at)
    status = case((first_at.is_(None), literal(MISSING)),
                  (first_at <= period.deadline, literal(ON_TIME)), else_=literal(LATE))
    return (select(owing.c.unit_id, owing.c.source, first_at.label("first_at"), status.label("status"))
            .select_from(owing)
            .outerjoin(first, and_(first.c.unit_id == owing.c.unit_id,
                                   or_(first.c.source == owing.c.source, first.c.source == ALL_SOURCES)))
            .group_by(owing.c.unit_id, owing.c.source))


def report_status(session: Session, periods: Iterable[Period], as_of: Optional[datetime] = None,
                  unit_ids: Optional[Iterable[int]] = None, scope=None) -> dict[tuple[int, str, str], str]:
    """(unit id, source, period key) -> on_time / late / missing, for every list owed (only by `unit_ids`
    when given; only for matters matching `scope` when given). `by_unit` folds it per unit."""
    wanted = None if unit_ids is None else set(unit_ids)
    out: dict[tuple[int, str, str], str] = {}
    for p in periods:
        for uid, source, _first, status in session.execute(sql_status(p, as_of, scope)):
            if wanted is None or uid in wanted:
                out[(uid, source, p.key)] = status
    return out


def first_submissions(session: Session, period: Period, unit_ids: Optional[Iterable[int]] = None,
                      as_of: Optional[datetime] = None, source: Optional[str] = None) -> dict[int, datetime]:
    """unit id -> its first submission for `period` (units that submitted; only `unit_ids` when given; only
    for `source` — or a report of every source — when given)."""
    q = sql_first_submissions(period.key, as_of)
    if source is not None:
        q = q.where(ReportSubmission.source.in_((source, ALL_SOURCES)))
    if unit_ids is not None:
        q = q.where(ReportSubmission.unit_id.in_(sorted(set(unit_ids))))
    return dict(session.execute(q).all())


def status_of(session: Session, unit_id: int, period: Period, as_of: Optional[datetime] = None,
              source: Optional[str] = None) -> str:
    """The status of one unit's report (of `source`, when given) for `period`."""
    return classify(first_submissions(session, period, [unit_id], as_of, source).get(unit_id), period, as_of)


def late_if_submitted(session: Session, unit_id: int, period: Period, moment: datetime,
                      source: Optional[str] = None) -> bool:
    """Would the unit's report (of `source`) for `period` be late if it submitted at `moment`? (An earlier
    submission decides: a revision keeps the first one's status.)"""
    first = first_submissions(session, period, [unit_id], moment, source).get(unit_id)
    return classify(first or moment, period) == LATE


# -- missed deadlines as facts ------------------------------------------------------------------
def record_missed(session: Session, period: Period, missed: Iterable,
                  recorded_at: Optional[datetime] = None) -> list:
    """Record that these lists — (unit id, source) pairs; a bare unit id is its NO_SOURCE list — missed
    `period`'s deadline, once per (unit, source, period); returns the pairs recorded now (ON CONFLICT DO
    NOTHING: a rerun or a second scheduler adds nothing)."""
    now = recorded_at or utcnow()
    pairs = sorted({m if isinstance(m, tuple) else (m, NO_SOURCE) for m in missed})
    rows = [dict(unit_id=uid, source=src, period_key=period.key, deadline=period.deadline, recorded_at=now)
            for uid, src in pairs]
    if not rows:
        return []
    table = MissedDeadline.__table__
    stmt = (dialect_insert(session)(table)
            .on_conflict_do_nothing(index_elements=["unit_id", "period_key", "source"])
            .returning(table.c.unit_id, table.c.source))
    return [tuple(r) for r in session.connection().execute(stmt, rows)]


def missed_counts(session: Session, year: int, unit_ids: Optional[Iterable[int]] = None) -> dict[int, int]:
    """unit id -> lists of `year` the unit missed (as recorded at each deadline; one per list and period)."""
    q = (select(MissedDeadline.unit_id, func.count(MissedDeadline.id))
         .where(MissedDeadline.period_key.like(f"{year:04d}-%")).group_by(MissedDeadline.unit_id))
    if unit_ids is not None:
        q = q.where(MissedDeadline.unit_id.in_(sorted(set(unit_ids))))
    return dict(session.execute(q).all())
