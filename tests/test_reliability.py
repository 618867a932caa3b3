"""Issue 11, items 7–11: nothing applied twice, nothing lost on a crash or an outage, no duplicate send
behind a slow API. Real concurrency (threads at a barrier) on PostgreSQL, a killed worker process, a
Redis server stopped under load, and the fake WeCom API answering after the HTTP timeout."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.actions.base import Acting
from bot.actions.extension import do_request_extension
from bot.core import replies
from bot.core.messages import DUPLICATE, Incoming
from bot.delivery import outbox
from bot.delivery.sender import UNKNOWN_APP_BACKOFF, UNKNOWN_BACKOFF, UNKNOWN_SINCE, Sender
from bot.domain.ledger import TransitionError
from bot.infra.db import Database
from bot.tools.fakes.wecom_server import FakeWeCom
from models import (
    EXT_PENDING,
    KIND_SLIP,
    SLIP_ISSUED,
    AssignmentSlip,
    ExtensionRequest,
    InboxMessage,
    Matter,
    Minutes,
    Notice,
    Person,
    utcnow,
)
from tests import factories as f
from tests.factories import at
from tests.support import AES, AGENT, CORP, ROOT, SEED_FILE, TOKEN, Spy, make_app, wecom_config
from tests.threads import at_once
from tests.wecom_peer import WeComPeer

NOW = at(2026, 12, 10, 10)
OFFICE_LIAISON = "linyongyong"  # 林勇勇, office liaison of 附件2 row 2 (陈剑锋)
HAPPY = ["录入纪要", "2", "〔2026〕12号", "关于重点项目建设的专题调度会议纪要", "11月20日", "发展和改革局",
         "推进石化科创小镇征迁扫尾", "住建局", "12月31日", "同上", "协调国道G228改线用地", "自然资源", "月底", "无",
         "完成"]  # then 确认: M1, M2 (the dialog of tests/test_minutes.py)


def count(db, model, *where):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# -- 7. nothing applied twice ----------------------------------------------------------------------------

@pytest.fixture(params=["database drafts", "redis drafts"])
def seeded_pg(request, pg_url, tmp_path):
    redis_url = ""
    if request.param == "redis drafts":
        redis_url = os.environ.get("TEST_REDIS_URL") or pytest.skip("TEST_REDIS_URL not set")
    app = make_app(pg_url, tmp_path, REDIS_URL=redis_url)
    rt = app.extensions["bot"]
    if redis_url:
        rt.kv.client.flushdb()
    from bot.actions.seed import load_seed
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
        s.scalar(select(Person).where(Person.wecom_userid == OFFICE_LIAISON)).dingtalk_userid = "dt-lin"
    rt.clock.set(at(2026, 11, 23))
    yield rt
    rt.db.dispose()


def test_the_same_person_confirming_on_wecom_and_dingtalk_at_once_saves_the_minutes_once(seeded_pg):
    rt = seeded_pg
    for says in HAPPY:
        rt.handle_text("wecom", OFFICE_LIAISON, says)
    replies_ = at_once([lambda: rt.handle_text("wecom", OFFICE_LIAISON, "确认"),
                        lambda: rt.handle_text("dingtalk", "dt-lin", "确认")])
    assert count(rt.db, Minutes) == 1
    assert count(rt.db, Matter) == 2
    assert sum("✅" in r.text for r in replies_) == 1, [r.text for r in replies_]
    assert not any("出了问题" in r.text for r in replies_), [r.text for r in replies_]


def test_a_second_confirm_of_a_saved_draft_is_refused_by_its_tombstone(seeded_pg):
    """The tombstone exists (the first 确认 committed) but the draft is still offered — a Redis delete
    that failed, or a load that raced the commit: the second 确认 saves nothing."""
    rt = seeded_pg
    from bot.conversation import store as store_mod
    for says in HAPPY:
        rt.handle_text("wecom", OFFICE_LIAISON, says)
    store = store_mod.store_for(rt)
    with rt.db.session() as s:
        pid = s.scalar(select(Person.id).where(Person.wecom_userid == OFFICE_LIAISON))
        draft = store.load(s, f"person:{pid}")
        assert store_mod.finish(s, draft.doc["id"])  # as if another message had just saved it
        if rt.shared_state:  # ... and dropped the anchor row with it; the Redis delete after it failed
            store_mod._drop_row(s, f"person:{pid}")
    reply = rt.handle_text("wecom", OFFICE_LIAISON, "确认")
    assert count(rt.db, Minutes) == 0
    if rt.shared_state:  # Redis drafts: the load already drops a draft whose tombstone it sees
        assert "没有看懂" in reply.text
    else:  # the database draft is still there: the save is refused
        assert "已经保存过" in reply.text


def test_a_tombstone_refuses_the_save_even_while_the_anchor_still_names_the_draft(seeded_pg):
    """A state no message leaves (the transaction that writes a draft's tombstone drops its anchor), made
    by hand: the load trusts the anchor and offers the draft, and 确认 is still refused by the tombstone."""
    rt = seeded_pg
    from bot.conversation import store as store_mod
    for says in HAPPY:
        rt.handle_text("wecom", OFFICE_LIAISON, says)
    with rt.db.session() as s:
        pid = s.scalar(select(Person.id).where(Person.wecom_userid == OFFICE_LIAISON))
        assert store_mod.finish(s, store_mod.store_for(rt).load(s, f"person:{pid}").doc["id"])
    assert "已经保存过" in rt.handle_text("wecom", OFFICE_LIAISON, "确认").text
    assert count(rt.db, Minutes) == 0


@pytest.fixture
def org_pg(pg_url):
    db = Database(pg_url)
    with db.session() as s:
        o = f.small_org(s)
        m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
        second = f.person(s, "发改副联络员", "ua2", o.fagai)
        ids = {"matter": m.id, "ua": o.ua.id, "ua2": second.id, "leader": o.leader1.id, "fagai": o.fagai.id}
    yield db, ids
    db.dispose()


def test_two_extension_requests_at_once_leave_one_pending(org_pg):
    db, ids = org_pg

    def ask(who, day):
        def go():
            with db.session() as s:
                m = s.get(Matter, ids["matter"])
                try:
                    do_request_extension(Acting(s, s.get(Person, ids[who]), NOW), m, date(2027, 1, day), "资金未到位")
                    return "ok"
                except TransitionError as exc:
                    return exc.code
        return go

    out = at_once([ask("ua", 10), ask("ua2", 20)])
    assert sorted(out) == ["extension_pending", "ok"]
    assert count(db, ExtensionRequest, ExtensionRequest.state == EXT_PENDING) == 1


def test_the_database_refuses_a_second_pending_extension_and_a_second_issue_of_a_slip_row(db_url):
    db = Database(db_url)
    try:
        with db.session() as s:
            o = f.small_org(s)
            m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
            slip = AssignmentSlip(code="JB1", leader_id=o.leader1.id, dispatched_on=date(2026, 12, 1),
                                  drafted_by_id=o.ua.id, state=SLIP_ISSUED, created_at=NOW)
            s.add(slip)
            s.flush()
            ids = dict(m=m.id, ua=o.ua.id, slip=slip.id, unit=o.fagai.id)

        def pending():
            return ExtensionRequest(matter_id=ids["m"], requested_by_id=ids["ua"], old_deadline=date(2026, 12, 20),
                                    new_deadline=date(2027, 1, 20), reason="资金", state=EXT_PENDING, created_at=NOW)

        def slip_row(code):
            return Matter(code=code, kind=KIND_SLIP, slip_id=ids["slip"], seq=1, title="征迁",
                          responsible_unit_id=ids["unit"], deadline=date(2026, 12, 30),
                          original_deadline=date(2026, 12, 30))

        with db.session() as s:
            s.add(pending())
            s.add(slip_row("J1"))
        for extra in (pending, lambda: slip_row("J2")):
            with pytest.raises(IntegrityError):
                with db.session() as s:
                    s.add(extra())
        with db.session() as s:  # decided requests do not count: a new one may be asked
            s.execute(text("UPDATE extension_request SET state = 'refused'"))
            s.add(pending())
    finally:
        db.dispose()


# -- 8. a worker killed mid-handler ---------------------------------------------------------------------

CHILD = r"""
import sys, time
from datetime import datetime, timezone
from tests.support import make_app
from bot.core.messages import Incoming
app = make_app(sys.argv[1], __import__("pathlib").Path(sys.argv[2]))
rt = app.extensions["bot"]
def stuck(ctx):
    open(sys.argv[3], "w").close()  # inside the handler: the claim and the lock are taken
    time.sleep(600)
rt.router.route = stuck
rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-killed", created_at=datetime.now(timezone.utc),
                     text="查看"))
