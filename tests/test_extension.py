"""延期申请 end to end: the unit liaison asks, the row's office supervisor decides, both deadlines are kept,
the audit trail shows who and when."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import AuditLog, ExtensionRequest, Matter, Notice
from tests import factories as f
from tests.factories import at

NOW = at(2026, 12, 10, 10)


@pytest.fixture
def rt(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20), title="石化园区道路征迁")
        f.matter(s, "M3", o.jiaoyu, o.leader2, date(2026, 12, 31), title="锦川实验小学开工")
    runtime.clock.set(NOW)
    return runtime


def say(rt, user, text):
    return rt.handle_text("wecom", user, text).text


def notices(rt, target):
    with rt.db.session() as s:
        return [n.payload["content"] for n in s.scalars(select(Notice).where(Notice.target == target)
                                                         .order_by(Notice.id))]


def state(rt, code="M1"):
    with rt.db.session() as s:
        m = s.scalar(select(Matter).where(Matter.code == code))
        return m.state, m.deadline, m.original_deadline


def test_request_and_approve_end_to_end(rt):
    out = say(rt, "ua", "延期申请 M1 2027-01-15 征迁协议未签订")
    assert "申请号 1" in out and "2027年1月15日" in out and "曾永顺" in out
    assert state(rt) == ("extension_requested", date(2026, 12, 20), date(2026, 12, 20))
    asked = notices(rt, "zengyongshun")
    assert len(asked) == 1 and "批准 1" in asked[0] and "征迁协议未签订" in asked[0]
    assert "无权审批" in say(rt, "xiaojiansong", "批准 1")  # the other row's supervisor
    assert "无权审批" in say(rt, "ua", "批准 1")
    rt.clock.set(at(2026, 12, 11, 9, 30))
    out = say(rt, "zengyongshun", "批准 1 同意，抓紧推进")  # shown first, then 确认
    assert "【延期申请 1】M1" in out and "2026年12月20日 → 2027年1月15日" in out and "确认" in out
    assert state(rt)[0] == "extension_requested"
    out = say(rt, "zengyongshun", "确认")
    assert "2027年1月15日" in out and "原时限2026年12月20日" in out
    assert state(rt) == ("open", date(2027, 1, 15), date(2026, 12, 20))
    told = notices(rt, "ua")
    assert len(told) == 1 and "已批准" in told[0] and "同意，抓紧推进" in told[0]
    assert "已处理过" in say(rt, "zengyongshun", "批准 1")
    hist = say(rt, "ua", "历史 M1")
    assert "2026年12月10日 10:00 发改联络员 申请延期（拟延至1月15日）：征迁协议未签订" in hist
    assert "2026年12月11日 09:30 曾永顺 批准延期（时限12月20日→1月15日）：同意，抓紧推进" in hist
    assert "原时限2026年12月20日" in say(rt, "wujinming", "查 M1")


def test_refusal_needs_a_reason_and_keeps_the_deadline(rt):
    say(rt, "ua", "延期申请 M1 2027-01-15 资金未到位")
    assert "请写明原因" in say(rt, "zengyongshun", "不批准 1")
    out = say(rt, "zengyongshun", "不批准 1 请按原时限完成")
    assert "仍为2026年12月20日" in out
    assert state(rt) == ("open", date(2026, 12, 20), date(2026, 12, 20))
    assert "未获批准" in notices(rt, "ua")[0]
    with rt.db.session() as s:
        req = s.scalar(select(ExtensionRequest))
        assert (req.state, req.old_deadline, req.new_deadline) == ("refused", date(2026, 12, 20), date(2027, 1, 15))
        acts = list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert acts == ["extension_requested", "extension_refused"]


@pytest.mark.parametrize("who, text, answer", [
    ("ua", "延期申请", "请写明事项编号"),
    ("ua", "延期申请 M9", "没有找到编号为“M9”"),
    ("ua", "延期申请 M3 2027-01-15 x", "没有找到编号为“M3”"),  # another unit's item: not even visible
    ("linyongyong", "延期申请 M1 2027-01-15 x", "只有事项M1责任单位"),
    ("ua", "延期申请 M1 后天再说 x", "没有看懂日期"),
    ("ua", "延期申请 M1 2026-12-15 x", "须晚于当前时限2026年12月20日"),
    ("ua", "延期申请 M1 2027-01-15", "请写明延期原因"),
    ("ua", "批准 1", "没有找到申请号"),
    ("zengyongshun", "批准 abc", "没有找到申请号"),
])
def test_bad_input_is_answered_and_changes_nothing(rt, who, text, answer):
    assert answer in say(rt, who, text)
    assert state(rt) == ("open", date(2026, 12, 20), date(2026, 12, 20))


def test_second_request_while_pending_is_refused(rt):
    say(rt, "ua", "延期申请 M1 2027-01-15 征迁")
    assert "已有一份待审批" in say(rt, "ua", "延期申请 M1 2027-02-15 再延")
    assert "申请号 1" in say(rt, "zengyongshun", "待批延期")


def test_conversation_form(rt):
    out = say(rt, "ua", "延期申请 M1")
    assert "当前完成时限为2026年12月20日" in out
    assert "须晚于当前时限" in say(rt, "ua", "2026-12-18")
    assert "延期原因" in say(rt, "ua", "2027年1月15日")
    out = say(rt, "ua", "村居协调未完成")
    assert "确认" in out and "2027年1月15日" in out
    assert "申请号 1" in say(rt, "ua", "确认")
    assert state(rt)[0] == "extension_requested"
