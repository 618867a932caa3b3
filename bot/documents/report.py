"""调度工作分析报告 (the supervision group's monthly analysis) as .docx, in the manner of GB/T 9704: title,
issuing body and date, sections 一、… 六、 with （一）（二） sub-headings drafted from the month's figures by
templates/documents/report.txt (plain official Chinese, meant to be edited before sign-off), the chart,
and as appendices the per-unit table and the ledger. Compared with the previous month where there is one."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Optional

from docx.shared import Cm
from sqlalchemy import func, select

from bot.documents import docx as D
from bot.documents.ledger import ledger_rows
from bot.documents.texts import level_name, lines, part
from bot.domain.ledger import sql_open
from bot.domain.periods import month_bounds
from bot.domain.roles import Roles
from bot.domain.scope import sql_confidential
from bot.infra.text import render
from models import (
    ESC_ACCOUNTABILITY,
    ESC_INTERVIEW,
    ROLE_SUPERVISION,
    DispatchRow,
    Escalation,
    Matter,
    Minutes,
    Person,
    Unit,
    WorkGroup,
)

NUMERALS = "零一二三四五六七八九十"
UNIT_HEADERS = ["责任单位", "事项总数", "已销号", "未销号", "逾期", "本月新增", "本月销号", "按时报送率(%)",
                "迟报/未报"]
PROJECT_HEADERS = ["重点项目", "牵头单位", "应报周报", "已审核", "按时审核", "到期节点", "按期完成", "逾期完成",
                   "逾期未完成"]
LEDGER_COLUMNS = (1, 3, 4, 5, 7, 8, 10, 12, 13, 14)  # of bot.documents.ledger's columns: the ones a page can hold
ACCOUNTABILITY_LIMIT = 20
SEES_ALL = Roles(person_id=0, names=frozenset({ROLE_SUPERVISION}))  # the report is the supervision group's


def cn_num(n: int) -> str:
    """一 … 九十九, for （一）（二）… headings."""
    if n <= 10:
        return NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens] if tens > 1 else "") + "十" + (NUMERALS[ones] if ones else "")


@dataclass
class Analysis:
    """What the text needs beyond bot.jobs.monthly.compute's figures."""

    as_of: date
    meetings: list[dict] = field(default_factory=list)  # per leader of 附件2: name, count
    no_meeting: list[str] = field(default_factory=list)
    overdue_units: list[str] = field(default_factory=list)
    escalations: list[tuple[str, int]] = field(default_factory=list)  # (ladder step, count raised in the month)
    escalations_total: int = 0
    accountability: list[dict] = field(default_factory=list)  # 效能问责 candidates
    accountability_secret: int = 0  # of them, items of 保密 minutes / slips: counted, never listed
    interview_days: int = 30
    spot_checks: int = 0  # 现场抽查 planned in the month
    rectifications: int = 0  # 整改要求 asked in the month
    rectifications_open: int = 0  # of all, not closed at the month's end
    cases: int = 0  # 效能问责 decided in the month
    highlights: list[dict] = field(default_factory=list)  # 亮点 marked in the month


def analyse(session, report, year: int, month: int, interview_days: int = 30) -> Analysis:
    start, end = month_bounds(year, month)
    first, nxt = start.date(), end.date()
    a = Analysis(as_of=nxt, interview_days=interview_days)
    held = dict(session.execute(select(Minutes.leader_id, func.count(Minutes.id))
                                .where(Minutes.meeting_date >= first, Minutes.meeting_date < nxt)
                                .group_by(Minutes.leader_id)).all())
    for leader_id, name in session.execute(select(DispatchRow.leader_id, Person.name)
                                           .join(Person, Person.id == DispatchRow.leader_id).order_by(DispatchRow.seq)):
        if any(m["id"] == leader_id for m in a.meetings):
            continue
        a.meetings.append({"id": leader_id, "name": name, "count": held.get(leader_id, 0)})
    a.no_meeting = [m["name"] for m in a.meetings if not m["count"]]
    a.overdue_units = [u["name"] for u in report.units if u["overdue"]]
    by_level = dict(session.execute(select(Escalation.level, func.count(Escalation.id))
                                    .where(Escalation.raised_at >= start, Escalation.raised_at < end)
                                    .group_by(Escalation.level)).all())
    a.escalations = [(level_name(lv), n) for lv, n in sorted(by_level.items())]
    a.escalations_total = sum(by_level.values())
    # the rung before 效能问责 reached (督查约谈) or 效能问责 itself, and still not done
    hard = (sql_open(), Matter.created_at < end, Matter.escalation_level.in_((ESC_INTERVIEW, ESC_ACCOUNTABILITY)))
    for code, title, unit in session.execute(
            select(Matter.code, Matter.title, Unit.name).join(Unit, Unit.id == Matter.responsible_unit_id)
            .where(*hard, ~sql_confidential()).order_by(Matter.deadline, Matter.id).limit(ACCOUNTABILITY_LIMIT)):
        a.accountability.append({"code": code, "title": title, "unit": unit})
    a.accountability_secret = session.scalar(select(func.count(Matter.id)).where(*hard, sql_confidential())) or 0
    _supervision(session, a, start, end)
    return a


