"""CPU per message of the WeCom callback, in one process and one thread, against the floor in the same run.

    .venv/bin/python bench/profile_callback.py postgresql+psycopg://postgres@127.0.0.1:5432/bench_h8 \
        --redis-url redis://127.0.0.1:6379/9 [--rounds 5] [--profile help|report] [--top 30]

The PostgreSQL database given is WIPED (schema public dropped and re-created), and so is the Redis
database of --redis-url (FLUSHDB): use scratch ones.
It loads a synthetic org chart (tests/bulk_data.populate: --units units with three matters each, no
report for the 5 December period), then alternates rounds of

- floor: bench/echo_floor.py's Flask + wechatpy echo app;
- help: `帮助` from a unit liaison (one template, no write);
- report: a whole 填报 of a unit (`填报`, each answer — "step" — and `确认`, which writes the report and
  queues its notices), each message timed on its own,

all through Flask's test client with real signed, encrypted callbacks (tests/wecom_peer.py), so HTTP
parsing and sockets are left out for both. It prints the process CPU time per message (time.process_time:
it does not depend on how loaded the machine is — the database's and Redis's own CPU is not in it) as
medians over the rounds with min–max, and the ratio to the floor. `--profile KIND` runs cProfile over
that kind's messages of every round but the first (a warm-up: template compiles, caches) and prints the
top lines (by own time and by cumulative time).
The bot's clock is set to 2026-12-05 17:00 (the deadline surge).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bulk_data import pick_list  # noqa: E402
from tests.wecom_peer import WeComPeer  # noqa: E402

TOKEN, AES, CORP = "benchtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wwbenchcorp"
SURGE_AT = (2026, 12, 5, 17, 0)


def wipe(url: str) -> None:
    from sqlalchemy import create_engine, text

    if not url.startswith("postgresql"):
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def load_org(engine, units: int) -> None:
    """Units with three matters each (tests/bulk_data), and no report yet for the 5 December period. Each
    unit leads (牵头单位) one issued minutes holding its three matters, so its 填报 is one problem list and its
    `确认` goes the whole way: the ledger written, the claims announced, the list and its 附件3 workbook
    sent to the office liaisons of its row."""
    from datetime import date

    from sqlalchemy import text

    from tests.bulk_data import populate

    populate(engine, units, units * 3)
    with engine.begin() as conn:
        base = conn.scalar(text("SELECT coalesce(max(id), 0) FROM minutes"))
        conn.execute(text(
            "INSERT INTO minutes (id, title, leader_id, dispatch_row_id, meeting_date, drafting_unit_id, state, "
            "lead_unit_id, confidential, created_at) "
            "SELECT :base + u.id, '专题调度会' || u.id, r.leader_id, r.id, :day, u.id, 'issued', u.id, false, "
            "CURRENT_TIMESTAMP FROM unit u JOIN dispatch_row_unit ru ON ru.unit_id = u.id "
            "JOIN dispatch_row r ON r.id = ru.dispatch_row_id"), dict(base=base, day=date(2026, 11, 10)))
        conn.execute(text("UPDATE matter SET kind = 'minutes', minutes_id = :base + responsible_unit_id, "
                          "slip_id = NULL, seq = 1"), dict(base=base))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('minutes', 'id'), (SELECT max(id) FROM minutes))"))
        conn.execute(text("DELETE FROM report_item WHERE submission_id IN "
                          "(SELECT id FROM report_submission WHERE period_key = '2026-12-05')"))
        conn.execute(text("DELETE FROM report_submission WHERE period_key = '2026-12-05'"))
        conn.execute(text("UPDATE matter SET state = 'open', closed_at = NULL"))


def answer_for(reply: str, asked: list[int] | None = None) -> str | None:
    """What a unit liaison types next in a 填报 (None: the dialog is over). The items are answered 已完成,
    未完成, 已完成, … in turn (as bench/surge.py does): `asked` counts the status questions of the dialog."""
    if "已提交" in reply or "没有需要报送" in reply:
        return None
    if "请核对" in reply:
        return "确认"
    if pick_list(reply):
        return pick_list(reply)
    if "计划什么时候完成" in reply:
        return "下月15日"
    if "难点" in reply:
        return "剩余3户未签约，正在协调"
    if "完成情况" in reply:
        return "已按期完成，材料已归档"
    if "目前进展" in reply:
        return "征迁完成80%，正在推进"
    if "1. 已完成" in reply:
        if asked is None:
            return "2"
        asked[0] += 1
        return "1" if asked[0] % 2 else "2"
    raise SystemExit(f"unexpected reply in the 填报 dialog:\n{reply}")


class Inline:
    """An executor that runs the handler at once in the caller's thread (for the profile only)."""

    def submit(self, fn, *a, **k):
        from concurrent.futures import Future

        f = Future()
        try:
            f.set_result(fn(*a, **k))
        except BaseException as exc:  # noqa: BLE001 - handed back like a pool would
            f.set_exception(exc)
        return f


def inline_pool() -> None:
    from bot.channels.wecom import callback

    inline = Inline()
    callback.pool = lambda *_: inline


