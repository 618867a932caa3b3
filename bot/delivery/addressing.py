"""Which channel and address reach a person or a group chat: the one policy behind chat replies,
handlers' notices and scheduled jobs.

- A person is reached on the first *enabled* channel (in `CHANNELS` order) where they have an identity;
  failing that, on any channel where they have one (the notice then waits until that channel is set up).
  Someone with no identity at all cannot be reached (no notice).
- A group chat is reached on its own channel (`ChatGroup.channel`); a code with no such row, on the
  deployment's default: the first enabled channel, else the first channel.
- A chat reply goes back where the message came from: the incoming channel and user id.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels import CHANNELS
from models import TARGET_USER, ChatGroup


@dataclass(frozen=True)
class Address:
    channel: str
    target_kind: str
    target: str


def enabled_channels(settings) -> list[str]:
    """The configured channels, in preference order (`<channel>_enabled` on the settings)."""
    if settings is None:
        return []
    return [c for c in CHANNELS if getattr(settings, f"{c}_enabled", False)]


def person_address(identities: Mapping[str, Optional[str]], settings) -> Optional[Address]:
    """Where a direct message to a person with these identities (channel -> user id) goes; None: nowhere."""
    enabled = enabled_channels(settings)
    for channel in enabled + [c for c in CHANNELS if c not in enabled]:
        external_id = identities.get(channel)
        if external_id:
            return Address(channel, TARGET_USER, external_id)
    return None


def default_group_channel(settings) -> str:
    enabled = enabled_channels(settings)
    return enabled[0] if enabled else CHANNELS[0]


def group_channel(session: Session, code: str, settings) -> str:
    """The channel of the group chat `code`."""
    channel = session.scalar(select(ChatGroup.channel).where(ChatGroup.code == code))
    return channel or default_group_channel(settings)


def group_channels(session: Session, settings) -> Callable[[str], str]:
    """`group_channel` for many codes: every chat group's channel read once."""
    channels = dict(session.execute(select(ChatGroup.code, ChatGroup.channel)).all())
    default = default_group_channel(settings)
    return lambda code: channels.get(code) or default


def reply_address(incoming) -> Address:
    """A chat reply: to the sender, on the channel the message came in on."""
    return Address(incoming.channel, TARGET_USER, incoming.user_id)
