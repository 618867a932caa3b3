"""The monthly analysis report (调度分析报告) for November 2026: its numbers against hand-counted data,
read back from the Excel workbook, the chart, the MonthlyReport row and the group messages."""
from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from models import MonthlyReport
from tests import factories as f
from tests.jobs_helpers import monthly_ledger, notices

# hand-counted: total, closed, open, overdue, new, closed in Nov, expected, on time, late, rate, escalations
LEADERS = {
    "陈剑锋": [6, 2, 4, 2, 1, 1, 4, 3, 1, 75.0, 1],
    "郭雅婷": [2, 0, 2, 1, 0, 0, 2, 1, 1, 50.0, 0],
}
UNITS = {
    "区发改局": [4, 1, 3, 1, 1, 1, 2, 2, 0, 100.0, 0],
    "区科技局": [2, 1, 1, 1, 0, 0, 2, 1, 1, 50.0, 1],
    "区教育局": [2, 0, 2, 1, 0, 0, 2, 1, 1, 50.0, 0],
}


def test_monthly_report_numbers_match_the_data(db_url, tmp_path):
    from tests.support import make_app

    app = make_app(db_url, tmp_path)
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        monthly_ledger(s)
    out = app.test_cli_runner().invoke(args=["jobs", "run", "monthly_report", "--now", "2026-12-01T08:00+08:00"])
    assert out.exit_code == 0 and "month=2026-11" in out.output, out.output

    with rt.db.session() as s:
        row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == "2026-11"))
    xlsx, png = Path(row.xlsx_path), Path(row.png_path)
    assert xlsx.parent == tmp_path / "instance" / "reports" / "2026-11"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["按领导", "按单位", "难点事项", "逾期事项"]
    leaders = {r[0]: list(r[1:12]) for r in wb["按领导"].iter_rows(min_row=3, values_only=True)}
    assert leaders == LEADERS
    units = {r[0]: list(r[1:12]) for r in wb["按单位"].iter_rows(min_row=3, values_only=True)}
    assert units == UNITS
    hard = [r[0] for r in wb["难点事项"].iter_rows(min_row=3, values_only=True)]
    assert hard == ["J6", "M1"]  # escalated first; M1's obstacle comes from the Nov 20 report
    assert list(wb["难点事项"].iter_rows(min_row=4, values_only=True))[0][7] == "资金未到位"
    overdue = [(r[0], r[5]) for r in wb["逾期事项"].iter_rows(min_row=3, values_only=True)]
    assert overdue == [("M9", 61), ("M1", 21), ("J6", 1)]  # days past the deadline on Dec 1

    assert row.figures["totals"]["total"] == 8 and row.figures["totals"]["overdue"] == 3
    assert {d["name"]: d["rate"] for d in row.figures["leaders"]} == {"陈剑锋": 75.0, "郭雅婷": 50.0}
    assert "按时报送率 **66.7%**" in row.summary and "区科技局（1次）" in row.summary

    sent = {n.msgtype: n for n in notices(rt, "monthly_report:2026-11:")}
    assert set(sent) == {"markdown", "image", "file"}
    assert sent["markdown"].target == "supervision" and sent["markdown"].payload["content"] == row.summary
    assert sent["image"].payload == {"path": str(png)} and sent["file"].payload == {"path": str(xlsx)}
    rt.db.dispose()


def test_the_monthly_workbook_carries_each_units_part_in_the_key_projects(seeded, runner):
    """泉港政办〔2021〕6号 §四(一): 各单位配合推进项目建设情况 reported for the cadre assessment — one sheet of the
    monthly workbook: forms due / on time / late / missing per lead unit (November 2026 has five Mondays)."""
    from datetime import datetime

    from models import KeyProject, Person, WeeklyProjectReport

    utc = UTC
    with seeded.db.session() as s:
        project = s.scalar(select(KeyProject).where(KeyProject.seq == 1))  # 锦川实验小学项目, 区教育局
        someone = s.scalar(select(Person).where(Person.wecom_userid == "guoyating"))
        f.matter(s, "M1", project.lead_units[0], someone, date(2026, 12, 31))  # the ledger holds data: a report
        for week, reviewed in ((date(2026, 11, 2), datetime(2026, 11, 2, 9, tzinfo=utc)),  # on its Monday
                               (date(2026, 11, 9), datetime(2026, 11, 11, 9, tzinfo=utc))):  # two days late
            s.add(WeeklyProjectReport(project_id=project.id, week_start=week, submitted_by_id=someone.id,
                                      submitted_at=reviewed, state="reviewed", reviewed_by_id=someone.id,
                                      reviewed_at=reviewed, filled_unit_id=project.lead_units[0].id))
    out = runner.invoke(args=["jobs", "run", "monthly_report", "--now", "2026-12-01T08:00+08:00"])
    assert out.exit_code == 0, out.output
    with seeded.db.session() as s:
        row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == "2026-11"))
    wb = load_workbook(row.xlsx_path)
    assert wb.sheetnames[-1] == "重点项目配合"
    sheet = {r[0]: list(r[1:]) for r in wb["重点项目配合"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert sheet["区教育局"][:4] == [5, 1, 1, 3]  # due, on time, late, missing
