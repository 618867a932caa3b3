"""The outbox sender against the fake WeCom server: delivery, retries, limits, splitting, crashes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.delivery import outbox
from bot.delivery.sender import LEASE_SECONDS, PROGRESS, RateLimiter, Sender, start_embedded
from bot.delivery.textsplit import utf8_len
from bot.tools.fakes.wecom_server import FakeWeCom
from models import AuditLog, ChatGroup, Notice, Person, utcnow
from tests.support import ROOT, Now, make_app
from tests.threads import at_once

CORP, SECRET, AGENT = "wwsendertest", "sender-secret", 1000002
KEY_SUP, KEY_OFFICE = "robot-key-supervision", "robot-key-office"


@pytest.fixture
def fake():
    with FakeWeCom(CORP, SECRET, {KEY_SUP, KEY_OFFICE}, agent_id=AGENT) as f:
        yield f


def config(fake, **extra):
    cfg = dict(WECOM_CORP_ID=CORP, WECOM_SECRET=SECRET, WECOM_AGENT_ID=str(AGENT), WECOM_API_BASE=fake.base_url,
               OUTBOX_MAX_ATTEMPTS=4, HTTP_TIMEOUT_SECONDS=2.0)
    cfg.update(extra)
    return cfg


def add_groups(rt):
    with rt.db.session() as s:
        s.add(ChatGroup(code="supervision", name="督导考核组工作群", robot_key=KEY_SUP))
        s.add(ChatGroup(code="office", name="专班办公室群", robot_key_env="TEST_SENDER_ROBOT_OFFICE"))
        s.add(ChatGroup(code="liaisons", name="调度联络员群", robot_key_env="TEST_SENDER_UNSET_KEY"))


@pytest.fixture
def rt(db_url, tmp_path, fake, monkeypatch):
    monkeypatch.setenv("TEST_SENDER_ROBOT_OFFICE", KEY_OFFICE)
    monkeypatch.delenv("TEST_SENDER_UNSET_KEY", raising=False)
    app = make_app(db_url, tmp_path, **config(fake))
    runtime = app.extensions["bot"]
    add_groups(runtime)
    yield runtime
    runtime.db.dispose()


def to_user(rt, user, content, msgtype="text", **kw):
    with rt.db.session() as s:
        n = outbox.enqueue(s, target_kind="user", target=user, msgtype=msgtype, payload={"content": content}, **kw)
        s.flush()
        return n.id


def to_group(rt, code, content, msgtype="markdown", mentioned_mobile_list=(), mentioned_list=(), **payload):
    """A group notice; the people it @-mentions are made here: one with each mobile, one with each WeCom id."""
    with rt.db.session() as s:
        people = ([Person(name="手机", mobile=m) for m in mentioned_mobile_list]
                  + [Person(name="用户", wecom_userid=u) for u in mentioned_list])
        s.add_all(people)
        s.flush()
        if people:
            payload[outbox.MENTION] = [p.id for p in people]
        n = outbox.enqueue(s, target_kind="group", target=code, msgtype=msgtype,
                           payload={"content": content, **payload})
        return n.id


def notices(rt):
    with rt.db.session() as s:
        return {n.id: n for n in s.scalars(select(Notice))}


def contents(fake):
    out = []
    for item in fake.sent:
        body = item["payload"][item["msgtype"]]
        out.append(body.get("content") if isinstance(body, dict) else body)
    return out


def drain(sender, now, passes=30, step=700):
    """Run passes, jumping past any backoff, until nothing is pending."""
    for _ in range(passes):
        sender.run_once()
        with sender.runtime.db.session() as s:
            if not s.scalar(select(func.count()).select_from(Notice).where(Notice.state == "pending")):
                return
        now.advance(step)
    raise AssertionError("notices still pending")


# -- delivery ----------------------------------------------------------------------------------

def test_delivers_app_and_robot_messages(rt, fake):
    uid = to_user(rt, "zhangsan", "您好，请于12月5日18:00前报送进展。")
    md = to_group(rt, "supervision", "**督查台账**\n> 3项逾期")
    txt = to_group(rt, "office", "请以下同志报送", msgtype="text", mentioned_mobile_list=["13800000000"],
                   mentioned_list=["lisi"])
    stats = Sender(rt).run_once()
    assert (stats.sent, stats.failed, stats.retried) == (3, 0, 0)
    by_kind = {(i["kind"], i["msgtype"]): i for i in fake.sent}
    app = by_kind[("app", "text")]
    assert app["touser"] == ["zhangsan"] and app["payload"]["agentid"] == AGENT
    assert app["payload"]["text"]["content"].startswith("您好")
    assert by_kind[("robot", "markdown")]["key"] == KEY_SUP
    text = by_kind[("robot", "text")]
    assert text["key"] == KEY_OFFICE  # resolved from the env var named by robot_key_env
    assert text["payload"]["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert text["payload"]["text"]["mentioned_list"] == ["lisi"]
    rows = notices(rt)
    assert all(rows[i].state == "sent" and rows[i].sent_at is not None for i in (uid, md, txt))
    assert Sender(rt).run_once().handled == 0  # nothing is sent twice


def test_textcard_app_message(rt, fake):
    with rt.db.session() as s:
        outbox.enqueue(s, target_kind="user", target="wangwu", msgtype="textcard",
                       payload={"title": "督办提醒", "description": "M12 已逾期3天", "url": "https://example.org/m12"})
    assert Sender(rt).run_once().sent == 1
    assert fake.sent[0]["payload"]["textcard"]["title"] == "督办提醒"


def test_other_channels_are_left_alone(rt, fake):
    with rt.db.session() as s:
        outbox.enqueue(s, target_kind="user", target="someone", msgtype="text", payload={"content": "x"},
                       channel="other")
    assert Sender(rt).run_once().handled == 0
    assert [n.state for n in notices(rt).values()] == ["pending"] and fake.sent == []


# -- failures ----------------------------------------------------------------------------------

def test_failing_for_a_while_then_every_notice_delivered_once(rt, fake):
    ids = [to_user(rt, f"user{i % 3}", f"提醒第{i}条") for i in range(8)]
    ids += [to_group(rt, "supervision", f"群通报第{i}条") for i in range(4)]
    fake.fail_next(9, http_status=502)
    fake.fail_next(2, errcode=-1)  # "system busy"
    now = Now()
    drain(Sender(rt, now=now), now)
    sent = Counter(contents(fake))
    assert sorted(sent) == sorted([f"提醒第{i}条" for i in range(8)] + [f"群通报第{i}条" for i in range(4)])
    assert set(sent.values()) == {1}
    rows = notices(rt)
    assert {rows[i].state for i in ids} == {"sent"}
    assert sum(rows[i].attempts for i in ids) >= 3  # the failures were counted as attempts


def test_hanging_server_is_a_retry_not_a_loss(db_url, tmp_path, fake):
    rt = make_app(db_url, tmp_path, **config(fake, HTTP_TIMEOUT_SECONDS=0.3)).extensions["bot"]
    nid = to_user(rt, "zhangsan", "请回复")
    fake.fail_next(1, hang=5, http_status=502, path="/cgi-bin/message/send")
    now = Now()
    sender = Sender(rt, now=now)
    assert sender.run_once().retried == 1
    n = notices(rt)[nid]
    assert n.state == "pending" and n.attempts == 1 and "timeout" in n.last_error
    fake.reset()  # releases the hanging request
    now.advance(60)
    assert sender.run_once().sent == 1
    assert contents(fake) == ["请回复"]


def test_45009_backs_off_at_least_a_minute(rt, fake):
    nid = to_group(rt, "supervision", "本周督查通报")
    fake.fail_next(1, errcode=45009, path="/cgi-bin/webhook/send")
    now = Now()
    sender = Sender(rt, now=now)
    assert sender.run_once().retried == 1
    n = notices(rt)[nid]
    assert n.state == "pending" and n.attempts == 1 and "45009" in n.last_error
    assert n.next_attempt_at >= now() + timedelta(seconds=59)
    now.advance(30)
    assert sender.run_once().handled == 0  # still backing off
    now.advance(31)
    assert sender.run_once().sent == 1 and contents(fake) == ["本周督查通报"]


def test_exponential_backoff_then_failed_after_max_attempts(rt, fake):
    nid = to_user(rt, "zhangsan", "x")
    fake.fail_for(10_000, http_status=503)
    now = Now()
    sender = Sender(rt, now=now)
    waits = []
    for _ in range(4):
        sender.run_once()
        n = notices(rt)[nid]
        waits.append((n.next_attempt_at - now()).total_seconds())
        now.advance(700)
    assert n.state == "failed" and n.attempts == 4
    assert n.last_error.startswith("gave up after 4 attempts") and "503" in n.last_error
    assert 1.5 < waits[0] < 2.5 and 3 < waits[1] < 5 and 6 < waits[2] < 10  # 2 s, 4 s, 8 s ± jitter


@pytest.mark.parametrize("setup, reason", [
    (lambda fake: fake.remove_robot(KEY_SUP), "93000"),
    (lambda fake: None, "no robot key"),
])
def test_bad_robot_key_fails_at_once_with_reason(rt, fake, runner_for, setup, reason):
    setup(fake)
    nid = to_group(rt, "supervision" if reason == "93000" else "liaisons", "通报")
    stats = Sender(rt).run_once()
    assert stats.failed == 1
    n = notices(rt)[nid]
    assert n.state == "failed" and n.attempts == 1 and reason in n.last_error
    assert KEY_SUP not in n.last_error  # the key is a credential
    out = runner_for(rt).invoke(args=["outbox", "list", "--state", "failed"]).output
    assert f"{nid:>6}  failed" in out and reason in out


def test_bad_secret_is_a_configuration_failure(db_url, tmp_path, fake):
    rt = make_app(db_url, tmp_path, **config(fake, WECOM_SECRET="wrong")).extensions["bot"]
    nid = to_user(rt, "zhangsan", "x")
    Sender(rt).run_once()
    n = notices(rt)[nid]
    assert n.state == "failed" and "40001" in n.last_error and fake.hits["gettoken"] == 1


def test_expired_token_refreshed_once(rt, fake):
    to_user(rt, "a", "一")
    sender = Sender(rt)
    sender.run_once()
    fake.expire_tokens()
    to_user(rt, "a", "二")
    assert sender.run_once().sent == 1
    assert contents(fake) == ["一", "二"] and fake.gettoken_calls == 2


def test_invalid_user_fails(db_url, tmp_path):
    with FakeWeCom(CORP, SECRET, agent_id=AGENT, known_users={"known"}) as fake:
        rt = make_app(db_url, tmp_path, **config(fake)).extensions["bot"]
        nid = to_user(rt, "ghost", "x")
        Sender(rt).run_once()
        n = notices(rt)[nid]
        assert n.state == "failed" and "81013" in n.last_error


# -- rate limits ---------------------------------------------------------------------------------

def test_robot_and_member_limits_defer_instead_of_sending(rt, fake):
    robot_ids = [to_group(rt, "supervision", f"群{i}") for i in range(24)]
    member_ids = [to_user(rt, "zhangsan", f"私{i}") for i in range(33)]
    stats = Sender(rt).run_once(limit=500)
    assert stats.sent == 20 + 30 and stats.deferred >= 7
    assert fake.hits["webhook_send"] == 20 and fake.dropped == []  # never hit 45009, nothing dropped
    rows = notices(rt)
    waiting = [rows[i] for i in robot_ids + member_ids if rows[i].state == "pending"]
    assert len(waiting) == 7
    assert all(n.attempts == 0 and n.next_attempt_at > utcnow() for n in waiting)


def test_rate_limits_are_shared_through_redis(db_url, redis_url, tmp_path, fake):
    a = make_app(db_url, tmp_path / "a", REDIS_URL=redis_url, **config(fake)).extensions["bot"]
    b = make_app(db_url, tmp_path / "b", REDIS_URL=redis_url, **config(fake)).extensions["bot"]
    add_groups(a)
    for i in range(15):
        to_group(a, "supervision", f"甲{i}")
    assert Sender(a).run_once().sent == 15
    for i in range(15):
        to_group(b, "supervision", f"乙{i}")
    assert Sender(b).run_once(limit=100).sent == 5  # the other process already used 15 of 20
    assert fake.hits["webhook_send"] == 20


def test_rate_limiter_window():
    from bot.infra.kv import MemoryKV

    limiter = RateLimiter(MemoryKV(), window=0.2)
    assert [limiter.take("x", 3) for _ in range(4)] == [True, True, True, False]
    assert limiter.take("y", 3)  # names are independent
    time.sleep(0.25)
    assert limiter.take("x", 3)


# -- splitting -----------------------------------------------------------------------------------

def test_long_content_split_at_byte_limits_without_cutting_characters(rt, fake):
    long_cn = "".join(f"第{i}项：南埔镇道路提升工程，完成率百分之{i % 100}。👍\n" for i in range(200))
    to_user(rt, "zhangsan", long_cn)
    to_group(rt, "supervision", long_cn, msgtype="markdown")
    to_group(rt, "office", long_cn, msgtype="text", mentioned_list=["lisi"])
    assert Sender(rt).run_once().sent == 3
    parts = {}
    for item in fake.sent:
        parts.setdefault((item["kind"], item["msgtype"]), []).append(item["payload"][item["msgtype"]])
    for (kind, msgtype), bodies in parts.items():
        limit = 4096 if (kind, msgtype) == ("robot", "markdown") else 2048
        assert len(bodies) > 1
        assert all(utf8_len(b["content"]) <= limit for b in bodies)
        assert "".join(b["content"] for b in bodies) == long_cn
    robot_text = parts[("robot", "text")]
    assert robot_text[0]["mentioned_list"] == ["lisi"]
    assert all("mentioned_list" not in b for b in robot_text[1:])


def test_retry_resumes_after_the_parts_already_sent(rt, fake, monkeypatch):
    text = "甲" * 600 + "乙" * 600 + "丙" * 600  # 5400 bytes: 3 parts of at most 2048
    nid = to_user(rt, "zhangsan", text)
    sender = Sender(rt)
    client = sender.transports["wecom"].client
    real, calls = client.send_app, []

    def flaky(users, msgtype, body):
        calls.append(body["content"][0])
        if len(calls) == 2:
            from bot.channels.wecom.api import RetryableError
            raise RetryableError(None, "HTTP 502")
        return real(users, msgtype, body)

    monkeypatch.setattr(client, "send_app", flaky)
    now = Now()
    sender.now = now
    sender.run_once()
    n = notices(rt)[nid]
    assert n.state == "pending" and n.payload[PROGRESS] == 1
    now.advance(60)
    sender.run_once()
    assert notices(rt)[nid].state == "sent"
    assert "".join(contents(fake)) == text and len(fake.sent) == 3  # the first part was not repeated
    assert calls == ["甲", "乙", "乙", "丙"]  # part 2 failed once, then parts 2 and 3; part 1 once


# -- concurrency and crashes ---------------------------------------------------------------------

def test_two_senders_concurrently_never_double_send(db_url, tmp_path, fake):
    a = make_app(db_url, tmp_path / "a", **config(fake)).extensions["bot"]
    b = make_app(db_url, tmp_path / "b", **config(fake)).extensions["bot"]
    expected = [f"并发{i}" for i in range(40)]
    for i, text in enumerate(expected):
        to_user(a, f"user{i % 8}", text)
    fake.fail_for(60, hang=0.01, path="/cgi-bin/message/send")  # slow sends, so the senders overlap
    stats = dict(zip("ab", at_once([lambda rt=rt: Sender(rt).run_once(limit=100) for rt in (a, b)]), strict=False))
    assert sorted(contents(fake)) == sorted(expected)
    assert stats["a"].sent + stats["b"].sent == 40
    assert set(stats["a"].ids).isdisjoint(stats["b"].ids)
    assert stats["a"].sent > 0 and stats["b"].sent > 0


CHILD = r"""
import os, sys, time
sys.path.insert(0, os.environ["ROOT"])
from tests.support import make_app
from bot.delivery import outbox
from bot.delivery.sender import Sender
from pathlib import Path
rt = make_app(os.environ["DB_URL"], Path(os.environ["TMP"]), WECOM_CORP_ID=os.environ["CORP"],
              WECOM_SECRET=os.environ["SECRET"], WECOM_AGENT_ID=os.environ["AGENT"],
              WECOM_API_BASE=os.environ["BASE"], HTTP_TIMEOUT_SECONDS=30).extensions["bot"]
