"""What every scheduled job shares: its result and a few set-based look-ups and writes (office liaisons
of leaders, INSERT … ON CONFLICT DO NOTHING for many rows, audit rows in bulk).

Jobs are reconcilers: from the data they compute every notice that SHOULD exist as of a moment,
each with a deterministic key (kind:target:period), collected in a `bot.delivery.outbox.Notices` batch
and inserted in one statement, so a rerun, a second scheduler or a catch-up adds nothing that exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.outbox import CHUNK, Notices, Who, people  # noqa: F401 - what jobs import from here
from bot.infra.db import dialect_insert
from models import AuditLog, DispatchRow, dispatch_row_liaison, utcnow


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


def local_date(moment: datetime, tz) -> date:
    return moment.astimezone(tz).date()
