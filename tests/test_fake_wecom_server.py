"""The fake WeCom server's protocol, limits, failure injection and control API."""

import base64
import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from bot.tools.fakes.wecom_server import FakeWeCom

KEY = "robot-key"
ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def fake(clock):
    with FakeWeCom(robot_keys={KEY}, clock=clock) as f:
        yield f


@pytest.fixture
def http():
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()


def token(fake, http):
    r = http.get(fake.base_url + "/cgi-bin/gettoken",
                 params={"corpid": "wwfakecorp", "corpsecret": "fakesecret"}).json()
    return r["access_token"]


def send(fake, http, tok, payload):
    return http.post(fake.base_url + "/cgi-bin/message/send",
                     params={"access_token": tok}, json=payload).json()


def robot(fake, http, payload, key=KEY):
    return http.post(fake.base_url + "/cgi-bin/webhook/send", params={"key": key},
                     json=payload).json()


def app_text(content, touser="alice"):
    return {"touser": touser, "msgtype": "text", "agentid": 1, "text": {"content": content}}


# -- gettoken ---------------------------------------------------------------

def test_gettoken_checks_corpid_and_secret(fake, http):
    url = fake.base_url + "/cgi-bin/gettoken"
    ok = http.get(url, params={"corpid": "wwfakecorp", "corpsecret": "fakesecret"}).json()
    assert ok["errcode"] == 0 and ok["expires_in"] == 7200 and ok["access_token"]
    assert http.get(url, params={"corpid": "wwfakecorp", "corpsecret": "x"}).json()["errcode"] == 40001
    assert http.get(url, params={"corpid": "x", "corpsecret": "fakesecret"}).json()["errcode"] == 40013
    assert http.get(url, params={"corpsecret": "fakesecret"}).json()["errcode"] == 41002
    assert fake.gettoken_calls == 4


def test_tokens_unknown_expired_and_timed_out(fake, http, clock):
    assert send(fake, http, "nope", app_text("x"))["errcode"] == 40014
    t1 = token(fake, http)
    assert send(fake, http, t1, app_text("x"))["errcode"] == 0
    fake.expire_tokens()
    assert send(fake, http, t1, app_text("x"))["errcode"] == 42001
    t2 = token(fake, http)
    assert t2 != t1 and send(fake, http, t2, app_text("x"))["errcode"] == 0
    clock.advance(7200)
    assert send(fake, http, t2, app_text("x"))["errcode"] == 42001


# -- app messages -----------------------------------------------------------

def test_app_message_validation(fake, http):
    tok = token(fake, http)
    assert send(fake, http, tok, {"msgtype": "text", "agentid": 1,
                                  "text": {"content": "x"}})["errcode"] == 40035
    assert send(fake, http, tok, {"touser": "a", "msgtype": "text",
                                  "text": {"content": "x"}})["errcode"] == 40035
    assert send(fake, http, tok, {"touser": "a", "msgtype": "bogus", "agentid": 1})["errcode"] == 40008
    assert send(fake, http, tok, {"touser": "a", "msgtype": "text", "agentid": 1})["errcode"] == 40035
    assert send(fake, http, tok, app_text(""))["errcode"] == 44004
    assert fake.sent == []


@pytest.mark.parametrize("path", ["/cgi-bin/message/send", "/cgi-bin/message/update_template_card"])
def test_app_calls_check_the_token_then_the_json_body(fake, http, path):
    url = fake.base_url + path
    assert http.post(url, params={"access_token": "nope"}, json={}).json()["errcode"] == 40014
    tok = token(fake, http)
    for body in ({"data": "not json"}, {"json": [1, 2]}):
        assert http.post(url, params={"access_token": tok}, **body).json() == {"errcode": 40035,
                                                                               "errmsg": "invalid json"}
    assert fake.sent == []


def test_app_text_and_markdown_limit_is_2048_bytes(fake, http):
    tok = token(fake, http)
    assert send(fake, http, tok, app_text("中" * 682 + "ab"))["errcode"] == 0  # 2048 bytes
    assert send(fake, http, tok, app_text("中" * 683))["errcode"] == 45002  # 2049 bytes
    md = {"touser": "a", "msgtype": "markdown", "agentid": 1, "markdown": {"content": "x" * 2049}}
    assert send(fake, http, tok, md)["errcode"] == 45002
    assert len(fake.sent) == 1


