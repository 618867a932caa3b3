"""The quick-or-late reply policy, the same for every channel.

A channel adapter hands a message to `respond` with a time budget. The handler runs in the adapter's
thread pool; its reply is decided exactly once, inside the handler's transaction (Runtime.dispatch's
`before_commit`):

- ready within the budget, on a channel with passive replies (WeCom): it becomes the HTTP answer —
  what the passive reply cannot carry (markdown, text past its size) is queued in the outbox;
- otherwise (too slow, or a channel that never answers in the HTTP response, like DingTalk): the whole
  reply is queued in the outbox, in the same transaction as the handler's changes, so it cannot be lost.

Error and busy replies come back outside the transaction (after a rollback); they are queued afterwards,
from a background thread when the budget was spent. Every queued reply has a key per message and part,
so a platform retry never answers twice.

An empty acknowledgement is only given for a message that is durably accepted: when the budget is spent
before the handler committed, the message is first written to the inbox (`InboxMessage`, its own short
transaction) and only then acknowledged; if even that fails (the database is away) the adapter answers
5xx (`NotAccepted`) so the platform retries. The inbox row is dropped once the handler is done and its
reply queued; a row left by a killed worker, or whose late reply could not be queued, is dispatched
again by `drain_inbox` (the sender thread calls it) — the dedup claim in the handler's transaction makes
a second dispatch of a committed message a harmless duplicate.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from bot.core.messages import DUPLICATE, Incoming, Reply
from bot.infra.db import dialect_insert
from models import utcnow

log = logging.getLogger(__name__)

INBOX_AFTER_SECONDS = 30.0  # an inbox row this old has lost its handler (or its late reply): dispatch again
INBOX_MAX_ATTEMPTS = 5  # then the error reply is queued and the row dropped
COMMIT_GRACE_SECONDS = 1.0  # the handler chose the passive answer and is committing: wait this much more
LATE_MARK_SECONDS = 120.0  # how long a message answered late is known as such (its retries come within 20 s)

Passive = Callable[[Reply], "tuple[Optional[str], Optional[Reply]]"]  # reply -> (HTTP answer, rest to queue)
Queue = Callable[..., object]  # queue(session, incoming, reply, key): the channel's way to queue a reply


class NotAccepted(Exception):
    """The message could not be durably accepted in time: answer so that the platform retries."""


_QUEUES: dict[str, Queue] = {}  # channel -> its queue function, for drain_inbox


def register_queue(channel: str, queue: Queue) -> None:
    """A channel adapter names how its replies are queued (drain_inbox answers through it)."""
    _QUEUES[channel] = queue


def late_mark(incoming: Incoming) -> str:
    """The key-value mark of a message whose first copy is being answered late (through the outbox)."""
    return f"late:{incoming.channel}:{incoming.msg_id}"


def _mark_late(runtime, incoming: Incoming) -> None:
    try:
        runtime.kv.set(late_mark(incoming), "1", ttl=LATE_MARK_SECONDS)
    except Exception:  # noqa: BLE001 - only a shortcut for the retries: they then take the long way
        log.warning("could not mark %s as answered late", inbox_key(incoming))


def _marked_late(runtime, incoming: Incoming) -> bool:
    try:
        return runtime.kv.get(late_mark(incoming)) is not None
    except Exception:  # noqa: BLE001 - see _mark_late
        return False


def reply_key(incoming: Incoming, part: str) -> str:
    raw = f"reply:{incoming.channel}:{incoming.user_id}:{incoming.msg_id}:{part}"
    return raw if len(raw) <= 200 else "reply:" + hashlib.sha256(raw.encode()).hexdigest()


class Exchange:
    """One message's reply, decided exactly once: passive (in the HTTP answer) or queued (outbox)."""

    def __init__(self, incoming: Incoming, queue: Queue, passive: Optional[Passive] = None):
        self.incoming = incoming
        self.queue = queue
        self.passive = passive
        self.lock = threading.Lock()
        self.state = "waiting"  # → "passive" (the HTTP thread answers) or "late" (outbox)
        self.seen: Optional[Reply] = None  # the reply the transaction handled (and committed with)
        self.passive_text: Optional[str] = None
        self.in_time = False  # the handler finished within the budget

    accepted = False  # the message has an inbox row (dropped with the reply's transaction)

    def in_transaction(self, session, reply: Optional[Reply]) -> None:
        if self.accepted:
            settle(session, self.incoming)
        if reply is None:
            return
        with self.lock:
            if self.state == "waiting" and self.passive is not None:
                self.state = "passive"
                self.passive_text, rest = self.passive(reply)
                if rest is not None:
                    self.queue(session, self.incoming, rest, reply_key(self.incoming, "rest"))
            else:
                self.queue(session, self.incoming, reply, reply_key(self.incoming, self._part()))
            self.seen = reply

    def _part(self) -> str:
        return "late" if self.state == "late" else "reply"

    def give_up(self) -> bool:
        """The budget is spent: True if the reply now goes to the outbox."""
        with self.lock:
            if self.state == "waiting":
                self.state = "late"
                return True
            return False

    def after(self, runtime, reply) -> None:
        """Queue what the transaction did not (error/busy replies, or a failed commit, come back outside it)."""
        if reply is None or reply is DUPLICATE or reply is self.seen:
            if reply is DUPLICATE and self.accepted:
                with runtime.db.session() as s:  # the first copy committed: its reply is queued
                    settle(s, self.incoming)
            return
        if self.state != "late" and self.passive is not None:
            self.passive_text, rest = self.passive(reply)
            part = "rest"
        else:
            rest, part = reply, ("late" if self.state == "late" else "error")
        if rest is not None or self.accepted:
            with runtime.db.session() as s:
                if rest is not None:
                    self.queue(s, self.incoming, rest, reply_key(self.incoming, part))
                if self.accepted:
                    settle(s, self.incoming)

    def _late(self, runtime):
        def done(future) -> None:
            try:
                reply = future.result()
                with runtime.db.session() as s:
                    if self.passive_lost and reply is self.seen and self.passive_text:
                        # committed after the HTTP answer went out empty: its passive part goes late
                        self.queue(s, self.incoming, Reply(self.passive_text), reply_key(self.incoming, "late"))
                    elif reply is not None and reply is not DUPLICATE and reply is not self.seen:
                        self.queue(s, self.incoming, reply, reply_key(self.incoming, "late"))
                    settle(s, self.incoming)
                try:  # done: a retry from now on is a plain duplicate
                    runtime.kv.delete(late_mark(self.incoming))
                except Exception:  # noqa: BLE001 - the mark expires anyway
                    pass
            except BaseException:  # noqa: BLE001 - a background thread: log, never raise; the inbox row stays
                log.exception("could not queue the late reply to %s user %s; the inbox retries it",
                              self.incoming.channel, self.incoming.user_id)
        return done

    passive_lost = False


