"""Where drafts live between two messages: one JSON document per person with a version, written by
compare-and-set. `store_for(runtime)` picks the place — the shared key-value store (bot/infra/kv.py) when
the runtime has one (Redis), else the `conversation_state` table — and the engine only sees `DraftStore`.

- `DbDraftStore`: the row is written in the message's own transaction (`UPDATE … WHERE version = :v`), so
  the draft and what the message saved commit or roll back together.
- `KvDraftStore`: the document is written only after the message's transaction commits (a rolled-back
  message leaves the draft as it was). What the message saved is saved by then, so a failing write is
  logged, not raised. Two records in the database make that safe:
  * a tombstone `draft:<id>` (processed_message) written in the transaction that finishes a draft: a
    finished draft whose delete failed is recognised and dropped on load, so a second 确认 cannot save the
    same minutes twice;
  * an anchor row in `conversation_state` (`{"anchor": flow, "id": draft id}`) written in the transaction
    that starts a draft and deleted with it: when the key-value store has lost the draft (Redis flushed,
    or its TTL passed), the load says so (`Lost`) instead of "no draft"; and while it names the draft the
    key-value store holds, that draft is not finished (its tombstone is not read: a form step reads
    nothing but the prefetched row).
"""
from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Protocol, Union

from sqlalchemy import bindparam, event, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.infra.db import claim_key
from bot.infra.kv import KVUnavailable
from models import ConversationState, ProcessedMessage

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The stored draft changed under us (another process wrote it): the message is not applied."""


@dataclass(frozen=True)
class Stored:
    doc: dict
    version: int


@dataclass(frozen=True)
class Lost:
    """There was a draft of `flow`, and it is no longer there."""

    flow: str
    version: Optional[int] = None  # what a new draft must replace (compare-and-set)


Loaded = Union[Stored, Lost, None]


class DraftStore(Protocol):
    def load(self, session: Session, key: str) -> Loaded: ...

    def save(self, session: Session, key: str, doc: dict, version: Optional[int], now: datetime,
             fresh: bool = False) -> None:
        """Write `doc` if the stored version is still `version` (None: nothing stored); `fresh`: a new
        draft (started, not continued)."""

    def delete(self, session: Session, key: str, draft_id: Optional[str]) -> None:
        """Drop the draft (finished or abandoned) atomically with the message's transaction."""


def tombstone(draft_id: str) -> str:
    return f"draft:{draft_id}"


def finish(session: Session, draft_id: str) -> bool:
    """Write the tombstone of draft `draft_id` in the transaction that saves it: False when it exists
    already (the draft was saved by another message — the same person on two channels, or a load that
    raced a commit), so the second 确认 saves nothing. On PostgreSQL a concurrent second insert waits for
    the first transaction and then finds its row."""
    return claim_key(session, tombstone(draft_id))


def _mark_finished(session: Session, draft_id: Optional[str]) -> None:
    if draft_id and session.get(ProcessedMessage, tombstone(draft_id)) is None:
        session.add(ProcessedMessage(key=tombstone(draft_id)))


def _drop_row(session: Session, key: str) -> None:
    """DELETE the row of `key` whether or not a concurrent message dropped it first (an ORM delete of a
    row that is gone would be a stale-data warning, and the second message is refused elsewhere)."""
    session.flush()
    session.execute(sql_delete(ConversationState).where(ConversationState.user_key == key)
                    .execution_options(synchronize_session=False))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ConversationState) and obj.user_key == key:
            session.expunge(obj)


