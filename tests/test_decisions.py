"""Decisions by card and typed decisions that confirm (issue #15): a slip's 同意/退回 as a WeCom template
card (button_interaction) tapped through the real signed callback, the card updated through the fake
WeCom's update_template_card; taps twice, by the wrong person, with a reason; typed 同意 with 确认."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.actions import decisions as D
from bot.channels.common import card_instance_id, card_task_of
from bot.delivery.sender import Sender
from models import AssignmentSlip, AuditLog, Matter, Notice, Person
from tests import factories as f
from tests.cards import card_app, fake_wecom, tap, wecom_peer
from tests.dialog import Callback, Direct, at, talk
from tests.slip_draft import DRAFT
from tests.support import post

LEADER, OTHER, DRAFTER = "chenjianfeng", "guoyating", "linyongyong"


@pytest.fixture
def fake():
    with fake_wecom() as fk:
        yield fk


@pytest.fixture
def peer():
    return wecom_peer()


@pytest.fixture
def bot(db_url, tmp_path, fake, monkeypatch):
    with card_app(db_url, tmp_path, fake, monkeypatch, f.small_org, at(2026, 11, 23, 10, 2)) as app:
        yield app


def card_sent(bot, peer, fake, user, script) -> dict:
    """`user` plays `script` and the sender runs once: the one template card sent to WeCom (its record)."""
    talk(Callback(bot, peer, user), script)
    Sender(bot.rt).run_once()
    [sent] = [x for x in fake.sent if x["kind"] == "app" and x["msgtype"] == "template_card"]
    return sent


def drafted(bot, peer, fake):
    """JB1 drafted and submitted, its card delivered to the leader; the card as WeCom received it."""
    sent = card_sent(bot, peer, fake, DRAFTER, DRAFT)
    assert sent["touser"] == [LEADER]
    return sent["payload"]["template_card"]


def slip_state(rt):
    with rt.db.session() as s:
        slip = s.scalar(select(AssignmentSlip))
        return slip.state, slip.return_reason, len(list(s.scalars(select(Matter))))


def test_the_card_shows_what_is_asked_the_key_fields_and_the_buttons(bot, peer, fake):
    card = drafted(bot, peer, fake)
    assert card["card_type"] == "button_interaction" and card["task_id"] == card_instance_id("dc-slip-1-1", LEADER)
    assert card["main_title"]["title"] == "交办单 JB1 待您签发"
    fields = {x["keyname"]: x["value"] for x in card["horizontal_content_list"]}
    assert fields["编号"] == "JB1" and fields["起草人"] == "林勇勇" and fields["事项"] == "共 2 项"
    assert fields["事项1"] == "石化科创小镇一期征迁扫尾"
    assert [(b["text"], b["style"], b["key"]) for b in card["button_list"]] == [
        ("同意签发", 1, "dc:slip:1:sign"), ("退回修改", 2, "dc:slip:1:return")]
    with bot.rt.db.session() as s:  # the text stays in the notice for channels without cards
        n = s.scalar(select(Notice).where(Notice.key == "slip-sign:1:1"))
        assert n.msgtype == "card" and "同意 JB1" in n.payload["content"]


def test_a_tap_signs_once_and_the_card_shows_the_result(bot, peer, fake):
    card = drafted(bot, peer, fake)
    first = tap(bot, peer, fake, LEADER, card, "sign")
    assert "已签发交办单 JB1" in first and "J1" in first
    assert slip_state(bot.rt) == ("issued", None, 2)
    Sender(bot.rt).run_once()
    [update] = fake.card_updates
    assert card_task_of(update["task_id"]) == "dc-slip-1-1" and update["userids"] == [LEADER]
    assert update["payload"]["button"] == {"replace_name": "已签发 · 11月23日 10:02"}
    # tapped again (a second tap before the card greyed out): answered, nothing changes, no second update
    again = tap(bot, peer, fake, LEADER, card, "sign")
    assert again == "交办单 JB1已于2026年11月23日 10:02由陈剑锋签发，无需再次处理。"
    assert "退回" not in tap(bot, peer, fake, LEADER, card, "return")[:12]
    Sender(bot.rt).run_once()
    assert slip_state(bot.rt) == ("issued", None, 2) and len(fake.card_updates) == 1
    with bot.rt.db.session() as s:
        assert [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "assignment_slip"))] == [
            "create", "sign"]


def test_the_same_callback_twice_is_one_decision(bot, peer, fake):
    card = drafted(bot, peer, fake)
    code = fake.issue_code(card["task_id"], [LEADER])
    callback = peer.event(LEADER, "template_card_event", "dc:slip:1:sign", extra={
        "TaskId": card["task_id"], "CardType": "button_interaction", "ResponseCode": code})
    assert "已签发" in peer.reply(post(bot.client, callback).data)["Content"]
    retry = post(bot.client, callback)  # WeCom's retry of the same tap
    assert retry.status_code == 200 and retry.data == b""
    assert slip_state(bot.rt) == ("issued", None, 2)


def test_a_tap_by_someone_else_is_refused_and_the_card_left_alone(bot, peer, fake):
    card = drafted(bot, peer, fake)
    for user in (OTHER, DRAFTER):
        out = tap(bot, peer, fake, user, card, "sign")
        assert out == "交办单 JB1须由签发人本人审签，您的操作未生效。"
    Sender(bot.rt).run_once()
    assert slip_state(bot.rt) == ("pending_signature", None, 0) and fake.card_updates == []


def test_a_return_by_card_asks_the_reason_and_completes_when_it_is_typed(bot, peer, fake):
    card = drafted(bot, peer, fake)
    leader = Callback(bot, peer, LEADER)
    assert "请直接回复交办单 JB1的退回原因" in tap(bot, peer, fake, LEADER, card, "return")
    assert slip_state(bot.rt) == ("pending_signature", None, 0)
    talk(leader, [("……", "退回原因"),  # no reason in it: asked again
                  ("措施不够具体，请补充时间节点", ("已将交办单 JB1 退回林勇勇", "措施不够具体"))])
    assert slip_state(bot.rt) == ("returned", "措施不够具体，请补充时间节点", 0)
    Sender(bot.rt).run_once()
    [update] = fake.card_updates
    assert update["payload"]["button"]["replace_name"] == "已退回 · 11月23日 10:02"
    talk(leader, [("待签", "目前没有待您签发")])  # the next message is a command again


def test_a_return_by_card_can_be_cancelled(bot, peer, fake):
    card = drafted(bot, peer, fake)
    tap(bot, peer, fake, LEADER, card, "return")
    talk(Callback(bot, peer, LEADER), [("取消", "未作处理"), ("待签", "【交办单 JB1】")])
    assert slip_state(bot.rt) == ("pending_signature", None, 0)


def test_a_typed_decision_updates_the_card_with_the_sends_response_code(bot, peer, fake):
    card = drafted(bot, peer, fake)
    talk(Callback(bot, peer, LEADER), [("同意 JB1", ("以下 1 份将同意签发", "【交办单 JB1】", "确认")),
                                       ("确认", "已签发交办单 JB1")])
    Sender(bot.rt).run_once()
    [update] = fake.card_updates
    assert update["task_id"] == card["task_id"] and update["payload"]["button"]["replace_name"].startswith("已签发")
    # a late tap on the (now grey) card is still answered
    assert "已于2026年11月23日 10:02由陈剑锋签发" in tap(bot, peer, fake, LEADER, card, "sign")


def test_an_update_that_fails_does_not_undo_the_decision_and_is_retried(bot, peer, fake):
    card = drafted(bot, peer, fake)
    tap(bot, peer, fake, LEADER, card, "sign")
    fake.fail_next(1, errcode=-1, path="/cgi-bin/message/update_template_card")  # WeCom busy
    Sender(bot.rt).run_once()
    assert fake.card_updates == [] and slip_state(bot.rt)[0] == "issued"
    with bot.rt.db.session() as s:
        n = s.scalar(select(Notice).where(Notice.msgtype == D.CARD_UPDATE))
        assert n.state == "pending" and n.attempts == 1
        n.next_attempt_at = n.created_at  # due now
    Sender(bot.rt).run_once()
    assert len(fake.card_updates) == 1


# -- typed decisions: a table of dialogs through the real signed callback ----------------------------

def draft(n: int) -> list:
    """The drafting dialog of the n-th slip (JBn)."""
    return DRAFT[:-1] + [("确认", f"交办单 JB{n} 已提交")]


TYPED = {
    "bare 同意, one pending: shows it, 确认 signs": [
        ("同意", ("以下 1 份将同意签发", "【交办单 JB1】", "1. 石化科创小镇一期征迁扫尾", "确认", "!已签发")),
        ("确认", ("已签发交办单 JB1", "J1", "J2")),
    ],
    "bare 同意, 取消: nothing signed": [
        ("同意", "确认"), ("取消", "未作处理"), ("待签", "【交办单 JB1】"),
    ],
    "another message lapses the confirmation": [
        ("同意", "确认"), ("待签", "【交办单 JB1】"), ("确认", "!已签发"),
    ],
    "同意 JB1 JB9: says which can't be signed": [
        ("同意 JB1 JB9", ("没有找到交办单“JB9”", "以下 1 份将同意签发", "【交办单 JB1】")),
        ("确认", "已签发交办单 JB1"),
    ],
    "同意 JB9 alone: nothing to confirm": [
        ("同意 JB9", ("没有找到交办单“JB9”", "!确认")), ("确认", "!已签发"),
    ],
    "signed, then 同意 JB1 again": [
        ("同意 JB1", "确认"), ("确认", "已签发"), ("同意 JB1", ("不在待签发状态", "已签发", "!请核对")),
    ],
    "typed 退回 with a reason still works": [
        ("退回 JB1 请补充时间节点", ("已将交办单 JB1 退回林勇勇", "请补充时间节点")),
    ],
}


@pytest.mark.parametrize("name", list(TYPED))
def test_typed_decisions_confirm(bot, peer, fake, name):
    talk(Callback(bot, peer, DRAFTER), DRAFT)
    talk(Callback(bot, peer, LEADER), TYPED[name])


def test_several_pending_asks_which_by_number_and_signs_both_when_both_are_named(bot, peer, fake):
    talk(Callback(bot, peer, DRAFTER), DRAFT)
    talk(Direct(bot.rt, DRAFTER), draft(2))
    leader = Callback(bot, peer, LEADER)
    talk(leader, [
        ("同意", ("您有 2 份文件待签发", "1. 交办单 JB1", "2. 交办单 JB2", "序号")),
        ("3", "没有序号“3”"),
        ("2", ("以下 1 份将同意签发", "【交办单 JB2】", "!【交办单 JB1】")),
        ("确认", ("已签发交办单 JB2", "!JB1，")),
        ("同意", ("以下 1 份", "【交办单 JB1】")),  # one left: shown, not asked which
        ("取消", "未作处理"),
    ])
    talk(Direct(bot.rt, DRAFTER), draft(3))
    talk(leader, [("同意 JB1 JB3", ("以下 2 份将同意签发", "【交办单 JB1】", "【交办单 JB3】")),
                  ("确认", ("已签发交办单 JB1", "已签发交办单 JB3"))])
    with bot.rt.db.session() as s:
        assert [x.state for x in s.scalars(select(AssignmentSlip).order_by(AssignmentSlip.id))] == ["issued"] * 3


@given(kind=st.from_regex(r"[a-z]{1,12}", fullmatch=True), rid=st.integers(1, 10**12 - 1),
       button=st.from_regex(r"[a-z_]{1,16}", fullmatch=True), rev=st.integers(1, 999_999))
def test_keys_and_task_ids_round_trip(kind, rid, button, rev):
    assert D.parse_key(D.button_key(kind, rid, button)) == (kind, rid, button)
    assert D.parse_task(D.task_id(kind, rid, rev)) == (kind, rid, rev)
    assert re.fullmatch(r"[A-Za-z0-9_\-@]{1,128}", D.task_id(kind, rid, rev))  # WeCom's task_id alphabet


@given(st.text(max_size=80))
def test_any_event_key_parses_or_is_ignored(text):
    parsed = D.parse_key(text)
    assert parsed is None or D.button_key(*parsed) == text
    for bad in ("", "dc:slip:x:sign", "dc:slip:1:", "confirm_done", "dc:Slip:1:sign", "dc:slip:1:sign:extra",
                "dc:slip:1:sign\n"):
        assert D.parse_key(bad) is None


# -- the same registry for another decision: an extension request (批准 / 不批准 with a reason) -----------

def fagai_m1(bot):
    """M1 of 区发改局 under 陈剑锋, due 2026-12-20: the item of the extension and completion cards."""
    from datetime import date

    from models import Person, Unit

    with bot.rt.db.session() as s:
        fagai = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        leader = s.scalar(select(Person).where(Person.name == "陈剑锋"))
        f.matter(s, "M1", fagai, leader, date(2026, 12, 20), title="石化园区道路征迁")


@pytest.fixture
def ext_card(bot, peer, fake):
    fagai_m1(bot)
    sent = card_sent(bot, peer, fake, "ua", [("延期申请 M1 2027-01-15 征迁协议未签订", "申请号 1")])
    assert sent["touser"] == ["zengyongshun"]  # the office supervisor of the item's row
    return sent["payload"]["template_card"]


def test_an_extension_card_refused_with_a_reason(bot, peer, fake, ext_card):
    assert card_task_of(ext_card["task_id"]) == "dc-ext-1-1"
    assert ext_card["main_title"]["title"] == "延期申请 1 待您审批"
    fields = {x["keyname"]: x["value"] for x in ext_card["horizontal_content_list"]}
    assert fields["原时限"] == "2026年12月20日" and fields["申请时限"] == "2027年1月15日"
    assert "须由" in tap(bot, peer, fake, "xiaojiansong", ext_card, "approve")  # the other row's supervisor
    assert "不批准原因" in tap(bot, peer, fake, "zengyongshun", ext_card, "refuse")
    talk(Callback(bot, peer, "zengyongshun"), [("请按原时限完成", "仍为2026年12月20日")])
    Sender(bot.rt).run_once()
    [update] = fake.card_updates
    assert update["payload"]["button"]["replace_name"] == "未批准 · 11月23日 10:02"
    assert "由曾永顺不批准" in tap(bot, peer, fake, "zengyongshun", ext_card, "approve")


def test_a_typed_approval_confirms_and_updates_the_card(bot, peer, fake, ext_card):
    talk(Callback(bot, peer, "zengyongshun"), [
        ("批准 1 抓紧推进", ("【延期申请 1】M1", "2026年12月20日 → 2027年1月15日", "确认")),
        ("确认", ("已批准延期申请 1", "2027年1月15日")),
        ("批准 1", "已处理过"),
    ])
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已批准 · 11月23日 10:02"]


def test_a_completion_claim_card_closed_by_the_office_liaison(bot, peer, fake):
    fagai_m1(bot)
    sent = card_sent(bot, peer, fake, "ua", [("申请销号 M1 已完成路面施工", "M1")])
    card = sent["payload"]["template_card"]
    assert sent["touser"] == [DRAFTER] and card["main_title"]["title"] == "M1 申请销号，请确认"  # the row's liaison
    assert "须由" in tap(bot, peer, fake, "subingjiao", card, "close")  # the other row's liaison
    assert "已销号" in tap(bot, peer, fake, DRAFTER, card, "close")
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已销号 · 11月23日 10:02"]
    assert "由林勇勇销号" in tap(bot, peer, fake, DRAFTER, card, "redo")
    with bot.rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "closed"


def test_the_simulator_shows_a_card_with_its_tap_keys():
    from bot.channels.wecom.api import template_card_body
    from bot.tools.simulator import card_text

    card = {"task_id": "dc-slip-1-1", "title": "交办单 JB1 待您签发", "desc": "", "fields": [["编号", "JB1"]],
            "buttons": [{"key": "dc:slip:1:sign", "text": "同意签发", "primary": True}]}
    body = template_card_body(card, "chenjianfeng")
    assert card_text(body) == "交办单 JB1 待您签发\n编号：JB1\n[同意签发] /tap dc:slip:1:sign"
    assert card_text({"content": "x"}) == ""


def test_a_typed_close_shows_the_claim_and_confirms_and_the_card_follows(bot, peer, fake):
    from datetime import date

    from models import Person, Unit

    with bot.rt.db.session() as s:
        fagai = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        leader = s.scalar(select(Person).where(Person.name == "陈剑锋"))
        f.matter(s, "M1", fagai, leader, date(2026, 12, 20), title="石化园区道路征迁")
    talk(Callback(bot, peer, "ua"), [("申请销号 M1 已完成路面施工", "M1")])
    Sender(bot.rt).run_once()
    talk(Callback(bot, peer, DRAFTER), [
        ("销号 M1", ("以下 1 份将确认销号", "【M1 申请销号】石化园区道路征迁", "区发改局", "确认", "!已销号")),
        ("取消", "未作处理"),
    ])
    with bot.rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "completion_claimed"
    talk(Callback(bot, peer, DRAFTER), [("销号 M1 材料齐全", "确认"), ("确认", "已销号")])
    Sender(bot.rt).run_once()
    assert [u["payload"]["button"]["replace_name"] for u in fake.card_updates] == ["已销号 · 11月23日 10:02"]
    with bot.rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "closed"
        assert s.scalar(select(AuditLog.reason).where(AuditLog.action == "closed")) == "材料齐全"


def test_each_decider_gets_a_card_of_its_own_task_id_and_a_resend_is_not_a_second_card(bot, peer, fake):
    """WeCom refuses a template card whose task_id the app used before (42014): every recipient's card has
    its own (card_instance_id), and a resend of the very same card after an unknown outcome finds it
    delivered rather than failing."""
    from bot.channels.wecom.transport import WeComTransport
    from bot.delivery import outbox

    drafted(bot, peer, fake)  # JB1's card to the leader went out
    with bot.rt.db.session() as s:
        card = D.card(_acting(bot, s), "slip", s.scalar(select(AssignmentSlip)))
        leader = s.scalar(select(Person).where(Person.wecom_userid == LEADER))
        other = s.scalar(select(Person).where(Person.wecom_userid == OTHER))
        transport = WeComTransport(bot.rt)
        for person in (other, leader):  # the same task to another decider; and the leader's card once more
            n = outbox.message_to_person(s, person, D.CARD, {"content": "x", "card": card}, key=f"again:{person.id}")
            for part in transport.parts(transport.prepare(s, s.get(Notice, n.id))):
                part()  # raises on any refusal
    cards = [x for x in fake.sent if x["msgtype"] == "template_card"]
    assert [x["touser"] for x in cards] == [[LEADER], [OTHER]]
    assert len({x["payload"]["template_card"]["task_id"] for x in cards}) == 2
    assert {card_task_of(x["payload"]["template_card"]["task_id"]) for x in cards} == {"dc-slip-1-1"}


def _acting(bot, s):
    from bot.actions.base import Acting

    return Acting(s, "system:test", bot.rt.now(), bot.rt)
