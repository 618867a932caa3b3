"""Helpers shared by test modules and benchmarks (not a test module, not conftest): the app factory with
test settings, the repository's paths, the router spy, the sender's movable clock, and the WeCom app
credentials of the tests."""
from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = ROOT / "config" / "seed" / "quangang.yaml"
REQUIRE = os.environ.get("REQUIRE_SERVICES") == "1"  # CI: a missing service fails, never skips

# A WeCom app for the callback tests (any valid 43-character EncodingAESKey).
TOKEN, CORP, AGENT = "cbToken2026", "wwcallbacktest", "1000002"
AES = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"

def make_app(db_url: str, tmp_path: Path, **extra):
    from bot import create_app

    config = {"DATABASE_URL": db_url, "TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"),
              "REDIS_URL": "", "EMBEDDED_WORKERS": False}
    config.update(extra)
    app = create_app(config)
    return app


def wecom_config(**extra):
    cfg = dict(WECOM_TOKEN=TOKEN, WECOM_AES_KEY=AES, WECOM_CORP_ID=CORP, WECOM_AGENT_ID=AGENT,
               WECOM_SECRET="unused", WECOM_API_BASE="http://127.0.0.1:9")
    cfg.update(extra)
    return cfg


def wecom_runtime(db_url: str, tmp_path: Path, load):
    """The runtime of an app behind the signed WeCom callback, its database filled by `load(session)`;
    `rt.say(user)` drives that WeCom user's dialog (tests.dialog.Callback). The caller disposes `rt.db`."""
    from tests.dialog import Callback
    from tests.wecom_peer import WeComPeer

    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load(s)
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    rt.say = lambda user: Callback(app, peer, user)
    return rt


def notice_rows(rt, prefix: str = "") -> list[tuple]:
    """(key, target, text) of each queued notice whose key starts with `prefix`, in the order queued."""
    from sqlalchemy import select

    from models import Notice

    with rt.db.session() as s:
        return [(n.key, n.target, n.payload.get("content", "")) for n in s.scalars(  # a card update has none
            select(Notice).where(Notice.key.like(prefix + "%")).order_by(Notice.id))]


class Now:
    """The sender's clock: real UTC time plus an offset the test moves forward."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        from models import utcnow

        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Spy:
    """Wraps the router: records routed messages and can replace the answer."""

    def __init__(self, router, answer=None):
        self.router, self.answer, self.seen = router, answer, []
        self.lock = threading.Lock()

    def __getattr__(self, name):  # menu, find…: the wrapped router's
        return getattr(self.router, name)

    def route(self, ctx):
        with self.lock:
            self.seen.append(ctx.incoming)
        return self.answer(ctx) if self.answer else self.router.route(ctx)


def post(client, callback):
    """POST a signed callback (url, body) from tests.wecom_peer as WeCom does."""
    url, body = callback
    return client.post(url, data=body, content_type="text/xml")


def count(rt, model):
    """Rows of `model` in the runtime's database."""
    from sqlalchemy import func, select

    with rt.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def wait_for(pred, timeout=10.0):
    """Poll `pred` until it is true (True) or `timeout` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False