"""


def test_a_worker_killed_mid_handler_leaves_no_claim_and_no_lock(org_pg, pg_url, tmp_path):
    db, _ = org_pg
    flag = tmp_path / "in-handler"
    child = subprocess.Popen([sys.executable, "-c", CHILD, pg_url, str(tmp_path), str(flag)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the child never reached its handler"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    app = make_app(pg_url, tmp_path / "parent")
    rt = app.extensions["bot"]
    seen = Spy(rt.router, answer=lambda ctx: None)
    rt.router = seen
    t0 = time.monotonic()
    retry = rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-killed", created_at=NOW, text="查看"))
    nxt = rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-next", created_at=NOW, text="查看"))
    took = time.monotonic() - t0
    assert retry is not DUPLICATE and nxt is not DUPLICATE  # the platform's retry is handled
    assert [i.msg_id for i in seen.seen] == ["m-killed", "m-next"]
    assert took < 5, f"the dead worker's lock held the person's messages for {took:.1f} s"
    rt.db.dispose()


# -- 9 and 10: Redis stopped under load; a late message is accepted before its empty 200 ---------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scratch_redis(tmp_path):
    """A redis-server of our own on a spare port (never the machine's 6379), stoppable."""
    exe = shutil.which("redis-server") or pytest.fail("redis-server not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def _callback_bot(url, tmp_path, **extra):
    app = make_app(url, tmp_path, **wecom_config(**extra))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        for i in range(8):
            s.add(Person(name=f"用户{i}", wecom_userid=f"u{i}"))
    return app, rt


def test_redis_stopped_under_load_no_500_and_every_message_answered(pg_url, tmp_path, scratch_redis):
    redis_url, proc = scratch_redis
    app, rt = _callback_bot(pg_url, tmp_path, REDIS_URL=redis_url)
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    clients = [app.test_client() for _ in range(8)]

    def wave(tag, stale):
        calls = []
        for i, c in enumerate(clients):
            ts = str(int(time.time()) - (6 if stale else 0))  # stale: a retry after WeCom's 5 s
            url, body = peer.envelope(peer.text_xml(f"u{i}", "帮助"), timestamp=ts)
            calls.append(lambda c=c, url=url, body=body: c.post(url, data=body, content_type="text/xml").status_code)
        return at_once(calls, timeout=60)

    statuses = wave("up", False)
    proc.terminate()
    proc.wait(10)
    statuses += wave("down", False) + wave("down-late", True)
    assert statuses.count(500) == 0 and set(statuses) <= {200, 503}, statuses
    accepted = statuses.count(200)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the late ones finish in the handler pool
        if count(rt.db, InboxMessage) == 0:
            break
        time.sleep(0.2)
    assert count(rt.db, InboxMessage) == 0
    late_replies = count(rt.db, Notice, Notice.kind == "reply")
    assert late_replies >= 8, "the messages acknowledged with an empty 200 were answered through the outbox"
    assert accepted == 24
    rt.db.dispose()


def test_a_late_message_is_in_the_inbox_before_its_empty_200_and_answered_after_its_handler_died(
        db_url, tmp_path, monkeypatch):
    app, rt = _callback_bot(db_url, tmp_path)
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    release = __import__("threading").Event()

    def dies(ctx):  # the handler of the first delivery never commits (its worker is gone)
        release.wait(30)
        raise SystemExit
    spy = Spy(rt.router, answer=dies)
    monkeypatch.setattr(rt, "router", spy)
    url, body = peer.envelope(peer.text_xml("u1", "帮助", msg_id=424242), timestamp=str(int(time.time()) - 6))
    r = app.test_client().post(url, data=body, content_type="text/xml")
    assert r.status_code == 200 and r.data == b""
    with rt.db.Session() as s:  # durably accepted before the 200 (read while the handler still runs)
        assert [m.key for m in s.scalars(select(InboxMessage))] == ["wecom:424242"]
    deadline = time.monotonic() + 10
    while not spy.seen and time.monotonic() < deadline:  # the handler has started…
        time.sleep(0.02)
    release.set()  # …and dies without committing
    monkeypatch.setattr(rt, "router", spy.router)
    time.sleep(0.5)
    assert replies.drain_inbox(rt, older_than=0) == 1
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxMessage)) == 0
        [reply] = s.scalars(select(Notice).where(Notice.kind == "reply"))
        assert reply.target == "u1" and reply.payload["content"]
    assert replies.drain_inbox(rt, older_than=0) == 0
    rt.db.dispose()


