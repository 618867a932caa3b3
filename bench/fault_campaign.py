"""The reliability campaign of issue 11 (items 7–11), rerunnable against a scratch PostgreSQL and Redis.

    .venv/bin/python bench/fault_campaign.py POSTGRES_URL [--rounds N]

POSTGRES_URL must be a scratch database: its public schema is DROPPED and migrated from scratch. Redis is
a redis-server this script starts on a spare loopback port and stops itself (never the machine's 6379).
Each fault is run `--rounds` times (default 10) and counted; figures: docs/reliability.md.

1. the same person confirms a minutes draft on WeCom and on DingTalk at once (minutes saved: must be 1);
2. two liaisons ask for an extension of one item at once (pending requests: must be 1);
3. a leader signs one slip from two channels at once (slip rows: must be its row count);
4. 销号 and 退回重办 of one claimed item at once (changes applied: must be 1);
5. a worker process killed mid-handler, then WeCom's retry and the person's next message (both handled,
   no wait on a dead lock);
6. Redis stopped under load: 3 waves of 8 WeCom callbacks (fresh, fresh, ≥ 4 s late), no 500, every
   acknowledged message answered;
7. the fake WeCom API answering app messages after the HTTP timeout (delivered once each).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bot.actions.base import Acting  # noqa: E402
from bot.actions.closeout import do_claim_completion, do_close, do_return_for_redo  # noqa: E402
from bot.actions.extension import do_request_extension  # noqa: E402
from bot.actions.slip import do_sign_slip  # noqa: E402
from bot.core.messages import DUPLICATE, Incoming  # noqa: E402
from bot.delivery import outbox  # noqa: E402
from bot.delivery.sender import UNKNOWN_APP_BACKOFF, Sender  # noqa: E402
from bot.domain.ledger import TransitionError  # noqa: E402
from bot.infra.db import Database, upgrade  # noqa: E402
from bot.tools.fakes.wecom_server import FakeWeCom  # noqa: E402
from models import (  # noqa: E402
    EXT_PENDING,
    SLIP_PENDING,
    AssignmentSlip,
    AuditLog,
    ExtensionRequest,
    InboxMessage,
    Matter,
    Minutes,
    Notice,
    Person,
    utcnow,
)
from tests import factories as f  # noqa: E402
from tests.factories import at  # noqa: E402
from tests.support import AES, AGENT, CORP, SEED_FILE, TOKEN, make_app, wecom_config  # noqa: E402
from tests.threads import at_once  # noqa: E402
from tests.wecom_peer import WeComPeer  # noqa: E402

NOW = at(2026, 12, 10, 10)
HAPPY = ["录入纪要", "2", "〔2026〕12号", "关于重点项目建设的专题调度会议纪要", "11月20日", "发展和改革局",
         "推进石化科创小镇征迁扫尾", "住建局", "12月31日", "同上", "协调国道G228改线用地", "自然资源", "月底", "无",
         "完成"]


def fresh(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def minutes_twice(url, tmp, redis_url) -> bool:
    fresh(url)
    app = make_app(url, Path(tmp), REDIS_URL=redis_url or "")
    rt = app.extensions["bot"]
    from bot.actions.seed import load_seed
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
        s.scalar(select(Person).where(Person.wecom_userid == "linyongyong")).dingtalk_userid = "dt-lin"
    rt.clock.set(at(2026, 11, 23))
    for says in HAPPY:
        rt.handle_text("wecom", "linyongyong", says)
    at_once([lambda: rt.handle_text("wecom", "linyongyong", "确认"),
             lambda: rt.handle_text("dingtalk", "dt-lin", "确认")])
    ok = count(rt.db, Minutes) == 1
    rt.db.dispose()
    return ok


def small(url):
    fresh(url)
    db = Database(url)
    with db.session() as s:
        o = f.small_org(s)
        m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
        ua2 = f.person(s, "发改副联络员", "ua2", o.fagai)
        ids = dict(m=m.id, ua=o.ua.id, ua2=ua2.id, ol1=o.ol1.id, admin=o.admin.id, leader=o.leader1.id,
                   fagai=o.fagai.id)
    return db, ids


def attempt(db, fn):
    def go():
        with db.session() as s:
            try:
                fn(s)
                return "ok"
            except TransitionError as exc:
                return exc.code
    return go


def extension_twice(url, tmp, _redis) -> bool:
    db, ids = small(url)
    ask = lambda who, day: attempt(db, lambda s: do_request_extension(  # noqa: E731
        Acting(s, s.get(Person, ids[who]), NOW), s.get(Matter, ids["m"]), date(2027, 1, day), "资金"))
    at_once([ask("ua", 10), ask("ua2", 20)])
    ok = count(db, ExtensionRequest, ExtensionRequest.state == EXT_PENDING) == 1
    db.dispose()
    return ok


def slip_twice(url, tmp, _redis) -> bool:
    db, ids = small(url)
    with db.session() as s:
        slip = AssignmentSlip(code="JB1", leader_id=ids["leader"], dispatched_on=date(2026, 12, 1),
                              drafted_by_id=ids["ua"], state=SLIP_PENDING, created_at=NOW,
                              draft={"rows": [{"title": "征迁", "obstacles": "资金", "measures": "协调",
                                               "responsible_unit": {"id": ids["fagai"]}, "deadline": "2026-12-30"}]})
        s.add(slip)
        s.flush()
        sid = slip.id
    sign = attempt(db, lambda s: do_sign_slip(Acting(s, s.get(Person, ids["leader"]), NOW), s.get(AssignmentSlip, sid)))
    at_once([sign, sign])
    ok = count(db, Matter, Matter.slip_id == sid) == 1
    db.dispose()
    return ok


def close_and_return(url, tmp, _redis) -> bool:
    db, ids = small(url)
    with db.session() as s:
        do_claim_completion(Acting(s, s.get(Person, ids["ua"]), NOW), s.get(Matter, ids["m"]), "已完成")
    close = attempt(db, lambda s: do_close(Acting(s, s.get(Person, ids["ol1"]), NOW), s.get(Matter, ids["m"]), "核实"))
    back = attempt(db, lambda s: do_return_for_redo(Acting(s, s.get(Person, ids["admin"]), NOW),
                                                    s.get(Matter, ids["m"]), "材料不全"))
    at_once([close, back])
    ok = count(db, AuditLog, AuditLog.action.in_(("closed", "returned"))) == 1
    db.dispose()
    return ok


CHILD = r"""
import sys, time
from datetime import datetime, timezone
from tests.support import make_app
from bot.core.messages import Incoming
rt = make_app(sys.argv[1], __import__("pathlib").Path(sys.argv[2])).extensions["bot"]
def stuck(ctx):
    open(sys.argv[3], "w").close()
    time.sleep(600)
