"""Forgiving input (issue #15): near-miss commands, unit names and dates that are never guessed.

Unit tests for the normaliser (bot.core.forgiving.variants / Router.find_loose), the suggester, the unit
matcher's near names; table-driven dialogs through the real signed and encrypted WeCom callback for each
item; a month replayed day by day with no silent date guess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from functools import lru_cache

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core import forgiving
from bot.core.routing import Router, normalize
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from bot.domain.unitmatch import UnitRef, match_unit, normalise, similar_units
from bot.domain.workdays import last_workday_before_holiday
from bot.infra.text import cn_date
from handlers import build_router
from models import Matter
from tests.dialog import Callback, Direct, at, talk
from tests.support import AES, AGENT, CORP, ROOT, SEED_FILE, TOKEN, make_app, wecom_config
from tests.wecom_peer import WeComPeer


@pytest.fixture(scope="module")
def router() -> Router:
    return build_router()


def routed(router, text):
    """What route() would run for a typed text: (keyword, args) or None."""
    text = normalize(text)
    cmd, args = router.find(text)
    if cmd is None:
        cmd, args = router.find_loose(text)
    return (cmd.words[0], args) if cmd else None


# -- 1. normalisation in one place before routing --------------------------------------------------------
@pytest.mark.parametrize("typed, expected", [
    ("填 报", ("填报", "")),  # spaces inside a keyword
    ("我的 事项", ("我的事项", "")),
    ("进 度 区发改局", ("进度", "区发改局")),
    ("填報", ("填报", "")),  # traditional
    ("進度", ("进度", "")),
    ("查詢 M3", ("查", "M3")),
    ("ｆ填报", None),  # a letter glued to the keyword is not a polite wrapper
    ("我要填报", ("填报", "")),  # polite wrappers
    ("请填报一下", ("填报", "")),
    ("麻烦帮我看一下进度", ("进度", "")),
    ("帮我查一下逾期", ("逾期", "")),
    ("帮我查一下M3", ("查", "M3")),
    ("给我导出 台账", ("导出", "台账")),
    ("给我导出台账", None),  # as typed without the wrapper: 导出台账 is no command either
    ("请问进度怎么样", None),  # what remains (问进度怎么样) is no command: nothing is stripped
    ("我要请假", None),
])
def test_normalised_forms_route(router, typed, expected):
    assert routed(router, typed) == expected


@pytest.mark.parametrize("typed, expected", [
    ("查 看", ("查", "看")),  # whole-word matching is kept: 查看 ≠ 查 看
    ("查看", None),
    ("提交人", None),
    ("查看汇总", ("汇总", "")),
])
def test_exact_routing_is_unchanged(router, typed, expected):
    assert routed(router, typed) == expected


def test_every_registered_keyword_still_routes_exactly(router):
    """No behaviour change for exact commands: each keyword is found by `find` itself (route() tries it
    before anything forgiving), and the forgiving path would find the same command."""
    for cmd in router.commands:
        for word in cmd.words:
            found, args = router.find(normalize(word))
            assert found is cmd and args == "", word
            loose, _ = router.find_loose(normalize(word))
            assert loose is cmd, word


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet="填报我要请帮一下查看进度逾期 的事项M3區發", max_size=10))
def test_find_loose_only_returns_a_command_named_in_the_text(text):
    r = build_router_cached()
    cmd, args = r.find_loose(normalize(text))
    if cmd is not None:
        forms = [f.replace(" ", "") for f in forgiving.variants(normalize(text))]
        assert any(f.startswith(w) for f in forms for w in cmd.words), (text, cmd.words)


_ROUTER: list = []


def build_router_cached() -> Router:
    if not _ROUTER:
        _ROUTER.append(build_router())
    return _ROUTER[0]


# -- 2. near-miss suggestions ----------------------------------------------------------------------------
WORDS = ["填报", "我的事项", "进度", "台账", "逾期", "超期", "未报", "查", "查询", "帮助", "help", "?", "同意"]


@pytest.mark.parametrize("typed, word, args", [
    ("天报", "填报", ""),  # IME homophone: tianbao
    ("填表", "填报", ""),  # one syllable off
    ("进渡", "进度", ""),
    ("愈期", "逾期", ""),
    ("我的事相", "我的事项", ""),
    ("我要天报", "填报", ""),  # after the polite wrapper
    ("天报 M3", "填报", "M3"),
    ("同一JB3", "同意", "JB3"),
    ("你好", None, None),
    ("今天天气怎么样", None, None),
    ("茶", None, None),  # one-character keywords (查) are never suggested
    ("是", None, None),
])
def test_suggestions(typed, word, args):
    hit = forgiving.suggest(typed, WORDS)
    if word is None:
        assert hit is None, hit
    else:
        assert hit is not None and (hit.word, hit.args) == (word, args)


@settings(deadline=None, max_examples=150)
@given(st.text(alphabet="天填报表进渡度逾愈期我的事项相查茶同一意 ", max_size=6))
def test_a_suggestion_is_always_one_of_the_words(text):
    hit = forgiving.suggest(text, WORDS)
    assert hit is None or (hit.word in WORDS and hit.score >= forgiving.MIN_SIMILARITY)


# -- 3. unit names ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def seed_units() -> list[UnitRef]:
    doc = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    return [UnitRef(str(i), u["name"], tuple(u.get("aliases") or ())) for i, u in enumerate(doc["units"])]


@pytest.fixture(scope="module")
def units() -> list[UnitRef]:
    return seed_units()


@pytest.mark.parametrize("typed, exact, first", [
    ("南铺镇", None, "南埔镇"),  # homophone: nanpuzhen — a candidate, never exact
    ("南浦镇", None, "南埔镇"),
    ("图岭镇", None, "涂岭镇"),
    ("钱黄镇", None, "前黄镇"),
    ("发该局", None, "区发改局"),
    ("自燃资源局", None, "区自然资源局"),
    ("區發改局", "区发改局", "区发改局"),  # traditional
    ("南埔", "南埔镇", "南埔镇"),  # the existing tiers are unchanged
    ("教育", "区教育局", "区教育局"),
])
def test_near_unit_names(units, typed, exact, first):
    r = match_unit(typed, units)
    assert (r.exact.name if r.exact else None) == exact
    assert r.candidates and r.candidates[0].name == first
    if exact is None:
        assert len(r.candidates) == 1  # one near name: the form confirms it (是/否)


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet="南埔铺浦镇涂图岭前钱黄区发改该局教育自然燃资源區發 ", max_size=8))
def test_a_near_name_is_never_an_exact_match(text):
    """Tier 4 (sound / spelling) only ever gives candidates: an exact match still needs the name or an
    alias, or a part of one, as typed (read as simplified)."""
    r = match_unit(text, seed_units())
    if r.exact is not None:
        q = normalise(text)
        keys = [normalise(k) for k in (r.exact.name, *r.exact.aliases)]
        assert any(q == k or q in k or (len(k) >= 2 and k in q) for k in keys), (text, r.exact)


def test_similar_units_for_a_name_that_matches_nothing(units):
    assert not match_unit("农业局", units).found
    assert "区农水局" in [u.name for u in similar_units("农业局", units)]
    assert similar_units("不存在的单位", units) == []


# -- dialogs through the real signed callback -------------------------------------------------------------
@pytest.fixture
def wecom(db_url, tmp_path):
    # a loaded test machine must not turn a slow passive reply into an outbox message: timing is not tested here
    from bot.actions.seed import load_seed

    app = make_app(db_url, tmp_path, **wecom_config(PASSIVE_REPLY_SECONDS=20))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
    rt.clock.set(at(2026, 12, 2))  # a Wednesday; yesterday was 12月1日
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    yield app, rt, lambda user: Callback(app, peer, user)
    rt.db.dispose()


LIAISON = "placeholder_fagaiju"  # 区发改局's liaison: 填报, 我的事项 …
NOTHING_TO_REPORT = "2026年12月5日期无需填报"
SUGGEST_FILL = "您是否要「填报」？回复「是」继续，或发送「帮助」查看全部命令。"
COMMAND_CASES = {  # each through the real signed callback, on a fresh database
    "homophone suggested, 是 runs it": [("天报", SUGGEST_FILL), ("是", NOTHING_TO_REPORT)],
    "a 是 counts once": [("天报", SUGGEST_FILL), ("是", NOTHING_TO_REPORT),
                        ("是", ("没有看懂", "!" + NOTHING_TO_REPORT))],
    "near by one syllable": [("填表", SUGGEST_FILL)],
    "with arguments": [("进渡 区发改局", "您是否要「进度 区发改局」？"), ("是", "📊")],
    "declined": [("进渡", "您是否要「进度」？"), ("不是", "未执行"), ("是", ("没有看懂", "!📊"))],
    "another text uses it up": [("愈期", "您是否要「逾期」？"), ("今天天气", ("没有看懂", "· 填报 — ")),
                                ("是", ("没有看懂", "!没有逾期事项"))],
    "spaced keyword": [("填 报", NOTHING_TO_REPORT)],
    "polite 我要": [("我要填报", NOTHING_TO_REPORT)],
    "polite 请…一下": [("请填报一下", NOTHING_TO_REPORT)],
    "polite 帮我查一下": [("帮我查一下逾期", "没有逾期事项")],
    "polite 麻烦帮我看一下": [("麻烦帮我看一下进度", "📊")],
    "traditional": [("填報", NOTHING_TO_REPORT), ("進度", "📊")],
    # no behaviour change (these pass on the old code too)
    "full-width": [("ｈｅｌｐ", "您好！这里是")],
    "exact routing kept": [("查 看", ("与“看”相关", "!您是否要"))],
    "nothing close: the menu": [("你好", ("没有看懂", "· 填报 — ", "!您是否要"))],
}


@pytest.mark.parametrize("case", list(COMMAND_CASES))
def test_near_miss_commands_through_the_callback(wecom, case):
    _app, _rt, driver = wecom
    talk(driver(LIAISON), COMMAND_CASES[case])


def test_a_suggestion_expires(wecom):
    _app, rt, driver = wecom
    d = driver(LIAISON)
    talk(d, [("天报", "您是否要「填报」")])
    rt.clock.set(at(2026, 12, 2, 10, 6))
    talk(d, [("是", ("没有看懂", "!" + NOTHING_TO_REPORT))])


def test_a_suggestion_is_per_person(wecom):
    _app, _rt, driver = wecom
    talk(driver(LIAISON), [("天报", "您是否要「填报」")])
    talk(driver("placeholder_tongjiju"), [("是", ("没有看懂", "!无需填报"))])
    talk(driver(LIAISON), [("是", NOTHING_TO_REPORT)])


OFFICE_LIAISON = "linyongyong"  # 林勇勇 (南埔镇), office liaison of 附件2 row 2: 录入纪要


def spring_festival_eve() -> date:
    return last_workday_before_holiday("春节", 2027)


def minutes_script():
    spring = spring_festival_eve()
    return [
        ("录入纪要", "1. 杨凤翔"),
        ("2", "纪要编号"),
        ("无", "纪要名称"),
        ("专题调度会", "会议日期"),
        # a meeting date: the examples are past dates; a future, impossible or vague one is asked back
        ("明天", ("还没到", "今天、昨天、12月3日", "!下周五", "!月底")),
        ("31号", "2026年11月没有31日"),  # the last "31号" would be in November: never October 31st
        ("2月29日", "2026年不是闰年"),
        ("11月31日", "11月没有31日"),
        ("12月5日", ("（2026年12月5日）还没到，请确认或重新输入", "2025年12月5日")),
        ("否", ("请输入会议日期", "!起草单位")),
        ("1月", "是一个月份"),
        ("上个月", "是一个月份，请写明11月哪一天"),
        ("春节前", "不是具体的某一天"),
        ("12月1日", "起草单位"),
        # units: one near name is confirmed, not offered as 多个单位; 否 asks again
        ("南铺镇", ("您指的是「南埔镇」吗？（是/否）", "!对应多个单位")),
        ("否", ("请输入纪要起草单位", "!调度事项的内容")),
        ("农业局", ("相近的单位有", "区农水局")),
        ("局", ("对应多个单位", "1. ")),
        ("南铺镇", "您指的是「南埔镇」吗？"),
        ("是", "调度事项的内容"),
        ("推进石化科创小镇征迁扫尾", "责任单位"),
        ("图岭镇", "您指的是「涂岭镇」吗？"),
        ("对", "完成时限"),
        # a deadline: past or impossible dates asked back, examples fit the field
        ("2月29日", "2027年不是闰年"),
        ("11月31号", "11月没有31日"),
        ("12月1日", ("（2026年12月1日）已过，请确认或重新输入", "2027年12月1日")),
        ("否", ("完成时限", "!牵头单位")),
        ("昨天", ("已经过去了", "12月20日、下周五、月底、下月15日、春节前", "!今天、昨天")),
        ("下个月", "牵头单位"),  # a deadline "next month": its last day (documented)
        ("同上", "第 2 项"),
        ("协调国道G228改线用地", "责任单位"),
        ("區自然資源局", "完成时限"),
        ("春节前", "牵头单位"),
        ("无", "第 3 项"),
        ("完善配套", "责任单位"),
        ("涂岭", "完成时限"),
        ("月中", "牵头单位"),
        ("无", "第 4 项"),
        ("编制年度计划", "责任单位"),
        ("涂岭", "完成时限"),
        ("上半年", ("（2026年6月30日）已过，请确认或重新输入", "2027年6月30日")),
        ("是", "牵头单位"),
        ("无", "第 5 项"),
        ("完成", ("请核对", "会议日期：2026年12月1日", "起草单位：南埔镇", "2027年1月31日",
                  cn_date(spring), "2026年12月15日", "2027年6月30日")),
        ("确认", "✅"),
    ]


TO_MEETING_DATE = [("录入纪要", "1. 杨凤翔"), ("2", "纪要编号"), ("无", "纪要名称"), ("专题调度会", "会议日期")]
TO_UNIT = TO_MEETING_DATE + [("12月1日", "起草单位")]
TO_DEADLINE = TO_UNIT + [("南埔镇", "调度事项的内容"), ("推进征迁扫尾", "责任单位"), ("涂岭镇", "完成时限")]
PAST_EXAMPLES = "今天、昨天、12月3日"
FUTURE_EXAMPLES = "12月20日、下周五、月底、下月15日、春节前"
FIELD_CASES = {
    # the meeting date (past)
    "meeting: examples are past dates": (TO_MEETING_DATE, [
        ("明天", ("还没到", PAST_EXAMPLES, "!下周五", "!月底"))]),
    "meeting: 31号 in a month without one": (TO_MEETING_DATE, [("31号", "2026年11月没有31日")]),
    "meeting: 2月29日 in a non-leap year": (TO_MEETING_DATE, [("2月29日", "2026年不是闰年")]),
    "meeting: 11月31日": (TO_MEETING_DATE, [("11月31日", "11月没有31日")]),
    "meeting: a future date asked back": (TO_MEETING_DATE, [
        ("12月5日", ("（2026年12月5日）还没到，请确认或重新输入", "是否指2025年12月5日", "!1. 2026")),
        ("否", ("请输入会议日期", "!起草单位"))]),
    "meeting: 1月 asks which day": (TO_MEETING_DATE, [("1月", "是一个月份，请写明1月哪一天")]),
    "meeting: 上个月 asks which day": (TO_MEETING_DATE, [("上个月", "是一个月份，请写明11月哪一天")]),
    "meeting: 春节前 is not a day": (TO_MEETING_DATE, [("春节前", "不是具体的某一天")]),
    # a unit
    "unit: one near name confirmed": (TO_UNIT, [
        ("南铺镇", ("您指的是「南埔镇」吗？（是/否）", "!对应多个单位")), ("是", "调度事项的内容")]),
    "unit: 否 asks again": (TO_UNIT, [("南铺镇", "您指的是「南埔镇」吗？"),
                                     ("否", ("请输入纪要起草单位", "!调度事项的内容"))]),
    "unit: traditional": (TO_UNIT, [("區發改局", "调度事项的内容")]),
    "unit: none lists similar units": (TO_UNIT, [("农业局", ("相近的单位有", "区农水局"))]),
    "unit: several by number": (TO_UNIT, [("局", ("对应多个单位", "1. ")), ("1", "调度事项的内容")]),
    "unit: matter's unit confirmed": (TO_DEADLINE[:-1], [("图岭镇", "您指的是「涂岭镇」吗？"), ("对", "完成时限")]),
    # a deadline (future)
    "deadline: examples fit": (TO_DEADLINE, [("昨天", ("已经过去了", FUTURE_EXAMPLES, "!" + PAST_EXAMPLES))]),
    "deadline: yesterday asked back": (TO_DEADLINE, [
        ("12月1日", ("“12月1日”（2026年12月1日）已过，请确认或重新输入", "是否指2027年12月1日", "!2. ")),
        ("否", ("完成时限", "!牵头单位"))]),
    "deadline: 2月29日 in 2027": (TO_DEADLINE, [("2月29日", "2027年不是闰年，没有2月29日")]),
    "deadline: 11月31号": (TO_DEADLINE, [("11月31号", "11月没有31日")]),
    "deadline: 下个月": (TO_DEADLINE, [("下个月", "牵头单位"), ("无", "第 2 项"), ("完成", "2027年1月31日")]),
    "deadline: 1月": (TO_DEADLINE, [("1月", "牵头单位"), ("无", "第 2 项"), ("完成", "2027年1月31日")]),
    "deadline: 元旦前": (TO_DEADLINE, [("元旦前", "牵头单位"), ("无", "第 2 项"), ("完成", "2026年12月31日")]),
    "deadline: 下半年": (TO_DEADLINE, [("下半年", "牵头单位"), ("无", "第 2 项"), ("完成", "2026年12月31日")]),
    "deadline: 月中": (TO_DEADLINE, [("月中", "牵头单位"), ("无", "第 2 项"), ("完成", "2026年12月15日")]),
    "deadline: 上半年 passed": (TO_DEADLINE, [("上半年", ("（2026年6月30日）已过", "2027年6月30日")),
                                             ("是", "牵头单位")]),
}


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_form_fields_through_the_callback(wecom, case):
    _app, _rt, driver = wecom
    prefix, script = FIELD_CASES[case]
    d = driver(OFFICE_LIAISON)
    talk(d, prefix)
    talk(d, script)


def test_unit_names_and_dates_in_a_form_through_the_callback(wecom):
    _app, rt, driver = wecom
    talk(driver(OFFICE_LIAISON), minutes_script())
    with rt.db.Session() as s:
        deadlines = [(m.responsible_unit.name, m.deadline) for m in s.scalars(select(Matter).order_by(Matter.id))]
    assert deadlines == [("涂岭镇", date(2027, 1, 31)), ("区自然资源局", spring_festival_eve()),
                         ("涂岭镇", date(2026, 12, 15)), ("涂岭镇", date(2027, 6, 30))]


# -- 4. dates: unit tests and properties ----------------------------------------------------------------
TODAY = date(2026, 12, 2)


@pytest.mark.parametrize("text, direction, expected", [
    ("下个月", "future", date(2027, 1, 31)),
    ("下月", "future", date(2027, 1, 31)),
    ("本月", "future", date(2026, 12, 31)),
    ("1月", "future", date(2027, 1, 31)),
    ("一月份", "future", date(2027, 1, 31)),
    ("下半年", "future", date(2026, 12, 31)),
    ("明年上半年", "future", date(2027, 6, 30)),
    ("月中", "future", date(2026, 12, 15)),
    ("下月中", "future", date(2027, 1, 15)),
    ("1月中旬", "future", date(2027, 1, 15)),
    ("月底", "future", date(2026, 12, 31)),
    ("月末", "future", date(2026, 12, 31)),
    ("元旦前", "future", date(2026, 12, 31)),  # 2027-01-01 is a Friday: the Thursday before
    ("国庆前", "future", date(2027, 9, 30)),
    ("五一前", "future", date(2027, 4, 30)),
    ("30号", "future", date(2026, 12, 30)),
    ("30号", "past", date(2026, 11, 30)),
    ("12月1日", "past", date(2026, 12, 1)),
])
def test_new_phrases(text, direction, expected):
    assert parse_date(text, TODAY, direction) == DateOk(expected)


def test_holidays_come_from_the_calendar():
    # 2026: 春节 off from Sunday 2月15日; Saturday 2月14日 is a make-up working day (chinese-calendar)
    assert parse_date("春节前", date(2026, 1, 10)) == DateOk(date(2026, 2, 14))
    assert parse_date("春节前", TODAY) == DateOk(last_workday_before_holiday("春节", 2027))
    # passed this year: next year's
    assert parse_date("国庆前", date(2026, 10, 8)) == DateOk(date(2027, 9, 30))


@pytest.mark.parametrize("text, direction, reason, detail", [
    ("2月29日", "future", "not_leap", {"year": 2027}),
    ("2027年2月29日", "any", "not_leap", {"year": 2027}),
    ("2月29日", "past", "not_leap", {"year": 2026}),
    ("11月31号", "future", "no_such_date", {"month": 11, "day": 31}),
    ("31号", "past", "no_such_day", {"year": 2026, "month": 11, "day": 31}),
    ("下月31号", "future", "no_such_date", {}),  # December has one, January too: fine below
    ("1月", "past", "month_only", {"month": 1}),
    ("上个月", "past", "month_only", {"month": 11}),
    ("春节前", "past", "vague", {}),
    ("上半年", "past", "vague", {}),
])
def test_refusals_carry_the_reason(text, direction, reason, detail):
    r = parse_date(text, TODAY, direction)
    if text == "下月31号":  # January has a 31st
        assert r == DateOk(date(2027, 1, 31))
        r = parse_date(text, date(2026, 10, 2), direction)  # November has none
        assert r.reason == "no_such_day" and r.month == 11
        return
    assert r.reason == reason, r
    for k, v in detail.items():
        assert getattr(r, k) == v, (k, r)


def test_yesterday_as_a_deadline_is_asked_back_with_only_allowed_dates():
    r = parse_date("12月1日", TODAY, "future")
    assert isinstance(r, DateAmbiguous) and r.candidates == (date(2027, 12, 1),) and r.literal == date(2026, 12, 1)


def test_a_31st_in_february_is_never_moved(tmp_path):
    r = parse_date("31号", date(2027, 2, 10), "future")
    assert r.reason == "no_such_day" and (r.year, r.month) == (2027, 2)
    r = parse_date("30号", date(2027, 2, 10), "any")
    assert r.reason == "no_such_day"


PHRASES = ([f"{d}号" for d in range(1, 32)] + [f"{m}月{d}日" for m in (1, 2, 11, 12)
                                                         for d in (1, 15, 28, 29, 30, 31)]
           + ["2月29日", "月底", "月中", "下个月", "本月", "1月", "12月", "上半年", "下半年", "元旦前", "春节前",
              "国庆前", "本周五", "周五", "下周五", "明天", "昨天"])


def _allowed(d: date, today: date, direction: str) -> bool:
    return (direction != "future" or d >= today) and (direction != "past" or d <= today)


@pytest.mark.parametrize("month_start", [date(2026, 12, 1), date(2027, 2, 1)])
def test_a_month_replayed_no_silent_date_guess(month_start):
    """Every day of a month, every phrase, both directions: a date that comes back is real, on the field's
    side, and keeps the day (and month) that was typed; ambiguous answers only offer allowed dates."""
    day = month_start
    while day.month == month_start.month:
        for text in PHRASES:
            for direction in ("future", "past"):
                r = parse_date(text, day, direction)
                values = [r.value] if isinstance(r, DateOk) else list(getattr(r, "candidates", ()))
                for v in values:
                    assert isinstance(v, date) and _allowed(v, day, direction), (day, text, direction, r)
                    if text.endswith("号"):
                        assert v.day == int(text[:-1]), (day, text, r)
                    if "月" in text and text.endswith("日") and text[0].isdigit():
                        m, d = text[:-1].split("月")
                        assert (v.month, v.day) == (int(m), int(d)), (day, text, r)
        day += timedelta(days=1)


@settings(deadline=None)
@given(st.text(alphabet="0123456789一二三十年月日号天周后前下上本这个底中旬半元旦春节国庆五-/.", max_size=10),
       st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 12, 31)),
       st.sampled_from(["future", "past"]))
def test_a_phrase_never_resolves_to_a_date_the_field_forbids(text, today, direction):
    r = parse_date(text, today, direction)
    if isinstance(r, DateOk):
        assert _allowed(r.value, today, direction)
    elif isinstance(r, DateAmbiguous):
        assert r.candidates and all(_allowed(c, today, direction) for c in r.candidates)


def test_a_month_replayed_in_the_meeting_form_never_guesses(wecom):
    """录入纪要's meeting date typed as 29号/30号/31号 on every day of March 2027: before the n-th the
    last n-th would be in February, which has none — asked back with the reason, never moved to January;
    from the n-th on it is March's."""
    _app, rt, _driver = wecom
    d = Direct(rt, OFFICE_LIAISON)
    start = [("录入纪要", "1. 杨凤翔"), ("2", "纪要编号"), ("无", "纪要名称"), ("会议", "会议日期")]
    for day in range(1, 32):
        rt.clock.set(at(2027, 3, day))
        talk(d, start)
        for n in (29, 30, 31):
            if day < n:
                talk(d, [(f"{n}号", (f"2027年2月没有{n}日", "今天、昨天", "!起草单位"))])
            else:
                talk(d, [(f"{n}号", "起草单位"), ("返回", "会议日期")])
        talk(d, [("取消", "取消")])
    with rt.db.Session() as s:
        assert s.scalars(select(Matter)).first() is None


