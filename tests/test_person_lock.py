"""One message at a time per person (Runtime.lock_person) when the sender is known from the cache: the lock
is tried in the claim's round trip (PG_CLAIM_TRY_LOCK) and waited for as before when someone holds it."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, event, text

from bot.core.messages import DUPLICATE, Incoming
from bot.core.runtime import lock_key
from tests import factories as f
from tests.dialog import at
from tests.support import Spy, make_app

NOW = at(2026, 12, 5, 17)


@pytest.fixture
def rt(pg_url, tmp_path):
    app = make_app(pg_url, tmp_path)
    runtime = app.extensions["bot"]
    with runtime.db.session() as s:
        f.small_org(s)
    yield runtime
    runtime.db.dispose()


def send(rt, msg_id: str, words: str = "帮助"):
    return rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id=msg_id, created_at=NOW, text=words))


def test_a_cached_sender_is_locked_in_the_claims_round_trip(rt):
    send(rt, "m1")  # the sender is cached from here on
    statements = []
    event.listen(rt.db.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
    assert "填报" in send(rt, "m2").text
    assert any("pg_try_advisory_xact_lock" in q and "processed_message" in q for q in statements), statements
    assert not any("pg_advisory_xact_lock(" in q for q in statements), statements  # no second statement
    assert send(rt, "m2") is DUPLICATE


def test_a_lock_held_elsewhere_is_waited_for_then_the_message_is_handled(rt, pg_url):
    """The try fails while another transaction holds the person's lock: the message waits for it (the
    blocking lock), and is handled once it is released — never alongside."""
    send(rt, "m1")
    person_id = rt.people.entries[("wecom", "ua")][0].id
    spy = Spy(rt.router)
    rt.router = spy
    other = create_engine(pg_url)
    done = threading.Event()
    with other.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(f"person:{person_id}")})
        worker = threading.Thread(target=lambda: (send(rt, "m2"), done.set()))
        worker.start()
        time.sleep(1.0)
        assert not done.is_set() and spy.seen == [], "handled while the person's lock was held elsewhere"
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(f"person:{person_id}")})
        conn.commit()
    worker.join(20)
    other.dispose()
    assert done.is_set() and [i.msg_id for i in spy.seen] == ["m2"]
