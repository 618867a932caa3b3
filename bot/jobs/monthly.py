"""Monthly analysis report (调度分析报告), on the 1st for the month before.

Per leader and per unit: items total / closed (done) / open / overdue at the month's end, items new
and closed in the month, on-time report rate and late reports for the month's two deadlines,
escalations raised in the month, and the hardest open items. The supervision group gets a markdown
summary, the chart (PNG, matplotlib) as an image message, the analysis report (.docx,
bot.documents.report) and the workbook (XlsxWriter; sheets 按领导, 按单位, 难点事项, 逾期事项, each with a title
row) as file messages, and the .docx and .xlsx by mail to its mailbox (bot.actions.forms); the files stay under
INSTANCE_DIR/reports/<month>/
and a MonthlyReport row records the figures. A month's report is generated once.

Numbers follow the ledger rules (bot/domain/ledger.py) evaluated on the 1st: open = not 销号, overdue = open
and the deadline before the 1st; report compliance is `bot.domain.reporting.report_status` of the two periods.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, case, func, select

from bot.actions.forms import SUPERVISION, group_mailbox, queue_forms
from bot.actions.rollup import hardest_items
from bot.documents.forms import Column, Form, write_xlsx
from bot.documents.texts import level_name
from bot.domain.address import address
from bot.domain.clock import tz
from bot.domain.ledger import sql_open, sql_overdue
from bot.domain.periods import month_bounds, periods_in_month
from bot.domain.reporting import LATE, MISSING, ON_TIME, report_status, sql_reporting_unit
from bot.domain.scope import sql_confidential
from bot.infra import audit
from bot.infra.db import dialect_insert
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import DispatchRow, Escalation, Matter, Minutes, MonthlyReport, RollUp, Unit

log = logging.getLogger(__name__)
KIND = "monthly_report"
HARDEST_LIMIT = 30
OVERDUE_SHEET_LIMIT = 1000  # the longest overdue; the sheet says how many more there are
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC", "AR PL UMing CN")
COUNTS = ("total", "done", "open", "overdue", "new", "closed")


@dataclass
class Report:
    month: str
    leaders: list[dict]
    units: list[dict]
    hardest: list[dict]
    overdue: list[dict]
    totals: dict
    overdue_total: int = 0
    cooperation: list = field(default_factory=list)  # seed 001 §四(一): each unit's part in the key projects
    projects: list = field(default_factory=list)  # seed 001: each key project's forms and milestones of the month
    secret: int = 0  # overdue items of 保密 minutes / slips: in overdue_total, never listed


def previous_month(as_of: datetime, tz) -> tuple[int, int]:
    local = as_of.astimezone(tz)
    return (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)


def _blank() -> dict:
    return {k: 0 for k in COUNTS} | {"expected": 0, "on_time": 0, "late": 0, "escalations": 0}


def _rate(d: dict) -> None:
    d["rate"] = round(100.0 * d["on_time"] / d["expected"], 1) if d["expected"] else None


def compute(session, year: int, month: int) -> Report:
    """The figures of one month, with a handful of grouped queries."""
    start, end = month_bounds(year, month)
    today = end.date()  # rules evaluated on the 1st of the next month
    created = Matter.created_at < end
    by = defaultdict(_blank)  # ("leader"|"unit", id) -> counts
    for leader_id, unit_id, total, done, opened, overdue, new, closed in session.execute(
            select(Matter.leader_id, Matter.responsible_unit_id, func.count(Matter.id),
                   func.sum(case((~sql_open(), 1), else_=0)),
                   func.sum(case((sql_open(), 1), else_=0)),
                   func.sum(case((sql_overdue(today), 1), else_=0)),
                   func.sum(case((Matter.created_at >= start, 1), else_=0)),
                   func.sum(case((and_(~sql_open(), Matter.closed_at >= start, Matter.closed_at < end), 1), else_=0)))
            .where(created).group_by(Matter.leader_id, Matter.responsible_unit_id)):
        row = dict(total=total, done=int(done or 0), open=int(opened or 0), overdue=int(overdue or 0),
                   new=int(new or 0), closed=int(closed or 0))
        for key in (("leader", leader_id), ("unit", unit_id)):
            for k, v in row.items():
                by[key][k] += v
    # units linked to each leader: those reporting on the leader's own items (bot.domain.reporting) — not the
    # 附件2 lead units of the leader's rows, which gave a leader with no items "按时报送率 0.0%"
    leader_units: dict[int, set[int]] = defaultdict(set)
    for leader_id, unit_id in session.execute(select(Matter.leader_id, sql_reporting_unit())
                                              .where(created, Matter.leader_id.is_not(None)).distinct()):
        leader_units[leader_id].add(unit_id)
    row_leader = dict(session.execute(select(DispatchRow.id, DispatchRow.leader_id)).all())
    for leader_id in row_leader.values():
        by[("leader", leader_id)]  # every leader of 附件2 appears, even without items
    # report compliance for the month's two deadlines
    status = report_status(session, periods_in_month(year, month), as_of=end)
    per_unit = defaultdict(lambda: {"expected": 0, "on_time": 0, "late": 0})
    for (uid, _src, _key), st in status.items():  # one per problem list (lead unit, minutes / slip, period)
        per_unit[uid]["expected"] += 1
        per_unit[uid]["on_time"] += st == ON_TIME
        per_unit[uid]["late"] += st in (LATE, MISSING)
    for uid, c in per_unit.items():
        for k, v in c.items():
            by[("unit", uid)][k] += v
    for leader_id, uids in leader_units.items():
        for uid in uids:
            for k, v in per_unit.get(uid, {}).items():
                by[("leader", leader_id)][k] += v
    # escalations raised in the month
    for leader_id, unit_id, n in session.execute(
            select(Matter.leader_id, Matter.responsible_unit_id, func.count(Escalation.id))
            .join(Matter, Matter.id == Escalation.matter_id)
            .where(Escalation.raised_at >= start, Escalation.raised_at < end)
            .group_by(Matter.leader_id, Matter.responsible_unit_id)):
        by[("leader", leader_id)]["escalations"] += n
        by[("unit", unit_id)]["escalations"] += n
    # late roll-ups per leader
    keys = [p.key for p in periods_in_month(year, month)]
    rollups_late = dict(session.execute(
        select(DispatchRow.leader_id, func.count(RollUp.id)).join(DispatchRow, DispatchRow.id == RollUp.dispatch_row_id)
        .where(RollUp.period_key.in_(keys), RollUp.is_late.is_(True)).group_by(DispatchRow.leader_id)).all())
    # the hardest open items: escalated first, then the most overdue; obstacle from the month's last report
    # the report goes to a group chat and a mailbox: items of 保密 minutes / slips counted, never listed
    hard_rows = hardest_items(session, keys[-1], where=(created, ~sql_confidential()),
                              order=(Matter.escalation_level.desc(), Matter.deadline, Matter.id),
                              key=lambda h: (-h["escalation_level"], h["deadline"], h["id"]), limit=HARDEST_LIMIT)
    overdue_rows = session.execute(
        select(Matter.code, Matter.title, Matter.deadline, Matter.escalation_level, Matter.leader_id,
               Matter.responsible_unit_id, Matter.last_progress, Matter.last_progress_at)
        .where(created, sql_overdue(today), ~sql_confidential()).order_by(Matter.deadline, Matter.id)
        .limit(OVERDUE_SHEET_LIMIT)).all()
    overdue_total = session.scalar(select(func.count(Matter.id)).where(created, sql_overdue(today)))
    secret = session.scalar(select(func.count(Matter.id)).where(created, sql_overdue(today), sql_confidential()))
    # every unit's name in one plain query: cheaper than IN lists of thousands of bound ids
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    leader_ids = [k[1] for k in by if k[0] == "leader" and k[1] is not None]
    who = people(session, leader_ids)
    leader_name = lambda i: address(who[i]) if i in who else "（未指定领导）"  # noqa: E731
    hardest = [dict(code=r["code"], title=r["title"], unit=names.get(r["responsible_unit_id"], ""),
                    leader=leader_name(r["leader_id"]), deadline=r["deadline"], obstacle=r["obstacle"],
                    overdue_days=max((today - r["deadline"]).days, 0),
                    level=r["escalation_level"]) for r in hard_rows]
    overdue = [dict(code=r.code, title=r.title, unit=names.get(r.responsible_unit_id, ""),
                    leader=leader_name(r.leader_id), deadline=r.deadline,
                    overdue_days=(today - r.deadline).days, level=r.escalation_level,
                    last_progress=r.last_progress or "", last_progress_at=r.last_progress_at) for r in overdue_rows]
    leaders, units = [], []
    for (kind, ident), d in by.items():
        _rate(d)
        if kind == "leader":
            d.update(id=ident, name=leader_name(ident), rollups_late=rollups_late.get(ident, 0),
                     hardest=[h["code"] for h in hardest if h["leader"] == leader_name(ident)][:3])
            leaders.append(d)
        else:
            d.update(id=ident, name=names.get(ident, "?"))
            units.append(d)
    order = {lid: i for i, lid in enumerate(
        session.scalars(select(DispatchRow.leader_id).order_by(DispatchRow.seq)))}
    leaders.sort(key=lambda d: (order.get(d["id"], 10 ** 6), d["name"]))
    units.sort(key=lambda d: (-d["overdue"], -d["open"], d["name"]))
    totals = {k: sum(u[k] for u in units) for k in COUNTS + ("expected", "on_time", "late", "escalations")}
    _rate(totals)
    from bot.actions.projects import cooperation_table, project_table

    last = (end - timedelta(days=1)).date()
    cooperation = [asdict(c) for c in cooperation_table(session, start.date(), last, today)
                   if c.forms_due or c.decisions or c.problems]
    projects = [asdict(p) for p in project_table(session, start.date(), last, today)]
    return Report(f"{year:04d}-{month:02d}", leaders, units, hardest, overdue, totals, overdue_total, cooperation,
                  projects, secret or 0)


# -- files ------------------------------------------------------------------------------------------
def _atomic_save(path: Path, write) -> None:
    """Write through a temporary file then rename, so two schedulers never leave half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


