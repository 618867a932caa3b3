"""Seed 001's decisions as cards (issue #15): the project leader's review of a weekly form (同意 / 退回) and a
convener's approval of a topic (通过 / 退回), each a WeCom template card sent when it is asked for, tapped
through the real signed callback (twice, by the wrong person, 退回 asking its reason), and the typed 同意
showing the record and asking 确认."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.channels.common import card_task_of
from bot.delivery.sender import Sender
from models import AuditLog, MeetingTopic, Notice, WeeklyProjectReport
from tests.cards import card_app, cards_to, fake_wecom, tap, wecom_peer
from tests.dialog import Callback, at, talk
from tests.projects_data import CONVENER, EDU_LIAISON, LEADER, OFFICE, WEEKLY, fill_in
from tests.support import SEED_FILE

TOPIC = [
    ("提交议题", "请选择项目"),
    ("1", "需提交联合会议研究协调的事项"),
    ("锦川实验小学追加概算审批", "办理意见"),
    ("建议由区财政局牵头于月底前完成追加概算评审", "责任单位"),
    ("区财政局、区发改局", "办理时限"),
    ("12月20日", "事前征求"),
    ("已征求区财政局、区发改局意见，均无异议", "请核对"),
    ("确认", ("YT1", "联合会议办公室审核")),
]


@pytest.fixture
def fake():
    with fake_wecom() as fk:
        yield fk


@pytest.fixture
def peer():
    return wecom_peer()


def projects_org(s):
    from bot.actions.seed import load_seed

    load_seed(s, SEED_FILE)
    fill_in(s)


@pytest.fixture
def bot(db_url, tmp_path, fake, monkeypatch):
    with card_app(db_url, tmp_path, fake, monkeypatch, projects_org, at(2026, 12, 7, 9, 30)) as app:
        yield app


def weekly_state(rt):
    with rt.db.session() as s:
        rep = s.scalar(select(WeeklyProjectReport))
        return rep.state, rep.return_reason


def topic_state(rt):
    with rt.db.session() as s:
        topic = s.get(MeetingTopic, 1)
        return topic.state, topic.return_reason


# -- the weekly form ---------------------------------------------------------------------------------

@pytest.fixture
def weekly_card(bot, peer, fake):
    talk(Callback(bot, peer, EDU_LIAISON), WEEKLY)
    Sender(bot.rt).run_once()
    [card] = cards_to(fake, LEADER)
    with bot.rt.db.session() as s:  # the card is the review notice; its text stays for channels without cards
        n = s.scalar(select(Notice).where(Notice.key == "kp-weekly-review:1:1"))
        assert n.msgtype == "card" and "同意 ZH1" in n.payload["content"]
    return card


def test_the_weekly_card_is_sent_to_the_project_leader(weekly_card):
    card = weekly_card
    assert card_task_of(card["task_id"]) == "dc-weekly-1-1" and card["main_title"]["title"] == "问题清单 ZH1 待您审阅"
    fields = {x["keyname"]: x["value"] for x in card["horizontal_content_list"]}
    assert fields["填报单位"] == "区教育局" and fields["存在问题"] == "共 2 项"
    assert fields["攻坚目标"] == "达成 1 / 3 项"
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("同意报送", "dc:weekly:1:approve"),
                                                                   ("退回修改", "dc:weekly:1:return")]


def test_a_weekly_tap_reviews_once_and_the_card_shows_it(bot, peer, fake, weekly_card):
    assert "已同意" in tap(bot, peer, fake, LEADER, weekly_card, "approve")
    assert weekly_state(bot.rt) == ("reviewed", None)
    again = tap(bot, peer, fake, LEADER, weekly_card, "approve")
    assert "问题清单 ZH1已于2026年12月7日 09:30由郭雅婷同意" in again
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已同意 · 12月7日 09:30"]
    with bot.rt.db.session() as s:
        assert [a.action for a in s.scalars(select(AuditLog).where(
            AuditLog.entity == "weekly_project_report").order_by(AuditLog.id))] == ["submit", "review"]
        assert s.scalar(select(Notice).where(Notice.key == "kp-weekly-office:1")) is not None  # as typed 同意 does


def test_a_weekly_tap_by_someone_else_is_refused(bot, peer, fake, weekly_card):
    for user in (CONVENER, EDU_LIAISON):
        assert "须由" in tap(bot, peer, fake, user, weekly_card, "approve")
    Sender(bot.rt).run_once()
    assert weekly_state(bot.rt) == ("submitted", None) and fake.card_updates == []


def test_a_weekly_return_by_card_asks_the_reason(bot, peer, fake, weekly_card):
    assert "退回原因" in tap(bot, peer, fake, LEADER, weekly_card, "return")
    assert weekly_state(bot.rt) == ("submitted", None)
    talk(Callback(bot, peer, LEADER), [("工程施工方面情况未填写清楚", "已退回")])
    assert weekly_state(bot.rt) == ("returned", "工程施工方面情况未填写清楚")
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已退回 · 12月7日 09:30"]
    # resubmitted: a new card (revision 2)
    talk(Callback(bot, peer, EDU_LIAISON), [("周报", "已被退回"), ("确认", "ZH1")])
    Sender(bot.rt).run_once()
    assert [card_task_of(c["task_id"]) for c in cards_to(fake, LEADER)] == ["dc-weekly-1-1", "dc-weekly-1-2"]


def test_a_typed_weekly_review_shows_the_form_and_confirms(bot, peer, fake, weekly_card):
    talk(Callback(bot, peer, LEADER), [
        ("同意 ZH1", ("以下 1 份将同意报送", "【问题清单 ZH1】", "追加概算尚未批复", "确认", "!已同意")),
        ("取消", "未作处理"),
        ("同意 ZH1", "确认"), ("确认", ("已同意", "联合会议办公室")),
    ])
    assert weekly_state(bot.rt)[0] == "reviewed"
    Sender(bot.rt).run_once()
    [update] = fake.card_updates
    assert card_task_of(update["task_id"]) == "dc-weekly-1-1"
    assert update["payload"]["button"]["replace_name"].startswith("已同意")


def test_a_typed_weekly_return_updates_the_card(bot, peer, fake, weekly_card):
    talk(Callback(bot, peer, LEADER), [("退回 ZH1", "须说明原因"), ("退回 ZH1 请补充群众工作情况", "已退回")])
    assert weekly_state(bot.rt) == ("returned", "请补充群众工作情况")
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已退回 · 12月7日 09:30"]


# -- the topic ---------------------------------------------------------------------------------------

@pytest.fixture
def topic_cards(bot, peer, fake):
    talk(Callback(bot, peer, EDU_LIAISON), TOPIC)
    Sender(bot.rt).run_once()
    assert cards_to(fake, CONVENER) == []  # the office reviews first
    talk(Callback(bot, peer, OFFICE), [("通过 YT1", "审核通过")])
    Sender(bot.rt).run_once()
    cards = [x for x in fake.sent if x["kind"] == "app" and x["msgtype"] == "template_card"]
    assert len(cards) == 5  # 总召集人 and four 召集人, one card each
    [card] = cards_to(fake, CONVENER)
    return card


def test_the_topic_card_goes_to_the_conveners(topic_cards):
    card = topic_cards
    assert card_task_of(card["task_id"]) == "dc-topic-1-1" and card["main_title"]["title"] == "议题 YT1 待您审定"
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("通过列入议题", "dc:topic:1:approve"),
                                                                   ("退回", "dc:topic:1:return")]


def test_a_topic_tap_approves_once_and_every_conveners_card_shows_it(bot, peer, fake, topic_cards):
    assert "已同意议题 YT1" in tap(bot, peer, fake, CONVENER, topic_cards, "approve")
    assert topic_state(bot.rt) == ("approved", None)
    assert "由张井丽同意" in tap(bot, peer, fake, CONVENER, topic_cards, "approve")
    Sender(bot.rt).run_once()
    updates = fake.card_updates
    assert len(updates) == 5 and {u["payload"]["button"]["replace_name"] for u in updates} == {"已通过 · 12月7日 09:30"}
    with bot.rt.db.session() as s:
        assert s.get(MeetingTopic, 1).meeting_id is not None  # on the next meeting's agenda, as typed 同意 does


def test_a_topic_tap_by_someone_else_is_refused(bot, peer, fake, topic_cards):
    for user in (LEADER, EDU_LIAISON):
        assert "须由" in tap(bot, peer, fake, user, topic_cards, "approve")
    Sender(bot.rt).run_once()
    assert topic_state(bot.rt) == ("office_reviewed", None) and fake.card_updates == []


def test_a_topic_return_by_card_asks_the_reason(bot, peer, fake, topic_cards):
    assert "退回原因" in tap(bot, peer, fake, CONVENER, topic_cards, "return")
    talk(Callback(bot, peer, CONVENER), [("请先征求区自然资源局意见", "退回")])
    assert topic_state(bot.rt) == ("returned", "请先征求区自然资源局意见")
    Sender(bot.rt).run_once()
    assert {u["payload"]["button"]["replace_name"] for u in fake.card_updates} == {"已退回 · 12月7日 09:30"}


def test_a_typed_topic_approval_shows_the_topic_and_confirms(bot, peer, fake, topic_cards):
    talk(Callback(bot, peer, CONVENER), [
        ("同意 YT1", ("以下 1 份将通过列入议题", "【议题 YT1】", "区财政局、区发改局", "确认")),
        ("确认", ("已同意议题 YT1", "HY1")),
        ("同意 YT1", "已不在可办理的状态"),
    ])
    Sender(bot.rt).run_once()
    assert len(fake.card_updates) == 5
