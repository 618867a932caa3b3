"""The web board through Flask's test client: each role's view of the same ledger, the login paths
(看板 link, WeCom OAuth2 against the fake server, DingTalk 免登), and the refusals."""
from __future__ import annotations

import io
import re
import time
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer
from openpyxl import load_workbook

from bot.actions.status import progress_summary
from bot.domain.roles import roles_of
from bot.tools.fakes import dingtalk_server, wecom_server
from bot.web.board import secret_key
from bot.web.board.auth import LINK_SALT
from tests import factories as f
from tests.support import make_app

NOW = f.at(2026, 12, 1, 10)


@pytest.fixture
def org(runtime):
    runtime.clock.set(NOW)
    with runtime.db.session() as s:
        o = f.small_org(s)
        mn = f.minutes(s, o.leader1, o.fagai, row=o.row1, number="〔2026〕1号", title="经济运行调度会")
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 11, 20), title="发改局逾期事项", minutes_obj=mn)
        f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 30), title="科技局正常事项", minutes_obj=mn)
        f.matter(s, "M3", o.jiaoyu, o.leader2, date(2026, 12, 3), title="教育局临期事项")
        f.matter(s, "M4", o.fagai, o.leader2, date(2026, 12, 31), title="发改局另一事项", state="closed")
        f.report(s, o.fagai, o.ua, "2026-11-20", f.at(2026, 11, 19, 10), [(s.get(f.Matter, 1), "open", "推进中")])
        ids = {k: getattr(o, k).wecom_userid for k in ("member", "leader1", "leader2", "ua", "ub", "ol1", "admin")}
    return ids


def login(client, runtime, userid: str, channel: str = "wecom"):
    reply = runtime.handle_text(channel, userid, "看板")
    url = re.search(r"https?://\S+", reply.text).group(0)
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.get("/" + path), "/" + path


def codes(html: str) -> set[str]:
    return set(re.findall(r'href="/board/item/(M\d+)"', html))


VIEWS = {"member": {"M1", "M2", "M3", "M4"}, "admin": {"M1", "M2", "M3", "M4"}, "leader1": {"M1", "M2"},
         "leader2": {"M3", "M4"}, "ol1": {"M1", "M2"}, "ua": {"M1", "M4"}, "ub": {"M3"}}


@pytest.mark.parametrize("who", sorted(VIEWS))
def test_each_role_sees_its_scope_on_every_page(app, runtime, client, org, who):
    resp, _ = login(client, runtime, org[who])
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/board/"
    page = client.get("/board/").get_data(as_text=True)
    assert codes(page) == VIEWS[who]
    for code in ("M1", "M2", "M3", "M4"):
        status = client.get(f"/board/item/{code}").status_code
        assert status == (200 if code in VIEWS[who] else 404), (who, code)
    xlsx = client.get("/board/download/ledger")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    xlsx.headers["Content-Disposition"].encode("latin-1")  # a header a real server can send
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert {r[0] for r in ws.iter_rows(min_row=2, values_only=True)} == VIEWS[who]


def test_counts_are_those_of_the_chat_command(app, runtime, client, org):
    login(client, runtime, org["member"])
    page = client.get("/board/").get_data(as_text=True)
    with runtime.db.session() as s:
        from models import Person
        p = progress_summary(s, roles_of(s, s.query(Person).filter_by(wecom_userid=org["member"]).one()), NOW)
    assert (p.counts["red"], p.counts["yellow"], p.closed) == (1, 2, 1)  # M2: no progress last period
    counts = re.findall(r"<b>(\d+)</b><span>([^<]+)</span>", page)
    assert ("1", "红灯·逾期") in counts and ("2", "黄灯") in counts and ("4", "事项总数") in counts
    chat = runtime.handle_text("wecom", org["member"], "进度").text
    assert "🔴逾期 1 · 🟡预警 2" in chat and "已销号 1 项" in chat


