"""The org chart kept by the office in chat (issue 19), through the WeCom callback as 刘昭暄 (admin): a
unit's placeholder liaison replaced by mobile (found in the fake WeCom address book), refused without a
reason and accepted with one; the next reminder goes to the new liaison; `seed export` shows it; the
original YAML asks for a reason; 撤销; 通讯录; /metrics and the JSON log line of the callback."""
from __future__ import annotations

import io
import json
import logging

import pytest
import yaml
from sqlalchemy import select

from bot.tools.fakes.wecom_server import FakeWeCom, set_directory
from models import AuditLog, Notice, Person, Unit
from tests.jobs_helpers import at, build_december, notices, run_cli
from tests.support import AES, AGENT, CORP, SEED_FILE, TOKEN, make_app, wecom_config
from tests.wecom_peer import WeComPeer

ADMIN = "liuzhaoxuan"
NEW_MOBILE, NEW_USERID = "13912345678", "wangxiaoming"


@pytest.fixture
def office(db_url, tmp_path):
    with FakeWeCom(CORP, "s3cret", agent_id=int(AGENT)) as fake:
        set_directory(fake, {NEW_MOBILE: NEW_USERID})
        app = make_app(db_url, tmp_path, **wecom_config(WECOM_SECRET="s3cret", WECOM_API_BASE=fake.base_url))
        rt = app.extensions["bot"]
        from bot.actions.seed import load_seed

        with rt.db.session() as s:
            load_seed(s, SEED_FILE)
            d = build_december(s)
            # the issue's scenario: the shipped placeholders are still placeholders (build_december had
            # named its five liaisons in place, which an exported chart could not carry)
            for p in s.scalars(select(Person)):
                p.placeholder = p.wecom_userid.startswith("placeholder_") if p.wecom_userid else p.placeholder
            d.fagai_id, d.old_liaison = d.fagai.id, d.liaison["区发改局"].wecom_userid
        rt.clock.set(at(2026, 12, 2, 10))
        app.peer, app.client_, app.d, app.fake = WeComPeer(TOKEN, AES, CORP, AGENT), app.test_client(), d, fake
        yield app
        rt.db.dispose()


def say(app, text, user=ADMIN) -> str:
    return app.peer.say(app.client_, user, text)["Content"]


