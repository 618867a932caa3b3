"""DingTalk in-app 免登 in a real headless Chromium (Debian's chromium + chromium-driver, Selenium), end to end:
the login page loads the vendored dingtalk-jsapi (bot/web/board/static/dingtalk-jsapi.min.js) under the
board's CSP (self only), the JSAPI's own environment check finds DingTalk, `requestAuthCode` goes through
the JSAPI's iOS bridge to the container, the page comes back with the authCode, the server exchanges it
with the fake DingTalk server (bot/tools/fakes/dingtalk_server.py) and the ledger shows.

What is stubbed, and why: only what DingTalk's iOS client itself provides to a page — its user agent
("… iPhone … DingTalk/7.6.0 …", which the JSAPI's `getENV` reads) and the native bridge object
`window.WebViewJavascriptBridge` (`init`, `registerHandler`, `callHandler(name, params, callback)`, which the
JSAPI's `lib/bridge/h5Ios.js` calls). The test's bridge answers `runtime.permission.requestAuthCode` the way
the container does — `{errorCode: "0", result: {code}}` for the corp it is signed in to — with a code the
fake DingTalk server issued for the signed-in user (`issue_auth_code`), and `{errorCode: "3", errorMessage}`
for another corp. Everything above the bridge (environment check, API table, version check, callbacks) is the
vendored library's own code, unmodified. The stub is installed with CDP `Page.addScriptToEvaluateOnNewDocument`,
as the container injects its bridge before the page's scripts run (CSP does not apply to it, as it does not to
the container's)."""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
from datetime import date

import pytest

from bot.tools.fakes import dingtalk_server
from tests import factories as f
from tests.support import REQUIRE, make_app

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
CORP = "dingcorp0a1b2c3d"
IOS_DINGTALK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Mobile/15E148 AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/34012345 Channel/201200 "
                   "language/zh-Hans-CN UT4Aplus/0.0.6 WK")

BRIDGE = """
(function () {
  var CORP = %(corp)s, CODE = %(code)s;
  window.__bridgeCalls = [];
  window.WebViewJavascriptBridge = {
    init: function () {},
    registerHandler: function () {},
    callHandler: function (name, params, callback) {
      window.__bridgeCalls.push({name: name, params: JSON.parse(JSON.stringify(params || {}))});
      try {  // kept across the page's redirect, for the test to read
        var seen = JSON.parse(window.sessionStorage.getItem("bridgeCalls") || "[]");
        seen.push(window.__bridgeCalls[window.__bridgeCalls.length - 1]);
        window.sessionStorage.setItem("bridgeCalls", JSON.stringify(seen));
      } catch (e) {}
      setTimeout(function () {
        if (name !== "runtime.permission.requestAuthCode") {
          callback({errorCode: "1", errorMessage: "not supported by this test's container"});
        } else if (params.corpId !== CORP) {
          callback({errorCode: "3", errorMessage: "corpId 与当前登录组织不一致"});
        } else {
          callback({errorCode: "0", result: {code: CODE}});
        }
      }, 20);
    }
  };
})();
"""


@pytest.fixture
def dt_browser(sqlite_url, tmp_path):
    if not (CHROMIUM and DRIVER):
        if REQUIRE:
            pytest.fail("chromium / chromedriver missing but REQUIRE_SERVICES=1 "
                        "(apt-get install chromium chromium-driver)")
        pytest.skip("chromium not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from werkzeug.serving import make_server

    fake = dingtalk_server.FakeDingTalk(app_key="dk-board", app_secret="ds-board")
    fake_base = fake.start()
    app = make_app(sqlite_url, tmp_path, DINGTALK_APP_KEY="dk-board", DINGTALK_APP_SECRET="ds-board",
                   DINGTALK_API_BASE=fake_base, DINGTALK_OAPI_BASE=fake_base, DINGTALK_CORP_ID=CORP)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runtime = app.extensions["bot"]
    runtime.clock.set(f.at(2026, 12, 1, 10))
    with runtime.db.session() as s:
        o = f.small_org(s)
        o.ub.dingtalk_userid = "ding-ub"  # 教育联络员
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20), title="重点项目用地报批")
        f.matter(s, "M2", o.jiaoyu, o.leader2, date(2026, 12, 20), title="中小学扩容提质")
    profile = tempfile.mkdtemp(prefix="board-dt-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=390,844", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield {"driver": driver, "base": base, "fake": fake, "runtime": runtime}
    finally:
        driver.quit()
        server.shutdown()
        fake.stop()
        runtime.db.dispose()
        shutil.rmtree(profile, ignore_errors=True)


def _inside_dingtalk(driver, code: str, corp: str = CORP) -> None:
    """Make the browser the DingTalk iOS container: its user agent and its native bridge."""
    driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {"userAgent": IOS_DINGTALK_UA})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": BRIDGE % {"corp": json.dumps(corp), "code": json.dumps(code)}})


