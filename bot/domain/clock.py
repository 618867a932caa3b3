"""The bot's time zone — ONE source: Settings.BOT_TIMEZONE, set when the app starts (`set_tz`, called by
`Runtime`). Report periods, deadlines, the dates people read and the job schedule all ask `tz()`.
Until an app is made (pure tests, tools) it is the default, Asia/Shanghai."""
from __future__ import annotations

from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"

_tz = ZoneInfo(DEFAULT_TZ)


def tz() -> ZoneInfo:
    """The zone every local date and deadline is in."""
    return _tz


def set_tz(name: str) -> ZoneInfo:
    """Make `name` (an IANA zone, e.g. from BOT_TIMEZONE) the bot's zone; returns it."""
    global _tz
    _tz = ZoneInfo(name)
    return _tz
