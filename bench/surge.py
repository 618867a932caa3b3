"""The deadline surge: on the 5th at 17:00 the liaisons of --units units each run a ten-step 填报 at once.

    .venv/bin/python bench/surge.py postgresql+psycopg://postgres@127.0.0.1:5432/SCRATCH \
        --redis-url redis://127.0.0.1:6379/9 --units 5000 --think 20
    .venv/bin/python bench/surge.py … --knee 4,8,16,32,64      # closed loop, no think time: p99 per level
    .venv/bin/python bench/surge.py --serve --units 60 --think 5 --ramp 20   # the embedded `serve` (SQLite)

The database given is WIPED (PostgreSQL: schema public dropped and re-created): use a scratch one. It
loads a synthetic district (tests/bulk_data.populate: --units units, three matters each, no report yet
for the 5 December period) and starts gunicorn (gunicorn.conf.py, --workers × --threads) whose bot clock
reads 2026-12-05 17:00 when the surge starts. Each unit's liaison (u0…) then runs a 填报: `填报`, for
matters 1 and 3 已完成 + 完成情况, for matter 2 未完成 + 进展 + 计划完成时间 + 难点, and `确认` — ten messages —
starting within --ramp seconds of 17:00 and thinking --think seconds (uniform 0.5–1.5×) before each
answer. The client plays WeCom: a new connection per callback, a signed and encrypted body, and when no
answer came within 5 s it gives up and sends the same message again (WeCom's retry), at most three
times. An empty 200 means the answer goes through the outbox: the client then reads it there (what the
person sees as an app message) before answering it.

With --serve the embedded process (bench/serve_at.py: `serve` with the same clock) is measured after its
start-up and its scheduler's catch-up (the jobs due since the last run, the monthly report of November
among them, which runs in a child process: bot.jobs.child) and again after the surge: RSS, and which
heavy libraries' shared objects are mapped into it.

At --job-at (a share of the messages sent) the 18:00 超期未报 job (report_overdue, as of 18:01) runs in
this process against the same database while the surge goes on, and is timed. At the end it checks that
every unit that confirmed has exactly one report of the period, that every message was answered (a
passive reply or an outbox reply), and prints the latencies, the retries, the throughput per core and
the workers' RSS (and with --serve the embedded process's).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.profile_callback import AES, CORP, TOKEN, load_org, wipe  # noqa: E402
from bench.wecom_load import free_port, group_cpu, start_server  # noqa: E402
from tests.bulk_data import pick_list  # noqa: E402
from tests.wecom_peer import WeComPeer  # noqa: E402

SURGE_AT = "2026-12-05T17:00:00+08:00"
WECOM_TIMEOUT = 5.0  # WeCom gives up on a callback after 5 s and sends it again
WECOM_RETRIES = 3


def make_app():
    """gunicorn's app for the surge: the bot, its clock at SURGE_START (env) + the time since the start."""
    from datetime import datetime, timedelta

    from bot import create_app

    app = create_app()
    rt = app.extensions["bot"]
    start = datetime.fromisoformat(os.environ.get("SURGE_START", SURGE_AT))
    wall0 = time.time()

    class Shifted:
        tz = rt.clock.tz

        def now(self):
            return (start + timedelta(seconds=time.time() - wall0)).astimezone(self.tz)

        def set(self, moment):  # not used while the surge runs
            raise RuntimeError("the surge's clock cannot be set")

    rt.clock = Shifted()
    return app


class Stats:
    def __init__(self):
        self.lat: dict[str, list[float]] = {"start": [], "step": [], "confirm": []}
        self.sent = self.passive = self.late = self.retries = self.timeouts = self.errors = 0
        self.unanswered: list[str] = []
        self.confirmed = 0
        self.over_1s = 0


def answer_for(reply: str, status_answers: int) -> tuple[str | None, int]:
    """The liaison's next message (None: done): matters 1 and 3 已完成, matter 2 未完成."""
    if "已提交" in reply or "没有需要报送" in reply:
        return None, status_answers
    if "请核对" in reply:
        return "确认", status_answers
    if pick_list(reply):
        return pick_list(reply), status_answers
    if "1. 已完成" in reply:
        return ("1" if status_answers % 2 == 0 else "2"), status_answers + 1
    for marker, text in (("计划什么时候完成", "下月15日"), ("难点", "剩余3户未签约，正在协调"),
                         ("完成情况", "已按期完成，材料已归档"), ("目前进展", "征迁完成80%，正在推进")):
        if marker in reply:
            return text, status_answers
    raise RuntimeError(f"unexpected reply: {reply[:200]}")


