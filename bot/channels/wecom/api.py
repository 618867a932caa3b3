"""Outbound WeCom client: app messages, group robots (webhook), file upload.

Hand-written on `requests` instead of wechatpy's `WeChatClient` because the
latter (1.8.18) fetches the access token with no HTTP timeout and, on token
errors (40001/40014/42001), re-fetches and re-sends without any cap. Here every
request has a timeout, a bad token is refreshed once and the call retried
once, and configuration errors (bad secret, corpid, IP allow-list) are raised
as `ConfigError` immediately, never looped on.

The client does not retry anything else: it classifies failures into
`RetryableError` / `PermanentError` / `ConfigError` and leaves back-off and
rate limiting (see the *_PER_MINUTE constants) to the caller's queue.
Robot keys, secrets and tokens are credentials: they are redacted from the
messages of the exceptions raised here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import Any, Optional

import requests

from bot.channels.common import (  # noqa: F401
    ChannelError,
    ConfigError,
    PermanentError,
    RetryableError,
    TokenClient,
    TokenRejected,
    UnknownOutcome,
    card_instance_id,
)
from bot.delivery.textsplit import utf8_len

__all__ = [
    "WeComClient",
    "WeComError",
    "RetryableError",
    "PermanentError",
    "ConfigError",
    "text_payload",
    "markdown_payload",
    "textcard_body",
    "image_payload",
    "file_payload",
    "invalid_users",
    "classify",
    "DEFAULT_BASE_URL",
    "TEXT_MAX_BYTES",
    "MARKDOWN_MAX_BYTES",
    "APP_MARKDOWN_MAX_BYTES",
    "ROBOT_MARKDOWN_MAX_BYTES",
    "IMAGE_MAX_BYTES",
    "FILE_MIN_BYTES",
    "FILE_MAX_BYTES",
    "MAX_USERS_PER_CALL",
    "ROBOT_PER_MINUTE",
    "MEMBER_PER_MINUTE",
]

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"

# Limits (UTF-8 bytes unless stated otherwise).
TEXT_MAX_BYTES = 2048
APP_MARKDOWN_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
MARKDOWN_MAX_BYTES = MappingProxyType(
    {"app": APP_MARKDOWN_MAX_BYTES, "robot": ROBOT_MARKDOWN_MAX_BYTES}
)
IMAGE_MAX_BYTES = 2 * 1024 * 1024  # raw bytes, before base64
FILE_MIN_BYTES = 5
FILE_MAX_BYTES = 20 * 1024 * 1024
MAX_USERS_PER_CALL = 1000
ROBOT_PER_MINUTE = 20  # per robot key; over it: errcode 45009
MEMBER_PER_MINUTE = 30  # app messages per member; over it: dropped silently

# Error codes.
TOKEN_ERRCODES = frozenset({40014, 42001})  # invalid / expired access_token
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45033})  # busy, rate/concurrency limit
CONFIG_ERRCODES = frozenset(
    {
        40001,  # invalid secret
        40013,  # invalid corpid
        40056,  # invalid agentid
        41002,  # corpid missing
        41004,  # secret missing
        48002,  # API not allowed for this app
        60020,  # caller IP not in the trusted list
    }
)
RATE_LIMIT_RETRY_AFTER = 60.0  # WeCom limits are per minute
DUPLICATE_CHECK_MAX = 4 * 3600  # message/send: duplicate_check_interval at most 4 hours

_CREDENTIAL_RE = re.compile(r"(key|access_token|corpsecret)=[^&\s'\"]+")


def _redact(s: str) -> str:
    return _CREDENTIAL_RE.sub(r"\1=***", s)


# --------------------------------------------------------------------------
# Errors


# One set of error classes for both platforms (bot.channels.common); WeComError is their base here.
WeComError = ChannelError


def classify(errcode: int, errmsg: str = "", response: Optional[dict] = None) -> WeComError:
    """Map a non-zero WeCom errcode to the matching exception instance."""
    if errcode in RETRYABLE_ERRCODES:
        retry_after = RATE_LIMIT_RETRY_AFTER if errcode in (45009, 45033) else None
        return RetryableError(errcode, errmsg, retry_after=retry_after, response=response)
    if errcode in CONFIG_ERRCODES:
        return ConfigError(errcode, errmsg, response=response)
    return PermanentError(errcode, errmsg, response=response)


# --------------------------------------------------------------------------
# Payload builders


def _check_bytes(what: str, content: str, limit: int) -> None:
    if not isinstance(content, str) or not content:
        raise ValueError("%s content must be a non-empty string" % what)
    size = utf8_len(content)
    if size > limit:
        raise ValueError("%s content is %d bytes, limit %d (split it first)" % (what, size, limit))


def text_payload(
    content: str,
    mentioned_mobiles: Optional[Iterable[str]] = None,
    mentioned_userids: Optional[Iterable[str]] = None,
) -> dict:
    """Robot text message (≤ 2048 bytes); mentions are how a robot @s people."""
    _check_bytes("text", content, TEXT_MAX_BYTES)
    text: dict[str, Any] = {"content": content}
    if mentioned_userids:
        text["mentioned_list"] = list(mentioned_userids)
    if mentioned_mobiles:
        text["mentioned_mobile_list"] = list(mentioned_mobiles)
    return {"msgtype": "text", "text": text}


def markdown_payload(content: str) -> dict:
    """Robot markdown message (≤ 4096 bytes)."""
    _check_bytes("markdown", content, ROBOT_MARKDOWN_MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def textcard_body(title: str, description: str, url: str, btntxt: str = "") -> dict:
    """Body of an app `textcard` message (pass to send_app with msgtype="textcard")."""
    if not title or not description or not url:
        raise ValueError("textcard needs title, description and url")
    body = {"title": title, "description": description, "url": url}
    if btntxt:
        body["btntxt"] = btntxt
    return body


_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def image_payload(data: bytes) -> dict:
    """Robot image message: base64 + md5 of the raw bytes; JPG/PNG ≤ 2 MB."""
    if not data:
        raise ValueError("image is empty")
    if len(data) > IMAGE_MAX_BYTES:
        raise ValueError("image is %d bytes, limit %d" % (len(data), IMAGE_MAX_BYTES))
    if not data.startswith(_IMAGE_MAGIC):
        raise ValueError("robot images must be JPG or PNG")
    return {
        "msgtype": "image",
        "image": {
            "base64": base64.b64encode(data).decode("ascii"),
            "md5": hashlib.md5(data).hexdigest(),
        },
    }


def file_payload(media_id: str) -> dict:
    """Robot file message for a media_id returned by webhook_upload."""
    if not media_id:
        raise ValueError("media_id is empty")
    return {"msgtype": "file", "file": {"media_id": media_id}}


CARD_SOURCE = "大调度·大督查"  # the small line at the top of a template card


def _clip(text: object, n: int) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[: n - 1] + "…"


def template_card_body(card: dict, user: str) -> dict:
    """A decision card (bot.actions.decisions.card) as a `button_interaction` template card, after WeCom's
    message/send document (developer.work.weixin.qq.com/document/path/90236, 按钮交互型): main_title, up to
    six horizontal_content_list rows (keyname ≤ 5 characters suggested, value ≤ 26), a task_id unique in
    the app — the card's task as delivered to `user` (bot.channels.common.card_instance_id) — and up to six
    buttons whose `key` comes back as the tap's EventKey."""
    return {
        "card_type": "button_interaction",
        "source": {"desc": CARD_SOURCE},
        "main_title": {"title": _clip(card["title"], 26), "desc": _clip(card.get("desc"), 30)},
        "horizontal_content_list": [{"keyname": _clip(k, 5), "value": _clip(v, 26)}
                                    for k, v in (card.get("fields") or [])[:6]],
        "task_id": card_instance_id(card["task_id"], user),
        "button_list": [{"text": _clip(b["text"], 10), "style": 1 if b.get("primary") else 2, "key": b["key"]}
                        for b in card["buttons"][:6]],
    }


