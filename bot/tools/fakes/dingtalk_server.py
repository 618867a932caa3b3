"""A fake DingTalk API on loopback, for tests and local runs (the DingTalk twin of `wecom_server`).

Serves, on one port, both hosts the bot talks to (DINGTALK_API_BASE and DINGTALK_OAPI_BASE):

- `POST /v1.0/oauth2/accessToken` (appKey/appSecret → accessToken, expireIn 7200);
- `POST /v1.0/card/instances/createAndDeliver` and `PUT /v1.0/card/instances` (interactive cards to a
  user's robot chat; the card's variables are kept in `cards` by outTrackId);
- `POST /v1.0/robot/oToMessages/batchSend` and `/v1.0/robot/groupMessages/send` (header
  `x-acs-dingtalk-access-token`; robotCode, msgKey sampleText/sampleMarkdown, msgParam a JSON string);
- `POST /robot/send?access_token&timestamp&sign` — custom group robots, the 加签 signature checked
  (310000 when wrong or more than an hour old), 20 messages a minute then blocked 10 minutes (410100);
- `POST /robot/sendBySession?session=…` — the sessionWebhooks it hands out (`new_session`), which expire;
- `POST /media/upload?access_token&type=file` (multipart `media`, ≤ 20 MB) → media_id, kept in `media`
  ({media_id: (filename, bytes)}); a sampleFile robot message must name an uploaded mediaId.

It records what was accepted (`sent`), counts calls (`hits`) and injects failures (`fail_next`,
`fail_for`: errcodes, HTTP statuses, hangs). Control endpoints under /_fake/ serve other processes.
Run standalone: ``python -m bot.tools.fakes.dingtalk_server --port 0``.
"""
from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Optional

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["FakeDingTalk", "main"]

TOKEN_TTL = 7200
ROBOT_PER_MINUTE = 20
BLOCK_SECONDS = 600.0
WINDOW = 60.0
SESSION_TTL = 5400.0  # about 90 minutes
SIGN_SKEW_MS = 3600 * 1000
MSG_KEYS = {"sampleText": ("content",), "sampleMarkdown": ("title", "text"),
            "sampleFile": ("mediaId", "fileName", "fileType")}
FILE_MAX_BYTES = 20 * 1024 * 1024

_HIT_NAMES = {
    "/v1.0/oauth2/accessToken": "token",
    "/v1.0/robot/oToMessages/batchSend": "batch_send",
    "/v1.0/robot/groupMessages/send": "group_send",
    "/robot/send": "robot_send",
    "/robot/sendBySession": "session_send",
    "/media/upload": "media_upload",
    "/v1.0/card/instances/createAndDeliver": "card_deliver",
    "/v1.0/card/instances": "card_update",
}


