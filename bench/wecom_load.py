"""Load benchmark of the WeCom callback, against the floor any WeCom bot pays.

Starts two gunicorn servers on loopback, side by side, with the same workers and threads:
  1. the bot (`bot:create_app()` with gunicorn.conf.py), on the database given (migrated, seeded and
     given --users distinct registered users), with Redis if given;
  2. bench/echo_floor.py: Flask + wechatpy that only decrypts and echoes.
Then it sends signed, encrypted text messages from --users distinct users, --concurrency at a time,
for --requests messages or --duration seconds, decrypts and checks every reply, and prints msgs/s,
p50/p99/max latency for each and the ratio, as a Markdown table. With --rounds N the two targets take
turns (bot, floor, floor, bot, …: the machine's other load falls on both alike) and the table shows the
median of the rounds with the spread (min–max); "CPU ms/msg" is the CPU time the server's processes
(gunicorn master and workers, from /proc) spent per message — unlike msgs/s it does not depend on how
loaded the machine is (the database's and Redis's own CPU is not in it).

    python bench/wecom_load.py --database-url postgresql+psycopg://…/scratch --redis-url redis://…/5

Each request is encrypted just before it is sent, outside its timed part (the peer in
tests/wecom_peer.py, independent of wechatpy); the client shares the machine's cores with the servers. WARNING: the \
database gets the seed
org chart and `bench…` people added; use a scratch database.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.wecom_peer import WeComPeer  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in process group `pgid` (a gunicorn server)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state; pgrp is the 5th field of stat
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(url: str, users: int) -> list[str]:
    """Migrate, seed if empty, and make sure `users` distinct registered WeCom users exist."""
    from sqlalchemy import select

    from bot import create_app
    from bot.tools.cli import prepare_database as prepare
    from models import Person

    rt = create_app({"DATABASE_URL": url, "REDIS_URL": ""}).extensions["bot"]
    prepare(rt)
    with rt.db.session() as s:
        ids = [u for u in s.scalars(select(Person.wecom_userid).where(
            Person.wecom_userid.is_not(None), Person.active.is_(True)).order_by(Person.id)) if u]
        n = 0
        while len(ids) < users:
            uid = f"bench{n:05d}"
            n += 1
            if uid not in ids:
                s.add(Person(name=f"压测{n}", wecom_userid=uid))
                ids.append(uid)
    rt.db.dispose()
    return ids[:users]


def start_server(app_spec: str, env: dict, workers: int, threads: int, port: int, conf: bool):
    args = [sys.executable, "-m", "gunicorn"]
    if conf:
        args += ["-c", str(ROOT / "gunicorn.conf.py")]
    args += ["-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
             "--log-level", "warning", app_spec]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{app_spec} did not start:\n{proc.stderr.read().decode()[-3000:]}")
        time.sleep(0.2)
    raise SystemExit(f"{app_spec} did not answer /healthz in 60 s")


def stop_server(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def build_requests(peer: WeComPeer, users: list[str], count: int, text: str, base_id: int):
    """One builder per message; each is encrypted just before it is sent (WeCom's timestamp is signed
    and the bot reads it), outside the timed part."""
    return [(lambda i=i: peer.text(users[i % len(users)], text, msg_id=base_id + i)) for i in range(count)]


def run_load(port: int, requests: list, concurrency: int, duration: float):
    """Send `requests` with `concurrency` keep-alive connections; stop early after `duration` s."""
    results: list = [None] * len(requests)
    nxt = iter(range(len(requests)))
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                i = next(nxt, None)
            if i is None:
                break
            url, body = requests[i]()
            t0 = time.perf_counter()
            try:
                conn.request("POST", url, body=body, headers={"Content-Type": "text/xml"})
                r = conn.getresponse()
                data = r.read()
                results[i] = (time.perf_counter() - t0, r.status, data)
            except (OSError, http.client.HTTPException) as exc:
                results[i] = (time.perf_counter() - t0, 0, repr(exc).encode())
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return [r for r in results if r is not None], wall


def summarize(name: str, results: list, wall: float, check) -> dict:
    lat = sorted(r[0] for r in results)
    bad = sum(1 for r in results if r[1] != 200 or not check(r[2]))
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {"name": name, "n": len(results), "errors": bad, "rps": len(results) / wall,
            "p50": q[49] * 1000, "p99": q[98] * 1000, "max": lat[-1] * 1000,
            "over_4s": sum(1 for x in lat if x > 4.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="scratch database (default: a temporary SQLite file)")
    ap.add_argument("--redis-url", default="", help="Redis for dedup, locks and tokens (recommended)")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=60.0, help="upper bound per target, seconds")
    ap.add_argument("--workers", type=int, default=os.cpu_count() * 2 + 1)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--text", default="帮助", help="what every user sends")
    ap.add_argument("--rounds", type=int, default=1, help="rounds per target, taking turns")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="wecom-bench-")
    db_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    users = prepare_database(db_url, args.users)
    token, corp = secrets.token_urlsafe(12), "wwbench" + secrets.token_hex(4)
    aes = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    peer = WeComPeer(token, aes, corp)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DATABASE_URL", "REDIS_URL"))}
    env.update(WECOM_TOKEN=token, WECOM_AES_KEY=aes, WECOM_CORP_ID=corp, WECOM_AGENT_ID="1000002",
               WECOM_SECRET="bench", WECOM_API_BASE="http://127.0.0.1:9", DATABASE_URL=db_url,
               REDIS_URL=args.redis_url, OUTBOX_SENDER_IN_WEB="0", INSTANCE_DIR=tmp, PYTHONPATH=str(ROOT))
    base_id = int(time.time() * 1000) * 1000

    def bot_ok(data: bytes) -> bool:
        reply = peer.reply(data)
        return bool(reply) and reply["MsgType"] == "text" and "您好" in reply["Content"]

    def echo_ok(data: bytes) -> bool:
        reply = peer.reply(data)
        return bool(reply) and reply["Content"] == args.text

    targets = (("bot (/wecom/callback)", "bot:create_app()", True, bot_ok),
               ("floor (Flask + wechatpy echo)", "bench.echo_floor:app", False, echo_ok))
    servers = []
    try:
        for _name, spec, conf, _check in targets:
            port = free_port()
            servers.append((port, start_server(spec, env, args.workers, args.threads, port, conf)))
        for port, _proc in servers:  # warm up: imports, template compiles, pools
            warm = build_requests(peer, users, min(200, args.requests), args.text, base_id)
            base_id += len(warm)
            run_load(port, warm, args.concurrency, args.duration)
        rounds: list[list[dict]] = [[], []]
        for r in range(args.rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for t in order:
                port, proc = servers[t]
                reqs = build_requests(peer, users, args.requests, args.text, base_id)
                base_id += len(reqs)
                cpu0 = group_cpu(proc.pid)
                results, wall = run_load(port, reqs, args.concurrency, args.duration)
                cpu = group_cpu(proc.pid) - cpu0
                row = summarize(targets[t][0], results, wall, targets[t][3])
                row["cpu_ms"] = cpu * 1000 / max(1, row["n"])
                rounds[t].append(row)
                print(f"  round {r + 1} {targets[t][0]}: {row['rps']:.0f} msgs/s, p99 {row['p99']:.0f} ms, "
                      f"CPU {row['cpu_ms']:.2f} ms/msg", file=sys.stderr, flush=True)
    finally:
        for _port, proc in servers:
            stop_server(proc)

    def med(rs: list[dict], key: str) -> tuple[float, float, float]:
        values = [r[key] for r in rs]
        return statistics.median(values), min(values), max(values)

    print(f"\n{args.requests} messages per target and round, {args.rounds} round(s) taking turns, from "
          f"{len(users)} users, concurrency {args.concurrency}, gunicorn {args.workers} workers × {args.threads} "
          f"threads, {os.cpu_count()} cores, database {db_url.split(':', 1)[0]}"
          f"{', Redis' if args.redis_url else ', no Redis'}, text {args.text!r}\n")
    print("| target | messages | errors | msgs/s | p50 ms | p99 ms | max ms | > 4 s | CPU ms/msg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = []
    for t, rs in enumerate(rounds):
        m = {k: med(rs, k) for k in ("rps", "p50", "p99", "max", "cpu_ms")}
        summary.append(m)

        def cell(k, fmt="{:.0f}", m=m, many=len(rs) > 1):
            v, lo, hi = m[k]
            return fmt.format(v) + (f" ({fmt.format(lo)}–{fmt.format(hi)})" if many else "")
        print(f"| {targets[t][0]} | {sum(r['n'] for r in rs)} | {sum(r['errors'] for r in rs)} | {cell('rps')} "
              f"| {cell('p50', '{:.1f}')} | {cell('p99', '{:.1f}')} | {cell('max', '{:.0f}')} "
              f"| {sum(r['over_4s'] for r in rs)} | {cell('cpu_ms', '{:.2f}')} |")
    ratios = [(b["rps"] / f["rps"], b["p99"] / f["p99"], b["cpu_ms"] / f["cpu_ms"])
              for b, f in zip(rounds[0], rounds[1], strict=True)]
    tp, p99, cpu = (sorted(x[i] for x in ratios) for i in range(3))
    print(f"\nbot / floor, per round (median, min–max): "
          f"throughput {statistics.median(tp):.2f}× ({tp[0]:.2f}–{tp[-1]:.2f}), "
          f"p99 {statistics.median(p99):.1f}× ({p99[0]:.1f}–{p99[-1]:.1f}), "
          f"CPU per message {statistics.median(cpu):.1f}× ({cpu[0]:.1f}–{cpu[-1]:.1f})")
    bot = {"errors": sum(r["errors"] for r in rounds[0]), "over_4s": sum(r["over_4s"] for r in rounds[0])}
    if bot["errors"] or bot["over_4s"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
