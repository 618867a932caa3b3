"""Housekeeping (清理): drop rows that only matter for a while, so the embedded SQLite default does not
grow forever. Sends nothing.

- `processed_message`: the message-id claims of the SQL deduplication (without Redis; with Redis they
  are keys with a TTL) and the tombstones of finished Redis drafts — kept as long as the longer of
  `DEDUP_TTL_SECONDS` (a platform retries within minutes) and `DRAFT_KEEP_HOURS` (a stale draft lives
  no longer in Redis).
- `conversation_state`: drafts kept in the database whose `expires_at` (last answer + DRAFT_KEEP_HOURS)
  has passed; an expired draft is never offered back anyway.

- `notice` (the outbox): sent and failed notices older than `OUTBOX_KEEP_DAYS` (default 400). Their
  unique keys are what makes the jobs exactly-once, and a job only ever catches up a few days back
  (`catchup_hours`), so a key a year old can never be asked for again; pending notices are never pruned.
- log files under `INSTANCE_DIR/logs` (where a deployment writes them) older than `LOG_KEEP_DAYS`.

The ledger, the org chart and the audit trail are never pruned. A count appears in the details only for
what was pruned beyond the claims and drafts.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_

from bot.jobs.base import JobResult
from models import NOTICE_FAILED, NOTICE_SENT, ConversationState, Notice, ProcessedMessage

KIND = "housekeeping"


def run(runtime, as_of: datetime) -> JobResult:
    result = JobResult(KIND, as_of)
    settings = runtime.settings
    keep = max(timedelta(seconds=settings.DEDUP_TTL_SECONDS), timedelta(hours=settings.DRAFT_KEEP_HOURS))
    with runtime.db.session() as s:
        claims = s.execute(delete(ProcessedMessage).where(ProcessedMessage.created_at < as_of - keep)).rowcount
        drafts = s.execute(delete(ConversationState).where(ConversationState.expires_at < as_of)).rowcount
        cutoff = as_of - timedelta(days=settings.OUTBOX_KEEP_DAYS)
        outbox = s.execute(delete(Notice).where(or_(
            (Notice.state == NOTICE_SENT) & (Notice.sent_at < cutoff),
            (Notice.state == NOTICE_FAILED) & (Notice.created_at < cutoff)))).rowcount
    result.details = {"dedup_rows": claims, "expired_drafts": drafts}
    if outbox:
        result.details["outbox_rows"] = outbox
    logs = prune_logs(Path(settings.INSTANCE_DIR) / "logs", settings.LOG_KEEP_DAYS, as_of.timestamp())
    if logs:
        result.details["log_files"] = logs
    return result


def prune_logs(folder: Path, keep_days: int, now: float | None = None) -> int:
    """Delete `*.log*` files in `folder` last written more than `keep_days` ago; how many went."""
    if not folder.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - keep_days * 86400
    gone = 0
    for f in folder.glob("*.log*"):
        if f.is_file() and f.stat().st_mtime < limit:
            f.unlink()
            gone += 1
    return gone