rt.router.route = stuck
rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-killed", created_at=datetime.now(timezone.utc), text="x"))
"""


def killed_worker(url, tmp, _redis) -> bool:
    db, _ = small(url)
    db.dispose()
    flag = Path(tmp) / f"flag-{time.monotonic_ns()}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp), str(flag)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    while not flag.exists() and child.poll() is None:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    rt = make_app(url, Path(tmp)).extensions["bot"]
    rt.router.route = lambda ctx: None
    t0 = time.monotonic()
    a = rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-killed", created_at=NOW, text="x"))
    b = rt.dispatch(Incoming(channel="wecom", user_id="ua", msg_id="m-next", created_at=NOW, text="x"))
    ok = a is not DUPLICATE and b is not DUPLICATE and time.monotonic() - t0 < 5
    rt.db.dispose()
    return ok


def redis_stopped(url, tmp, _redis) -> bool:
    fresh(url)
    port = 20000 + os.getpid() % 20000
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    app = make_app(url, Path(tmp), **wecom_config(REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        s.add_all([Person(name=f"用户{i}", wecom_userid=f"u{i}") for i in range(8)])
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    clients = [app.test_client() for _ in range(8)]

    def wave(late):
        calls = []
        for i, c in enumerate(clients):
            ts = str(int(time.time()) - (6 if late else 0))
            url_, body = peer.envelope(peer.text_xml(f"u{i}", "帮助"), timestamp=ts)
            calls.append(lambda c=c, u=url_, b=body: c.post(u, data=b, content_type="text/xml").status_code)
        return at_once(calls, timeout=60)

    try:
        statuses = wave(False)
        proc.terminate()
        proc.wait()
        statuses += wave(False) + wave(True)
        deadline = time.monotonic() + 60
        while count(rt.db, InboxMessage) and time.monotonic() < deadline:
            time.sleep(0.2)
        ok = 500 not in statuses and count(rt.db, InboxMessage) == 0 and count(rt.db, Notice) >= 8
    finally:
        if proc.poll() is None:
            proc.terminate()
        rt.db.dispose()
    return ok


def slow_api(url, tmp, _redis) -> bool:
    fresh(url)
    with FakeWeCom("wwcamp", "camp-secret", set(), agent_id=1000002) as fake:
        rt = make_app(url, Path(tmp), WECOM_CORP_ID="wwcamp", WECOM_SECRET="camp-secret", WECOM_AGENT_ID="1000002",
                      WECOM_API_BASE=fake.base_url, HTTP_TIMEOUT_SECONDS=2.0).extensions["bot"]
        with rt.db.session() as s:
            outbox.enqueue(s, target_kind="user", target="zhangsan", msgtype="text",
                           payload={"content": "请报送进展。"})
        fake.fail_next(1, hang=4, path="/cgi-bin/message/send")
        sender = Sender(rt)
        sender.run_once()  # times out at 2 s; WeCom delivers at 4 s
        time.sleep(3)
        sender.now = lambda: utcnow() + timedelta(seconds=UNKNOWN_APP_BACKOFF + 1)
        sender.run_once()  # the resend, with the duplicate check
        with rt.db.session() as s:
            sent = s.scalar(select(func.count()).select_from(Notice).where(Notice.state == "sent"))
        ok = len(fake.sent) == 1 and sent == 1
        rt.db.dispose()
    return ok


FAULTS = [("minutes confirmed on two channels at once (database drafts)", minutes_twice, False),
          ("minutes confirmed on two channels at once (Redis drafts)", minutes_twice, True),
          ("two extension requests at once", extension_twice, False),
          ("one slip signed twice at once", slip_twice, False),
          ("销号 and 退回重办 at once", close_and_return, False),
          ("worker killed mid-handler, then the retry", killed_worker, False),
          ("Redis stopped under load (24 callbacks)", redis_stopped, False),
          ("WeCom answering a send after the HTTP timeout", slow_api, False)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="a SCRATCH PostgreSQL URL (its schema is dropped)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"), help="a scratch Redis for the drafts case")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    failed = 0
    for name, fn, needs_redis in FAULTS:
        if needs_redis and not args.redis:
            print(f"{name}: skipped (no --redis)")
            continue
        t0 = time.monotonic()
        good = sum(bool(fn(args.url, tmp, args.redis if needs_redis else None)) for _ in range(args.rounds))
        failed += args.rounds - good
        print(f"{name}: {good}/{args.rounds} held  ({time.monotonic() - t0:.1f} s)", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
