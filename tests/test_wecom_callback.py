"""The WeCom callback, driven by an independent peer (tests/wecom_peer.py): published vectors, refusals,
replies, deduplication, events, slow handlers."""
from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels.wecom import callback as wecom
from bot.core.messages import Reply
from bot.delivery.textsplit import utf8_len
from models import AuditLog, ConversationState, Notice, Person, ProcessedMessage
from tests.support import AES, AGENT, CORP, SEED_FILE, TOKEN, Spy, count, make_app, post, wait_for, wecom_config
from tests.threads import at_once
from tests.wecom_peer import WeComPeer, random_aes_key

USER, NAME = "liuzhaoxuan", "刘昭暄"

VECTORS = [  # PLATFORMS.md: the doc example and Tencent's sample
    dict(token="QDG6eK", aes="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", corp="wx5823bf96d3bd56c7",
         sig="5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", ts="1409659589", nonce="263014780",
         echostr="P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
         plain="1616140317555161061"),
    dict(token="hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", aes="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
         corp="ww1436e0e65a779aee", sig="012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", ts="1476416373",
         nonce="47744683",
         echostr="fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
         plain="1288432023552776189"),
]


@pytest.fixture
def peer():
    return WeComPeer(TOKEN, AES, CORP, AGENT)


@pytest.fixture
def bot(db_url, tmp_path, monkeypatch):
    """An app with WeCom configured and one registered person; `bot.spy` sees every routed message."""
    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add(Person(name=NAME, wecom_userid=USER))
    rt.spy = Spy(rt.router)
    monkeypatch.setattr(rt, "router", rt.spy)
    app.client = app.test_client()
    yield app
    rt.db.dispose()


# -- the protocol ------------------------------------------------------------------------------

@pytest.mark.parametrize("v", VECTORS, ids=["doc", "tencent"])
def test_published_vectors_peer(v):
    peer = WeComPeer(v["token"], v["aes"], v["corp"])
    assert peer.sign(v["ts"], v["nonce"], v["echostr"]) == v["sig"]
    assert peer.decrypt(v["echostr"]) == (v["plain"], v["corp"])


@pytest.mark.parametrize("v", VECTORS, ids=["doc", "tencent"])
def test_published_vectors_url_check(v, sqlite_url, tmp_path):
    app = make_app(sqlite_url, tmp_path, WECOM_TOKEN=v["token"], WECOM_AES_KEY=v["aes"], WECOM_CORP_ID=v["corp"])
    query = urlencode({"msg_signature": v["sig"], "timestamp": v["ts"], "nonce": v["nonce"],
                       "echostr": v["echostr"]})
    r = app.test_client().get("/wecom/callback?" + query)
    assert r.status_code == 200 and r.data == v["plain"].encode()


def test_url_check_with_peer(bot, peer):
    url, echo = peer.url_check()
    r = bot.client.get(url)
    assert (r.status_code, r.data, r.mimetype) == (200, echo.encode(), "text/plain")
    q = parse_qs(urlsplit(url).query)
    q["msg_signature"] = ["0" * 40]
    assert bot.client.get("/wecom/callback?" + urlencode(q, doseq=True)).status_code == 403
    url, _ = WeComPeer(TOKEN, AES, "wwsomeoneelse").url_check()
    assert bot.client.get(url).status_code == 403
    assert bot.client.get("/wecom/callback?timestamp=1").status_code == 400


def test_registered_user_gets_a_correct_encrypted_reply(db_url, tmp_path, peer):
    from bot.actions.seed import load_seed

    app = make_app(db_url, tmp_path, **wecom_config())
    with app.extensions["bot"].db.session() as s:
        load_seed(s, SEED_FILE)
    r = post(app.test_client(), peer.text(USER, "帮助"))
    assert r.status_code == 200
    reply = peer.reply(r.data)
    assert reply["MsgType"] == "text" and reply["ToUserName"] == USER and reply["FromUserName"] == CORP
    assert reply["Content"].startswith(f"{NAME}主任，您好") and "帮助 — 查看可用的指令" in reply["Content"]


def test_unknown_user_gets_one_sentence_and_nothing_else(bot, peer):
    r = post(bot.client, peer.text("stranger", "录入纪要"))
    text = peer.reply(r.data)["Content"]
    assert "尚未登记" in text and "专班办公室" in text and text.count("。") == 1
    rt = bot.extensions["bot"]
    assert rt.spy.seen == []  # no handler ran
    assert (count(rt, Notice), count(rt, AuditLog), count(rt, ConversationState)) == (0, 0, 0)


# -- refusals: 4xx, nothing stored, nothing sent -----------------------------------------------

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        b'<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
        b'<xml><Encrypt>&lol4;</Encrypt></xml>')
