"""提请督办 as a decision card (issue #15): each supervision group member gets the card of a raised request in
their own chat; 立项督办 asks for the supervision deadline (an unusable date is asked again), 退回督办 for the
reason; one decision greys every member's card, by tap or by the typed command; someone outside the group is
refused. Through the real signed WeCom callback and the fake WeCom; SQLite only (nothing here differs by
database: the decision path is tests/test_decisions.py's, run on both)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.delivery.sender import Sender
from bot.tools.fakes.wecom_server import FakeWeCom
from models import ROLE_SUPERVISION, AuditLog, Escalation, Matter, Notice, Person
from tests import factories as f
from tests.dialog import Callback, at, talk
from tests.support import AES, AGENT, CORP, TOKEN, make_app, notice_rows, wecom_config
from tests.test_decisions import tap
from tests.wecom_peer import WeComPeer

SECRET = "decisions-escalation-secret"
MEMBERS = ["wujinming", "yangyoumei"]  # 吴金明 (small_org's) and 杨友梅, the supervision group
ADMIN, UNIT_LIAISON, OFFICE_LIAISON = "liuzhaoxuan", "ua", "linyongyong"
REASON = "涉及住建、自然资源多部门，难以协调"


@pytest.fixture
def fake():
    with FakeWeCom(CORP, SECRET, agent_id=int(AGENT)) as fk:
        yield fk


@pytest.fixture
def peer():
    return WeComPeer(TOKEN, AES, CORP, AGENT)


def org_with_item(s, *, confidential: bool = False):
    """small_org, a second supervision member and M1 of 区发改局 (row 1: office liaison 林勇勇), due 12-20."""
    o = f.small_org(s)
    o.member2 = f.person(s, "杨友梅", "yangyoumei", o.office_unit, roles=[ROLE_SUPERVISION])
    o.m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20), title="石化园区道路征迁")
    o.m1.minutes.confidential = confidential
    return o


@pytest.fixture
def bot(sqlite_url, tmp_path, fake, monkeypatch):
    from bot.channels.wecom import callback

    monkeypatch.setattr(callback, "ANSWER_WITHIN", 60.0)  # about the answer, not its timing (see test_decisions)
    app = make_app(sqlite_url, tmp_path, **wecom_config(WECOM_SECRET=SECRET, WECOM_API_BASE=fake.base_url,
                                                        PASSIVE_REPLY_SECONDS=60.0))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        org_with_item(s)
    rt.clock.set(at(2026, 11, 23, 10, 2))
    app.rt, app.client = rt, app.test_client()
    yield app
    rt.db.dispose()


@pytest.fixture
def cards(bot, peer, fake) -> dict:
    """M1 raised by its unit's liaison and the notices sent: the card each member received, by user."""
    talk(Callback(bot, peer, UNIT_LIAISON), [(f"提请督办 M1 {REASON}", "已将事项M1提请督导考核组分解督办")])
    Sender(bot.rt).run_once()
    sent = [x for x in fake.sent if x["kind"] == "app" and x["msgtype"] == "template_card"]
    assert sorted(u for x in sent for u in x["touser"]) == MEMBERS
    return {x["touser"][0]: x["payload"]["template_card"] for x in sent}


def request(rt) -> tuple:
    """(state, supervision deadline, note, decided by) of M1's 提请督办."""
    with rt.db.session() as s:
        esc = s.scalar(select(Escalation))
        who = esc.decided_by_id and s.get(Person, esc.decided_by_id).name
        return esc.state, esc.supervision_deadline, esc.decision_note, who


def replaced(fake) -> list[tuple]:
    """(user, label) of each card update WeCom received."""
    return sorted((u["userids"][0], u["payload"]["button"]["replace_name"]) for u in fake.card_updates)