async def post(port: int, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """One callback on a new connection (as WeCom does); raises asyncio.TimeoutError past `timeout`."""
    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write((f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), rest
    return await asyncio.wait_for(go(), timeout)


class Outbox:
    """Reads the late answer of a message from the outbox (what the person sees as an app message)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.engine = create_engine(url, pool_size=4, max_overflow=0)

    def reply(self, user: str, msg_id: int) -> str | None:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text("SELECT payload FROM notice WHERE key LIKE :k ORDER BY id"),
                                    {"k": f"reply:wecom:{user}:{msg_id}:%"}).all()
        except OperationalError:  # the shared server's connections are all taken: look again later
            return None
        docs = [json.loads(r[0]) if isinstance(r[0], str) else (r[0] or {}) for r in rows]  # SQLite: text
        return "".join(d.get("content", "") for d in docs) or None


async def dialog(port: int, peer: WeComPeer, user: str, msg_base: int, start_in: float, think: float,
                 stats: Stats, outbox: Outbox, rnd: random.Random) -> None:
    await asyncio.sleep(start_in)
    msg, kind, status_answers, n = "填报", "start", 0, 0
    while msg is not None:
        n += 1
        msg_id = msg_base + n
        url, body = peer.text(user, msg, msg_id=msg_id)
        stats.sent += 1
        t0 = time.perf_counter()
        reply_text = None
        for attempt in range(1 + WECOM_RETRIES):
            if attempt:
                stats.retries += 1
            try:
                status, data = await post(port, url, body, WECOM_TIMEOUT)
            except TimeoutError:
                stats.timeouts += 1
                continue
            except OSError:
                stats.errors += 1
                await asyncio.sleep(1)
                continue
            if status != 200:
                stats.errors += 1
                await asyncio.sleep(1)
                continue
            reply = peer.reply(data) if data else None
            if reply:
                stats.passive += 1
                reply_text = reply["Content"]
            break
        elapsed = time.perf_counter() - t0
        stats.lat[kind].append(elapsed)
        stats.over_1s += elapsed > 1.0
        if reply_text is None:  # answered late (or not at all): read the outbox, as the person would
            for _ in range(90):
                await asyncio.sleep(2)
                reply_text = await asyncio.to_thread(outbox.reply, user, msg_id)
                if reply_text:
                    stats.late += 1
                    break
            else:
                stats.unanswered.append(f"{user}:{msg_id}")
                return
        if msg == "确认":
            stats.confirmed += "已提交" in reply_text
        msg, status_answers = answer_for(reply_text, status_answers)
        kind = "confirm" if msg == "确认" else "step"
        if msg is not None and think > 0:
            await asyncio.sleep(think * rnd.uniform(0.5, 1.5))


def q(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def rss_mb(pgid: int) -> list[tuple[int, float]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                if int(fh.read().rsplit(")", 1)[1].split()[2]) != pgid:
                    continue
            with open(f"/proc/{entry}/status") as fh:
                rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            out.append((int(entry), rss / 1024))
        except (OSError, StopIteration, ValueError):
            continue
    return sorted(out)


HEAVY = ("matplotlib", "numpy", "PIL", "lxml", "openpyxl")  # their shared objects show in /proc/PID/maps


def heavy_mapped(pid: int) -> list[str]:
    """The heavy libraries whose files are mapped into process `pid` (XlsxWriter and python-docx are pure
    Python: python-docx shows as lxml)."""
    try:
        with open(f"/proc/{pid}/maps") as fh:
            maps = fh.read()
    except OSError:
        return []
    return [name for name in HEAVY if f"/site-packages/{name}/" in maps or f"/site-packages/{name}.libs/" in maps]


def settle_catch_up(url: str, pgid: int, quiet: float = 8.0, limit: float = 300.0) -> list[tuple]:
    """Wait for the embedded scheduler's catch-up: no new job_run row for `quiet` seconds and no job's child
    process left in the process group `pgid`; the rows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    rows, stable_since, t0 = [], time.monotonic(), time.monotonic()
    try:
        while time.monotonic() - t0 < limit:
            with engine.connect() as conn:
                now = conn.execute(text("SELECT job, notices, error FROM job_run ORDER BY id")).all()
            if len(now) != len(rows):
                rows, stable_since = now, time.monotonic()
            elif rows and time.monotonic() - stable_since >= quiet and len(rss_mb(pgid)) == 1:
                break
            time.sleep(1)
    finally:
        engine.dispose()
    return rows


def run_overdue_job(url: str, redis_url: str, tmp: str) -> float:
    from datetime import datetime

    from bot import create_app
    from bot.jobs import config_of, run_job

    rt = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "INSTANCE_DIR": tmp, "EMBEDDED_WORKERS": False,
                     "DATABASE_POOL_SIZE": 2, "DATABASE_MAX_OVERFLOW": 2}).extensions["bot"]
    t0 = time.perf_counter()
    run_job(rt, config_of(rt).jobs["report_overdue"], datetime.fromisoformat("2026-12-05T18:01:00+08:00"))
    elapsed = time.perf_counter() - t0
    rt.db.dispose()
    return elapsed


