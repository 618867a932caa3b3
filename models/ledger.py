"""Dispatch schedule (附件2), minutes, matters and slip rows (the ledger), reports, slips,
extensions, escalations and office-liaison roll-ups."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, one_of, utcnow
from .org import Person, Unit

dispatch_row_unit = Table(
    "dispatch_row_unit",
    Base.metadata,
    Column("dispatch_row_id", ForeignKey("dispatch_row.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id"), primary_key=True),
)
dispatch_row_liaison = Table(
    "dispatch_row_liaison",
    Base.metadata,
    Column("dispatch_row_id", ForeignKey("dispatch_row.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("person.id"), primary_key=True),
)


class DispatchRow(Base):
    """One row of 区政府领导定期协调调度事项清单 (附件2)."""

    __tablename__ = "dispatch_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    content: Mapped[str] = mapped_column(Text)
    cycle: Mapped[str] = mapped_column(String(16), default="monthly")
    lead_units_note: Mapped[Optional[str]] = mapped_column(String(200))
    office_supervisor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    # A retired row (附件2 "持续滚动更新") stays: the matters dispatched under it point at it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    leader: Mapped[Person] = relationship(foreign_keys=[leader_id])
    office_supervisor: Mapped[Optional[Person]] = relationship(foreign_keys=[office_supervisor_id])
    lead_units: Mapped[list[Unit]] = relationship(secondary=dispatch_row_unit, order_by=Unit.id)
    office_liaisons: Mapped[list[Person]] = relationship(secondary=dispatch_row_liaison, order_by=Person.id)


# Dispatch meeting kinds (附件3 note 1: "调度会议包括会议、调研、一线调度等形式")
MEETING_MEETING = "meeting"  # 会议
MEETING_RESEARCH = "research"  # 调研
MEETING_FRONTLINE = "frontline"  # 一线调度
MEETING_KINDS = (MEETING_MEETING, MEETING_RESEARCH, MEETING_FRONTLINE)


class Meeting(Base):
    """A dispatch meeting (调度会) held by a leader: what the "每月至少1次" and the 3-day draft rules count,
    whether or not its minutes were typed in yet."""

    __tablename__ = "meeting"
    __table_args__ = (one_of("kind", MEETING_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    dispatch_row_id: Mapped[Optional[int]] = mapped_column(ForeignKey("dispatch_row.id"))
    meeting_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16), default=MEETING_MEETING)
    lead_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))  # drafts the minutes
    subject: Mapped[Optional[str]] = mapped_column(String(300))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    leader: Mapped[Person] = relationship(foreign_keys=[leader_id])
    dispatch_row: Mapped[Optional[DispatchRow]] = relationship()
    lead_unit: Mapped[Optional[Unit]] = relationship()
    minutes: Mapped[list[Minutes]] = relationship(back_populates="meeting")


# Minutes states: 初稿 → 送签 → 印发 (seed 000 §三(一))
MINUTES_RECORDED = "recorded"  # legacy rows: recorded before drafting existed (no longer written)
MINUTES_DRAFTED = "drafted"  # first draft done and sent to the leader to sign (送签)
MINUTES_RETURNED = "returned"  # the leader sent the draft back to its drafter
MINUTES_ISSUED = "issued"  # signed and issued (印发)
MINUTES_WITHDRAWN = "withdrawn"  # withdrawn by its drafter, with a reason
MINUTES_STATES = (MINUTES_RECORDED, MINUTES_DRAFTED, MINUTES_ISSUED, MINUTES_RETURNED, MINUTES_WITHDRAWN)


class Minutes(Base):
    """会议纪要 of a dispatch meeting."""

    __tablename__ = "minutes"
    __table_args__ = (one_of("state", MINUTES_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Optional[str]] = mapped_column(String(100))  # 纪要编号
    title: Mapped[str] = mapped_column(String(300))
    leader_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    dispatch_row_id: Mapped[Optional[int]] = mapped_column(ForeignKey("dispatch_row.id"))
    meeting_date: Mapped[date] = mapped_column(Date)
    drafting_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    state: Mapped[str] = mapped_column(String(16), default=MINUTES_RECORDED)
    drafted_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # 牵头单位: files the problem list (附件3 note 2); None only on rows older than migration 0013,
    # whose responsible units then report for themselves (bot.domain.reporting.sql_reporting_unit)
    lead_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    meeting_id: Mapped[Optional[int]] = mapped_column(ForeignKey("meeting.id"), index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # 涉及保密工作事项: never copied
    issued_at: Mapped[Optional[datetime]]
    return_reason: Mapped[Optional[str]] = mapped_column(Text)

    leader: Mapped[Person] = relationship(foreign_keys=[leader_id])
    drafting_unit: Mapped[Unit] = relationship(foreign_keys=[drafting_unit_id])
    lead_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[lead_unit_id])
    dispatch_row: Mapped[Optional[DispatchRow]] = relationship()
    meeting: Mapped[Optional[Meeting]] = relationship(back_populates="minutes")
    created_by: Mapped[Optional[Person]] = relationship(foreign_keys=[created_by_id])
    matters: Mapped[list[Matter]] = relationship(back_populates="minutes", order_by="Matter.seq")


# Slip states
SLIP_PENDING = "pending_signature"
SLIP_RETURNED = "returned"
SLIP_ISSUED = "issued"
SLIP_WITHDRAWN = "withdrawn"  # withdrawn by its drafter before signing, with a reason
SLIP_STATES = (SLIP_PENDING, SLIP_RETURNED, SLIP_ISSUED, SLIP_WITHDRAWN)


class AssignmentSlip(Base):
    """事项交办单 (附件4): signed by the dispatching leader, then issued."""

    __tablename__ = "assignment_slip"
    __table_args__ = (one_of("state", SLIP_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[Optional[str]] = mapped_column(String(32), unique=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    dispatched_on: Mapped[date] = mapped_column(Date)  # 调度时间
    drafted_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    drafting_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    state: Mapped[str] = mapped_column(String(24), default=SLIP_PENDING)
    return_reason: Mapped[Optional[str]] = mapped_column(Text)
    signed_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    draft: Mapped[Optional[dict]]  # the rows as entered, until issued (editable after 退回)
    # 牵头单位: files the slip's 落实情况 (附件4); never merely the drafter's own unit
    lead_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # 涉及保密工作事项: never copied

    leader: Mapped[Person] = relationship(foreign_keys=[leader_id])
    lead_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[lead_unit_id])
    drafted_by: Mapped[Person] = relationship(foreign_keys=[drafted_by_id])
    rows: Mapped[list[Matter]] = relationship(back_populates="slip", order_by="Matter.seq")


# Matter (ledger item) states
MATTER_OPEN = "open"
MATTER_EXTENSION = "extension_requested"
MATTER_CLAIMED = "completion_claimed"
MATTER_CLOSED = "closed"  # 销号
MATTER_RETURNED = "returned"  # 退回重办 (open again, flagged)
MATTER_WITHDRAWN = "withdrawn"  # its issued minutes / slip were withdrawn (撤销印发): terminal
MATTER_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_CLAIMED, MATTER_CLOSED, MATTER_RETURNED,
                 MATTER_WITHDRAWN)
KIND_MINUTES = "minutes"
KIND_SLIP = "slip"
KIND_TOPIC = "topic"
MATTER_KINDS = (KIND_MINUTES, KIND_SLIP, KIND_TOPIC)
# A ledger item comes from exactly one record, and its kind says which.
MATTER_SOURCE = " OR ".join(
    f"(kind = '{kind}' AND " + " AND ".join(f"{fk} IS {'NOT ' if fk == own else ''}NULL"
                                          for fk in ("minutes_id", "slip_id", "topic_id")) + ")"
    for kind, own in ((KIND_MINUTES, "minutes_id"), (KIND_SLIP, "slip_id"), (KIND_TOPIC, "topic_id")))


class Matter(Base):
    """One ledger item (督查台账): a matter of minutes, a row of an assignment slip, or a joint-meeting decision."""

    __tablename__ = "matter"
    __table_args__ = (one_of("state", MATTER_STATES), one_of("kind", MATTER_KINDS),
                      CheckConstraint(MATTER_SOURCE, name="kind_source"),
                      CheckConstraint("escalation_level BETWEEN 0 AND 5", name="escalation_level"),
                      # a slip is issued once (its sub-items, 分解督办, are numbered under their parent)
                      Index("uq_matter_slip_row", "slip_id", "seq", unique=True,
                            postgresql_where=text("parent_id IS NULL"), sqlite_where=text("parent_id IS NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # what users type: M12, J3, T2
    kind: Mapped[str] = mapped_column(String(16), default=KIND_MINUTES)
    minutes_id: Mapped[Optional[int]] = mapped_column(ForeignKey("minutes.id"))
    slip_id: Mapped[Optional[int]] = mapped_column(ForeignKey("assignment_slip.id"))
    topic_id: Mapped[Optional[int]] = mapped_column(ForeignKey("meeting_topic.id"))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)  # 事项 / 事项名称
    obstacles: Mapped[Optional[str]] = mapped_column(Text)  # 难点痛点堵点 (slip rows)
    measures: Mapped[Optional[str]] = mapped_column(Text)  # 解决措施 (slip rows)
    # dispatching leader; indexed: an item without minutes belongs to its leader's rows (scope.followers)
    leader_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"), index=True)
    responsible_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    lead_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    deadline: Mapped[date] = mapped_column(Date, index=True)  # current 完成时限
    original_deadline: Mapped[date] = mapped_column(Date)
    planned_deadline: Mapped[Optional[date]] = mapped_column(Date)  # 未完成事项计划时限 from the last report
    state: Mapped[str] = mapped_column(String(24), default=MATTER_OPEN, index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    last_progress_at: Mapped[Optional[datetime]]
    last_progress: Mapped[Optional[str]] = mapped_column(Text)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[Optional[datetime]]
    # when the item went to 待销号; it owes no report in a period it was already awaiting 销号 when it
    # opened (bot.domain.reporting.sql_expected_in); cleared when the claim is withdrawn or returned
    claimed_at: Mapped[Optional[datetime]]
    # 分解督办: a sub-item of the item the supervision group split (same source; code M3-1)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("matter.id"), index=True)
    # when its issued minutes / slip were withdrawn (state withdrawn): it owes nothing from the next period on
    withdrawn_at: Mapped[Optional[datetime]]

    minutes: Mapped[Optional[Minutes]] = relationship(back_populates="matters")
    slip: Mapped[Optional[AssignmentSlip]] = relationship(back_populates="rows")
    responsible_unit: Mapped[Unit] = relationship(foreign_keys=[responsible_unit_id])
    lead_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[lead_unit_id])
    leader: Mapped[Optional[Person]] = relationship(foreign_keys=[leader_id])
    parent: Mapped[Optional[Matter]] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Matter]] = relationship(back_populates="parent", order_by="Matter.seq")
    unit_links: Mapped[list[MatterUnit]] = relationship(back_populates="matter", order_by="MatterUnit.id",
                                                        cascade="all, delete-orphan")


# A responsible unit's role on a matter (bot.domain.responsibility): 主办 (the matter's responsible_unit_id)
# or 协办 / 配合 (seed 000 §三(二) "分解督办"; the offices write "区住建局（主办）、区发改局")
UNIT_HOST = "host"  # 主办
UNIT_ASSIST = "assist"  # 协办 / 配合
UNIT_ROLES = (UNIT_HOST, UNIT_ASSIST)


class MatterUnit(Base):
    """One responsible unit of a matter, in its role, with its 认领 (acknowledgement): `assigned_at` is when
    the unit was told it has the item (issue of the minutes or slip, a sub-item, a unit added), from which
    the acknowledge_chase job counts working days."""

    __tablename__ = "matter_unit"
    __table_args__ = (UniqueConstraint("matter_id", "unit_id"), one_of("role", UNIT_ROLES))

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    role: Mapped[str] = mapped_column(String(8), default=UNIT_HOST)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[Optional[datetime]]
    acknowledged_at: Mapped[Optional[datetime]]
    acknowledged_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))

    matter: Mapped[Matter] = relationship(back_populates="unit_links")
    unit: Mapped[Unit] = relationship()
    acknowledged_by: Mapped[Optional[Person]] = relationship()


class ReportSubmission(Base):
    """A unit's report (附件3 / 附件4 落实情况) for one period. A later one supersedes an earlier one."""

    __tablename__ = "report_submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    period_key: Mapped[str] = mapped_column(String(10), index=True)  # deadline date, e.g. 2026-12-05
    # the problem list it is: of ONE minutes (附件3) or slip (附件4) — bot.domain.reporting.sql_source:
    # "minutes:12", "slip:3", "" (items of neither); "*" (the default) a report of every source at once, as
    # every report made before 0014 was
    source: Mapped[str] = mapped_column(String(40), default="*", server_default="*")
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    submitted_at: Mapped[datetime]
    # the unit's report for the period was late when this version was saved (bot.domain.reporting)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship()
    submitted_by: Mapped[Person] = relationship()
    items: Mapped[list[ReportItem]] = relationship(back_populates="submission", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("unit_id", "period_key", "source", "version"),)


