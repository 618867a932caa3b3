"""The audit trail: every change, who, when, what, before/after."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from models import AuditLog, Person, utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj, only: Optional[Iterable[str]] = None) -> dict:
    """The column values of an ORM object as JSON-friendly data."""
    cols = [c.key for c in inspect(obj).mapper.column_attrs]
    if only is not None:
        wanted = set(only)
        cols = [c for c in cols if c in wanted]
    return {c: _plain(getattr(obj, c)) for c in cols}


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def entry(*, actor: Person | str | None, action: str, entity: str, entity_id: Any = None,
          before: Optional[dict] = None, after: Optional[dict] = None, reason: Optional[str] = None,
          at: Optional[datetime] = None) -> dict:
    """The columns of one audit row (what `record` adds; `insert` writes many at once)."""
    if isinstance(actor, Person):
        actor_id, label = actor.id, actor.name
    else:
        actor_id, label = None, actor or "system"
    return dict(actor_id=actor_id, actor=label, action=action, entity=entity,
                entity_id=None if entity_id is None else str(entity_id), before=before, after=after,
                reason=reason, at=at or utcnow())


def record(session: Session, *, actor: Person | str | None, action: str, entity: str,
           entity_id: Any = None, before: Optional[dict] = None, after: Optional[dict] = None,
           reason: Optional[str] = None, at: Optional[datetime] = None) -> AuditLog:
    """Add one audit row in the caller's transaction (so it commits or rolls back with the change)."""
    row = AuditLog(**entry(actor=actor, action=action, entity=entity, entity_id=entity_id, before=before,
                           after=after, reason=reason, at=at))
    session.add(row)
    return row


def insert(session: Session, rows: list[dict]) -> int:
    """Write audit rows (`entry`) in the caller's transaction, in their order, with one statement (an action
    that changes many rows at once: a 填报's items)."""
    if rows:
        session.flush()  # rows `record` added before these come first
        session.connection().execute(AuditLog.__table__.insert(), rows)
    return len(rows)


def record_many(session: Session, actor: str, action: str, entity: str, changes: Iterable[tuple]) -> int:
    """Audit rows for many changes made by a job in one statement: `changes` are
    (entity_id, before, after, reason). The same rows `record` writes, without one INSERT each."""
    now = utcnow()
    return insert(session, [entry(actor=actor, action=action, entity=entity, entity_id=eid, before=before,
                                  after=after, reason=reason, at=now) for eid, before, after, reason in changes])