with rt.db.session() as s:
    outbox.enqueue(s, target_kind="user", target="zhangsan", msgtype="text", payload={"content": "不可丢失"})
print("queued", flush=True)
if os.environ["MODE"] == "sending":
    Sender(rt).run_once()  # hangs in the HTTP call until killed
time.sleep(60)
"""


@pytest.mark.parametrize("mode", ["queued", "sending"])
def test_sigkill_loses_nothing(db_url, tmp_path, fake, mode):
    if mode == "sending":
        fake.fail_next(1, hang=30, http_status=502, path="/cgi-bin/message/send")
    env = dict(os.environ, ROOT=str(ROOT), DB_URL=db_url, TMP=str(tmp_path), CORP=CORP, SECRET=SECRET,
               AGENT=str(AGENT), BASE=fake.base_url, MODE=mode)
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "queued"
        deadline = time.monotonic() + 20
        while mode == "sending" and fake.hits["send"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mode == "queued" or fake.hits["send"] == 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    fake.reset()  # releases the hanging request (it answers 502: nothing was delivered)
    rt = make_app(db_url, tmp_path, **config(fake)).extensions["bot"]
    now = Now()
    now.advance(LEASE_SECONDS + 1)  # SQLite: the dead sender's lease runs out
    deadline = time.monotonic() + 10  # PostgreSQL: the dead connection's row lock is released
    while not contents(fake) and time.monotonic() < deadline:
        Sender(rt, now=now).run_once()
        time.sleep(0.05)
    assert contents(fake) == ["不可丢失"]
    assert [n.state for n in notices(rt).values()] == ["sent"]


def test_embedded_sender_thread_delivers_and_stops(rt, fake):
    thread = start_embedded(rt)
    try:
        assert thread.daemon and thread.is_alive()
        to_user(rt, "zhangsan", "后台发送")
        deadline = time.monotonic() + 10
        while not fake.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        thread.stop()
    assert contents(fake) == ["后台发送"] and not thread.is_alive()


# -- command line --------------------------------------------------------------------------------

@pytest.fixture
def runner_for():
    def make(rt):
        from flask import Flask

        from bot.delivery.sender import register_cli

        app = Flask("outbox-cli-test")
        app.extensions["bot"] = rt
        register_cli(app)
        return app.test_cli_runner()
    return make


def test_cli_send_pending_list_and_retry(rt, fake, runner_for):
    runner = runner_for(rt)
    assert runner.invoke(args=["outbox", "list"]).output.strip() == "no notices"
    to_user(rt, "zhangsan", "命令行发送")
    fake.remove_robot(KEY_SUP)
    bad = to_group(rt, "supervision", "发不出去")
    out = runner.invoke(args=["outbox", "send-pending"]).output
    assert "sent 1" in out and "failed 1" in out
    listing = runner.invoke(args=["outbox", "list"]).output
    assert "sent" in listing and "命令行发送" in listing and "93000" in listing
    assert runner.invoke(args=["outbox", "retry", "999"]).exit_code == 1
    result = runner.invoke(args=["outbox", "retry", str(bad)])
    assert result.exit_code == 0 and "1 notice(s)" in result.output
    n = notices(rt)[bad]
    assert n.state == "pending" and n.attempts == 0
    with rt.db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.entity == "notice")).one()
        assert audit.action == "outbox.retry" and audit.before["state"] == "failed"
    fake.reset()
    assert "sent 1" in runner.invoke(args=["outbox", "send-pending"]).output
    assert contents(fake) == ["发不出去"]


def test_cli_commands_registered_on_the_app(runner):
    out = runner.invoke(args=["outbox", "--help"]).output
    for cmd in ("list", "send-pending", "retry", "run"):
        assert cmd in out


def test_without_credentials_nothing_is_called_and_outbox_list_says_why(db_url, tmp_path, fake, runner_for):
    """Issue 15: `serve` without WeCom credentials used to call gettoken with an empty corpid, and retry."""
    app = make_app(db_url, tmp_path, **{**config(fake), "WECOM_CORP_ID": "", "WECOM_SECRET": ""})
    rt = app.extensions["bot"]
    nid = to_user(rt, "liuzhaoxuan", "您好")
    stats = Sender(rt).run_once()
    n = notices(rt)[nid]
    assert n.state == "pending" and n.attempts == 0 and stats.deferred == 1
    assert n.last_error == "waiting: wecom is not configured (WECOM_CORP_ID, WECOM_SECRET unset)"
    assert fake.sent == [] and fake.hits["gettoken"] == 0
    listing = app.test_cli_runner().invoke(args=["outbox", "list"]).output
    assert "waiting: wecom is not configured" in listing
    from bot.delivery.sender import unconfigured_channels

    assert unconfigured_channels(rt.settings)["wecom"] == ["WECOM_CORP_ID", "WECOM_SECRET"]
    rt.db.dispose()
