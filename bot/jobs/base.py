"""What every scheduled job shares: its result and a few set-based writes (
INSERT … ON CONFLICT DO NOTHING for many rows, audit rows in bulk).

Jobs are reconcilers: from the data they compute every notice that SHOULD exist as of a moment,
each with a deterministic key (kind:target:period), collected in a `bot.delivery.outbox.Notices` batch
and inserted in one statement, so a rerun, a second scheduler or a catch-up adds nothing that exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from bot.delivery.outbox import CHUNK, Notices, Who, people  # noqa: F401 - what jobs import from here
from bot.infra.audit import record_many as bulk_audit  # noqa: F401
from bot.infra.db import insert_ignore  # noqa: F401


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


