"""Refusals do not reveal that an object exists (issue 11, item 5): a slip, a leader's slip or an extension
request someone may not act on is answered exactly like an unknown id, and a code that does not parse is an
error, never a fallback to the leader's only pending slip."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.domain.codes import split_code, split_code_strict
from models import AssignmentSlip
from tests import factories as f
from tests.dialog import Direct, at, talk
from tests.slip_draft import DRAFT


@pytest.fixture
def org(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
    runtime.clock.set(at(2026, 11, 23))
    return o


def say(rt, user, text):
    return rt.handle_text("wecom", user, text).text


def slip_state(rt):
    with rt.db.session() as s:
        slip = s.scalar(select(AssignmentSlip))
        return slip.state, slip.return_reason


def test_someone_elses_slip_is_answered_like_an_unknown_one(runtime, org):
    talk(Direct(runtime, "linyongyong"), DRAFT)  # JB1, to be signed by 陈剑锋
    for user in ("guoyating", "linyongyong"):  # the other leader; the drafter (no leader role for 同意)
        for verb in ("同意", "退回"):
            known = say(runtime, user, f"{verb} JB1 理由")
            unknown = say(runtime, user, f"{verb} JB1 理由".replace("JB1", "JB77"))
            assert known.replace("JB1", "JB77") == unknown
            assert "陈剑锋" not in known and "林勇勇" not in known
    assert slip_state(runtime) == ("pending_signature", None)


def test_someone_elses_returned_slip_is_answered_like_an_unknown_one(runtime, org):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    talk(Direct(runtime, "chenjianfeng"), [("退回 JB1 措施不够具体", "已将交办单 JB1 退回")])
    known = say(runtime, "subingjiao", "修改交办单 JB1")
    unknown = say(runtime, "subingjiao", "修改交办单 JB77")
    assert known.replace("JB1", "JB77") == unknown and "林勇勇" not in known


@pytest.mark.parametrize("text", ["同意 JB-x", "同意 JB99999999999", "同意 JB0", "同意 M1", "同意 J-1x",
                                  "签发 JB1a", "同意 jb"])
def test_a_code_that_does_not_name_a_slip_never_signs_the_only_pending_one(runtime, org, text):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    out = say(runtime, "chenjianfeng", text)
    assert "已签发" not in out and "没有找到" in out
    assert slip_state(runtime) == ("pending_signature", None)


@pytest.mark.parametrize("text", ["退回 JB0 原因", "退回 JB-x 原因", "退回 JB1a 原因", "退回 JB99999999999 原因"])
def test_a_malformed_code_is_never_taken_as_the_reason(runtime, org, text):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    out = say(runtime, "chenjianfeng", text)
    assert "已将交办单" not in out and "没有找到" in out
    assert slip_state(runtime) == ("pending_signature", None)


def test_the_only_pending_slip_is_still_signed_without_a_code(runtime, org):
    talk(Direct(runtime, "linyongyong"), DRAFT)
    talk(Direct(runtime, "chenjianfeng"), [("退回 措施不够具体", "已将交办单 JB1 退回")])
    assert slip_state(runtime) == ("returned", "措施不够具体")


def test_an_extension_request_one_may_not_decide_is_answered_like_an_unknown_one(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20), title="石化园区道路征迁")
    runtime.clock.set(at(2026, 12, 10))
    assert "申请号 1" in say(runtime, "ua", "延期申请 M1 2027-01-15 征迁协议未签订")
    for verb in ("批准", "不批准"):
        known = say(runtime, "xiaojiansong", f"{verb} 1 理由")  # the other row's supervisor
        unknown = say(runtime, "xiaojiansong", f"{verb} 77 理由")
        assert known.replace("“1”", "“77”") == unknown
        assert "M1" not in known and "石化" not in known


@given(st.text(max_size=20))
def test_strict_split_agrees_with_split_code(text):
    code, rest, malformed = split_code_strict(text)
    assert (code, rest) == split_code(text) or code is None
    if code is not None:
        assert not malformed and (code, rest) == split_code(text)
    if split_code(text)[0] is not None:
        assert code is not None


@pytest.mark.parametrize("text, malformed", [
    ("JB-x 原因", True), ("JB0", True), ("jb", True), ("M-", True), ("J1a 说明", True),
    ("ＪＢ１２３４５６７８９０", True),
    ("措施不够具体", False), ("JB3 原因", False), ("", False), ("Mr 王", False), ("请补充", False),
])
def test_what_counts_as_a_malformed_code(text, malformed):
    assert split_code_strict(text)[2] is malformed