def test_replace_liaison_by_mobile_through_the_callback(office, tmp_path):
    app, rt = office, office.extensions["bot"]
    runner = app.test_cli_runner()
    refused = say(app, f"更换联络员 区发改局 {NEW_MOBILE} 王晓明")
    assert "无特殊情况不得更换" in refused and "原因" in refused
    with rt.db.session() as s:
        assert s.get(Unit, app.d.fagai_id).liaison.wecom_userid == app.d.old_liaison
        assert s.scalar(select(Person).where(Person.mobile == NEW_MOBILE)) is None  # nothing half-written

    done = say(app, f"更换联络员 区发改局 {NEW_MOBILE} 王晓明 原因：单位确定联络员人选")
    assert "王晓明" in done and "已告知" in done
    with rt.db.session() as s:
        unit = s.get(Unit, app.d.fagai_id)
        assert unit.liaison.name == "王晓明" and unit.liaison.wecom_userid == NEW_USERID
        assert unit.liaison.unit_id == unit.id
        row = s.scalar(select(AuditLog).where(AuditLog.action == "orgchart.liaison"))
        assert row.reason == "单位确定联络员人选" and row.actor == "刘昭暄"
        assert "王晓明" in row.after["liaison"] and "待指定" in row.before["liaison"]
        told = {n.target for n in s.scalars(select(Notice).where(Notice.kind == "notice"))
                if "联络员变更" in json.dumps(n.payload, ensure_ascii=False)}
        assert {unit.head.wecom_userid, NEW_USERID, "supervision"} <= told
        assert app.d.old_liaison not in told  # a placeholder is never written to

    # the next report reminder goes to the new liaison, not the old one
    run_cli(runner, "report_reminder", at(2026, 12, 4))  # Dec 5 (Sat) moves to Mon 7: reminded on Fri 4
    dm = {n.target for n in notices(rt, "report_reminder:u") if ":2026-12-04" in n.key}
    assert NEW_USERID in dm and app.d.old_liaison not in dm

    # seed export shows the change
    out = tmp_path / "export.yaml"
    result = runner.invoke(args=["seed", "export", "--to", str(out)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    fagai = next(u for u in data["units"] if u["name"] == "区发改局")
    assert fagai["liaison"] == NEW_USERID
    assert any(p.get("wecom_userid") == NEW_USERID and p["mobile"] == NEW_MOBILE for p in data["people"])
    # the export loads back into this database without changing anything
    result = runner.invoke(args=["seed", str(out)])
    assert result.exit_code == 0, result.output
    assert "change(s) written" not in result.output

    # re-importing the original file shows the difference and asks for a reason
    result = runner.invoke(args=["seed", str(SEED_FILE)])
    assert result.exit_code == 2
    assert "区发改局" in result.output and "--reason" in result.output
    assert f"'{NEW_USERID}' → 'placeholder_fagaiju'" in result.output
    with rt.db.session() as s:
        assert s.get(Unit, app.d.fagai_id).liaison.wecom_userid == NEW_USERID

    # 撤销 puts the placeholder back, audited as an undo
    assert "已撤销" in say(app, "撤销")
    with rt.db.session() as s:
        assert s.get(Unit, app.d.fagai_id).liaison.wecom_userid == app.d.old_liaison
        undo = s.scalar(select(AuditLog).where(AuditLog.action == "orgchart.undo"))
        assert undo.after["undoes"] == row.id


def test_only_admins_change_the_org_chart(office):
    app = office
    with app.extensions["bot"].db.session() as s:
        someone = s.get(Unit, app.d.fagai_id).head.wecom_userid
    assert "管理员" in say(app, f"更换联络员 区发改局 {NEW_MOBILE} 原因：x", user=someone)


def test_mobile_not_in_the_address_book(office):
    assert "通讯录中没有" in say(office, "更换联络员 区发改局 13700000000 张三 原因：调整")


def test_contacts_are_scoped(office):
    app = office
    everything = say(app, "通讯录")
    assert "督查联络库" in everything and "区发改局" in everything and "区教育局" in everything
    with app.extensions["bot"].db.session() as s:
        head = s.get(Unit, app.d.fagai_id).head
        head_id, head_name = head.wecom_userid, head.name
    own = say(app, "通讯录", user=head_id)
    assert "区发改局" in own and head_name in own and "区教育局" not in own


def test_metrics_move_and_json_log_carries_the_request_id(office, monkeypatch):
    app, rt = office, office.extensions["bot"]
    from bot.infra.observe import configure_logging

    stream = io.StringIO()
    handler = configure_logging("info", "json", stream)
    try:
        def scrape() -> str:
            r = app.client_.get("/metrics")
            assert r.status_code == 200 and r.mimetype == "text/plain"
            return r.get_data(as_text=True)

        def value(text: str, name: str, **labels) -> float:
            want = ",".join(f'{k}="{v}"' for k, v in labels.items())
            for line in text.splitlines():
                if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0 if want else 0.0

        before = scrape()
        say(app, "通讯录")
        say(app, f"更换联络员 区发改局 {NEW_MOBILE} 王晓明 原因：确定人选")
        run_cli(app.test_cli_runner(), "report_reminder", at(2026, 12, 4))  # a reminder day (Sat 5 → Mon 7)
        after = scrape()
    finally:
        logging.getLogger().removeHandler(handler)
    assert value(after, "bot_callbacks_total", channel="wecom", result="reply") == \
        value(before, "bot_callbacks_total", channel="wecom", result="reply") + 2
    assert value(after, "bot_reply_seconds_count", channel="wecom") >= \
        value(before, "bot_reply_seconds_count", channel="wecom") + 2
    assert value(after, "bot_job_notices_total", job="report_reminder") > \
        value(before, "bot_job_notices_total", job="report_reminder")
    assert value(after, "bot_outbox_notices", channel="wecom", state="pending") > 0

    lines = [json.loads(x) for x in stream.getvalue().splitlines() if x.startswith("{")]
    handled = [x for x in lines if x["message"].startswith("message on wecom")]
    assert len(handled) == 2 and all(x["request_id"] not in (None, "-") for x in handled)
    rid = handled[1]["request_id"]
    with rt.db.session() as s:
        queued = s.scalars(select(Notice).where(Notice.request_id == rid)).all()
    assert queued and any("联络员变更" in json.dumps(n.payload, ensure_ascii=False) for n in queued)
    assert NEW_MOBILE not in stream.getvalue() and "确定人选" not in stream.getvalue()  # no message text


def test_address_book_lookups_against_the_fakes():
    """Both platforms' user-by-mobile calls: found, and nobody with that mobile (None, not an error)."""
    from bot.channels.dingtalk.api import DingTalkClient
    from bot.channels.wecom.api import WeComClient
    from bot.infra.kv import MemoryKV
    from bot.tools.fakes import dingtalk_server

    with FakeWeCom("wwdir", "sec") as fake:
        set_directory(fake, {"13800000001": "zhangsan"})
        client = WeComClient(fake.base_url, "wwdir", "sec", 1, token_store=MemoryKV())
        assert client.userid_by_mobile("13800000001") == "zhangsan"
        assert client.userid_by_mobile("13800000002") is None
    with dingtalk_server.FakeDingTalk("key", "secret") as fake:
        dingtalk_server.set_directory(fake, {"13800000001": "0123456789"})
        client = DingTalkClient(fake.base_url, fake.base_url, "key", "secret", "key", token_store=MemoryKV())
        assert client.userid_by_mobile("13800000001") == "0123456789"
        assert client.userid_by_mobile("13800000002") is None