def test_filters_search_sort_and_paging_stay_in_the_url(app, runtime, client, org):
    login(client, runtime, org["member"])
    assert codes(client.get("/board/?light=red").get_data(as_text=True)) == {"M1"}
    assert codes(client.get("/board/?overdue=1").get_data(as_text=True)) == {"M1"}
    assert codes(client.get("/board/?state=closed").get_data(as_text=True)) == {"M4"}
    assert codes(client.get("/board/?q=科技").get_data(as_text=True)) == {"M2"}
    assert codes(client.get("/board/?light=yellow").get_data(as_text=True)) == {"M2", "M3"}  # the SQL twin agrees
    assert codes(client.get("/board/?light=green").get_data(as_text=True)) == set()
    page = client.get("/board/?sort=-deadline").get_data(as_text=True)
    assert re.findall(r'href="/board/item/(M\d+)"', page)[::2] == ["M4", "M2", "M3", "M1"]
    page = client.get("/board/?light=bogus&page=x&sort=nope").get_data(as_text=True)  # ignored, not an error
    assert codes(page) == VIEWS["member"]
    assert 'value="2026-11-20" selected' in client.get("/board/?period=2026-11-20").get_data(as_text=True)


def test_item_page_shows_reports_history_and_escalation_by_name(app, runtime, client, org):
    from bot.actions.base import Acting
    from bot.actions.escalation import do_raise_escalation
    from bot.actions.extension import do_request_extension
    from models import Matter, Person

    with runtime.db.session() as s:
        m = s.query(Matter).filter_by(code="M1").one()
        ua = s.query(Person).filter_by(wecom_userid=org["ua"]).one()
        do_raise_escalation(Acting(s, "system", NOW), m, 3)
        do_request_extension(Acting(s, ua, NOW), m, date(2027, 1, 15), "征迁未完成")
    login(client, runtime, org["ua"])
    page = client.get("/board/item/M1").get_data(as_text=True)
    assert "久拖不办" in page and "征迁未完成" in page and "推进中" in page and "经济运行调度会" in page
    assert client.get("/board/").get_data(as_text=True).count("久拖不办") == 1


def test_compliance_page_lists_on_time_late_and_missing(app, runtime, client, org):
    login(client, runtime, org["member"])
    page = client.get("/board/compliance?month=2026-11").get_data(as_text=True)
    assert "data-chart=" in page and "chart.umd.min.js" in page
    block = page.split("2026年11月20日")[1]
    assert "区发改局" in block.split("逾期报送")[0]  # on time for the 20th
    assert "区科技局" in block.split("未报送")[1]


def test_reused_expired_forged_and_other_person_links_are_refused(app, runtime, client, org):
    resp, path = login(client, runtime, org["ua"])
    assert resp.status_code == 302
    other = app.test_client()
    assert other.get(path).status_code == 403  # used once already
    token = parse_qs(urlsplit(path).query)["t"][0]
    data = URLSafeTimedSerializer(secret_key(runtime.settings), salt=LINK_SALT).loads(token)
    forged = URLSafeTimedSerializer("not the key", salt=LINK_SALT).dumps({**data, "n": "x1"})
    assert other.get(f"/board/login/link?t={forged}").status_code == 403
    swapped = URLSafeTimedSerializer(secret_key(runtime.settings), salt=LINK_SALT).dumps(
        {**data, "u": org["member"], "n": "x2"})  # a link for ua carrying someone else's userid
    assert other.get(f"/board/login/link?t={swapped}").status_code == 403
    assert other.get("/board/").status_code == 302  # still not signed in
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert other.get(f"/board/login/link?t={tampered}").status_code == 403


def test_expired_link_and_expired_session(app, runtime, client, org, monkeypatch):
    reply = runtime.handle_text("wecom", org["ua"], "看板")
    path = "/" + re.search(r"https?://\S+", reply.text).group(0).split("://", 1)[1].split("/", 1)[1]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 6 * 60)
    assert client.get(path).status_code == 403
    monkeypatch.setattr(time, "time", real)
    assert client.get(path).status_code == 302
    assert client.get("/board/").status_code == 200
    monkeypatch.setattr(time, "time", lambda: real() + 9 * 3600)
    assert client.get("/board/").status_code == 302


def test_a_deactivated_person_loses_the_board_at_once(app, runtime, client, org):
    from models import Person

    login(client, runtime, org["ua"])
    assert client.get("/board/").status_code == 200
    with runtime.db.session() as s:
        s.query(Person).filter_by(wecom_userid=org["ua"]).one().active = False
    assert client.get("/board/").status_code == 403


