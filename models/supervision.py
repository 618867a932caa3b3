"""The supervision group's records (seed 000 §三(二)(三)): spot checks (现场抽查 / 现场督查), interviews
(督查约谈), the rectifications and promises they ask for (tracked with a deadline), 效能问责 cases (with
their referral to 区纪委监委), briefings (信息简报 / 专项通报) and highlights (亮点 / 典型经验)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, one_of, utcnow
from .ledger import Escalation, Matter
from .org import Unit

SPOT_PLANNED = "planned"
SPOT_RECORDED = "recorded"  # findings recorded
SPOT_STATES = (SPOT_PLANNED, SPOT_RECORDED)


class SpotCheck(Base):
    """现场抽查 / 现场督查 of items or units: when, who goes, what was found."""

    __tablename__ = "spot_check"
    __table_args__ = (one_of("state", SPOT_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # CC3
    planned_on: Mapped[date] = mapped_column(Date)
    team: Mapped[str] = mapped_column(Text)  # 参加人员
    unit_ids: Mapped[list] = mapped_column(default=list)  # units checked
    matter_ids: Mapped[list] = mapped_column(default=list)  # items checked
    state: Mapped[str] = mapped_column(String(16), default=SPOT_PLANNED)
    findings: Mapped[Optional[str]] = mapped_column(Text)
    recorded_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


INTERVIEW_SCHEDULED = "scheduled"
INTERVIEW_HELD = "held"
INTERVIEW_STATES = (INTERVIEW_SCHEDULED, INTERVIEW_HELD)


class Interview(Base):
    """督查约谈 of a unit (its 第一责任人 and liaison), from a 久拖不办 alert or by choice."""

    __tablename__ = "interview"
    __table_args__ = (one_of("state", INTERVIEW_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # YT3
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    matter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("matter.id"))
    escalation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("escalation.id"))  # the 久拖不办 alert
    scheduled_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    interviewers: Mapped[Optional[str]] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=INTERVIEW_SCHEDULED)
    record: Mapped[Optional[str]] = mapped_column(Text)  # what was said
    held_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()
    matter: Mapped[Optional[Matter]] = relationship()
    escalation: Mapped[Optional[Escalation]] = relationship()


TASK_RECTIFICATION = "rectification"  # 整改要求 of a spot check
TASK_PROMISE = "promise"  # 约谈承诺
TASK_KINDS = (TASK_RECTIFICATION, TASK_PROMISE)
TASK_OPEN = "open"
TASK_CLAIMED = "claimed"  # the unit says it is done
TASK_CLOSED = "closed"  # the supervision group confirmed
TASK_STATES = (TASK_OPEN, TASK_CLAIMED, TASK_CLOSED)
TASK_SOURCE = (f"(kind = '{TASK_RECTIFICATION}' AND spot_check_id IS NOT NULL AND interview_id IS NULL) OR "
               f"(kind = '{TASK_PROMISE}' AND interview_id IS NOT NULL AND spot_check_id IS NULL)")


class SupervisionTask(Base):
    """A rectification asked by a spot check or a date promised in an interview: one unit, one deadline,
    followed to 销号 by the supervision group."""

    __tablename__ = "supervision_task"
    __table_args__ = (one_of("kind", TASK_KINDS), one_of("state", TASK_STATES),
                      CheckConstraint(TASK_SOURCE, name="kind_source"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # ZG3
    kind: Mapped[str] = mapped_column(String(16))
    spot_check_id: Mapped[Optional[int]] = mapped_column(ForeignKey("spot_check.id"))
    interview_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interview.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    requirement: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=TASK_OPEN)
    claim_note: Mapped[Optional[str]] = mapped_column(Text)
    claimed_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()
    spot_check: Mapped[Optional[SpotCheck]] = relationship()
    interview: Mapped[Optional[Interview]] = relationship()


CASE_OPEN = "open"
CASE_DECIDED = "decided"
CASE_STATES = (CASE_OPEN, CASE_DECIDED)


class AccountabilityCase(Base):
    """效能问责 of a unit: the evidence the data showed, the decision and the deduction counted in the
    year's 绩效考评; `referred_at` set when it was 转报区纪委监委 (seen by the supervision group only)."""

    __tablename__ = "accountability_case"
    __table_args__ = (one_of("state", CASE_STATES), CheckConstraint("deduction >= 0", name="deduction"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # WZ3
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the assessment year the deduction counts in
    reason: Mapped[Optional[str]] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default=CASE_OPEN)
    decision: Mapped[Optional[str]] = mapped_column(Text)
    deduction: Mapped[float] = mapped_column(Float, default=0.0)
    decided_at: Mapped[Optional[datetime]]
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    referred_at: Mapped[Optional[datetime]]
    referred_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    referral_note: Mapped[Optional[str]] = mapped_column(Text)  # what was sent
    opened_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()


BRIEF_BRIEFING = "briefing"  # 信息简报
BRIEF_SPECIAL = "special"  # 专项通报
BRIEF_KINDS = (BRIEF_BRIEFING, BRIEF_SPECIAL)
BRIEF_DRAFT = "draft"
BRIEF_PUBLISHED = "published"
BRIEF_STATES = (BRIEF_DRAFT, BRIEF_PUBLISHED)


class Briefing(Base):
    """信息简报 / 专项通报 drafted from the ledger, edited in chat, published once to a chosen group."""

    __tablename__ = "briefing"
    __table_args__ = (one_of("kind", BRIEF_KINDS), one_of("state", BRIEF_STATES))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # XB3
    kind: Mapped[str] = mapped_column(String(16), default=BRIEF_BRIEFING)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    month: Mapped[str] = mapped_column(String(7))  # the period it covers, 2026-12
    state: Mapped[str] = mapped_column(String(16), default=BRIEF_DRAFT)
    group_code: Mapped[Optional[str]] = mapped_column(String(64))
    published_at: Mapped[Optional[datetime]]
    published_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Highlight(Base):
    """亮点 / 典型经验 of a unit: in the monthly report of its month and the next briefing published."""

    __tablename__ = "highlight"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    text: Mapped[str] = mapped_column(Text)
    marked_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    briefing_id: Mapped[Optional[int]] = mapped_column(ForeignKey("briefing.id"))  # the briefing that carried it

    unit: Mapped[Unit] = relationship()


__all__ = [n for n in dir() if n.isupper() and not n.startswith("_")] + [
    "SpotCheck", "Interview", "SupervisionTask", "AccountabilityCase", "Briefing", "Highlight"]
