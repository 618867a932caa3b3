"""Item codes: one parser (bot.domain.codes) — property tests — and the look-ups every command uses."""
from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import codes
from bot.domain.codes import Code, parse_code, split_code
from tests import factories as f

KINDS = st.sampled_from(sorted(codes.KIND_OF_PREFIX.values()))
IDS = st.integers(1, 10 ** codes.MAX_DIGITS - 1)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def typed(draw, code: Code) -> str:
    """One way a person may type `code`: any case, full-width or not, a separator, padding, leading zeros."""
    prefix = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in code.prefix)
    number = "0" * draw(st.integers(0, codes.MAX_DIGITS - len(str(code.id)))) + str(code.id)
    text = prefix + draw(st.sampled_from(["", " ", "-"])) + number
    if draw(st.booleans()):
        text = full_width(text)
    return draw(st.sampled_from(["", " ", "\u3000"])) + text + draw(st.sampled_from(["", " ", "\n"]))


@given(st.builds(Code, KINDS, IDS, st.just(0)).flatmap(lambda c: st.tuples(st.just(c), typed(c))))
def test_every_typed_form_parses_to_its_code(case):
    code, text = case
    assert parse_code(text) == code
    assert parse_code(str(code)) == code
    assert str(code) == code.prefix + str(code.id) and re.fullmatch(r"(JB|[MJT])[1-9][0-9]*", str(code))


@given(st.builds(Code, KINDS, IDS, st.just(0)), st.text(min_size=1).filter(lambda t: t.strip() and not t[0].isalnum()))
def test_split_code_keeps_the_rest_as_typed(code, rest):
    found, tail = split_code(f"{code} {rest}")
    assert found == code and tail == rest.strip()
    assert parse_code(f"{code} {rest}") is None  # more than a code is not a code


@given(st.text(max_size=14))
def test_a_parse_is_the_text_itself_or_none(text):
    """Whatever is typed: either None, or the code is exactly the text up to case, width, one separator,
    blanks around and leading zeros — never a guess."""
    got = parse_code(text)
    if got is None:
        return
    folded = text.translate(codes._FOLD).strip().upper()
    m = re.fullmatch(r"(JB|[MJT])[ \t-]?0*([0-9]+)(?:-0*([0-9]+))?", folded)
    assert m is not None and got == Code(codes.KIND_OF_PREFIX[m[1]], int(m[2]), int(m[3] or 0))


@given(st.sampled_from(["minutes", "slip", "topic"]), IDS, st.integers(1, 9999), st.sampled_from(["", " ", "\n"]))
def test_sub_item_codes_parse_under_their_parent(kind, ident, n, pad):
    """分解督办: M3-1 is the first sub-item of M3; the hyphen and number follow the digits directly."""
    code = Code(kind, ident, n)
    assert str(code) == f"{code.prefix}{ident}-{n}"
    assert parse_code(pad + str(code).lower() + pad) == code
    assert split_code(f"{code} 完成") == (code, "完成")
    assert parse_code(f"JB{ident}-{n}") is None and parse_code(f"{code.prefix}{ident}-0") is None


@given(st.sampled_from(["", "M", "JB", "X12", "M0", "M00", "MJ3", "J B5", "M12a", "M1.5", "m１２x", "M" + "1" * 10,
                        "12", "M\u0663", "查 M12", "B12", "JB-", "M--12"]))
def test_malformed_codes_are_none(text):
    assert parse_code(text) is None


def test_lookups_find_matters_and_slips_by_their_codes(db_session):
    s = db_session
    o = f.small_org(s)
    m = f.matter(s, "M12", o.fagai, o.leader1, date(2026, 12, 31))
    j = f.matter(s, "J3", o.keji, o.leader1, date(2026, 12, 31))
    assert codes.find_matter(s, "m12") is m and codes.find_matter(s, "Ｍ１２") is m and codes.find_matter(s, "J 3") is j
    assert codes.find_matter(s, "M13") is None and codes.find_matter(s, "JB12") is None
    assert codes.find_matter(s, "M12x") is None and codes.find_matter(s, "") is None
    assert codes.find_slip(s, "M12") is None and codes.find_slip(s, "jb1") is None