class _Quiet(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        pass


class _FailRule:
    def __init__(self, *, remaining=None, until=None, errcode=None, http_status=None, hang=None, path=None):
        self.remaining, self.until = remaining, until
        self.errcode, self.http_status, self.hang, self.path = errcode, http_status, hang, path

    def matches(self, path: str, now: float) -> bool:
        if self.path and not path.startswith(self.path):
            return False
        if self.remaining is not None:
            return self.remaining > 0
        return self.until is not None and now < self.until


def _sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class FakeDingTalk:
    """Fake DingTalk; `start()` returns its base URL (use it for both DINGTALK_*_BASE settings)."""

    def __init__(self, app_key: str = "dingfakeappkey", app_secret: str = "fakeappsecret",
                 robot_code: Optional[str] = None, robots: Optional[dict] = None, *,
                 known_users: Optional[set] = None, port: int = 0, clock: Callable[[], float] = time.time):
        """`robots`: {access_token: 加签 secret or None}; None accepts any token unsigned.
        `known_users=None` accepts any staff id."""
        self.app_key, self.app_secret = app_key, app_secret
        self.robot_code = robot_code or app_key
        self.robots = None if robots is None else dict(robots)
        self.known_users = None if known_users is None else set(known_users)
        self.port, self.clock = port, clock
        self._lock = threading.RLock()
        self._tokens: dict[str, dict] = {}
        self.media: dict[str, tuple[str, bytes]] = {}
        self._sessions: dict[str, dict] = {}
        self._sent: list[dict] = []
        self.cards: dict[str, dict] = {}  # outTrackId -> {"template", "user", "params", "route"}
        self._rules: list[_FailRule] = []
        self._robot_hits: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._blocked_until: dict[str, float] = {}
        self._release = threading.Event()
        self.hits: collections.Counter = collections.Counter()
        self._server = None
        self._thread: Optional[threading.Thread] = None
        self.base_url: Optional[str] = None
        self.app = self._build_app()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        if self._server is None:
            self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=_Quiet)
            self.base_url = "http://127.0.0.1:%d" % self._server.server_port
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-dingtalk", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeDingTalk:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- control ------------------------------------------------------------------------------
    @property
    def sent(self) -> list[dict]:
        with self._lock:
            return list(self._sent)

    def new_session(self, conversation_id: str = "cid-fake", ttl: float = SESSION_TTL) -> tuple[str, int]:
        """(sessionWebhook URL, expiry in ms) as DingTalk puts them in a callback."""
        session = secrets.token_hex(16)
        expires_ms = int((self.clock() + ttl) * 1000)
        with self._lock:
            self._sessions[session] = {"conversation_id": conversation_id, "expires_ms": expires_ms}
        return "%s/robot/sendBySession?session=%s" % (self.base_url or "", session), expires_ms

    def expire_tokens(self) -> None:
        with self._lock:
            for info in self._tokens.values():
                info["expired"] = True

    def fail_next(self, n: int = 1, errcode=None, http_status: Optional[int] = None,
                  hang: Optional[float] = None, *, path: Optional[str] = None) -> None:
        """Make the next `n` API calls (optionally only under `path`) fail or hang."""
        with self._lock:
            self._rules.append(_FailRule(remaining=int(n), errcode=errcode, http_status=http_status,
                                         hang=hang, path=path))

    def fail_for(self, seconds: float, errcode=None, http_status: Optional[int] = None,
                 hang: Optional[float] = None, *, path: Optional[str] = None) -> None:
        with self._lock:
            self._rules.append(_FailRule(until=self.clock() + float(seconds), errcode=errcode,
                                         http_status=http_status, hang=hang, path=path))

    def reset(self) -> None:
        """Forget records, windows, blocks, rules and counters (tokens and sessions stay valid)."""
        with self._lock:
            self.cards.clear()
            self._sent.clear()
            self._rules.clear()
            self._robot_hits.clear()
            self._blocked_until.clear()
            self.hits.clear()
            self._release.set()
            self._release = threading.Event()

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _oapi(errcode: int, errmsg: str, **extra) -> Response:
        return jsonify({"errcode": errcode, "errmsg": errmsg, **extra})

    @staticmethod
    def _openapi_error(status: int, code: str, message: str) -> Response:
        resp = jsonify({"code": code, "message": message, "requestid": secrets.token_hex(8)})
        resp.status_code = status
        return resp

    def _record(self, item: dict) -> None:
        item["at"] = self.clock()
        self._sent.append(item)

    def _injected(self, path: str) -> Optional[Response]:
        with self._lock:
            now = self.clock()
            rule = next((r for r in self._rules if r.matches(path, now)), None)
            if rule is not None and rule.remaining is not None:
                rule.remaining -= 1
            self._rules = [r for r in self._rules if r.remaining != 0 and (r.until is None or now < r.until)]
        if rule is None:
            return None
        if rule.hang:
            self._release.wait(rule.hang)
        if rule.errcode is not None:
            if path.startswith("/v1.0/"):
                return self._openapi_error(int(rule.http_status or 400), str(rule.errcode), "injected failure")
            resp = self._oapi(int(rule.errcode), "injected failure")
            resp.status_code = int(rule.http_status or 200)
            return resp
        if rule.http_status is not None:
            return Response("injected failure", status=int(rule.http_status), mimetype="text/plain")
        return None

    def _token_error(self) -> Optional[Response]:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        info = self._tokens.get(token)
        if info is None or info["expired"] or self.clock() >= info["expires_at"]:
            return self._openapi_error(401, "InvalidAuthentication", "token invalid or expired")
        return None

    @staticmethod
    def _json() -> Optional[dict]:
        data = request.get_json(silent=True, force=True)
        return data if isinstance(data, dict) else None

    def _authorized_json(self) -> tuple[Optional[Response], dict]:
        """An OpenAPI call's token, then its JSON object body: (the error to answer, or None; the body)."""
        bad = self._token_error()
        if bad is not None:
            return bad, {}
        data = self._json()
        if data is None:
            return self._openapi_error(400, "invalidParameter", "invalid json"), {}
        return None, data

    def _robot_message(self, data: dict) -> tuple[Optional[Response], Optional[dict]]:
        """Check robotCode, msgKey and msgParam of an OpenAPI robot message."""
        if data.get("robotCode") != self.robot_code:
            return self._openapi_error(400, "resource.not.found", "robot not found"), None
        fields = MSG_KEYS.get(data.get("msgKey"))
        if fields is None:
            return self._openapi_error(400, "invalidParameter.msgKey", "unknown msgKey"), None
        try:
            param = json.loads(data.get("msgParam") or "")
        except (TypeError, ValueError):
            return self._openapi_error(400, "invalidParameter.msgParam", "msgParam is not JSON"), None
        if not isinstance(param, dict) or not all(isinstance(param.get(f), str) and param[f] for f in fields):
            return self._openapi_error(400, "invalidParameter.msgParam", "msgParam fields missing"), None
        if data.get("msgKey") == "sampleFile" and param["mediaId"] not in self.media:
            return self._openapi_error(400, "invalidParameter.mediaId", "mediaId not found"), None
        return None, param

    def _within_robot_limit(self, token: str) -> bool:
        """20 a minute; the 21st blocks the robot for 10 minutes."""
        now = self.clock()
        if now < self._blocked_until.get(token, 0.0):
            return False
        hits = self._robot_hits[token]
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= ROBOT_PER_MINUTE:
            self._blocked_until[token] = now + BLOCK_SECONDS
            return False
        hits.append(now)
        return True

    @staticmethod
    def _robot_body_error(data: Optional[dict]) -> Optional[Response]:
        if data is None:
            return FakeDingTalk._oapi(400000, "invalid json")
        msgtype = data.get("msgtype")
        body = data.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype == "text" and isinstance(body, dict) and isinstance(body.get("content"), str) and body["content"]:
            return None
        if msgtype == "markdown" and isinstance(body, dict) and body.get("title") and body.get("text"):
            return None
        if msgtype in ("actionCard", "link", "feedCard") and isinstance(body, dict):
            return None
        return FakeDingTalk._oapi(400000, "invalid message")

    # -- app ----------------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("fake_dingtalk")
        fake = self

        @app.before_request
        def _count_and_inject():
            name = _HIT_NAMES.get(request.path)
            if name is None:
                return None
            with fake._lock:
                fake.hits[name] += 1
            return fake._injected(request.path)

        @app.post("/v1.0/oauth2/accessToken")
        def access_token():
            data = fake._json() or {}
            if data.get("appKey") != fake.app_key or data.get("appSecret") != fake.app_secret:
                return fake._openapi_error(400, "invalidClientIdOrSecret", "无效的appKey或appSecret")
            token = secrets.token_hex(16)
            with fake._lock:
                fake._tokens[token] = {"expires_at": fake.clock() + TOKEN_TTL, "expired": False}
            return jsonify({"accessToken": token, "expireIn": TOKEN_TTL})

        @app.post("/v1.0/robot/oToMessages/batchSend")
        def batch_send():
            with fake._lock:
                bad, data = fake._authorized_json()
                if bad is not None:
                    return bad
                bad, param = fake._robot_message(data)
                if bad is not None:
                    return bad
                users = data.get("userIds")
                if not isinstance(users, list) or not users or len(users) > 20:
                    return fake._openapi_error(400, "invalidParameter.userIds", "1..20 userIds")
                invalid = [u for u in users if fake.known_users is not None and u not in fake.known_users]
                valid = [u for u in users if u not in invalid]
                if valid:
                    fake._record({"kind": "one_to_one", "users": valid, "msgKey": data["msgKey"],
                                  "param": param})
                return jsonify({"processQueryKey": secrets.token_hex(8), "invalidStaffIdList": invalid,
                                "flowControlledStaffIdList": []})

        @app.post("/v1.0/card/instances/createAndDeliver")
        def card_deliver():
            with fake._lock:
                bad = fake._token_error()
                if bad is not None:
                    return bad
                data = fake._json() or {}
                track, space = data.get("outTrackId"), str(data.get("openSpaceId") or "")
                params = (data.get("cardData") or {}).get("cardParamMap")
                if not track or not data.get("cardTemplateId") or not isinstance(params, dict):
                    return fake._openapi_error(400, "invalidParameter", "outTrackId, cardTemplateId, cardData")
                if not all(isinstance(v, str) for v in params.values()):
                    return fake._openapi_error(400, "invalidParameter.cardParamMap", "values must be strings")
                if not space.startswith("dtv1.card//IM_ROBOT."):
                    return fake._openapi_error(400, "invalidParameter.openSpaceId", "IM_ROBOT space expected")
                deliver = data.get("imRobotOpenDeliverModel") or {}
                if deliver.get("robotCode") != fake.robot_code:
                    return fake._openapi_error(400, "resource.not.found", "robot not found")
                if track in fake.cards:
                    return fake._openapi_error(400, "card.outTrackId.exists", "outTrackId already used")
                user = space.removeprefix("dtv1.card//IM_ROBOT.")
                fake.cards[track] = {"template": data["cardTemplateId"], "user": user, "params": dict(params),
                                     "route": data.get("callbackRouteKey")}
                fake._record({"kind": "card", "outTrackId": track, "user": user, "params": dict(params),
                              "route": data.get("callbackRouteKey")})
                return jsonify({"success": True, "result": {"outTrackId": track, "deliverResults": [
                    {"spaceType": "IM_ROBOT", "spaceId": user, "success": True}]}})

        @app.put("/v1.0/card/instances")
        def card_update():
            with fake._lock:
                bad = fake._token_error()
                if bad is not None:
                    return bad
                data = fake._json() or {}
                card = fake.cards.get(data.get("outTrackId"))
                params = (data.get("cardData") or {}).get("cardParamMap")
                if card is None:
                    return fake._openapi_error(400, "card.not.found", "no card with this outTrackId")
                if not isinstance(params, dict):
                    return fake._openapi_error(400, "invalidParameter", "cardData.cardParamMap")
                if (data.get("cardUpdateOptions") or {}).get("updateCardDataByKey"):
                    card["params"].update(params)
                else:
                    card["params"] = dict(params)
                fake._record({"kind": "card_update", "outTrackId": data["outTrackId"], "params": dict(params)})
                return jsonify({"success": True, "result": True})

        @app.post("/v1.0/robot/groupMessages/send")
        def group_send():
            with fake._lock:
                bad, data = fake._authorized_json()
                if bad is not None:
                    return bad
                bad, param = fake._robot_message(data)
                if bad is not None:
                    return bad
                if not data.get("openConversationId"):
                    return fake._openapi_error(400, "invalidParameter.openConversationId", "missing")
                fake._record({"kind": "group", "conversation": data["openConversationId"],
                              "msgKey": data["msgKey"], "param": param})
                return jsonify({"processQueryKey": secrets.token_hex(8)})

        @app.post("/media/upload")
        def media_upload():
            with fake._lock:
                info = fake._tokens.get(request.args.get("access_token", ""))
                if info is None or info["expired"] or fake.clock() >= info["expires_at"]:
                    return fake._oapi(40014, "不合法的access_token")
                upload = request.files.get("media")
                if request.args.get("type") != "file" or upload is None or not upload.filename:
                    return fake._oapi(40004, "不合法的媒体文件类型")
                data = upload.read()
                if not data or len(data) > FILE_MAX_BYTES:
                    return fake._oapi(40006, "不合法的文件大小")
                media_id = "@lA" + secrets.token_hex(12)
                fake.media[media_id] = (upload.filename, data)
                return fake._oapi(0, "ok", media_id=media_id, type="file", created_at=int(fake.clock() * 1000))

        @app.post("/robot/send")
        def robot_send():
            with fake._lock:
                token = request.args.get("access_token", "")
                if not token or (fake.robots is not None and token not in fake.robots):
                    return fake._oapi(300001, "token is not exist")
                secret = fake.robots.get(token) if fake.robots is not None else None
                signed = None
                if secret:
                    ts, sig = request.args.get("timestamp", ""), request.args.get("sign", "")
                    try:
                        fresh = abs(fake.clock() * 1000 - int(ts)) <= SIGN_SKEW_MS
                    except ValueError:
                        fresh = False
                    if not fresh or not hmac.compare_digest(_sign(secret, ts), sig):
                        return fake._oapi(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
                    signed = True
                data = fake._json()
                bad = fake._robot_body_error(data)
                if bad is not None:
                    return bad
                if not fake._within_robot_limit(token):
                    return fake._oapi(410100, "send too fast, exceed 20 times per minute")
                fake._record({"kind": "robot", "token": token, "signed": bool(signed),
                              "msgtype": data["msgtype"], "payload": data})
                return fake._oapi(0, "ok")

        @app.post("/robot/sendBySession")
        def session_send():
            with fake._lock:
                info = fake._sessions.get(request.args.get("session", ""))
                if info is None or fake.clock() * 1000 >= info["expires_ms"]:
                    return fake._oapi(300001, "session expired or invalid")
                data = fake._json()
                bad = fake._robot_body_error(data)
                if bad is not None:
                    return bad
                fake._record({"kind": "session", "conversation": info["conversation_id"],
                              "session": request.args["session"], "msgtype": data["msgtype"], "payload": data})
                return fake._oapi(0, "ok")

        @app.get("/_fake/sent")
        def control_sent():
            since = request.args.get("since", 0, type=int)
            return jsonify(fake.sent[max(0, since):])

        @app.post("/_fake/session")
        def control_session():
            opts = request.get_json(silent=True, force=True) or {}
            url, expires = fake.new_session(str(opts.get("conversation_id") or "cid-fake"),
                                            float(opts.get("ttl") or SESSION_TTL))
            return jsonify({"sessionWebhook": url, "sessionWebhookExpiredTime": expires})

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

        _add_auth_code_routes(app, fake)
        _add_directory_routes(app, fake)
        return app


# -- H5 免登 (the web board's login) ------------------------------------------------------------
AUTH_CODE_TTL = 300


def issue_auth_code(fake: FakeDingTalk, userid: str) -> str:
    """What dd.runtime.permission.requestAuthCode gives a page opened inside DingTalk by `userid`."""
    import secrets as _secrets

    code = _secrets.token_hex(16)
    with fake._lock:
        if not hasattr(fake, "_auth_codes"):
            fake._auth_codes = {}
        fake._auth_codes[code] = {"userid": userid, "expires_at": fake.clock() + AUTH_CODE_TTL}
    return code


def _add_auth_code_routes(app: Flask, fake: FakeDingTalk) -> None:
    @app.post("/topapi/v2/user/getuserinfo")
    def auth_getuserinfo():
        with fake._lock:
            info = fake._tokens.get(request.args.get("access_token", ""))
            if info is None or info["expired"] or fake.clock() >= info["expires_at"]:
                return fake._oapi(40014, "不合法的access_token")
            code = (fake._json() or {}).get("code", "")
            got = getattr(fake, "_auth_codes", {}).pop(code, None)
            if got is None or fake.clock() >= got["expires_at"]:
                return fake._oapi(40078, "不存在的临时授权码")
            return fake._oapi(0, "ok", result={"userid": got["userid"], "name": "", "sys": False})


# -- the address book (通讯录): topapi/v2/user/getbymobile -------------------------------------------
def set_directory(fake: FakeDingTalk, entries: dict) -> None:
    """The organisation's staff as the address book knows them: {mobile: userid}."""
    with fake._lock:
        fake._directory = dict(entries)


def _add_directory_routes(app: Flask, fake: FakeDingTalk) -> None:
    @app.post("/topapi/v2/user/getbymobile")
    def user_getbymobile():
        with fake._lock:
            info = fake._tokens.get(request.args.get("access_token", ""))
            if info is None or info["expired"] or fake.clock() >= info["expires_at"]:
                return fake._oapi(40014, "不合法的access_token")
            mobile = str((fake._json() or {}).get("mobile", ""))
            userid = getattr(fake, "_directory", {}).get(mobile)
            if userid is None:
                return fake._oapi(60121, "找不到该用户")
            return fake._oapi(0, "ok", result={"userid": userid}, request_id="fake")


def main(argv: Optional[list[str]] = None) -> None:
    """Run the fake in the foreground and print its base URL."""
    parser = argparse.ArgumentParser(description="Fake DingTalk API on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app-key", default="dingfakeappkey")
    parser.add_argument("--app-secret", default="fakeappsecret")
    parser.add_argument("--robot", action="append", default=[], metavar="TOKEN[:SECRET]",
                        help="accepted custom robot (repeatable; default: any token, unsigned)")
    args = parser.parse_args(argv)
    robots = {r.partition(":")[0]: (r.partition(":")[2] or None) for r in args.robot} or None
    fake = FakeDingTalk(args.app_key, args.app_secret, robots=robots, port=args.port)
    print(fake.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

