"""What a handler is given and returns: the platform-neutral message (`Incoming`), the `Reply`, and the
`Context` of one message inside its database transaction."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy.orm import Session

from bot.delivery import outbox
from bot.domain.roles import Roles
from bot.infra.text import render
from models import Person

if TYPE_CHECKING:
    from bot.core.runtime import Runtime


@dataclass(frozen=True)
class Incoming:
    """One message or event from a user, whatever the platform."""

    channel: str  # "wecom" | "dingtalk"
    user_id: str  # the platform's user id
    msg_id: str  # platform message id, or a derived key for events
    created_at: datetime
    text: Optional[str] = None
    event: Optional[str] = None  # "enter_agent", "click", "card", "subscribe"…
    event_key: Optional[str] = None
    conversation_id: Optional[str] = None  # DingTalk group conversation
    extra: dict = field(default_factory=dict)  # adapter-specific, e.g. DingTalk sessionWebhook


def clean_text(text: Optional[str]) -> Optional[str]:
    """The text without control characters other than line breaks and tabs (a NUL from DingTalk cannot be
    stored by PostgreSQL; the others are invisible). A lone CR counts as a line break."""
    if not text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def cleaned(incoming: Incoming) -> Incoming:
    """The message as handlers see it (its text cleaned once, here, for every channel)."""
    text = clean_text(incoming.text)
    return incoming if text == incoming.text else replace(incoming, text=text)


@dataclass
class Reply:
    """What the bot answers; `markdown` only where the channel can show it."""

    text: str
    markdown: bool = False


@dataclass
class Context:
    """Everything a handler needs for one message, inside one database transaction."""

    runtime: Runtime
    session: Session
    person: Person
    roles: Roles
    incoming: Incoming
    now: datetime

    @property
    def channel(self) -> str:
        return self.incoming.channel

    @property
    def actor(self) -> Person:
        """Who acts, for bot.actions (a chat message always has a person)."""
        return self.person

    def render(self, name: str, **kw) -> str:
        return render(name, person=self.person, now=self.now, **kw)

    def notify_person(self, person: Person, text: str, **kw):
        """Queue a direct message in this transaction (None: unreachable, or its key was used)."""
        return outbox.to_person(self.session, person, text, settings=self.runtime.settings, **kw)

    def notify_group(self, code: str, text: str, **kw):
        """Queue a group-chat message in this transaction (None: its key was used)."""
        return outbox.to_group(self.session, code, text, settings=self.runtime.settings, **kw)


DUPLICATE = object()  # dispatch() result for a message already processed

Handler = Callable[[Context, str], "Reply | str | None"]
