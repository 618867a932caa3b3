"""The draft stores behind `store_for`: compare-and-set on the kv interface (in-process and Redis), and the
key-value store's anchor and tombstone in the database."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.conversation.store import Conflict, DbDraftStore, KvDraftStore, Lost, Stored
from bot.infra.kv import MemoryKV, RedisKV
from models import ConversationState, ProcessedMessage
from tests.dialog import at
from tests.support import make_app

NOW = at(2026, 11, 23)


@pytest.fixture(params=["memory", "redis"])
def kv(request):
    if request.param == "memory":
        return MemoryKV()
    return RedisKV(request.getfixturevalue("redis_url"), prefix="ddbtest:")


def test_versioned_values_are_compare_and_set(kv):
    assert kv.get_versioned("d") is None
    assert not kv.set_versioned("d", "a", expected=1)  # nothing stored yet: only version 0 matches
    assert kv.set_versioned("d", "a", expected=0, ttl=60)
    assert kv.get_versioned("d") == (1, "a")
    assert not kv.set_versioned("d", "b", expected=0)  # a second creator loses
    assert kv.set_versioned("d", "b", expected=1, ttl=60)
    assert kv.get_versioned("d") == (2, "b")
    kv.delete("d")
    assert kv.get_versioned("d") is None and kv.set_versioned("d", "c", expected=0)


def test_db_store_writes_in_the_transaction_and_refuses_a_stale_version(sqlite_url, tmp_path):
    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    store = DbDraftStore(timedelta(hours=24))
    try:
        with rt.db.session() as s:
            store.save(s, "person:1", {"flow": "minutes", "id": "a"}, None, NOW)
        with rt.db.session() as s:
            got = store.load(s, "person:1")
            assert got == Stored({"flow": "minutes", "id": "a"}, 1)
            store.save(s, "person:1", {"flow": "minutes", "id": "a", "n": 2}, 1, NOW)
            with pytest.raises(Conflict):
                store.save(s, "person:1", {"flow": "minutes", "id": "a", "n": 3}, 1, NOW)
        with pytest.raises(Conflict):
            with rt.db.session() as s:
                store.save(s, "person:1", {"flow": "minutes"}, None, NOW)
        with rt.db.session() as s:
            store.delete(s, "person:1", "a")
            assert store.load(s, "person:1") is None
    finally:
        rt.db.dispose()


def test_kv_store_writes_after_commit_and_leaves_anchor_and_tombstone(sqlite_url, tmp_path):
    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    kv = MemoryKV()
    store = KvDraftStore(kv, timedelta(hours=24))
    try:
        try:
            with rt.db.session() as s:
                store.save(s, "person:1", {"flow": "minutes", "id": "a"}, None, NOW, fresh=True)
                raise RuntimeError("the message failed")
        except RuntimeError:
            pass
        assert kv.get_versioned("conv:person:1") is None  # rolled back: nothing written
        with rt.db.session() as s:
            assert store.load(s, "person:1") is None and s.get(ConversationState, "person:1") is None
            store.save(s, "person:1", {"flow": "minutes", "id": "a"}, None, NOW, fresh=True)
        with rt.db.session() as s:
            assert store.load(s, "person:1") == Stored({"flow": "minutes", "id": "a"}, 1)
            assert s.get(ConversationState, "person:1").data == {"anchor": "minutes", "id": "a"}
        kv.delete("conv:person:1")  # the key-value store loses it
        with rt.db.session() as s:
            assert store.load(s, "person:1") == Lost("minutes")
            store.save(s, "person:1", {"flow": "slip", "id": "b"}, None, NOW, fresh=True)
        real_delete = kv.delete
        kv.delete = lambda key: (_ for _ in ()).throw(ConnectionError("down"))
        with rt.db.session() as s:
            store.delete(s, "person:1", "b")  # committed; the kv delete after it fails (logged)
        assert kv.get_versioned("conv:person:1") is not None
        kv.delete = real_delete
        with rt.db.session() as s:
            assert s.get(ProcessedMessage, "draft:b") is not None
            assert store.load(s, "person:1") is None  # its tombstone: the stale draft is not offered
        assert kv.get_versioned("conv:person:1") is None
    finally:
        rt.db.dispose()


def test_fetch_reads_plain_and_versioned_keys_at_once(kv):
    kv.set("s", "hint", ttl=60)
    assert kv.set_versioned("d", "doc", expected=0, ttl=60)
    assert kv.fetch(["s", "nothing"], ["d", "none"]) == ({"s": "hint", "nothing": None},
                                                          {"d": (1, "doc"), "none": None})


@pytest.mark.parametrize("shared", [False, True], ids=["database drafts", "redis drafts"])
def test_a_message_reads_the_persons_waiting_state_once(sqlite_url, tmp_path, shared, request):
    """帮助 asks the form engine, the decisions and the suggestion whether something waits: one statement
    on conversation_state and (with Redis) one round trip for all of them, not one each."""
    from sqlalchemy import event

    from tests import factories as f

    redis = request.getfixturevalue("redis_url") if shared else ""
    rt = make_app(sqlite_url, tmp_path, REDIS_URL=redis).extensions["bot"]
    try:
        with rt.db.session() as s:
            f.small_org(s)
        rt.handle_text("wecom", "ua", "帮助")  # the sender is cached from here on
        statements = []
        event.listen(rt.db.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
        trips = []
        if shared:
            client = rt.kv.client
            real, real_pipe = client.execute_command, client.pipeline
            client.execute_command = lambda *a, **k: trips.append(a[0]) or real(*a, **k)
            client.pipeline = lambda *a, **k: trips.append("pipeline") or real_pipe(*a, **k)
        assert "填报" in rt.handle_text("wecom", "ua", "帮助").text
        assert len([q for q in statements if "conversation_state" in q]) == 1, statements
        if shared:
            assert trips == ["pipeline"], trips
    finally:
        rt.db.dispose()


def test_a_form_step_on_redis_reads_no_tombstone(sqlite_url, tmp_path, request):
    """While the anchor row names the draft the key-value store holds, the draft is not finished: a step
    reads the prefetched row and nothing else (no processed_message read per step); without the anchor the
    tombstone still decides (test above)."""
    from datetime import date

    from sqlalchemy import event

    from tests import factories as f

    rt = make_app(sqlite_url, tmp_path, REDIS_URL=request.getfixturevalue("redis_url")).extensions["bot"]
    try:
        with rt.db.session() as s:
            o = f.small_org(s)
            f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="推进征迁")
        rt.clock.set(at(2026, 12, 1))
        assert "M1" in rt.handle_text("wecom", "ua", "填报").text
        statements = []
        event.listen(rt.db.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
        assert "进展" in rt.handle_text("wecom", "ua", "2").text
        assert not [q for q in statements if "processed_message" in q and q.lstrip().upper().startswith("SELECT")]
        _version, payload = rt.kv.get_versioned(f"conv:person:{o.ua.id}")
        with rt.db.session() as s:
            assert s.get(ConversationState, f"person:{o.ua.id}").data == {"anchor": "report",
                                                                           "id": json.loads(payload)["id"]}
    finally:
        rt.db.dispose()
