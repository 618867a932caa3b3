"""Housekeeping (清理): drop rows that only matter for a while, so the embedded SQLite default does not
grow forever. Sends nothing.

- `processed_message`: the message-id claims of the SQL deduplication (without Redis; with Redis they
  are keys with a TTL) and the tombstones of finished Redis drafts — kept as long as the longer of
  `DEDUP_TTL_SECONDS` (a platform retries within minutes) and `DRAFT_KEEP_HOURS` (a stale draft lives
  no longer in Redis).
- `conversation_state`: drafts kept in the database whose `expires_at` (last answer + DRAFT_KEEP_HOURS)
  has passed; an expired draft is never offered back anyway.

Two DELETE statements whatever the size; the outbox (`notice`) is never pruned: its unique keys are
what makes the jobs exactly-once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.jobs.base import JobResult
from models import ConversationState, ProcessedMessage

KIND = "housekeeping"


def run(runtime, as_of: datetime) -> JobResult:
    result = JobResult(KIND, as_of)
    settings = runtime.settings
    keep = max(timedelta(seconds=settings.DEDUP_TTL_SECONDS), timedelta(hours=settings.DRAFT_KEEP_HOURS))
    with runtime.db.session() as s:
        claims = s.execute(delete(ProcessedMessage).where(ProcessedMessage.created_at < as_of - keep)).rowcount
        drafts = s.execute(delete(ConversationState).where(ConversationState.expires_at < as_of)).rowcount
    result.details = {"dedup_rows": claims, "expired_drafts": drafts}
    return result
