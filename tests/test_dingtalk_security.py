# ruff: noqa: F811 - the fixtures imported from tests/dingtalk_support.py are parameters here
"""DingTalk callbacks forged with a valid sign (issue 11, items 1–2): the bot POSTs only to DingTalk's own
sessionWebhook endpoint, never for an unregistered sender, and a (timestamp, sign) pair carries one
message only. A recording sink on loopback stands for every address an attacker might name."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.dingtalk import api as dingtalk_api
from bot.channels.dingtalk import callback as dingtalk
from bot.channels.dingtalk.api import DingTalkClient, PermanentError
from bot.infra.kv import MemoryKV
from models import TARGET_WEBHOOK
from tests.dingtalk_support import APP_SECRET, ROBOT_CODE, USER, bot, delivered, dt_config, fake, notices, peer, send  # noqa: F401 - fixtures
from tests.support import make_app


class Sink:
    """An HTTP server on loopback that records every request and answers errcode 0."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                sink.seen.append((self.command, self.path))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def hostile_urls(fake, sink):
    host, port = "127.0.0.1", sink.port
    path = "/robot/sendBySession?session=stolen"
    return [
        f"http://{host}:{port}{path}",  # another port of the same host
        f"http://oapi.dingtalk.com@{host}:{port}{path}",  # user info before the real host
        f"{fake.base_url}@{host}:{port}{path}",
        f"https://{fake.base_url.split('//')[1]}{path}",  # another scheme
        f"{fake.base_url}/robot/send?access_token=x&session=y",  # another path of the right host
        f"{fake.base_url}/robot/sendBySession/../send?session=y",
        f"http://{host}:{port}\\@{fake.base_url.split('//')[1]}{path}",
        f"http://localhost:{port}{path}",
        f"{fake.base_url}/robot/sendBySession",  # no session
    ]


def test_a_signed_callback_cannot_make_the_bot_post_anywhere_but_dingtalk(bot, peer, fake, sink):
    urls = hostile_urls(fake, sink)
    for url in urls:
        assert peer.post(bot.client, peer.text(USER, "帮助", webhook=(url, 9_999_999_999_999))).status_code == 200
    for _ in range(3):
        send(bot.rt)
    assert sink.seen == []
    assert [n.target_kind for n in notices(bot.rt)] == ["user"] * len(urls)
    assert [x["kind"] for x in delivered(fake)] == ["one_to_one"] * len(urls)  # answered all the same


def test_a_queued_webhook_notice_to_a_foreign_url_is_never_called(bot, fake, sink):
    """Rows written before the check (or by any other path) are refused by the client itself."""
    from bot.delivery import outbox

    with bot.rt.db.session() as s:
        outbox.enqueue(s, target_kind=TARGET_WEBHOOK, channel="dingtalk", msgtype="text", key="old",
                       target=f"http://127.0.0.1:{sink.port}/robot/sendBySession?session=x",
                       payload={"content": "旧通知", "user_id": USER, "expires": 9_999_999_999_999})
    send(bot.rt)
    assert sink.seen == [] and [x["kind"] for x in delivered(fake)] == ["one_to_one"]


def test_an_unregistered_sender_is_never_answered_through_its_webhook(bot, peer, fake, sink):
    peer.post(bot.client, peer.text("dt_stranger", "帮助"))
    stranger = peer.text("x", "帮助", webhook=(f"{fake.base_url}/robot/sendBySession?session=s", 9_999_999_999_999))
    del stranger["senderStaffId"]  # an external contact: no staff id, nobody to answer one-to-one
    peer.post(bot.client, stranger)
    send(bot.rt)
    assert [x["kind"] for x in delivered(fake)] == ["one_to_one"] and delivered(fake)[0]["users"] == ["dt_stranger"]


def test_the_client_refuses_foreign_urls_without_a_request(fake, sink):
    client = DingTalkClient(fake.base_url, fake.base_url, "k", APP_SECRET, ROBOT_CODE, MemoryKV())
    for url in hostile_urls(fake, sink):
        with pytest.raises(PermanentError):
            client.session_send(url, dingtalk_api.text_payload("x"))
    assert sink.seen == []
    url, _exp = fake.new_session("cid1")
    client.session_send(url, dingtalk_api.text_payload("你好"))
    assert delivered(fake)[-1]["kind"] == "session"


