"""The board in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): log in
through the 看板 link and through WeCom OAuth against the fake server, filter the ledger, open an item,
download the ledger and open it back, see the compliance chart drawn.

With BOARD_SCREENSHOTS=<dir> the main pages are also saved there at 390 px and 1280 px wide
(docs/board/*.png were made so)."""
from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import factories as f
from tests.support import REQUIRE, make_app

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NOW = f.at(2026, 12, 1, 10)


@pytest.fixture
def browser_env(sqlite_url, tmp_path):
    if not (CHROMIUM and DRIVER):
        if REQUIRE:
            pytest.fail("chromium / chromedriver missing but REQUIRE_SERVICES=1 (apt-get install chromium chromium-driver)")
        pytest.skip("chromium not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from werkzeug.serving import make_server

    from bot.tools.fakes.wecom_server import FakeWeCom

    fake = FakeWeCom(corp_id="wwboard", secret="s3", agent_id=1000002)
    fake_base = fake.start()
    app = make_app(sqlite_url, tmp_path, WECOM_CORP_ID="wwboard", WECOM_SECRET="s3", WECOM_AGENT_ID="1000002",
                   WECOM_API_BASE=fake_base, WECOM_OAUTH_BASE=fake_base)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.extensions["bot"].settings = app.extensions["bot"].settings.model_copy(update={"BOARD_BASE_URL": base})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runtime = app.extensions["bot"]
    runtime.clock.set(NOW)
    with runtime.db.session() as s:
        o = f.small_org(s)
        mn = f.minutes(s, o.leader1, o.fagai, row=o.row1, number="泉港调度〔2026〕12号", title="经济运行调度会")
        titles = ["重点项目用地报批", "规上企业培育", "专项债券项目申报", "科技创新平台建设", "中小学扩容提质",
                  "营商环境评估整改", "高新技术企业认定", "校舍安全排查"]
        units = [o.fagai, o.fagai, o.fagai, o.keji, o.jiaoyu, o.fagai, o.keji, o.jiaoyu]
        leaders = [o.leader1, o.leader1, o.leader1, o.leader1, o.leader2, o.leader1, o.leader1, o.leader2]
        deadlines = [date(2026, 11, 20), date(2026, 12, 3), date(2026, 12, 30), date(2026, 11, 28),
                     date(2027, 1, 15), date(2026, 12, 25), date(2027, 2, 1), date(2026, 12, 2)]
        ms = []
        for i, (t, u, ld, dl) in enumerate(zip(titles, units, leaders, deadlines), start=1):
            ms.append(f.matter(s, f"M{i}", u, ld, dl, title=t, minutes_obj=mn if ld is o.leader1 else None,
                               last_progress="已完成初步方案，正在征求意见" if i % 2 else None,
                               last_progress_at=f.at(2026, 11, 19) if i % 2 else None))
        f.report(s, o.fagai, o.ua, "2026-11-05", f.at(2026, 11, 5, 17), [(ms[0], "open", "推进中")])
        f.report(s, o.fagai, o.ua, "2026-11-20", f.at(2026, 11, 19, 10), [(ms[0], "open", "用地预审已报市局")])
        f.report(s, o.keji, o.uk, "2026-11-20", f.at(2026, 11, 21, 9), [(ms[3], "open", "平台选址完成")])
        from bot.actions.base import Acting
        from bot.actions.escalation import do_raise_escalation

        do_raise_escalation(Acting(s, "system", NOW), ms[0], 3)
    downloads = Path(tempfile.mkdtemp(prefix="board-dl-"))
    profile = tempfile.mkdtemp(prefix="board-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield {"driver": driver, "base": base, "runtime": runtime, "fake": fake, "downloads": downloads, "o": o}
    finally:
        driver.quit()
        server.shutdown()
        fake.stop()
        runtime.db.dispose()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)


def _link(runtime, userid):
    return re.search(r"https?://\S+", runtime.handle_text("wecom", userid, "看板").text).group(0)


def _codes(driver):
    from selenium.webdriver.common.by import By

    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#ledger td[data-label='编号'] a")]


def _shots(driver, name):
    target = os.environ.get("BOARD_SCREENSHOTS")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    for width, label in ((390, "mobile"), (1280, "desktop")):
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 600), 2400))
        time.sleep(0.2)
        driver.save_screenshot(str(Path(target) / f"{name}-{label}.png"))
    driver.set_window_size(1280, 900)


def test_link_login_filter_item_download_and_chart(browser_env):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d, base, runtime = browser_env["driver"], browser_env["base"], browser_env["runtime"]
    d.get(_link(runtime, "wujinming"))
    assert d.current_url == base + "/board/"  # no token left in the address bar
    assert sorted(_codes(d)) == [f"M{i}" for i in range(1, 9)]
    _shots(d, "ledger")
    Select(d.find_element(By.NAME, "light")).select_by_value("red")  # submits itself (board.js)
    WebDriverWait(d, 10).until(lambda x: "light=red" in x.current_url)
    assert sorted(_codes(d)) == ["M1", "M4"]
    d.find_element(By.LINK_TEXT, "M1").click()
    WebDriverWait(d, 10).until(lambda x: x.current_url.endswith("/board/item/M1"))
    page = d.find_element(By.TAG_NAME, "main").text
    assert "久拖不办" in page and "用地预审已报市局" in page and "经济运行调度会" in page
    _shots(d, "item")
    d.get(base + "/board/compliance?month=2026-11")
    canvas = d.find_element(By.ID, "compliance-chart")
    WebDriverWait(d, 10).until(lambda x: canvas.get_attribute("data-drawn") == "1")
    painted = d.execute_script(
        "var c = arguments[0], g = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;"
        "for (var i = 3; i < g.length; i += 4) { if (g[i]) n++; } return n;", canvas)
    assert painted > 500
    _shots(d, "compliance")
    d.get(base + "/board/projects")
    _shots(d, "projects")
    d.get(base + "/board/downloads")
    d.find_element(By.ID, "dl-ledger").click()
    folder = browser_env["downloads"]
    WebDriverWait(d, 20).until(lambda x: [p for p in folder.iterdir() if p.suffix == ".xlsx"])
    xlsx = next(p for p in folder.iterdir() if p.suffix == ".xlsx")
    ws = load_workbook(io.BytesIO(xlsx.read_bytes())).active
    assert ws["A1"].value == "编号" and sorted(r[0] for r in ws.iter_rows(min_row=2, values_only=True)) == \
        sorted(f"M{i}" for i in range(1, 9))


def test_wecom_oauth_login_in_the_browser_and_a_unit_liaison_scope(browser_env):
    from selenium.webdriver.common.by import By

    from bot.tools.fakes.wecom_server import set_oauth_user

    d, base = browser_env["driver"], browser_env["base"]
    set_oauth_user(browser_env["fake"], "uk")  # 科技联络员 is the one "signed in to WeCom"
    d.get(base + "/board/login")
    d.find_element(By.ID, "wecom-login").click()
    # A browser keeps the authorize URL's #wechat_redirect fragment across redirects: no code, no state left.
    assert d.current_url.split("#")[0] == base + "/board/"
    assert sorted(_codes(d)) == ["M4", "M7"]
    d.get(base + "/board/item/M1")  # another unit's item, by URL
    assert "未找到" in d.find_element(By.TAG_NAME, "main").text