class DbDraftStore:
    """Drafts in the conversation_state table, written in the message's own transaction."""

    def __init__(self, keep: timedelta):
        self.keep = keep

    def load(self, session: Session, key: str) -> Loaded:
        pre = _prefetched(session, key)
        if pre is not None:
            data, version = pre.data, pre.version
        else:
            row = session.get(ConversationState, key)
            if row is None:
                return None
            data, version = row.data, row.version
        if data is NO_ROW:
            return None
        if isinstance(data, dict) and "anchor" in data:  # left by the key-value store
            return Lost(str(data["anchor"]), version)
        return Stored(copy.deepcopy(data), version)

    def prefetch(self, session: Session, keys: list[str], plain: list[str]) -> None:
        _remember(session, keys, _rows_data(session, keys), {}, {})

    def save(self, session: Session, key: str, doc: dict, version: Optional[int], now: datetime,
             fresh: bool = False) -> None:
        _forget(session, key)
        expires = now + self.keep
        if version is None:
            try:
                with session.begin_nested():
                    session.add(ConversationState(user_key=key, data=doc, version=1, expires_at=expires,
                                                  updated_at=now))
            except IntegrityError:
                raise Conflict(key) from None
            return
        res = session.execute(
            update(ConversationState).where(ConversationState.user_key == key, ConversationState.version == version)
            .values(data=doc, version=version + 1, expires_at=expires, updated_at=now)
            .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise Conflict(key)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, ConversationState) and obj.user_key == key:
                session.expire(obj)

    def delete(self, session: Session, key: str, draft_id: Optional[str]) -> None:
        _drop_row(session, key)


class KvDraftStore:
    """Drafts in the shared key-value store (`kv.get_versioned` / `kv.set_versioned`), written after the
    database transaction commits."""

    def __init__(self, kv, keep: timedelta):
        self.kv = kv
        self.keep = keep

    @staticmethod
    def kv_key(key: str) -> str:
        return "conv:" + key

    @staticmethod
    def _pending(session: Session) -> dict:
        """This transaction's writes not yet made (key -> [payload or None for a delete, expected version]):
        a second load in the same message sees the first write, and a second save replaces it."""
        return session.info.setdefault("kv_drafts_pending", {})

    def load(self, session: Session, key: str, row_data=None) -> Loaded:
        """`row_data`: the key's conversation_state data, when the caller has read it (`_row_data`)."""
        pending = self._pending(session).get(key)
        if pending is not None:  # written earlier in this message (e.g. paused, then a start behind it)
            payload, expected = pending
            return None if payload is None else Stored(json.loads(payload), expected)
        pre = _prefetched(session, key)
        got = pre.doc if pre is not None and pre.doc is not UNREAD else self.kv.get_versioned(self.kv_key(key))
        if got is None:
            data = _row_data(session, key) if row_data is None else row_data
            if _is_anchor(data):
                return Lost(str(data["anchor"]))
            return None
        version, payload = got
        doc = json.loads(payload)
        draft_id = doc.get("id") if isinstance(doc, dict) else None
        if draft_id and not _anchors(_row_data(session, key) if row_data is None else row_data, draft_id) and \
                session.get(ProcessedMessage, tombstone(draft_id)) is not None:
            # finished in a committed transaction whose delete failed: never offer it again
            try:
                self.kv.delete(self.kv_key(key))
            except Exception:
                log.exception("draft %s: could not drop a finished draft", key)
            return None
        return Stored(doc, version)

    @staticmethod
    def _after_commit(session: Session, key: str, fn: Callable[[], None]) -> None:
        """Run `fn` once the message's transaction has committed (`_run_after_commit`; a rollback drops it).
        A failure must not fail the message (its reply is true, and a platform retry must stay a
        duplicate): it is logged. A draft whose deletion failed is made harmless by its tombstone; a draft
        that could not be advanced keeps its previous step (nothing is lost)."""
        session.info.setdefault(AFTER_COMMIT, []).append((key, fn))

    def save(self, session: Session, key: str, doc: dict, version: Optional[int], now: datetime,
             fresh: bool = False) -> None:
        _forget(session, key)
        if fresh:
            self._anchor(session, key, doc.get("flow", ""), now, doc.get("id"))
        payload = json.dumps(doc, ensure_ascii=False)
        ttl = self.keep.total_seconds()
        pending = self._pending(session)
        if key in pending and pending[key][0] is not None:  # a second write in this message: it replaces the first
            pending[key][0] = payload
            return
        pending[key] = [payload, version]  # dropped by a rollback (`_drop_after_rollback`)

        def write():
            entry = pending.pop(key, None)
            if entry is None or entry[0] is None:
                return
            if not self.kv.set_versioned(self.kv_key(key), entry[0], expected=entry[1] or 0, ttl=ttl):
                raise Conflict(key)
        self._after_commit(session, key, write)

    def _anchor(self, session: Session, key: str, flow: str, now: datetime, draft_id: Optional[str]) -> None:
        row = session.get(ConversationState, key)
        data = {"anchor": flow, "id": draft_id} if draft_id else {"anchor": flow}
        if row is None:
            session.add(ConversationState(user_key=key, data=data, version=1, expires_at=now + self.keep,
                                          updated_at=now))
        else:
            row.data, row.expires_at, row.updated_at = data, now + self.keep, now
        session.flush()

    def delete(self, session: Session, key: str, draft_id: Optional[str]) -> None:
        _forget(session, key)
        _mark_finished(session, draft_id)
        _drop_row(session, key)
        if key in self._pending(session):
            self._pending(session)[key][0] = None  # a write earlier in this message is not made
        self._after_commit(session, key, lambda: self.kv.delete(self.kv_key(key)))


