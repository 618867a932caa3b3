"""Close-out end to end: the unit claims completion, the row's office liaison confirms (销号) or returns it;
only then is the item closed; the audit trail shows every step with who and when."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.actions.base import Acting
from bot.actions.closeout import do_claim_completion
from models import Matter, Notice
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


def state(rt, code="M1"):
    with rt.db.session() as s:
        return s.scalar(select(Matter.state).where(Matter.code == code))


def notices(rt, target):
    with rt.db.session() as s:
        return [n.payload["content"] for n in s.scalars(select(Notice).where(  # card updates carry no text
            Notice.target == target, Notice.msgtype != "card_update").order_by(Notice.id))]


def test_claim_return_claim_close(rt):
    # (who, says, answer contains, state after)
    dialog = [
        ("linyongyong", "销号 M1", "尚未报告完成", "open"),  # nothing claimed yet
        ("ua", "申请销号 M1 已完成路面施工", "等待办公室调度联络员（林勇勇）核实销号", "completion_claimed"),
        ("ua", "申请销号 M1", "无需重复报告", "completion_claimed"),
        ("subingjiao", "销号 M1", "没有找到编号为“M1”", "completion_claimed"),  # other row's liaison
        ("zengyongshun", "销号 M1", "无权办理", "completion_claimed"),  # the supervisor is not the liaison
        ("linyongyong", "退回重办 M1", "请写明退回重办的原因", "completion_claimed"),
        ("linyongyong", "退回重办 M1 缺少竣工验收材料", "已退回重办：缺少竣工验收材料", "returned"),
        ("ua", "申请销号 M1 验收材料已补齐", "核实销号", "completion_claimed"),
        ("linyongyong", "待销号", "M1 ", "completion_claimed"),
        ("linyongyong", "销号 M1", "以下 1 份将确认销号", "completion_claimed"),  # shown first (issue #15)
        ("linyongyong", "确认", "已销号", "closed"),
        ("ua", "申请销号 M1", "已销号，不能再办理", "closed"),
        ("linyongyong", "退回重办 M1 再看看", "已销号，不能再办理", "closed"),
    ]
    for i, (who, text, answer, after) in enumerate(dialog):
        rt.clock.set(at(2026, 12, 10, 10, i))
        assert answer in say(rt, who, text), (who, text)
        assert state(rt) == after, (who, text)
    to_ol = notices(rt, "linyongyong")
    assert len(to_ol) == 2 and "销号 M1" in to_ol[0] and "已完成路面施工" in to_ol[0]
    to_unit = notices(rt, "ua")
    assert len(to_unit) == 2 and "缺少竣工验收材料" in to_unit[0] and "已销号" in to_unit[1]
    hist = say(rt, "wujinming", "历史 M1")
    for line in ("10:01 发改联络员 报告已完成：已完成路面施工", "10:06 林勇勇 退回重办：缺少竣工验收材料",
                 "10:07 发改联络员 报告已完成：验收材料已补齐", "10:10 林勇勇 销号"):
        assert line in hist
    assert "✅ M1" not in say(rt, "ua", "逾期")


def test_report_flow_claim_is_seen_by_the_office_liaison(rt):
    """The report flow calls do_claim_completion; the item then waits in 待销号."""
    with rt.db.session() as s:
        m = s.scalar(select(Matter).where(Matter.code == "M3"))
        do_claim_completion(Acting(s, "system:report", NOW), m)
    assert "M3 " in say(rt, "subingjiao", "待销号")
    assert "【M3 申请销号】" in say(rt, "subingjiao", "销号 m3")
    assert "已销号" in say(rt, "subingjiao", "确认")
    assert state(rt, "M3") == "closed"


def test_admin_may_close_and_unit_liaison_may_not(rt):
    say(rt, "ua", "申请销号 M1 路面已完工")  # 申请销号 says what was done
    assert "无权办理" in say(rt, "ua", "销号 M1")
    assert "确认" in say(rt, "liuzhaoxuan", "销号 M1") and "已销号" in say(rt, "liuzhaoxuan", "确认")
