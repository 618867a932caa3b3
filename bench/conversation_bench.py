"""Benchmark of one conversation message (the full path: dedup-free dispatch, per-user lock, draft load,
parse, render, compare-and-set save, commit) for the 录入纪要 flow.

    .venv/bin/python bench/conversation_bench.py                    # SQLite, drafts in the database
    .venv/bin/python bench/conversation_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench_h5 \
        --redis redis://127.0.0.1:6379/15                            # PostgreSQL, drafts in Redis

The PostgreSQL database given is WIPED (schema public dropped and re-created), the Redis db is FLUSHED:
use scratch ones. Runs `--rounds` complete minutes (20 messages each, ending in 确认) and prints the
per-message latency (mean, p50, p95, max) and the cost of 确认 (the ledger write) separately.
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
from bot.infra.db import upgrade  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.factories import at  # noqa: E402

SCRIPT = ["录入纪要", "陈剑锋", "12号", "专题调度会", "昨天", "发改局", "抓征迁", "科技局", "月底", "同上",
          "抓审批", "发改局", "12月15日", "无", "完成", "查看", "修改 2", "13号", "帮助"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg")
    ap.add_argument("--redis")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.pg or f"sqlite:///{tmp / 'bench.sqlite3'}"
    if args.pg:
        eng = create_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
        eng.dispose()
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "REDIS_URL": args.redis or "", "INSTANCE_DIR": str(tmp),
                      "EMBEDDED_WORKERS": False})
    rt = app.extensions["bot"]
    rt.clock.set(at(2026, 11, 23))
    with rt.db.session() as s:
        f.small_org(s)
    steps, confirms = [], []
    for _ in range(args.rounds):
        for msg in SCRIPT + ["确认"]:
            t = time.perf_counter()
            reply = rt.handle_text("wecom", "linyongyong", msg)
            dt = (time.perf_counter() - t) * 1000
            assert reply and "出了问题" not in reply.text, (msg, reply)
            (confirms if msg == "确认" else steps).append(dt)
    steps.sort()
    q = statistics.quantiles(steps, n=20)
    print(f"backend: {'PostgreSQL' if args.pg else 'SQLite'} + drafts in {'Redis' if args.redis else 'the database'}")
    print(f"messages: {len(steps)}  mean {statistics.mean(steps):.1f} ms  p50 {statistics.median(steps):.1f} ms  "
          f"p95 {q[18]:.1f} ms  max {steps[-1]:.1f} ms")
    print(f"确认 (minutes + 2 matters + audit + notices): mean {statistics.mean(confirms):.1f} ms over {len(confirms)}")
    from sqlalchemy import func, select

    from models import Minutes

    with rt.db.session() as s:
        assert s.scalar(select(func.count(Minutes.id))) == args.rounds  # every round really saved
    rt.db.dispose()


if __name__ == "__main__":
    main()
