"""Table-driven dialogs for conversation tests: a script is a list of (says, expect) rows.

`expect` is a substring of the bot's reply, a tuple of substrings, "!text" for "must not contain", or
None for "any non-empty reply". Every message must get a reply. Drivers: `Direct(runtime, user)` calls
Runtime.handle_text; `Callback(app, peer, user)` posts through the real WeCom callback (signed, encrypted)
and decrypts the passive reply.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


class Direct:
    def __init__(self, runtime, user: str):
        self.runtime, self.user = runtime, user

    def say(self, text: str) -> str:
        reply = self.runtime.handle_text("wecom", self.user, text)
        assert reply is not None, f"no reply to {text!r}"
        return reply.text


class Callback:
    """Through /wecom/callback with tests/wecom_peer.py (the reply must come back passively)."""

    def __init__(self, app, peer, user: str):
        self.client, self.peer, self.user = app.test_client(), peer, user

    def say(self, text: str) -> str:
        url, body = self.peer.text(self.user, text)
        r = self.client.post(url, data=body, content_type="text/xml")
        assert r.status_code == 200
        reply = self.peer.reply(r.data)
        assert reply is not None, f"no passive reply to {text!r}"
        return reply["Content"]


def talk(driver, script) -> str:
    """Play `script` [(says, expect), …]; fail at the first reply that doesn't match. Returns the last reply."""
    text = ""
    for n, (says, expect) in enumerate(script, 1):
        text = driver.say(says)
        assert text and text.strip(), f"row {n}: empty reply to {says!r}"
        wanted = () if expect is None else (expect if isinstance(expect, tuple) else (expect,))
        for w in wanted:
            if w.startswith("!"):
                assert w[1:] not in text, f"row {n}: {says[:40]!r} → reply contains {w[1:]!r}:\n{text}"
            else:
                assert w in text, f"row {n}: {says[:40]!r} → expected {w!r} in:\n{text}"
    return text
