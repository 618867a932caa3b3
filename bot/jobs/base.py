"""What every scheduled job shares: its result, the batch of notices it wants sent, and a few
set-based look-ups (people by id, office liaisons of leaders).

Jobs are reconcilers: from the data they compute every notice that SHOULD exist as of a moment,
each with a deterministic key (kind:target:period). `Notices.flush` inserts them all in one
statement with ON CONFLICT (key) DO NOTHING, so a rerun, a second scheduler or a catch-up adds
nothing that already exists. `bot.delivery.outbox.enqueue` does the same for one notice at a time (a look-up
and a savepoint each); a job may produce thousands, hence this batch form.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.infra.db import dialect_insert
from bot.delivery.outbox import group_message
from models import (TARGET_GROUP, TARGET_USER, AuditLog, ChatGroup, DispatchRow, Notice, Person, dispatch_row_liaison,
                    utcnow)

CHUNK = 10_000  # ids per IN (…) list (SQLite allows 32,766 bound parameters)


@dataclass
class JobResult:
    """What one run did: how many notices it created and a few counts for `jobs run` to print."""

    job: str
    as_of: datetime
    notices: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    skipped: Optional[str] = None  # why nothing was due (e.g. "not a reminder day")

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.details.items())
        head = f"{self.job} as of {self.as_of.isoformat()}: {self.notices} new notice(s)"
        if self.skipped:
            head += f" ({self.skipped})"
        return head + (f" [{extra}]" if extra else "")


@dataclass(frozen=True)
class Who:
    """The fields of a person a notice needs (loaded in bulk, not as ORM objects)."""

    id: int
    name: str
    wecom_userid: Optional[str]
    dingtalk_userid: Optional[str]
    mobile: Optional[str]


WHO_COLUMNS = (Person.id, Person.name, Person.wecom_userid, Person.dingtalk_userid, Person.mobile)


def people(session: Session, ids: Iterable[int]) -> dict[int, Who]:
    """Active people by id, in one query."""
    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, Who] = {}
    for start in range(0, len(wanted), CHUNK):
        for row in session.execute(select(*WHO_COLUMNS).where(Person.id.in_(wanted[start:start + CHUNK]),
                                                              Person.active.is_(True))):
            out[row.id] = Who(*row)
    return out


def office_liaisons_by_leader(session: Session) -> dict[int, list[int]]:
    """leader person id -> office liaison person ids of that leader's dispatch rows (附件2)."""
    out: dict[int, list[int]] = {}
    rows = session.execute(select(DispatchRow.leader_id, dispatch_row_liaison.c.person_id)
                           .join(dispatch_row_liaison, dispatch_row_liaison.c.dispatch_row_id == DispatchRow.id)
                           .order_by(DispatchRow.seq, dispatch_row_liaison.c.person_id))
    for leader_id, pid in rows:
        lst = out.setdefault(leader_id, [])
        if pid not in lst:
            lst.append(pid)
    return out


class Notices:
    """Notices a job wants to exist, inserted together by `flush` (existing keys are left alone)."""

    def __init__(self, runtime, kind: str):
        self.runtime = runtime
        self.kind = kind
        self.rows: list[dict] = []
        self._keys: set[str] = set()
        self._group_text: dict[str, tuple] = {}

    def _channel_for(self, who: Who) -> str:
        s = self.runtime.settings
        if who.wecom_userid and (s.wecom_enabled or not who.dingtalk_userid):
            return "wecom"
        return "dingtalk" if who.dingtalk_userid else "wecom"

    def _add(self, key: str, **row) -> None:
        if key in self._keys:
            return
        self._keys.add(key)
        now = utcnow()
        self.rows.append(dict(key=key, kind=row.pop("kind", self.kind), state="pending", attempts=0,
                              next_attempt_at=now, created_at=now, **row))

    def to_person(self, who: Who, text: str, key: str, *, markdown: bool = False, kind: Optional[str] = None):
        """A direct message (same payload as `bot.delivery.outbox.to_person`)."""
        channel = self._channel_for(who)
        target = who.dingtalk_userid if channel == "dingtalk" else who.wecom_userid
        if not target:
            return
        self._add(key, kind=kind or self.kind, channel=channel, target_kind=TARGET_USER, target=target,
                  msgtype="markdown" if markdown else "text", payload={"content": text})

    def to_group(self, code: str, text: str, key: str, *, mention: Iterable[Who] = (), markdown: bool = True,
                 kind: Optional[str] = None):
        """A group-robot message (same payload as `bot.delivery.outbox.to_group`); `mention` people are @-ed, which
        makes it a text message. The group's channel, hence the payload, is settled in `flush`."""
        self._add(key, kind=kind or self.kind, channel=None, target_kind=TARGET_GROUP, target=code,
                  msgtype=None, payload=None)
        self._group_text[key] = (text, list(mention), markdown)

    def file_to_group(self, code: str, path: str, msgtype: str, key: str, *, kind: Optional[str] = None):
        """An image or file message to a group; the sender reads `payload["path"]`."""
        self._add(key, kind=kind or self.kind, channel=None, target_kind=TARGET_GROUP,
                  target=code, msgtype=msgtype, payload={"path": path})

    def _settle_groups(self, session: Session) -> None:
        """Each group notice goes out on its group's own channel (ChatGroup.channel)."""
        pending = [r for r in self.rows if r["channel"] is None]
        if not pending:
            return
        channels = dict(session.execute(select(ChatGroup.code, ChatGroup.channel)).all())
        for row in pending:
            row["channel"] = channels.get(row["target"]) or self.runtime.group_channel
            if row["key"] in self._group_text:
                text, mention, markdown = self._group_text[row["key"]]
                row["msgtype"], row["payload"] = group_message(text, row["channel"], mention, markdown)

    def flush(self, session: Session) -> set[str]:
        """Insert every collected notice whose key is new; return the keys actually inserted."""
        inserted: set[str] = set()
        if not self.rows:
            return inserted
        self._settle_groups(session)
        inserted.update(insert_ignore(session, Notice.__table__, self.rows, ["key"], Notice.__table__.c.key))
        self.rows.clear()
        self._keys.clear()
        self._group_text.clear()
        return inserted


def insert_ignore(session: Session, table, rows: list[dict], conflict: list[str], returning) -> list:
    """INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING returning, for many rows at once: one
    compiled statement executed with SQLAlchemy's batched "insertmanyvalues" (SQLite and PostgreSQL)."""
    if not rows:
        return []
    insert = dialect_insert(session)
    cols = returning if isinstance(returning, (tuple, list)) else (returning,)
    stmt = insert(table).on_conflict_do_nothing(index_elements=conflict).returning(*cols)
    result = session.connection().execute(stmt, rows)
    return list(result.scalars()) if len(cols) == 1 else list(result.all())


def bulk_audit(session: Session, actor: str, action: str, entity: str, changes: Iterable[tuple]) -> int:
    """Audit rows for many changes made by a job in one statement: `changes` are
    (entity_id, before, after, reason). The same rows `bot.infra.audit.record` writes, without one INSERT each."""
    now = utcnow()
    rows = [dict(at=now, actor_id=None, actor=actor, action=action, entity=entity,
                 entity_id=None if eid is None else str(eid), before=before, after=after, reason=reason)
            for eid, before, after, reason in changes]
    if rows:
        session.connection().execute(AuditLog.__table__.insert(), rows)
    return len(rows)

