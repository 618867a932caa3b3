"""The official forms, opened back with openpyxl / python-docx and compared cell by cell with the seed
documents' headers, columns, notes and footers; their print settings read back."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from bot.documents.dispatch import annex2_xlsx
from bot.documents.forms import Column, Form, lines_needed, numbered, text_width, write_xlsx
from bot.documents.ledger import ledger_xlsx
from bot.documents.problems import annex3_xlsx
from bot.documents.projects import FormInfo, form_info_from_seed, projects_xlsx
from bot.documents.slip import annex4_docx, annex4_xlsx
from bot.domain.periods import period_by_key
from bot.domain.roles import roles_of
from models import AssignmentSlip, Person, Unit
from tests.support import SEED_FILE

ANNEX2_COLUMNS = ["序号", "牵头区领导", "调度内容（包括但不限于）", "调度周期", "牵头单位", "办公室挂钩督导领导",
                  "办公室调度联络员"]
ANNEX3_COLUMNS = ["调度区领导", "会议纪要拟稿单位", "调度日期", "调度会议纪要名称（含纪要编号）",
                  "调度事项（逐条细化，包含事项、责任单位、完成时限）", "牵头单位", "已完成事项情况（逐条细化）",
                  "未完成事项情况", "未完成事项计划时限"]
ANNEX3_NOTES = [
    "1. 调度事项包括区政府领导的会议、调研、调度等工作配套形成的会议纪要。",
    ("2. 会议纪要撰写、会签及问题清单填报、后续跟踪均由牵头单位负责；"
     "会议纪要内容涉及的议定事项要有具体事项、责任单位、完成时限。"),
    ("3. 调度事项=已完成事项+未完成事项，未解决事项应明确完成时限，"
     "涉及多领域、多部门且难协调解决的，可提请由督导考核组进行分解督办。"),
    "4. 调度情况表每月5、20日前下午18:00前汇总上报至办公室调度联络员，超期未报的将进行统计，纳入通报范围。",
    "5. 联络员一旦选定，无特殊情况不得更换。",
]
ANNEX4_COLUMNS = ["序号", "事项名称", "难点痛点堵点", "解决措施", "责任单位", "完成情况", "完成时限"]
ANNEX4_NOTES = [
    "1.事项交办单的拟定、会签及后续跟踪均由牵头单位负责，必须逐一明确责任分工、调度解决措施、时限要求，涉及多领域、多部门且难协调解决的，可提请由督导考核组进行分解督办。",
    "2.事项交办单于每月5、20日前下午18:00前汇总上报至办公室调度联络员，超期未报的将进行统计，纳入通报范围。",
    "3.联络员一旦选定，无特殊情况不得更换。",
]
PROJECT_COLUMNS = ["序", "项目名称", "项目总牵头单位", "攻坚目标", "完成时限", "存在问题（需协调事项）", "问题责任部门",
                   "协调推进情况", "下阶段工作对策建议"]


def sheet_of(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    assert len(wb.sheetnames) == 1
    return wb[wb.sheetnames[0]]


def values(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def header_row(ws, first: str) -> int:
    """1-based row whose first cell is `first` (the table's header)."""
    return next(i for i, r in enumerate(ws.iter_rows(values_only=True), 1) if r[0] == first)


def assert_print_setup(ws, *, landscape: bool, header: int):
    assert ws.page_setup.paperSize == 9  # A4
    assert ws.page_setup.orientation == ("landscape" if landscape else "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    # fitToWidth="1" is the file format's default, which writers leave out
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == f"${header}:${header}"
    assert ws.print_options.horizontalCentered is True
    for cell in ws[header]:
        assert cell.border.left.style == "thin" and cell.border.bottom.style == "thin", cell.coordinate
        assert cell.font.b is True and cell.font.name == "宋体"
        assert cell.alignment.wrap_text is True


def assert_widths(ws, n: int):
    from openpyxl.utils import get_column_letter

    widths = [ws.column_dimensions[get_column_letter(i)].width for i in range(1, n + 1)]
    assert all(w and w >= 5 for w in widths), widths


# -- the generic form -----------------------------------------------------------------------------
def test_text_width_counts_cjk_twice_and_lines_follow_breaks():
    assert text_width("ab") == 2 and text_width("调度") == 4
    assert lines_needed("调度" * 10, 11) == 4  # 40 units in a 10-unit usable width
    assert lines_needed("a\nb\nc", 10) == 3
    assert numbered(["甲", "乙"]) == "1.甲\n2.乙"


def test_form_merges_and_row_heights_grow_with_text():
    form = Form(sheet="s", title="标题", columns=[Column("甲", 10), Column("乙", 10)],
                rows=[["长" * 40, "x"], [None, "y"]], merges=[(0, 0, 1, 0)])
    ws = sheet_of(write_xlsx([form]))
    assert sorted(str(r) for r in ws.merged_cells.ranges) == ["A1:B1", "A3:A4"]
    assert ws["A3"].value == "长" * 40
    # 80 units in a 9-unit usable width: 9 lines, spread over the two merged rows
    assert ws.row_dimensions[3].height + ws.row_dimensions[4].height >= 9 * 11 * 1.45


# -- on a seeded month ---------------------------------------------------------------------------------
@pytest.fixture
def month(seeded):
    from tests.documents_data import build_month

    with seeded.db.session() as s:
        build_month(s)
    with seeded.db.Session() as s:
        yield s


def roles(s, userid):
    return roles_of(s, s.scalar(select(Person).where(Person.wecom_userid == userid)))


def test_annex2_is_the_dispatch_schedule(month):
    ws = sheet_of(annex2_xlsx(month))
    rows = values(ws)
    assert rows[0][0] == "附件2" and rows[1][0] == "区政府领导定期协调调度事项清单"
    assert (rows[2][0].startswith("备注：调度内容参照《中共泉港区委员会办公室")
            and rows[2][0].endswith("此调度事项清单将持续滚动更新。"))
    h = header_row(ws, "序号")
    assert rows[h - 1] == ANNEX2_COLUMNS
    body = rows[h:]
    assert [r[0] for r in body] == list(range(1, 9))
    assert body[0][1:4] == ["杨凤翔", body[0][2], "每月"] and body[0][2].startswith("区政府全面工作")
    assert body[0][4] == "区直各相关部门" and body[0][5:] == ["刘小军", "何苍海 潘晓清"]
    assert body[1][1] == "陈剑锋" and "区发改局" in body[1][4].split(" ")
    assert ws["A2"].font.sz == 18 and ws["A2"].font.b and ws["A2"].alignment.horizontal == "center"
    assert ws[f"C{h + 1}"].alignment.wrap_text is True
    assert_print_setup(ws, landscape=True, header=h)
    assert_widths(ws, 7)


def test_annex3_one_row_per_minutes_from_the_reports(month):
    lead = month.scalar(select(Unit).where(Unit.name == "区发改局"))
    data = annex3_xlsx(month, roles(month, "yangyoumei"), period_by_key("2026-11-20"), lead_unit=lead)
    ws = sheet_of(data)
    rows = values(ws)
    assert rows[1][0] == "重点工作定期调度问题清单"
    assert rows[2][0] == "单位：（盖章）：区发改局"
    h = header_row(ws, "调度区领导")
    assert rows[h - 1] == ANNEX3_COLUMNS
    assert rows[h + 1][0] == ANNEX3_NOTES[0]  # one row: the education minutes have another lead unit
    row = rows[h]
    assert row[:4] == ["陈剑锋", "区发改局", "2026年11月3日", "全区经济运行调度会（泉港政纪〔2026〕12号）"]
    assert row[4].split("\n") == [
        "1.推进石化科创小镇项目入库（责任单位：区发改局；完成时限：2026年11月30日）",
        "2.完成规上工业增加值数据核对（责任单位：区统计局；完成时限：2026年12月15日）",
        "3.清源实验室设备采购招标（责任单位：区科技局；完成时限：2026年11月10日）"]
    assert row[5] == "区发改局"
    assert row[6] == "1.推进石化科创小镇项目入库：已完成项目入库"
    assert row[7].split("\n") == ["1.完成规上工业增加值数据核对：数据核对中",
                                  "2.清源实验室设备采购招标：本期未报送进展"]
    assert row[8].split("\n") == ["1.2026年12月10日", "2.2026年11月10日"]
    notes = rows[h + 1:h + 6]
    assert [r[0] for r in notes] == ANNEX3_NOTES
    assert [r[0] for r in rows[h + 6:]] == ["联络员：____________", "联系电话：____________"]  # placeholder liaison
    assert ws.cell(h + 2, 1).font.sz == 10
    assert_print_setup(ws, landscape=True, header=h)


def test_annex3_is_scoped_like_the_ledger(month):
    """A unit liaison sees only the matters of their unit: 区统计局's liaison gets minutes 1 with M2 alone."""
    tongji = month.scalar(select(Unit).where(Unit.name == "区统计局"))
    ws = sheet_of(annex3_xlsx(month, roles_of(month, tongji.liaison), period_by_key("2026-11-20")))
    h = header_row(ws, "调度区领导")
    body = values(ws)[h:h + 1]
    assert body[0][4] == "1.完成规上工业增加值数据核对（责任单位：区统计局；完成时限：2026年12月15日）"
    assert values(ws)[h + 1][0] == ANNEX3_NOTES[0]  # no second row: 郭雅婷's minutes are not theirs


def test_annex4_xlsx_and_docx_of_a_signed_slip(month):
    slip = month.scalar(select(AssignmentSlip).where(AssignmentSlip.code == "JB1"))
    ws = sheet_of(annex4_xlsx(month, slip))
    rows = values(ws)
    assert rows[1][0] == "泉港区“大调度、大督查”事项交办单"
    assert rows[2][0].startswith("调度领导（签字）：") and "陈剑锋已于2026年11月9日 10:30在线签批" in rows[2][0]
    assert rows[3][0] == "调度时间：2026年11月8日"
    h = header_row(ws, "序号")
    assert rows[h - 1] == ANNEX4_COLUMNS
    assert rows[h] == [1, "G228改线工程用地征迁", "征迁补偿标准分歧", "自然资源局牵头逐户协商", "区发改局", "推进中",
                       "2026年12月20日"]
    assert rows[h + 1][5] == "已销号：已完成场地平整"
    assert [r[0] for r in rows[h + 2:h + 5]] == ANNEX4_NOTES
    assert [r[0] for r in rows[h + 5:]] == ["联络员：____________", "联系电话：____________"]
    assert_print_setup(ws, landscape=True, header=h)

    doc = Document(io.BytesIO(annex4_docx(month, slip)))
    texts = [p.text for p in doc.paragraphs]
    assert texts[:6] == ["附件4", "泉港区“大调度、大督查”事项交办单", "调度领导（签字）：", "",
                         "（陈剑锋已于2026年11月9日 10:30在线签批）", "调度时间：2026年11月8日"]
    assert texts[-5:] == ANNEX4_NOTES + ["联络员：____________", "联系电话：____________"]
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ANNEX4_COLUMNS
    assert table.rows[0]._tr.trPr.xpath("./w:tblHeader")  # repeated on each page
    assert [c.text for c in table.rows[2].cells][1:3] == ["高铁站前广场场地平整", "施工震动引发阻工"]
    sec = doc.sections[0]
    assert sec.orientation == 1 and round(sec.page_width.cm, 1) == 29.7 and round(sec.page_height.cm, 1) == 21.0
    title = doc.paragraphs[1].runs[0]
    assert title.font.size.pt == 22 and title._element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "方正小标宋简体"


def test_annex4_of_an_unsigned_slip_shows_its_draft_and_no_signing_record(month):
    slip = month.scalar(select(AssignmentSlip).where(AssignmentSlip.code == "JB2"))
    rows = values(sheet_of(annex4_xlsx(month, slip)))
    assert rows[2][0] == "调度领导（签字）："
    h = header_row(sheet_of(annex4_xlsx(month, slip)), "序号")
    assert rows[h][:5] == [1, "校舍安全排查", "经费不足", "财政局统筹", "区教育局"] and rows[h][6] == "2026年12月30日"
    texts = [p.text for p in Document(io.BytesIO(annex4_docx(month, slip))).paragraphs]
    assert not any("签批" in t for t in texts)


def test_key_project_form_merges_each_project_over_its_milestones(month):
    info = form_info_from_seed(SEED_FILE)
    assert info == FormInfo("周一", "7719664@qq.com", "小郑", "13599290520")
    ws = sheet_of(projects_xlsx(month, date(2026, 11, 25), info))
    rows = values(ws)
    assert rows[0][0] == "附件" and rows[1][0] == "第一批“难硬重新”重点项目突破攻坚问题清单"
    assert rows[2][0] == "填报单位:" and rows[3][0] == "填报时间: 2026年11月23日"
    h = header_row(ws, "序")
    assert rows[h - 1] == PROJECT_COLUMNS
    body = rows[h:h + 14]
    assert [r[0] for r in body if r[0] is not None] == [1, 2, 3, 4]
    assert [r[3] for r in body[:3]] == ["完成项目工程量清算", "完成重新招投标", "项目重新开工"]
    assert body[0][4] == "2021年2月25日"  # another year than the week's: with its year
    assert body[0][5].split("\n") == ["项目审批方面：施工许可待办理", "资金概算方面：", "规划用地方面：",
                                      "工程施工方面：雨季影响工期", "群众工作方面："]
    assert body[0][6:] == ["区教育局 区发改局", "已召开协调会两次", "加快招投标进度"]
    assert body[3][5].split("\n")[0] == "项目审批方面："  # no form this week for project 2
    merged = {str(r) for r in ws.merged_cells.ranges}
    first = h + 1
    for col in "ABCFGHI":
        assert f"{col}{first}:{col}{first + 2}" in merged  # project 1: three milestones
        assert f"{col}{first + 6}:{col}{first + 9}" in merged  # project 3: four
    assert not any(r.startswith(("D", "E")) for r in merged)
    assert rows[h + 14][0] == ("填表说明：请各牵头单位每周一填报项目推进存在问题、涉及责任部门、"
                               "协调解决问题情况及下阶段对策建议，"
                               "经项目负责领导审阅后，电子版发送至 7719664@qq.com。"
                               "联系人：小郑，联系电话 13599290520。")
    assert_print_setup(ws, landscape=True, header=h)


def test_the_note_follows_the_org_chart_not_the_code(month, tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("key_projects:\n  report_mailbox: a@b.cn\n  report_contact: {name: 小王, mobile: '13000000000'}\n"
                    "  weekly_report_day: friday\n", encoding="utf-8")
    ws = sheet_of(projects_xlsx(month, date(2026, 11, 25), form_info_from_seed(seed)))
    note = [r[0] for r in values(ws) if r[0] and str(r[0]).startswith("填表说明")][0]
    assert "每周五填报" in note and "a@b.cn" in note and "小王，联系电话 13000000000" in note


def test_ledger_lists_what_the_viewer_may_see(month):
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    ws = sheet_of(ledger_xlsx(month, roles(month, "yangyoumei"), now, "全部"))
    rows = values(ws)
    h = header_row(ws, "序号")
    head = rows[h - 1]
    assert head[:9] == ["序号", "编号", "来源", "调度事项", "调度领导", "责任单位", "牵头单位", "状态", "亮灯"]
    body = {r[1]: dict(zip(head, r, strict=False)) for r in rows[h:] if r[1] and str(r[1])[:1] in "MJ"}
    assert sorted(body) == ["J6", "J7", "M1", "M2", "M3", "M4", "M5"]
    m3 = body["M3"]
    assert (m3["状态"], m3["亮灯"], m3["逾期天数"], m3["督办层级"]) == ("推进中", "红灯", 21, "提请督导考核组分解督办")
    assert m3["来源"] == "会议纪要：泉港政纪〔2026〕12号" and body["J6"]["来源"] == "交办单：JB1"
    assert body["M1"]["状态"] == "已销号" and body["M1"]["亮灯"] == "已销号"
    assert body["M1"]["历史记录"].split("\n") == ["2026年11月19日 16:00 （待指定）区发改局联络员 报送进展",
                                              "2026年11月25日 09:00 系统 销号"]
    assert body["M2"]["最近进展"] == "数据核对中" and body["M2"]["最近报送"] == "2026年11月20日 17:00"
    assert body["M5"]["督办层级"] == "效能问责"
    assert rows[1][0].startswith("范围：全部") and "共7项" in rows[1][0]
    assert_print_setup(ws, landscape=True, header=h)

    tongji = month.scalar(select(Unit).where(Unit.name == "区统计局"))
    ws = sheet_of(ledger_xlsx(month, roles_of(month, tongji.liaison), now, "区统计局"))
    codes = [r[1] for r in values(ws)[header_row(ws, "序号"):] if r[1] and str(r[1])[:1] in "MJ"]
    assert codes == ["M2"]


# -- the monthly analysis report --------------------------------------------------------------------
def test_monthly_report_docx_reads_as_an_office_document(seeded, tmp_path):
    from tests.documents_data import build_month
    from tests.jobs_helpers import notices

    with seeded.db.session() as s:
        build_month(s)
    from bot.jobs import monthly

    res = monthly.run(seeded, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    assert res.skipped is None
    keys = [n.key for n in notices(seeded, "monthly_report:2026-11:")]
    assert keys == ["monthly_report:2026-11:summary", "monthly_report:2026-11:image", "monthly_report:2026-11:docx",
                    "monthly_report:2026-11:file"]
    path = [n for n in notices(seeded, "monthly_report:2026-11:docx")][0].payload["path"]
    assert path.endswith("2026-11调度分析报告.docx")
    doc = Document(path)
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts[0] == "2026年11月“大调度、大督查”调度工作分析报告"
    assert texts[2] == "2026年12月1日"
    headings = [t for t in texts if t[:2] in ("一、", "二、", "三、", "四、", "五、", "六、")]
    assert headings == ["一、总体情况", "二、各领导调度事项落实情况", "三、难点痛点堵点", "四、逾期和超期未报情况",
                        "五、督办和问责情况", "六、下步工作建议"]
    body = "\n".join(texts)
    # 陈剑锋 and 郭雅婷 held meetings; the six other leaders of 附件2 did not
    assert "8位区政府领导中，2位召开调度会议（含调研、一线调度）共2场" in body
    assert "杨凤翔" in body.split("本月未召开调度会议")[0]
    # October held M5 alone (overdue since Oct 20): the comparison with the previous month
    assert ("截至2026年12月1日，台账在册调度事项7项，较上月增加6项，"
            "其中已销号2项、未销号5项、逾期2项，较上月增加1项") in body
    assert "提请督导考核组分解督办1件，效能问责1件" in body
    assert "M5 科技企业培育专项（区科技局）" in body  # 效能问责 level, still open
    assert "（一）落实调度频次" in body and "逾期超过30天" in body
    assert len(doc.inline_shapes) == 1  # the chart
    units, ledger = doc.tables[:2]  # then the key projects (seed 001)
    assert [c.text for c in units.rows[0].cells][:5] == ["责任单位", "事项总数", "已销号", "未销号", "逾期"]
    assert sorted(r.cells[0].text for r in ledger.rows[1:]) == ["J6", "J7", "M1", "M2", "M3", "M4", "M5"]
    assert ledger.rows[0]._tr.trPr.xpath("./w:tblHeader")
    s0, s1 = doc.sections
    assert (round(s0.page_width.cm, 1), round(s0.top_margin.cm, 1), round(s0.left_margin.cm, 1)) == (21.0, 3.7, 2.8)
    assert s1.orientation == 1  # appendices landscape


def test_monthly_report_docx_carries_the_key_project_table(seeded):
    """Seed 001 in the analysis report as in the workbook: per key project its weekly forms (due, reviewed,
    on time) and its milestones due in the month (met on time, met late, not met); and each unit's part —
    read back from the .docx."""
    from bot.jobs import monthly
    from models import KeyProject, Milestone, WeeklyProjectReport
    from tests.documents_data import build_month
    from tests.jobs_helpers import notices

    with seeded.db.session() as s:
        build_month(s)
        project = s.scalar(select(KeyProject).where(KeyProject.seq == 1))
        someone = s.scalar(select(Person).where(Person.wecom_userid == "guoyating"))
        for week, reviewed in ((date(2026, 11, 2), datetime(2026, 11, 2, 1, tzinfo=UTC)),
                               (date(2026, 11, 9), datetime(2026, 11, 11, 1, tzinfo=UTC))):
            s.add(WeeklyProjectReport(project_id=project.id, week_start=week, submitted_by_id=someone.id,
                                      submitted_at=reviewed, state="reviewed", reviewed_by_id=someone.id,
                                      reviewed_at=reviewed, filled_unit_id=project.lead_units[0].id))
        top = max([m.seq for m in project.milestones] or [0])
        for i, (deadline, done) in enumerate(((date(2026, 11, 10), date(2026, 11, 9)),
                                              (date(2026, 11, 15), date(2026, 11, 20)),
                                              (date(2026, 11, 25), None), (date(2027, 1, 5), None)), 1):
            s.add(Milestone(project_id=project.id, seq=top + i, target=f"节点{i}", deadline=deadline, done_on=done))
        name, leads = project.name, "、".join(u.name for u in project.lead_units)
    monthly.run(seeded, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    path = [n for n in notices(seeded, "monthly_report:2026-11:docx")][0].payload["path"]
    doc = Document(path)
    texts = [p.text for p in doc.paragraphs if p.text]
    assert "3. 重点项目推进情况表" in texts and "重点项目推进情况表" in texts
    tables = {t.rows[0].cells[0].text: t for t in doc.tables}
    table = tables["重点项目"]
    assert [c.text for c in table.rows[0].cells] == ["重点项目", "牵头单位", "应报周报", "已审核", "按时审核",
                                                     "到期节点", "按期完成", "逾期完成", "逾期未完成"]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in table.rows[1:]}
    # November 2026 has five Mondays; two forms reviewed, one of them on its Monday
    assert rows[name] == [leads, "5", "2", "1", "3", "1", "1", "1"]
    units = {r.cells[0].text: [c.text for c in r.cells[1:5]] for r in tables["单位"].rows[1:]}
    assert units[leads.split("、")[0]] == ["5", "1", "1", "3"]


def test_a_month_before_any_data_sends_no_report(seeded):
    """serve's first start runs the monthly job's catch-up: with nothing recorded yet, nothing is sent."""
    from bot.jobs import monthly
    from models import MonthlyReport, Notice

    res = monthly.run(seeded, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    assert res.skipped and res.notices == 0
    with seeded.db.Session() as s:
        assert s.scalar(select(MonthlyReport.id)) is None and s.scalar(select(Notice.id)) is None
