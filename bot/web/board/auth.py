"""Getting into the board, and who the viewer is on each request.

Three ways in, all ending in the same signed session cookie {person id, login time}:
- a one-time link from the chat command 看板 (itsdangerous, bound to the person and their platform id,
  valid BOARD_LINK_MINUTES, consumed once through runtime.kv);
- WeCom OAuth2 web authorisation (snsapi_base): state kept in the session and checked, then the code is
  exchanged for the userid (/cgi-bin/auth/getuserinfo);
- DingTalk in-app 免登: an authCode exchanged for the staff userid (topapi/v2/user/getuserinfo).
Every way redirects to a clean URL afterwards, so no token, code or userid stays in the address bar.
"""
from __future__ import annotations

import functools
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from flask import abort, current_app, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from bot.channels.common import ChannelError
from bot.domain.roles import Roles, roles_of
from bot.web.board import bp, secret_key
from models import Person

log = logging.getLogger(__name__)

LINK_SALT = "board-link"


@dataclass
class Viewer:
    """The signed-in person of one request, with roles derived afresh from the org chart."""

    runtime: object
    session: Session
    person: Person
    roles: Roles
    now: datetime


# -- the 看板 link ----------------------------------------------------------------------------------
def _serializer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt=LINK_SALT)


def make_link(settings, person: Person, channel: str, user_id: str) -> str:
    """An absolute one-time login link for `person`, who asked for it on `channel` as `user_id`."""
    token = _serializer(settings).dumps({"p": person.id, "c": channel, "u": user_id, "n": secrets.token_hex(8)})
    return f"{settings.BOARD_BASE_URL.rstrip('/')}/board/login/link?{urlencode({'t': token})}"


def _refuse(reason: str, status: int = 403):
    return render_template("board/refused.html", reason=reason), status


def _start_session(person_id: int, how: str):
    session.clear()
    session.permanent = True
    session.update(pid=person_id, at=int(time.time()), how=how)
    return redirect(url_for("board.ledger"))


@bp.get("/login/link")
def login_link():
    runtime = current_app.extensions["bot"]
    settings = runtime.settings
    token = request.args.get("t", "")
    try:
        data = _serializer(settings).loads(token, max_age=settings.BOARD_LINK_MINUTES * 60)
    except SignatureExpired:
        return _refuse("expired")
    except BadSignature:
        return _refuse("invalid")
    if not isinstance(data, dict) or not {"p", "c", "u", "n"} <= data.keys():
        return _refuse("invalid")
    with runtime.db.session() as s:
        person = runtime.find_person(s, data["c"], data["u"])
        # Bound to the person: the platform id must still belong to the same active person.
        if person is None or person.id != data["p"]:
            return _refuse("invalid")
    if not runtime.kv.set_nx(f"board:link:{data['n']}", "1", ttl=settings.BOARD_LINK_MINUTES * 60 + 60):
        return _refuse("used")
    return _start_session(data["p"], "link")


# -- WeCom OAuth2 -------------------------------------------------------------------------------------
def _callback_url(endpoint: str) -> str:
    base = current_app.extensions["bot"].settings.BOARD_BASE_URL.rstrip("/")
    return base + url_for(endpoint)


@bp.get("/login/wecom")
def login_wecom():
    s = current_app.extensions["bot"].settings
    if not s.WECOM_CORP_ID:
        return _refuse("no_wecom", 404)
    state = secrets.token_urlsafe(16)
    session["oauth_state"] = state
    query = urlencode({"appid": s.WECOM_CORP_ID, "redirect_uri": _callback_url("board.login_wecom_callback"),
                       "response_type": "code", "scope": "snsapi_base", "state": state,
                       "agentid": s.WECOM_AGENT_ID})
    return redirect(f"{s.WECOM_OAUTH_BASE.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect")


@bp.get("/login/wecom/callback")
def login_wecom_callback():
    runtime = current_app.extensions["bot"]
    expected = session.pop("oauth_state", None)
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not expected or not secrets.compare_digest(expected, state) or not code:
        return _refuse("state")
    from bot.channels.wecom.api import WeComClient

    s = runtime.settings
    client = WeComClient(s.WECOM_API_BASE, s.WECOM_CORP_ID, s.WECOM_SECRET, s.WECOM_AGENT_ID or 0,
                         token_store=runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)
    try:
        userid = client.user_of_oauth_code(code)
    except ChannelError as exc:
        log.warning("WeCom web login refused: %s", exc)
        return _refuse("platform")
    return _login_platform_user(runtime, "wecom", userid)


# -- DingTalk 免登 ------------------------------------------------------------------------------------
@bp.get("/login/dingtalk")
def login_dingtalk():
    runtime = current_app.extensions["bot"]
    code = request.args.get("authCode", "")
    if not code:
        # Inside DingTalk the page script asks dd.runtime.permission.requestAuthCode and comes back here.
        return render_template("board/login.html", dingtalk=True, corp_id=runtime.settings.DINGTALK_CORP_ID)
    from bot.channels.dingtalk.api import DingTalkClient

    s = runtime.settings
    client = DingTalkClient(s.DINGTALK_API_BASE, s.DINGTALK_OAPI_BASE, s.DINGTALK_APP_KEY, s.DINGTALK_APP_SECRET,
                            s.DINGTALK_ROBOT_CODE, token_store=runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)
    try:
        userid = client.user_of_auth_code(code)
    except ChannelError as exc:
        log.warning("DingTalk web login refused: %s", exc)
        return _refuse("platform")
    return _login_platform_user(runtime, "dingtalk", userid)


def _login_platform_user(runtime, channel: str, userid: str):
    with runtime.db.session() as s:
        person = runtime.find_person(s, channel, userid)
        if person is None:
            return _refuse("unknown")
        pid = person.id
    return _start_session(pid, channel)


@bp.get("/login")
def login():
    s = current_app.extensions["bot"].settings
    return render_template("board/login.html", dingtalk=False, wecom=bool(s.WECOM_CORP_ID), corp_id="")


@bp.get("/logout")
def logout():
    session.clear()
    return redirect(url_for("board.login"))


# -- every page --------------------------------------------------------------------------------------
def viewer_required(view):
    """Load the signed-in person and their roles for this request (in one read-only unit of work), or send
    the browser to the login page. A session older than BOARD_SESSION_HOURS is over whatever the cookie says."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        runtime = current_app.extensions["bot"]
        pid, at = session.get("pid"), session.get("at")
        max_age = runtime.settings.BOARD_SESSION_HOURS * 3600
        if not isinstance(pid, int) or not isinstance(at, int) or time.time() - at > max_age:
            session.clear()
            return redirect(url_for("board.login"))
        with runtime.db.session() as s:
            person = s.get(Person, pid)
            if person is None or not person.active:
                session.clear()
                abort(403)
            v = Viewer(runtime, s, person, roles_of(s, person), runtime.now())
            return view(v, *args, **kwargs)

    return wrapper