@pytest.mark.parametrize("url, ok", [
    ("https://oapi.dingtalk.com/robot/sendBySession?session=abc", True),
    ("https://OAPI.dingtalk.com/robot/sendBySession?session=abc", True),
    ("https://oapi.dingtalk.com:443/robot/sendBySession?session=abc", False),  # not what DingTalk sends
    ("http://oapi.dingtalk.com/robot/sendBySession?session=abc", False),
    ("https://oapi.dingtalk.com.evil.cn/robot/sendBySession?session=abc", False),
    ("https://oapi.dingtalk.com@127.0.0.1/robot/sendBySession?session=abc", False),
    ("https://evil.cn/robot/sendBySession?session=abc&x=https://oapi.dingtalk.com", False),
    ("https://oapi.dingtalk.com/robot/sendBySession?session=abc#x", False),
    ("https://oapi.dingtalk.com/robot/sendBySession ?session=abc", False),
    ("https://oapi.dingtalk.com:99999/robot/sendBySession?session=abc", False),
    ("", False), (None, False), (12, False),
])
def test_session_webhook_allowed(url, ok):
    assert dingtalk_api.session_webhook_allowed(url) is ok


@given(st.text(max_size=80))
def test_only_the_endpoint_passes_whatever_follows_the_host(tail):
    url = "https://oapi.dingtalk.com" + tail
    if dingtalk_api.session_webhook_allowed(url):
        assert url.startswith("https://oapi.dingtalk.com/robot/sendBySession?")


# -- item 2: a (timestamp, sign) pair is one message ----------------------------------------------------

def test_a_captured_sign_carries_no_other_message(bot, peer, fake):
    headers = peer.headers()
    first = peer.text(USER, "帮助")
    assert peer.post(bot.client, first, headers=headers).status_code == 200
    forged = peer.text(USER, "我的事项", webhook=fake.new_session("cid-attacker"))
    r = peer.post(bot.client, forged, headers=headers)
    assert r.status_code == 403 and [i.text for i in bot.rt.spy.seen] == ["帮助"]
    assert peer.post(bot.client, first, headers=headers).status_code == 200  # DingTalk retrying it: a duplicate
    assert len(bot.rt.spy.seen) == 1 and len(notices(bot.rt)) == 1


def test_a_captured_sign_carries_no_other_message_with_redis(db_url, tmp_path, fake, redis_url):
    from tests.dingtalk_peer import DingTalkPeer

    app = make_app(db_url, tmp_path, REDIS_URL=redis_url, **dt_config(fake))
    peer = DingTalkPeer(APP_SECRET, ROBOT_CODE, fake=fake)
    client, headers = app.test_client(), peer.headers()
    assert peer.post(client, peer.text(USER, "帮助"), headers=headers).status_code == 200
    assert peer.post(client, peer.text(USER, "帮助"), headers=headers).status_code == 403
    app.extensions["bot"].db.dispose()


@pytest.mark.parametrize("change, status", [
    ({"robotCode": "someone-elses-robot"}, 403), ({"robotCode": None}, 403),
    ({"conversationType": "3"}, 400), ({"conversationType": "2", "conversationId": ""}, 400),
])
def test_a_body_for_another_robot_is_refused(bot, peer, change, status):
    body = {k: v for k, v in {**peer.text(USER, "帮助"), **change}.items() if v is not None}
    assert peer.post(bot.client, body).status_code == status and bot.rt.spy.seen == []


def test_the_corp_id_is_bound_when_configured(db_url, tmp_path, fake):
    from tests.dingtalk_peer import DingTalkPeer

    app = make_app(db_url, tmp_path, DINGTALK_CORP_ID="dingcorp1", **dt_config(fake))
    peer, client = DingTalkPeer(APP_SECRET, ROBOT_CODE, fake=fake), app.test_client()
    assert peer.post(client, peer.text(USER, "帮助", chatbotCorpId="dingcorp2")).status_code == 403
    assert peer.post(client, peer.text(USER, "帮助", chatbotCorpId="dingcorp1")).status_code == 200
    app.extensions["bot"].db.dispose()


def test_claim_sign_ttl_covers_the_window(bot):
    now = 1_800_000_000_000
    dingtalk.claim_sign(bot.rt, str(now - 3_000_000), "s" * 44, "m1", now_ms=now)
    with pytest.raises(dingtalk.Refused):
        dingtalk.claim_sign(bot.rt, str(now - 3_000_000), "s" * 44, "m2", now_ms=now)
    dingtalk.claim_sign(bot.rt, str(now - 3_000_000), "s" * 44, "m1", now_ms=now)
