import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.unitmatch import MatchResult, UnitRef, match_many, match_unit, normalise, unit_keys

FGJ = UnitRef("fgj", "区发改局", ("泉港区发展和改革局", "发展和改革局"))
JYJ = UnitRef("jyj", "区教育局")
CZJ = UnitRef("czj", "泉港区财政局")
JYJJ = UnitRef("jyjj", "区教育基金会")
TL = UnitRef("tl", "涂岭镇", ("泉港区涂岭镇人民政府",))
SY = UnitRef("sy", "山腰街道")
UNITS = [FGJ, JYJ, CZJ, JYJJ, TL, SY]


@pytest.mark.parametrize("text,expected", [
    ("区发改局", FGJ),
    ("发改局", FGJ),
    ("泉港区发展和改革局", FGJ),
    ("发展和改革局", FGJ),
    ("  区 发改局。", FGJ),
    ("（区发改局）", FGJ),
    ("区教育局", JYJ),
    ("教育局", JYJ),
    ("财政局", CZJ),
    ("区财政局", CZJ),
    ("涂岭镇", TL),
    ("涂岭镇政府", TL),
    ("涂岭镇人民政府", TL),
    ("泉港区涂岭镇人民政府", TL),
    ("涂岭", TL),                 # unique partial
    ("山腰街道办事处", SY),
    ("山腰街道办", SY),
    ("教育基金会", JYJJ),
    ("ＱＧ发改局", FGJ),           # key contained in the text, unique
])
def test_exact_matches(text, expected):
    r = match_unit(text, UNITS)
    assert r.exact == expected
    assert r.candidates[0] == expected


def test_fullwidth_letters_normalised():
    units = [UnitRef("a", "ABC公司"), UnitRef("b", "XYZ公司")]
    assert match_unit("ａｂｃ公司", units).exact == units[0]


def test_partial_ambiguous():
    r = match_unit("教育", UNITS)
    assert r.exact is None
    assert set(r.candidates) == {JYJ, JYJJ}
    assert r.ambiguous


def test_single_char_never_exact():
    r = match_unit("局", UNITS)
    assert r.exact is None
    assert set(r.candidates) == {FGJ, JYJ, CZJ}
    r = match_unit("镇", [TL])
    assert r.exact is None and r.candidates == [TL]


def test_partial_unique_only_when_unique():
    only_jyj = [FGJ, JYJ, CZJ]
    assert match_unit("教育", only_jyj).exact == JYJ


def test_exact_beats_partial_and_ranking():
    a = UnitRef("a", "发改局")
    b = UnitRef("b", "发改局价格认证中心")
    r = match_unit("区发改局", [b, a])
    assert r.exact == a
    assert r.candidates == [a, b]


def test_subsequence_gives_candidates_only():
    r = match_unit("发展改革局", UNITS)
    assert r.exact is None
    assert r.candidates == [FGJ]


def test_no_match():
    assert match_unit("公安局", [JYJ, TL, SY]) == MatchResult(None, [])
    assert match_unit("", UNITS) == MatchResult(None, [])
    assert match_unit("  ，。 ", UNITS) == MatchResult(None, [])
    assert not match_unit("xyz", UNITS).found


def test_shared_key_is_not_exact():
    a = UnitRef("a", "区住建局")
    b = UnitRef("b", "住建局")
    r = match_unit("住建局", [a, b])
    assert r.exact is None and set(r.candidates) == {a, b}
    assert len(unit_keys([a, b])["住建局"]) == 2


def test_normalise():
    assert normalise("泉港区发展和改革局") == "发展和改革局"
    assert normalise(" 区 发改局 ") == "发改局"
    assert normalise("涂岭镇人民政府") == "涂岭镇"
    assert normalise("泉港区人民政府") == "人民政府"   # not a town: suffix kept
    assert normalise("山腰街道办事处") == "山腰街道"
    assert normalise("区") == ""
    assert normalise("泉港区") == ""


def test_match_many():
    parts = match_many("区发改局、教育局和财政局；涂岭镇 山腰街道办,发展和改革局", UNITS)
    assert [p for p, _ in parts] == ["区发改局", "教育局", "财政局", "涂岭镇", "山腰街道办",
                                     "发展和改革局"]
    assert [r.exact for _, r in parts] == [FGJ, JYJ, CZJ, TL, SY, FGJ]


def test_match_many_keeps_unknown_and_ambiguous_parts():
    parts = match_many("教育，公安局/局", UNITS)
    assert [p for p, _ in parts] == ["教育", "公安局", "局"]
    assert parts[0][1].exact is None and len(parts[0][1].candidates) == 2
    assert parts[1][1].candidates == []
    assert parts[2][1].exact is None


def test_match_many_drops_empty_parts():
    parts = match_many("泉港区 发改局、、 ", UNITS)
    assert [(p, r.exact) for p, r in parts] == [("发改局", FGJ)]
    assert match_many("", UNITS) == []


core = st.text(alphabet="发改教育财政公安住建交通水利农业卫健文旅商务应急镇乡街道局委办中心区港",
               min_size=1, max_size=8)
han = st.builds(lambda pre, body, suf: pre + body + suf,
                st.sampled_from(["", "区", "泉港区", " ", "（"]), core,
                st.sampled_from(["", "人民政府", "政府", "办事处", "。", "　"]))


@settings(deadline=None)
@given(st.lists(st.tuples(han, st.lists(han, max_size=2)), min_size=1, max_size=8))
def test_every_name_and_alias_matches_itself(specs):
    units = [UnitRef(f"u{i}", name, tuple(aliases)) for i, (name, aliases) in enumerate(specs)]
    table = unit_keys(units)
    # distinct names: no normalised key shared by two units
    assume(all(len({u.id for u in us}) == 1 for us in table.values()))
    for unit in units:
        for text in (unit.name, *unit.aliases):
            assume(normalise(text))
            r = match_unit(text, units)
            assert r.exact == unit
            assert r.candidates[0] == unit