HEADERS = {
    "按领导": ["调度领导", "事项总数", "已销号", "未销号", "逾期", "本月新增", "本月销号", "应报次数", "按时报送",
             "迟报/未报", "按时报送率(%)", "本月提级督办", "汇总迟报", "难点事项"],
    "按单位": ["责任单位", "事项总数", "已销号", "未销号", "逾期", "本月新增", "本月销号", "应报次数", "按时报送",
             "迟报/未报", "按时报送率(%)", "本月提级督办"],
    "难点事项": ["编号", "事项", "责任单位", "调度领导", "完成时限", "逾期天数", "督办层级", "难点痛点堵点"],
    "逾期事项": ["编号", "事项", "责任单位", "调度领导", "完成时限", "逾期天数", "督办层级", "最近进展", "最近报送"],
    # 泉港政办〔2021〕6号 §四(一): 各单位、各责任人配合推进项目建设情况 (for 区委组织部's cadre assessment)
    "重点项目配合": ["单位", "应报周报", "按时报送", "迟报", "未报", "议定事项", "按时办结", "逾期未办", "负责问题",
                 "已解决"],
}
WIDTHS = {
    "按领导": [12] + [9] * 12 + [24],
    "按单位": [24] + [9] * 11,
    "难点事项": [8, 36, 18, 10, 12, 9, 22, 36],
    "逾期事项": [8, 36, 18, 10, 12, 9, 22, 36, 17],
    "重点项目配合": [24] + [10] * 9,
}
NUMERIC_FIRST = 1  # in the two count sheets every column after the name is a number (centred)