def test_a_late_message_that_cannot_be_accepted_gets_a_5xx_not_an_empty_200(sqlite_url, tmp_path, monkeypatch):
    app, rt = _callback_bot(sqlite_url, tmp_path)
    with rt.db.session() as s:
        s.execute(text("DROP TABLE inbox_message"))  # the database refuses the inbox write
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    url, body = peer.envelope(peer.text_xml("u1", "帮助"), timestamp=str(int(time.time()) - 6))
    r = app.test_client().post(url, data=body, content_type="text/xml")
    assert r.status_code == 503
    rt.db.dispose()


# -- 11. a slow WeCom API: accepted, answered after the timeout -------------------------------------------

S_CORP, S_SECRET, S_AGENT = "wwreliab", "reliab-secret", 1000002


@pytest.fixture
def slow_api():
    with FakeWeCom(S_CORP, S_SECRET, {"rk-reliab"}, agent_id=S_AGENT) as fake:
        yield fake


def _sender_rt(db_url, tmp_path, fake, timeout=2.0):
    app = make_app(db_url, tmp_path, WECOM_CORP_ID=S_CORP, WECOM_SECRET=S_SECRET, WECOM_AGENT_ID=str(S_AGENT),
                   WECOM_API_BASE=fake.base_url, OUTBOX_MAX_ATTEMPTS=4, HTTP_TIMEOUT_SECONDS=timeout)
    return app.extensions["bot"]