def test_app_message_recorded_and_answered_ok(fake, http, clock):
    tok = token(fake, http)
    r = send(fake, http, tok, app_text("hi", touser="alice|bob"))
    assert r["errcode"] == 0 and r["errmsg"] == "ok" and r["invaliduser"] == ""
    [rec] = fake.sent
    assert rec["kind"] == "app" and rec["touser"] == ["alice", "bob"]
    assert rec["msgtype"] == "text" and rec["payload"]["text"]["content"] == "hi"
    assert rec["at"] == clock.now


def test_agent_id_checked_when_configured(http):
    with FakeWeCom(agent_id=1000002) as f:
        tok = token(f, http)
        assert send(f, http, tok, app_text("x"))["errcode"] == 40056
        ok = dict(app_text("x"), agentid=1000002)
        assert send(f, http, tok, ok)["errcode"] == 0


def test_known_users_produce_invaliduser(http):
    with FakeWeCom(known_users={"alice"}) as f:
        tok = token(f, http)
        r = send(f, http, tok, app_text("x", touser="alice|ghost|ghost2"))
        assert r["errcode"] == 0 and r["invaliduser"] == "ghost|ghost2"
        r = send(f, http, tok, app_text("x", touser="ghost"))
        assert r["errcode"] == 81013 and r["invaliduser"] == "ghost"


def test_member_limit_30_per_minute_drops_silently(fake, http, clock):
    tok = token(fake, http)
    for i in range(30):
        assert send(fake, http, tok, app_text(str(i)))["errcode"] == 0
    r = send(fake, http, tok, app_text("dropped", touser="alice|bob"))
    assert r["errcode"] == 0  # no error reported, as on the real platform
    assert [d["touser"] for d in fake.dropped] == ["alice"]
    assert fake.sent[-1]["touser"] == ["bob"]
    assert len(fake.sent) == 31
    clock.advance(60)
    send(fake, http, tok, app_text("later"))
    assert fake.sent[-1]["touser"] == ["alice"]
    assert len(fake.dropped) == 1


# -- robots -----------------------------------------------------------------

def test_robot_unknown_and_removed_key_is_93000(fake, http):
    assert robot(fake, http, {"msgtype": "text", "text": {"content": "x"}}, key="other")["errcode"] == 93000
    assert robot(fake, http, {"msgtype": "text", "text": {"content": "x"}})["errcode"] == 0
    fake.remove_robot(KEY)
    assert robot(fake, http, {"msgtype": "text", "text": {"content": "x"}})["errcode"] == 93000


def test_any_key_accepted_without_robot_keys(http):
    with FakeWeCom() as f:
        assert robot(f, http, {"msgtype": "text", "text": {"content": "x"}}, key="any")["errcode"] == 0


def test_robot_size_limits(fake, http):
    def md(n):
        return {"msgtype": "markdown", "markdown": {"content": "x" * n}}

    assert robot(fake, http, md(4096))["errcode"] == 0
    assert robot(fake, http, md(4097))["errcode"] == 45002
    assert robot(fake, http, {"msgtype": "text", "text": {"content": "中" * 683}})["errcode"] == 45002
    assert robot(fake, http, {"msgtype": "nope"})["errcode"] == 40008
    assert len(fake.sent) == 1


def test_robot_rate_limit_20_per_minute(fake, http, clock):
    msg = {"msgtype": "text", "text": {"content": "x"}}
    assert all(robot(fake, http, msg)["errcode"] == 0 for _ in range(20))
    assert robot(fake, http, msg)["errcode"] == 45009
    assert len(fake.sent) == 20
    clock.advance(59)
    assert robot(fake, http, msg)["errcode"] == 45009
    clock.advance(2)
    assert robot(fake, http, msg)["errcode"] == 0
    assert [s["key"] for s in fake.sent] == [KEY] * 21


