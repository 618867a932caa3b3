"""交办单: draft → leader signs or returns → drafter edits and resubmits → issued into the ledger."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import AssignmentSlip, AuditLog, Matter, Notice
from tests import factories as f
from tests.dialog import Direct, at, talk
from tests.slip_draft import DRAFT


@pytest.fixture
def org(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
    runtime.clock.set(at(2026, 11, 23))
    return o


def state(rt):
    with rt.db.session() as s:
        slip = s.scalar(select(AssignmentSlip))
        matters = [(m.code, m.kind, m.title, m.responsible_unit.name, m.deadline, m.obstacles, m.measures,
                    m.leader.name) for m in s.scalars(select(Matter).order_by(Matter.id))]
        notices = [(n.key, n.target, n.payload.get("content") or n.payload.get("path"))  # a file: its path
                   for n in s.scalars(select(Notice).order_by(Notice.id))]
        audits = [(a.actor, a.entity, a.action, a.reason) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
        return (slip.code, slip.state, slip.return_reason) if slip else None, matters, notices, audits


def test_slip_signed_is_issued_to_units_and_supervision(runtime, org):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    slip, matters, notices, _a = state(runtime)
    assert slip == ("JB1", "pending_signature", None) and matters == []  # nothing in the ledger before signing
    [(key, target, text)] = notices
    assert (key, target) == ("slip-sign:1:1", "chenjianfeng") and "同意 JB1" in text and "项目立项审批" in text
    talk(Direct(runtime, "guoyating"), [("同意 JB1", "只有签发人本人")])
    talk(Direct(runtime, "linyongyong"), [("同意 JB1", "只有签发人本人")])
    talk(Direct(runtime, "chenjianfeng"), [("同意", ("以下 1 份将同意签发", "【交办单 JB1】", "项目立项审批", "!J1 ")),
                                           ("确认", ("已签发交办单 JB1", "J1", "J2"))])
    slip, matters, notices, audits = state(runtime)
    assert slip[1] == "issued"
    assert matters == [
        ("J1", "slip", "石化科创小镇一期征迁扫尾", "区科技局", date(2026, 12, 15), "3户群众诉求未解决",
         "镇村联动逐户攻坚", "陈剑锋"),
        ("J2", "slip", "项目立项审批", "区发改局", date(2026, 11, 30), "材料不全", "专人代办", "陈剑锋")]
    keyed = {k: (t, c) for k, t, c in notices}
    assert keyed["slip-copy:1"][0] == "supervision" and "J1" in keyed["slip-copy:1"][1]
    assert keyed["slip-unit:1:%d" % org.keji.id][0] == "uk" and "J1" in keyed["slip-unit:1:%d" % org.keji.id][1]
    assert keyed["slip-unit:1:%d" % org.fagai.id][0] == "ua"
    assert keyed["slip-signed:1"][0] == "linyongyong"
    assert ("陈剑锋", "assignment_slip", "sign", None) in audits
    assert [a[2] for a in audits if a[1] == "matter"] == ["create", "create"]
    talk(Direct(runtime, "chenjianfeng"), [("同意 JB1", "不在待签发状态"), ("同意", "没有待您签发")])
    talk(Direct(runtime, "uk"), [("我的事项", ("J1", "2026年12月15日"))])


def test_slip_returned_edited_and_resubmitted(runtime, org):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    talk(Direct(runtime, "chenjianfeng"), [
        ("退回", "请写明退回原因"),
        ("退回 JB9 太粗", "没有找到交办单"),
        ("退回 JB1 措施不够具体，请补充时间节点", ("已将交办单 JB1 退回林勇勇", "措施不够具体")),
    ])
    slip, matters, notices, audits = state(runtime)
    assert slip == ("JB1", "returned", "措施不够具体，请补充时间节点") and matters == []
    assert notices[-2][:2] == ("slip-returned:1:1", "linyongyong") and "修改交办单 JB1" in notices[-2][2]
    assert notices[-1][:2] == ("card-done:dc-slip-1-1:p1", "chenjianfeng")  # the leader's card shows 已退回
    assert ("陈剑锋", "assignment_slip", "return", "措施不够具体，请补充时间节点") in audits
    talk(Direct(runtime, "ol2_is_not_registered"), [("修改交办单 JB1", "尚未登记")])
    talk(Direct(runtime, "subingjiao"), [("修改交办单 JB1", "只有起草人可以修改")])
    talk(Direct(runtime, "linyongyong"), [
        ("修改交办单", ("被退回，原因：措施不够具体", "请核对", "(1) 石化科创小镇一期征迁扫尾")),
        ("修改 3", ("(1)", "(2)", "项号")),
        ("1", ("1. 事项名称：石化科创小镇一期征迁扫尾", "5. 完成时限")),
        ("全部", ("事项名称", "当前已填：石化科创小镇一期征迁扫尾")),
        ("石化科创小镇一期征迁扫尾", None), ("3户群众诉求未解决", None),
        ("镇村联动逐户攻坚，12月10日前完成签约", None), ("科技局", None), ("12月15日", "请核对"),
        ("确认", "已重新提交"),
    ])
    slip, _m, notices, _a = state(runtime)
    assert slip[1] == "pending_signature"
    assert notices[-1][:2] == ("slip-sign:1:2", "chenjianfeng") and "重新提交" in notices[-1][2]
    talk(Direct(runtime, "chenjianfeng"), [("签发 jb1", "交办单 JB1"), ("确认", "已签发交办单 JB1")])
    _s, matters, _n, _a = state(runtime)
    assert [m[6] for m in matters] == ["镇村联动逐户攻坚，12月10日前完成签约", "专人代办"]


def test_slip_permissions(runtime, org):
    for user in ("wujinming", "chenjianfeng", "zengyongshun"):  # supervision member, leader, office supervisor
        talk(Direct(runtime, user), [("交办单", ("没有这一权限", "!第 1/"))])
    talk(Direct(runtime, "ua"), [("交办单", "第 1/"), ("取消", "已取消")])  # 发改局 leads row 1
    assert state(runtime)[0] is None
