"""Roll-up answers in chat (汇总 / 修改汇总 / 提交), table-driven, on a roll-up compiled by the job."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import AuditLog, RollUp
from tests import factories as f
from tests.dialog import Direct, talk
from tests.jobs_helpers import at, notices, run_cli

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")


def setup(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        o.row2.office_liaisons = [o.ol1, o.ol2]  # 林勇勇 follows both rows
        a = f.matter(s, "J1", o.fagai, o.leader1, date(2026, 12, 30))
        a.obstacles = "征迁补偿标准未定"
        f.matter(s, "M2", o.jiaoyu, o.leader2, date(2026, 12, 1))
        f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 4))
    return o


def test_rollup_dialog(runtime, runner):
    o = setup(runtime)
    run_cli(runner, "rollup_compile", at(2026, 12, 6))
    sent = notices(runtime, "rollup:r")
    assert sorted(n.target for n in sent) == ["linyongyong", "linyongyong", "subingjiao"]
    assert any("征迁补偿标准未定" in n.payload["content"] for n in sent)
    runtime.clock.set(at(2026, 12, 6, 10))
    talk(Direct(runtime, "wujinming"), [("提交", "不是任何调度事项")])
    talk(Direct(runtime, "linyongyong"), [
        ("汇总", ("2 份归口汇总待提交", "· 2 — 陈剑锋", "· 6 — 郭雅婷")),
        ("提交", ("请带上附件2序号", "提交 2")),
        ("汇总 9", "没有找到附件2第9项"),
        ("汇总 2", ("陈剑锋", "区发改局", "征迁补偿标准未定", "提交 2")),
        ("修改汇总 2", "请在“修改汇总”后写上新的难点痛点堵点"),
        ("修改汇总 2 " + "难" * 1001, "内容太长了（1001 字）"),
        ("修改汇总 2 补偿标准待区政府常务会研究", ("已更新", "补偿标准待区政府常务会研究")),
        ("提交 2", ("已提交附件2第2项（陈剑锋）", "!迟报")),
        ("提交 2", "没有找到附件2第2项"),
        ("汇总", ("郭雅婷", "区教育局", "!陈剑锋")),  # one left: no number needed
    ])
    runtime.clock.set(at(2026, 12, 7, 18, 30))
    talk(Direct(runtime, "subingjiao"), [("提交", ("已提交附件2第6项（郭雅婷）", "记为迟报"))])
    runtime.clock.set(None)
    group = notices(runtime, "rollup_submitted:")
    assert [n.target for n in group] == ["supervision", "supervision"]
    assert "补偿标准待区政府常务会研究" in group[0].payload["content"] and "林勇勇" in group[0].payload["content"]
    assert "迟报" in group[1].payload["content"]
    with runtime.db.session() as s:
        rows = {r.dispatch_row_id: r for r in s.scalars(select(RollUp))}
        assert rows[o.row1.id].is_late is False and rows[o.row2.id].is_late is True
        assert rows[o.row2.id].office_liaison_id == o.ol2.id
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "rollup")
                                                .order_by(AuditLog.id))]
    assert actions == ["rollup_compiled", "rollup_compiled", "rollup_edited", "rollup_submitted", "rollup_submitted"]
    # the reminder and the late list only concern what is still missing: nothing here
    run_cli(runner, "rollup_reminder", at(2026, 12, 7, 9, 30))
    assert notices(runtime, "rollup_reminder:") == []


def test_no_rollup_yet(runtime):
    setup(runtime)
    talk(Direct(runtime, "subingjiao"), [("提交", "目前没有待提交的归口汇总"), ("汇总", "每月6日、21日")])
