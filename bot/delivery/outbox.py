"""The durable outbox: every outbound message is a Notice row first, delivered later by the sender.

`enqueue` is called inside the caller's transaction, so a notice exists if and only if the change
that caused it was committed. A notice with a `key` is created at most once, ever.
"""
from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import TARGET_GROUP, TARGET_USER, Notice, Person, utcnow


def enqueue(session: Session, *, target_kind: str, target: str, msgtype: str, payload: dict,
            channel: str = "wecom", key: Optional[str] = None, kind: str = "notice") -> Optional[Notice]:
    """Add a notice; with `key`, return None (and add nothing) if that key was already used."""
    if key is not None:
        if session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
            return None
        notice = Notice(key=key, kind=kind, channel=channel, target_kind=target_kind, target=target,
                        msgtype=msgtype, payload=payload, next_attempt_at=utcnow())
        try:
            with session.begin_nested():
                session.add(notice)
        except IntegrityError:  # a concurrent process took the key first
            return None
        return notice
    notice = Notice(kind=kind, channel=channel, target_kind=target_kind, target=target, msgtype=msgtype,
                    payload=payload, next_attempt_at=utcnow())
    session.add(notice)
    return notice


def person_target(person: Person, channel: str) -> Optional[str]:
    """The platform user id of a person on a channel (None if they have none there)."""
    return person.dingtalk_userid if channel == "dingtalk" else person.wecom_userid


def to_person(session: Session, person: Person, text: str, *, channel: str = "wecom", markdown: bool = False,
              key: Optional[str] = None, kind: str = "notice") -> Optional[Notice]:
    """A direct message to one person (app message / DingTalk one-to-one)."""
    target = person_target(person, channel)
    if not target:
        return None
    msgtype = "markdown" if markdown else "text"
    return enqueue(session, target_kind=TARGET_USER, target=target, msgtype=msgtype,
                   payload={"content": text}, channel=channel, key=key, kind=kind)


def group_message(text: str, channel: str, mention: Iterable[Person] = (), markdown: bool = True
                  ) -> tuple[str, dict]:
    """(msgtype, payload) of a group-robot message; @-mentions (by mobile and platform user id) make it
    a text message, the only kind that pings people."""
    mention = list(mention)
    mobiles = [p.mobile for p in mention if p.mobile]
    userids = [uid for p in mention if (uid := person_target(p, channel))]
    payload = {"content": text}
    if mobiles or userids:
        payload["mentioned_mobile_list"] = mobiles
        payload["mentioned_list"] = userids
    return ("markdown" if markdown and not (mobiles or userids) else "text"), payload


def to_group(session: Session, group_code: str, text: str, *, channel: str = "wecom", markdown: bool = True,
             mention: Iterable[Person] = (), key: Optional[str] = None, kind: str = "notice") -> Optional[Notice]:
    """A group-robot message; `mention` people are @-ed by mobile (text messages carry the @ list)."""
    msgtype, payload = group_message(text, channel, mention, markdown)
    return enqueue(session, target_kind=TARGET_GROUP, target=group_code, msgtype=msgtype, payload=payload,
                   channel=channel, key=key, kind=kind)
