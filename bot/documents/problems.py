"""附件3 重点工作定期调度问题清单: per lead unit and period, or for one minutes.

One row per minutes; inside the 调度事项 / 已完成 / 未完成 / 计划时限 cells the items are numbered 1. 2. 3.
on separate lines. Where the figures come from is one function, `ROW_SOURCE`: the problem list the
minutes' lead unit submitted for the period (`rows_from_problem_list`, the current version); for minutes
without a lead unit, the responsible units' own reports (`rows_from_unit_reports`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from bot.documents.forms import Column, Form, numbered, write_xlsx
from bot.documents.texts import lines, part
from bot.domain.periods import Period
from bot.domain.responsibility import units_label
from bot.domain.scope import matter_filter, sql_confidential
from bot.infra.text import render
from models import ITEM_DONE, MATTER_CLOSED, Matter, Minutes, ReportItem, ReportSubmission, Unit

WIDTHS = (10, 14, 12, 22, 40, 14, 30, 30, 14)
CENTERED = {0, 1, 2, 5}


@dataclass
class ProblemRow:
    leader: str
    drafting_unit: str
    meeting_date: str
    minutes_name: str
    matters: list[str]
    lead_units: str
    done: list[str]
    open: list[str]
    planned: list[str]  # one per open item, same order

    def cells(self) -> list:
        return [self.leader, self.drafting_unit, self.meeting_date, self.minutes_name, numbered(self.matters),
                self.lead_units, numbered(self.done), numbered(self.open), numbered(self.planned)]


def current_as_of(as_of: Optional[int]):
    """The condition on ReportSubmission for the versions that count: the current ones, or (`as_of`, a
    submission's id) those that were current when that submission was made — of each (unit, period,
    source), the latest version up to it."""
    if as_of is None:
        return ReportSubmission.current.is_(True)
    later = aliased(ReportSubmission)
    return and_(ReportSubmission.id <= as_of, ~exists().where(
        later.unit_id == ReportSubmission.unit_id, later.period_key == ReportSubmission.period_key,
        later.source == ReportSubmission.source, later.id > ReportSubmission.id, later.id <= as_of))


def rows_from_unit_reports(session: Session, minutes: Minutes, matters: list[Matter], period: Period,
                           reporter_id: Optional[int] = None, as_of: Optional[int] = None) -> ProblemRow:
    """A minutes' row from what was reported for `period` — by `reporter_id` only when given, else by
    anyone (an item not reported falls back to the ledger: 销号 → done, else open with its current deadline);
    the current versions, or those current when submission `as_of` was made (`current_as_of`)."""
    from bot.infra.text import cn_date

    by = () if reporter_id is None else (ReportSubmission.unit_id == reporter_id,)
    items = {i.matter_id: i for i in session.scalars(
        select(ReportItem).join(ReportSubmission, ReportSubmission.id == ReportItem.submission_id)
        .where(ReportSubmission.period_key == period.key, current_as_of(as_of), *by,
               ReportItem.matter_id.in_([m.id for m in matters])))}
    done, open_, planned, leads = [], [], [], []
    for m in matters:
        item = items.get(m.id)
        unit = units_label(m)  # "区住建局（主办）、区发改局"
        lead = minutes.lead_unit or m.lead_unit or minutes.drafting_unit
        if lead is not None and lead.name not in leads:
            leads.append(lead.name)
        is_done = item.status == ITEM_DONE if item is not None else m.state == MATTER_CLOSED
        progress = item.progress if item is not None else m.last_progress
        if is_done:
            done.append(part("annex3", "done", title=m.title, progress=progress or unit))
        else:
            open_.append(part("annex3", "open", title=m.title, progress=progress if item is not None else None))
            when = (item.planned_deadline if item is not None else None) or m.planned_deadline or m.deadline
            planned.append(part("annex3", "planned", deadline=when))
    return ProblemRow(
        leader=minutes.leader.name, drafting_unit=minutes.drafting_unit.name,
        meeting_date=cn_date(minutes.meeting_date),
        minutes_name=part("annex3", "minutes_name", title=minutes.title, number=minutes.number),
        matters=[part("annex3", "matter", title=m.title, unit=units_label(m),
                      deadline=m.deadline) for m in matters],
        lead_units=" ".join(leads), done=done, open=open_, planned=planned)


def rows_from_problem_list(session: Session, minutes: Minutes, matters: list[Matter], period: Period,
                           as_of: Optional[int] = None) -> ProblemRow:
    """A minutes' row from its lead unit's problem list for `period` (附件3 is the lead unit's form:
    "单位：（盖章）"); minutes without a lead unit: the responsible units' reports."""
    return rows_from_unit_reports(session, minutes, matters, period, reporter_id=minutes.lead_unit_id, as_of=as_of)


