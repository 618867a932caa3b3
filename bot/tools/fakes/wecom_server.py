"""A fake WeCom API server on loopback, for tests and the local chat simulator.

Implements gettoken, message/send (a template_card answers with a response_code),
message/update_template_card (a code works once, within 72 hours), webhook/send and webhook/upload_media with
the limits the bot depends on (byte limits, 20/min per robot -> 45009,
30/min per member -> silently dropped), records what was sent, and can inject
failures (errcodes, HTTP statuses, hangs). Control endpoints under /_fake/
let another process read what was sent and steer failures.

Run standalone: ``python -m bot.tools.fakes.wecom_server --port 0``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["FakeWeCom", "main"]

TOKEN_TTL = 7200
TEXT_MAX_BYTES = 2048
APP_MARKDOWN_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
ROBOT_PER_MINUTE = 20
MEMBER_PER_MINUTE = 30
IMAGE_MAX_BYTES = 2 * 1024 * 1024
FILE_MIN_BYTES = 5
FILE_MAX_BYTES = 20 * 1024 * 1024
WINDOW = 60.0

# Counter names in FakeWeCom.hits (attempts, including injected failures).
_HIT_NAMES = {
    "/cgi-bin/gettoken": "gettoken",
    "/cgi-bin/message/send": "send",
    "/cgi-bin/webhook/send": "webhook_send",
    "/cgi-bin/webhook/upload_media": "upload",
    "/cgi-bin/media/upload": "media_upload",
    "/cgi-bin/message/update_template_card": "update_card",
}
CARD_CODE_TTL = 72 * 3600  # a response_code updates its card within 72 hours, once

APP_MSGTYPES = frozenset(
    {"text", "markdown", "textcard", "template_card", "file", "image", "voice", "video",
     "news", "mpnews", "miniprogram_notice"}
)
ROBOT_MSGTYPES = frozenset(
    {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}
)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request."""

    def log_request(self, code="-", size="-"):
        pass


class _FailRule:
    """One failure-injection rule: by count (`remaining`) or until a time."""

    def __init__(self, *, remaining=None, until=None, errcode=None, http_status=None,
                 hang=None, path=None):
        self.remaining = remaining
        self.until = until
        self.errcode = errcode
        self.http_status = http_status
        self.hang = hang
        self.path = path

    def matches(self, path: str, now: float) -> bool:
        if self.path and not path.startswith(self.path):
            return False
        if self.remaining is not None:
            return self.remaining > 0
        return self.until is not None and now < self.until


