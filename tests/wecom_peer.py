"""An independent WeCom peer, written from the published protocol with `cryptography` only (not wechatpy).

It plays WeCom's side of the callback: builds signed URL checks and encrypted, signed POST bodies, and
decrypts the bot's passive replies. Tests (and other engineers' flow tests) drive the real callback
with it:

    peer = WeComPeer(token, aes_key, corp_id)
    url, body = peer.text("zhangsan", "帮助")             # a signed, encrypted callback
    reply = peer.reply(client.post(url, data=body).data)   # dict of the decrypted reply XML, or None
    reply = peer.say(client, "zhangsan", "帮助")           # the same in one call (Flask test client)

Protocol: AES-256-CBC, key = b64decode(EncodingAESKey + "="), IV = key[:16]; plaintext = 16 random
bytes + 4-byte big-endian length + message + receiveid, PKCS#7-padded to a multiple of 32 bytes;
signature = sha1 over the sorted [token, timestamp, nonce, encrypt], lower-case hex.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Optional
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
CALLBACK_PATH = "/wecom/callback"
_msg_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


class PeerError(Exception):
    """The bot's reply is malformed, badly signed or badly encrypted."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise PeerError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise PeerError("bad PKCS#7 padding")
    return data[:-n]


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class WeComPeer:
    """WeCom's side of one self-built app's callback."""

    def __init__(self, token: str, aes_key: str, corp_id: str, agent_id: str = "1000002",
                 path: str = CALLBACK_PATH):
        self.token = token
        self.aes_key = aes_key
        self.key = base64.b64decode(aes_key + "=")
        if len(self.key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.path = path

    # -- crypto ------------------------------------------------------------------------------
    def encrypt(self, message: str | bytes, receive_id: Optional[str] = None,
                random16: Optional[bytes] = None) -> str:
        msg = message.encode() if isinstance(message, str) else message
        rid = (self.corp_id if receive_id is None else receive_id).encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(msg)) + msg + rid
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(enc.update(_pad(plain)) + enc.finalize()).decode()

    def decrypt(self, encrypt: str) -> tuple[str, str]:
        """(message, receiveid) of an encrypted field."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except ValueError as exc:
            raise PeerError("not base64") from exc
        if not raw or len(raw) % 16:
            raise PeerError("ciphertext length is not a multiple of 16")
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = _unpad(dec.update(raw) + dec.finalize())
        (n,) = struct.unpack(">I", plain[16:20])
        msg, rid = plain[20:20 + n], plain[20 + n:]
        if len(msg) != n:
            raise PeerError("length field larger than the plaintext")
        return msg.decode(), rid.decode()

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    # -- requests WeCom sends ----------------------------------------------------------------
    def url_check(self, echo: Optional[str] = None, *, timestamp: Optional[str] = None,
                  nonce: Optional[str] = None) -> tuple[str, str]:
        """(GET url, expected plain echo) for the URL verification."""
        echo = echo or str(secrets.randbelow(10**19))
        ts, nonce = timestamp or str(int(time.time())), nonce or str(secrets.randbelow(10**9))
        encrypted = self.encrypt(echo)
        query = urlencode({"msg_signature": self.sign(ts, nonce, encrypted), "timestamp": ts,
                           "nonce": nonce, "echostr": encrypted})
        return f"{self.path}?{query}", echo

    def message_xml(self, fields: Mapping[str, object]) -> str:
        """The plain XML of a message: each field a CDATA element (integers bare), in order."""
        parts = []
        for name, value in fields.items():
            if isinstance(value, Mapping):
                parts.append(f"<{name}>{self.message_xml(value)[5:-6]}</{name}>")
            elif isinstance(value, int):
                parts.append(f"<{name}>{value}</{name}>")
            else:
                parts.append(f"<{name}>{_cdata(str(value))}</{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def envelope(self, plain_xml: str, *, timestamp: Optional[str] = None, nonce: Optional[str] = None,
                 receive_id: Optional[str] = None) -> tuple[str, bytes]:
        """(POST url, body) for an encrypted, signed callback carrying `plain_xml`."""
        ts, nonce = timestamp or str(int(time.time())), nonce or str(secrets.randbelow(10**9))
        encrypted = self.encrypt(plain_xml, receive_id=receive_id)
        body = (f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName>"
                f"<AgentID>{_cdata(self.agent_id)}</AgentID>"
                f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>").encode()
        query = urlencode({"msg_signature": self.sign(ts, nonce, encrypted), "timestamp": ts,
                           "nonce": nonce})
        return f"{self.path}?{query}", body

    def text_xml(self, user: str, content: str, msg_id: Optional[int] = None,
                 create_time: Optional[int] = None) -> str:
        return self.message_xml({
            "ToUserName": self.corp_id, "FromUserName": user,
            "CreateTime": int(create_time or time.time()), "MsgType": "text", "Content": content,
            "MsgId": int(msg_id if msg_id is not None else next(_msg_ids)), "AgentID": int(self.agent_id),
        })

    def event_xml(self, user: str, event: str, event_key: str = "", create_time: Optional[int] = None,
                  **extra) -> str:
        fields = {"ToUserName": self.corp_id, "FromUserName": user,
                  "CreateTime": int(create_time or time.time()), "MsgType": "event", "Event": event,
                  "EventKey": event_key, "AgentID": int(self.agent_id)}
        fields.update(extra)
        return self.message_xml(fields)

    def text(self, user: str, content: str, msg_id: Optional[int] = None, **kw) -> tuple[str, bytes]:
        """(url, body) of a signed, encrypted text message from `user`."""
        return self.envelope(self.text_xml(user, content, msg_id), **kw)

    def event(self, user: str, event: str, event_key: str = "", **kw) -> tuple[str, bytes]:
        create_time = kw.pop("create_time", None)
        extra = kw.pop("extra", {})
        return self.envelope(self.event_xml(user, event, event_key, create_time, **extra), **kw)

    def say(self, client, user: str, content: str) -> Optional[dict]:
        """POST a text message through a Flask test client; the decrypted reply (None: empty 200)."""
        url, body = self.text(user, content)
        r = client.post(url, data=body, content_type="text/xml")
        if r.status_code != 200:
            raise PeerError(f"callback answered HTTP {r.status_code}: {r.data[:100]!r}")
        return self.reply(r.data)

    # -- what the bot answers ----------------------------------------------------------------
    def reply(self, body: bytes | str) -> Optional[dict]:
        """Check and decrypt a passive reply; None for an empty 200. Returns the reply's fields."""
        if isinstance(body, bytes):
            body = body.decode()
        if not body.strip():
            return None
        outer = ET.fromstring(body)
        fields = {child.tag: (child.text or "") for child in outer}
        for need in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"):
            if need not in fields:
                raise PeerError(f"reply lacks {need}")
        if self.sign(fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]) != fields["MsgSignature"]:
            raise PeerError("reply signature does not match")
        plain, rid = self.decrypt(fields["Encrypt"])
        if rid != self.corp_id:
            raise PeerError(f"reply receiveid {rid!r} is not the CorpID")
        inner = ET.fromstring(plain)
        return {child.tag: (child.text or "") for child in inner}


def random_aes_key() -> str:
    """A fresh 43-character EncodingAESKey."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")
