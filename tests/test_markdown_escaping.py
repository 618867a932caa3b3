"""User text in group markdown (issue 11, item 4): what a person typed shows as typed in the supervision
group's copy, never as a link, a colour, an @all or any other formatting, on WeCom and on DingTalk."""
from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace as NS

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels import markdown_escaper
from bot.channels.dingtalk.api import escape_markdown as dingtalk_escape
from bot.channels.wecom.api import escape_markdown as wecom_escape
from bot.infra.text import render
from models import ChatGroup, Notice
from tests.dialog import Direct, talk
from tests.slip_draft import DRAFT

HOSTILE = '[点此处理](http://e.x/1) <font color="warning">急</font> <@all> **加急** `x`'
# What the hostile text would render as in either channel's markdown.
MARKUP = re.compile(r"\[点此处理\]\(|<font|<@all>|\*\*加急|`x`")


def slip_copy(channel, text):
    unit = NS(name="区发改局")
    row = NS(code="J1", title=text, obstacles=text, measures=text, responsible_unit=unit, deadline=date(2026, 12, 1))
    slip = NS(code="JB1", leader=NS(name="陈剑锋"), drafted_by=NS(name="林勇勇"), signed_at=datetime(2026, 11, 23),
              dispatched_on=date(2026, 11, 20))
    return render("slip/copy.md", slip=slip, rows=[row], md_channel=channel)


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", None])
def test_hostile_text_is_inert_in_the_copy(channel):
    out = slip_copy(channel, HOSTILE)
    assert not MARKUP.search(out), out
    assert out.count("点此处理") == 3 and "加急" in out  # still readable, in each of the three fields
    assert "**【事项交办单抄送】JB1**" in out and "**J1**" in out  # the template's own markup stays


def test_a_line_break_in_a_field_starts_no_block_on_dingtalk():
    out = dingtalk_escape("说明\n- 列表\n---\n1. 编号\n> 引用")
    assert not re.search(r"^[ \t]{0,3}(- |---|\d+\. |>)", out, re.M) and out.startswith("说明\n\u3000- 列表")


@given(st.text(max_size=200))
def test_escaping_removes_every_markup_character(text):
    for escape in (wecom_escape, dingtalk_escape, markdown_escaper(None)):
        out = escape(text)
        assert not set(out) & set("<>[]*`#")
    assert not set(dingtalk_escape(text)) & set("_~|!")
    assert all(not line[:1].isspace() or line[:1] == "\u3000" for line in dingtalk_escape(text).split("\n")[1:]
               if line and line[0] in " \u3000")


@given(st.text(alphabet=st.characters(blacklist_characters="<>[]*`#_~|!\n"), max_size=100))
def test_plain_text_is_unchanged(text):
    assert wecom_escape(text) == text and dingtalk_escape(text) == text


@pytest.mark.parametrize("channel", ["wecom", "dingtalk"])
def test_the_supervision_copy_of_a_signed_slip_is_escaped_for_its_channel(runtime, channel):
    from tests import factories as f
    from tests.dialog import at

    with runtime.db.session() as s:
        f.small_org(s)
        s.flush()
        s.scalar(select(ChatGroup).where(ChatGroup.code == "supervision")).channel = channel
    runtime.clock.set(at(2026, 11, 23))
    script = [(HOSTILE if says == "石化科创小镇一期征迁扫尾" else says, expect) for says, expect in DRAFT]
    talk(Direct(runtime, "linyongyong"), script)
    talk(Direct(runtime, "chenjianfeng"), [("同意 JB1", "交办单 JB1"), ("确认", "已签发交办单 JB1")])
    with runtime.db.session() as s:
        copy = s.scalar(select(Notice).where(Notice.key == "slip-copy:1"))
        assert copy.channel == channel and copy.msgtype == "markdown"
        text = copy.payload["content"]
    assert "点此处理" in text and "＜@all＞" in text and not MARKUP.search(text)
