"""Tests for bot.delivery.textsplit."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.textsplit import split_utf8, utf8_len


def _header(i, n):
    return "(%d/%d) " % (i + 1, n)


# Whole grapheme-ish clusters, each at most 11 bytes.
CLUSTERS = [
    "a", "Z", " ", "\n", "。", "，", "！", "？", ";", ",", "中", "文", "é",
    "e\u0301", "😀", "👍🏽", "❤️", "🇨🇳", "👩\u200d💻", "\r\n", "\u3000",
]
# Clusters with no natural break point, so cuts fall inside runs of them.
NO_BREAK = ["a", "中", "é", "e\u0301", "😀", "👍🏽", "❤️", "🇨🇳", "👩\u200d💻"]


# -- utf8_len ---------------------------------------------------------------

def test_utf8_len_counts_bytes_not_characters():
    assert utf8_len("") == 0
    assert utf8_len("abc") == 3
    assert utf8_len("é") == 2
    assert utf8_len("中文") == 6
    assert utf8_len("😀") == 4
    assert utf8_len("\ud83d") == 3  # lone surrogate does not raise


# -- examples ---------------------------------------------------------------

def test_short_text_is_one_chunk_and_empty_is_none():
    assert split_utf8("你好", 2048) == ["你好"]
    assert split_utf8("", 10) == []


def test_cjk_never_cut_mid_character():
    text = "中" * 10  # 30 bytes
    chunks = split_utf8(text, 8)
    assert chunks == ["中中"] * 5
    assert all(utf8_len(c) <= 8 for c in chunks)


def test_prefers_latest_newline_in_window():
    text = "aaaa\nbbbb\ncccccccccc"
    assert split_utf8(text, 12) == ["aaaa\nbbbb\n", "cccccccccc"]


def test_falls_back_to_sentence_punctuation_then_anywhere():
    text = "第一句。第二句！第三句很长很长"
    chunks = split_utf8(text, 15)
    assert chunks[0] == "第一句。"
    assert chunks[1] == "第二句！"
    assert "".join(chunks) == text
    assert split_utf8("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_ascii_punctuation_and_spaces_are_break_points():
    assert split_utf8("one, two three", 10) == ["one, ", "two three"]
    assert split_utf8("alpha beta gamma", 12) == ["alpha beta ", "gamma"]


def test_custom_prefer_characters():
    text = "a|b|cccc"
    assert split_utf8(text, 5, prefer="|") == ["a|b|", "cccc"]


def test_no_whitespace_only_chunk_when_avoidable():
    # "第二句！" fills 12 bytes exactly; the newline must not become its own chunk.
    chunks = split_utf8("第一句。第二句！\n第三行很长很长很长", 12)
    assert all(c.strip() for c in chunks)
    assert "".join(chunks) == "第一句。第二句！\n第三行很长很长很长"


def test_emoji_sequences_kept_whole_when_they_fit():
    text = "ab" + "👩\u200d💻" + "🇨🇳🇺🇸" + "e\u0301"
    chunks = split_utf8(text, 12)
    assert "👩\u200d💻" in chunks[0] or "👩\u200d💻" in chunks[1]
    assert any("🇨🇳" in c for c in chunks) and any("🇺🇸" in c for c in chunks)
    assert not any(c.startswith("\u0301") or c.startswith("\u200d") for c in chunks)
    assert "".join(chunks) == text


def test_crlf_kept_together():
    chunks = split_utf8("ab\r\ncd", 3)
    assert chunks == ["ab", "\r\nc", "d"]


def test_oversized_cluster_is_cut_between_code_points():
    family = "👨\u200d👩\u200d👧\u200d👦"  # 25 bytes
    chunks = split_utf8(family, 8)
    assert "".join(chunks) == family
    assert all(utf8_len(c) <= 8 for c in chunks)


def test_surrogate_pair_code_units_are_not_separated():
    pair = "\ud83d\ude00"  # as two code units, 3 bytes each when counted
    text = "ab" + pair + "cd"
    chunks = split_utf8(text, 7)
    assert "".join(chunks) == text
    assert not any(c.endswith("\ud83d") for c in chunks)


def test_limit_too_small_raises():
    with pytest.raises(ValueError):
        split_utf8("😀", 3)
    with pytest.raises(ValueError):
        split_utf8("abc", 0)


def test_headers_are_counted_within_limit():
    text = "这是一段需要被拆分的比较长的通知内容。" * 10
    chunks = split_utf8(text, 64, header_for=_header)
    n = len(chunks)
    assert n > 1
    for i, chunk in enumerate(chunks):
        assert chunk.startswith(_header(i, n))
        assert utf8_len(chunk) <= 64
    assert "".join(c[len(_header(i, n)):] for i, c in enumerate(chunks)) == text


def test_header_not_added_to_single_chunk():
    assert split_utf8("short", 100, header_for=_header) == ["short"]


def test_header_count_grows_to_two_digits():
    text = "x" * 200
    chunks = split_utf8(text, 16, header_for=_header)
    n = len(chunks)
    assert n >= 10
    assert chunks[-1].startswith("(%d/%d) " % (n, n))
    assert all(utf8_len(c) <= 16 for c in chunks)


def test_header_that_leaves_no_room_raises():
    with pytest.raises(ValueError):
        split_utf8("x" * 50, 8, header_for=lambda i, n: "[part %d of %d]" % (i, n))


# -- properties -------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(text=st.text(), limit=st.integers(min_value=8, max_value=4096))
def test_property_chunks_fit_and_join_back(text, limit):
    chunks = split_utf8(text, limit)
    assert "".join(chunks) == text
    assert all(utf8_len(c) <= limit for c in chunks)
    assert all(c for c in chunks)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.sampled_from([CLUSTERS, NO_BREAK]).flatmap(
        lambda alphabet: st.lists(st.sampled_from(alphabet), max_size=600)
    ),
    limit=st.integers(min_value=12, max_value=4096),
)
def test_property_clusters_not_split_when_they_fit(tokens, limit):
    text = "".join(tokens)
    legal, pos = set(), 0
    for tok in tokens:
        pos += len(tok)
        legal.add(pos)
    chunks = split_utf8(text, limit)
    assert "".join(chunks) == text
    pos = 0
    for chunk in chunks:
        assert utf8_len(chunk) <= limit
        pos += len(chunk)
        assert pos in legal, (chunk, text[pos:pos + 3])


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(min_size=1, max_size=3000),
    limit=st.integers(min_value=16, max_value=4096),
)
def test_property_headers_fit_and_strip_back(text, limit):
    chunks = split_utf8(text, limit, header_for=_header)
    n = len(chunks)
    assert all(utf8_len(c) <= limit for c in chunks)
    if n == 1:
        assert chunks == [text]
    else:
        heads = [_header(i, n) for i in range(n)]
        assert all(c.startswith(h) for c, h in zip(chunks, heads, strict=False))
        assert "".join(c[len(h):] for c, h in zip(chunks, heads, strict=False)) == text
