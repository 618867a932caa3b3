"""Outbound DingTalk (钉钉) client: the enterprise robot's OpenAPI, custom group robots (加签), sessionWebhooks.

Hand-written on `requests`, like `wecom_api`: the official SDK (alibabacloud-dingtalk) is a large generated
client without a shared token cache or a notion of retryable vs. configuration errors. Here every request
has a timeout, the access token is cached in a shared store (`runtime.kv`: Redis for every process), a
rejected token is refreshed once, and failures are classified for the outbox:

- `UnknownOutcome` (a `RetryableError`): a message send unanswered within the timeout — it may have been
  delivered, and DingTalk has no duplicate check, so the sender parks it as `unknown` instead of resending;
- `RetryableError`: network, other timeouts, HTTP 5xx/429, and the robot rate limits 410100 / 130101 / 90030
  (20 messages a minute, then blocked for 10 minutes: `retry_after` = 600 s);
- `ConfigError`: 310000 (security check failed: keyword, 加签 sign or IP), bad app key/secret, robot code;
- `PermanentError`: anything else (bad user, bad payload, unknown robot token…).

Credentials (access tokens, signs, session webhook URLs) are redacted from error messages.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import requests

from bot.channels.common import (  # noqa: F401
    ChannelError,
    ConfigError,
    PermanentError,
    RetryableError,
    TokenClient,
    TokenRejected,
    UnknownOutcome,
)

__all__ = [
    "DingTalkClient", "DingTalkError", "RetryableError", "PermanentError", "ConfigError", "classify",
    "sign", "text_payload", "markdown_payload", "markdown_title", "robot_message", "file_message",
    "TEXT_MAX_BYTES", "ROBOT_PER_MINUTE", "BLOCK_SECONDS", "FILE_MAX_BYTES", "session_webhook_allowed", "SESSION_PATH",
]

DEFAULT_OAPI_BASE = "https://oapi.dingtalk.com"
SESSION_PATH = "/robot/sendBySession"  # the one endpoint a callback's sessionWebhook may name

# PLATFORMS.md gives no length limit for DingTalk messages; 4096 bytes of UTF-8 is a conservative cap
# (the same as WeCom's robot markdown) so nothing is ever cut off by the platform.
TEXT_MAX_BYTES = 4096
ROBOT_PER_MINUTE = 20  # per robot; over it DingTalk blocks the robot for 10 minutes
BLOCK_SECONDS = 600.0
TITLE_MAX_CHARS = 20
FILE_MAX_BYTES = 20 * 1024 * 1024  # media/upload of a file

RATE_LIMIT_ERRCODES = frozenset({410100, 130101, 90030})
RETRYABLE_ERRCODES = RATE_LIMIT_ERRCODES | {-1}  # -1: system busy
CONFIG_ERRCODES = frozenset({
    310000,  # security check failed (keyword, sign, IP)
    300001,  # robot access_token does not exist / is invalid
    400101,  # access_token not found
    400102,  # robot disabled
})

_CREDENTIAL_RE = re.compile(r"(access_token|sign|session|timestamp)=[^&\s'\"]+")


def _redact(s: str) -> str:
    return _CREDENTIAL_RE.sub(r"\1=***", s)


# -- errors ------------------------------------------------------------------------------------

# One set of error classes for both platforms (bot.channels.common); DingTalkError is their base here.
DingTalkError = ChannelError


_TokenRejected = TokenRejected  # HTTP 401 from the OpenAPI; refreshed once inside the client


def classify(errcode: int, errmsg: str = "", response: Optional[dict] = None) -> DingTalkError:
    """The exception for a non-zero `errcode` of the oapi (custom robot, sessionWebhook)."""
    if errcode in RETRYABLE_ERRCODES:
        retry_after = BLOCK_SECONDS if errcode in RATE_LIMIT_ERRCODES else None
        return RetryableError(errcode, errmsg, retry_after=retry_after, response=response)
    if errcode in CONFIG_ERRCODES:
        return ConfigError(errcode, errmsg, response=response)
    return PermanentError(errcode, errmsg, response=response)


# -- signing and payloads ----------------------------------------------------------------------

def sign(secret: str, timestamp: str | int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)) — not URL-encoded.

    The same function signs custom-robot URLs (then URL-encoded) and checks incoming callbacks
    (with the app secret)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _at(mobiles: Optional[Iterable[str]], user_ids: Optional[Iterable[str]], at_all: bool) -> dict:
    return {"atMobiles": list(mobiles or []), "atUserIds": list(user_ids or []), "isAtAll": bool(at_all)}


def _with_mentions(text: str, mobiles: Optional[Iterable[str]]) -> str:
    """DingTalk only pings an @mobile that also appears in the body: append the missing ones."""
    missing = [m for m in (mobiles or []) if f"@{m}" not in text]
    return text + ("\n" + " ".join(f"@{m}" for m in missing) if missing else "")


def text_payload(content: str, at_mobiles: Optional[Iterable[str]] = None,
                 at_user_ids: Optional[Iterable[str]] = None, at_all: bool = False) -> dict:
    """A robot text message; @mobiles are added to the text when missing."""
    if not content:
        raise ValueError("text content must be a non-empty string")
    return {"msgtype": "text", "text": {"content": _with_mentions(content, at_mobiles)},
            "at": _at(at_mobiles, at_user_ids, at_all)}


def markdown_title(text: str) -> str:
    """The notification title of a markdown message: its first non-empty line without markup, clipped."""
    for line in text.splitlines():
        line = line.strip().lstrip("#>*- ").replace("**", "").strip()
        if line:
            return line[:TITLE_MAX_CHARS]
    return text.strip()[:TITLE_MAX_CHARS] or "-"


def markdown_payload(text: str, title: Optional[str] = None, at_mobiles: Optional[Iterable[str]] = None,
                     at_user_ids: Optional[Iterable[str]] = None, at_all: bool = False) -> dict:
    """A robot markdown message (`title` shows in the notification)."""
    if not text:
        raise ValueError("markdown text must be a non-empty string")
    return {"msgtype": "markdown",
            "markdown": {"title": title or markdown_title(text), "text": _with_mentions(text, at_mobiles)},
            "at": _at(at_mobiles, at_user_ids, at_all)}


def file_message(media_id: str, filename: str) -> tuple[str, dict]:
    """(msgKey, msgParam) of an OpenAPI robot file message (sampleFile)."""
    return "sampleFile", {"mediaId": media_id, "fileName": filename,
                          "fileType": filename.rpartition(".")[2].lower() if "." in filename else "file"}


def robot_message(msgtype: str, content: str, title: Optional[str] = None) -> tuple[str, dict]:
    """(msgKey, msgParam) of an OpenAPI robot message: sampleText or sampleMarkdown."""
    if not content:
        raise ValueError("content must be a non-empty string")
    if msgtype == "markdown":
        return "sampleMarkdown", {"title": title or markdown_title(content), "text": content}
    if msgtype == "text":
        return "sampleText", {"content": content}
    raise ValueError("unsupported msgtype %r" % msgtype)


# -- the client --------------------------------------------------------------------------------

class DingTalkClient(TokenClient):
    """Synchronous DingTalk client; `token_store` has get/set(key, value, ttl)/delete (runtime.kv)."""

    rejected_again = ConfigError

    def __init__(self, api_base: str, oapi_base: str, app_key: str, app_secret: str, robot_code: str,
                 token_store: Any, *, timeout: float = 5.0, session: Optional[requests.Session] = None,
                 clock: Callable[[], float] = time.time):
        self.api_base = (api_base or "https://api.dingtalk.com").rstrip("/")
        self.oapi_base = (oapi_base or DEFAULT_OAPI_BASE).rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self.robot_code = robot_code or app_key  # DingTalk: the robotCode of an app robot is its appKey
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self.clock = clock
        secret_hash = hashlib.sha256(app_secret.encode("utf-8")).hexdigest()[:16]
        super().__init__(token_store, "dingtalk:access_token:%s:%s" % (app_key, secret_hash))

    def __repr__(self) -> str:
        return "DingTalkClient(api_base=%r, app_key=%r)" % (self.api_base, self.app_key)

    # -- transport ------------------------------------------------------------------------------
    def _request(self, url: str, *, send: bool = False, method: str = "POST", **kwargs) -> requests.Response:
        """One POST with the client's timeout; network trouble, HTTP 5xx and 429 raise `RetryableError`.
        A `send` (a message DingTalk may deliver before it answers) left unanswered past the timeout is
        `UnknownOutcome`: it may have been delivered, and none of DingTalk's send APIs has a duplicate
        check, so the sender must not resend it blindly (docs/reliability.md)."""
        try:
            if method == "POST":
                resp = self.session.post(url, timeout=self.timeout, **kwargs)
            else:
                resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ReadTimeout as exc:
            if send:
                raise UnknownOutcome(None, "no answer to a send: %s" % _redact(str(exc))) from None
            raise RetryableError(None, "timeout: %s" % _redact(str(exc))) from None
        except requests.Timeout as exc:  # connect timeout: nothing was sent
            raise RetryableError(None, "timeout: %s" % _redact(str(exc))) from None
        except requests.RequestException as exc:
            raise RetryableError(None, "%s: %s" % (type(exc).__name__, _redact(str(exc)))) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise RetryableError(None, "HTTP %d" % resp.status_code, retry_after=_retry_after(resp))
        return resp

    def _post(self, url: str, payload: dict, *, params: Optional[dict] = None,
              headers: Optional[dict] = None, send: bool = False, method: str = "POST") -> tuple[int, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        resp = self._request(url, send=send, method=method, params=params, data=body, headers=hdrs)
        try:
            data = resp.json()
        except ValueError:
            data = None
        return resp.status_code, data

    def _oapi(self, url: str, payload: dict, params: Optional[dict] = None, send: bool = False) -> dict:
        """A call answered with {errcode, errmsg} (custom robot, sessionWebhook)."""
        status, data = self._post(url, payload, params=params, send=send)
        if status in (401, 403, 404):
            raise ConfigError(None, "HTTP %d (check the robot URL)" % status)
        if status != 200:
            raise PermanentError(None, "HTTP %d" % status)
        if not isinstance(data, dict):
            raise RetryableError(None, "HTTP 200 without a JSON object")
        try:
            errcode = int(data.get("errcode", 0))
        except (TypeError, ValueError):
            raise PermanentError(None, "bad errcode %r" % (data.get("errcode"),)) from None
        if errcode:
            raise classify(errcode, str(data.get("errmsg", "")), data)
        return data

    def _openapi(self, path: str, payload: dict, token: Optional[str] = None, send: bool = False,
                 method: str = "POST") -> dict:
        """A call to the new OpenAPI (api.dingtalk.com): errors are HTTP statuses with {code, message}."""
        headers = {"x-acs-dingtalk-access-token": token} if token else None
        status, data = self._post(self.api_base + path, payload, headers=headers, send=send, method=method)
        data = data if isinstance(data, dict) else {}
        if status == 200:
            return data
        code, message = data.get("code"), str(data.get("message", ""))
        if status == 401 and token:
            raise _TokenRejected(code, message, response=data)
        if status in (401, 403):
            raise ConfigError(code, "HTTP %d %s" % (status, message), response=data)
        if status == 404:
            raise ConfigError(code, "HTTP 404 for %s (check DINGTALK_API_BASE)" % path, response=data)
        if status == 400 and code and any(w in str(code).lower() for w in ("robot", "auth", "appkey", "secret")):
            raise ConfigError(code, message, response=data)
        raise PermanentError(code, "HTTP %d %s" % (status, message), response=data)

    # -- access token ---------------------------------------------------------------------------
    def _check_credentials(self) -> None:
        if not self.app_key or not self._app_secret:
            raise ConfigError(None, "DINGTALK_APP_KEY / DINGTALK_APP_SECRET not set")

    def _fetch_token(self) -> tuple[str, int]:
        try:
            data = self._openapi("/v1.0/oauth2/accessToken",
                                 {"appKey": self.app_key, "appSecret": self._app_secret})
        except PermanentError as exc:
            raise ConfigError(exc.errcode, "access token refused: %s" % exc.errmsg,
                              response=exc.response) from None
        token = data.get("accessToken")
        if not token:
            raise PermanentError(None, "accessToken answered without accessToken")
        return token, int(data.get("expireIn") or 7200)

    # -- H5 免登 ---------------------------------------------------------------------------------
    def user_of_auth_code(self, auth_code: str) -> str:
        """The staff userid behind an in-app 免登 authCode (topapi/v2/user/getuserinfo; single use)."""
        def call(token: str) -> dict:
            status, data = self._post(self.oapi_base + "/topapi/v2/user/getuserinfo", {"code": auth_code},
                                      params={"access_token": token})
            if isinstance(data, dict) and str(data.get("errcode")) in ("40014", "42001", "88"):
                raise _TokenRejected(data.get("errcode"), str(data.get("errmsg", "")), response=data)
            if status != 200 or not isinstance(data, dict) or data.get("errcode") not in (0, "0"):
                raise PermanentError(data.get("errcode") if isinstance(data, dict) else None,
                                     "getuserinfo refused the authCode")
            return data

        userid = (self._with_token(call).get("result") or {}).get("userid")
        if not userid:
            raise PermanentError(None, "getuserinfo answered without userid")
        return str(userid)

    # -- the address book -----------------------------------------------------------------------
    def userid_by_mobile(self, mobile: str) -> Optional[str]:
        """The staff userid with this mobile (`topapi/v2/user/getbymobile`); None when nobody has it
        (60121)."""
        def call(token: str) -> dict:
            status, data = self._post(self.oapi_base + "/topapi/v2/user/getbymobile", {"mobile": mobile},
                                      params={"access_token": token})
            if isinstance(data, dict) and str(data.get("errcode")) in ("40014", "42001", "88"):
                raise _TokenRejected(data.get("errcode"), str(data.get("errmsg", "")), response=data)
            if status != 200 or not isinstance(data, dict):
                raise RetryableError(None, "getbymobile: HTTP %d" % status)
            return data

        data = self._with_token(call)
        if str(data.get("errcode")) == "60121":
            return None
        if data.get("errcode") not in (0, "0"):
            raise classify(int(data.get("errcode") or 0), str(data.get("errmsg", "")), data)
        userid = (data.get("result") or {}).get("userid")
        return str(userid) if userid else None

    # -- enterprise robot (OpenAPI) -------------------------------------------------------------
    def batch_send(self, user_ids: list[str], msg_key: str, msg_param: dict) -> dict:
        """One-to-one robot message to ≤ 20 users (`/v1.0/robot/oToMessages/batchSend`)."""
        if isinstance(user_ids, str) or not user_ids:
            raise ValueError("user_ids must be a non-empty list")
        payload = {"robotCode": self.robot_code, "userIds": list(user_ids), "msgKey": msg_key,
                   "msgParam": json.dumps(msg_param, ensure_ascii=False)}
        data = self._with_token(lambda t: self._openapi("/v1.0/robot/oToMessages/batchSend", payload, t,
                                                               send=True))
        invalid = set(data.get("invalidStaffIdList") or [])
        if invalid and invalid >= set(user_ids):
            raise PermanentError("invalidStaffId", "invalid user(s) %s" % sorted(invalid), response=data)
        limited = set(data.get("flowControlledStaffIdList") or [])
        if limited and limited >= set(user_ids):
            raise RetryableError("flowControlled", "flow controlled", retry_after=60.0, response=data)
        return data

    # -- interactive cards (互动卡片, the card instance API) ----------------------------------------
    def card_create_and_deliver(self, out_track_id: str, template_id: str, user_id: str, params: dict,
                                route_key: str) -> dict:
        """Create a card from `template_id` with `params` (cardParamMap: strings only) and deliver it to
        `user_id`'s one-to-one chat with the robot (`POST /v1.0/card/instances/createAndDeliver`, openSpaceId
        `dtv1.card//IM_ROBOT.<userId>`); taps call back the HTTP route registered under `route_key`."""
        payload = {"cardTemplateId": template_id, "outTrackId": out_track_id, "callbackType": "HTTP",
                   "callbackRouteKey": route_key,
                   "cardData": {"cardParamMap": {k: str(v) for k, v in params.items()}},
                   "openSpaceId": "dtv1.card//IM_ROBOT.%s" % user_id,
                   "imRobotOpenSpaceModel": {"supportForward": False},
                   "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": self.robot_code},
                   "userIdType": 1}
        data = self._with_token(lambda t: self._openapi("/v1.0/card/instances/createAndDeliver", payload, t))
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        failed = [d for d in result.get("deliverResults") or [] if d.get("success") is False]
        if failed and len(failed) == len(result.get("deliverResults") or []):
            raise PermanentError("deliverFailed", "card not delivered: %s" % failed[0].get("errorMsg", ""),
                                 response=data)
        return data

    def card_update(self, out_track_id: str, params: dict) -> dict:
        """Change a delivered card's variables (`PUT /v1.0/card/instances`, updateCardDataByKey: only the
        keys given)."""
        payload = {"outTrackId": out_track_id,
                   "cardData": {"cardParamMap": {k: str(v) for k, v in params.items()}},
                   "cardUpdateOptions": {"updateCardDataByKey": True}}
        return self._with_token(lambda t: self._openapi("/v1.0/card/instances", payload, t, method="PUT"))

    def media_upload(self, filename: str, data: bytes) -> str:
        """Upload a file (oapi `media/upload`, type file, ≤ 20 MB) for a robot file message; its mediaId."""
        def call(token: str) -> dict:
            # an upload that may have landed is harmless to repeat: a plain retryable timeout
            resp = self._request(self.oapi_base + "/media/upload", params={"access_token": token, "type": "file"},
                                 files={"media": (filename, data)})
            try:
                data_ = resp.json()
            except ValueError:
                data_ = None
            if not isinstance(data_, dict):
                raise PermanentError(None, "media/upload: HTTP %d without a JSON object" % resp.status_code)
            errcode = int(data_.get("errcode") or 0)
            if errcode in (40014, 42001, 88):
                raise _TokenRejected(errcode, str(data_.get("errmsg", "")), response=data_)
            if errcode:
                raise classify(errcode, "media/upload: %s" % data_.get("errmsg", ""), data_)
            return data_

        media_id = self._with_token(call).get("media_id")
        if not media_id:
            raise PermanentError(None, "media/upload answered without media_id")
        return str(media_id)

    # -- custom group robot and sessionWebhook --------------------------------------------------
    def robot_send(self, access_token: str, secret: Optional[str], payload: dict) -> dict:
        """A custom group robot message; with `secret` the URL is signed (加签)."""
        if not access_token:
            raise ValueError("robot access token is empty")
        params = {"access_token": access_token}
        if secret:
            ts = str(int(self.clock() * 1000))
            params.update(timestamp=ts, sign=sign(secret, ts))  # requests URL-encodes it
        return self._oapi(self.oapi_base + "/robot/send", payload, params, send=True)

    def session_send(self, webhook: str, payload: dict) -> dict:
        """A reply through the sessionWebhook of an incoming message (valid ~90 minutes)."""
        if not session_webhook_allowed(webhook, self.oapi_base):
            raise PermanentError(None, "not a DingTalk session webhook URL")
        return self._oapi(webhook, payload, send=True)


# DingTalk markdown is a wider subset of Markdown: links and images ([…](…), ![…](…)), emphasis (*, _, ~~),
# code, quotes, headings, tables (|) and HTML such as <font>. Those characters go full-width, one for one;
# a line break inside a field is followed by an ideographic space, so a line of it never starts a list
# item ("- ", "1. ") or underlines the line before into a heading ("---", "===").
_DINGTALK_MARKUP = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀", "#": "＃",
                                  "_": "＿", "~": "～", "|": "｜", "!": "！"})


def escape_markdown(text: object) -> str:
    """User-typed text for a DingTalk markdown message (the `md` template filter on DingTalk)."""
    out = str(text if text is not None else "").translate(_DINGTALK_MARKUP)
    return out.replace("\n", "\n\u3000")


def session_webhook_allowed(url: Optional[str], oapi_base: Optional[str] = None) -> bool:
    """True only for DingTalk's own session-webhook endpoint: the scheme, host and port of `oapi_base`
    (DINGTALK_OAPI_BASE), the path /robot/sendBySession and a `session` parameter, nothing else. The URL
    comes from a callback, whose body DingTalk's sign does not cover: anything looser (a prefix match,
    user info as in https://oapi.dingtalk.com@10.0.0.1/…, another path) would let a forged body make the
    bot POST wherever it likes."""
    if not isinstance(url, str) or not url or len(url) > 1000:
        return False
    if any(ch <= " " or ch in "\\\x7f" for ch in url):  # no blanks, controls or backslashes to normalise
        return False
    base = urlsplit(oapi_base or DEFAULT_OAPI_BASE)
    try:
        parts = urlsplit(url)
        port, base_port = parts.port, base.port
    except ValueError:
        return False
    return (parts.scheme == base.scheme and parts.username is None and parts.password is None
            and "@" not in parts.netloc and parts.hostname is not None and parts.hostname == base.hostname
            and port == base_port and parts.path == SESSION_PATH and not parts.fragment
            and bool(parse_qs(parts.query).get("session")))


def _retry_after(resp: requests.Response) -> Optional[float]:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None
