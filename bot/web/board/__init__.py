"""The web ledger board (督查台账看板), read-only, at /board: the ledger, an item's page, report compliance,
the key projects and the downloads, each scoped by the same rules as chat (bot.domain.scope).

Getting in (bot.web.board.auth): a one-time signed link answered by the chat command 看板, WeCom's OAuth2
web authorisation (snsapi_base), or DingTalk's in-app 免登 authCode. The login is kept in Flask's signed
session cookie with an expiry; the person's roles are derived again on every request, so a change of the
org chart takes effect at once and no URL reaches what the roles do not cover.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface

from bot.infra.text import TEMPLATES_DIR
from config.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
KEY_FILE = "board_secret_key"

bp = Blueprint("board", __name__, url_prefix="/board", template_folder=str(TEMPLATES_DIR),
               static_folder=str(STATIC_DIR), static_url_path="/static")

# No inline script or style anywhere: every script is a file of this blueprint, data goes in data-* attributes.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, else one generated once per instance and kept in INSTANCE_DIR (mode 0600), so every
    worker of the instance and the 看板 handler sign with the same key."""
    if settings.SECRET_KEY:
        return settings.SECRET_KEY
    path = Path(settings.INSTANCE_DIR) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(32).hex())
    return path.read_text().strip()


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app):
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


@bp.after_request
def _security_headers(resp):
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith(f"{bp.url_prefix}/static/"):
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(404)
def _not_found(exc):
    return render_template("board/refused.html", reason="notfound"), 404


@bp.errorhandler(403)
def _forbidden(exc):
    return render_template("board/refused.html", reason="forbidden"), 403


def init_app(app: Flask, settings: Settings) -> None:
    from bot.infra import text
    from bot.web.board import auth, views  # noqa: F401 - routes register on bp

    app.jinja_env.filters.update(cn_date=text.cn_date, cn_short_date=text.cn_short_date,
                                 cn_datetime=text.cn_datetime, clip=text.truncate_chars,
                                 address=text.address, level_name=text.level_name)

    app.secret_key = secret_key(settings)
    app.config.update(SESSION_COOKIE_NAME="board_session", SESSION_COOKIE_PATH="/board",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.BOARD_SESSION_HOURS))
    app.session_interface = _SessionInterface()
    app.register_blueprint(bp)