_IN_FLIGHT: dict[int, int] = {}  # id(pool) -> handlers submitted to it and not done (queued or running)
_IN_FLIGHT_LOCK = threading.Lock()


def saturated(pool) -> bool:
    """Whether work handed to `pool` (a ThreadPoolExecutor) would wait for a thread: as many handlers are
    in flight as it has threads. (Not the executor's queue length: an item sits there a moment even when a
    thread is idle, and under load that moment is long enough to be seen.)"""
    most = getattr(pool, "_max_workers", None)
    if most is None:
        return False
    with _IN_FLIGHT_LOCK:
        return _IN_FLIGHT.get(id(pool), 0) >= most


def _submit(pool, *args, **kwargs):
    """pool.submit, counted in _IN_FLIGHT until the handler is done."""
    key = id(pool)
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT[key] = _IN_FLIGHT.get(key, 0) + 1
    try:
        future = pool.submit(*args, **kwargs)
    except BaseException:
        _done(key)
        raise
    future.add_done_callback(lambda _f: _done(key))
    return future


def _done(key: int) -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT[key] = max(0, _IN_FLIGHT.get(key, 0) - 1)


def respond(runtime, incoming: Incoming, pool, budget: float, queue: Queue, passive: Optional[Passive] = None,
            started: Optional[float] = None) -> Exchange:
    """Dispatch `incoming` in `pool` within `budget` seconds (counted from `started`, a monotonic time);
    returns the Exchange: `passive_text` is the HTTP answer (None: nothing to say now)."""
    exchange = Exchange(incoming, queue, passive)
    started = time.monotonic() if started is None else started
    if _marked_late(runtime, incoming):
        # A platform retry of a message whose first copy (in any process) is being answered through the
        # outbox: acknowledged at once, not handed to a thread that would wait on the first copy's claim —
        # under overload those waits held every handler thread and connection, and each retry came back.
        # The mark is set only after the first copy's inbox row is committed (accept), and dropped after
        # its reply is: if the first copy dies, drain_inbox answers that row.
        exchange.give_up()
        return exchange
    if budget - (time.monotonic() - started) <= 0 or saturated(pool):
        # a late retry, or every handler thread busy with work queued behind them: waiting for a passive
        # answer would only hold this request thread (under a surge they all waited, and WeCom's 5 s ran
        # out in the accept queue). Accepted before anything else happens, answered through the outbox.
        accept(runtime, incoming)
        exchange.accepted = True
        exchange.give_up()
        _mark_late(runtime, incoming)
        _submit(pool, runtime.dispatch, incoming, before_commit=exchange.in_transaction).add_done_callback(
            exchange._late(runtime))
        return exchange
    if runtime.db.is_sqlite:
        # SQLite: a running handler holds the one write lock, so the inbox could not be written once the
        # budget is spent; the row is written first and dropped in the handler's own transaction.
        accept(runtime, incoming)
        exchange.accepted = True
    future = _submit(pool, runtime.dispatch, incoming, before_commit=exchange.in_transaction)
    try:
        reply = future.result(timeout=max(0.0, budget - (time.monotonic() - started)))
    except FutureTimeout:
        if exchange.give_up():
            log.info("slow reply to %s user %s goes through the outbox", incoming.channel, incoming.user_id)
            if not exchange.accepted:  # NotAccepted: no empty 200 for a message nobody would answer
                accept(runtime, incoming)
            _mark_late(runtime, incoming)
            future.add_done_callback(exchange._late(runtime))  # runs at once if it finished meanwhile
            return exchange
        try:
            reply = future.result(timeout=COMMIT_GRACE_SECONDS)
        except FutureTimeout:
            log.warning("reply to %s committed too late for the passive answer: it goes late", incoming.user_id)
            if not exchange.accepted:
                accept(runtime, incoming)
            _mark_late(runtime, incoming)
            exchange.passive_lost = True
            exchange.passive_text = None  # the HTTP answer goes out empty; the done callback queues it
            future.add_done_callback(exchange._late(runtime))
            return exchange
    exchange.in_time = True
    exchange.after(runtime, reply)  # in this thread, so it is queued before the platform gets its answer
    return exchange


