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
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Optional

from bot.core.messages import DUPLICATE, Incoming, Reply

log = logging.getLogger(__name__)

COMMIT_GRACE_SECONDS = 1.0  # the handler chose the passive answer and is committing: wait this much more

Passive = Callable[[Reply], "tuple[Optional[str], Optional[Reply]]"]  # reply -> (HTTP answer, rest to queue)
Queue = Callable[..., object]  # queue(session, incoming, reply, key): the channel's way to queue a reply


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

    def in_transaction(self, session, reply: Optional[Reply]) -> None:
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
            return
        if self.state != "late" and self.passive is not None:
            self.passive_text, rest = self.passive(reply)
            part = "rest"
        else:
            rest, part = reply, ("late" if self.state == "late" else "error")
        if rest is not None:
            with runtime.db.session() as s:
                self.queue(s, self.incoming, rest, reply_key(self.incoming, part))

    def _late(self, runtime):
        def done(future) -> None:
            try:
                self.after(runtime, future.result())
            except Exception:  # noqa: BLE001 - a background thread: log, never raise
                log.exception("could not queue the late reply to %s user %s", self.incoming.channel,
                              self.incoming.user_id)
        return done


def respond(runtime, incoming: Incoming, pool, budget: float, queue: Queue, passive: Optional[Passive] = None,
            started: Optional[float] = None) -> Exchange:
    """Dispatch `incoming` in `pool` within `budget` seconds (counted from `started`, a monotonic time);
    returns the Exchange: `passive_text` is the HTTP answer (None: nothing to say now)."""
    exchange = Exchange(incoming, queue, passive)
    started = time.monotonic() if started is None else started
    future = pool.submit(runtime.dispatch, incoming, before_commit=exchange.in_transaction)
    try:
        reply = future.result(timeout=max(0.0, budget - (time.monotonic() - started)))
    except FutureTimeout:
        if exchange.give_up():
            log.info("slow reply to %s user %s goes through the outbox", incoming.channel, incoming.user_id)
            future.add_done_callback(exchange._late(runtime))  # runs at once if it finished meanwhile
            return exchange
        try:
            reply = future.result(timeout=COMMIT_GRACE_SECONDS)
        except FutureTimeout:
            log.error("reply to %s committed too late for the passive answer", incoming.user_id)
            exchange.passive_text = None  # the HTTP answer goes out empty; the reply is lost
            return exchange
    exchange.in_time = True
    exchange.after(runtime, reply)  # in this thread, so it is queued before the platform gets its answer
    return exchange
