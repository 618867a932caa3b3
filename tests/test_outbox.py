"""Outbox enqueueing: once per key, group messages on their group's own channel, @-mentions."""
from sqlalchemy import func, select

from bot.delivery import outbox
from models import ChatGroup, Notice, Person


def test_a_key_is_used_once(runtime):
    with runtime.db.session() as s:
        first = outbox.enqueue(s, target_kind="group", target="supervision", msgtype="text",
                               payload={"content": "一"}, key="k:1")
        again = outbox.enqueue(s, target_kind="group", target="supervision", msgtype="text",
                               payload={"content": "二"}, key="k:1")
        assert first is not None and again is None
    with runtime.db.session() as s:
        assert s.scalar(select(func.count(Notice.id))) == 1
        assert s.scalar(select(Notice.payload)) == {"content": "一"}


def test_group_message_mentions_make_a_text_message(runtime):
    """A group message names the people it @-mentions by person id; each transport turns them into its
    platform's fields (WeCom: mobiles and userids; DingTalk: mobiles and its own user ids)."""
    from bot.channels.dingtalk.transport import DingTalkTransport
    from bot.channels.wecom.transport import WeComTransport

    assert outbox.group_message("# 标题", "wecom") == ("markdown", {"content": "# 标题"})
    with runtime.db.session() as s:
        s.add(ChatGroup(code="office", name="专班办公室群", robot_key="k"))
        p = Person(name="张三", wecom_userid="zhangsan", dingtalk_userid="dt1", mobile="13800000000")
        nobody = Person(name="无号")
        s.add_all([p, nobody])
        s.flush()
        msgtype, payload = outbox.group_message("请报送", "wecom", [p, nobody])
        assert msgtype == "text"
        assert payload == {"content": "请报送", "mention": [p.id]}
        queued = outbox.enqueue(s, target_kind="group", target="office", msgtype=msgtype, payload=payload)
        job = WeComTransport(runtime).prepare(s, s.get(Notice, queued.id))
        assert {"mentioned_mobile_list": job.mobiles, "mentioned_list": job.user_ids} == {
            "mentioned_mobile_list": ["13800000000"], "mentioned_list": ["zhangsan"]}
        assert DingTalkTransport(runtime).prepare(s, s.get(Notice, queued.id)).user_ids == ["dt1"]


def test_group_notices_use_the_groups_own_channel(seeded):
    with seeded.db.session() as s:
        assert seeded.channel_for_group(s, "supervision") == "wecom"
        assert seeded.channel_for_group(s, "no-such-group") == seeded.group_channel
        s.scalar(select(ChatGroup).where(ChatGroup.code == "liaisons")).channel = "dingtalk"
        s.flush()
        assert seeded.channel_for_group(s, "liaisons") == "dingtalk"
    reply = seeded.handle_text("wecom", "yangyoumei", "通报 发布")  # a supervision member publishes a circular
    assert reply is not None
    with seeded.db.session() as s:
        channels = set(s.scalars(select(Notice.channel).where(Notice.target == "liaisons")))
    assert channels == {"dingtalk"}


def test_job_notices_to_a_dingtalk_group(seeded):
    """Scheduled notices take the group's channel too, with @-lists for that channel."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from bot.jobs import config_of, run_job
    from models import Unit
    from tests import factories as f

    with seeded.db.session() as s:
        s.scalar(select(ChatGroup).where(ChatGroup.code == "liaisons")).channel = "dingtalk"
        unit = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        unit.liaison.dingtalk_userid = "dt_fagai"
        unit.liaison.placeholder = False  # named by the office (a placeholder is never @-ed or written to)
        f.matter(s, "M1", unit, None, date(2026, 12, 31))  # the unit owes a report for 12-05
    run_job(seeded, config_of(seeded).jobs["report_reminder"],
            datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    with seeded.db.session() as s:
        rows = list(s.execute(select(Notice.channel, Notice.target_kind).where(Notice.target == "liaisons")))
    assert rows and set(rows) == {("dingtalk", "group")}
    with seeded.db.session() as s:
        payload = s.scalar(select(Notice.payload).where(Notice.target == "liaisons"))
        mentioned = s.scalars(select(Person).where(Person.id.in_(payload["mention"])))
        payload["mentioned_list"] = [p.dingtalk_userid for p in mentioned if p.dingtalk_userid]
    assert payload["mentioned_list"] == ["dt_fagai"]