async def surge(args, port: int, peer: WeComPeer, users: list[str], think: float, ramp: float, url: str,
                tmp: str, job: bool) -> tuple[Stats, float, float | None]:
    stats = Stats()
    outbox = Outbox(url)
    rnd = random.Random(18)
    base = int(time.time() * 1000) * 1000
    job_time: list[float] = []

    async def job_when_due():
        total = len(users) * 10
        while stats.sent < total * args.job_at:
            await asyncio.sleep(0.5)
        job_time.append(await asyncio.to_thread(run_overdue_job, url, args.redis_url, tmp))

    async def progress():
        while True:
            await asyncio.sleep(15)
            every = [x for v in stats.lat.values() for x in v]
            print(f"  {time.perf_counter() - started:.0f} s: sent {stats.sent}, passive {stats.passive}, late "
                  f"{stats.late}, retries {stats.retries}, p99 {q(every, 99) * 1000:.0f} ms, confirmed "
                  f"{stats.confirmed}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    ticker = asyncio.ensure_future(progress())
    tasks = [dialog(port, peer, u, base + i * 100, rnd.uniform(0, ramp), think, stats, outbox, rnd)
             for i, u in enumerate(users)]
    if job:
        tasks.append(job_when_due())
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    ticker.cancel()
    outbox.engine.dispose()
    return stats, wall, (job_time[0] if job_time else None)


def reports_saved(url: str) -> tuple[int, int]:
    """(units with one current report of the period, units with more than one submission)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        one = conn.execute(text("SELECT count(*) FROM (SELECT unit_id FROM report_submission WHERE period_key = "
                                "'2026-12-05' GROUP BY unit_id HAVING count(*) = 1) t")).scalar()
        more = conn.execute(text("SELECT count(*) FROM (SELECT unit_id FROM report_submission WHERE period_key = "
                                 "'2026-12-05' GROUP BY unit_id HAVING count(*) > 1) t")).scalar()
    engine.dispose()
    return one, more


def print_stats(title: str, stats: Stats, wall: float, cpu: float, cores: int) -> None:
    every = [x for v in stats.lat.values() for x in v]
    print(f"\n{title}\n")
    print("| message | n | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, label in (("start", "填报"), ("step", "a step"), ("confirm", "确认"), ("all", "all")):
        v = every if kind == "all" else stats.lat[kind]
        if v:
            print(f"| {label} | {len(v)} | {q(v, 50) * 1000:.0f} | {q(v, 99) * 1000:.0f} | {max(v) * 1000:.0f} |")
    print(f"\nmessages {stats.sent} in {wall:.0f} s = {stats.sent / wall:.1f} msgs/s "
          f"({stats.sent / wall / cores:.1f} per core); passive answers {stats.passive}, late (outbox) "
          f"{stats.late}, unanswered {len(stats.unanswered)}; WeCom retries {stats.retries} (5-s timeouts "
          f"{stats.timeouts}), HTTP errors {stats.errors}; replies over 1 s: {stats.over_1s}; "
          f"server CPU {cpu:.0f} s = {cpu * 1000 / max(1, stats.sent):.1f} ms per message")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("database_url", nargs="?", help="a scratch database: it is WIPED (not with --serve)")
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=5)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--think", type=float, default=20.0, help="mean seconds before each answer")
    ap.add_argument("--ramp", type=float, default=60.0, help="every liaison starts within this many seconds")
    ap.add_argument("--job-at", type=float, default=0.5, help="run report_overdue once this share is sent")
    ap.add_argument("--knee", default="", help="comma-separated concurrency levels: closed loop, no think time")
    ap.add_argument("--knee-dialogs", type=int, default=4, help="dialogs per virtual user and level")
    ap.add_argument("--serve", action="store_true", help="the embedded `python -m bot serve` (SQLite)")
    ap.add_argument("--pool", default="6,6", help="DATABASE_POOL_SIZE,DATABASE_MAX_OVERFLOW per worker")
    args = ap.parse_args()
    if not args.serve and not args.database_url:
        ap.error("a database URL is needed (or --serve)")

    tmp = tempfile.mkdtemp(prefix="h8-surge-")
    url = f"sqlite:///{tmp}/surge.sqlite3" if args.serve else args.database_url
    from bot.infra.db import make_engine, upgrade

    wipe(url)
    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    load_org(engine, args.units)
    engine.dispose()
    print(f"loaded {args.units} units ({args.units * 3} matters) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr, flush=True)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    peer = WeComPeer(TOKEN, AES, CORP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DATABASE_URL", "REDIS_URL"))}
    env.update(WECOM_TOKEN=TOKEN, WECOM_AES_KEY=AES, WECOM_CORP_ID=CORP, WECOM_AGENT_ID="1000002",
               WECOM_SECRET="bench", WECOM_API_BASE="http://127.0.0.1:9", DATABASE_URL=url,
               REDIS_URL="" if args.serve else args.redis_url, OUTBOX_SENDER_IN_WEB="0", INSTANCE_DIR=tmp,
               PYTHONPATH=str(ROOT), SURGE_START=SURGE_AT, DATABASE_POOL_SIZE=args.pool.split(",")[0],
               DATABASE_MAX_OVERFLOW=args.pool.split(",")[1])
    port = free_port()
    if args.serve:
        proc = start_serve(env, port, Path(tmp) / "serve.log")
        runs = settle_catch_up(url, proc.pid)
        print(f"serve after start-up and catch-up ({len(runs)} job runs, "
              f"{sum(1 for r in runs if r[2])} failed; monthly_report: "
              f"{next((f'{r[1]} notices' for r in runs if r[0] == 'monthly_report'), 'not run')}): RSS "
              + ", ".join(f"{pid}: {mb:.0f} MB" for pid, mb in rss_mb(proc.pid))
              + f"; heavy libraries mapped: {', '.join(heavy_mapped(proc.pid)) or 'none'}", flush=True)
        for line in (Path(tmp) / "serve.log").read_text(errors="replace").splitlines():
            if "ran in child process" in line:
                print("  " + line.strip(), flush=True)
    else:
        proc = start_server("bench.surge:make_app()", env, args.workers, args.threads, port, True)
    users = [f"u{i}" for i in range(args.units)]
    cores = os.cpu_count() or 1
    try:
        if args.knee:
            print("\n| concurrency | messages | msgs/s | p50 ms | p99 ms | max ms | CPU ms/msg |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            pos = 0
            for level in (int(x) for x in args.knee.split(",")):
                chunk = users[pos:pos + level * args.knee_dialogs]
                pos += len(chunk)
                cpu0 = group_cpu(proc.pid)
                stats, wall = asyncio.run(closed_loop(port, peer, chunk, level, url))
                cpu = group_cpu(proc.pid) - cpu0
                every = [x for v in stats.lat.values() for x in v]
                print(f"| {level} | {stats.sent} | {stats.sent / wall:.1f} | {q(every, 50) * 1000:.0f} "
                      f"| {q(every, 99) * 1000:.0f} | {max(every) * 1000:.0f} | {cpu * 1000 / stats.sent:.1f} |",
                      flush=True)
            return
        cpu0 = group_cpu(proc.pid)
        stats, wall, job = asyncio.run(surge(args, port, peer, users, args.think, args.ramp, url, tmp,
                                             job=not args.serve))
        cpu = group_cpu(proc.pid) - cpu0
        one, more = reports_saved(url)
        kind = "embedded serve (SQLite, one process)" if args.serve else \
            f"gunicorn {args.workers} × {args.threads}, PostgreSQL{' + Redis' if args.redis_url else ''}"
        print_stats(f"surge: {args.units} units, think {args.think} s, ramp {args.ramp} s, {kind}, {cores} cores",
                    stats, wall, cpu, cores)
        print(f"reports: {one} units with exactly one report of the period, {more} with more than one; "
              f"confirmed in chat {stats.confirmed}")
        if job is not None:
            print(f"report_overdue (18:01) run during the surge: {job:.2f} s")
        rss = rss_mb(proc.pid)
        print("RSS after the surge (MB): " + ", ".join(f"{pid}: {mb:.0f}" for pid, mb in rss))
        if args.serve:
            print(f"heavy libraries mapped into serve: {', '.join(heavy_mapped(proc.pid)) or 'none'}")
    finally:
        stop(proc)


async def closed_loop(port, peer, users, level, url):
    """`level` virtual users, each running its dialogs back to back with no think time."""
    stats = Stats()
    outbox = Outbox(url)
    rnd = random.Random(level)
    base = int(time.time() * 1000) * 1000
    per = [users[i::level] for i in range(level)]

    async def one(mine, k):
        for j, u in enumerate(mine):
            await dialog(port, peer, u, base + (k * 1000 + j) * 100, 0, 0, stats, outbox, rnd)

    started = time.perf_counter()
    await asyncio.gather(*(one(m, k) for k, m in enumerate(per)))
    wall = time.perf_counter() - started
    outbox.engine.dispose()
    return stats, wall


def start_serve(env: dict, port: int, log: Path):
    """`python -m bot serve` with the surge's clock (bench/serve_at.py), its log in `log`."""
    import http.client

    proc = subprocess.Popen([sys.executable, "-m", "bench.serve_at", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    raise SystemExit("serve did not start")


def stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