def _supervision(session, a: Analysis, start, end) -> None:
    """The supervision group's own work of the month: spot checks, rectifications, decided cases, 亮点."""
    from models import (
        CASE_DECIDED,
        TASK_CLOSED,
        TASK_RECTIFICATION,
        AccountabilityCase,
        Highlight,
        SpotCheck,
        SupervisionTask,
    )

    a.spot_checks = session.scalar(select(func.count(SpotCheck.id)).where(
        SpotCheck.planned_on >= start.date(), SpotCheck.planned_on < end.date())) or 0
    rect = (SupervisionTask.kind == TASK_RECTIFICATION, SupervisionTask.created_at < end)
    a.rectifications = session.scalar(select(func.count(SupervisionTask.id)).where(
        *rect, SupervisionTask.created_at >= start)) or 0
    a.rectifications_open = session.scalar(select(func.count(SupervisionTask.id)).where(
        *rect, (SupervisionTask.state != TASK_CLOSED) | (SupervisionTask.closed_at >= end))) or 0
    a.cases = session.scalar(select(func.count(AccountabilityCase.id)).where(
        AccountabilityCase.state == CASE_DECIDED, AccountabilityCase.decided_at >= start,
        AccountabilityCase.decided_at < end)) or 0
    a.highlights = [{"unit": u, "text": t} for u, t in session.execute(
        select(Unit.name, Highlight.text).join(Unit, Unit.id == Highlight.unit_id)
        .where(Highlight.marked_at >= start, Highlight.marked_at < end).order_by(Highlight.id))]


def issuer(session) -> str:
    name = session.scalar(select(WorkGroup.name).where(WorkGroup.code == "supervision"))
    return render("documents/report_issuer.txt", group=name)


def report_docx(session, report, year: int, month: int, *, previous=None, chart: Optional[Path] = None,
                interview_days: int = 30, ledger_roles: Optional[Roles] = None) -> bytes:
    a = analyse(session, report, year, month, interview_days)
    ctx = dict(r=report, p=previous, a=a, year=year, month=month, cn_num=cn_num,
               laggards_n=sum(1 for u in report.units if u["late"]), month_key=report.month)
    doc = D.new_document(official=True)
    D.para(doc, part("report", "title", **ctx), name=D.TITLE_FONT, size=D.TITLE_PT, align=D.CENTER, space_after=6)
    D.para(doc, part("report", "issuer", issuer=issuer(session), **ctx), name=D.BODY_FONT, align=D.CENTER)
    D.para(doc, part("report", "date", day=a.as_of, **ctx), name=D.BODY_FONT, align=D.CENTER, space_after=12)
    D.para(doc, part("report", "intro", **ctx), indent=True)
    for section in ("s1", "s2", "s3", "s4", "s5", "s6"):
        for i, text in enumerate(lines("report", section, **ctx)):
            if i == 0:
                D.para(doc, text, name=D.HEADING_FONT, indent=True)
            elif text.startswith("（"):
                D.para(doc, text, name=D.SUBHEADING_FONT, indent=True)
            else:
                D.para(doc, text, indent=True)
        if section == "s1" and chart is not None and Path(chart).exists():
            doc.add_picture(str(chart), width=Cm(15.5))
            doc.paragraphs[-1].alignment = D.CENTER
    D.para(doc, "")
    for i, text in enumerate(lines("report", "appendix_list", **ctx)):
        p = D.para(doc, text, indent=True)
        if i:
            p.paragraph_format.left_indent = D.Pt(D.BODY_PT * 5)
            p.paragraph_format.first_line_indent = None
    # appendices on landscape pages
    section = doc.add_section()
    D.set_section(section, landscape=True)
    head, title = lines("report", "appendix1", **ctx)
    D.para(doc, head, name=D.HEADING_FONT)
    D.para(doc, title, name=D.TITLE_FONT, size=18, align=D.CENTER, space_after=6)
    D.table(doc, UNIT_HEADERS, [[u["name"], u["total"], u["done"], u["open"], u["overdue"], u["new"], u["closed"],
                                 "—" if u["rate"] is None else u["rate"], u["late"]] for u in report.units],
            [6.0] + [2.4] * 8)
    doc.add_page_break()
    head, title = lines("report", "appendix2", **ctx)
    D.para(doc, head, name=D.HEADING_FONT)
    D.para(doc, title, name=D.TITLE_FONT, size=18, align=D.CENTER, space_after=6)
    from bot.documents.texts import lines as form_lines

    columns = form_lines("ledger", "columns")
    end = month_bounds(year, month)[1]
    rows = ledger_rows(session, ledger_roles or SEES_ALL, end, conds=(Matter.created_at < end,))
    D.table(doc, [columns[i] for i in LEDGER_COLUMNS], [[r[i] for i in LEDGER_COLUMNS] for r in rows],
            [1.6, 5.2, 1.8, 3.0, 2.0, 1.6, 2.6, 1.4, 3.2, 5.0], size=9)
    if report.projects or report.cooperation:  # seed 001: the key projects, as the workbook's sheet has them
        from bot.jobs.monthly import HEADERS, workbook_sheets

        doc.add_page_break()
        head, title = lines("report", "appendix3", **ctx)
        D.para(doc, head, name=D.HEADING_FONT)
        D.para(doc, title, name=D.TITLE_FONT, size=18, align=D.CENTER, space_after=6)
        keys = ("forms_due", "forms_reviewed", "forms_on_time", "milestones_due", "milestones_on_time",
                "milestones_late", "milestones_overdue")
        D.table(doc, PROJECT_HEADERS, [[p["project"], p["lead_units"]] + [p[k] for k in keys]
                                       for p in report.projects], [6.0, 4.4] + [2.0] * 7)
        cooperation = dict(workbook_sheets(report)).get("重点项目配合")
        if cooperation:
            D.para(doc, "")
            D.para(doc, lines("report", "appendix3_units", **ctx)[0], name=D.SUBHEADING_FONT, align=D.CENTER)
            D.table(doc, HEADERS["重点项目配合"], cooperation[1:], [6.0] + [2.1] * 9)
    return D.to_bytes(doc)


def report_filename(month_key: str) -> str:
    return part("report", "filename", month_key=month_key)