class FakeWeCom:
    """Fake WeCom API; `start()` returns its base URL (http://127.0.0.1:PORT)."""

    def __init__(
        self,
        corp_id: str = "wwfakecorp",
        secret: str = "fakesecret",
        robot_keys: Optional[set] = None,
        *,
        agent_id: Optional[int] = None,
        known_users: Optional[set] = None,
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ):
        """`robot_keys=None` accepts any key; `known_users=None` accepts any user."""
        self.corp_id = corp_id
        self.secret = secret
        self.robot_keys = None if robot_keys is None else set(robot_keys)
        self.agent_id = agent_id
        self.known_users = None if known_users is None else set(known_users)
        self.port = port
        self.clock = clock
        self._lock = threading.RLock()
        self._tokens: dict[str, dict] = {}
        self._removed_keys: set[str] = set()
        self._media: dict[str, dict] = {}
        self._sent: list[dict] = []
        self._dropped: list[dict] = []
        self._codes: dict[str, dict] = {}  # response_code -> {"task_id", "users", "at", "used"}
        self._task_ids: set[str] = set()  # template cards' task_ids sent so far: unique in the app
        self._rules: list[_FailRule] = []
        self._robot_hits: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._member_hits: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._release = threading.Event()
        self.hits: collections.Counter = collections.Counter()
        self._server = None
        self._thread: Optional[threading.Thread] = None
        self.base_url: Optional[str] = None
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        if self._server is not None:
            return self.base_url
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = "http://127.0.0.1:%d" % self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-wecom", daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release any hanging requests."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeWeCom:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- control -----------------------------------------------------------

    @property
    def sent(self) -> list[dict]:
        """Snapshot of accepted messages and uploads."""
        with self._lock:
            return list(self._sent)

    @property
    def dropped(self) -> list[dict]:
        """Snapshot of app messages dropped by the per-member limit."""
        with self._lock:
            return list(self._dropped)

    @property
    def gettoken_calls(self) -> int:
        return self.hits["gettoken"]

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 42001."""
        with self._lock:
            for info in self._tokens.values():
                info["expired"] = True

    def remove_robot(self, key: str) -> None:
        """Simulate a robot removed from its group: its key answers 93000."""
        with self._lock:
            self._removed_keys.add(key)

    def fail_next(self, n: int = 1, errcode: Optional[int] = None,
                  http_status: Optional[int] = None, hang: Optional[float] = None,
                  *, path: Optional[str] = None) -> None:
        """Make the next `n` API calls (optionally only under `path`) fail/hang."""
        with self._lock:
            self._rules.append(_FailRule(remaining=int(n), errcode=errcode,
                                         http_status=http_status, hang=hang, path=path))

    def fail_for(self, seconds: float, errcode: Optional[int] = None,
                 http_status: Optional[int] = None, hang: Optional[float] = None,
                 *, path: Optional[str] = None) -> None:
        """Make API calls fail/hang for `seconds` (by the fake's clock)."""
        with self._lock:
            self._rules.append(_FailRule(until=self.clock() + float(seconds), errcode=errcode,
                                         http_status=http_status, hang=hang, path=path))

    def issue_code(self, task_id: str, users: list[str]) -> str:
        """A response_code for the card `task_id` of `users`, as WeCom hands one out with a send's answer
        and with each tap's callback (tests put it in the template_card_event they post)."""
        code = "rc-" + secrets.token_hex(12)
        with self._lock:
            self._codes[code] = {"task_id": task_id, "users": list(users), "at": self.clock(), "used": False}
        return code

    @property
    def card_updates(self) -> list[dict]:
        """The update_template_card calls accepted, in order."""
        return [item for item in self.sent if item["kind"] == "update_card"]

    def reset(self) -> None:
        """Forget records, rate windows, failure rules and counters (tokens stay valid)."""
        with self._lock:
            self._sent.clear()
            self._dropped.clear()
            self._rules.clear()
            self._robot_hits.clear()
            self._member_hits.clear()
            self._removed_keys.clear()
            self.hits.clear()
            self._release.set()
            self._release = threading.Event()

    # -- helpers -----------------------------------------------------------

    @staticmethod
    def _err(errcode: int, errmsg: str, **extra) -> Response:
        body = {"errcode": errcode, "errmsg": errmsg}
        body.update(extra)
        return jsonify(body)

    def _record(self, item: dict) -> None:
        item["at"] = self.clock()
        self._sent.append(item)

    def _take_rule(self, path: str) -> Optional[_FailRule]:
        with self._lock:
            now = self.clock()
            for rule in self._rules:
                if rule.matches(path, now):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule
            self._rules = [r for r in self._rules if r.remaining != 0 and
                           (r.until is None or now < r.until)]
            return None

    def _injected(self, path: str) -> Optional[Response]:
        rule = self._take_rule(path)
        if rule is None:
            return None
        if rule.hang:
            self._release.wait(rule.hang)
        if rule.errcode is not None:
            resp = self._err(int(rule.errcode), "injected failure")
            resp.status_code = int(rule.http_status or 200)
            return resp
        if rule.http_status is not None:
            return Response("injected failure", status=int(rule.http_status),
                            mimetype="text/plain")
        return None  # hang only: answer normally afterwards

    def _check_token(self) -> Optional[Response]:
        token = request.args.get("access_token", "")
        if not token:
            return self._err(41001, "access_token missing")
        info = self._tokens.get(token)
        if info is None:
            return self._err(40014, "invalid access_token")
        if info["expired"] or self.clock() >= info["expires_at"]:
            return self._err(42001, "access_token expired")
        return None

    def _authorized_json(self) -> tuple[Optional[Response], dict]:
        """An app API call's token, then its JSON object body: (the error to answer, or None; the body)."""
        bad = self._check_token()
        if bad is not None:
            return bad, {}
        data = self._json_body()
        if data is None:
            return self._err(40035, "invalid json"), {}
        return None, data

    def _robot_key_error(self, key: str) -> Optional[Response]:
        if not key:
            return self._err(93000, "invalid webhook url")
        if key in self._removed_keys or (self.robot_keys is not None and key not in self.robot_keys):
            return self._err(93000, "invalid webhook url")
        return None

    def _within(self, hits: collections.deque, limit: int) -> bool:
        """Sliding one-minute window: record a hit if under `limit`."""
        now = self.clock()
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    @staticmethod
    def _json_body() -> Optional[dict]:
        data = request.get_json(silent=True, force=True)
        return data if isinstance(data, dict) else None

    @staticmethod
    def _content_error(msgtype: str, body: Any, limit: int) -> Optional[Response]:
        if not isinstance(body, dict) or not isinstance(body.get("content"), str):
            return FakeWeCom._err(40035, "invalid %s body" % msgtype)
        content = body["content"]
        if not content:
            return FakeWeCom._err(44004, "empty content")
        if len(content.encode("utf-8", "surrogatepass")) > limit:
            return FakeWeCom._err(45002, "content size out of limit")
        return None

    # -- app ---------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("fake_wecom")
        fake = self

        @app.before_request
        def _count_and_inject():
            if request.path.startswith("/cgi-bin/"):
                with fake._lock:
                    fake.hits[_HIT_NAMES.get(request.path, request.path)] += 1
                return fake._injected(request.path)
            return None

        @app.get("/cgi-bin/gettoken")
        def gettoken():
            with fake._lock:
                corpid = request.args.get("corpid")
                secret = request.args.get("corpsecret")
                if not corpid:
                    return fake._err(41002, "corpid missing")
                if not secret:
                    return fake._err(41004, "corpsecret missing")
                if corpid != fake.corp_id:
                    return fake._err(40013, "invalid corpid")
                if secret != fake.secret:
                    return fake._err(40001, "invalid credential")
                token = secrets.token_urlsafe(32)
                fake._tokens[token] = {"expires_at": fake.clock() + TOKEN_TTL, "expired": False}
                return fake._err(0, "ok", access_token=token, expires_in=TOKEN_TTL)

        @app.post("/cgi-bin/message/send")
        def message_send():
            with fake._lock:
                bad, data = fake._authorized_json()
                if bad is not None:
                    return bad
                touser = data.get("touser")
                msgtype = data.get("msgtype")
                if not isinstance(touser, str) or not touser:
                    return fake._err(40035, "touser missing")
                if "agentid" not in data:
                    return fake._err(40035, "agentid missing")
                try:
                    agentid = int(data["agentid"])
                except (TypeError, ValueError):
                    return fake._err(40056, "invalid agentid")
                if fake.agent_id is not None and agentid != int(fake.agent_id):
                    return fake._err(40056, "invalid agentid")
                if msgtype not in APP_MSGTYPES:
                    return fake._err(40008, "invalid message type")
                if msgtype not in data:
                    return fake._err(40035, "%s body missing" % msgtype)
                if msgtype == "template_card":
                    # WeCom: "同一个应用任务id不能重复" — a task_id used before (for anyone) is refused
                    card = data["template_card"] if isinstance(data["template_card"], dict) else {}
                    task = str(card.get("task_id") or "")
                    if not task or len(task.encode()) > 128 or task in fake._task_ids:
                        return fake._err(42014, "taskid has existed or empty or exceed max len")
                if msgtype in ("text", "markdown"):
                    limit = TEXT_MAX_BYTES if msgtype == "text" else APP_MARKDOWN_MAX_BYTES
                    bad = fake._content_error(msgtype, data[msgtype], limit)
                    if bad is not None:
                        return bad
                users = [u for u in touser.split("|") if u]
                if len(users) > 1000:
                    return fake._err(40035, "too many users")
                invalid = [u for u in users
                           if fake.known_users is not None and u != "@all"
                           and u not in fake.known_users]
                valid = [u for u in users if u not in invalid]
                if not valid:
                    return fake._err(81013, "user & party & tag all invalid",
                                     invaliduser="|".join(invalid))
                if data.get("enable_duplicate_check"):  # like WeCom: the same message again within the interval
                    window = float(data.get("duplicate_check_interval") or 1800)
                    same = {"msgtype": msgtype, msgtype: data[msgtype]}
                    valid = [u for u in valid if not any(
                        item["kind"] == "app" and u in item["touser"] and item["at"] >= fake.clock() - window
                        and {"msgtype": item["msgtype"], item["msgtype"]: item["payload"].get(item["msgtype"])} == same
                        for item in fake._sent)]
                    if not valid:
                        return fake._err(0, "ok", invaliduser="|".join(invalid), invalidparty="", invalidtag="",
                                         unlicenseduser="", msgid=secrets.token_hex(16), response_code="")
                delivered = []
                for user in valid:
                    if fake._within(fake._member_hits[user], MEMBER_PER_MINUTE):
                        delivered.append(user)
                    else:
                        fake._dropped.append({"kind": "app", "touser": user, "msgtype": msgtype,
                                              "payload": data, "at": fake.clock()})
                if delivered:
                    fake._record({"kind": "app", "touser": delivered, "agentid": agentid,
                                  "msgtype": msgtype, "payload": data})
                code = ""
                if msgtype == "template_card" and delivered:
                    fake._task_ids.add(task)
                    code = fake.issue_code(task, delivered)
                return fake._err(0, "ok", invaliduser="|".join(invalid), invalidparty="",
                                 invalidtag="", unlicenseduser="",
                                 msgid=secrets.token_hex(16), response_code=code)

        @app.post("/cgi-bin/message/update_template_card")
        def update_template_card():
            with fake._lock:
                bad, data = fake._authorized_json()
                if bad is not None:
                    return bad
                code = data.get("response_code")
                known = fake._codes.get(code) if isinstance(code, str) else None
                if known is None or known["used"] or fake.clock() - known["at"] > CARD_CODE_TTL:
                    return fake._err(40035, "invalid response_code")  # unknown, used, over 72 h (errcode: ours)
                if fake.agent_id is not None and str(data.get("agentid")) != str(fake.agent_id):
                    return fake._err(40056, "invalid agentid")
                users = data.get("userids") or []
                if not isinstance(users, list) or not set(users) <= set(known["users"]):
                    return fake._err(40031, "invalid userid list")
                has_button = isinstance(data.get("button"), dict) and data["button"].get("replace_name")
                if not has_button and not isinstance(data.get("template_card"), dict):
                    return fake._err(40035, "button.replace_name or template_card missing")
                known["used"] = True
                fake._record({"kind": "update_card", "msgtype": "update_card", "task_id": known["task_id"],
                              "userids": users, "payload": data})
                return fake._err(0, "ok", invaliduser="")

        @app.post("/cgi-bin/webhook/send")
        def webhook_send():
            with fake._lock:
                key = request.args.get("key", "")
                bad = fake._robot_key_error(key)
                if bad is not None:
                    return bad
                data = fake._json_body()
                if data is None:
                    return fake._err(40035, "invalid json")
                msgtype = data.get("msgtype")
                if msgtype not in ROBOT_MSGTYPES:
                    return fake._err(40008, "invalid message type")
                body = data.get(msgtype)
                if body is None:
                    return fake._err(40035, "%s body missing" % msgtype)
                if msgtype in ("text", "markdown", "markdown_v2"):
                    limit = TEXT_MAX_BYTES if msgtype == "text" else ROBOT_MARKDOWN_MAX_BYTES
                    bad = fake._content_error(msgtype, body, limit)
                    if bad is not None:
                        return bad
                elif msgtype == "image":
                    bad = fake._image_error(body)
                    if bad is not None:
                        return bad
                elif msgtype == "file":
                    if not isinstance(body, dict) or body.get("media_id") not in fake._media:
                        return fake._err(40007, "invalid media_id")
                if not fake._within(fake._robot_hits[key], ROBOT_PER_MINUTE):
                    return fake._err(45009, "api freq out of limit")
                fake._record({"kind": "robot", "key": key, "msgtype": msgtype, "payload": data})
                return fake._err(0, "ok")

        @app.post("/cgi-bin/media/upload")
        def media_upload():
            with fake._lock:
                bad = fake._check_token()
                if bad is not None:
                    return bad
                media = request.files.get("media")
                if media is None:
                    return fake._err(40035, "media missing")
                data = media.read()
                if not 5 <= len(data) <= 20 * 1024 * 1024:
                    return fake._err(40006, "invalid file size")
                media_id = "fake-app-media-" + secrets.token_hex(12)
                fake._media[media_id] = {"filename": media.filename, "size": len(data), "media_id": media_id,
                                         "type": request.args.get("type", ""), "data": data}
                fake._record({"kind": "media_upload", "filename": media.filename, "size": len(data),
                              "media_id": media_id})
                return fake._err(0, "ok", type="file", media_id=media_id, created_at=str(int(fake.clock())))

        @app.post("/cgi-bin/webhook/upload_media")
        def webhook_upload():
            with fake._lock:
                key = request.args.get("key", "")
                bad = fake._robot_key_error(key)
                if bad is not None:
                    return bad
                media_type = request.args.get("type", "")
                if media_type not in ("file", "voice"):
                    return fake._err(40004, "invalid media type")
                media = request.files.get("media")
                if media is None:
                    return fake._err(40035, "media missing")
                data = media.read()
                if not FILE_MIN_BYTES <= len(data) <= FILE_MAX_BYTES:
                    return fake._err(40006, "invalid file size")
                media_id = "fake-media-" + secrets.token_hex(12)
                info = {"filename": media.filename, "size": len(data), "media_id": media_id,
                        "type": media_type}
                fake._media[media_id] = info
                fake._record({"kind": "upload", "key": key, "msgtype": media_type,
                              "payload": dict(info), **info})
                return fake._err(0, "ok", type=media_type, media_id=media_id,
                                 created_at=str(int(fake.clock())))

        @app.get("/_fake/sent")
        def control_sent():
            since = request.args.get("since", 0, type=int)
            return jsonify(fake.sent[max(0, since):])

        @app.get("/_fake/dropped")
        def control_dropped():
            since = request.args.get("since", 0, type=int)
            return jsonify(fake.dropped[max(0, since):])

        @app.post("/_fake/fail")
        def control_fail():
            opts = request.get_json(silent=True, force=True) or {}
            if not isinstance(opts, dict):
                return jsonify({"ok": False, "error": "expected a JSON object"}), 400
            kwargs = {k: opts.get(k) for k in ("errcode", "http_status", "hang", "path")}
            try:
                if opts.get("seconds") is not None:
                    fake.fail_for(float(opts["seconds"]), **kwargs)
                else:
                    fake.fail_next(int(opts.get("n", 1)), **kwargs)
            except (TypeError, ValueError) as exc:
                return jsonify({"ok": False, "error": str(exc)}), 400
            return jsonify({"ok": True})

        @app.post("/_fake/reset")
        def control_reset():
            fake.reset()
            return jsonify({"ok": True})

        @app.post("/_fake/expire_tokens")
        def control_expire():
            fake.expire_tokens()
            return jsonify({"ok": True})

        _add_oauth_routes(app, fake)
        _add_directory_routes(app, fake)
        return app

    def _image_error(self, body: Any) -> Optional[Response]:
        if not isinstance(body, dict):
            return self._err(40035, "invalid image body")
        try:
            raw = base64.b64decode(body.get("base64") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            return self._err(40009, "invalid image")
        if not raw or len(raw) > IMAGE_MAX_BYTES:
            return self._err(40009, "invalid image size")
        if hashlib.md5(raw).hexdigest() != str(body.get("md5", "")).lower():
            return self._err(40009, "image md5 mismatch")
        return None


# -- OAuth2 web authorisation (the web board's login) -------------------------------------------
OAUTH_CODE_TTL = 300  # a code works once, within 5 minutes


def _oauth_state(fake: FakeWeCom) -> dict:
    with fake._lock:
        if not hasattr(fake, "_oauth"):
            fake._oauth = {"user": None, "codes": {}, "trusted_domain": None}
        return fake._oauth


def set_oauth_user(fake: FakeWeCom, userid: Optional[str], trusted_domain: Optional[str] = None) -> None:
    """Who is "signed in to WeCom" when the authorize page is opened (None: nobody, answers an error), and
    optionally the app's 可信域名 (host[:port]) that redirect_uri must use."""
    st = _oauth_state(fake)
    with fake._lock:
        st["user"], st["trusted_domain"] = userid, trusted_domain


def _add_oauth_routes(app: Flask, fake: FakeWeCom) -> None:
    from urllib.parse import urlencode, urlsplit

    @app.get("/connect/oauth2/authorize")
    def oauth_authorize():
        st = _oauth_state(fake)
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if args.get("appid") != fake.corp_id or args.get("response_type") != "code" or not redirect_uri:
            return Response("appid / response_type / redirect_uri 参数错误", status=400, mimetype="text/plain")
        if args.get("scope") not in ("snsapi_base", "snsapi_privateinfo"):
            return Response("scope 参数错误", status=400, mimetype="text/plain")
        if fake.agent_id is not None and args.get("agentid") != str(fake.agent_id):
            return Response("agentid 参数错误", status=400, mimetype="text/plain")
        if st["trusted_domain"] and urlsplit(redirect_uri).netloc != st["trusted_domain"]:
            return Response("redirect_uri 需与可信域名一致", status=400, mimetype="text/plain")
        if not st["user"]:
            return Response("请在企业微信中打开", status=403, mimetype="text/plain")
        code = secrets.token_urlsafe(24)
        with fake._lock:
            st["codes"][code] = {"userid": st["user"], "expires_at": fake.clock() + OAUTH_CODE_TTL}
        sep = "&" if "?" in redirect_uri else "?"
        target = redirect_uri + sep + urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": target})

    @app.get("/cgi-bin/auth/getuserinfo")
    def oauth_getuserinfo():
        with fake._lock:
            bad = fake._check_token()
            if bad is not None:
                return bad
            info = _oauth_state(fake)["codes"].pop(request.args.get("code", ""), None)
            if info is None or fake.clock() >= info["expires_at"]:
                return fake._err(40029, "invalid code")
            if fake.known_users is not None and info["userid"] not in fake.known_users:
                return fake._err(0, "ok", openid="o" + info["userid"])  # not a member: no userid
            return fake._err(0, "ok", userid=info["userid"], user_ticket="")


# -- the address book (通讯录): user/getuserid by mobile ------------------------------------------
def set_directory(fake: FakeWeCom, entries: dict) -> None:
    """The corp's members as the address book knows them: {mobile: userid} (replaces the old ones)."""
    with fake._lock:
        fake._directory = dict(entries)


def _add_directory_routes(app: Flask, fake: FakeWeCom) -> None:
    @app.post("/cgi-bin/user/getuserid")
    def user_getuserid():
        with fake._lock:
            bad = fake._check_token()
            if bad is not None:
                return bad
            body = fake._json_body() or {}
            mobile = str(body.get("mobile", ""))
            if not mobile:
                return fake._err(40003, "invalid mobile")  # 手机号码不合法
            userid = getattr(fake, "_directory", {}).get(mobile)
            if userid is None:
                return fake._err(46004, "user not found")  # 不存在的成员
            return fake._err(0, "ok", userid=userid)


def main(argv: Optional[list[str]] = None) -> None:
    """Run the fake in the foreground and print its base URL."""
    parser = argparse.ArgumentParser(description="Fake WeCom API on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--corp-id", default="wwfakecorp")
    parser.add_argument("--secret", default="fakesecret")
    parser.add_argument("--robot-key", action="append", dest="robot_keys",
                        help="accepted robot key (repeatable; default: any key)")
    args = parser.parse_args(argv)
    fake = FakeWeCom(args.corp_id, args.secret,
                     set(args.robot_keys) if args.robot_keys else None, port=args.port)
    print(fake.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
