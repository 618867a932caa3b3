"""The platform-neutral core (like bolt's `App.dispatch`): channel adapters turn a callback into an
`Incoming`, call `Runtime.dispatch`, and render the `Reply` back. Handlers never see XML, tokens or
platform names.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.conversation import store
from bot.core import forgiving, people
from bot.core.messages import DUPLICATE, Context, Incoming, Reply, cleaned
from bot.core.people import find_person  # noqa: F401 - part of this module's interface
from bot.core.routing import Router
from bot.delivery import addressing
from bot.domain import clock
from bot.infra import metrics, observe
from bot.infra.db import Database, claim_key
from bot.infra.kv import LockTimeout, MemoryKV, make_kv
from bot.infra.text import render
from config.settings import Settings
from models import Person, ProcessedMessage, utcnow

USER_LOCK_WAIT_SECONDS = 20.0  # a person's next message waits this long for the one being handled

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

    @property
    def fixed(self) -> Optional[datetime]:
        """The moment `set` fixed, or None on the real time (a job's child process is given the same)."""
        return self._fixed




# The message's claim as a data-modifying CTE, shared by the two statements below.
_CLAIM_CTE = ("WITH claim AS (INSERT INTO processed_message (key, created_at) VALUES (:key, :at) "
              "ON CONFLICT (key) DO NOTHING RETURNING 1) ")


def _at():
    return bindparam("at", type_=ProcessedMessage.__table__.c.created_at.type)


# One round trip for the claim and the org chart's version on PostgreSQL.
PG_CLAIM = text(
    _CLAIM_CTE + "SELECT EXISTS (SELECT 1 FROM claim), (SELECT version FROM org_version WHERE id = 1)"
).bindparams(_at())
# The same, and the person's lock when the sender is known from the cache: tried (never waited for) once the
# claim is taken — the OFFSET 0 subquery evaluates the claim first, so a platform retry that conflicts with
# its first copy's uncommitted claim never holds the person's lock while it waits (that order could deadlock
# with the first copy). A lock held by someone else is then waited for by PG_LOCK, as before.
PG_CLAIM_TRY_LOCK = text(
    _CLAIM_CTE + "SELECT c.fresh, (SELECT version FROM org_version WHERE id = 1), "
    "CASE WHEN c.fresh THEN pg_try_advisory_xact_lock(:k) ELSE false END "
    "FROM (SELECT EXISTS (SELECT 1 FROM claim) AS fresh OFFSET 0) AS c"
).bindparams(_at())
# The person lock in one round trip: set lock_timeout, wait for the lock, set it back (OFFSET 0 keeps the
# three in this order: the subqueries are not flattened).
PG_LOCK = text(
    "SELECT set_config('lock_timeout', '0', true) FROM (SELECT pg_advisory_xact_lock(:k) FROM "
    "(SELECT set_config('lock_timeout', :wait, true)) AS t OFFSET 0) AS l OFFSET 0")


def lock_key(name: str) -> int:
    """The advisory lock number of a person lock's name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class Runtime:
    """The running bot: settings, database, shared state, clock and the router."""

    def __init__(self, settings: Settings, router: Router):
        self.settings = settings
        self.tz = clock.set_tz(settings.BOT_TIMEZONE)  # the one zone of periods, texts and jobs
        self.db = Database(settings.DATABASE_URL, settings.DATABASE_POOL_SIZE, settings.DATABASE_MAX_OVERFLOW)
        self.kv = make_kv(settings.REDIS_URL)
        self.clock = Clock(self.tz)
        self.router = router
        forgiving.start_warm_up()  # the pinyin / conversion tables, off the first message's reply window
        self.people = people.People()  # senders and their roles, until the org chart changes

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

    # -- deduplication: a processed_message row written in the handler's own transaction ------------
    def claim_message(self, key: str, session: Optional[Session] = None) -> bool:
        """Claim `key` in the handler's transaction: True the first time, False for a retry. The claim
        commits with what the handler did and rolls back with it — a handler that fails, or a worker that
        is killed mid-handler (its connection drops, the server rolls back), leaves no claim, so the
        platform's retry is handled. On PostgreSQL a retry that arrives while the first copy is still
        being handled waits on the uncommitted row, then sees it committed (a duplicate) or rolled back
        (its own turn). Without `session`, the claim is committed at once."""
        if session is None:
            with self.db.session() as own:
                return self.claim_message(key, own)
        return claim_key(session, key)

    def claim_and_version(self, session: Session, key: str, lock: Optional[str] = None
                          ) -> tuple[bool, Optional[int], Optional[str]]:
        """`claim_message(key, session)` and the org chart's version (bot.core.people), in that order; one
        round trip on PostgreSQL. With `lock` (the person lock the sender had last time), that lock is also
        tried in the same round trip once the claim is taken: the third value is `lock` when it is held."""
        if self.db.is_sqlite:
            fresh = self.claim_message(key, session)
            return fresh, people.org_version(session), None
        if lock is None:
            fresh, version = session.connection().execute(PG_CLAIM, {"key": key, "at": utcnow()}).one()
            return bool(fresh), version, None
        fresh, version, held = session.connection().execute(
            PG_CLAIM_TRY_LOCK, {"key": key, "at": utcnow(), "k": lock_key(lock)}).one()
        return bool(fresh), version, (lock if held else None)

    def find_person(self, session: Session, channel: str, user_id: str) -> Optional[Person]:
        return people.find_person(session, channel, user_id)

    def lock_person(self, session: Session, name: str) -> None:
        """One message at a time per PERSON (the same person on WeCom and DingTalk included), for the rest
        of the transaction. PostgreSQL: a transaction-scoped advisory lock — it dies with its holder's
        transaction or connection, so a killed worker never blocks the person's next message; waiting
        longer than USER_LOCK_WAIT_SECONDS is LockTimeout. SQLite: nothing to do, every transaction
        already holds the database's one write lock (BEGIN IMMEDIATE)."""
        if self.db.is_sqlite:
            return
        try:
            session.connection().execute(PG_LOCK, {"k": lock_key(name),
                                                   "wait": f"{int(USER_LOCK_WAIT_SECONDS * 1000)}ms"})
        except OperationalError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "55P03":  # lock_not_available
                raise LockTimeout(name) from None
            raise

    def dispatch(self, incoming: Incoming, *, dedup: bool = True,
                 before_commit: Optional[Callable[[Session, Optional[Reply]], None]] = None):
        """Handle one incoming message: once per message id, one at a time per person, in one transaction.

        Returns a Reply, None (nothing to say), or DUPLICATE for a platform retry. `before_commit(session,
        reply)` runs inside the transaction (a channel adapter queues a late reply there, atomically).
        The message's claim (`claim_message`) is part of that transaction: nothing is marked processed
        that was not.
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
        try:
            with self.db.session() as session:
                held = None
                if dedup:
                    hint = self.people.lock_name(incoming.channel, incoming.user_id)
                    fresh, version, held = self.claim_and_version(session, key, hint)
                    if not fresh:
                        return DUPLICATE, "duplicate"
                else:
                    version = people.org_version(session)
                person, roles = self.people.lookup(session, version, incoming.channel, incoming.user_id)
                name = people.lock_name_of(person, incoming.channel, incoming.user_id)
                if held != name:  # not tried, taken by another message of theirs, or the org chart changed
                    self.lock_person(session, name)
                if person is None:
                    reply, result = Reply(render("core/unregistered.txt")), "unregistered"
                else:
                    store.prefetch(self, session, *self.router.waiting_state(person.id))
                    ctx = Context(self, session, person, roles, incoming, self.now())
                    reply = self.router.route(ctx)
                    result = "reply" if reply is not None else "silent"
                if before_commit is not None:
                    before_commit(session, reply)
                return reply, result
        except LockTimeout:
            return Reply(render("core/busy.txt")), "busy"
        except Exception:
            log.exception("handler failed for %s", key)
            return Reply(render("core/error.txt")), "error"

    def handle_text(self, channel: str, user_id: str, text: str, msg_id: Optional[str] = None) -> Optional[Reply]:
        """Convenience for tests and the simulator: dispatch a text message without deduplication."""
        import uuid

        inc = Incoming(channel=channel, user_id=user_id, msg_id=msg_id or uuid.uuid4().hex,
                       created_at=self.now(), text=text)
        return self.dispatch(inc, dedup=msg_id is not None)

