"""WeCom's retries of a message answered late (issue 18, the deadline surge): acknowledged at once, the
message still handled once and answered once; both databases, with and without Redis."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from bot.core.messages import Reply
from models import AuditLog, InboxMessage, Notice, Person
from tests.support import AES, AGENT, CORP, TOKEN, Spy, count, make_app, post, wait_for, wecom_config
from tests.wecom_peer import WeComPeer

USER = "liuzhaoxuan"


@pytest.fixture(params=["memory", "redis"])
def bot(request, db_url, tmp_path, monkeypatch):
    extra = {"REDIS_URL": request.getfixturevalue("redis_url")} if request.param == "redis" else {}
    app = make_app(db_url, tmp_path, **wecom_config(PASSIVE_REPLY_SECONDS=0.6, **extra))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add(Person(name="刘昭暄", wecom_userid=USER))
    rt.spy = Spy(rt.router)
    monkeypatch.setattr(rt, "router", rt.spy)
    app.client = app.test_client()
    yield app
    rt.db.dispose()


def test_a_retry_of_a_late_message_is_acknowledged_at_once_and_answered_once(bot):
    rt = bot.extensions["bot"]
    release = threading.Event()

    def slow(ctx):
        release.wait(10)
        from bot.infra.audit import record

        record(ctx.session, actor=ctx.person, action="test.slow", entity="person", entity_id=ctx.person.id)
        return Reply("已为您登记。")

    rt.spy.answer = slow
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    callback = peer.text(USER, "慢", msg_id=424242)
    assert post(bot.client, callback).data == b""  # the first copy: late, through the outbox
    for _ in range(3):  # WeCom's retries, while the first copy still runs
        started = time.monotonic()
        r = post(bot.client, callback)
        assert r.status_code == 200 and r.data == b""
        # not handed to a handler thread that waits for the first copy (and its reply budget)
        assert time.monotonic() - started < 0.45
    release.set()
    assert wait_for(lambda: count(rt, Notice) == 1 and count(rt, InboxMessage) == 0)
    with rt.db.session() as s:
        [n] = s.scalars(select(Notice)).all()
    assert n.payload == {"content": "已为您登记。"} and count(rt, AuditLog) == 1
    assert len(rt.spy.seen) == 1  # handled once
    assert post(bot.client, callback).data == b""  # a retry after it is done: a plain duplicate
    time.sleep(0.3)
    assert count(rt, Notice) == 1 and count(rt, AuditLog) == 1


def test_with_every_handler_thread_busy_a_message_is_accepted_at_once_and_answered_late(bot, monkeypatch):
    """Every handler thread busy: the request does not wait for a passive answer behind them."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.channels.wecom import callback as wecom

    rt = bot.extensions["bot"]
    release = threading.Event()
    one = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(wecom, "pool", lambda *_: one)
    from bot.core import replies

    replies._submit(one, release.wait, 10)  # the only handler thread is busy with a message
    rt.spy.answer = lambda ctx: Reply("好的。")
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    started = time.monotonic()
    r = post(bot.client, peer.text(USER, "帮助"))
    assert r.status_code == 200 and r.data == b"" and time.monotonic() - started < 0.45
    assert count(rt, InboxMessage) == 1  # durable before the empty 200
    release.set()
    assert wait_for(lambda: count(rt, Notice) == 1 and count(rt, InboxMessage) == 0)
    with rt.db.session() as s:
        [n] = s.scalars(select(Notice)).all()
    assert n.payload == {"content": "好的。"} and n.kind == "reply"
    one.shutdown()


def test_handler_threads_leave_connections_to_the_request_threads():
    from bot.channels.common import handler_threads
    from config.settings import Settings

    pg = "postgresql+psycopg://u@h/db"
    assert handler_threads(Settings.load({"DATABASE_URL": pg}), 32) == 20  # 10 + 20 connections, 10 left over
    assert handler_threads(Settings.load({"DATABASE_URL": pg, "DATABASE_POOL_SIZE": 8,
                                          "DATABASE_MAX_OVERFLOW": 8}), 32) == 6
    assert handler_threads(Settings.load({"DATABASE_URL": pg, "DATABASE_POOL_SIZE": 2,
                                          "DATABASE_MAX_OVERFLOW": 0}), 32) == 2
    assert handler_threads(Settings.load({"DATABASE_URL": "sqlite:///x.db"}), 32) == 32