def invalid_users(result: dict) -> list[str]:
    """User ids WeCom rejected in a send_app result (`invaliduser` "a|b")."""
    raw = result.get("invaliduser") or ""
    return [u for u in raw.split("|") if u]


def _check_content(msgtype: str, body: Any, limit: int) -> None:
    if msgtype in ("text", "markdown"):
        if not isinstance(body, dict) or "content" not in body:
            raise ValueError("%s body needs 'content'" % msgtype)
        _check_bytes(msgtype, body["content"], limit)


# --------------------------------------------------------------------------
# Client



# WeCom markdown's markup (<font>, <@userid>, [text](url), **bold**, `code`, > quotes, # headings) mapped
# to the full-width forms, one character for one: user text reads the same and renders as typed.
_WECOM_MARKUP = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "#": "＃"})


def escape_markdown(text: object) -> str:
    """User-typed text for a WeCom markdown message (the `md` template filter on WeCom)."""
    return str(text if text is not None else "").translate(_WECOM_MARKUP)

class WeComClient(TokenClient):
    """Synchronous WeCom API client with a shared, cached access token."""

    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        agent_id: int | str,
        token_store: Any,
        *,
        timeout: float = 5.0,
        session: Optional[requests.Session] = None,
    ):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = int(agent_id)
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        secret_hash = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
        super().__init__(token_store, "wecom:access_token:%s:%s:%s" % (corp_id, self.agent_id, secret_hash))

    def __repr__(self) -> str:
        return "WeComClient(base_url=%r, corp_id=%r, agent_id=%r)" % (
            self.base_url,
            self.corp_id,
            self.agent_id,
        )

    # -- transport ---------------------------------------------------------

    def _request(self, method: str, path: str, *, params: dict, send: bool = False, **kwargs) -> dict:
        """One HTTP call; returns the JSON of errcode 0, else raises. A `send` (a message that may be
        delivered before its answer) left unanswered past the timeout is UnknownOutcome — WeCom may have
        accepted it and be answering late — never a plain failure to resend at once."""
        url = self.base_url + path
        try:
            resp = self.session.request(method, url, params=params, timeout=self.timeout, **kwargs)
        except requests.ReadTimeout as exc:
            if send:
                raise UnknownOutcome(None, "no answer to a send: %s" % _redact(str(exc))) from None
            raise RetryableError(None, "timeout: %s" % _redact(str(exc))) from None
        except requests.Timeout as exc:
            raise RetryableError(None, "timeout: %s" % _redact(str(exc))) from None
        except requests.RequestException as exc:
            raise RetryableError(
                None, "%s: %s" % (type(exc).__name__, _redact(str(exc)))
            ) from None

        status = resp.status_code
        if status >= 500 or status == 429:
            raise RetryableError(
                None, "HTTP %d" % status, retry_after=_retry_after_header(resp)
            )
        if status in (401, 403, 404):
            raise ConfigError(None, "HTTP %d for %s (check base_url)" % (status, path))
        if status != 200:
            raise PermanentError(None, "HTTP %d" % status)
        try:
            data = resp.json()
        except ValueError:
            raise RetryableError(None, "HTTP 200 with a non-JSON body") from None
        if not isinstance(data, dict):
            raise RetryableError(None, "HTTP 200 with unexpected JSON")
        try:
            errcode = int(data.get("errcode", 0))
        except (TypeError, ValueError):
            raise PermanentError(None, "bad errcode %r" % (data.get("errcode"),)) from None
        if errcode != 0:
            errmsg = str(data.get("errmsg", ""))
            if errcode in TOKEN_ERRCODES:
                raise _TokenRejected(errcode, errmsg, response=data)
            raise classify(errcode, errmsg, data)
        return data

    def _post_json(self, path: str, params: dict, payload: dict, send: bool = False) -> dict:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self._request(
            "POST",
            path,
            params=params,
            send=send,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    # -- token -------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, int]:
        try:
            data = self._request(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self._secret},
            )
        except _TokenRejected as exc:  # not expected from gettoken
            raise PermanentError(exc.errcode, exc.errmsg, response=exc.response) from None
        token = data.get("access_token")
        if not token:
            raise PermanentError(None, "gettoken answered without access_token")
        return token, int(data.get("expires_in") or 7200)

    # -- API ---------------------------------------------------------------

    def user_of_oauth_code(self, code: str) -> str:
        """The userid behind an OAuth2 web-authorisation code (snsapi_base; a code works once, 5 min).
        A code of someone outside the corp comes back without userid: PermanentError."""
        data = self._with_token(lambda t: self._request("GET", "/cgi-bin/auth/getuserinfo",
                                                         params={"access_token": t, "code": code}))
        userid = data.get("userid") or data.get("UserId")
        if not userid:
            raise PermanentError(None, "getuserinfo answered without userid (not a member of the corp)")
        return str(userid)

    def userid_by_mobile(self, mobile: str) -> Optional[str]:
        """The corp member with this mobile (`user/getuserid`); None when the address book has nobody
        with it (46004, or 60111/40003 for a number it does not know)."""
        try:
            data = self._with_token(lambda t: self._post_json("/cgi-bin/user/getuserid", {"access_token": t},
                                                              {"mobile": mobile}))
        except PermanentError as exc:
            if exc.errcode in (46004, 60111, 40003):
                return None
            raise
        return str(data["userid"]) if data.get("userid") else None

    def send_app(self, touser: list[str], msgtype: str, body: dict, duplicate_check: Optional[int] = None) -> dict:
        """Send an app message to ≤ 1000 users; returns the JSON (see invalid_users). `duplicate_check`
        (seconds, ≤ 4 h): WeCom drops it if the same message went to the same users within that time —
        used when resending a send whose outcome was unknown."""
        if isinstance(touser, str):
            raise TypeError("touser must be a list of user ids")
        users = [u for u in touser if u]
        if not users:
            raise ValueError("touser is empty")
        if len(users) > MAX_USERS_PER_CALL:
            raise ValueError("at most %d users per call" % MAX_USERS_PER_CALL)
        _check_content(msgtype, body, TEXT_MAX_BYTES if msgtype == "text" else APP_MARKDOWN_MAX_BYTES)
        payload = {
            "touser": "|".join(users),
            "msgtype": msgtype,
            "agentid": self.agent_id,
            msgtype: body,
        }
        if duplicate_check:
            payload["enable_duplicate_check"] = 1
            payload["duplicate_check_interval"] = int(min(DUPLICATE_CHECK_MAX, max(1, duplicate_check)))
        return self._with_token(
            lambda token: self._post_json(
                "/cgi-bin/message/send", {"access_token": token}, payload, send=True
            )
        )

    def update_template_card(self, userids: list[str], response_code: str, replace_name: str) -> dict:
        """Turn a sent button card's buttons into one greyed-out label (`message/update_template_card`,
        document path/94888, 更新按钮为不可点击状态). A response_code — from the send's answer or from a
        tap's callback — works once, within 72 hours."""
        if not response_code:
            raise ValueError("response_code is empty")
        payload = {"userids": list(userids), "agentid": self.agent_id, "response_code": response_code,
                   "button": {"replace_name": _clip(replace_name, 20)}}
        return self._with_token(
            lambda token: self._post_json(
                "/cgi-bin/message/update_template_card", {"access_token": token}, payload
            )
        )

    def webhook_send(self, key: str, payload: dict) -> dict:
        """Send a group-robot message (payload from the *_payload builders)."""
        if not key:
            raise ValueError("robot key is empty")
        msgtype = payload.get("msgtype")
        if not msgtype or msgtype not in payload:
            raise ValueError("payload needs 'msgtype' and a body under that name")
        _check_content(
            msgtype,
            payload[msgtype],
            TEXT_MAX_BYTES if msgtype == "text" else ROBOT_MARKDOWN_MAX_BYTES,
        )
        return self._robot_call(lambda: self._post_json("/cgi-bin/webhook/send", {"key": key}, payload, send=True))

    def webhook_upload(self, key: str, filename: str, data: bytes, *, media_type: str = "file") -> str:
        """Upload a file for a robot (5 B – 20 MB); returns its media_id."""
        if not key:
            raise ValueError("robot key is empty")
        if not filename:
            raise ValueError("filename is empty")
        if not FILE_MIN_BYTES <= len(data) <= FILE_MAX_BYTES:
            raise ValueError(
                "file is %d bytes; allowed %d..%d" % (len(data), FILE_MIN_BYTES, FILE_MAX_BYTES)
            )
        result = self._robot_call(
            lambda: self._request(
                "POST",
                "/cgi-bin/webhook/upload_media",
                params={"key": key, "type": media_type},
                files={"media": (filename, data, "application/octet-stream")},
            )
        )
        media_id = result.get("media_id")
        if not media_id:
            raise PermanentError(None, "upload answered without media_id", response=result)
        return media_id

    def media_upload(self, filename: str, data: bytes, *, media_type: str = "file") -> str:
        """Upload a temporary file for app messages (media/upload, 5 B – 20 MB); returns its media_id."""
        if not filename:
            raise ValueError("filename is empty")
        if not FILE_MIN_BYTES <= len(data) <= FILE_MAX_BYTES:
            raise ValueError("file is %d bytes; allowed %d..%d" % (len(data), FILE_MIN_BYTES, FILE_MAX_BYTES))
        result = self._with_token(lambda token: self._request(
            "POST", "/cgi-bin/media/upload", params={"access_token": token, "type": media_type},
            files={"media": (filename, data, "application/octet-stream")}))
        media_id = result.get("media_id")
        if not media_id:
            raise PermanentError(None, "upload answered without media_id", response=result)
        return media_id

    @staticmethod
    def _robot_call(call: Callable[[], dict]) -> dict:
        # Robots use a key, not a token: a token errcode here is just permanent.
        try:
            return call()
        except _TokenRejected as exc:
            raise PermanentError(exc.errcode, exc.errmsg, response=exc.response) from None


_TokenRejected = TokenRejected  # 40014/42001, handled by one refresh inside the client


def _retry_after_header(resp: requests.Response) -> Optional[float]:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