def _codes(driver):
    from selenium.webdriver.common.by import By

    return sorted(a.text for a in driver.find_elements(By.CSS_SELECTOR, "#ledger td[data-label='编号'] a"))


def _state(driver, wanted: str, timeout: float = 10) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.ID, "login").get_attribute("data-dingtalk-state") == wanted)
    return driver.find_element(By.ID, wanted).text


def test_inside_dingtalk_the_page_gets_an_auth_code_and_the_ledger_shows(dt_browser):
    from selenium.webdriver.support.ui import WebDriverWait

    d, base, fake = dt_browser["driver"], dt_browser["base"], dt_browser["fake"]
    code = dingtalk_server.issue_auth_code(fake, "ding-ub")  # the user signed in to the DingTalk client
    _inside_dingtalk(d, code)
    d.get(base + "/board/login/dingtalk")
    WebDriverWait(d, 15).until(lambda x: x.current_url == base + "/board/")
    assert _codes(d) == ["M2"]  # 教育联络员 sees 教育局's item only
    assert "教育联络员" in d.find_element("css selector", "header .who").text
    calls = json.loads(d.execute_script("return window.sessionStorage.getItem('bridgeCalls')"))
    assert [c["name"] for c in calls] == ["runtime.permission.requestAuthCode"]
    assert calls[0]["params"]["corpId"] == CORP  # DINGTALK_CORP_ID, from the page's data attribute
    assert not getattr(fake, "_auth_codes", {})  # exchanged at the fake server (and single-use)
    assert "authCode" not in d.current_url


def test_the_login_page_loads_only_its_own_scripts_under_the_csp(dt_browser):
    from selenium.webdriver.common.by import By

    d, base = dt_browser["driver"], dt_browser["base"]
    d.get(base + "/board/login/dingtalk")
    srcs = [s.get_attribute("src") for s in d.find_elements(By.TAG_NAME, "script")]
    assert srcs == [base + "/board/static/dingtalk-jsapi.min.js", base + "/board/static/board.js"]
    assert d.execute_script("return typeof window.dd.runtime.permission.requestAuthCode") == "function"
    assert d.execute_script("return window.dd.env.platform") == "notInDingTalk"
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert errors == [], errors  # no CSP violation, no script error


def test_outside_dingtalk_the_page_says_so_in_chinese(dt_browser):
    d, base = dt_browser["driver"], dt_browser["base"]
    d.get(base + "/board/login/dingtalk")
    text = _state(d, "dingtalk-outside")
    assert "不在钉钉客户端中打开" in text and "看板" in text
    assert d.current_url == base + "/board/login/dingtalk"


def test_a_refusal_by_the_client_is_shown_and_nothing_is_exchanged(dt_browser):
    d, base, fake = dt_browser["driver"], dt_browser["base"], dt_browser["fake"]
    code = dingtalk_server.issue_auth_code(fake, "ding-ub")
    _inside_dingtalk(d, code, corp="dingsomeothercorp")  # the client is signed in to another organisation
    d.get(base + "/board/login/dingtalk")
    text = _state(d, "dingtalk-failed")
    assert "钉钉免登未成功" in text and "corpId 与当前登录组织不一致" in text
    calls = d.execute_script("return window.__bridgeCalls")
    assert [c["name"] for c in calls] == ["runtime.permission.requestAuthCode"]
    assert calls[0]["params"]["corpId"] == CORP  # the page asked for the configured corp
    assert code in fake._auth_codes  # never exchanged
