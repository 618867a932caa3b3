"""Housekeeping: old message-id claims and expired drafts go, recent ones stay; a rerun deletes nothing."""
from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from bot.jobs import config_of, run_job
from models import ConversationState, ProcessedMessage
from tests.factories import at

NOW = at(2026, 12, 10, 3, 15)


def test_old_claims_and_expired_drafts_are_dropped(runtime):
    spec = config_of(runtime).jobs["housekeeping"]
    with runtime.db.session() as s:
        for key, age in (("wecom:old", timedelta(days=3)), ("wecom:new", timedelta(hours=1)),
                         ("draft:finished-long-ago", timedelta(days=2, hours=1)),
                         ("draft:finished-today", timedelta(hours=5))):
            s.add(ProcessedMessage(key=key, created_at=NOW - age))
        for key, expires in (("person:1", NOW - timedelta(minutes=1)), ("person:2", NOW + timedelta(hours=20))):
            s.add(ConversationState(user_key=key, data={"flow": "minutes"}, version=1, expires_at=expires,
                                    updated_at=expires - timedelta(hours=24)))
    first = run_job(runtime, spec, NOW)
    assert first.details == {"dedup_rows": 2, "expired_drafts": 1} and first.notices == 0
    with runtime.db.session() as s:
        assert sorted(s.scalars(select(ProcessedMessage.key))) == ["draft:finished-today", "wecom:new"]
        assert list(s.scalars(select(ConversationState.user_key))) == ["person:2"]
    assert run_job(runtime, spec, NOW).details == {"dedup_rows": 0, "expired_drafts": 0}


def test_a_claim_outlives_the_retry_window_only(runtime):
    """A retry within DEDUP_TTL_SECONDS (2 days) is still a duplicate after housekeeping; later the claim
    is gone, like the Redis key's TTL."""
    from datetime import datetime

    spec = config_of(runtime).jobs["housekeeping"]
    claimed = datetime.now(UTC)
    assert runtime.claim_message("wecom:m1") is True
    run_job(runtime, spec, claimed + timedelta(hours=47))
    assert runtime.claim_message("wecom:m1") is False
    run_job(runtime, spec, claimed + timedelta(hours=49))
    assert runtime.claim_message("wecom:m1") is True


def test_outbox_and_logs_have_a_retention_and_the_audit_trail_none(runtime, tmp_path):
    """Sent / failed notices older than OUTBOX_KEEP_DAYS and old log files go; pending notices, recent
    ones and audit rows stay."""
    import os

    from bot.infra import audit
    from models import AuditLog, Notice

    spec = config_of(runtime).jobs["housekeeping"]
    old, recent = NOW - timedelta(days=401), NOW - timedelta(days=10)
    with runtime.db.session() as s:
        for key, state, when in (("sent-old", "sent", old), ("failed-old", "failed", old),
                                 ("pending-old", "pending", old), ("sent-recent", "sent", recent)):
            s.add(Notice(key=key, channel="wecom", target_kind="user", target="u", msgtype="text",
                         payload={"content": "x"}, state=state, created_at=when,
                         sent_at=when if state == "sent" else None))
        audit.record(s, actor="seed", action="seed.create", entity="unit", entity_id=1, at=old)
    logs = tmp_path / "instance" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "bot.log.1").write_text("old")
    (logs / "bot.log").write_text("new")
    os.utime(logs / "bot.log.1", (NOW.timestamp() - 31 * 86400,) * 2)
    os.utime(logs / "bot.log", (NOW.timestamp(),) * 2)
    result = run_job(runtime, spec, NOW)
    assert result.details["outbox_rows"] == 2 and result.details["log_files"] == 1
    with runtime.db.session() as s:
        assert sorted(s.scalars(select(Notice.key))) == ["pending-old", "sent-recent"]
        assert s.scalar(select(AuditLog).where(AuditLog.action == "seed.create")) is not None
    assert sorted(p.name for p in logs.iterdir()) == ["bot.log"]
