"""保密 kept out of group chats and mail (seed 000 §三(一): "除涉及保密工作事项外，所有印发纪要/事项交办单均要
抄送督导考核组"): the roll-up post, the escalation lists, 通报 and the monthly report count a 保密 item
("另有涉密事项1项，未列明细") and never show its content; the people with a role on it still see it."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from docx import Document
from sqlalchemy import select

from bot.actions.circular import build_circular, publish_circular
from bot.actions.escalation import auto_escalate
from bot.actions.rollup import compile_rows
from bot.domain.periods import period_by_key
from models import Matter
from tests import factories as f
from tests.factories import at
from tests.jobs_helpers import notices

SECRET_TITLE = "涉密项目用地报批"
SECRET_OBSTACLE = "审批材料涉密"
COUNTED = "另有涉密事项1项，未列明细"


@pytest.fixture
def rt(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        secret = f.minutes(s, o.leader1, o.fagai, row=o.row1, title="涉密专题调度会")
        secret.confidential = True
        m9 = f.matter(s, "M9", o.fagai, o.leader1, date(2026, 10, 20), title=SECRET_TITLE, minutes_obj=secret)
        m9.obstacles = SECRET_OBSTACLE
        m1 = f.matter(s, "M1", o.keji, o.leader1, date(2026, 10, 25), title="科创小镇招商")
        m1.obstacles = "用地指标不足"
    runtime.clock.set(at(2026, 12, 10, 10))
    return runtime


def test_the_circular_counts_a_confidential_item_and_never_lists_it(rt):
    with rt.db.session() as s:
        text = build_circular(s, at(2026, 12, 10, 10))
        publish_circular(s, rt, at(2026, 12, 10, 10), key="circular:test")
    assert "科创小镇招商" in text and "（共 2 项）" in text
    assert SECRET_TITLE not in text and "M9" not in text and COUNTED in text
    [sent] = notices(rt, "circular:test")
    assert SECRET_TITLE not in sent.payload["content"] and COUNTED in sent.payload["content"]


def test_the_escalation_lists_count_a_confidential_item(rt):
    with rt.db.session() as s:
        auto_escalate(s, rt, at(2026, 12, 10, 9))
    group = [n for n in notices(rt, "escalation:") if n.target == "supervision"]
    assert len(group) == 2  # 久拖不办 and 久推不动
    for n in group:
        assert "科创小镇招商" in n.payload["content"]
        assert SECRET_TITLE not in n.payload["content"] and COUNTED in n.payload["content"]
    # the leader follows the item (a role on it): their own digest names it
    digests = [n for n in notices(rt, "escalation:") if n.target == "chenjianfeng"]
    assert digests and SECRET_TITLE in digests[0].payload["content"]


def test_the_rollup_post_counts_a_confidential_item(rt):
    with rt.db.session() as s:
        row1 = s.scalar(select(Matter.minutes_id).where(Matter.code == "M9"))
        assert row1
        compiled = compile_rows(s, period_by_key("2026-12-05"))
    texts = [c.content + c.hardest for c in compiled.values()]
    assert texts and any("用地指标不足" in t for t in texts)
    assert not any(SECRET_TITLE in t or SECRET_OBSTACLE in t for t in texts)
    assert any(COUNTED in t for t in texts)


def test_the_monthly_report_counts_a_confidential_item(rt):
    from openpyxl import load_workbook

    from bot.jobs import monthly
    from models import MonthlyReport

    monthly.run(rt, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    with rt.db.session() as s:
        row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == "2026-11"))
    assert "科创小镇招商" in row.summary and SECRET_TITLE not in row.summary and SECRET_OBSTACLE not in row.summary
    assert COUNTED in row.summary
    wb = load_workbook(row.xlsx_path)
    cells = "\n".join(str(c) for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r if c)
    assert "科创小镇招商" in cells and SECRET_TITLE not in cells and SECRET_OBSTACLE not in cells
    assert COUNTED in cells
    docx_path = monthly.docx_path(row.xlsx_path)
    doc = Document(io.BytesIO(docx_path.read_bytes()))
    body = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert "科创小镇招商" in body and SECRET_TITLE not in body and SECRET_OBSTACLE not in body
    assert "其中涉密事项1项，未列明细" in body


def test_the_problem_list_file_sent_to_a_group_leaves_confidential_minutes_out(rt):
    """The 附件3 workbook riding along the roll-up post to the supervision group (`public=True`); the office
    liaison's own copy (a role on the items) keeps them."""
    from openpyxl import load_workbook

    from bot.documents.problems import annex3_xlsx
    from bot.domain.roles import roles_of
    from models import Person

    def text(data):
        wb = load_workbook(io.BytesIO(data))
        return "\n".join(str(c) for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r if c)

    with rt.db.session() as s:
        liaison = s.scalar(select(Person).where(Person.wecom_userid == "linyongyong"))
        period = period_by_key("2026-12-05")
        own = text(annex3_xlsx(s, roles_of(s, liaison), period))
        shared = text(annex3_xlsx(s, roles_of(s, liaison), period, public=True))
    assert SECRET_TITLE in own
    assert SECRET_TITLE not in shared and COUNTED in shared


def test_a_confidential_item_raised_to_the_supervision_group_is_counted_not_shown(rt):
    from bot.actions.base import Acting
    from bot.actions.escalation import do_raise_escalation
    from models import Person

    with rt.db.session() as s:
        ua = s.scalar(select(Person).where(Person.wecom_userid == "ua"))
        m9 = s.scalar(select(Matter).where(Matter.code == "M9"))
        do_raise_escalation(Acting(s, ua, at(2026, 12, 10, 10)), m9, 1, "跨部门难协调")
    [n] = [n for n in notices(rt, "escalation:1:") if n.target == "supervision"]
    assert SECRET_TITLE not in n.payload["content"] and "另有涉密事项1项，未列明细" in n.payload["content"]