def _local_minute(at):
    """A stored UTC moment as local wall time to the minute (a cell shows no microseconds or zone)."""
    return at.astimezone(tz()).replace(tzinfo=None, second=0, microsecond=0) if at else None


def workbook_sheets(report: Report) -> list[tuple[str, list[list]]]:
    """The sheets of the workbook as (name, rows) — header row first: four, and the key projects' when due."""
    counts = ["total", "done", "open", "overdue", "new", "closed", "expected", "on_time", "late", "rate", "escalations"]
    by_leader = [HEADERS["按领导"]] + [[d["name"]] + [d[k] for k in counts]
                                     + [d["rollups_late"], "、".join(d["hardest"])]
                                     for d in report.leaders]
    by_unit = [HEADERS["按单位"]] + [[d["name"]] + [d[k] for k in counts] for d in report.units]
    hardest = [HEADERS["难点事项"]] + [[h["code"], h["title"], h["unit"], h["leader"], h["deadline"], h["overdue_days"],
                                     level_name(h["level"]), h["obstacle"]] for h in report.hardest]
    overdue = [HEADERS["逾期事项"]]
    for o in report.overdue:
        overdue.append([o["code"], o["title"], o["unit"], o["leader"], o["deadline"], o["overdue_days"],
                        level_name(o["level"]), o["last_progress"], _local_minute(o["last_progress_at"])])
    sheets = [("按领导", by_leader), ("按单位", by_unit), ("难点事项", hardest), ("逾期事项", overdue)]
    if report.cooperation:  # only in a month the key projects had forms, decisions or problems due
        keys = ("forms_due", "forms_on_time", "forms_late", "forms_missing", "decisions", "decisions_on_time",
                "decisions_overdue", "problems", "problems_closed")
        sheets.append(("重点项目配合", [HEADERS["重点项目配合"]] + [[c["unit"]] + [c[k] for k in keys]
                                                         for c in report.cooperation]))
    return sheets