def test_a_tap_asks_the_deadline_takes_the_item_on_once_and_greys_every_card(bot, peer, fake, cards):
    card = cards["wujinming"]
    assert card["task_id"] == "dc-esc-1-1" and card["main_title"] == {"title": "M1 提请督办，请审定",
                                                                      "desc": "石化园区道路征迁"}
    fields = {x["keyname"]: x["value"] for x in card["horizontal_content_list"]}
    assert fields == {"事项": "M1", "责任单位": "区发改局", "完成时限": "2026年12月20日", "提请人": "发改联络员",
                      "理由": REASON}
    assert [(b["text"], b["style"], b["key"]) for b in card["button_list"]] == [
        ("立项督办", 1, "dc:esc:1:accept"), ("退回督办", 2, "dc:esc:1:return")]
    [(_key, _to, group)] = [r for r in notice_rows(bot.rt, "escalation:1:") if r[1] == "supervision"]
    assert "立项督办 M1 督办时限" in group and "待办卡片" in group  # the group post stays and names the cards

    assert "请回复督办时限（如：12月30日、月底）" in tap(bot, peer, fake, "wujinming", card, "accept")
    talk(Callback(bot, peer, "wujinming"), [
        ("11月20日", ("“11月20日”（2026年11月20日）已过", "2027年11月20日", "取消")),  # asked back, not guessed
        ("过几天", ("没有看懂“过几天”", "取消")),
        ("12月30日", ("已对事项M1立项督办，督办时限2026年12月30日", "分解督办 M1")),
    ])
    assert request(bot.rt) == ("accepted", date(2026, 12, 30), None, "吴金明")
    with bot.rt.db.session() as s:
        mid = s.scalar(select(Matter.id).where(Matter.code == "M1"))
    told = {to for _k, to, _t in notice_rows(bot.rt, f"escalation:1:{mid}:decided")}
    assert told == {UNIT_LIAISON, OFFICE_LIAISON}
    Sender(bot.rt).run_once()
    assert replaced(fake) == [(m, "已立项督办 · 11月23日 10:02") for m in MEMBERS]

    # a second tap, by the same member or the other: answered from the record, nothing changes
    for user, button in (("yangyoumei", "accept"), ("wujinming", "return")):
        assert tap(bot, peer, fake, user, cards[user], button) == \
            "事项M1已于2026年11月23日 10:02由吴金明立项督办，无需再次处理。"
    Sender(bot.rt).run_once()
    assert len(fake.card_updates) == 2 and request(bot.rt)[0] == "accepted"
    with bot.rt.db.session() as s:
        assert s.scalars(select(AuditLog.action).where(AuditLog.action.like("escalation_%"))).all() == [
            "escalation_accepted"]


def test_a_tap_by_someone_outside_the_supervision_group_is_refused(bot, peer, fake, cards):
    card = cards["wujinming"]
    for user, button in ((UNIT_LIAISON, "accept"), (OFFICE_LIAISON, "accept"), (UNIT_LIAISON, "return")):
        assert tap(bot, peer, fake, user, card, button) == "事项M1的督办申请由督导考核组成员审定，您的操作未生效。"
    # an admin may decide (as typed 立项督办 allows), and 取消 leaves it open
    assert "请回复督办时限" in tap(bot, peer, fake, ADMIN, card, "accept")
    talk(Callback(bot, peer, ADMIN), [("取消", "已取消，事项M1未作处理。")])
    Sender(bot.rt).run_once()
    assert request(bot.rt) == ("raised", None, None, None) and fake.card_updates == []


def test_a_return_by_card_asks_the_reason(bot, peer, fake, cards):
    assert "请直接回复事项M1的退回督办原因" in tap(bot, peer, fake, "yangyoumei", cards["yangyoumei"], "return")
    talk(Callback(bot, peer, "yangyoumei"), [("请牵头单位先行协调", "已退回事项M1的督办申请：请牵头单位先行协调")])
    assert request(bot.rt) == ("returned", None, "请牵头单位先行协调", "杨友梅")
    Sender(bot.rt).run_once()
    assert replaced(fake) == [(m, "已退回 · 11月23日 10:02") for m in MEMBERS]


def test_a_typed_decision_after_the_cards_greys_them(bot, peer, fake, cards):
    # typed while the card's question waits: a command, not a date — it is run, the question lapses
    assert "请回复督办时限" in tap(bot, peer, fake, "yangyoumei", cards["yangyoumei"], "accept")
    talk(Callback(bot, peer, "yangyoumei"), [("立项督办 M1 12月30日", ("已对事项M1立项督办", "分解督办 M1")),
                                             ("12月31日", "没有看懂")])
    Sender(bot.rt).run_once()
    assert replaced(fake) == [(m, "已立项督办 · 11月23日 10:02") for m in MEMBERS]
    assert "由杨友梅立项督办" in tap(bot, peer, fake, "wujinming", cards["wujinming"], "accept")


def test_a_confidential_request_is_carded_only_to_the_members_who_may_see_it(sqlite_url, tmp_path):
    """The rule of 查 (scope.can_see): supervision members see everything but 保密 items, unless they have a
    role on one — here 杨友梅 is also the office liaison of M1's row. The group is told one was raised, not what."""
    from bot.actions import decisions as D
    from bot.actions.base import Acting
    from bot.actions.escalation import do_raise_escalation

    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    try:
        with rt.db.session() as s:
            o = org_with_item(s, confidential=True)
            o.row1.office_liaisons.append(o.member2)
            esc = do_raise_escalation(Acting(s, o.ua, at(2026, 11, 23, 10, 2)), o.m1, 1, REASON)
            d = D.get("esc")
            with pytest.raises(D.Refused):
                D.check(d, esc, o.member)  # 吴金明 may not see M1: no card, and a tap would be refused
            D.check(d, esc, o.member2)
        rows = notice_rows(rt, "escalation:1:")
        assert [to for _k, to, _t in rows] == ["supervision", "yangyoumei"]
        assert "石化园区道路征迁" not in rows[0][2] and "涉密" in rows[0][2]
        with rt.db.session() as s:
            assert s.scalar(select(Notice.msgtype).where(Notice.target == "yangyoumei")) == "card"
    finally:
        rt.db.dispose()