ROW_SOURCE: Callable[..., ProblemRow] = rows_from_problem_list  # (session, minutes, matters, period, as_of=None)


def minutes_in_scope(session: Session, roles, period: Period, lead_unit: Optional[Unit] = None,
                     minutes_id: Optional[int] = None, public: bool = False) -> list[tuple[Minutes, list[Matter]]]:
    """The minutes of the list with the matters `roles` may see: held by the period's deadline, and with a
    matter still open or closed after the period opened (a list rolls on until everything is done).
    `public`: the file goes to a group chat or mailbox — no item of 保密 minutes (`sql_confidential`)."""
    visible = [matter_filter(roles), Matter.minutes_id.is_not(None)] + ([~sql_confidential()] if public else [])
    q = select(Minutes).where(Minutes.id.in_(select(Matter.minutes_id).where(*visible))) \
        .options(selectinload(Minutes.leader), selectinload(Minutes.drafting_unit))
    if minutes_id is not None:
        q = q.where(Minutes.id == minutes_id)
    else:
        q = q.where(Minutes.meeting_date <= period.deadline_date)
    if lead_unit is not None:
        q = q.where(or_(Minutes.lead_unit_id == lead_unit.id, Minutes.drafting_unit_id == lead_unit.id,
                        Minutes.id.in_(select(Matter.minutes_id).where(Matter.lead_unit_id == lead_unit.id))))
    out = []
    for mn in session.scalars(q.order_by(Minutes.meeting_date, Minutes.id)):
        matters = list(session.scalars(select(Matter).where(Matter.minutes_id == mn.id, *visible)
                                       .options(selectinload(Matter.responsible_unit), selectinload(Matter.lead_unit),
                                                selectinload(Matter.unit_links))
                                       .order_by(Matter.seq, Matter.id)))
        live = [m for m in matters if m.state != MATTER_CLOSED or m.closed_at is None or m.closed_at > period.opens]
        if minutes_id is not None or live:
            out.append((mn, matters))
    return out


def annex3_form(session: Session, roles, period: Period, lead_unit: Optional[Unit] = None,
                minutes_id: Optional[int] = None, public: bool = False, as_of: Optional[int] = None) -> Form:
    """`as_of`: the reports as they stood when that submission was made (`current_as_of`)."""
    listed = minutes_in_scope(session, roles, period, lead_unit, minutes_id, public)
    rows = [ROW_SOURCE(session, mn, matters, period, as_of=as_of).cells() for mn, matters in listed]
    notes = lines("annex3", "notes")
    if public:  # the items left out, counted
        secret = (sum(len(ms) for _mn, ms in minutes_in_scope(session, roles, period, lead_unit, minutes_id))
                  - sum(len(ms) for _mn, ms in listed))
        if secret:
            notes.append(render("core/_secret.txt", secret=secret).strip())
    liaison = lead_unit.liaison if lead_unit is not None else None
    columns = [Column(t, w, i in CENTERED)
               for i, (t, w) in enumerate(zip(lines("annex3", "columns"), WIDTHS, strict=False))]
    return Form(sheet=part("annex3", "sheet"), label=part("annex3", "label"), title=part("annex3", "title"),
                header_lines=[part("annex3", "unit_line", unit=lead_unit.name if lead_unit else ""),
                              part("annex3", "period_line", period=period_label(period))],
                columns=columns, rows=rows, notes=notes,
                footer=lines("annex3", "footer", liaison=_real_name(liaison),
                             phone=liaison.mobile if liaison is not None and not liaison.placeholder else None))


def period_label(period: Period) -> str:
    return f"{period.year}年{period.month}月{period.nominal_date.day}日"


def _real_name(person) -> Optional[str]:
    return person.name if person is not None and not person.placeholder else None


def annex3_xlsx(session: Session, roles, period: Period, lead_unit: Optional[Unit] = None,
                minutes_id: Optional[int] = None, public: bool = False, as_of: Optional[int] = None) -> bytes:
    return write_xlsx([annex3_form(session, roles, period, lead_unit, minutes_id, public, as_of)])


def annex3_filename(period: Period, who: str) -> str:
    return part("annex3", "filename", who=who, period=period.key)

