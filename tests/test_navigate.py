"""The engine's navigation functions, without a database, templates or a store: (flow, draft, text) ->
(new draft, what to show). Table-driven scripts, and hypothesis for any sequence of inputs."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation import fields as F
from bot.conversation import navigate as nav
from bot.conversation.draft import FIELDS, GROUP, ITEM, RESUME, SUMMARY, Draft, Unreadable
from bot.conversation.flow import Choose, Field, Flow, Group, Invalid

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ENV = nav.Env(now=T0, ctx=SimpleNamespace(now=T0))


def a_code(fc, text):
    if text == "不清楚":
        raise Invalid("x/unclear.txt")
    if text.startswith("M"):
        return text
    if text == "amb":
        raise Choose([("M1", "M1 抓征迁"), ("M2", "M2 抓审批")])
    raise Invalid("x/not_code.txt", text=text)


def is_open(fc):
    return (fc.item or {}).get("status") == "open"


FLOW = Flow(name="toy", steps=[
    Field("title", "x/ask_title.txt"),  # free text
    Field("kind", "x/ask_kind.txt", choices=lambda fc: [("a", "甲"), ("b", "乙")]),
    Field("code", "x/ask_code.txt", a_code),
    Group("rows", [
        Field("what", "x/ask_what.txt"),
        Field("status", "x/ask_status.txt", choices=lambda fc: [("open", "未完成"), ("done", "已完成")]),
        Field("due", "x/ask_due.txt", when=is_open),
    ], max_items=3),
], save=lambda ctx, data, meta: None)

FIXED = Flow(name="fixed", steps=[
    Group("items", [Field("status", "x/ask_status.txt", choices=lambda fc: [("open", "未完成"), ("done", "已完成")]),
                    Field("due", "x/ask_due.txt", when=is_open)],
          items=lambda fc: fc.meta["todo"]),
], save=lambda ctx, data, meta: None)


def play(flow, texts, draft=None, env=ENV, meta=None):
    """Send `texts` one by one; returns the last (draft, show)."""
    if draft is None:
        draft, show = nav.start(flow, env, meta=meta)
    for text in texts:
        draft, show = nav.handle(flow, draft, text, env)
        assert not show.finished or text == texts[-1], text
    return draft, show


TO_ROWS = ["专题会", "2", "M7"]
TO_SUMMARY = TO_ROWS + ["抓征迁", "已完成", "完成"]


@pytest.mark.parametrize("texts, mode, cursor, screen, error", [
    ([], FIELDS, (0, 0, 0), nav.PROMPT, None),
    (["专题会"], FIELDS, (1, 0, 0), nav.PROMPT, None),
    (["专题会", "3"], FIELDS, (1, 0, 0), nav.PROMPT, "engine/err_choice.txt"),
    (["专题会", "乙"], FIELDS, (2, 0, 0), nav.PROMPT, None),  # a menu answered by its label
    (["专题会", "2", "不清楚"], FIELDS, (2, 0, 0), nav.PROMPT, "x/unclear.txt"),
    (["专题会", "2", "amb"], FIELDS, (2, 0, 0), nav.CHOOSE, None),
    (["专题会", "2", "amb", "2"], FIELDS, (3, 0, 0), nav.PROMPT, None),
    (["专题会", "2", "amb", "9"], FIELDS, (2, 0, 0), nav.PROMPT, "x/not_code.txt"),  # 9: not a candidate
    (TO_ROWS, FIELDS, (3, 0, 0), nav.PROMPT, None),
    (TO_ROWS + ["完成"], FIELDS, (3, 0, 0), nav.PROMPT, "engine/too_few.txt"),  # at least one item
    (TO_ROWS + ["抓征迁", "未完成"], FIELDS, (3, 0, 2), nav.PROMPT, None),
    (TO_ROWS + ["抓征迁", "已完成"], FIELDS, (3, 1, 0), nav.PROMPT, None),  # due skipped (when false)
    (TO_SUMMARY, SUMMARY, (4, 0, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["随便"], SUMMARY, (4, 0, 0), nav.PROMPT, "engine/summary_hint.txt"),
    (TO_SUMMARY + ["确认"], SUMMARY, (4, 0, 0), nav.SAVE, None),
    (["专题会", "确认"], FIELDS, (1, 0, 0), nav.PROMPT, "engine/not_yet.txt"),
    (["返回"], FIELDS, (0, 0, 0), nav.PROMPT, "engine/at_first.txt"),
    (["专题会", "返回"], FIELDS, (0, 0, 0), nav.PROMPT, None),
    (["专题会", "修改 2"], FIELDS, (1, 0, 0), nav.PROMPT, "engine/not_reached.txt"),
    (["专题会", "修改 9"], FIELDS, (1, 0, 0), nav.PROMPT, "engine/bad_step.txt"),
    (["专题会", "2", "修改 1"], FIELDS, (0, 0, 0), nav.PROMPT, None),
    (["专题会", "2", "修改 1", "新题"], FIELDS, (2, 0, 0), nav.PROMPT, None),  # back where it was
    (TO_SUMMARY + ["修改 2"], FIELDS, (1, 0, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["修改 2", "甲"], SUMMARY, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 2", "返回"], SUMMARY, None, nav.PROMPT, None),  # was "出了问题"
    (TO_SUMMARY + ["修改 4"], GROUP, (4, 0, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "添加"], FIELDS, (3, 1, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "添加", "抓审批", "已完成"], SUMMARY, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "删除 1"], GROUP, (4, 0, 0), nav.PROMPT, "engine/too_few.txt"),
    (TO_SUMMARY + ["修改 4", "5"], GROUP, (4, 0, 0), nav.PROMPT, "engine/bad_item.txt"),
    (TO_SUMMARY + ["修改 4", "返回"], SUMMARY, (4, 0, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "1"], ITEM, (4, 0, 0), nav.PROMPT, None),  # the item's fields, numbered
    (TO_SUMMARY + ["修改 4", "1", "2"], FIELDS, (3, 0, 1), nav.PROMPT, None),  # only that field
    (TO_SUMMARY + ["修改 4", "1", "2", "已完成"], SUMMARY, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "1", "2", "未完成"], FIELDS, (3, 0, 2), nav.PROMPT, None),  # due became due
    (TO_SUMMARY + ["修改 4", "1", "2", "未完成", "月底"], SUMMARY, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "1", "2", "返回"], SUMMARY, None, nav.PROMPT, None),  # 返回: the review page
    (TO_SUMMARY + ["修改 4", "1", "返回"], GROUP, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4", "1", "9"], ITEM, None, nav.PROMPT, "engine/bad_field_no.txt"),
    (TO_SUMMARY + ["修改 4", "1", "全部"], FIELDS, (3, 0, 0), nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4 1 status"], FIELDS, (3, 0, 1), nav.PROMPT, None),  # a field by its name
    (TO_SUMMARY + ["修改 4.1"], ITEM, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 4 1 颜色"], ITEM, None, nav.PROMPT, "engine/bad_field.txt"),
    (TO_SUMMARY + ["修改 4", "添加", "抓审批", "返回", "不变", "已完成"], SUMMARY, None, nav.PROMPT, None),
    (TO_SUMMARY + ["修改 1", "不变"], SUMMARY, None, nav.PROMPT, None),
    (["不变"], FIELDS, (0, 0, 0), nav.PROMPT, "engine/err_nothing_to_keep.txt"),
    (TO_ROWS + ["抓征迁", "已完成", "没有"], SUMMARY, None, nav.PROMPT, None),  # 没有 at a new item: complete
    (TO_ROWS + ["无"], FIELDS, (3, 0, 0), nav.PROMPT, "engine/too_few.txt"),
    (["帮助"], FIELDS, (0, 0, 0), nav.HELP, None),
    (["查看"], FIELDS, (0, 0, 0), nav.VIEW, None),
    (TO_SUMMARY + ["查看"], SUMMARY, (4, 0, 0), nav.PROMPT, None),
    (["取消"], FIELDS, (0, 0, 0), nav.CANCELLED, None),
])
def test_script(texts, mode, cursor, screen, error):
    draft, show = play(FLOW, texts)
    assert (draft.mode, show.screen) == (mode, screen)
    if cursor is not None:
        assert tuple(draft.cursor) == cursor
    assert (show.error.template if show.error else None) == error


def test_answers_and_pruning():
    draft, _ = play(FLOW, TO_ROWS + ["抓征迁", "未完成", "月底", "抓审批", "已完成", "完成"])
    assert draft.data == {"title": "专题会", "kind": "b", "code": "M7",
                          "rows": [{"what": "抓征迁", "status": "open", "due": "月底"},
                                   {"what": "抓审批", "status": "done"}]}
    draft, _ = play(FLOW, ["修改 4", "1", "2", "已完成"], draft=draft)
    assert draft.mode == SUMMARY and draft.data["rows"][0] == {"what": "抓征迁", "status": "done"}  # due dropped
    draft, _ = play(FLOW, ["修改 1", "不变", "修改 4", "2", "1", ""], draft=draft)  # 不变 / empty keep the value
    assert draft.mode == SUMMARY and draft.data["title"] == "专题会" and draft.data["rows"][1]["what"] == "抓审批"


def test_three_invalid_answers_count_and_help_resets_them():
    draft, _ = play(FLOW, ["专题会", "2", "不清楚", "不清楚", "不清楚"])
    assert draft.attempts == 3
    draft, show = nav.handle(FLOW, draft, "帮助", ENV)
    assert (draft.attempts, show.screen) == (0, nav.HELP)


def test_a_group_stops_at_max_items():
    rows = []
    for k in range(3):
        rows += [f"事项{k}", "已完成"]
    draft, _ = play(FLOW, TO_ROWS + rows)
    assert draft.mode == SUMMARY and len(draft.data["rows"]) == 3


def test_another_command_inside_a_draft_is_offered_not_taken_as_an_answer():
    env = nav.Env(now=T0, ctx=ENV.ctx, is_command=lambda text: text.startswith(("我的事项", "提请督办")))
    draft, show = play(FLOW, ["专题会"])
    new, show = nav.handle(FLOW, draft, "提请督办 M9", env)
    assert show.screen == nav.ASK and new.offer == "提请督办 M9"
    assert new.data == draft.data and new.cursor == draft.cursor
    run, show = nav.handle(FLOW, new, "是", env)  # 是: paused, the command is run
    assert (show.screen, show.command, run.mode, run.resume_mode) == (nav.RUN, "提请督办 M9", RESUME, FIELDS)
    back, show = nav.handle(FLOW, run, "继续", env)
    assert (back.mode, back.cursor, back.data) == (FIELDS, (1, 0, 0), {"title": "专题会"})
    as_answer, show = nav.handle(FLOW, play(FLOW, [])[0], "提请督办 M9", env)
    as_answer, show = nav.handle(FLOW, as_answer, "否", env)  # 否: it is the answer
    assert as_answer.data == {"title": "提请督办 M9"} and as_answer.offer is None
    lapsed, show = nav.handle(FLOW, new, "乙", env)  # anything else: the offer lapses, the text is handled
    assert lapsed.offer is None and lapsed.data["kind"] == "b"


def test_a_command_after_a_pause_is_passed_on_and_the_draft_kept():
    env = nav.Env(now=T0 + timedelta(minutes=31), ctx=ENV.ctx, is_command=lambda text: text == "我的事项")
    draft, _ = play(FLOW, ["专题会"])
    paused, show = nav.handle(FLOW, draft, "我的事项", env)
    assert (show.screen, paused.mode, paused.resume_mode, paused.data) == (nav.PASS, RESUME, FIELDS, draft.data)


def test_step_numbers_count_a_group_once():
    seen = []
    draft, _ = nav.start(FLOW, ENV)
    for text in TO_ROWS + ["甲事", "已完成", "乙事", "未完成", "月底", "丙事"]:
        seen.append(nav.step_number(FLOW, draft, ENV))
        draft, _ = nav.handle(FLOW, draft, text, ENV)
    assert {n for _k, n in seen} == {4} and [k for k, _n in seen] == sorted(k for k, _n in seen)


def test_idle_draft_is_offered_back_then_resumed_or_restarted():
    draft, _ = play(FLOW, ["专题会"])
    later = nav.Env(now=T0 + timedelta(minutes=31), ctx=ENV.ctx)
    offered, show = nav.handle(FLOW, draft, "乙", later)
    assert (offered.mode, show.screen, offered.updated_at) == (RESUME, nav.OFFER, T0)  # not taken as the answer
    same, show = nav.handle(FLOW, offered, "我的事项", later)
    assert show.screen == nav.PASS and same.to_doc() == offered.to_doc()
    resumed, show = nav.handle(FLOW, offered, "继续", later)
    assert (resumed.mode, resumed.cursor, resumed.data, resumed.updated_at) == (FIELDS, (1, 0, 0), {"title": "专题会"},
                                                                                later.now)
    restarted, _ = nav.handle(FLOW, offered, "重新开始", later)
    assert (restarted.mode, restarted.cursor, restarted.data) == (FIELDS, (0, 0, 0), {})
    assert restarted.id != draft.id and restarted.started_at == later.now


def test_fixed_group_walks_the_given_items():
    meta = {"todo": [{"code": "M1"}, {"code": "M2"}]}
    draft, show = nav.start(FIXED, ENV, meta=meta)
    assert draft.meta["_items_items"] == meta["todo"] and draft.data == {"items": [{}]}
    draft, _ = play(FIXED, ["未完成", "月底", "已完成"], draft=draft)
    assert draft.mode == SUMMARY
    assert draft.data["items"] == [{"status": "open", "due": "月底"}, {"status": "done"}]
    one, show = nav.handle(FIXED, draft, "修改 2", ENV)  # one group: 修改 N is its item N; one question: asked
    assert (one.mode, tuple(one.cursor)) == (FIELDS, (0, 1, 0))
    draft, show = nav.handle(FIXED, draft, "修改 1", ENV)
    assert (draft.mode, draft.item) == (ITEM, 0)
    draft, show = nav.handle(FIXED, draft, "返回", ENV)
    assert draft.mode == GROUP
    draft, show = nav.handle(FIXED, draft, "添加", ENV)
    assert show.error.template == "engine/group_hint.txt"  # a fixed list cannot grow


def test_start_at_summary():
    draft, show = nav.start(FLOW, ENV, data={"title": "t"}, at_summary=True)
    assert (draft.mode, draft.completed, show.screen) == (SUMMARY, True, nav.PROMPT)


def test_the_draft_round_trips_through_json_and_reads_schema_1():
    draft, _ = play(FLOW, TO_SUMMARY + ["修改 2"])
    doc = draft.to_doc()
    assert doc["schema_version"] == 3 and Draft.from_doc(doc) == draft
    legacy = {k: v for k, v in doc.items() if k != "schema_version"}  # drafts stored before the typed draft
    assert Draft.from_doc(legacy) == draft
    with pytest.raises(Unreadable):
        Draft.from_doc({**doc, "schema_version": 4})
    with pytest.raises(Unreadable):
        Draft.from_doc({"flow": "toy"})


WORDS = st.sampled_from(["帮助", "取消", "返回", "查看", "确认", "完成", "修改 1", "修改 3", "修改 4", "修改 9", "添加",
                         "删除 1", "删除 2", "继续", "重新开始", "1", "2", "3", "9", "甲", "乙", "未完成", "已完成",
                         "M1", "amb", "不清楚", "?", "", "x", "全部", "不变", "无", "是", "否", "下一页", "我的事项",
                         "修改 4 1", "修改 4 1 status"])


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([[], TO_ROWS, TO_SUMMARY]), texts=st.lists(st.one_of(WORDS, st.text(max_size=6)),
                                                                           max_size=30), idle=st.booleans())
def test_any_inputs_keep_the_draft_consistent_and_the_input_unchanged(prefix, texts, idle):
    """Whatever is typed: nothing raises, the given draft is never changed, the new draft survives JSON,
    and the cursor points at a question that exists (in FIELDS mode) or a group (in GROUP mode)."""
    draft, _ = nav.start(FLOW, ENV)
    now = T0
    for text in prefix + texts:
        if idle:
            now += timedelta(minutes=20)
        env = nav.Env(now=now, ctx=SimpleNamespace(now=now), is_command=lambda t: t == "我的事项")
        before = draft.to_doc()
        new, show = nav.handle(FLOW, draft, text, env)
        assert draft.to_doc() == before
        assert Draft.from_doc(new.to_doc()) == new
        if show.finished:
            break
        if new.mode == FIELDS:
            assert nav.field_at(FLOW, new.cursor) is not None, (text, new.cursor)
            assert (tuple(new.cursor) in nav.positions(FLOW, new, env)) or new.edit is not None
        elif new.mode in (GROUP, ITEM):
            assert isinstance(nav.step_at(FLOW, new.group), Group)
            if new.mode == ITEM:
                assert 0 <= new.item < len(new.data[nav.step_at(FLOW, new.group).name])
        if show.screen == nav.CHOOSE:
            assert new.pending
        assert len(new.data.get("rows", [])) <= 3
        draft = new


@given(word=st.sampled_from(F.NONE_WORDS), tail=st.text(alphabet=F.NONE_TRIM, max_size=3),
       head=st.text(alphabet=" ", max_size=2))
def test_none_words_with_trailing_punctuation_mean_none(word, tail, head):
    assert F.is_none(head + word + tail)


@given(st.text(max_size=12))
def test_is_none_is_exactly_the_none_words(text):
    assert F.is_none(text) == (text.strip().strip(F.NONE_TRIM) in F.NONE_WORDS)
    if F.is_none(text):
        assert F.text(100, optional=True)(None, text) is None


@pytest.mark.parametrize("text, groups", [
    ("修改 2", ("2", None, None)),
    ("修改2", ("2", None, None)),
    ("修改第2项", ("2", None, None)),
    ("修改 6.2", ("6", "2", None)),
    ("修改 6 2", ("6", "2", None)),
    ("修改 6 第2项", ("6", "2", None)),
    ("修改 6 2 完成时限", ("6", "2", "完成时限")),
    ("修改 2 完成时限", ("2", None, "完成时限")),
    ("改 3", ("3", None, None)),
])
def test_edit_words(text, groups):
    assert nav.RE_EDIT.match(text).groups() == groups


@pytest.mark.parametrize("text", ["修改交办单 JB3", "修改", "修改 x"])
def test_not_edit_words(text):
    assert nav.RE_EDIT.match(text) is None