def workbook_forms(report: Report) -> list[Form]:
    """The sheets laid out as forms: a title row, column widths, A4 landscape fit to width."""
    forms = []
    for name, rows in workbook_sheets(report):
        columns = [Column(t, w, center=(i >= NUMERIC_FIRST and name in ("按领导", "按单位", "重点项目配合") and i < 13)
                          or t in ("编号", "完成时限", "逾期天数", "最近报送"))
                   for i, (t, w) in enumerate(zip(rows[0], WIDTHS[name], strict=False))]
        notes = []
        if name == "逾期事项" and report.overdue_total > len(report.overdue) + report.secret:
            notes.append(render("jobs/overdue_sheet_note.txt", shown=len(report.overdue), total=report.overdue_total))
        if name == "逾期事项" and report.secret:
            notes.append(render("core/_secret.txt", secret=report.secret).strip())
        forms.append(Form(sheet=name, title=render("jobs/workbook_title.txt", month=report.month, sheet=name),
                          columns=columns, rows=rows[1:], notes=notes))
    return forms


def write_workbook(report: Report, path: Path) -> None:
    data = write_xlsx(workbook_forms(report))
    _atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


def cjk_font():
    """The first installed CJK font family matplotlib knows, or None (labels then show as boxes)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def warm_up() -> float:
    """Import matplotlib (Agg) and load its font list once per process — about 1–2 s the first time,
    most of the chart's cost. The job's child process (bot.jobs.child) calls it before the run opens its
    transaction (see `run.warm_up`), so the run only draws. Returns the seconds spent."""
    started = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    font = cjk_font()
    if font:  # parse the (large) CJK font file now rather than in the monthly run
        from matplotlib import font_manager

        font_manager.get_font(font_manager.findfont(font))
    # one tiny off-screen draw primes the renderer and glyph caches (the first figure costs most)
    import io

    import matplotlib.pyplot as plt

    with plt.rc_context({"font.family": [font, "DejaVu Sans"]} if font else {}):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.barh([0], [1])
        ax.set_title(render("jobs/chart_label.txt", which="items_title"))
        fig.savefig(io.BytesIO(), format="png", dpi=20)
        plt.close(fig)
    return time.perf_counter() - started


def write_chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    import matplotlib.pyplot as plt

    font = cjk_font()
    leaders = report.leaders or [dict(name="—", done=0, open=0, overdue=0, rate=None)]
    names = [d["name"] for d in leaders]
    closed = [d["done"] for d in leaders]
    overdue = [d["overdue"] for d in leaders]
    on_track = [d["open"] - d["overdue"] for d in leaders]
    rates = [d["rate"] or 0 for d in leaders]

    def build(tmp: str) -> None:
        rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
        # without a CJK font Chinese labels show as boxes: say so once in the log, not per glyph
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        if font is None:
            log.warning("no CJK font installed (e.g. Debian package fonts-noto-cjk): chart labels show as boxes")
        with plt.rc_context(rc):
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.6 * len(names) + 2.5))
            y = range(len(names))
            ax1.barh(y, closed, color="#4caf50", label=render("jobs/chart_label.txt", which="closed"))
            ax1.barh(y, on_track, left=closed, color="#ffc107", label=render("jobs/chart_label.txt", which="open"))
            ax1.barh(y, overdue, left=[a + b for a, b in zip(closed, on_track, strict=False)], color="#f44336",
                     label=render("jobs/chart_label.txt", which="overdue"))
            ax1.set_yticks(list(y), names)
            ax1.invert_yaxis()
            # above the bars, under the title: inside the axes it covered the longest bars
            ax1.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize="small",
                       borderaxespad=0.2)
            ax1.set_title(render("jobs/chart_label.txt", which="items_title"), pad=22)
            ax2.barh(y, rates, color="#2196f3")
            for i, d in enumerate(leaders):  # no report was owed: no rate, not 0 %
                if d["rate"] is None:
                    ax2.text(1, i, render("jobs/chart_label.txt", which="no_rate"), va="center", fontsize="small")
            ax2.set_yticks(list(y), names)
            ax2.invert_yaxis()
            ax2.set_xlim(0, 100)
            ax2.set_title(render("jobs/chart_label.txt", which="rate_title"), pad=22)
            fig.suptitle(render("jobs/chart_label.txt", which="title", month=report.month))
            height = fig.get_figheight()  # fixed margins: tight_layout would draw the figure a second time
            fig.subplots_adjust(left=0.12, right=0.98, wspace=0.35, top=1 - 1.2 / height, bottom=0.6 / height)
            fig.savefig(tmp, format="png", dpi=100)
            plt.close(fig)

    _atomic_save(path, build)


def report_dir(runtime, month: str) -> Path:
    return Path(runtime.settings.INSTANCE_DIR) / "reports" / month


def _jsonable(report: Report) -> dict:
    def clean(d: dict) -> dict:
        return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in d.items()}

    return {"totals": report.totals, "leaders": [clean(d) for d in report.leaders],
            "units": [clean(d) for d in report.units], "hardest": [clean(h) for h in report.hardest],
            "overdue_count": report.overdue_total}


def run(runtime, as_of: datetime) -> JobResult:
    result = JobResult(KIND, as_of)
    year, month = previous_month(as_of, runtime.tz)
    key = f"{year:04d}-{month:02d}"
    with runtime.db.session() as s:
        row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == key))
        if row is None and not held_data(s, year, month):
            result.skipped = "no data before the month's end: no report"
            result.details["month"] = key
            return result
        if row is None:
            started = time.perf_counter()
            report = compute(s, year, month)
            computed = time.perf_counter()
            folder = report_dir(runtime, key)
            xlsx = folder / render("jobs/report_filename.txt", month=key, ext="xlsx")
            png = folder / render("jobs/report_filename.txt", month=key, ext="png")
            write_workbook(report, xlsx)
            written = time.perf_counter()
            write_chart(report, png)
            charted = time.perf_counter()
            write_analysis(s, runtime, report, year, month, png, docx_path(xlsx))
            result.details.update(compute_s=round(computed - started, 3), xlsx_s=round(written - computed, 3),
                                  png_s=round(charted - written, 3), docx_s=round(time.perf_counter() - charted, 3))
            summary = render("jobs/monthly_summary.md", r=report, year=year, month=month)
            row = _insert_report(s, key, summary, _jsonable(report), str(xlsx), str(png))
            result.details["generated"] = row is not None
            if row is None:  # another scheduler stored it first
                row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == key))
        out = Notices(runtime, KIND)
        out.to_group("supervision", row.summary, key=f"{KIND}:{key}:summary")
        if row.png_path:
            out.file_to_group("supervision", row.png_path, "image", key=f"{KIND}:{key}:image")
        if row.xlsx_path and docx_path(row.xlsx_path).exists():  # the report itself, before its figures
            out.file_to_group("supervision", str(docx_path(row.xlsx_path)), "file", key=f"{KIND}:{key}:docx")
        if row.xlsx_path:
            out.file_to_group("supervision", row.xlsx_path, "file", key=f"{KIND}:{key}:file")
            files = [p for p in (docx_path(row.xlsx_path), Path(row.xlsx_path)) if p.exists()]
            queue_forms(out, runtime.settings, render, files, key=f"{KIND}:{key}",
                        mailboxes=[group_mailbox(s, SUPERVISION)], mail="monthly", year=year, month=month)
        result.notices = len(out.flush(s))
    result.details["month"] = key
    return result


def held_data(session, year: int, month: int) -> bool:
    """Did the system hold anything by the month's end (a matter, or minutes of a meeting)? A month
    before that has nothing to analyse: the first start of `serve` must not send an empty report."""
    start, end = month_bounds(year, month)
    return (session.scalar(select(Matter.id).where(Matter.created_at < end).limit(1)) is not None
            or session.scalar(select(Minutes.id).where(Minutes.meeting_date < end.date()).limit(1)) is not None)


def docx_path(xlsx: str | Path) -> Path:
    """The analysis report lies beside the workbook, same name, .docx (no column of its own needed)."""
    return Path(xlsx).with_suffix(".docx")


def previous_report(session, year: int, month: int):
    """The month before's figures, when the system held data then (for the comparison)."""
    py, pm = (year, month - 1) if month > 1 else (year - 1, 12)
    return compute(session, py, pm) if held_data(session, py, pm) else None


