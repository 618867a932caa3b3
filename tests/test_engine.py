"""The conversation engine: global words, retries, resume/expiry, both draft stores, rollback safety, fuzz."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import ConversationState, Matter, Minutes, Unit
from tests import factories as f
from tests.dialog import Direct, at, talk
from tests.support import make_app

USER = "linyongyong"  # office liaison in small_org
T0 = at(2026, 11, 23)


def build(db_url, tmp_path, store, request, **extra):
    """An app on db_url with small_org, drafts in Redis ("redis") or in the database ("db")."""
    cfg = dict(extra)
    if store == "redis":
        cfg["REDIS_URL"] = request.getfixturevalue("redis_url")
    app = make_app(db_url, tmp_path, **cfg)
    rt = app.extensions["bot"]
    rt.clock.set(T0)
    return app, rt


@pytest.fixture(params=["db", "redis"])
def rt(request, db_url, tmp_path):
    app, rt = build(db_url, tmp_path, request.param, request)
    with rt.db.session() as s:
        f.small_org(s)
    yield rt
    rt.db.dispose()


START = [("录入纪要", "第 1/"), ("陈剑锋", "纪要编号"), ("12号", "纪要名称")]
REST = [("专题会", "会议日期"), ("昨天", "起草单位"), ("发改局", "第 1 项"), ("抓征迁", "责任单位"),
        ("科技局", "完成时限"), ("月底", "牵头单位"), ("同上", "第 2 项"), ("完成", "请核对")]


def minutes_count(rt):
    with rt.db.session() as s:
        return s.scalar(select(func.count(Minutes.id)))


def test_global_words(rt):
    talk(Direct(rt, USER), START + [
        ("返回", ("纪要编号", "当前已填：12号")),
        ("返回", "区政府领导"),
        ("返回", "已经是第一步"),
        ("帮助", ("填写说明", "修改 序号", "区政府领导")),
        ("9", ("请回复序号或姓名", "1. 陈剑锋")),
        ("2", "纪要编号"),          # 郭雅婷 by number
        ("12号", "纪要名称"),
        ("查看", ("已填写的内容", "调度领导：郭雅婷", "纪要编号：12号", "纪要名称")),
        ("修改 5", "还没有填写到"),
        ("修改 99", "没有第 99 项"),
        ("修改 1", ("区政府领导", "当前已填：郭雅婷")),
        ("陈剑锋", "纪要名称"),     # back where we were, not to the next step after 1
        ("确认", ("还没有填写完", "纪要名称")),
        ("x" * 301, "太长"),
        ("x" * 400, "太长"),
        ("x" * 500, ("太长", "多次没有填写成功", "帮助", "取消")),
        ("专题会", "会议日期"),
        ("取消", "已取消"),
    ])
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ConversationState)) == 0
    assert minutes_count(rt) == 0


def test_commands_inside_a_draft_are_not_swallowed_as_answers(rt):
    talk(Direct(rt, USER), START + [("我的事项", ("您正在填写《录入纪要》", "要先办理「我的事项」吗")),
                                    ("是", "!纪要名称"), ("继续", "纪要名称")])


def test_a_form_started_from_inside_a_form_waits_behind_it_on_both_stores(rt):
    """是 to 「登记调度会」 inside 录入纪要: the draft is paused and the new form's start waits behind it (one
    message writes the draft twice: the second write must see the first, in the database and in Redis)."""
    d = Direct(rt, USER)
    talk(d, START + [("登记调度会", "要先办理「登记调度会」吗"),
                     ("是", ("未完成的【录入纪要】", "开始填写【登记调度会】")),
                     ("继续", ("第 3/", "纪要名称"))])
    talk(d, [("登记调度会", "要先办理"), ("是", "重新开始"), ("重新开始", ("第 1/5 步", "区政府领导")),
             ("取消", "已取消")])
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ConversationState)) == 0


def test_idle_draft_is_offered_back_and_expires_after_a_day(rt):
    d = Direct(rt, USER)
    talk(d, START)
    rt.clock.set(T0 + timedelta(minutes=31))
    talk(d, [("专题会", ("未完成的【录入纪要】", "继续", "重新开始")),   # not taken as the title
             ("继续", ("第 3/", "纪要名称")),
             ("专题会", "会议日期")])
    rt.clock.set(T0 + timedelta(minutes=65))
    talk(d, [("昨天", "未完成的"),
             ("帮助", "可以发送以下指令"),           # other text: handled as a command, the draft waits
             ("继续", "会议日期"),
             ("昨天", "起草单位")])
    rt.clock.set(T0 + timedelta(minutes=100))
    talk(d, [("你好", "未完成的"), ("重新开始", ("第 1/", "区政府领导")), ("取消", "已取消")])
    talk(d, START)
    rt.clock.set(T0 + timedelta(minutes=100, hours=24, seconds=1))
    talk(d, [("确认", "没有看懂")])  # the draft was dropped after 24 hours


def test_draft_survives_an_app_restart(request, db_url, tmp_path):
    for store in ("db", "redis"):
        app, rt = build(db_url, tmp_path, store, request)
        if store == "db":
            with rt.db.session() as s:
                f.small_org(s)
        talk(Direct(rt, USER), START)
        rt.db.dispose()
        app2, rt2 = build(db_url, tmp_path, store, request)  # a new process: nothing in memory
        talk(Direct(rt2, USER), [("专题会" + store, "会议日期")] + REST[1:] + [("确认", "✅")])
        rt2.db.dispose()
    with rt2.db.session() as s:
        assert sorted(s.scalars(select(Minutes.title))) == ["专题会db", "专题会redis"]


def test_a_failing_save_rolls_back_and_keeps_the_draft(rt, monkeypatch):
    from handlers import minutes

    d = Direct(rt, USER)
    talk(d, START + REST)

    original = minutes.FLOW.save

    def broken(ctx, data, meta):
        original(ctx, data, meta)  # writes the ledger, then fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(minutes.FLOW, "save", broken)
    talk(d, [("确认", "没有保存")])
    assert minutes_count(rt) == 0
    with rt.db.session() as s:
        assert s.scalar(select(func.count(Matter.id))) == 0
    monkeypatch.undo()
    talk(d, [("查看", "请核对"), ("确认", ("✅", "M"))])
    assert minutes_count(rt) == 1


def test_redis_failing_right_after_a_save_keeps_it_once(request, db_url, tmp_path, monkeypatch):
    """The save is committed before the draft is deleted from Redis: if Redis fails in between, the reply
    still says saved (it is), a platform retry of the message stays a duplicate, and the stale draft left
    in Redis is recognised by its tombstone, so a second 确认 cannot save the minutes twice."""
    import redis

    from bot.core.runtime import DUPLICATE

    app, rt = build(db_url, tmp_path, "redis", request)
    with rt.db.session() as s:
        f.small_org(s)
    d = Direct(rt, USER)
    talk(d, START + REST)

    def down(*_a, **_k):
        raise redis.ConnectionError("Redis went away")

    client = rt.kv.client
    draft_key = rt.kv._k("conv:" + f"person:{_person_id(rt)}")
    monkeypatch.setattr(client, "delete", down)  # the draft's delete after the commit fails
    reply = rt.handle_text("wecom", USER, "确认", msg_id="wx-retry-1")
    assert "✅" in reply.text and "M" in reply.text
    assert minutes_count(rt) == 1
    assert rt.handle_text("wecom", USER, "确认", msg_id="wx-retry-1") is DUPLICATE  # WeCom's retry
    assert client.exists(draft_key)  # the stale draft is still there
    monkeypatch.undo()
    assert "✅" not in d.say("确认") and minutes_count(rt) == 1  # its tombstone: no second save
    assert not client.exists(draft_key)
    talk(d, START + REST + [("确认", "✅")])  # and a new draft starts and saves cleanly
    assert minutes_count(rt) == 2
    rt.db.dispose()


def _person_id(rt):
    from models import Person

    with rt.db.session() as s:
        return s.scalar(select(Person.id).where(Person.wecom_userid == USER))


ANSWERS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["帮助", "取消", "返回", "查看", "确认", "完成", "修改 1", "修改 6", "修改 0", "添加", "删除 1",
                     "继续", "重新开始", "1", "2", "99", "同上", "无", "本单位", "发改局", "科技局", "局", "明天",
                     "月底", "5", "12.5", "下周五", "2025-01-01", "；", "😀", "录入纪要", "我的事项", " "]),
    st.text(alphabet="局镇月日号周0123456789年-./", max_size=12),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(ANSWERS, min_size=1, max_size=14))
def test_fuzz_any_input_gets_a_reply_and_never_an_error(sqlite_url, tmp_path_factory, script):
    app = make_app(sqlite_url, tmp_path_factory.mktemp("fz"))
    rt = app.extensions["bot"]
    rt.clock.set(T0)
    with rt.db.session() as s:
        if not s.scalar(select(func.count(Unit.id))):  # the database is shared by all examples
            f.small_org(s)
    try:
        d = Direct(rt, USER)
        d.say("取消")
        d.say("录入纪要")
        for text in script:
            reply = d.say(text)
            assert reply.strip() and "出了问题" not in reply, (text, reply)
    finally:
        rt.db.dispose()


# -- issue 11 item 12: engine bugs -----------------------------------------------------------------
def test_a_date_shaped_text_in_a_text_field_can_be_shown_and_edited(rt):
    """A title "2026-02-30" looks like a date but is none: 返回, 修改 N and 查看 show it as typed."""
    talk(Direct(rt, USER), START + [
        ("2026-02-30", "会议日期"),
        ("返回", ("纪要名称", "当前已填：2026-02-30", "!出了问题")),
        ("2026-02-30", "会议日期"),
        ("修改 3", ("纪要名称", "当前已填：2026-02-30", "!出了问题")),
        ("2026-02-30", "会议日期"),
        ("查看", ("纪要名称：2026-02-30", "!出了问题")),
    ])


def test_back_after_editing_from_the_summary_returns_to_the_summary(rt):
    talk(Direct(rt, USER), START + REST + [("修改 1", "当前已填：陈剑锋"), ("返回", ("请核对", "!出了问题")),
                                          ("确认", "✅")])
    assert minutes_count(rt) == 1


def test_multi_line_answers_keep_their_line_breaks(rt):
    d = Direct(rt, USER)
    talk(d, START[:2] + [("12号", "纪要名称"), ("第一行  专题会\r\n第二行", "会议日期")] + REST[1:] + [("确认", "✅")])
    with rt.db.session() as s:
        assert s.scalar(select(Minutes.title)) == "第一行 专题会\n第二行"


def test_control_characters_are_stripped_before_anything_is_stored(rt):
    """A NUL (DingTalk sends them) used to make PostgreSQL refuse every 确认; now it never reaches a handler."""
    talk(Direct(rt, USER), START[:2] + [("12号", "纪要名称"), ("专题\x00会\x07", "会议日期")] + REST[1:]
         + [("确认", ("✅", "!出了问题"))])
    with rt.db.session() as s:
        assert s.scalar(select(Minutes.title)) == "专题会"


def test_a_draft_lost_by_redis_is_announced_once(request, db_url, tmp_path):
    """Redis flushed under an open draft: the next answer is told the draft is gone and how to start again
    (not "没有看懂"); after that, messages are handled as usual."""
    import redis

    app, rt = build(db_url, tmp_path, "redis", request)
    with rt.db.session() as s:
        f.small_org(s)
    try:
        d = Direct(rt, USER)
        talk(d, START)
        redis.Redis.from_url(request.getfixturevalue("redis_url")).flushdb()
        talk(d, [("专题会", ("【录入纪要】草稿已经不在了", "没有保存", "重新发送", "!没有看懂")),
                 ("专题会", "没有看懂")])
        talk(d, START)
        redis.Redis.from_url(rt.settings.REDIS_URL).flushdb()
        talk(d, [("我的事项", "!草稿已经不在了")])  # another command: just done
        talk(d, START + REST + [("确认", "✅")])
        with rt.db.session() as s:
            assert s.scalar(select(func.count()).select_from(ConversationState)) == 0  # no anchor left
    finally:
        rt.db.dispose()


def test_an_unreadable_draft_is_dropped_and_announced(request, db_url, tmp_path):
    app, rt = build(db_url, tmp_path, "db", request)
    with rt.db.session() as s:
        f.small_org(s)
    try:
        d = Direct(rt, USER)
        talk(d, START)
        with rt.db.session() as s:
            row = s.get(ConversationState, f"person:{_person_id(rt)}")
            row.data = {**row.data, "schema_version": 99}
        talk(d, [("专题会", ("【录入纪要】草稿已经不在了", "!出了问题")), ("专题会", "没有看懂")])
    finally:
        rt.db.dispose()


def test_flows_are_known_through_the_router_not_an_import():
    from bot.conversation.engine import Field, Flow
    from bot.core.routing import Commands, Router
    from handlers import build_router

    assert sorted(build_router().flows) == ["extension", "extra_meeting", "joint_minutes", "meeting", "milestone",
                                            "minutes", "projects", "report", "slip", "split", "topic"]
    one, two = Commands(), Commands()
    flow = one.flow(Flow("x", [Field("a", "x/a.txt")], save=lambda *a: None))
    two.flow(Flow("x", [Field("b", "x/b.txt")], save=lambda *a: None))
    router = Router()
    router.include(one)
    assert router.flows == {"x": flow}
    router.include(one)  # the same flow again is harmless
    with pytest.raises(ValueError):
        router.include(two)