def test_robot_image_md5_checked(fake, http):
    raw = b"\x89PNG\r\n\x1a\nimage"
    good = {"base64": base64.b64encode(raw).decode(), "md5": hashlib.md5(raw).hexdigest()}
    assert robot(fake, http, {"msgtype": "image", "image": good})["errcode"] == 0
    bad = dict(good, md5="0" * 32)
    assert robot(fake, http, {"msgtype": "image", "image": bad})["errcode"] == 40009


def test_upload_then_file_message(fake, http):
    url = fake.base_url + "/cgi-bin/webhook/upload_media"
    r = http.post(url, params={"key": KEY, "type": "file"},
                  files={"media": ("名单.xlsx", b"0123456789")}).json()
    assert r["errcode"] == 0 and r["type"] == "file" and r["media_id"]
    rec = fake.sent[-1]
    assert rec["kind"] == "upload" and rec["filename"] == "名单.xlsx" and rec["size"] == 10
    ok = robot(fake, http, {"msgtype": "file", "file": {"media_id": r["media_id"]}})
    assert ok["errcode"] == 0
    assert robot(fake, http, {"msgtype": "file", "file": {"media_id": "nope"}})["errcode"] == 40007
    small = http.post(url, params={"key": KEY, "type": "file"}, files={"media": ("a", b"1234")})
    assert small.json()["errcode"] == 40006
    wrong = http.post(url, params={"key": KEY, "type": "image"}, files={"media": ("a", b"12345")})
    assert wrong.json()["errcode"] == 40004
    badkey = http.post(url, params={"key": "x", "type": "file"}, files={"media": ("a", b"12345")})
    assert badkey.json()["errcode"] == 93000


# -- failure injection ------------------------------------------------------

def test_fail_next_errcode_then_recovers(fake, http):
    msg = {"msgtype": "text", "text": {"content": "x"}}
    fake.fail_next(2, errcode=-1)
    assert robot(fake, http, msg)["errcode"] == -1
    assert robot(fake, http, msg)["errcode"] == -1
    assert robot(fake, http, msg)["errcode"] == 0
    assert len(fake.sent) == 1
    assert fake.hits["webhook_send"] == 3


def test_fail_next_http_status_and_path_filter(fake, http):
    fake.fail_next(1, http_status=502, path="/cgi-bin/message/send")
    tok = token(fake, http)  # gettoken not affected by the path filter
    r = http.post(fake.base_url + "/cgi-bin/message/send", params={"access_token": tok},
                  json=app_text("x"))
    assert r.status_code == 502
    assert send(fake, http, tok, app_text("x"))["errcode"] == 0


def test_hang_only_answers_normally_afterwards(fake, http):
    fake.fail_next(1, hang=0.01)
    assert robot(fake, http, {"msgtype": "text", "text": {"content": "x"}})["errcode"] == 0


def test_fail_for_uses_fake_clock(fake, http, clock):
    msg = {"msgtype": "text", "text": {"content": "x"}}
    fake.fail_for(30, errcode=45009)
    assert robot(fake, http, msg)["errcode"] == 45009
    assert robot(fake, http, msg)["errcode"] == 45009
    clock.advance(31)
    assert robot(fake, http, msg)["errcode"] == 0


def test_stop_releases_hanging_request(clock, http):
    fake = FakeWeCom(clock=clock)
    fake.start()
    fake.fail_next(1, hang=600)
    results = []

    def call():
        try:
            results.append(http.get(fake.base_url + "/cgi-bin/gettoken",
                                    params={"corpid": "wwfakecorp", "corpsecret": "fakesecret"}))
        except requests.RequestException as exc:
            results.append(exc)

    t = threading.Thread(target=call)
    t.start()
    while fake.hits["gettoken"] == 0:  # wait until the request is inside the fake
        threading.Event().wait(0.01)
    fake.stop()
    t.join(timeout=30)
    assert not t.is_alive()
    assert len(results) == 1


def test_reset_clears_records_limits_and_rules_but_keeps_tokens(fake, http):
    tok = token(fake, http)
    msg = {"msgtype": "text", "text": {"content": "x"}}
    for _ in range(21):
        robot(fake, http, msg)
    fake.fail_next(5, errcode=-1)
    fake.reset()
    assert fake.sent == [] and fake.dropped == [] and fake.gettoken_calls == 0
    assert robot(fake, http, msg)["errcode"] == 0
    assert send(fake, http, tok, app_text("x"))["errcode"] == 0


