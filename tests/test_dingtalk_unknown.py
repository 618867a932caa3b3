"""A DingTalk send that DingTalk accepts but does not answer within the HTTP timeout: its outcome is
unknown (it may have been delivered) and DingTalk's send APIs have no duplicate check, so the notice is
parked as `unknown` — never resent by the sender — and shown by `outbox list` for the operator to settle
(`outbox retry` resends it, `outbox delivered` marks it sent). Other timeouts stay retryable."""
from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from bot.channels.common import RetryableError, UnknownOutcome
from bot.channels.dingtalk.api import DingTalkClient
from bot.delivery import outbox
from bot.delivery.sender import PROGRESS
from bot.infra.kv import MemoryKV
from bot.tools.fakes.dingtalk_server import FakeDingTalk
from models import AuditLog, ChatGroup, Person
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
from tests.support import Now, make_app

HANG = 3.5  # the fake answers (and delivers) after this; the client's timeout is 2 s


@pytest.fixture
def fake():
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE, robots={ROBOT_TOKEN: ROBOT_SECRET}) as fk:
        yield fk


@pytest.fixture
def bot(db_url, tmp_path, fake):
    app = make_app(db_url, tmp_path, **dt_config(fake))
    app.rt = app.extensions["bot"]
    with app.rt.db.session() as s:
        s.add(Person(name=NAME, dingtalk_userid=USER, mobile="13900000001"))
    yield app
    app.rt.db.dispose()


def _to_user(rt, text):
    with rt.db.session() as s:
        outbox.to_person(s, s.scalar(select(Person)), text, channel="dingtalk")


def _landed(fake, n=1):
    deadline = time.time() + HANG + 3
    while len(fake.sent) < n and time.time() < deadline:
        time.sleep(0.1)
    return fake.sent


def test_an_unanswered_one_to_one_send_is_parked_unknown_and_never_resent_by_the_sender(bot, fake):
    rt = bot.rt
    _to_user(rt, "请于12月5日前报送进展。")
    fake.fail_next(1, hang=HANG, path="/v1.0/robot/oToMessages/batchSend")
    now = Now()
    stats = send(rt, now)
    assert (stats.unknown, stats.retried, stats.failed, stats.sent) == (1, 0, 0, 0)
    [n] = notices(rt)
    assert n.state == "unknown" and n.attempts == 1
    assert "unknown outcome, not resent" in n.last_error and "no answer to a send" in n.last_error
    assert len(_landed(fake)) == 1  # DingTalk did deliver it, late
    for _ in range(3):  # an hour later, a day later…: the sender never picks it up again
        now.advance(3600 * 8)
        assert send(rt, now).handled == 0
    assert len(delivered(fake)) == 1 and notices(rt)[0].state == "unknown"
    out = bot.test_cli_runner().invoke(args=["outbox", "list", "--state", "unknown"]).output
    assert f"{n.id:>6}  unknown" in out and "unknown outcome" in out


def test_the_operator_settles_it_delivered_or_resends_it(bot, fake):
    rt = bot.rt
    _to_user(rt, "第一条")
    _to_user(rt, "第二条")
    fake.fail_next(2, hang=HANG, path="/v1.0/robot/oToMessages/batchSend")
    assert send(rt).unknown == 2
    first, second = notices(rt)
    runner = bot.test_cli_runner()
    r = runner.invoke(args=["outbox", "delivered", str(first.id)])  # the recipient confirmed it arrived
    assert r.exit_code == 0 and "1 notice(s) marked delivered" in r.output
    r = runner.invoke(args=["outbox", "retry", str(second.id)])  # …and that this one did not
    assert r.exit_code == 0 and "1 notice(s) queued again" in r.output
    _landed(fake, 2)
    assert send(rt).sent == 1
    states = {n.id: n.state for n in notices(rt)}
    assert states == {first.id: "sent", second.id: "sent"}
    assert [content_of(x) for x in delivered(fake)].count("第二条") == 2  # the operator's choice, not the bot's
    assert [content_of(x) for x in delivered(fake)].count("第一条") == 1
    with rt.db.session() as s:
        actions = sorted(a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "notice")))
    assert actions == ["outbox.delivered", "outbox.retry"]
    r = runner.invoke(args=["outbox", "delivered", str(first.id)])
    assert r.exit_code == 1 and "not of unknown outcome" in r.output


def test_a_group_robot_send_unanswered_is_unknown_too(bot, fake):
    rt = bot.rt
    with rt.db.session() as s:
        s.add(ChatGroup(code="supervision", name="督导考核组工作群", channel="dingtalk",
                        robot_key=ROBOT_TOKEN, robot_secret=ROBOT_SECRET))
    with rt.db.session() as s:
        outbox.to_group(s, "supervision", "**通报**", channel="dingtalk")
    fake.fail_next(1, hang=HANG, path="/robot/send")
    assert send(rt).unknown == 1
    assert notices(rt)[0].state == "unknown" and len(_landed(fake)) == 1


def test_a_long_message_keeps_the_parts_delivered_before_the_unanswered_one(bot, fake, monkeypatch):
    rt = bot.rt
    _to_user(rt, "\n".join(f"第{i}行：" + "进展情况说明" * 20 for i in range(60)))  # several parts
    calls = []
    injected = fake._injected

    def second_part_hangs(path):  # the fake's own rules count every call; this one hangs only the 2nd send
        if path == "/v1.0/robot/oToMessages/batchSend":
            calls.append(path)
            if len(calls) == 2:
                time.sleep(HANG)
        return injected(path)

    monkeypatch.setattr(fake, "_injected", second_part_hangs)
    assert send(rt).unknown == 1
    [n] = notices(rt)
    assert n.state == "unknown" and n.payload[PROGRESS] == 1 and "(part 2)" in n.last_error


def test_other_timeouts_are_plain_retryable_errors(fake):
    """A timeout fetching the token or uploading a file sends nothing to anyone: retried as before."""
    client = DingTalkClient(fake.base_url, fake.base_url, APP_KEY, APP_SECRET, ROBOT_CODE, MemoryKV(), timeout=1.0)
    fake.fail_next(1, hang=2.5, path="/v1.0/oauth2/accessToken")
    with pytest.raises(RetryableError) as exc:
        client.batch_send([USER], "sampleText", {"content": "x"})
    assert not isinstance(exc.value, UnknownOutcome)
    fake.fail_next(1, hang=2.5, path="/media/upload")
    with pytest.raises(RetryableError) as exc:
        client.media_upload("a.docx", b"x")
    assert not isinstance(exc.value, UnknownOutcome)
    fake.fail_next(1, hang=2.5, path="/v1.0/robot/oToMessages/batchSend")
    with pytest.raises(UnknownOutcome):
        client.batch_send([USER], "sampleText", {"content": "x"})


def test_a_connection_refused_send_is_retryable_not_unknown(fake):
    client = DingTalkClient("http://127.0.0.1:9", "http://127.0.0.1:9", APP_KEY, APP_SECRET, ROBOT_CODE,
                            MemoryKV(), timeout=1.0, session=requests.Session())
    with pytest.raises(RetryableError) as exc:
        client.robot_send("tok", None, {"msgtype": "text", "text": {"content": "x"}})
    assert not isinstance(exc.value, UnknownOutcome)
