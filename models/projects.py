"""Seed 001: key projects (难硬重新), milestones, weekly project reports and joint-meeting topics."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
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
    report_mailbox: Mapped[Optional[str]] = mapped_column(String(100))  # where the reviewed form is mailed
    contact_name: Mapped[Optional[str]] = mapped_column(String(100))  # 联系人 shown in reminders
    contact_mobile: Mapped[Optional[str]] = mapped_column(String(20))

    lead_units: Mapped[list[Unit]] = relationship(secondary=key_project_unit, order_by=Unit.id)
    leader: Mapped[Optional[Person]] = relationship()
    milestones: Mapped[list[Milestone]] = relationship(
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
    claimed_on: Mapped[Optional[date]] = mapped_column(Date)  # claimed met in a reviewed weekly form
    confirmed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))  # joint office
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))  # added in chat

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
    filled_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))  # 填报单位
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    return_reason: Mapped[Optional[str]] = mapped_column(Text)
    draft: Mapped[Optional[dict]]  # the answers as entered (reopened after 退回)

    project: Mapped[KeyProject] = relationship()
    problems: Mapped[list[ProjectProblem]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="ProjectProblem.id"
    )
    milestone_lines: Mapped[list[MilestoneProgress]] = relationship(
        cascade="all, delete-orphan", order_by="MilestoneProgress.id"
    )
    filled_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[filled_unit_id])
    submitted_by: Mapped[Person] = relationship(foreign_keys=[submitted_by_id])

    @property
    def code(self) -> str:
        return f"ZH{self.id}"


class ProjectProblem(Base):
    """存在问题（需协调事项） in one of the five categories, with its responsible department."""

    __tablename__ = "project_problem"
    __table_args__ = (one_of("category", PROBLEM_CATEGORIES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("weekly_project_report.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(16))  # a key of PROBLEM_CATEGORIES
    description: Mapped[str] = mapped_column(Text)
    responsible_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    progress: Mapped[Optional[str]] = mapped_column(Text)  # 协调推进情况
    proposal: Mapped[Optional[str]] = mapped_column(Text)  # 下阶段工作对策建议
    closed_at: Mapped[Optional[datetime]]  # solved (the joint office says so)
    closed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))

    report: Mapped[WeeklyProjectReport] = relationship(back_populates="problems")
    responsible_unit: Mapped[Optional[Unit]] = relationship()


TOPIC_SUBMITTED = "submitted"
TOPIC_REVIEWED = "office_reviewed"
TOPIC_APPROVED = "approved"  # by the convener: on the agenda
TOPIC_DECIDED = "decided"
TOPIC_REJECTED = "rejected"
TOPIC_RETURNED = "returned"  # by the office or a convener, with a reason: the lead unit revises and resubmits
TOPIC_STATES = (TOPIC_SUBMITTED, TOPIC_REVIEWED, TOPIC_APPROVED, TOPIC_DECIDED, TOPIC_REJECTED, TOPIC_RETURNED)


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
    consulted: Mapped[Optional[str]] = mapped_column(Text)  # 事前征求意见的相关部门 (§四(一))
    return_reason: Mapped[Optional[str]] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    meeting_id: Mapped[Optional[int]] = mapped_column(ForeignKey("joint_meeting.id"))
    reviewed_at: Mapped[Optional[datetime]]
    approved_at: Mapped[Optional[datetime]]

    project: Mapped[KeyProject] = relationship()
    raised_by: Mapped[Person] = relationship(foreign_keys=[raised_by_id])
    meeting: Mapped[Optional[JointMeeting]] = relationship(back_populates="topics")

    @property
    def code(self) -> str:
        return f"YT{self.id}"


# -- seed 001 in chat (issue 13): additions; the columns above are kept as they are --------------------
WEEKLY_STATES = (WEEKLY_SUBMITTED, WEEKLY_REVIEWED, WEEKLY_RETURNED)

MEETING_PROPOSED = "proposed"  # an extra meeting a member proposed, waiting for a convener (§三(一))
MEETING_DECLINED = "declined"  # the convener did not agree to the extra meeting
MEETING_PLANNED = "planned"  # agenda being put together
MEETING_CALLED = "called"  # agenda sent to the attendees
MEETING_DRAFTED = "minutes_drafted"  # minutes with decisions waiting for the chair's 签发
MEETING_SIGNED = "signed"  # signed and sent: the decisions are ledger items
MEETING_STATES = (MEETING_PROPOSED, MEETING_DECLINED, MEETING_PLANNED, MEETING_CALLED, MEETING_DRAFTED, MEETING_SIGNED)

TRANSFER_REQUESTED = "requested"
TRANSFER_APPROVED = "approved"
TRANSFER_REFUSED = "refused"
TRANSFER_STATES = (TRANSFER_REQUESTED, TRANSFER_APPROVED, TRANSFER_REFUSED)
# §三(四): who a badly implemented decision is handed to (work_group codes of the org chart).
TRANSFER_TARGETS = {"party": "区委督查室", "gov": "区政府督查室"}


class MilestoneProgress(Base):
    """One milestone's line in one weekly form: progress and whether the lead unit says it is met."""

    __tablename__ = "milestone_progress"
    __table_args__ = (UniqueConstraint("report_id", "milestone_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("weekly_project_report.id", ondelete="CASCADE"))
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestone.id", ondelete="CASCADE"))
    progress: Mapped[str] = mapped_column(Text)
    met: Mapped[bool] = mapped_column(Boolean, default=False)

    milestone: Mapped[Milestone] = relationship()


class JointMeeting(Base):
    """联合会议 (§三): by default one a week per project; its agenda is the approved topics, its minutes the
    decisions, signed (签发) by the chairing convener."""

    __tablename__ = "joint_meeting"
    __table_args__ = (one_of("state", MEETING_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[Optional[int]] = mapped_column(ForeignKey("key_project.id"))  # None: all projects
    meeting_date: Mapped[date] = mapped_column(Date)
    chair_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    state: Mapped[str] = mapped_column(String(16), default=MEETING_PLANNED)
    extra: Mapped[bool] = mapped_column(Boolean, default=False)  # proposed by a member, approved by a convener
    purpose: Mapped[Optional[str]] = mapped_column(Text)  # why an extra meeting is proposed
    invited_unit_ids: Mapped[list] = mapped_column(default=list)  # 列席
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    called_at: Mapped[Optional[datetime]]
    draft: Mapped[Optional[dict]]  # the minutes' decisions as entered, until signed
    drafted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    signed_at: Mapped[Optional[datetime]]

    project: Mapped[Optional[KeyProject]] = relationship()
    chair: Mapped[Optional[Person]] = relationship(foreign_keys=[chair_id])
    topics: Mapped[list[MeetingTopic]] = relationship(back_populates="meeting", order_by="MeetingTopic.id")

    @property
    def code(self) -> str:
        return f"HY{self.id}"


class DecisionTransfer(Base):
    """§三(四): a decision implemented badly or late, handed to 区委督查室 / 区政府督查室 once a district
    leader approves (批办), and notified to 区纪委监委 / 区效能办 as the case warrants."""

    __tablename__ = "decision_transfer"
    __table_args__ = (one_of("state", TRANSFER_STATES), one_of("target", TRANSFER_TARGETS))

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id"), index=True)
    target: Mapped[str] = mapped_column(String(16))  # a key of TRANSFER_TARGETS
    reason: Mapped[str] = mapped_column(Text)
    notify_discipline: Mapped[bool] = mapped_column(Boolean, default=False)  # 区纪委监委
    notify_efficiency: Mapped[bool] = mapped_column(Boolean, default=False)  # 区效能办
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approver_id: Mapped[int] = mapped_column(ForeignKey("person.id"))  # the district leader asked to 批办
    state: Mapped[str] = mapped_column(String(16), default=TRANSFER_REQUESTED)
    decided_at: Mapped[Optional[datetime]]
    decision_note: Mapped[Optional[str]] = mapped_column(Text)

    approver: Mapped[Person] = relationship(foreign_keys=[approver_id])
    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id])

    @property
    def code(self) -> str:
        return f"ZB{self.id}"
