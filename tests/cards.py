"""Decision cards in tests (not a test module): an app behind the signed WeCom callback whose API is the fake
WeCom, a tap as WeCom posts it (template_card_event), and the cards a user received."""
from __future__ import annotations

from contextlib import contextmanager

from bot.tools.fakes.wecom_server import FakeWeCom
from tests.support import AES, AGENT, CORP, TOKEN, make_app, post, wecom_config
from tests.wecom_peer import WeComPeer

SECRET = "decisions-secret"


def fake_wecom() -> FakeWeCom:
    """The fake WeCom of the card tests (a context manager: serving while inside)."""
    return FakeWeCom(CORP, SECRET, agent_id=int(AGENT))


def wecom_peer() -> WeComPeer:
    return WeComPeer(TOKEN, AES, CORP, AGENT)


@contextmanager
def card_app(db_url, tmp_path, fake: FakeWeCom, monkeypatch, load, now):
    """The app (with `.rt` and `.client`), its database filled by `load(session)`, its clock at `now`."""
    from bot.channels.wecom import callback

    # a loaded test machine can take longer than WeCom's 5 s for a first answer: these tests are about the
    # answer, not its timing, so the passive-reply budget is widened (tests/test_wecom_callback.py times it)
    monkeypatch.setattr(callback, "ANSWER_WITHIN", 60.0)
    app = make_app(db_url, tmp_path, **wecom_config(WECOM_SECRET=SECRET, WECOM_API_BASE=fake.base_url,
                                                    PASSIVE_REPLY_SECONDS=60.0))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load(s)
    rt.clock.set(now)
    app.rt, app.client = rt, app.test_client()
    try:
        yield app
    finally:
        rt.db.dispose()


def tap(bot, peer, fake, user, card, button, *, code=None, create_time=None):
    """A tap on `button` of `card` by `user`, in the shape WeCom posts it (template_card_event); the
    passive reply's text ("" for an empty 200)."""
    key = next(b["key"] for b in card["button_list"] if b["key"].endswith(":" + button))
    code = code or fake.issue_code(card["task_id"], [user])
    r = post(bot.client, peer.event(user, "template_card_event", key, create_time=create_time, extra={
        "TaskId": card["task_id"], "CardType": "button_interaction", "ResponseCode": code}))
    assert r.status_code == 200
    reply = peer.reply(r.data)
    return reply["Content"] if reply else ""


def cards_to(fake, user) -> list[dict]:
    """The template cards WeCom delivered to `user`, in order."""
    return [x["payload"]["template_card"] for x in fake.sent
            if x["kind"] == "app" and x["msgtype"] == "template_card" and x["touser"] == [user]]