def _one_notice(rt, content):
    with rt.db.session() as s:
        n = outbox.enqueue(s, target_kind="user", target="zhangsan", msgtype="text", payload={"content": content})
        s.flush()
        return n.id


def test_a_send_answered_after_the_http_timeout_is_unknown_and_its_resend_dropped_as_a_duplicate(
        db_url, tmp_path, slow_api):
    """WeCom accepts the app message and answers after the 2-s timeout: the notice is not resent at once,
    and the resend asks WeCom's duplicate check to drop it — one delivery."""
    rt = _sender_rt(db_url, tmp_path, slow_api)
    nid = _one_notice(rt, "请于12月5日前报送进展。")
    slow_api.fail_next(1, hang=4, path="/cgi-bin/message/send")  # then answers (and delivers) normally
    sender = Sender(rt)
    t0 = utcnow()
    sender.now = lambda: t0
    sender.run_once()
    with rt.db.session() as s:
        n = s.get(Notice, nid)
        assert n.state == "pending" and UNKNOWN_SINCE in n.payload and "no answer" in n.last_error
        assert n.next_attempt_at >= t0 + timedelta(seconds=UNKNOWN_APP_BACKOFF * 0.99)
    sender.now = lambda: t0 + timedelta(seconds=10)
    assert sender.run_once().handled == 0  # not resent while the slow one may still land
    time.sleep(3)  # the slow success lands
    assert len(slow_api.sent) == 1
    sender.now = lambda: t0 + timedelta(seconds=UNKNOWN_APP_BACKOFF * 1.3)
    sender.run_once()
    with rt.db.session() as s:
        assert s.get(Notice, nid).state == "sent"
    assert len(slow_api.sent) == 1
    rt.db.dispose()


def test_a_robot_send_of_unknown_outcome_waits_long_before_its_resend(sqlite_url, tmp_path, slow_api):
    """A group robot has no duplicate check: the resend waits UNKNOWN_BACKOFF (the gap of docs/wecom.md)."""
    from models import ChatGroup
    rt = _sender_rt(sqlite_url, tmp_path, slow_api)
    with rt.db.session() as s:
        s.add(ChatGroup(code="supervision", name="督导考核组工作群", robot_key="rk-reliab"))
        n = outbox.enqueue(s, target_kind="group", target="supervision", msgtype="markdown",
                           payload={"content": "**通报**"})
        s.flush()
        nid = n.id
    slow_api.fail_next(1, hang=4, path="/cgi-bin/webhook/send")
    sender = Sender(rt)
    t0 = utcnow()
    sender.now = lambda: t0
    sender.run_once()
    with rt.db.session() as s:
        n = s.get(Notice, nid)
        assert n.state == "pending" and UNKNOWN_SINCE in n.payload
        assert n.next_attempt_at >= t0 + timedelta(seconds=UNKNOWN_BACKOFF * 0.99)
    rt.db.dispose()
