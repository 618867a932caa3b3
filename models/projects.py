"""Seed 001: key projects (难硬重新), milestones, weekly project reports and joint-meeting topics."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, one_of, utcnow
from .org import Person, Unit

key_project_unit = Table(
    "key_project_unit",
    Base.metadata,
    Column("project_id", ForeignKey("key_project.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id"), primary_key=True),
)

# The five problem categories of the weekly form, in the form's order.
PROBLEM_CATEGORIES = {
    "approval": "项目审批",
    "budget": "资金概算",
    "land": "规划用地",
    "construction": "工程施工",
    "community": "群众工作",
}


class KeyProject(Base):
    """A 难硬重新 key project with its overall lead unit(s)."""

    __tablename__ = "key_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    batch: Mapped[Optional[str]] = mapped_column(String(100))
    leader_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))  # reviews the weekly form

    lead_units: Mapped[list[Unit]] = relationship(secondary=key_project_unit, order_by=Unit.id)
    leader: Mapped[Optional[Person]] = relationship()
    milestones: Mapped[list["Milestone"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Milestone.seq"
    )


class Milestone(Base):
    """攻坚目标 + 完成时限."""

    __tablename__ = "milestone"
    __table_args__ = (UniqueConstraint("project_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("key_project.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    done_on: Mapped[Optional[date]] = mapped_column(Date)

    project: Mapped[KeyProject] = relationship(back_populates="milestones")


WEEKLY_SUBMITTED = "submitted"
WEEKLY_REVIEWED = "reviewed"  # reviewed by the project's leader, forwarded to the joint-meeting office
WEEKLY_RETURNED = "returned"
WEEKLY_STATES = (WEEKLY_SUBMITTED, WEEKLY_REVIEWED, WEEKLY_RETURNED)


class WeeklyProjectReport(Base):
    """The Monday form of one project (seed 001 附件)."""

    __tablename__ = "weekly_project_report"
    __table_args__ = (UniqueConstraint("project_id", "week_start"), one_of("state", WEEKLY_STATES))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("key_project.id"))
    week_start: Mapped[date] = mapped_column(Date)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    submitted_at: Mapped[datetime]
    coordination_progress: Mapped[Optional[str]] = mapped_column(Text)  # 协调推进情况
    next_steps: Mapped[Optional[str]] = mapped_column(Text)  # 下阶段工作对策建议
    state: Mapped[str] = mapped_column(String(16), default=WEEKLY_SUBMITTED)
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[Optional[datetime]]

    project: Mapped[KeyProject] = relationship()
    problems: Mapped[list["ProjectProblem"]] = relationship(
        back_populates="report", cascade="all, delete-orphan"
    )


class ProjectProblem(Base):
    """存在问题（需协调事项） in one of the five categories, with its responsible department."""

    __tablename__ = "project_problem"
    __table_args__ = (one_of("category", PROBLEM_CATEGORIES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("weekly_project_report.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(16))  # a key of PROBLEM_CATEGORIES
    description: Mapped[str] = mapped_column(Text)
    responsible_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))

    report: Mapped[WeeklyProjectReport] = relationship(back_populates="problems")
    responsible_unit: Mapped[Optional[Unit]] = relationship()


TOPIC_SUBMITTED = "submitted"
TOPIC_REVIEWED = "office_reviewed"
TOPIC_APPROVED = "approved"  # by the convener: on the agenda
TOPIC_DECIDED = "decided"
TOPIC_REJECTED = "rejected"
TOPIC_STATES = (TOPIC_SUBMITTED, TOPIC_REVIEWED, TOPIC_APPROVED, TOPIC_DECIDED, TOPIC_REJECTED)


class MeetingTopic(Base):
    """议题 raised to the weekly joint meeting; its decisions become ledger items (Matter kind=topic)."""

    __tablename__ = "meeting_topic"
    __table_args__ = (one_of("state", TOPIC_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("key_project.id"))
    title: Mapped[str] = mapped_column(Text)
    proposed_solution: Mapped[str] = mapped_column(Text)
    responsible_units_text: Mapped[Optional[str]] = mapped_column(Text)
    time_limit: Mapped[Optional[date]] = mapped_column(Date)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default=TOPIC_SUBMITTED)
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    meeting_date: Mapped[Optional[date]] = mapped_column(Date)
    decision: Mapped[Optional[str]] = mapped_column(Text)

    project: Mapped[KeyProject] = relationship()
