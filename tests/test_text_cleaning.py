"""Incoming text as handlers see it: control characters stripped once in the core, whitespace normalised
within lines, line breaks kept."""
from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.core.messages import Incoming, clean_text, cleaned
from bot.core.routing import normalize


def test_clean_text_drops_control_characters_but_not_line_breaks_or_tabs():
    assert clean_text("a\x00b\tc\r\nd\x7fe\x85f\rg\x1b") == "ab\tc\nde" + "f\ng"
    assert clean_text(None) is None and clean_text("") == ""


def test_an_incoming_message_is_cleaned_once():
    inc = Incoming(channel="dingtalk", user_id="u", msg_id="m", created_at=datetime(2026, 1, 1), text="专题\x00会")
    assert cleaned(inc).text == "专题会" and cleaned(cleaned(inc)) == cleaned(inc)
    plain = Incoming(channel="wecom", user_id="u", msg_id="m", created_at=datetime(2026, 1, 1), text="专题会")
    assert cleaned(plain) is plain


def test_normalize_keeps_lines_and_collapses_spaces_within_them():
    assert normalize("  第一行　 要点  \r\n\n  第二行\t二 \n") == "第一行 要点\n\n第二行 二"
    assert normalize("ＡＢ１２  修改  ２") == "AB12 修改 2"


@given(st.text())
def test_cleaned_text_has_no_control_characters_and_normalize_is_idempotent(text):
    out = normalize(clean_text(text))
    assert all(ch in "\n" or ord(ch) >= 32 and not 0x7F <= ord(ch) <= 0x9F for ch in out)
    assert normalize(out) == out
