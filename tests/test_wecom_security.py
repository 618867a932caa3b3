"""WeCom callbacks must be fresh (issue 11, item 3): a signed timestamp outside the window is refused and
nothing is stored, and deduplication outlives the window, so a captured callback is never processed twice."""
from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.common import Refused
from bot.channels.wecom import callback as wecom
from config.settings import Settings, SettingsError
from models import Notice, Person, ProcessedMessage
from tests.support import AES, AGENT, CORP, TOKEN, Spy, count, make_app, post, wait_for, wecom_config
from tests.wecom_peer import WeComPeer

USER = "liuzhaoxuan"


@pytest.fixture
def peer():
    return WeComPeer(TOKEN, AES, CORP, AGENT)


@pytest.fixture
def bot(db_url, tmp_path, monkeypatch):
    """An app with WeCom configured and one registered person; its runtime's `spy` sees routed messages."""
    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add(Person(name="刘昭暄", wecom_userid=USER))
    rt.spy = Spy(rt.router)
    monkeypatch.setattr(rt, "router", rt.spy)
    app.client = app.test_client()
    yield app
    rt.db.dispose()


@pytest.mark.parametrize("age", [5 * 365 * 86400, -10 * 365 * 86400, 361, -361, 3600])
def test_a_callback_signed_outside_the_window_is_refused(bot, peer, age):
    stale = str(int(time.time()) - age)
    r = post(bot.client, peer.text(USER, "帮助", timestamp=stale))
    assert r.status_code == 403 and bot.extensions["bot"].spy.seen == []
    assert count(bot.extensions["bot"], ProcessedMessage) == 0 and count(bot.extensions["bot"], Notice) == 0


@pytest.mark.parametrize("age", [0, 30, 300, -300])
def test_a_callback_inside_the_window_is_answered(bot, peer, age):
    r = post(bot.client, peer.text(USER, "帮助", timestamp=str(int(time.time()) - age)))
    assert r.status_code == 200 and wait_for(lambda: len(bot.extensions["bot"].spy.seen) == 1)


def test_the_window_is_a_setting(db_url, tmp_path, peer):
    app = make_app(db_url, tmp_path, WECOM_TIMESTAMP_WINDOW_SECONDS=7200, **wecom_config())
    r = post(app.test_client(), peer.text(USER, "帮助", timestamp=str(int(time.time()) - 3600)))
    assert r.status_code == 200
    app.extensions["bot"].db.dispose()


def test_dedup_must_outlive_the_window(clean_env):
    with pytest.raises(SettingsError, match="DEDUP_TTL_SECONDS"):
        Settings.load({"DEDUP_TTL_SECONDS": 600, "WECOM_TIMESTAMP_WINDOW_SECONDS": 900})
    with pytest.raises(SettingsError, match="DEDUP_TTL_SECONDS"):
        Settings.load({"DEDUP_TTL_SECONDS": 1800})  # shorter than DingTalk's hour
    assert Settings.load({}).DEDUP_TTL_SECONDS >= Settings.load({}).WECOM_TIMESTAMP_WINDOW_SECONDS


@given(offset=st.integers(-10**9, 10**9))
def test_check_fresh(offset):
    now = 1_800_000_000
    if abs(offset) <= 360:
        wecom.check_fresh(str(now + offset), 360, now)
    else:
        with pytest.raises(Refused):
            wecom.check_fresh(str(now + offset), 360, now)