class Driver:
    """Signed callbacks into one Flask app; each call returns (cpu seconds, reply text)."""

    def __init__(self, app, peer: WeComPeer, msg_base: int):
        self.client = app.test_client()
        self.peer = peer
        self.msg_id = msg_base

    def say(self, user: str, text: str) -> tuple[float, str]:
        self.msg_id += 1
        url, body = self.peer.text(user, text, msg_id=self.msg_id)
        t0 = time.process_time()
        resp = self.client.post(url, data=body, headers={"Content-Type": "text/xml"})
        cpu = time.process_time() - t0
        reply = self.peer.reply(resp.data)
        return cpu, (reply or {}).get("Content", "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database_url")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=40, help="messages of help / floor, and 填报s, per round")
    ap.add_argument("--profile", choices=("help", "report", "start", "step", "confirm", "floor"), default=None)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--save-stats", default="", help="with --profile: also write the raw pstats to this file")
    ap.add_argument("--show-dialog", action="store_true", help="print the first 填报 dialog (to check the bench)")
    ap.add_argument("--only", default="", help="regular expression: print only the profile lines whose file "
                    "matches, e.g. 'bot/|handlers/' for the bot's own functions")
    args = ap.parse_args()

    os.environ.update(WECOM_TOKEN=TOKEN, WECOM_AES_KEY=AES, WECOM_CORP_ID=CORP)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bench import echo_floor
    from bot import create_app
    from bot.infra.db import upgrade

    wipe(args.database_url)
    if args.redis_url:  # drafts left by an interrupted run would answer this run's messages
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    upgrade(args.database_url)
    tmp = tempfile.mkdtemp(prefix="h8-profile-")
    app = create_app({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "INSTANCE_DIR": tmp,
                      "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES, "WECOM_CORP_ID": CORP,
                      "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "bench",
                      "WECOM_API_BASE": "http://127.0.0.1:9", "EMBEDDED_WORKERS": False})
    rt = app.extensions["bot"]
    load_org(rt.db.engine, args.units)
    rt.clock.set(datetime(*SURGE_AT, tzinfo=ZoneInfo("Asia/Shanghai")))
    peer = WeComPeer(TOKEN, AES, CORP)
    base = int(time.time() * 1000) * 1000
    bot = Driver(app, peer, base)
    floor = Driver(echo_floor.app, peer, base + 10**8)
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not wall
    if profiler is not None:
        inline_pool()  # cProfile sees one thread: the handler runs in the request's thread
    samples: dict[str, list[list[float]]] = {k: [] for k in ("floor", "help", "start", "step", "confirm")}
    next_unit = 0

    warm = [False]  # the first round only warms up (template compiles, caches): neither timed nor profiled

    def timed(kind: str, fn):
        if profiler is not None and args.profile == kind and warm[0]:
            profiler.enable()
            try:
                return fn()
            finally:
                profiler.disable()
        return fn()

    # warm up: imports, template compiles, pools
    for i in range(5):
        floor.say("u0", "帮助")
        bot.say(f"u{args.units - 1 - i}", "帮助")
    for r in range(args.rounds + 1):
        cur = {k: [] for k in samples}
        for _i in range(args.per_round):
            cur["floor"].append(timed("floor", lambda: floor.say("u0", "帮助"))[0])
        for i in range(args.per_round):
            cpu, text = timed("help", lambda i=i: bot.say(f"u{i % args.units}", "帮助"))
            assert "您好" in text, text
            cur["help"].append(cpu)
        for _ in range(max(1, args.per_round // 10)):
            user = f"u{next_unit % args.units}"
            next_unit += 1
            msg = "填报"
            kind = "start"
            asked = [0]
            while msg is not None:
                cpu, text = timed("report" if args.profile == "report" else kind, lambda u=user, m=msg: bot.say(u, m))
                if args.show_dialog and r == 0 and next_unit == 1:
                    print(f"> {msg}\n{text}\n")
                cur[kind].append(cpu)
                nxt = answer_for(text, asked)
                kind = "confirm" if nxt == "确认" else "step"
                msg = nxt
        if r == 0:
            warm[0] = True
            continue  # the first round warms the report path up
        for k, v in cur.items():
            if v:
                samples[k].append(v)

    def med(kind):
        per_round = [statistics.median(v) * 1000 for v in samples[kind]]
        return statistics.median(per_round), min(per_round), max(per_round), sum(len(v) for v in samples[kind])

    f_med = med("floor")[0]
    print(f"\nCPU per message, one process, {args.rounds} rounds (median of the rounds' medians, min–max), "
          f"database {args.database_url.split(':', 1)[0]}{', Redis' if args.redis_url else ''}\n")
    print("| message | n | CPU ms | min–max | × floor |")
    print("|---|---:|---:|---:|---:|")
    for kind, label in (("floor", "floor (Flask + wechatpy echo)"), ("help", "帮助"), ("start", "填报 (start)"),
                        ("step", "one step of the 填报 form"), ("confirm", "确认 of the 填报")):
        m, lo, hi, n = med(kind)
        print(f"| {label} | {n} | {m:.2f} | {lo:.2f}–{hi:.2f} | {m / f_med:.1f} |")
    if profiler is not None:
        if args.save_stats:
            profiler.dump_stats(args.save_stats)
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(key)
            stats.print_stats(*([args.only] if args.only else []), args.top)
            print(f"\n### profile of {args.profile} (CPU time), by {key}\n")
            for line in out.getvalue().splitlines():
                if line.strip():
                    print(re.sub(r"\S*/site-packages/", "", line.replace(str(ROOT) + "/", "")))


if __name__ == "__main__":
    main()
