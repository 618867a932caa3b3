"""Monthly analysis report (调度分析报告), on the 1st for the month before.

Per leader and per unit: items total / closed (done) / open / overdue at the month's end, items new
and closed in the month, on-time report rate and late reports for the month's two deadlines,
escalations raised in the month, and the hardest open items. The supervision group gets a markdown
summary, the chart (PNG, matplotlib) as an image message and the workbook (.xlsx written directly by
`xlsx_write`; sheets 按领导, 按单位, 难点事项, 逾期事项) as a file message; the files stay under
INSTANCE_DIR/reports/<month>/ and a MonthlyReport row records the figures. A month's report is generated once.

Numbers follow the ledger rules (bot/domain/ledger.py) evaluated on the 1st: open = not 销号, overdue = open
and the deadline before the 1st; report compliance is `ledger.report_status` of the two periods.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from openpyxl.utils import get_column_letter
from sqlalchemy import and_, case, func, select

from bot.infra import audit
from bot.infra.db import dialect_insert
from bot.jobs.base import JobResult, Notices, people
from bot.jobs.rollup import hardest_items
from bot.domain.ledger import LATE, MISSING, ON_TIME, report_status, sql_open, sql_overdue
from bot.domain.periods import TZ, month_bounds, periods_in_month
from bot.infra.text import render
from models import DispatchRow, Escalation, Matter, MonthlyReport, RollUp, Unit, dispatch_row_unit

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
    # units linked to each leader: lead units of their rows and units responsible for their items
    leader_units: dict[int, set[int]] = defaultdict(set)
    for leader_id, unit_id in session.execute(select(Matter.leader_id, Matter.responsible_unit_id)
                                              .where(created, Matter.leader_id.is_not(None)).distinct()):
        leader_units[leader_id].add(unit_id)
    row_leader = dict(session.execute(select(DispatchRow.id, DispatchRow.leader_id)).all())
    for rid, uid in session.execute(select(dispatch_row_unit.c.dispatch_row_id, dispatch_row_unit.c.unit_id)):
        leader_units[row_leader[rid]].add(uid)
    for leader_id in row_leader.values():
        by[("leader", leader_id)]  # every leader of 附件2 appears, even without items
    # report compliance for the month's two deadlines
    status = report_status(session, periods_in_month(year, month), as_of=end)
    per_unit = defaultdict(lambda: {"expected": 0, "on_time": 0, "late": 0})
    for (uid, _key), st in status.items():
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
    hard_rows = hardest_items(session, keys[-1], where=(created,),
                              order=(Matter.escalation_level.desc(), Matter.deadline, Matter.id),
                              key=lambda h: (-h["escalation_level"], h["deadline"], h["id"]), limit=HARDEST_LIMIT)
    overdue_rows = session.execute(
        select(Matter.code, Matter.title, Matter.deadline, Matter.escalation_level, Matter.leader_id,
               Matter.responsible_unit_id, Matter.last_progress, Matter.last_progress_at)
        .where(created, sql_overdue(today)).order_by(Matter.deadline, Matter.id).limit(OVERDUE_SHEET_LIMIT)).all()
    overdue_total = session.scalar(select(func.count(Matter.id)).where(created, sql_overdue(today)))
    # every unit's name in one plain query: cheaper than IN lists of thousands of bound ids
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    leader_ids = [k[1] for k in by if k[0] == "leader" and k[1] is not None]
    who = people(session, leader_ids)
    leader_name = lambda i: who[i].name if i in who else "（未指定领导）"  # noqa: E731
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
    return Report(f"{year:04d}-{month:02d}", leaders, units, hardest, overdue, totals, overdue_total)


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
}


def workbook_sheets(report: Report) -> list[tuple[str, list[list]]]:
    """The four sheets of the workbook as (name, rows) — header row first."""
    counts = ["total", "done", "open", "overdue", "new", "closed", "expected", "on_time", "late", "rate", "escalations"]
    by_leader = [HEADERS["按领导"]] + [[d["name"]] + [d[k] for k in counts] + [d["rollups_late"], "、".join(d["hardest"])]
                                     for d in report.leaders]
    by_unit = [HEADERS["按单位"]] + [[d["name"]] + [d[k] for k in counts] for d in report.units]
    hardest = [HEADERS["难点事项"]] + [[h["code"], h["title"], h["unit"], h["leader"], h["deadline"], h["overdue_days"],
                                     h["level"], h["obstacle"]] for h in report.hardest]
    overdue = [HEADERS["逾期事项"]]
    for o in report.overdue:
        at = o["last_progress_at"]
        overdue.append([o["code"], o["title"], o["unit"], o["leader"], o["deadline"], o["overdue_days"], o["level"],
                        o["last_progress"], at.astimezone(TZ).replace(tzinfo=None) if at else None])
    if report.overdue_total > len(report.overdue):
        overdue.append([render("jobs/overdue_sheet_note.txt", shown=len(report.overdue), total=report.overdue_total)])
    return [("按领导", by_leader), ("按单位", by_unit), ("难点事项", hardest), ("逾期事项", overdue)]


def write_workbook(report: Report, path: Path) -> None:
    _atomic_save(path, lambda tmp: xlsx_write(tmp, workbook_sheets(report)))


# -- a minimal .xlsx writer -----------------------------------------------------------------------------
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)
_STYLES = (f'<styleSheet xmlns="{_NS}"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
           '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/></numFmts><fonts count="1"><font><sz val="11"/>'
           '<name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
           '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/>'
           '<bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
           'borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
           'xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
           '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _cell(ref: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, datetime):
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="2"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="1"><v>{(value - _EPOCH.date()).days}</v></c>'
    text = xml_escape(_BAD_XML.sub("", str(value)))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def xlsx_write(path, sheets: list[tuple[str, list[list]]]) -> None:
    """Write an .xlsx (Office Open XML) of plain rows: text, numbers, dates, date-times.

    Hand-written on purpose: openpyxl's write-only mode serialises every cell through et_xmlfile when lxml
    is not installed (it is not in requirements.txt) — 1.4–1.8 s for the 5,000-row 按单位 sheet of a
    district-sized report, most of the monthly job. This writes the same minimal package (inline strings,
    one date and one date-time style) in about a tenth of that; openpyxl, Excel and WPS read it (the tests
    load it with openpyxl)."""
    letters = [get_column_letter(i) for i in range(1, 1 + max((len(r) for _, rows in sheets for r in rows), default=1))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
                            for i in range(1, len(sheets) + 1))
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
                   f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>{overrides}</Types>')
        z.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_PKG}">'
                   f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        names = "".join(f'<sheet name="{xml_escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                        for i, (name, _) in enumerate(sheets, 1))
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{_NS}" '
                   f'xmlns:r="{_REL}"><sheets>{names}</sheets></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                       for i in range(1, len(sheets) + 1))
        z.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   f'<Relationships xmlns="{_PKG}">{rels}<Relationship Id="rId{len(sheets) + 1}" '
                   f'Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + _STYLES)
        for i, (_, rows) in enumerate(sheets, 1):
            body = "".join(f'<row r="{n}">' + "".join(_cell(f"{letters[c]}{n}", v) for c, v in enumerate(row))
                           + "</row>" for n, row in enumerate(rows, 1))
            z.writestr(f"xl/worksheets/sheet{i}.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                       f'<worksheet xmlns="{_NS}"><sheetData>{body}</sheetData></worksheet>')


def cjk_font():
    """The first installed CJK font family matplotlib knows, or None (labels then show as boxes)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def warm_up() -> float:
    """Import matplotlib (Agg) and load its font list once per process — about 1–2 s the first time,
    most of the chart's cost. The scheduler calls this in a background thread when it starts (see
    `run.warm_up`), so the monthly run only draws. Returns the seconds spent."""
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
            ax1.barh(y, overdue, left=[a + b for a, b in zip(closed, on_track)], color="#f44336",
                     label=render("jobs/chart_label.txt", which="overdue"))
            ax1.set_yticks(list(y), names)
            ax1.invert_yaxis()
            # above the bars, under the title: inside the axes it covered the longest bars
            ax1.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize="small",
                       borderaxespad=0.2)
            ax1.set_title(render("jobs/chart_label.txt", which="items_title"), pad=22)
            ax2.barh(y, rates, color="#2196f3")
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
            result.details.update(compute_s=round(computed - started, 3), xlsx_s=round(written - computed, 3),
                                  png_s=round(time.perf_counter() - written, 3))
            summary = render("jobs/monthly_summary.md", r=report, year=year, month=month)
            row = _insert_report(s, key, summary, _jsonable(report), str(xlsx), str(png))
            result.details["generated"] = row is not None
            if row is None:  # another scheduler stored it first
                row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == key))
        out = Notices(runtime, KIND)
        out.to_group("supervision", row.summary, key=f"{KIND}:{key}:summary")
        if row.png_path:
            out.file_to_group("supervision", row.png_path, "image", key=f"{KIND}:{key}:image")
        if row.xlsx_path:
            out.file_to_group("supervision", row.xlsx_path, "file", key=f"{KIND}:{key}:file")
        result.notices = len(out.flush(s))
    result.details["month"] = key
    return result


run.warm_up = warm_up  # picked up by bot.jobs.scheduler.Scheduler.start (any job function may carry one)


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
