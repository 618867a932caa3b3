"""The router matches whole command words: a keyword is a command only when the text ends there or a space,
a digit, a Latin letter or punctuation follows it; a longer Chinese word that merely starts with a keyword
(查看, 提交人, 同意书) is not that command."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core.routing import Command, Router, normalize
from handlers import build_router
from models import Matter
from tests import factories as f
from tests.factories import at


@pytest.fixture(scope="module")
def router() -> Router:
    return build_router()


def words(router, text):
    cmd, args = router.find(normalize(text))
    return (cmd.words[0] if cmd else None), args


@pytest.mark.parametrize("text, expected", [
    ("查看", (None, "查看")),  # not 查 + 看
    ("查 看", ("查", "看")),
    ("查M1", ("查", "M1")),
    ("查 区发改局", ("查", "区发改局")),
    ("查看汇总", ("汇总", "")),
    ("提交人", (None, "提交人")),
    ("提交 1", ("提交汇总", "1")),
    ("提交汇总 2", ("提交汇总", "2")),
    ("同意延期 Y3", ("批准延期", "Y3")),
    ("同意JB1", ("同意", "JB1")),
    ("销号m3", ("销号", "m3")),
    ("退回重办 M1 缺材料", ("退回重办", "M1 缺材料")),
    ("帮助", ("帮助", "")),
    ("？", ("帮助", "")),
])
def test_find_matches_whole_words(router, text, expected):
    assert words(router, text) == expected


@given(st.sampled_from(["查", "进度", "提交", "同意", "退回", "历史"]),
       st.text(alphabet="看人书到达过去", min_size=1, max_size=4))
def test_a_keyword_glued_to_more_chinese_is_not_the_command(word, tail):
    router = Router()
    router.commands = [Command((word,), lambda ctx, args: None)]
    assert router.find(word + tail) == (None, word + tail)
    cmd, args = router.find(f"{word} {tail}")
    assert cmd is not None and args == tail


@pytest.fixture
def rt(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20), title="石化园区道路征迁")
    runtime.clock.set(at(2026, 12, 10, 10))
    return runtime


def test_an_office_liaisons_return_of_an_item_code_is_a_return_for_redo(rt):
    """退回 is the leader's return of a slip; with an item code (M/J) it means the item's 退回重办."""
    assert "核实销号" in rt.handle_text("wecom", "ua", "申请销号 M1 已完成").text
    answer = rt.handle_text("wecom", "linyongyong", "退回 M1 缺少竣工验收材料").text
    assert "已退回重办：缺少竣工验收材料" in answer
    with rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "returned"


def test_return_by_someone_without_a_pending_slip_gets_a_hint(rt):
    answer = rt.handle_text("wecom", "linyongyong", "退回 原因").text
    assert "退回重办" in answer and "交办单" in answer
