"""Fixtures and helpers for tests that drive the DingTalk callback against the fake DingTalk API (the same
settings as tests/test_dingtalk.py): an app with one registered person, a signed peer, the sender."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.channels.dingtalk.transport import DingTalkTransport
from bot.delivery.sender import Sender
from bot.tools.fakes.dingtalk_server import FakeDingTalk
from models import Notice, Person, utcnow
from tests.dingtalk_peer import DingTalkPeer
from tests.support import Spy, make_app

APP_KEY, APP_SECRET, ROBOT_CODE = "dingtestappkey", "dt-app-secret-2026", "dingtestrobot"
USER, NAME = "dt_liuzhaoxuan", "刘昭暄"
ROBOT_TOKEN, ROBOT_SECRET = "robot-token-supervision", "SECrobotsecret"  # a 加签 group robot the fake knows


def dt_config(fake, **extra):
    cfg = dict(DINGTALK_APP_KEY=APP_KEY, DINGTALK_APP_SECRET=APP_SECRET, DINGTALK_ROBOT_CODE=ROBOT_CODE,
               DINGTALK_API_BASE=fake.base_url, DINGTALK_OAPI_BASE=fake.base_url, HTTP_TIMEOUT_SECONDS=2.0,
               OUTBOX_MAX_ATTEMPTS=4)
    cfg.update(extra)
    return cfg


@pytest.fixture
def fake():
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE) as fk:
        yield fk


@pytest.fixture
def peer(fake):
    return DingTalkPeer(APP_SECRET, ROBOT_CODE, fake=fake)


@pytest.fixture
def bot(db_url, tmp_path, fake, monkeypatch):
    """An app with DingTalk configured and one registered person; `bot.rt.spy` sees every routed message."""
    app = make_app(db_url, tmp_path, **dt_config(fake))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add(Person(name=NAME, dingtalk_userid=USER, mobile="13900000001"))
    rt.spy = Spy(rt.router)
    monkeypatch.setattr(rt, "router", rt.spy)
    app.client, app.rt = app.test_client(), rt
    yield app
    rt.db.dispose()


def notices(rt):
    with rt.db.session() as s:
        return list(s.scalars(select(Notice).order_by(Notice.id)))


def send(rt, now=None):
    """One pass of the sender, at `now` (a clock such as tests.support.Now; default: real UTC time)."""
    return Sender(rt, transports={"dingtalk": DingTalkTransport(rt)}, now=now or utcnow).run_once()


def delivered(fake, kind=None):
    return [x for x in fake.sent if kind is None or x["kind"] == kind]


def content_of(item):
    """The text a recorded message shows, whatever the API."""
    if item["kind"] in ("one_to_one", "group"):
        return item["param"].get("content") or item["param"].get("text")
    body = item["payload"][item["msgtype"]]
    return body.get("content") or body.get("text")
