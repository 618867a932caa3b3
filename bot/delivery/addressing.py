"""Which channel and address reach a person or a group chat: the one policy behind chat replies,
handlers' notices and scheduled jobs.

- A person is reached on the first *enabled* channel (in `CHANNELS` order) where they have an identity;
  failing that, on any channel where they have one (the notice then waits until that channel is set up).
  Someone with no identity at all cannot be reached (no notice).
- A group chat is reached on its own channel (`ChatGroup.channel`); a code with no such row, on the
  deployment's default: the first enabled channel, else the first channel.
- A chat reply goes back where the message came from: the incoming channel and user id.
- Markdown is written only where it is rendered (`renders_markdown`): a markdown message on WeCom (group
  robot) or DingTalk. Everything else — WeCom app text, a group message turned into text so that its @s
  ping, the 通报 preview in a one-to-one reply — gets the text as it will read (`as_sent`: bold marks,
  quote and heading marks, font tags and link syntax taken out).
"""
from __future__ import annotations

import re
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


MARKDOWN_CHANNELS = ("wecom", "dingtalk")  # channels whose markdown messages render markdown
_PLAIN = (
    (re.compile(r"\*\*(.+?)\*\*", re.S), r"\1"),  # **bold**
    (re.compile(r"^>\s?", re.M), ""),  # > quote
    (re.compile(r"^#{1,6}\s+", re.M), ""),  # # heading
    (re.compile(r"</?font[^>]*>"), ""),  # <font color=…>
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r"\1（\2）"),  # [text](url)
    (re.compile(r"^- ", re.M), "· "),  # - item
)


def renders_markdown(channel: Optional[str], msgtype: str) -> bool:
    """THE rule: is markdown rendered for a message of `msgtype` on `channel`? Only markdown messages on
    WeCom and DingTalk; a text message (WeCom app text, a group text with @s, a chat reply) shows it raw."""
    return msgtype == "markdown" and channel in MARKDOWN_CHANNELS


def plain_text(markdown_text: str) -> str:
    """A markdown text as it should read where markdown is not rendered."""
    out = markdown_text or ""
    for pattern, repl in _PLAIN:
        out = pattern.sub(repl, out)
    return out


def as_sent(text: str, channel: Optional[str], msgtype: str) -> str:
    """A markdown-written text as it reads in a `msgtype` message on `channel`."""
    return text if renders_markdown(channel, msgtype) else plain_text(text)