def test_security_headers_and_cookie_flags(app, runtime, client, org):
    resp, _ = login(client, runtime, org["member"])
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/board" in cookie
    page = client.get("/board/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
    c = app.test_client()
    reply = runtime.handle_text("wecom", org["member"], "看板")
    path = "/" + re.search(r"https?://\S+", reply.text).group(0).split("://", 1)[1].split("/", 1)[1]
    assert "Secure" in c.get(path, base_url="https://board.example").headers["Set-Cookie"]


def test_a_secret_key_file_is_made_once_per_instance(tmp_path):
    from config.settings import Settings

    s = Settings.load({"INSTANCE_DIR": str(tmp_path)})
    k = secret_key(s)
    assert len(k) == 64 and secret_key(s) == k and (tmp_path / "board_secret_key").stat().st_mode & 0o077 == 0
    assert secret_key(Settings.load({"INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "given"})) == "given"


@pytest.fixture
def wecom_app(db_url, tmp_path):
    fake = wecom_server.FakeWeCom(corp_id="wwboard", secret="s3", agent_id=1000002)
    base = fake.start()
    app = make_app(db_url, tmp_path, WECOM_CORP_ID="wwboard", WECOM_SECRET="s3", WECOM_AGENT_ID="1000002",
                   WECOM_API_BASE=base, WECOM_OAUTH_BASE=base, BOARD_BASE_URL="http://board.test")
    yield app, fake
    app.extensions["bot"].db.dispose()
    fake.stop()


def _follow_oauth(app, fake, client, userid):
    wecom_server.set_oauth_user(fake, userid, trusted_domain="board.test")
    start = client.get("/board/login/wecom")
    assert start.status_code == 302
    target = urlsplit(start.headers["Location"])
    q = parse_qs(target.query)
    assert q["scope"] == ["snsapi_base"] and q["appid"] == ["wwboard"] and target.fragment == "wechat_redirect"
    back = fake.app.test_client().get(target.path + "?" + target.query)
    assert back.status_code == 302
    cb = urlsplit(back.headers["Location"])
    return client.get(cb.path + "?" + cb.query), cb


def test_wecom_oauth_login_against_the_fake_server(wecom_app):
    app, fake = wecom_app
    runtime = app.extensions["bot"]
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
        f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 20))
    client = app.test_client()
    resp, cb = _follow_oauth(app, fake, client, "ua")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).query == ""  # clean URL
    assert codes(client.get("/board/").get_data(as_text=True)) == {"M1"}
    # The code works once; a callback whose state was not issued to this browser is refused.
    assert app.test_client().get(cb.path + "?" + cb.query).status_code == 403
    assert client.get(cb.path + "?" + cb.query).status_code == 403
    unknown, _ = _follow_oauth(app, fake, app.test_client(), "stranger")
    assert unknown.status_code == 403


def test_dingtalk_auth_code_login_against_the_fake_server(db_url, tmp_path):
    with dingtalk_server.FakeDingTalk(app_key="dk", app_secret="ds") as fake:
        app = make_app(db_url, tmp_path, DINGTALK_APP_KEY="dk", DINGTALK_APP_SECRET="ds",
                       DINGTALK_API_BASE=fake.base_url, DINGTALK_OAPI_BASE=fake.base_url)
        runtime = app.extensions["bot"]
        with runtime.db.session() as s:
            o = f.small_org(s)
            o.ub.dingtalk_userid = "ding-ub"
            f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
            f.matter(s, "M2", o.jiaoyu, o.leader2, date(2026, 12, 20))
        client = app.test_client()
        assert client.get("/board/login/dingtalk").status_code == 200
        code = dingtalk_server.issue_auth_code(fake, "ding-ub")
        resp = client.get(f"/board/login/dingtalk?authCode={code}")
        assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).query == ""
        assert codes(client.get("/board/").get_data(as_text=True)) == {"M2"}
        assert app.test_client().get(f"/board/login/dingtalk?authCode={code}").status_code == 403  # single use
        app.extensions["bot"].db.dispose()


def test_not_signed_in_goes_to_the_login_page(client, org):
    for path in ("/board/", "/board/item/M1", "/board/download/ledger", "/board/compliance"):
        resp = client.get(path)
        assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/board/login"
    assert "看板" in client.get("/board/login").get_data(as_text=True)