XXE = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<xml><ToUserName>x</ToUserName><Encrypt>&xxe;</Encrypt></xml>')


def _forged(peer):
    url, body = peer.text(USER, "帮助")
    q = parse_qs(urlsplit(url).query)
    q["msg_signature"] = [hashlib.sha1(b"forged").hexdigest()]
    return "/wecom/callback?" + urlencode(q, doseq=True), body


def _signed(peer, body_xml: bytes, encrypt: str = "AAAA"):
    """A body whose query is validly signed for `encrypt` (so only the XML is at fault)."""
    ts, nonce = "1700000000", "12345"
    q = urlencode({"msg_signature": peer.sign(ts, nonce, encrypt), "timestamp": ts, "nonce": nonce})
    return "/wecom/callback?" + q, body_xml


REFUSALS = {
    "forged signature": (lambda p: _forged(p), 403),
    "wrong corpid": (lambda p: p.envelope(p.text_xml(USER, "帮助"), receive_id="wwsomeoneelse"), 403),
    "wrong aes key": (lambda p: WeComPeer(TOKEN, random_aes_key(), CORP).text(USER, "帮助"), None),
    "truncated": (lambda p: (lambda u, b: (u, b[: len(b) // 2]))(*p.text(USER, "帮助")), 400),
    "oversized": (lambda p: (lambda u, b: (u, b.replace(b"</xml>", b" " * 70_000 + b"</xml>")))(
        *p.text(USER, "帮助")), 413),
    "billion laughs": (lambda p: _signed(p, BOMB), 400),
    "external entity": (lambda p: _signed(p, XXE), 400),
    "empty body": (lambda p: (p.text(USER, "帮助")[0], b""), 400),
    "no Encrypt": (lambda p: _signed(p, b"<xml><ToUserName>x</ToUserName></xml>"), 400),
    "not base64": (lambda p: _signed(p, b"<xml><Encrypt>%%%%</Encrypt></xml>", "%%%%"), 400),
    "no signature": (lambda p: ("/wecom/callback?timestamp=1&nonce=2", p.text(USER, "帮助")[1]), 400),
    "decrypts to garbage": (lambda p: p.envelope("not xml at all"), 400),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_callbacks_are_refused_and_leave_no_trace(bot, peer, case):
    build, status = REFUSALS[case]
    url, body = build(peer)
    r = bot.client.post(url, data=body, content_type="text/xml")
    if status is None:  # a wrong key yields garbage: reported as undecryptable or as a foreign CorpID
        assert r.status_code in (400, 403)
    else:
        assert r.status_code == status
    assert len(r.data) < 100 and b"Traceback" not in r.data
    rt = bot.extensions["bot"]
    assert rt.spy.seen == []
    assert (count(rt, ProcessedMessage), count(rt, Notice), count(rt, AuditLog)) == (0, 0, 0)


def test_not_configured_is_404(sqlite_url, tmp_path, peer):
    client = make_app(sqlite_url, tmp_path).test_client()
    assert post(client, peer.text(USER, "帮助")).status_code == 404
    assert client.get(peer.url_check()[0]).status_code == 404


# -- deduplication -----------------------------------------------------------------------------

def test_four_deliveries_are_processed_once(bot, peer):
    url, body = peer.text(USER, "帮助", msg_id=7311)
    answers = [bot.client.post(url, data=body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert peer.reply(answers[0].data)["Content"].startswith(NAME)
    assert [a.data for a in answers[1:]] == [b""] * 3  # retries: an empty 200
    assert len(bot.extensions["bot"].spy.seen) == 1


def test_events_dedup_on_user_and_create_time(bot, peer):
    first = peer.event(USER, "enter_agent", create_time=1_800_000_000)
    again = peer.event(USER, "enter_agent", create_time=1_800_000_000)  # a retry: same user and time
    later = peer.event(USER, "enter_agent", create_time=1_800_000_060)
    replies = [bot.client.post(u, data=b).data for u, b in (first, again, later)]
    assert replies[0] and replies[1] == b"" and replies[2]
    assert len(bot.extensions["bot"].spy.seen) == 2


def _concurrent_posts(clients, url, body):
    return at_once([lambda c=c: c.post(url, data=body) for c in clients], timeout=30)


def test_concurrent_retries_across_two_instances_sharing_redis(db_url, redis_url, tmp_path, peer, monkeypatch):
    apps = [make_app(db_url, tmp_path / n, REDIS_URL=redis_url, **wecom_config()) for n in "ab"]
    rts = [a.extensions["bot"] for a in apps]
    with rts[0].db.session() as s:
        s.add(Person(name=NAME, wecom_userid=USER))
    spies = [Spy(rt.router) for rt in rts]
    for rt, spy in zip(rts, spies, strict=False):
        monkeypatch.setattr(rt, "router", spy)
    url, body = peer.text(USER, "帮助", msg_id=990001)
    out = _concurrent_posts([a.test_client() for a in apps for _ in range(2)], url, body)
    assert sorted(bool(r.data) for r in out) == [False, False, False, True]
    assert len(spies[0].seen) + len(spies[1].seen) == 1


def test_concurrent_retries_without_redis_use_the_database(bot, peer):
    url, body = peer.text(USER, "帮助", msg_id=990002)
    out = _concurrent_posts([bot.test_client() for _ in range(4)], url, body)
    assert [r.status_code for r in out] == [200] * 4
    assert sum(bool(r.data) for r in out) == 1 and len(bot.extensions["bot"].spy.seen) == 1


# -- events and message types ------------------------------------------------------------------

def test_enter_agent_answers_with_the_menu(bot, peer):
    reply = peer.reply(post(bot.client, peer.event(USER, "enter_agent")).data)
    assert reply["Content"].startswith(f"{NAME}，您好") and "帮助" in reply["Content"]


def test_click_maps_the_menu_key_to_its_command(bot, peer):
    reply = peer.reply(post(bot.client, peer.event(USER, "click", "help")).data)
    assert "查看可用的指令" in reply["Content"]
    inc = bot.extensions["bot"].spy.seen[-1]
    assert (inc.channel, inc.event, inc.event_key, inc.text) == ("wecom", "click", "help", None)


def test_text_reaches_the_core_as_a_neutral_message(bot, peer):
    post(bot.client, peer.text(USER, "  查询 M12 ", msg_id=4242))
    inc = bot.extensions["bot"].spy.seen[-1]
    assert (inc.channel, inc.user_id, inc.msg_id, inc.event) == ("wecom", USER, "4242", None)
    assert inc.text == "  查询 M12 " and inc.created_at.tzinfo is not None


def test_image_gets_a_text_hint_and_ignored_events_are_acknowledged(bot, peer):
    img = peer.envelope(peer.message_xml({"ToUserName": CORP, "FromUserName": USER, "CreateTime": 1_800_000_000,
                                          "MsgType": "image", "PicUrl": "http://x/y.jpg", "MediaId": "m1",
                                          "MsgId": 5151, "AgentID": int(AGENT)}))
    assert "文字" in peer.reply(post(bot.client, img).data)["Content"]
    r = post(bot.client, peer.event(USER, "view", "https://example.org"))
    assert r.status_code == 200 and r.data == b""
    assert len(bot.extensions["bot"].spy.seen) == 1  # the view event was not routed


@pytest.mark.parametrize("spelling", ["OptionIds", "OpitonIds"])
def test_template_card_event_accepts_both_spellings(peer, spelling):
    xml = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
           "<CreateTime>1800000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
           "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[confirm_done]]></EventKey>"
           "<TaskId><![CDATA[task-9]]></TaskId><CardType><![CDATA[vote_interaction]]></CardType>"
           "<ResponseCode><![CDATA[rc-1]]></ResponseCode><AgentID>1000002</AgentID>"
           f"<SelectedItems><SelectedItem><QuestionKey><![CDATA[q1]]></QuestionKey><{spelling}>"
           f"<OptionId><![CDATA[a]]></OptionId><OptionId><![CDATA[b]]></OptionId></{spelling}></SelectedItem>"
           "</SelectedItems></xml>")
    inc = wecom.to_incoming(wecom.xml_fields(wecom.parse_xml(xml)), ZoneInfo("Asia/Shanghai"))
    assert (inc.event, inc.event_key) == ("card", "confirm_done")
    assert inc.extra == {"task_id": "task-9", "response_code": "rc-1", "card_type": "vote_interaction",
                         "selected": {"q1": ["a", "b"]}}
    assert inc.msg_id == "card:task-9:rc-1"  # a tap is deduplicated on TaskId + its ResponseCode


# -- quick, long, markdown and slow replies ----------------------------------------------------

def _answer(bot, fn, monkeypatch, **settings_overrides):
    rt = bot.extensions["bot"]
    rt.spy.answer = fn
    if settings_overrides:
        monkeypatch.setattr(rt, "settings", rt.settings.model_copy(update=settings_overrides))
    return rt


def _notices(rt):
    with rt.db.session() as s:
        return list(s.scalars(select(Notice).order_by(Notice.id)))


def test_long_reply_first_part_passive_rest_through_the_outbox(bot, peer, monkeypatch):
    long = "".join(f"第{i}项事项已办结。\n" for i in range(300))
    rt = _answer(bot, lambda ctx: Reply(long), monkeypatch)
    passive = peer.reply(post(bot.client, peer.text(USER, "台账")).data)["Content"]
    assert utf8_len(passive) <= 2048 and long.startswith(passive)
    [n] = _notices(rt)
    assert (n.kind, n.target_kind, n.target, n.msgtype) == ("reply", "user", USER, "text")
    assert passive + n.payload["content"] == long


def test_markdown_reply_goes_as_an_app_markdown_message(bot, peer, monkeypatch):
    rt = _answer(bot, lambda ctx: Reply("**本周逾期**：3项", markdown=True), monkeypatch)
    r = post(bot.client, peer.text(USER, "逾期"))
    assert r.status_code == 200 and r.data == b""
    [n] = _notices(rt)
    assert (n.msgtype, n.payload, n.target) == ("markdown", {"content": "**本周逾期**：3项"}, USER)


def test_slow_handler_gets_an_empty_200_and_the_reply_goes_to_the_outbox(bot, peer, monkeypatch):
    def slow(ctx):
        time.sleep(0.6)
        from bot.infra.audit import record

        record(ctx.session, actor=ctx.person, action="test.slow", entity="person", entity_id=ctx.person.id)
        return Reply("已为您登记。")

    rt = _answer(bot, slow, monkeypatch, PASSIVE_REPLY_SECONDS=0.15)
    started = time.monotonic()
    r = post(bot.client, peer.text(USER, "慢"))
    assert r.status_code == 200 and r.data == b"" and time.monotonic() - started < 0.5
    assert wait_for(lambda: _notices(rt))
    [n] = _notices(rt)
    assert (n.kind, n.target, n.msgtype, n.payload) == ("reply", USER, "text", {"content": "已为您登记。"})
    assert count(rt, AuditLog) == 1  # the change and its reply were committed together


def test_slow_handler_that_fails_queues_the_error_and_saves_nothing(bot, peer, monkeypatch):
    def slow_then_fail(ctx):
        time.sleep(0.4)
        from bot.infra.audit import record

        record(ctx.session, actor=ctx.person, action="test.slow", entity="person", entity_id=ctx.person.id)
        raise RuntimeError("boom")

    rt = _answer(bot, slow_then_fail, monkeypatch, PASSIVE_REPLY_SECONDS=0.1)
    assert post(bot.client, peer.text(USER, "慢")).data == b""
    assert wait_for(lambda: _notices(rt))
    [n] = _notices(rt)
    assert "没有保存" in n.payload["content"] and count(rt, AuditLog) == 0


# -- parsers (property-based) ------------------------------------------------------------------

XML_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | st.just("\n")


@settings(max_examples=150, deadline=None)
@given(content=st.text(XML_CHARS, min_size=1, max_size=300))
def test_any_text_survives_encryption_and_parsing(content):
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    crypto = wecom._crypto(TOKEN, AES, CORP)
    url, body = peer.text(USER, content, msg_id=1)
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    encrypt = wecom.xml_fields(wecom.parse_xml(body))["Encrypt"]
    plain = wecom.decrypt(crypto, encrypt, q["msg_signature"], q["timestamp"], q["nonce"])
    inc = wecom.to_incoming(wecom.xml_fields(wecom.parse_xml(plain)), ZoneInfo("Asia/Shanghai"))
    assert inc.text == content
    # and the bot's passive reply of that text decrypts back to it for the peer
    assert peer.reply(wecom.passive_reply(crypto, CORP, USER, content))["Content"] == content


@pytest.mark.parametrize("age, budget", [(0, 3.0), (2, 3.0), (3, 2.0), (4, 1.0), (5, 0.0), (9, 0.0), (7200, 3.0),
                                         (-30, 3.0), (-7200, 3.0)])
def test_budget_shrinks_by_the_time_the_callback_already_waited(age, budget, clean_env):
    from config.settings import Settings

    now = 1_800_000_000.0
    got = wecom.budget_for(Settings.load({"PASSIVE_REPLY_SECONDS": 3.0}), str(int(now - age)), now)
    assert got == pytest.approx(budget)


def test_a_callback_that_waited_in_a_queue_is_answered_through_the_outbox(bot, peer, monkeypatch):
    rt = _answer(bot, lambda ctx: (time.sleep(0.3), Reply("已收到。"))[1], monkeypatch)
    stale = str(int(time.time()) - 5)  # signed 5 s ago: WeCom is about to give up
    r = post(bot.client, peer.text(USER, "进度", timestamp=stale))
    assert r.status_code == 200 and r.data == b""
    assert wait_for(lambda: _notices(rt))
    assert _notices(rt)[0].payload == {"content": "已收到。"}
