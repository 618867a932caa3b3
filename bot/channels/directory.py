"""People as the office knows them: a mobile number resolved to the platform's userid through the
platform's own address book (WeCom `user/getuserid`, DingTalk `topapi/v2/user/getbymobile`), so nobody
types a userid. Used by the org-chart commands (handlers/orgchart.py)."""
from __future__ import annotations

import logging

from bot.channels.common import ChannelError
from bot.delivery.addressing import enabled_channels

log = logging.getLogger(__name__)


class DirectoryUnavailable(Exception):
    """No platform answered (not configured, or its API failed): the person cannot be looked up now."""


def client_for(runtime, channel: str):
    s = runtime.settings
    if channel == "wecom":
        from bot.channels.wecom.api import WeComClient

        return WeComClient(s.WECOM_API_BASE, s.WECOM_CORP_ID, s.WECOM_SECRET, s.WECOM_AGENT_ID or 0,
                           token_store=runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)
    if channel == "dingtalk":
        from bot.channels.dingtalk.api import DingTalkClient

        return DingTalkClient(s.DINGTALK_API_BASE, s.DINGTALK_OAPI_BASE, s.DINGTALK_APP_KEY, s.DINGTALK_APP_SECRET,
                              s.DINGTALK_ROBOT_CODE, token_store=runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)
    raise ValueError(f"no address book for channel {channel!r}")


def identities_by_mobile(runtime, mobile: str) -> dict[str, str]:
    """{channel: userid} on every configured platform whose address book has `mobile`; empty when none
    has it. Raises DirectoryUnavailable when no platform could be asked."""
    found: dict[str, str] = {}
    asked = 0
    for channel in enabled_channels(runtime.settings):
        try:
            userid = client_for(runtime, channel).userid_by_mobile(mobile)
        except ChannelError as exc:
            log.warning("address book of %s unavailable: %s", channel, exc)
            continue
        asked += 1
        if userid:
            found[channel] = userid
    if not asked:
        raise DirectoryUnavailable(mobile)
    return found