def test_concurrent_sends_all_recorded(fake, http):
    tok = token(fake, http)
    errors = []

    def worker(i):
        s = requests.Session()
        s.trust_env = False
        r = send(fake, s, tok, app_text("m%d" % i, touser="user%d" % i))
        if r["errcode"] != 0:
            errors.append(r)
        s.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(s["touser"][0] for s in fake.sent) == sorted("user%d" % i for i in range(16))


# -- control endpoints ------------------------------------------------------

def test_control_sent_since(fake, http):
    msg = {"msgtype": "text", "text": {"content": "x"}}
    for _ in range(3):
        robot(fake, http, msg)
    everything = http.get(fake.base_url + "/_fake/sent").json()
    assert len(everything) == 3 and everything[0]["kind"] == "robot"
    tail = http.get(fake.base_url + "/_fake/sent", params={"since": 2}).json()
    assert len(tail) == 1 and tail[0] == everything[2]


def test_control_fail_and_reset(fake, http, clock):
    msg = {"msgtype": "text", "text": {"content": "x"}}
    r = http.post(fake.base_url + "/_fake/fail", json={"n": 1, "errcode": 93000})
    assert r.json() == {"ok": True}
    assert robot(fake, http, msg)["errcode"] == 93000
    assert robot(fake, http, msg)["errcode"] == 0
    http.post(fake.base_url + "/_fake/fail", json={"seconds": 10, "http_status": 503})
    assert http.post(fake.base_url + "/cgi-bin/webhook/send", params={"key": KEY},
                     json=msg).status_code == 503
    # Control endpoints are never subject to injected failures.
    assert http.get(fake.base_url + "/_fake/sent").status_code == 200
    assert http.post(fake.base_url + "/_fake/reset").json() == {"ok": True}
    assert robot(fake, http, msg)["errcode"] == 0
    assert len(http.get(fake.base_url + "/_fake/sent").json()) == 1
    bad = http.post(fake.base_url + "/_fake/fail", json={"n": "many"})
    assert bad.status_code == 400


def test_control_expire_tokens(fake, http):
    tok = token(fake, http)
    http.post(fake.base_url + "/_fake/expire_tokens")
    assert send(fake, http, tok, app_text("x"))["errcode"] == 42001


def test_context_manager_stops_server(http):
    with FakeWeCom() as f:
        url = f.base_url
        assert url.startswith("http://127.0.0.1:")
    with pytest.raises(requests.ConnectionError):
        http.get(url + "/_fake/sent", timeout=2)


def test_standalone_prints_base_url(http):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.tools.fakes.wecom_server", "--port", "0", "--robot-key", "k1"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        ok = http.post(base_url + "/cgi-bin/webhook/send", params={"key": "k1"},
                       json={"msgtype": "text", "text": {"content": "x"}}, timeout=5).json()
        assert ok["errcode"] == 0
        bad = http.post(base_url + "/cgi-bin/webhook/send", params={"key": "k2"},
                        json={"msgtype": "text", "text": {"content": "x"}}, timeout=5).json()
        assert bad["errcode"] == 93000
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_a_template_cards_task_id_is_unique_in_the_app(fake, http):
    """WeCom: "同一个应用任务id不能重复" — errcode 42014 for a task_id used before, empty, or over 128 bytes."""
    tok = token(fake, http)

    def card(task_id, touser="alice"):
        return {"touser": touser, "msgtype": "template_card", "agentid": 1, "template_card": {
            "card_type": "button_interaction", "main_title": {"title": "t"}, "task_id": task_id,
            "button_list": [{"text": "ok", "key": "k"}]}}

    assert send(fake, http, tok, card("t-1"))["errcode"] == 0
    assert send(fake, http, tok, card("t-1", touser="bob"))["errcode"] == 42014  # for anyone
    assert send(fake, http, tok, card(""))["errcode"] == 42014
    assert send(fake, http, tok, card("x" * 129))["errcode"] == 42014
    assert send(fake, http, tok, card("t-2", touser="bob"))["errcode"] == 0
    assert [r["touser"] for r in fake.sent] == [["alice"], ["bob"]]
