"""Plumbing tables: the outbox of notices, message deduplication, conversation sessions,
the audit trail, job runs and monthly reports."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, one_of, utcnow

NOTICE_PENDING = "pending"
NOTICE_SENT = "sent"
NOTICE_FAILED = "failed"
NOTICE_UNKNOWN = "unknown"  # sent, never answered, not resent: maybe delivered (DingTalk; docs/reliability.md)
NOTICE_STATES = (NOTICE_PENDING, NOTICE_SENT, NOTICE_FAILED, NOTICE_UNKNOWN)

TARGET_USER = "user"  # one person (app message / DingTalk one-to-one)
TARGET_GROUP = "group"  # a ChatGroup by code (group robot)
TARGET_WEBHOOK = "webhook"  # a DingTalk sessionWebhook (reply later)
TARGET_MAIL = "mail"  # an e-mail address (the org chart's mailboxes)
TARGET_KINDS = (TARGET_USER, TARGET_GROUP, TARGET_WEBHOOK, TARGET_MAIL)


class Notice(Base):
    """One outbound message (the durable outbox). `key`, when set, makes the notice happen once:
    (kind, target, period) for scheduled notices."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_due", "state", "next_attempt_at"), one_of("state", NOTICE_STATES),
                      one_of("target_kind", TARGET_KINDS))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(48), default="reply")  # what it is about (job name, flow…)
    channel: Mapped[str] = mapped_column(String(16), default="wecom")
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))  # userid, group code, webhook URL or mail address
    msgtype: Mapped[str] = mapped_column(String(16))  # text / markdown / textcard / image / file / mail
    payload: Mapped[dict]  # content + mentions, file path…
    state: Mapped[str] = mapped_column(String(16), default=NOTICE_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]
    request_id: Mapped[Optional[str]] = mapped_column(String(32))  # the callback that caused it (logs)


class ProcessedMessage(Base):
    """Deduplication of incoming platform messages when Redis is not configured."""

    __tablename__ = "processed_message"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OrgVersion(Base):
    """One row (id 1): a counter that database triggers bump on every write to the org chart's tables
    (person, person_identity, person_role, unit, dispatch_row, dispatch_row_liaison — migration 0017).
    Each process caches people and their roles until it changes (bot.core.people)."""

    __tablename__ = "org_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class InboxMessage(Base):
    """A message acknowledged to its platform before its handler finished (the late path): kept until the
    handler's transaction committed, so a worker that dies before that is replaced by the inbox worker
    (bot.core.replies.drain_inbox), which dispatches it again — the dedup claim makes that harmless."""

    __tablename__ = "inbox_message"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # channel:msg_id, the dedup key
    incoming: Mapped[dict]  # the Incoming, as JSON
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConversationState(Base):
    """A user's conversation draft when Redis is not configured (versioned for optimistic writes); with
    Redis, only an anchor `{"anchor": flow}` saying a draft was started (bot/conversation/store.py)."""

    __tablename__ = "conversation_state"

    user_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict]
    version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Every change: who, when, what, before/after.

    `entity` is the changed row's table name (matter, assignment_slip, unit, rollup…) and `entity_id` that
    row's primary key as text — never a code people type (M12, JB3): codes are for display, ids are what
    lookups (`ledger.sql_audit_of`, the ix_audit_entity index) match. A change that is not about one row
    leaves entity_id empty."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    actor: Mapped[str] = mapped_column(String(100))  # display: person name, "seed", "system:job"
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str] = mapped_column(String(48))
    entity_id: Mapped[Optional[str]] = mapped_column(String(64))
    before: Mapped[Optional[dict]]
    after: Mapped[Optional[dict]]
    reason: Mapped[Optional[str]] = mapped_column(Text)


class JobRun(Base):
    """A record of each scheduled job run (for `jobs list` and catch-up after downtime)."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_name", "job", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(48))
    as_of: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    notices: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)


class MonthlyReport(Base):
    """调度分析报告 for one month, with the files kept on disk."""

    __tablename__ = "monthly_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # 2026-11
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict]
    xlsx_path: Mapped[Optional[str]] = mapped_column(String(300))
    png_path: Mapped[Optional[str]] = mapped_column(String(300))
