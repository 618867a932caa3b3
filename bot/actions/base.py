"""What every action is given: who acts, when, in which transaction, and how its notices are queued.

A chat handler passes its `Context` (bot.core.messages), which has all of it; a job, the CLI, the web
board or a test passes an `Acting`. Actions write in the caller's transaction and never commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Protocol, Union

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.delivery import outbox
from bot.infra.text import render
from models import Person

Actor = Union[Person, str]  # a person, or a system label such as "system:report"


class Act(Protocol):
    """The caller of an action (a chat Context or an Acting)."""

    session: Session
    now: datetime

    @property
    def actor(self) -> Actor: ...

    def render(self, name: str, **kw) -> str: ...

    def notify_person(self, person: Person, text: str, **kw) -> Any: ...

    def notify_group(self, code: str, text: str, **kw) -> Any: ...


@dataclass
class Acting:
    """An action's caller outside a chat message. `runtime` picks each notice's channel (None: the
    outbox's default, as a bare session in tests has no deployment)."""

    session: Session
    actor: Actor
    now: datetime
    runtime: Any = None

    @property
    def person(self) -> Optional[Person]:
        return self.actor if isinstance(self.actor, Person) else None

    def render(self, name: str, **kw) -> str:
        return render(name, person=self.person, now=self.now, **kw)

    def notify_person(self, person: Person, text: str, **kw):
        """The same as a chat Context's: the one channel policy of bot.delivery.addressing decides."""
        return outbox.to_person(self.session, person, text, settings=getattr(self.runtime, "settings", None), **kw)

    def notify_group(self, code: str, text: str, **kw):
        return outbox.to_group(self.session, code, text, settings=getattr(self.runtime, "settings", None), **kw)


def settings_of(act: Act) -> Any:
    """The deployment's settings of the caller (None: an `Acting` on a bare session, as in tests)."""
    return getattr(getattr(act, "runtime", None), "settings", None)


def person_id(actor: Actor) -> Optional[int]:
    return actor.id if isinstance(actor, Person) else None


def actor_name(actor: Actor) -> str:
    return actor.name if isinstance(actor, Person) else actor


_HELD = "locked_rows"  # session.info: (class, id) of the rows locked (and reloaded) in this transaction


def _held(session: Session) -> set:
    return session.info.setdefault(_HELD, set())


@event.listens_for(Session, "after_transaction_end")
def _forget_locks(session: Session, transaction) -> None:
    """Locks are forgotten whenever the transaction or a savepoint ends (a rolled-back savepoint releases
    what it locked, and after a commit nothing is held; forgetting a lock that is still held only costs a
    second reload) — not when a flush's inner subtransaction does."""
    if transaction.nested or transaction.parent is None:
        session.info.pop(_HELD, None)


def lock(session: Session, obj) -> None:
    """Lock the row of `obj` for the rest of the transaction and reload it, so a check that follows sees
    what a concurrent transaction committed (SELECT … FOR UPDATE on PostgreSQL; SQLite transactions are
    already serialized by BEGIN IMMEDIATE). Pending changes are flushed first so the reload keeps them.
    A row this transaction locked already (`lock_all`, or an earlier `lock`) is not reloaded: nobody else
    can have changed it since."""
    session.flush()
    key = (type(obj), obj.id)
    if key in session.info.get(_HELD, ()):
        return
    session.refresh(obj, with_for_update=True)
    _held(session).add(key)


def lock_all(session: Session, model, ids: Iterable[int], *options) -> dict[int, Any]:
    """`lock` for many rows of `model` in one statement (ordered by id, so two transactions locking
    overlapping sets cannot deadlock): id -> the reloaded object, for the ids that exist; `options`
    (loader options) are applied to the select."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    session.flush()
    rows = session.scalars(select(model).where(model.id.in_(wanted)).order_by(model.id).options(*options)
                           .with_for_update().execution_options(populate_existing=True)).all()
    held = _held(session)
    held.update((model, r.id) for r in rows)
    return {r.id: r for r in rows}


def notify_people(act: Act, people: Iterable[Optional[Person]], text: str, key: Optional[str] = None, *,
                  card: Optional[dict] = None) -> int:
    """One direct message per person except the actor (each with its own key when `key` is given); with
    `card`, a decision card (bot.actions.decisions.card) whose text is `text`."""
    me = person_id(act.actor)
    n = 0
    extra = {"card": card} if card is not None else {}
    for p in people:
        if p is None or p.id == me:
            continue
        if act.notify_person(p, text, key=f"{key}:p{p.id}" if key else None, **extra) is not None:
            n += 1
    return n
