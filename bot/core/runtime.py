"""The platform-neutral core (like bolt's `App.dispatch`): channel adapters turn a callback into an
`Incoming`, call `Runtime.dispatch`, and render the `Reply` back. Handlers never see XML, tokens or
platform names.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.messages import DUPLICATE, Context, Incoming, Reply, cleaned
from bot.core.routing import Router
from bot.delivery import addressing
from bot.domain import clock
from bot.domain.roles import roles_of
from bot.infra import metrics, observe
from bot.infra.db import Database
from bot.infra.kv import LockTimeout, MemoryKV, make_kv
from bot.infra.text import render
from config.settings import Settings
from models import Person, PersonIdentity, ProcessedMessage

log = logging.getLogger(__name__)


class Clock:
    """The current time, replaceable in tests (`runtime.clock.set(...)`)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._fixed: Optional[datetime] = None

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(self.tz)

    def set(self, moment: Optional[datetime]) -> None:
        self._fixed = moment.astimezone(self.tz) if moment is not None else None




def find_person(session: Session, channel: str, user_id: str) -> Optional[Person]:
    """The active person with identity `user_id` on `channel` (None: an unregistered sender)."""
    return session.scalar(select(Person).join(PersonIdentity, PersonIdentity.person_id == Person.id)
                          .where(PersonIdentity.channel == channel, PersonIdentity.external_id == user_id,
                                 Person.active.is_(True)))


class Runtime:
    """The running bot: settings, database, shared state, clock and the router."""

    def __init__(self, settings: Settings, router: Router):
        self.settings = settings
        self.tz = clock.set_tz(settings.BOT_TIMEZONE)  # the one zone of periods, texts and jobs
        self.db = Database(settings.DATABASE_URL)
        self.kv = make_kv(settings.REDIS_URL)
        self.clock = Clock(self.tz)
        self.router = router

    @property
    def shared_state(self) -> bool:
        return not isinstance(self.kv, MemoryKV)

    @property
    def group_channel(self) -> str:
        """The channel of a group chat that has no ChatGroup row (see bot.delivery.addressing)."""
        return addressing.default_group_channel(self.settings)

    def channel_for_group(self, session: Session, code: str) -> str:
        return addressing.group_channel(session, code, self.settings)

    def now(self) -> datetime:
        return self.clock.now()

    # -- deduplication: Redis SET NX with a TTL, or a row in processed_message ------------------
    def claim_message(self, key: str) -> bool:
        """True the first time `key` is seen (by any process); False for a retry."""
        if self.shared_state:
            return self.kv.set_nx("dedup:" + key, "1", ttl=self.settings.DEDUP_TTL_SECONDS)
        try:
            with self.db.session() as s:
                s.add(ProcessedMessage(key=key))
        except IntegrityError:
            return False
        return True

    def release_message(self, key: str) -> None:
        """Forget a claim (processing failed, so the platform's retry may try again)."""
        if self.shared_state:
            self.kv.delete("dedup:" + key)
            return
        with self.db.session() as s:
            row = s.get(ProcessedMessage, key)
            if row is not None:
                s.delete(row)

    def find_person(self, session: Session, channel: str, user_id: str) -> Optional[Person]:
        return find_person(session, channel, user_id)

    def dispatch(self, incoming: Incoming, *, dedup: bool = True,
                 before_commit: Optional[Callable[[Session, Optional[Reply]], None]] = None):
        """Handle one incoming message: once per message id, one at a time per user, in one transaction.

        Returns a Reply, None (nothing to say), or DUPLICATE for a platform retry. `before_commit(session,
        reply)` runs inside the transaction (a channel adapter queues a late reply there, atomically).
        """
        with observe.request():  # the callback's request id, or a new one: logs and queued notices carry it
            started = time.monotonic()
            reply, result = self._dispatch(incoming, dedup=dedup, before_commit=before_commit)
            metrics.CALLBACKS.labels(incoming.channel, result).inc()
            elapsed = time.monotonic() - started
            if reply is not DUPLICATE:
                metrics.REPLY_SECONDS.labels(incoming.channel).observe(elapsed)
            # ids and outcome only: never the message text
            log.info("message on %s: %s in %.0f ms", incoming.channel, result, elapsed * 1000)
            return reply

    def _dispatch(self, incoming: Incoming, *, dedup: bool, before_commit) -> tuple[object, str]:
        """(the reply, the `result` label of bot_callbacks_total)."""
        incoming = cleaned(incoming)
        key = f"{incoming.channel}:{incoming.msg_id}"
        if dedup and not self.claim_message(key):
            return DUPLICATE, "duplicate"
        try:
            with self.kv.lock(f"user:{incoming.channel}:{incoming.user_id}", timeout=60, wait=20):
                with self.db.session() as session:
                    person = self.find_person(session, incoming.channel, incoming.user_id)
                    if person is None:
                        reply, result = Reply(render("core/unregistered.txt")), "unregistered"
                    else:
                        ctx = Context(self, session, person, roles_of(session, person), incoming, self.now())
                        reply = self.router.route(ctx)
                        result = "reply" if reply is not None else "silent"
                    if before_commit is not None:
                        before_commit(session, reply)
                    return reply, result
        except LockTimeout:
            if dedup:
                self.release_message(key)
            return Reply(render("core/busy.txt")), "busy"
        except Exception:
            log.exception("handler failed for %s", key)
            if dedup:
                self.release_message(key)
            return Reply(render("core/error.txt")), "error"

    def handle_text(self, channel: str, user_id: str, text: str, msg_id: Optional[str] = None) -> Optional[Reply]:
        """Convenience for tests and the simulator: dispatch a text message without deduplication."""
        import uuid

        inc = Incoming(channel=channel, user_id=user_id, msg_id=msg_id or uuid.uuid4().hex,
                       created_at=self.now(), text=text)
        return self.dispatch(inc, dedup=msg_id is not None)