# -- the inbox: messages acknowledged before their handler committed ---------------------------------

def inbox_key(incoming: Incoming) -> str:
    return f"{incoming.channel}:{incoming.msg_id}"


def _as_json(incoming: Incoming) -> dict:
    return {"channel": incoming.channel, "user_id": incoming.user_id, "msg_id": incoming.msg_id,
            "created_at": incoming.created_at.isoformat(), "text": incoming.text, "event": incoming.event,
            "event_key": incoming.event_key, "conversation_id": incoming.conversation_id,
            "extra": incoming.extra}


def _from_json(doc: dict) -> Incoming:
    return Incoming(channel=doc["channel"], user_id=doc["user_id"], msg_id=doc["msg_id"],
                    created_at=datetime.fromisoformat(doc["created_at"]), text=doc.get("text"),
                    event=doc.get("event"), event_key=doc.get("event_key"),
                    conversation_id=doc.get("conversation_id"), extra=doc.get("extra") or {})


def accept(runtime, incoming: Incoming) -> None:
    """Write the message to the inbox, committed, before it is acknowledged; NotAccepted when that fails."""
    from models import InboxMessage

    try:
        with runtime.db.session() as s:
            insert = dialect_insert(s)
            s.execute(insert(InboxMessage).values(key=inbox_key(incoming), incoming=_as_json(incoming), attempts=0,
                                                  received_at=utcnow()).on_conflict_do_nothing(index_elements=["key"]))
    except Exception as exc:  # noqa: BLE001 - the database is away or locked: the platform must retry
        log.error("could not accept %s in the inbox (%s): the platform is asked to retry",
                  inbox_key(incoming), type(exc).__name__)
        raise NotAccepted(inbox_key(incoming)) from exc


def settle(session, incoming: Incoming) -> None:
    """The message is handled and its reply queued: drop its inbox row (in the caller's transaction)."""
    from models import InboxMessage

    session.execute(sql_delete(InboxMessage).where(InboxMessage.key == inbox_key(incoming)))


def drain_inbox(runtime, older_than: float = INBOX_AFTER_SECONDS, limit: int = 20) -> int:
    """Dispatch again the inbox rows older than `older_than` seconds (their handler died, or their late reply
    could not be queued); the reply goes through the channel's outbox. Returns how many were settled."""
    from models import InboxMessage

    cutoff = utcnow() - timedelta(seconds=older_than)
    with runtime.db.session() as s:
        rows = [(r.key, r.incoming, r.attempts) for r in s.scalars(
            select(InboxMessage).where(InboxMessage.received_at <= cutoff).order_by(InboxMessage.received_at)
            .limit(limit))]
    settled = 0
    for key, doc, attempts in rows:
        incoming = _from_json(doc)
        queue = _QUEUES.get(incoming.channel)
        if queue is None:
            continue  # this process does not serve that channel

        def in_tx(session, reply, incoming=incoming, queue=queue):
            if reply is not None:
                queue(session, incoming, reply, reply_key(incoming, "late"))
            settle(session, incoming)

        reply = runtime.dispatch(incoming, before_commit=in_tx)
        if reply is DUPLICATE:
            with runtime.db.session() as s:
                settle(s, incoming)
            settled += 1
            continue
        if reply is None or not isinstance(reply, Reply):
            settled += 1
            continue
        with runtime.db.session() as s:  # an error or busy reply: rolled back, so try again later
            row = s.get(InboxMessage, key)
            if row is None:  # settled in the handler's transaction
                settled += 1
                continue
            row.attempts = attempts + 1
            row.received_at = utcnow()
            if row.attempts >= INBOX_MAX_ATTEMPTS:
                queue(s, incoming, reply, reply_key(incoming, "error"))
                s.delete(row)
                settled += 1
    return settled
