"""Decision cards on DingTalk (issue #15): the slip's card delivered as an interactive card
(card/instances/createAndDeliver), taps posted to /dingtalk/card in the card callback's shape (outTrackId,
userId, content.cardPrivateData), the card updated (PUT card/instances) to its result."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.channels.common import card_instance_id
from models import AssignmentSlip, Notice, Person
from tests import factories as f
from tests.dialog import at, talk
from tests.dingtalk_peer import DingTalkPeer
from tests.dingtalk_support import APP_SECRET, ROBOT_CODE, delivered, dt_config, fake, send  # noqa: F401
from tests.slip_draft import DRAFT
from tests.support import make_app

TEMPLATE = "decision-card-tpl.schema"
LEADER, OTHER, DRAFTER = "dt_chenjianfeng", "dt_guoyating", "dt_linyongyong"
TRACK = card_instance_id("dc-slip-1-1", LEADER)  # the outTrackId of JB1's card to the leader


def small_org_app(db_url, tmp_path, fake, **extra):  # noqa: F811
    """An app on DingTalk with small_org, each person's DingTalk id "dt_" + their WeCom id, on 2026-11-23
    10:02; `app.rt` its runtime."""
    app = make_app(db_url, tmp_path, **dt_config(fake, **extra))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        f.small_org(s)
        for p in s.scalars(select(Person)):
            p.dingtalk_userid = "dt_" + p.wecom_userid
    rt.clock.set(at(2026, 11, 23, 10, 2))
    app.rt = rt
    return app


@pytest.fixture
def bot(db_url, tmp_path, fake):  # noqa: F811
    app = small_org_app(db_url, tmp_path, fake, DINGTALK_CARD_TEMPLATE_ID=TEMPLATE)
    rt, app.client = app.rt, app.test_client()
    yield app
    rt.db.dispose()


@pytest.fixture
def card_peer(fake):  # noqa: F811
    return DingTalkPeer(APP_SECRET, ROBOT_CODE, fake=fake, path="/dingtalk/card")


class Direct:
    """Typed messages on DingTalk (Runtime.handle_text on the dingtalk channel)."""

    def __init__(self, rt, user):
        self.rt, self.user = rt, user

    def say(self, text):
        reply = self.rt.handle_text("dingtalk", self.user, text)
        assert reply is not None, f"no reply to {text!r}"
        return reply.text


def tap_body(task, user, action, corp="dingcorp"):
    """A card callback as DingTalk posts it to the registered HTTP route."""
    return {"outTrackId": task, "corpId": corp, "userId": user, "type": "actionCallback",
            "content": json.dumps({"cardPrivateData": {"actionIds": [action], "params": {"action": action}}})}


def answers(rt, user):
    """The texts queued to `user` one-to-one, in order."""
    with rt.db.session() as s:
        return [n.payload.get("content") for n in s.scalars(select(Notice).where(
            Notice.target == user, Notice.msgtype == "text", Notice.kind == "reply").order_by(Notice.id))]


def drafted(bot, fake):  # noqa: F811
    talk(Direct(bot.rt, DRAFTER), DRAFT)
    send(bot.rt)
    [card] = delivered(fake, "card")
    return card


def test_the_card_is_delivered_to_the_leaders_robot_chat(bot, fake):  # noqa: F811
    card = drafted(bot, fake)
    assert card["outTrackId"] == TRACK and card["user"] == LEADER and card["route"] == "ddb-decision"
    assert TRACK.startswith("dc-slip-1-1-")  # the task id and the recipient: several deciders, one instance each
    p = card["params"]
    assert p["title"] == "交办单 JB1 待您签发" and "**编号**：JB1" in p["content"] and p["status"] == "open"
    assert (p["btn1_text"], p["btn1_action"], p["btn2_text"], p["btn2_action"]) == (
        "同意签发", "sign", "退回修改", "return")


def test_a_tap_signs_once_and_updates_the_card(bot, fake, card_peer):  # noqa: F811
    drafted(bot, fake)
    body = tap_body(TRACK, LEADER, "sign")
    headers = card_peer.headers()
    assert card_peer.post(bot.client, body, headers).status_code == 200
    assert card_peer.post(bot.client, body, headers).status_code == 200  # DingTalk's retry: one decision
    assert "已签发交办单 JB1" in answers(bot.rt, LEADER)[-1] and len(answers(bot.rt, LEADER)) == 1
    send(bot.rt)
    assert fake.cards[TRACK]["params"]["status"] == "done"
    assert fake.cards[TRACK]["params"]["result"] == "已签发 · 11月23日 10:02"
    # a second tap (a new request): answered, nothing changes, no second update
    assert card_peer.post(bot.client, tap_body(TRACK, LEADER, "sign")).status_code == 200
    assert "由陈剑锋签发" in answers(bot.rt, LEADER)[-1]
    # a card delivered before outTrackIds were per person (the bare task id) is still understood
    assert card_peer.post(bot.client, tap_body("dc-slip-1-1", LEADER, "sign")).status_code == 200
    assert "由陈剑锋签发" in answers(bot.rt, LEADER)[-1]
    send(bot.rt)
    assert len(delivered(fake, "card_update")) == 1
    with bot.rt.db.session() as s:
        assert s.scalar(select(AssignmentSlip)).state == "issued"


def test_a_tap_by_someone_else_is_refused(bot, fake, card_peer):  # noqa: F811
    drafted(bot, fake)
    assert card_peer.post(bot.client, tap_body(TRACK, OTHER, "sign")).status_code == 200
    assert answers(bot.rt, OTHER) == ["交办单 JB1须由签发人本人审签，您的操作未生效。"]
    send(bot.rt)
    assert delivered(fake, "card_update") == []


def test_a_return_asks_the_reason_typed_in_the_robot_chat(bot, fake, card_peer):  # noqa: F811
    drafted(bot, fake)
    card_peer.post(bot.client, tap_body(TRACK, LEADER, "return"))
    assert "退回原因" in answers(bot.rt, LEADER)[-1]
    talk(Direct(bot.rt, LEADER), [("材料不全，请补充", ("已将交办单 JB1 退回林勇勇", "材料不全"))])
    send(bot.rt)
    assert fake.cards[TRACK]["params"]["result"].startswith("已退回")


@pytest.mark.parametrize("body, headers, status", [
    (tap_body(TRACK, LEADER, "sign"), {"timestamp": "1", "sign": "x"}, 403),  # not signed by DingTalk
    (tap_body(TRACK, LEADER, "sign", corp="dingother"), None, 200),  # no DINGTALK_CORP_ID: any corp
    (tap_body("not-ours", LEADER, "sign"), None, 400),
    (tap_body(TRACK, LEADER, "<script>"), None, 400),
    ({"outTrackId": TRACK, "userId": LEADER, "content": "{not json"}, None, 400),
])
def test_card_callbacks_that_are_refused(bot, fake, card_peer, body, headers, status):  # noqa: F811
    drafted(bot, fake)
    assert card_peer.post(bot.client, body, headers).status_code == status


def test_without_a_card_template_the_decision_goes_as_text(db_url, tmp_path, fake):  # noqa: F811
    rt = small_org_app(db_url, tmp_path, fake).rt
    talk(Direct(rt, DRAFTER), DRAFT)
    send(rt)
    assert delivered(fake, "card") == []
    [text] = [x for x in delivered(fake, "one_to_one") if x["users"] == [LEADER]]
    assert "同意 JB1" in text["param"]["content"]
    talk(Direct(rt, LEADER), [("同意", "确认"), ("确认", "已签发")])
    send(rt)  # the card update has nothing to update: done, no call
    with rt.db.session() as s:
        n = s.scalar(select(Notice).where(Notice.msgtype == "card_update"))
        assert n.state == "sent"
    rt.db.dispose()


def test_a_request_card_tapped_on_dingtalk_asks_the_deadline_and_greys_every_members_card(
        sqlite_url, tmp_path, fake, card_peer):  # noqa: F811
    """提请督办 (kind esc): a card to each supervision member; 立项督办 tapped, the deadline typed in the robot chat."""
    from datetime import date

    from models import ROLE_SUPERVISION, Escalation, Matter, Unit

    app = small_org_app(sqlite_url, tmp_path, fake, DINGTALK_CARD_TEMPLATE_ID=TEMPLATE)
    rt, client = app.rt, app.test_client()
    try:
        with rt.db.session() as s:
            office = s.scalar(select(Unit).where(Unit.name == "区政府办（效能办）"))
            f.person(s, "杨友梅", "yangyoumei", office, roles=[ROLE_SUPERVISION]).dingtalk_userid = "dt_yangyoumei"
            fagai, leader = s.scalar(select(Unit).where(Unit.name == "区发改局")), s.scalar(
                select(Person).where(Person.name == "陈剑锋"))
            f.matter(s, "M1", fagai, leader, date(2026, 12, 20), title="石化园区道路征迁")
        talk(Direct(rt, "dt_ua"), [("提请督办 M1 涉及多部门难以协调", "已将事项M1提请督导考核组分解督办")])
        send(rt)
        cards = {c["user"]: c for c in delivered(fake, "card")}
        assert sorted(cards) == ["dt_wujinming", "dt_yangyoumei"]
        p = cards["dt_wujinming"]["params"]
        assert p["title"] == "M1 提请督办，请审定" and (p["btn1_text"], p["btn1_action"]) == ("立项督办", "accept")
        track = cards["dt_wujinming"]["outTrackId"]
        assert card_peer.post(client, tap_body(track, "dt_wujinming", "accept")).status_code == 200
        assert "请回复督办时限" in answers(rt, "dt_wujinming")[-1]
        talk(Direct(rt, "dt_wujinming"), [("12月30日", "已对事项M1立项督办，督办时限2026年12月30日")])
        send(rt)
        assert {c["outTrackId"]: fake.cards[c["outTrackId"]]["params"]["result"] for c in cards.values()} == {
            c["outTrackId"]: "已立项督办 · 11月23日 10:02" for c in cards.values()}
        assert card_peer.post(client, tap_body(track, "dt_yangyoumei", "return")).status_code == 200
        assert "由吴金明立项督办" in answers(rt, "dt_yangyoumei")[-1]
        with rt.db.session() as s:
            esc = s.scalar(select(Escalation).join(Matter).where(Matter.code == "M1"))
            assert (esc.state, esc.supervision_deadline) == ("accepted", date(2026, 12, 30))
    finally:
        rt.db.dispose()