AFTER_COMMIT = "kv_after_commit"  # session.info: [(key, fn)] to run once the transaction has committed


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    """The key-value writes of the transaction that committed, in order (one listener for every session,
    not one registered per write: registering costs more than a form step's other work)."""
    for key, fn in session.info.pop(AFTER_COMMIT, ()):
        try:
            fn()
        except Conflict:  # another process wrote a newer draft: theirs stands
            log.warning("draft %s changed under a committed message; kept the newer one", key)
        except Exception:
            log.exception("draft %s: key-value write after commit failed; the message's changes are saved", key)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    """A rolled-back transaction writes nothing to the key-value store, then or at a later commit."""
    session.info.pop(AFTER_COMMIT, None)
    session.info.pop("kv_drafts_pending", None)


NO_ROW = object()  # _row_data: the key has no conversation_state row
# Built once and run on the connection: an ORM select built per call costs ~3× the CPU of the same Core
# statement (its cache key is computed anew each time), and these run for every message.
ROW_DATA = select(ConversationState.data).where(ConversationState.user_key == bindparam("key"))
ROWS_DATA = select(ConversationState.user_key, ConversationState.data, ConversationState.version).where(
    ConversationState.user_key.in_(bindparam("keys", expanding=True)))


def _row_data(session: Session, key: str):
    """The data of the key's conversation_state row, or NO_ROW: one column, no ORM object (the first
    thing every message asks, and mostly there is no row)."""
    pre = _prefetched(session, key)
    if pre is not None:
        return pre.data
    found = session.connection().execute(ROW_DATA, {"key": key}).first()
    return NO_ROW if found is None else found[0]


# -- the person's waiting state, read once per message ------------------------------------------------
# Every message asks the same few questions before anything else: is a form open (the engine's draft), is
# a decision waiting for a reason or a 确认 (handlers/decisions.py), was a command suggested (forgiving)?
# Asked one by one that is a statement and a Redis round trip each; `prefetch` asks them all at once when
# the message starts, and the loads of the message's transaction answer from what it read, until they
# write the key themselves.
UNREAD = object()  # Prefetched.doc: the key-value store was not read for this key
PREFETCHED = "draft_prefetched"  # session.info: key -> Prefetched
KV_PREFETCHED = "kv_prefetched"  # session.info: plain key-value key -> value (or None), taken by `take_plain`


@dataclass(frozen=True)
class Prefetched:
    data: object  # the conversation_state row's data, or NO_ROW
    version: Optional[int]  # the row's version
    doc: object  # the key-value store's (version, payload), None, or UNREAD


def prefetch(runtime, session: Session, keys: list[str], plain: list[str] = ()) -> None:
    """Read the drafts stored under `keys`, and the plain key-value entries `plain`, in one statement and
    (with Redis) one round trip, for the rest of this message's transaction. Call it once the person's
    lock is held: what it reads must be what their previous message committed."""
    store_for(runtime).prefetch(session, list(keys), list(plain))


def take_plain(runtime, session: Session, key: str) -> Optional[str]:
    """The plain key-value entry `key` as `prefetch` read it (then forgotten: it is read once), or as the
    store has it now when it was not prefetched."""
    pre = session.info.get(KV_PREFETCHED)
    if pre is not None and key in pre:
        return pre.pop(key)
    return runtime.kv.get(key)


