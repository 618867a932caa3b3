"""Housekeeping: old message-id claims and expired drafts go, recent ones stay; a rerun deletes nothing."""
from __future__ import annotations

from datetime import timedelta

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
    from datetime import datetime, timezone

    spec = config_of(runtime).jobs["housekeeping"]
    claimed = datetime.now(timezone.utc)
    assert runtime.claim_message("wecom:m1") is True
    run_job(runtime, spec, claimed + timedelta(hours=47))
    assert runtime.claim_message("wecom:m1") is False
    run_job(runtime, spec, claimed + timedelta(hours=49))
    assert runtime.claim_message("wecom:m1") is True