class MissedDeadline(Base):
    """A unit that owed a report had none at a period's deadline (超期未报): recorded once, by the
    report_overdue job, and counted from here (the year's tally in notices and the circular)."""

    __tablename__ = "missed_deadline"
    __table_args__ = (UniqueConstraint("unit_id", "period_key", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))  # indexed by uq (unit_id, period_key, source)
    period_key: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(40), default="*", server_default="*")  # as ReportSubmission.source
    deadline: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


ITEM_DONE = "done"
ITEM_OPEN = "open"
ITEM_STATUSES = (ITEM_DONE, ITEM_OPEN)


class ReportItem(Base):
    """Progress on one matter in one report: 已完成 or 未完成 (+ planned deadline)."""

    __tablename__ = "report_item"
    __table_args__ = (UniqueConstraint("submission_id", "matter_id"), one_of("status", ITEM_STATUSES))

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("report_submission.id", ondelete="CASCADE"))
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))  # done / open
    progress: Mapped[str] = mapped_column(Text)
    planned_deadline: Mapped[Optional[date]] = mapped_column(Date)
    obstacle: Mapped[Optional[str]] = mapped_column(Text)  # 难点痛点堵点 noted in the report

    submission: Mapped[ReportSubmission] = relationship(back_populates="items")
    matter: Mapped[Matter] = relationship()