def _rows_data(session: Session, keys: list[str]) -> dict:
    """{key: (data, version)} of the keys' conversation_state rows, in one statement."""
    if not keys:
        return {}
    rows = session.connection().execute(ROWS_DATA, {"keys": keys})
    return {k: (data, version) for k, data, version in rows}


def _remember(session: Session, keys: list[str], rows: dict, docs: dict, values: dict) -> None:
    session.info[PREFETCHED] = {k: Prefetched(*rows.get(k, (NO_ROW, None)), docs.get(k, UNREAD)) for k in keys}
    session.info[KV_PREFETCHED] = dict(values)


def _prefetched(session: Session, key: str) -> Optional[Prefetched]:
    return session.info.get(PREFETCHED, {}).get(key)


def _forget(session: Session, key: str) -> None:
    """The message writes `key`: later loads read the store again (or this message's pending write)."""
    session.info.get(PREFETCHED, {}).pop(key, None)


def _is_anchor(data) -> bool:
    return isinstance(data, dict) and "anchor" in data


def _anchors(data, draft_id: str) -> bool:
    """Is `data` (the key's row) the anchor of draft `draft_id`? Then the draft is not finished, and no
    tombstone needs reading: the transaction that finishes a draft drops its anchor row with it, and only
    the start of a new draft (a new id) writes one. (An anchor without an id — written before anchors
    named their draft — or none at all: the tombstone decides.)"""
    return _is_anchor(data) and data.get("id") == draft_id


def _is_db_draft(session: Session, key: str, data=None) -> bool:
    data = _row_data(session, key) if data is None else data
    return data is not NO_ROW and not _is_anchor(data)


class DegradingDraftStore:
    """The key-value store's drafts while it answers, the database's while it does not (Redis down,
    `KVUnavailable`): a draft started during an outage lives in its conversation_state row until it is
    finished, Redis back or not; a Redis draft that cannot be reached is `Lost` (its anchor row says so),
    and the person is told and starts again. The tombstone of `finish` works for both."""

    def __init__(self, kv, keep: timedelta):
        self.kv_store = KvDraftStore(kv, keep)
        self.db_store = DbDraftStore(keep)

    def load(self, session: Session, key: str) -> Loaded:
        data = _row_data(session, key)
        if _is_db_draft(session, key, data):
            return self.db_store.load(session, key)
        try:
            return self.kv_store.load(session, key, data)
        except KVUnavailable:
            return self.db_store.load(session, key)

    def prefetch(self, session: Session, keys: list[str], plain: list[str]) -> None:
        rows = _rows_data(session, keys)
        on_kv = [k for k in keys if not _is_db_draft(session, k, rows.get(k, (NO_ROW,))[0])]
        try:
            values, got = self.kv_store.kv.fetch(plain, [KvDraftStore.kv_key(k) for k in on_kv])
        except KVUnavailable:  # each load then degrades as it would have
            values, got = {}, {}
        docs = {k: got[KvDraftStore.kv_key(k)] for k in on_kv if KvDraftStore.kv_key(k) in got}
        _remember(session, keys, rows, docs, values)

    def save(self, session: Session, key: str, doc: dict, version: Optional[int], now: datetime,
             fresh: bool = False) -> None:
        if _is_db_draft(session, key) or not self.kv_store.kv.available:
            self.db_store.save(session, key, doc, version, now, fresh)
        else:
            self.kv_store.save(session, key, doc, version, now, fresh)

    def delete(self, session: Session, key: str, draft_id: Optional[str]) -> None:
        self.kv_store.delete(session, key, draft_id)  # tombstone, row, and the Redis copy after commit


def store_for(runtime) -> DraftStore:
    """The store of a runtime (cached on it): the shared key-value store when there is one (degrading to
    the database while it is away), else the database."""
    store = getattr(runtime, "_draft_store", None)
    if store is None:
        keep = timedelta(hours=runtime.settings.DRAFT_KEEP_HOURS)
        store = DegradingDraftStore(runtime.kv, keep) if runtime.shared_state else DbDraftStore(keep)
        runtime._draft_store = store
    return store
