"""The board's queries: the filtered, sorted, paged ledger, and what an item page, the compliance page and
the projects page show. Every ledger query starts from bot.domain.scope.matter_filter (the chat's rule)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from bot.actions.status import unreported_summary
from bot.domain import ledger, reporting
from bot.domain.periods import Period, period_at, period_by_key, periods_in_month, previous_period
from bot.domain.roles import Roles
from bot.domain.scope import matter_filter, sees_all
from models import (
    KIND_MINUTES,
    KIND_SLIP,
    KIND_TOPIC,
    MATTER_STATES,
    AssignmentSlip,
    Escalation,
    ExtensionRequest,
    KeyProject,
    Matter,
    MeetingTopic,
    Person,
    ReportItem,
    ReportSubmission,
    Unit,
    WeeklyProjectReport,
)

PAGE_SIZE = 50
SORTS = {
    "deadline": (Matter.deadline, Matter.code),
    "-deadline": (Matter.deadline.desc(), Matter.code),
    "code": (Matter.code,),
    "progress": (Matter.last_progress_at.desc().nulls_last(), Matter.code),
    "unit": (Unit.name, Matter.deadline, Matter.code),
}
KINDS = (KIND_MINUTES, KIND_SLIP, KIND_TOPIC)
LIGHTS = (ledger.RED, ledger.YELLOW, ledger.GREEN, ledger.CLOSED)


@dataclass
class Filters:
    """The ledger's filters as they stand in the URL (invalid values are ignored, never an error)."""

    leader: Optional[int] = None
    unit: Optional[int] = None
    kind: str = ""
    state: str = ""
    light: str = ""
    overdue: bool = False
    period: str = ""
    q: str = ""
    sort: str = "deadline"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> Filters:
        def _int(name):
            try:
                return int(args.get(name, "")) or None
            except ValueError:
                return None

        period = args.get("period", "")
        try:
            period_by_key(period)
        except (ValueError, TypeError):
            period = ""
        return cls(leader=_int("leader"), unit=_int("unit"),
                   kind=args.get("kind", "") if args.get("kind") in KINDS else "",
                   state=args.get("state", "") if args.get("state") in MATTER_STATES else "",
                   light=args.get("light", "") if args.get("light") in LIGHTS else "",
                   overdue=args.get("overdue") == "1", period=period, q=(args.get("q") or "").strip()[:50],
                   sort=args.get("sort", "deadline") if args.get("sort") in SORTS else "deadline",
                   page=max(1, _int("page") or 1))

    def args(self, **change) -> dict:
        """The query string of these filters with some changed (for links: sort, page)."""
        d = {"leader": self.leader, "unit": self.unit, "kind": self.kind, "state": self.state,
             "light": self.light, "overdue": "1" if self.overdue else "", "period": self.period, "q": self.q,
             "sort": self.sort if self.sort != "deadline" else "", "page": self.page if self.page > 1 else ""}
        d.update(change)
        return {k: v for k, v in d.items() if v not in (None, "", 0)}


def conditions(f: Filters, roles: Roles, now: datetime) -> list:
    today = now.date()
    cutoff = ledger.progress_cutoff(now)
    conds = [matter_filter(roles)]
    if f.leader:
        conds.append(Matter.leader_id == f.leader)
    if f.unit:
        conds.append(or_(Matter.responsible_unit_id == f.unit, Matter.lead_unit_id == f.unit))
    if f.kind:
        conds.append(Matter.kind == f.kind)
    if f.state:
        conds.append(Matter.state == f.state)
    if f.light == ledger.RED:
        conds.append(ledger.sql_light_red(today))
    elif f.light == ledger.YELLOW:
        conds.append(ledger.sql_light_yellow(today, cutoff))
    elif f.light == ledger.GREEN:
        conds.append(ledger.sql_light_green(today, cutoff))
    elif f.light == ledger.CLOSED:
        conds.append(~ledger.sql_open())
    if f.overdue:
        conds.append(ledger.sql_overdue(today))
    if f.period:
        conds.append(reporting.sql_expected_in(period_by_key(f.period)))
    if f.q:
        like = f"%{f.q}%"
        conds.append(or_(Matter.code.ilike(like), Matter.title.ilike(like), Matter.obstacles.ilike(like),
                         Matter.last_progress.ilike(like)))
    return conds


@dataclass
class Row:
    m: Matter
    v: ledger.ItemView


def ledger_page(s: Session, roles: Roles, now: datetime, f: Filters) -> tuple[int, list[Row]]:
    conds = conditions(f, roles, now)
    total = s.scalar(select(func.count(Matter.id)).where(*conds)) or 0
    q = (select(Matter).join(Unit, Matter.responsible_unit_id == Unit.id).where(*conds)
         .options(joinedload(Matter.responsible_unit), joinedload(Matter.leader), joinedload(Matter.lead_unit)))
    q = q.order_by(*SORTS[f.sort]).offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return total, [Row(m, ledger.item_view(m, now)) for m in s.scalars(q).unique()]


def filter_choices(s: Session, roles: Roles) -> dict:
    """The leaders and units that occur in the viewer's items, for the filter menus."""
    visible = select(Matter.leader_id, Matter.responsible_unit_id).where(matter_filter(roles)).subquery()
    leaders = s.execute(select(Person.id, Person.name).where(Person.id.in_(select(visible.c.leader_id)))
                        .order_by(Person.name)).all()
    units = s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(select(visible.c.responsible_unit_id)))
                      .order_by(Unit.name)).all()
    return {"leaders": leaders, "units": units}


