"""Benchmark of the DingTalk channel in one process: signed `帮助` callbacks through the real
`/dingtalk/callback` (Flask test client, sequential), then the sender delivering the queued replies to a
fake DingTalk's sessionWebhooks over loopback HTTP.

    .venv/bin/python bench/dingtalk_bench.py --messages 500            # SQLite in a temp dir
    .venv/bin/python bench/dingtalk_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench_dt

The PostgreSQL database given is WIPED (schema public dropped and re-created): use a scratch one.
Prints callback latency (mean, p50, p95, max) and the sender's deliveries per second.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bot import create_app  # noqa: E402
from bot.channels.dingtalk.transport import DingTalkTransport  # noqa: E402
from bot.delivery.sender import Sender  # noqa: E402
from bot.infra.db import upgrade  # noqa: E402
from bot.tools.fakes.dingtalk_server import FakeDingTalk  # noqa: E402
from models import Person  # noqa: E402
from tests.dingtalk_peer import DingTalkPeer  # noqa: E402

KEY, SECRET = "dingbenchkey", "bench-secret"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--pg", help="scratch PostgreSQL URL (wiped)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.pg or f"sqlite:///{tmp / 'bench.sqlite3'}"
    if args.pg:
        with create_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    with FakeDingTalk(KEY, SECRET) as fake:
        app = create_app({"DATABASE_URL": url, "INSTANCE_DIR": str(tmp), "EMBEDDED_WORKERS": False,
                          "DINGTALK_APP_KEY": KEY, "DINGTALK_APP_SECRET": SECRET,
                          "DINGTALK_API_BASE": fake.base_url, "DINGTALK_OAPI_BASE": fake.base_url})
        rt = app.extensions["bot"]
        with rt.db.session() as s:
            s.add_all([Person(name=f"用户{i}", dingtalk_userid=f"dt{i:04d}") for i in range(args.users)])
        peer, client = DingTalkPeer(SECRET, KEY, fake=fake), app.test_client()
        lat = []
        for i in range(args.messages):
            body = peer.text(f"dt{i % args.users:04d}", "帮助")
            t0 = time.perf_counter()
            r = peer.post(client, body)
            lat.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.data
        sender = Sender(rt, transports={"dingtalk": DingTalkTransport(rt)})
        t0 = time.perf_counter()
        sent = 0
        while sent < args.messages:
            stats = sender.run_once(limit=1000)
            if not stats.sent:
                break
            sent += stats.sent
        took = time.perf_counter() - t0
        assert len(fake.sent) == args.messages, (len(fake.sent), args.messages)
    lat.sort()
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}; {args.messages} callbacks from {args.users} users")
    print(f"callback ms: mean {statistics.mean(lat):.1f}  p50 {lat[len(lat) // 2]:.1f}  "
          f"p95 {lat[int(len(lat) * 0.95)]:.1f}  max {lat[-1]:.1f}")
    print(f"sender: {sent} replies to sessionWebhooks in {took:.2f} s = {sent / took:.0f}/s")


if __name__ == "__main__":
    main()