def write_analysis(session, runtime, report: Report, year: int, month: int, png: Path, path: Path) -> None:
    from bot.documents.report import report_docx

    data = report_docx(session, report, year, month, previous=previous_report(session, year, month), chart=png,
                       interview_days=runtime.settings.OVERDUE_INTERVIEW_DAYS)
    _atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


# The schedulers run this job in a short-lived child process (bot.jobs.child): matplotlib, numpy, PIL, the
# CJK font and python-docx (~80 MB) never stay in `serve` or the `scheduler` process. The child calls
# `warm_up` first (any job function may carry one).
run.child_process = True
run.warm_up = warm_up


def _insert_report(session, month: str, summary: str, figures: dict, xlsx: str, png: str):
    new_id = session.scalar(dialect_insert(session)(MonthlyReport).values(month=month, summary=summary, figures=figures,
                                                         xlsx_path=xlsx, png_path=png)
                            .on_conflict_do_nothing(index_elements=["month"]).returning(MonthlyReport.id))
    if new_id is None:
        return None
    row = session.get(MonthlyReport, new_id)
    audit.record(session, actor=f"system:{KIND}", action="monthly_report_generated", entity="monthly_report",
                 entity_id=new_id, after={"month": month, "xlsx_path": xlsx, "png_path": png})
    return row
