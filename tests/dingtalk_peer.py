"""An independent DingTalk peer, written from the published protocol with the standard library only.

It plays DingTalk's side of the enterprise robot's HTTP callback: a JSON body with the `timestamp` (ms)
and `sign` headers, sign = base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret)).
Replies do not come back in the HTTP answer (always `{}`): they reach the sessionWebhook the peer put
in the message, which a `FakeDingTalk` hands out.

    peer = DingTalkPeer(app_secret, fake=fake)                    # fake: sessionWebhooks that record
    r = peer.post(client, peer.text("liuzhaoxuan", "帮助"))        # Flask test client; r.json == {}
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from typing import Optional
from urllib.parse import quote

CALLBACK_PATH = "/dingtalk/callback"
_ids = itertools.count(1)


def callback_sign(secret: str, timestamp: str) -> str:
    """The `sign` header (not URL-encoded)."""
    mac = hmac.new(secret.encode("utf-8"), (timestamp + "\n" + secret).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def robot_url_sign(secret: str, timestamp: str) -> str:
    """The `sign` query parameter of a custom robot URL: the same HMAC, URL-encoded."""
    return quote(callback_sign(secret, timestamp), safe="")


class DingTalkPeer:
    """DingTalk's side of one enterprise-internal robot's callback."""

    def __init__(self, app_secret: str, robot_code: str = "dingrobotcode", fake=None, path: str = CALLBACK_PATH):
        self.app_secret = app_secret
        self.robot_code = robot_code
        self.fake = fake
        self.path = path

    def headers(self, timestamp: Optional[str] = None, secret: Optional[str] = None) -> dict:
        ts = timestamp or str(int(time.time() * 1000))
        return {"timestamp": ts, "sign": callback_sign(secret or self.app_secret, ts)}

    def message(self, user: str, msgtype: str = "text", *, msg_id: Optional[str] = None, group: bool = False,
                conversation_id: Optional[str] = None, webhook: Optional[tuple[str, int]] = None,
                **fields) -> dict:
        """A callback body; the sessionWebhook comes from the fake (or a dead address without one)."""
        now = int(time.time() * 1000)
        cid = conversation_id or ("cidGROUP" if group else f"cid{user}")
        if webhook is None:
            webhook = (self.fake.new_session(cid) if self.fake is not None
                       else ("http://127.0.0.1:9/robot/sendBySession?session=none", now + 5_400_000))
        body = {
            "msgtype": msgtype, "msgId": msg_id or f"msg{next(_ids):08d}{now}", "createAt": str(now),
            "conversationType": "2" if group else "1", "conversationId": cid,
            "senderId": f"$:LWCP_v1:${user}", "senderNick": user, "senderStaffId": user,
            "chatbotUserId": "$:LWCP_v1:$robot", "robotCode": self.robot_code, "isAdmin": False,
            "isInAtList": True, "sessionWebhook": webhook[0], "sessionWebhookExpiredTime": webhook[1],
        }
        if group:
            body["conversationTitle"] = "督导考核组工作群"
        body.update(fields)
        return body

    def text(self, user: str, content: str, **kw) -> dict:
        """A text message; in a group DingTalk leaves a space where the @robot was."""
        return self.message(user, "text", text={"content": (" " + content) if kw.get("group") else content}, **kw)

    def post(self, client, body: dict | bytes, headers: Optional[dict] = None):
        """POST a signed callback through a Flask test client."""
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return client.post(self.path, data=data, headers=self.headers() if headers is None else headers,
                           content_type="application/json")
