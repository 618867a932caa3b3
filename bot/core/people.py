"""Who sent a message, and their roles, cached per process until the org chart changes.

Every message needs its sender (`find_person`) and their roles (`roles_of`); both read the org chart,
which changes a few times a month. A process keeps them in memory, keyed by the org chart's version: the
`org_version` row that database triggers bump on every write to the org chart's tables (migration 0017),
whoever writes — the chat's org-chart actions, the seed, another process. The version is read in each
message's own transaction, *before* anything else of the org chart, so a change committed before the
message started is always seen: the next message after a change, in any process, reloads.

Without the row (a database truncated by hand) nothing is cached. A cached person is a detached copy of
the row's columns; each message gets its own instance in its own session (`Session.merge(load=False)`:
no query), whose relationships load lazily as before.
"""
from __future__ import annotations

import threading
from typing import Optional

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached

from bot.domain.roles import Roles, roles_of
from models import OrgVersion, Person, PersonIdentity

MAX_ENTRIES = 50_000  # senders kept per process (a district has a few thousand); past it, start again

VERSION = select(OrgVersion.version).where(OrgVersion.id == 1)


def find_person(session: Session, channel: str, user_id: str) -> Optional[Person]:
    """The active person with identity `user_id` on `channel` (None: an unregistered sender)."""
    return session.scalar(select(Person).join(PersonIdentity, PersonIdentity.person_id == Person.id)
                          .where(PersonIdentity.channel == channel, PersonIdentity.external_id == user_id,
                                 Person.active.is_(True)))


def org_version(session: Session) -> Optional[int]:
    """The org chart's version, read in this transaction (None: no version row — nothing may be cached)."""
    return session.connection().execute(VERSION).scalar()


def lock_name_of(person: Optional[Person], channel: str, user_id: str) -> str:
    """The name of the lock that keeps one message at a time per sender: per PERSON (the same person on
    WeCom and DingTalk included), per platform identity for someone unregistered."""
    return f"person:{person.id}" if person is not None else f"user:{channel}:{user_id}"


def _snapshot(person: Person) -> Person:
    """A detached copy of `person`'s column values (never attached to a session itself)."""
    copy = Person()
    for attr in inspect(Person).column_attrs:
        setattr(copy, attr.key, getattr(person, attr.key))
    make_transient_to_detached(copy)
    return copy


class People:
    """The per-process cache: (channel, user id) → (person snapshot or None, roles or None)."""

    def __init__(self):
        self.version: Optional[int] = None
        self.entries: dict[tuple[str, str], tuple[Optional[Person], Optional[Roles]]] = {}
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def lock_name(self, channel: str, user_id: str) -> Optional[str]:
        """The lock name of the sender as cached (None: not cached). Only a hint, tried before the org
        chart's version is read: the caller checks it against the person `lookup` then returns."""
        with self.lock:
            found = self.entries.get((channel, user_id))
        return lock_name_of(found[0], channel, user_id) if found is not None else None

    def lookup(self, session: Session, version: Optional[int], channel: str,
               user_id: str) -> tuple[Optional[Person], Optional[Roles]]:
        """The sender in `session` and their roles, as of org chart `version` (read earlier in the same
        transaction by the caller)."""
        key = (channel, user_id)
        found = None
        if version is not None:
            with self.lock:
                if self.version is None or version > self.version:
                    self.entries.clear()
                    self.version = version
                if version == self.version:  # an older transaction (version < self.version) reads afresh
                    found = self.entries.get(key)
            if found is not None:
                self.hits += 1
                snap, roles = found
                return (session.merge(snap, load=False) if snap is not None else None), roles
        self.misses += 1
        person = find_person(session, channel, user_id)
        roles = roles_of(session, person) if person is not None else None
        if version is not None:
            entry = (_snapshot(person) if person is not None else None, roles)
            with self.lock:
                if version == self.version:  # a newer version seen meanwhile: this entry is not stored
                    if len(self.entries) >= MAX_ENTRIES:
                        self.entries.clear()
                    self.entries[key] = entry
        return person, roles
