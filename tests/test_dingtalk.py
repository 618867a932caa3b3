"""The DingTalk channel, driven by an independent peer (tests/dingtalk_peer.py) and a fake DingTalk API
(bot/tools/fakes/dingtalk_server.py): the published signature vector, refusals, replies through the
sessionWebhook, deduplication, message types, group robots with 加签, rate limits and fallbacks."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels.dingtalk import api as dingtalk_api
from bot.channels.dingtalk import callback as dingtalk
from bot.channels.dingtalk.transport import DingTalkTransport
from bot.core.messages import Reply
from bot.delivery import outbox
from bot.delivery.sender import PROGRESS, Sender
from bot.infra.text import render
from bot.tools.fakes.dingtalk_server import FakeDingTalk
from models import AuditLog, ChatGroup, Notice, Person, ProcessedMessage
from tests import factories as f
from tests.dialog import at
from tests.dingtalk_peer import DingTalkPeer, callback_sign, robot_url_sign
from tests.dingtalk_support import (
    APP_KEY,
    APP_SECRET,
    NAME,
    ROBOT_CODE,
    ROBOT_SECRET,
    ROBOT_TOKEN,
    USER,
    content_of,
    delivered,
    dt_config,
    notices,
    send,
)
from tests.support import ROOT, SEED_FILE, Now, Spy, count, make_app, wait_for
from tests.threads import at_once

VECTOR = dict(timestamp="1577262236757", secret="this is secret",
              sign="hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=",
              url_sign="hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D")


@pytest.fixture
def fake():
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE, robots={ROBOT_TOKEN: ROBOT_SECRET}) as fk:
        yield fk


@pytest.fixture
def peer(fake):
    return DingTalkPeer(APP_SECRET, ROBOT_CODE, fake=fake)


@pytest.fixture
def bot(db_url, tmp_path, fake, monkeypatch):
    """An app with DingTalk configured and one registered person; `bot.spy` sees every routed message."""
    app = make_app(db_url, tmp_path, **dt_config(fake))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add(Person(name=NAME, dingtalk_userid=USER, mobile="13900000001"))
    rt.spy = Spy(rt.router)
    monkeypatch.setattr(rt, "router", rt.spy)
    app.client = app.test_client()
    app.rt = rt
    yield app
    rt.db.dispose()


# -- the protocol ------------------------------------------------------------------------------

def _robot_send_url(oapi_base: str, token: str, secret: str, now_ms: int) -> str:
    """The URL `DingTalkClient.robot_send` posts a signed (加签) robot message to."""
    import requests

    class Recorder(requests.Session):
        def post(self, url, params=None, **_kw):
            self.url = requests.Request("POST", url, params=params).prepare().url
            resp = requests.Response()
            resp.status_code, resp._content = 200, b'{"errcode": 0}'
            return resp

    session = Recorder()
    client = dingtalk_api.DingTalkClient("https://api.dingtalk.com", oapi_base, APP_KEY, APP_SECRET, ROBOT_CODE,
                                         None, session=session, clock=lambda: now_ms / 1000)
    client.robot_send(token, secret, {"msgtype": "text", "text": {"content": "x"}})
    return session.url


def test_published_signature_vector():
    assert dingtalk_api.sign(VECTOR["secret"], VECTOR["timestamp"]) == VECTOR["sign"]
    assert callback_sign(VECTOR["secret"], VECTOR["timestamp"]) == VECTOR["sign"]  # the independent peer
    assert robot_url_sign(VECTOR["secret"], VECTOR["timestamp"]) == VECTOR["url_sign"]
    url = _robot_send_url("https://oapi.dingtalk.com", "T", VECTOR["secret"], int(VECTOR["timestamp"]))
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1577262236757&sign="
                   + VECTOR["url_sign"])
    dingtalk.verify(VECTOR["secret"], VECTOR["timestamp"], VECTOR["sign"], now_ms=1577262236757 + 3_599_000)
    with pytest.raises(dingtalk.Refused):
        dingtalk.verify(VECTOR["secret"], VECTOR["timestamp"], VECTOR["sign"], now_ms=1577262236757 + 3_601_000)


@settings(max_examples=100, deadline=None)
@given(secret=st.text(min_size=1, max_size=64), skew=st.integers(-3_600_000, 3_600_000),
       other=st.text(min_size=1, max_size=64))
def test_any_secret_signs_and_verifies_and_no_other_does(secret, skew, other):
    now = 1_800_000_000_000
    ts = str(now + skew)
    dingtalk.verify(secret, ts, callback_sign(secret, ts), now_ms=now)
    if other != secret:
        with pytest.raises(dingtalk.Refused) as exc:
            dingtalk.verify(secret, ts, callback_sign(other, ts), now_ms=now)
        assert exc.value.status == 403


@settings(max_examples=100, deadline=None)
@given(content=st.text(max_size=300), group=st.booleans())
def test_any_text_reaches_the_core_without_the_leading_at_space(content, group):
    from zoneinfo import ZoneInfo

    peer = DingTalkPeer(APP_SECRET)
    body = json.loads(json.dumps(peer.text("u1", content, group=group, webhook=("https://x/y", 1))))
    inc = dingtalk.to_incoming(dingtalk.parse_body(json.dumps(body).encode()), ZoneInfo("Asia/Shanghai"))
    assert inc.text == content.lstrip() and inc.user_id == "u1" and inc.channel == "dingtalk"
    assert (inc.conversation_id == "cidGROUP") is group


# -- refusals: 4xx, nothing stored, nothing sent -----------------------------------------------

def _old(peer):
    ts = str(int(time.time() * 1000) - 3_700_000)
    return peer.text(USER, "帮助"), peer.headers(ts)


REFUSALS = {
    "forged sign": (lambda p: (p.text(USER, "帮助"), p.headers(secret="not the secret")), 403),
    "old timestamp": (_old, 403),
    "future timestamp": (lambda p: (p.text(USER, "帮助"), p.headers(str(int(time.time() * 1000) + 3_700_000))), 403),
    "no headers": (lambda p: (p.text(USER, "帮助"), {}), 403),
    "timestamp not a number": (lambda p: (p.text(USER, "帮助"), {"timestamp": "abc",
                                                                  "sign": callback_sign(APP_SECRET, "abc")}), 403),
    "bad json": (lambda p: (b'{"msgtype": "text", "text": {"content": "', None), 400),
    "json array": (lambda p: (b"[1, 2, 3]", None), 400),
    "not utf-8": (lambda p: (b'{"a": "\xff\xfe"}', None), 400),
    "no msgId": (lambda p: ({k: v for k, v in p.text(USER, "帮助").items() if k != "msgId"}, None), 400),
    "oversized": (lambda p: (p.text(USER, "帮助" + "啊" * 30_000), None), 413),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_callbacks_are_refused_and_leave_no_trace(bot, peer, fake, case):
    build, status = REFUSALS[case]
    body, headers = build(peer)
    r = peer.post(bot.client, body, headers)
    assert r.status_code == status
    assert len(r.data) < 100 and b"Traceback" not in r.data
    rt = bot.rt
    assert rt.spy.seen == []
    assert (count(rt, ProcessedMessage), count(rt, Notice), count(rt, AuditLog)) == (0, 0, 0)
    assert send(rt).handled == 0 and fake.sent == []


def test_not_configured_is_404(sqlite_url, tmp_path, fake, peer):
    client = make_app(sqlite_url, tmp_path).test_client()
    assert peer.post(client, peer.text(USER, "帮助")).status_code == 404


# -- replies through the sessionWebhook --------------------------------------------------------

def test_seeded_user_gets_the_reply_on_the_session_webhook(db_url, tmp_path, fake, peer):
    from bot.actions.seed import load_seed

    app = make_app(db_url, tmp_path, **dt_config(fake))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
        s.scalar(select(Person).where(Person.wecom_userid == "liuzhaoxuan")).dingtalk_userid = "dt0001"
    r = peer.post(app.test_client(), peer.text("dt0001", "帮助"))
    assert (r.status_code, r.get_json()) == (200, {})
    [n] = notices(rt)
    assert (n.channel, n.target_kind, n.kind, n.state) == ("dingtalk", "webhook", "reply", "pending")
    assert n.target.startswith(fake.base_url + "/robot/sendBySession?session=")
    assert send(rt).sent == 1
    [item] = delivered(fake)
    assert item["kind"] == "session" and item["msgtype"] == "text" and item["conversation"] == "ciddt0001"
    assert content_of(item).startswith(f"{NAME}主任，您好") and "帮助 — 查看可用的指令" in content_of(item)
    assert notices(rt)[0].state == "sent"
    rt.db.dispose()


def test_same_msg_id_four_times_is_processed_once(bot, peer, fake):
    body = peer.text(USER, "帮助", msg_id="msgDUP0001")
    answers = [peer.post(bot.client, body) for _ in range(4)]
    assert [(a.status_code, a.get_json()) for a in answers] == [(200, {})] * 4
    assert len(bot.rt.spy.seen) == 1 and len(notices(bot.rt)) == 1
    send(bot.rt)
    assert len(delivered(fake)) == 1


def test_concurrent_retries_across_two_instances_sharing_redis(db_url, redis_url, tmp_path, fake, peer,
                                                               monkeypatch):
    apps = [make_app(db_url, tmp_path / n, REDIS_URL=redis_url, **dt_config(fake)) for n in "ab"]
    rts = [a.extensions["bot"] for a in apps]
    with rts[0].db.session() as s:
        s.add(Person(name=NAME, dingtalk_userid=USER))
    spies = [Spy(rt.router) for rt in rts]
    for rt, spy in zip(rts, spies, strict=False):
        monkeypatch.setattr(rt, "router", spy)
    body = peer.text(USER, "帮助", msg_id="msgCONCURRENT1")
    clients = [a.test_client() for a in apps for _ in range(2)]
    out = at_once([lambda c=c: peer.post(c, body).status_code for c in clients], timeout=30)
    assert out == [200] * 4 and len(spies[0].seen) + len(spies[1].seen) == 1
    assert len(notices(rts[0])) == 1
    for rt in rts:
        rt.db.dispose()


def test_unknown_user_gets_the_registration_sentence(bot, peer, fake):
    peer.post(bot.client, peer.text("dt_stranger", "录入纪要"))
    assert bot.rt.spy.seen == []  # no handler ran
    send(bot.rt)
    [item] = delivered(fake)
    text = content_of(item)
    assert text == render("core/unregistered.txt") and "尚未登记" in text
    assert (count(bot.rt, AuditLog), notices(bot.rt)[0].state) == (0, "sent")


def test_group_message_reaches_the_core_and_is_answered_in_the_group(bot, peer, fake):
    peer.post(bot.client, peer.text(USER, "帮助", group=True))
    inc = bot.rt.spy.seen[-1]
    assert (inc.text, inc.conversation_id, inc.user_id, inc.channel) == ("帮助", "cidGROUP", USER, "dingtalk")
    assert inc.extra["session_webhook"].startswith(fake.base_url) and inc.extra["session_webhook_expires"] > 0
    send(bot.rt)
    assert delivered(fake)[0]["conversation"] == "cidGROUP"


@pytest.mark.parametrize("msgtype, fields", [
    ("picture", {"content": {"downloadCode": "dc1", "pictureDownloadCode": "dc1"}}),
    ("file", {"content": {"downloadCode": "dc2", "fileName": "a.docx"}}),
    ("richText", {"content": {"richText": [{"text": "进度"}, {"downloadCode": "dc3"}]}}),
    ("audio", {"content": {"duration": 3000, "downloadCode": "dc4"}}),  # no recognition
])
def test_other_message_types_get_a_hint_to_type(bot, peer, fake, msgtype, fields):
    peer.post(bot.client, peer.message(USER, msgtype, **fields))
    assert bot.rt.spy.seen[-1].extra["msgtype"] == msgtype and bot.rt.spy.seen[-1].text is None
    send(bot.rt)
    assert content_of(delivered(fake)[0]) == render("core/empty.txt") and "文字" in render("core/empty.txt")


def test_audio_with_recognition_is_text(bot, peer, fake):
    peer.post(bot.client, peer.message(USER, "audio", content={"duration": 2000, "recognition": "帮助"}))
    assert bot.rt.spy.seen[-1].text == "帮助"
    send(bot.rt)
    assert "查看可用的指令" in content_of(delivered(fake)[0])


def test_my_items_through_dingtalk(db_url, tmp_path, fake, peer):
    app = make_app(db_url, tmp_path, **dt_config(fake))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        o = f.small_org(s)
        o.ua.dingtalk_userid = "dt_ua"
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="年底的事")
        f.matter(s, "M2", o.fagai, o.leader1, date(2026, 11, 20), title="逾期的事")
        f.matter(s, "M5", o.keji, o.leader1, date(2026, 11, 24), title="科技局的事")
    rt.clock.set(at(2026, 11, 23))
    client = app.test_client()
    peer.post(client, peer.text("dt_ua", "我的事项"))
    peer.post(client, peer.text("dt_ua", "帮助"))
    assert send(rt).sent == 2
    mine, help_ = (content_of(x) for x in delivered(fake))
    for part in ("区发改局未销号事项 2 项", "🔴 M2", "已逾期 3 天", "🟢 M1"):
        assert part in mine
    assert "M5" not in mine and mine.index("M2") < mine.index("M1")
    assert help_.startswith("发改联络员，您好") and "我的事项" in help_
    rt.db.dispose()


def test_slow_handler_answers_at_once_and_the_reply_follows(bot, peer, fake, monkeypatch):
    def slow(ctx):
        time.sleep(0.5)
        from bot.infra.audit import record

        record(ctx.session, actor=ctx.person, action="test.slow", entity="person", entity_id=ctx.person.id)
        return Reply("已为您登记。")

    bot.rt.spy.answer = slow
    monkeypatch.setattr(bot.rt, "settings", bot.rt.settings.model_copy(update={"PASSIVE_REPLY_SECONDS": 0.1}))
    started = time.monotonic()
    r = peer.post(bot.client, peer.text(USER, "慢"))
    assert r.get_json() == {} and time.monotonic() - started < 0.45
    assert wait_for(lambda: notices(bot.rt))
    assert notices(bot.rt)[0].payload["content"] == "已为您登记。" and count(bot.rt, AuditLog) == 1


def test_failing_handler_queues_the_apology_and_saves_nothing(bot, peer, fake):
    def fail(ctx):
        from bot.infra.audit import record

        record(ctx.session, actor=ctx.person, action="test.fail", entity="person", entity_id=ctx.person.id)
        raise RuntimeError("boom")

    bot.rt.spy.answer = fail
    body = peer.text(USER, "出错", msg_id="msgFAILONCE")
    peer.post(bot.client, body)
    [n] = notices(bot.rt)
    assert n.payload["content"] == render("core/error.txt") and count(bot.rt, AuditLog) == 0
    bot.rt.spy.answer = lambda ctx: Reply("这次成功了。")  # DingTalk retries the same msgId: processed now
    peer.post(bot.client, body)
    assert [n.payload["content"] for n in notices(bot.rt)] == [render("core/error.txt"), "这次成功了。"]


def test_long_markdown_reply_is_split_and_resumes_after_a_failure(bot, peer, fake):
    long = "".join(f"**第{i}项** 事项已办结。\n" for i in range(400))
    bot.rt.spy.answer = lambda ctx: Reply(long, markdown=True)
    peer.post(bot.client, peer.text(USER, "台账"))
    fake.fail_next(1, http_status=502, path="/robot/sendBySession")
    now = Now()
    send(bot.rt, now)
    [n] = notices(bot.rt)
    assert n.state == "pending" and n.attempts == 1 and "HTTP 502" in n.last_error
    now.advance(60)
    send(bot.rt, now)
    parts = [content_of(x) for x in delivered(fake)]
    assert len(parts) >= 3 and "".join(parts) == long
    assert all(len(p.encode()) <= dingtalk_api.TEXT_MAX_BYTES for p in parts)
    assert all(x["msgtype"] == "markdown" and x["payload"]["markdown"]["title"] for x in delivered(fake))
    assert notices(bot.rt)[0].state == "sent"


# -- the sessionWebhook expires: one-to-one instead --------------------------------------------

def _webhook_notice(rt, fake, *, user=USER, expired=True):
    url, expires = fake.new_session("cidX")
    with rt.db.session() as s:
        payload = {"content": "您的进度已收到。", "expires": expires - (10_000_000 if expired else 0)}
        if user:
            payload["user_id"] = user
        outbox.enqueue(s, target_kind="webhook", target=url, msgtype="text", payload=payload, channel="dingtalk")


def test_expired_webhook_falls_back_to_one_to_one(bot, fake):
    _webhook_notice(bot.rt, fake)
    assert send(bot.rt).sent == 1
    [item] = delivered(fake)
    assert (item["kind"], item["users"], item["msgKey"], item["param"]) == (
        "one_to_one", [USER], "sampleText", {"content": "您的进度已收到。"})
    assert fake.hits["session_send"] == 0 and fake.hits["token"] == 1


def test_webhook_refused_by_dingtalk_falls_back_too(bot, fake):
    _webhook_notice(bot.rt, fake, expired=False)
    fake.fail_next(1, errcode=300001, path="/robot/sendBySession")
    assert send(bot.rt).sent == 1
    assert [x["kind"] for x in delivered(fake)] == ["one_to_one"]


def test_expired_webhook_without_a_user_fails_with_the_reason(bot, fake):
    _webhook_notice(bot.rt, fake, user=None)
    assert send(bot.rt).failed == 1
    [n] = notices(bot.rt)
    assert n.state == "failed" and "expired" in n.last_error and fake.sent == []


# -- one-to-one: token cache and errors --------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1.0/robot/oToMessages/batchSend", "/v1.0/robot/groupMessages/send"])
def test_fake_openapi_sends_check_the_token_then_the_json_body(fake, path):
    http = requests.Session()
    http.trust_env = False
    url = fake.base_url + path
    r = http.post(url, headers={"x-acs-dingtalk-access-token": "nope"}, json={})
    assert r.status_code == 401 and r.json()["code"] == "InvalidAuthentication"
    tok = http.post(fake.base_url + "/v1.0/oauth2/accessToken",
                    json={"appKey": APP_KEY, "appSecret": APP_SECRET}).json()["accessToken"]
    for body in ({"data": "not json"}, {"json": [1, 2]}):
        r = http.post(url, headers={"x-acs-dingtalk-access-token": tok}, **body)
        assert r.status_code == 400 and r.json()["code"] == "invalidParameter" and r.json()["message"] == "invalid json"
    assert fake.sent == []


def test_access_token_is_shared_and_refreshed_once(bot, fake):
    for i in range(3):
        with bot.rt.db.session() as s:
            outbox.to_person(s, s.scalar(select(Person)), f"第{i}条", channel="dingtalk")
    Sender(bot.rt, transports={"dingtalk": DingTalkTransport(bot.rt)}).run_once(limit=1)
    Sender(bot.rt, transports={"dingtalk": DingTalkTransport(bot.rt)}).run_once(limit=1)  # another "process"
    assert fake.hits["token"] == 1
    fake.expire_tokens()
    assert send(bot.rt).sent == 1
    assert fake.hits["token"] == 2 and [content_of(x) for x in delivered(fake)] == ["第0条", "第1条", "第2条"]


def test_bad_app_secret_fails_at_once_as_configuration(db_url, tmp_path, fake):
    app = make_app(db_url, tmp_path, **dt_config(fake, DINGTALK_APP_SECRET="wrong"))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        outbox.enqueue(s, target_kind="user", target=USER, msgtype="text", payload={"content": "x"},
                       channel="dingtalk")
    assert send(rt).failed == 1
    [n] = notices(rt)
    assert n.attempts == 1 and "ConfigError" in n.last_error and "access token refused" in n.last_error
    assert "wrong" not in n.last_error
    rt.db.dispose()


def test_invalid_user_fails_permanently(db_url, tmp_path):
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE, known_users={USER}) as fk:
        app = make_app(db_url, tmp_path, **dt_config(fk))
        rt = app.extensions["bot"]
        with rt.db.session() as s:
            outbox.enqueue(s, target_kind="user", target="dt_gone", msgtype="text", payload={"content": "x"},
                           channel="dingtalk")
        assert send(rt).failed == 1 and "invalid user" in notices(rt)[0].last_error and fk.sent == []
        rt.db.dispose()


# -- custom group robots (加签) -----------------------------------------------------------------

@pytest.fixture
def groups(bot, monkeypatch):
    monkeypatch.setenv("TEST_DT_ROBOT_OFFICE", ROBOT_TOKEN)
    monkeypatch.setenv("TEST_DT_ROBOT_OFFICE_SECRET", ROBOT_SECRET)
    monkeypatch.delenv("TEST_DT_ROBOT_UNSET", raising=False)
    with bot.rt.db.session() as s:
        s.add(ChatGroup(code="supervision", name="督导考核组工作群", channel="dingtalk",
                        robot_key=ROBOT_TOKEN, robot_secret=ROBOT_SECRET))
        s.add(ChatGroup(code="office", name="专班办公室群", channel="dingtalk", robot_key_env="TEST_DT_ROBOT_OFFICE"))
        s.add(ChatGroup(code="liaisons", name="调度联络员群", channel="dingtalk", robot_key_env="TEST_DT_ROBOT_UNSET"))
        s.add(ChatGroup(code="wecomonly", name="企业微信群", channel="wecom", robot_key="k"))
    return bot


def _to_group(rt, code, text, mention=False, markdown=True):
    with rt.db.session() as s:
        people = list(s.scalars(select(Person))) if mention else []
        outbox.to_group(s, code, text, channel="dingtalk", mention=people, markdown=markdown)


def test_group_robot_message_is_signed_and_mentions_by_mobile(groups, fake):
    rt = groups.rt
    _to_group(rt, "supervision", "请督导考核组关注 M12 逾期。", mention=True)
    _to_group(rt, "office", "## 本周调度\n- M3 已销号")
    assert send(rt).sent == 2
    mention, md = delivered(fake)
    assert mention["signed"] and mention["token"] == ROBOT_TOKEN and mention["msgtype"] == "text"
    assert mention["payload"]["at"] == {"atMobiles": ["13900000001"], "atUserIds": [USER], "isAtAll": False}
    assert content_of(mention).startswith("请督导考核组关注 M12 逾期。") and "@13900000001" in content_of(mention)
    assert md["signed"] and md["payload"]["markdown"] == {"title": "本周调度", "text": "## 本周调度\n- M3 已销号"}


def test_wrong_robot_secret_is_a_configuration_error(groups, fake):
    with groups.rt.db.session() as s:
        s.scalar(select(ChatGroup).where(ChatGroup.code == "supervision")).robot_secret = "SECwrong"
    _to_group(groups.rt, "supervision", "测试")
    assert send(groups.rt).failed == 1
    [n] = notices(groups.rt)
    assert n.attempts == 1 and "310000" in n.last_error and "ConfigError" in n.last_error and fake.sent == []


@pytest.mark.parametrize("code, reason", [("liaisons", "no robot token"), ("wecomonly", "not a dingtalk"),
                                          ("nosuch", "no chat group")])
def test_undeliverable_groups_fail_with_the_reason(groups, fake, code, reason):
    _to_group(groups.rt, code, "测试")
    assert send(groups.rt).failed == 1 and reason in notices(groups.rt)[0].last_error


@pytest.mark.parametrize("errcode", [410100, 130101, 90030])
def test_rate_limit_block_is_retried_after_ten_minutes(groups, fake, errcode):
    rt = groups.rt
    _to_group(rt, "supervision", "限流后再发")
    fake.fail_next(1, errcode=errcode, path="/robot/send")
    now = Now()
    assert send(rt, now).retried == 1
    [n] = notices(rt)
    assert n.state == "pending" and str(errcode) in n.last_error
    assert (n.next_attempt_at.replace(tzinfo=None) - now().replace(tzinfo=None)).total_seconds() >= 590
    now.advance(300)
    assert send(rt, now).handled == 0 and fake.sent == []
    now.advance(301)
    assert send(rt, now).sent == 1 and content_of(delivered(fake)[0]) == "限流后再发"


def test_twenty_a_minute_per_robot_the_rest_waits(groups, fake):
    rt = groups.rt
    for i in range(21):
        _to_group(rt, "supervision", f"第{i}条", markdown=False)
    stats = send(rt)
    assert (stats.sent, stats.deferred) == (20, 1)
    assert len(delivered(fake)) == 20 and fake.hits["robot_send"] == 20  # the fake never had to block
    pending = [n for n in notices(rt) if n.state == "pending"]
    assert len(pending) == 1 and pending[0].attempts == 0 and PROGRESS not in pending[0].payload


# -- wiring ------------------------------------------------------------------------------------

def test_every_process_built_by_create_app_has_the_transport(tmp_path):
    code = ("from bot import create_app; create_app({'DATABASE_URL': 'sqlite:///%s'}); "
            "from bot.delivery.sender import TRANSPORTS; print(sorted(TRANSPORTS))" % (tmp_path / "x.sqlite3"))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['dingtalk', 'mail', 'wecom']"  # e-mail is an outbox channel too