class RollUp(Base):
    """An office liaison's roll-up (归口汇总) of one dispatch row's units for one period."""

    __tablename__ = "rollup"
    __table_args__ = (UniqueConstraint("dispatch_row_id", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_row_id: Mapped[int] = mapped_column(ForeignKey("dispatch_row.id"))
    period_key: Mapped[str] = mapped_column(String(10))
    office_liaison_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    compiled_at: Mapped[datetime] = mapped_column(default=utcnow)
    content: Mapped[Optional[str]] = mapped_column(Text)
    hardest: Mapped[Optional[str]] = mapped_column(Text)  # 难点痛点堵点 chosen/edited by the liaison
    submitted_at: Mapped[Optional[datetime]]
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)

    dispatch_row: Mapped[DispatchRow] = relationship()


EXT_PENDING = "pending"
EXT_APPROVED = "approved"
EXT_REFUSED = "refused"
EXT_WITHDRAWN = "withdrawn"  # a pending request made moot by 销号
EXT_STATES = (EXT_PENDING, EXT_APPROVED, EXT_REFUSED, EXT_WITHDRAWN)


class ExtensionRequest(Base):
    """延期申请: a new deadline asked for with a reason, decided by the row's office supervisor."""

    __tablename__ = "extension_request"
    # One pending request per item, whoever asks (two units' liaisons at once included).
    __table_args__ = (one_of("state", EXT_STATES),
                      Index("uq_extension_one_pending", "matter_id", unique=True,
                            postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")))

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    old_deadline: Mapped[date] = mapped_column(Date)
    new_deadline: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=EXT_PENDING)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[Optional[datetime]]
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    matter: Mapped[Matter] = relationship()


# Escalation ladder (seed 000 §三(二)(三)), in order.
ESC_SUPERVISION_REQUEST = 1  # 提请督导考核组分解督办
ESC_STALLED = 2  # 久推不动 → 挂钩领导会商
ESC_INTERVIEW = 3  # 久拖不办 → 督查约谈
ESC_ACCOUNTABILITY = 4  # 效能问责
ESC_DISCIPLINE = 5  # 转报区纪委监委
ESC_RAISED = "raised"
ESC_ACCEPTED = "accepted"  # 立项督办
ESC_RETURNED = "returned"
ESC_STATES = (ESC_RAISED, ESC_ACCEPTED, ESC_RETURNED)


class Escalation(Base):
    """One step of the escalation ladder for one ledger item."""

    __tablename__ = "escalation"
    __table_args__ = (UniqueConstraint("matter_id", "level"), one_of("state", ESC_STATES),
                      CheckConstraint(f"level BETWEEN {ESC_SUPERVISION_REQUEST} AND {ESC_DISCIPLINE}", name="level"))

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matter.id"))  # indexed by uq (matter_id, level)
    level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=ESC_RAISED)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    raised_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))  # None = automatic
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[Optional[datetime]]
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    supervision_deadline: Mapped[Optional[date]] = mapped_column(Date)

    matter: Mapped[Matter] = relationship()