def chat(tmp_path, user, lines):
    """`python -m bot chat --user USER` with `lines` piped in (as tests/test_simulator.py drives it)."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("WECOM_", "REDIS_URL", "DATABASE_URL", "PASSIVE_REPLY"))}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'chat.sqlite3'}", INSTANCE_DIR=str(tmp_path / "instance"),
                   PASSIVE_REPLY_SECONDS="20")
    proc = subprocess.run([sys.executable, "-m", "bot", "chat", "--user", user], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, cwd=ROOT, env=environ, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_a_month_replayed_in_the_simulator(tmp_path):
    """`python -m bot chat` (the simulator, through the fake WeCom and the signed callback), March 2027 with
    /now (the days around the month's end; every day is replayed in-process above): a meeting date
    29号/30号/31号 typed before that day of March would be February's, which has none — each is asked back
    with the reason, never moved to January or taken silently."""
    lines, expected = [], []
    for day in (1, 28, 29, 30):
        lines += [f"/now 2027-03-{day:02d}T10:00", "录入纪要", "2", "无", "会议"]
        for n in (29, 30, 31):
            if day < n:
                lines.append(f"{n}号")
                expected.append((f"{n}号", f"2027年2月没有{n}日"))
        lines.append("取消")
    out = chat(tmp_path, OFFICE_LIAISON, lines)
    replies = [seg.split("\n", 1) for seg in out.split("\n> ")[1:]]
    dated = [(said, reply) for said, reply in replies if said.endswith("号")]
    assert len(dated) == len(expected)
    for (said, reply), (typed, reason) in zip(dated, expected, strict=True):
        assert said == typed and reason in reply and "起草单位" not in reply, (said, reply)


def test_a_planned_date_that_was_yesterday_is_asked_back_in_the_report(db_url, tmp_path):
    """填报's planned deadline (the issue's example): 12月1日 typed on 12月2日 is asked back — only next
    year's 12月1日 is offered, 否 asks again; 下个月 is that month's last day."""
    from tests import factories as f

    app = make_app(db_url, tmp_path, **wecom_config(PASSIVE_REPLY_SECONDS=20))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="推进石化科创小镇征迁")
    rt.clock.set(at(2026, 12, 2))
    talk(Callback(app, WeComPeer(TOKEN, AES, CORP, AGENT), "ua"), [
        ("填报", ("M1 推进石化科创小镇征迁", "1. 已完成")),
        ("2", "目前进展"),
        ("征迁完成80%", "计划什么时候完成"),
        ("12月1日", ("（2026年12月1日）已过，请确认或重新输入", "是否指2027年12月1日", "!2. ")),
        ("否", ("计划什么时候完成", "!难点")),
        ("昨天", ("已经过去了", FUTURE_EXAMPLES)),
        ("下个月", "难点"),
        ("无", ("请核对", "2027年1月31日")),
    ])
    rt.db.dispose()


VOCABULARY = """
import json, sys
import yaml
from handlers import build_router
seed = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
words = {w for c in build_router().commands for w in c.words}
words |= {n for u in seed["units"] for n in [u["name"], *u.get("aliases", [])]}
words |= {p["name"] for p in seed["people"]} | {k["name"] for k in seed["key_projects"]["projects"]}
if sys.argv[2] == "full":
    import pypinyin
    read = {w: "".join(pypinyin.lazy_pinyin(w)).lower() for w in words}
else:
    from bot.domain import fuzzy
    read = {w: fuzzy.pinyin(w) for w in words}
    import pypinyin.constants
    assert len(pypinyin.constants.PHRASES_DICT) < 100, "the phrase dictionary was loaded"
print(json.dumps(read, ensure_ascii=False))
"""


def test_the_bots_vocabulary_reads_as_with_pypinyins_full_phrase_dictionary():
    """The bot reads characters one by one (no 44-MB phrase dictionary in every process) plus its own few
    phrases (fuzzy.PHRASES): every command keyword and every unit, person and project name of the seed reads
    exactly as pypinyin reads it with the full dictionary (协调 xietiao, not xiediao; 重新 chongxin)."""
    import json
    import os
    import subprocess
    import sys

    from tests.support import ROOT, SEED_FILE

    def readings(mode: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "PYPINYIN_NO_PHRASES"}
        out = subprocess.run([sys.executable, "-c", VOCABULARY, str(SEED_FILE), mode], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        return json.loads(out.stdout)

    full, bot = readings("full"), readings("bot")
    assert len(full) > 300
    assert {w: (bot[w], full[w]) for w in full if bot[w] != full[w]} == {}
