"""The organisation: units, people, roles, task-force bodies and chat groups."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, attribute_keyed_dict, mapped_column, relationship

from .base import Base, one_of, utcnow

# Roles a person may hold (stored in PersonRole, except the unit-scoped ones
# which are the columns Unit.head_id / Unit.liaison_id).
ROLE_LEADER = "leader"  # 区政府领导, owns dispatch schedule rows
ROLE_OFFICE_SUPERVISOR = "office_supervisor"  # 办公室挂钩督导领导
ROLE_OFFICE_LIAISON = "office_liaison"  # 办公室调度联络员
ROLE_UNIT_HEAD = "unit_head"  # 第一责任人
ROLE_UNIT_LIAISON = "unit_liaison"  # 单位联络员
ROLE_SUPERVISION = "supervision_member"  # 督导考核组
ROLE_COORDINATION = "coordination_member"  # 综合协调组
ROLE_LIAISON_GROUP = "liaison_group_member"  # 调度联络组
ROLE_CONVENER = "convener"  # 总召集人 / 召集人 (seed 001)
ROLE_ADMIN = "admin"
ALL_ROLES = (
    ROLE_LEADER, ROLE_OFFICE_SUPERVISOR, ROLE_OFFICE_LIAISON, ROLE_UNIT_HEAD, ROLE_UNIT_LIAISON,
    ROLE_SUPERVISION, ROLE_COORDINATION, ROLE_LIAISON_GROUP, ROLE_CONVENER, ROLE_ADMIN,
)
UNIT_KINDS = ("bureau", "town", "street", "company", "office", "other")


class Unit(Base):
    """单位: a bureau, town, street office or state company."""

    __tablename__ = "unit"
    __table_args__ = (one_of("kind", UNIT_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    aliases: Mapped[list] = mapped_column(default=list)
    kind: Mapped[str] = mapped_column(String(16), default="bureau")
    head_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id", use_alter=True))
    liaison_id: Mapped[Optional[int]] = mapped_column(ForeignKey("person.id", use_alter=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    head: Mapped[Optional[Person]] = relationship(foreign_keys=[head_id])
    liaison: Mapped[Optional[Person]] = relationship(foreign_keys=[liaison_id])

    def __repr__(self) -> str:
        return f"<Unit {self.name}>"


class PersonIdentity(Base):
    """How one platform knows a person: their user id on a channel ("wecom", "dingtalk"…).

    A person has at most one identity per channel, and an id belongs to one person per channel."""

    __tablename__ = "person_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"), UniqueConstraint("person_id", "channel"))

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))

    person: Mapped[Person] = relationship(back_populates="identities")


def identity_attribute(channel: str) -> hybrid_property:
    """`person.<attr>`: the person's id on `channel` (None if they have none); assignable, and usable in
    queries (`Person.<attr> == "x"`)."""

    def get(self) -> Optional[str]:
        return self.identity(channel)

    def set_(self, value: Optional[str]) -> None:
        self.set_identity(channel, value)

    def expr(cls):
        return (select(PersonIdentity.external_id)
                .where(PersonIdentity.person_id == cls.id, PersonIdentity.channel == channel)
                .correlate_except(PersonIdentity).scalar_subquery())

    return hybrid_property(get, set_, expr=expr)


class Person(Base):
    """A person of the org chart. `key` is the org chart's name for them (None for people added outside
    it); how each platform knows them is in `identities`."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[Optional[str]] = mapped_column(String(200))
    short_title: Mapped[Optional[str]] = mapped_column(String(50))  # 区长 in 杨凤翔区长; None: from title
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"))
    mobile: Mapped[Optional[str]] = mapped_column(String(20))
    placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id])
    roles: Mapped[list[PersonRole]] = relationship(back_populates="person", cascade="all, delete-orphan")
    identities: Mapped[dict[str, PersonIdentity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", collection_class=attribute_keyed_dict("channel"))

    def identity(self, channel: str) -> Optional[str]:
        found = self.identities.get(channel)
        return found.external_id if found is not None else None

    def set_identity(self, channel: str, external_id: Optional[str]) -> None:
        """Give the person `external_id` on `channel` (None: take their identity there away)."""
        found = self.identities.get(channel)
        if not external_id:
            self.identities.pop(channel, None)
        elif found is None:
            self.identities[channel] = PersonIdentity(channel=channel, external_id=external_id)
        else:
            found.external_id = external_id  # in place: a delete + insert would collide on (person, channel)

    # The two platforms of today, by the names the org chart YAML uses for them.
    wecom_userid = identity_attribute("wecom")
    dingtalk_userid = identity_attribute("dingtalk")

    def __repr__(self) -> str:
        return f"<Person {self.name} {self.key}>"


class PersonRole(Base):
    """A non-unit-scoped role held by a person (leader, supervision member, admin…)."""

    __tablename__ = "person_role"
    __table_args__ = (UniqueConstraint("person_id", "role"), one_of("role", ALL_ROLES))

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))

    person: Mapped[Person] = relationship(back_populates="roles")


class WorkGroup(Base):
    """A body with named members: the task force, its three groups, seed 001's leadership group and office."""

    __tablename__ = "work_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[Optional[str]] = mapped_column(String(100))
    mailbox: Mapped[Optional[str]] = mapped_column(String(100))
    duties: Mapped[Optional[str]] = mapped_column(Text)

    members: Mapped[list[GroupMembership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMembership.seq"
    )


class GroupMembership(Base):
    __tablename__ = "group_membership"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("work_group.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    position: Mapped[str] = mapped_column(String(20))  # 组长 / 副组长 / 成员 / 总召集人 …
    title_in_group: Mapped[Optional[str]] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[WorkGroup] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class ChatGroup(Base):
    """A group chat the bot pushes to through a group robot (WeCom key or DingTalk token+secret)."""

    __tablename__ = "chat_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # supervision / liaisons / office
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16), default="wecom")
    robot_key_env: Mapped[Optional[str]] = mapped_column(String(64))
    robot_key: Mapped[Optional[str]] = mapped_column(String(200))  # credential; set at runtime, not in YAML
    robot_secret: Mapped[Optional[str]] = mapped_column(String(200))  # DingTalk 加签 secret