def recent_periods(now: datetime, n: int = 6) -> list[Period]:
    p, out = period_at(now), []
    for _ in range(n):
        out.append(p)
        p = previous_period(p)
    return out


# -- one item ----------------------------------------------------------------------------------------
def item_page(s: Session, m: Matter) -> dict:
    reports = s.execute(select(ReportItem, ReportSubmission).join(ReportSubmission)
                        .where(ReportItem.matter_id == m.id)
                        .order_by(ReportSubmission.submitted_at.desc(), ReportSubmission.id.desc())).all()
    extensions = list(s.scalars(select(ExtensionRequest).where(ExtensionRequest.matter_id == m.id)
                                .order_by(ExtensionRequest.created_at)))
    escalations = list(s.scalars(select(Escalation).where(Escalation.matter_id == m.id).order_by(Escalation.level)))
    people = {p.id: p.name for p in s.scalars(select(Person).where(Person.id.in_(
        {e.requested_by_id for e in extensions} | {e.decided_by_id for e in extensions if e.decided_by_id}
        | {e.decided_by_id for e in escalations if e.decided_by_id} or {-1})))}
    slip = s.get(AssignmentSlip, m.slip_id) if m.slip_id else None
    topic = s.get(MeetingTopic, m.topic_id) if m.topic_id else None
    return {"reports": reports, "extensions": extensions, "escalations": escalations, "people": people,
            "minutes": m.minutes, "slip": slip, "topic": topic,
            "siblings": _siblings(s, m)}


def _siblings(s: Session, m: Matter) -> int:
    if m.minutes_id:
        return s.scalar(select(func.count(Matter.id)).where(Matter.minutes_id == m.minutes_id)) or 0
    if m.slip_id:
        return s.scalar(select(func.count(Matter.id)).where(Matter.slip_id == m.slip_id)) or 0
    return 0


# -- compliance --------------------------------------------------------------------------------------
def compliance(s: Session, roles: Roles, year: int, month: int, now: datetime) -> dict:
    """Per period of the month (the 未报 rule of chat), per unit and per leader: reports on time / late /
    missing. A period whose deadline is still ahead shows who has reported so far."""
    periods = periods_in_month(year, month)
    summaries = [unreported_summary(s, roles, p) for p in periods]
    by_unit: dict[int, dict] = {}
    for i, u in enumerate(summaries):
        for kind in ("on_time", "late", "missing"):
            for unit in getattr(u, kind):
                row = by_unit.setdefault(unit.id, {"unit": unit.name, "cells": [None] * len(periods)})
                row["cells"][i] = kind
    status_of = {(uid, i): c for uid, r in by_unit.items() for i, c in enumerate(r["cells"]) if c}
    # Per leader: the units owing reports for that leader's items, counted over the month's periods.
    pairs = s.execute(select(Matter.leader_id, reporting.sql_reporting_unit()).where(
        matter_filter(roles), Matter.leader_id.is_not(None)).distinct()).all()
    names = dict(s.execute(select(Person.id, Person.name).where(Person.id.in_({p for p, _ in pairs} or {-1}))).all())
    by_leader: dict[int, dict] = {}
    for leader_id, unit_id in pairs:
        row = by_leader.setdefault(leader_id, {"leader": names.get(leader_id, ""), "on_time": 0, "late": 0,
                                               "missing": 0})
        for i in range(len(periods)):
            c = status_of.get((unit_id, i))
            if c:
                row[c] += 1
    leaders = sorted(by_leader.values(), key=lambda r: (-(r["late"] + r["missing"]), r["leader"]))
    units = sorted(by_unit.values(), key=lambda r: (-sum(c in ("late", "missing") for c in r["cells"]), r["unit"]))
    chart = {"labels": [r["leader"] for r in leaders],
             "on_time": [r["on_time"] for r in leaders], "late": [r["late"] for r in leaders],
             "missing": [r["missing"] for r in leaders]}
    return {"periods": periods, "summaries": summaries, "units": units, "leaders": leaders, "chart": chart,
            "due": [now > p.deadline for p in periods]}


# -- key projects ------------------------------------------------------------------------------------
def may_see_project_work(roles: Roles, project: KeyProject) -> bool:
    """The milestones of seed 001 are a published document: everyone signed in sees them. The weekly forms
    and topics are the working papers of the joint meeting: the office and supervision group, the project's
    leader and the people of its lead units."""
    if sees_all(roles) or roles.person_id == project.leader_id:
        return True
    units = roles.liaison_unit_ids | roles.head_unit_ids
    return any(u.id in units for u in project.lead_units)


def projects(s: Session, roles: Roles) -> list[dict]:
    out = []
    for p in s.scalars(select(KeyProject).options(joinedload(KeyProject.milestones),
                                                  joinedload(KeyProject.lead_units), joinedload(KeyProject.leader))
                       .order_by(KeyProject.seq)).unique():
        work = may_see_project_work(roles, p)
        weekly = topics = []
        if work:
            weekly = list(s.scalars(select(WeeklyProjectReport).where(WeeklyProjectReport.project_id == p.id)
                                    .order_by(WeeklyProjectReport.week_start.desc()).limit(4)))
            topics = list(s.scalars(select(MeetingTopic).where(MeetingTopic.project_id == p.id)
                                    .order_by(MeetingTopic.raised_at.desc())))
        out.append({"p": p, "work": work, "weekly": weekly, "topics": topics})
    return out
