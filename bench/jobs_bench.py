"""Benchmark of the scheduled jobs on a large ledger: 5,000 units, 100,000 matters, reports.

    .venv/bin/python bench/jobs_bench.py                       # SQLite (temp file) and TEST_DATABASE_URL
    .venv/bin/python bench/jobs_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/jobs_bench.py --units 500 --matters 10000 --sqlite-only

The PostgreSQL database given is WIPED (schema public dropped and re-created): use a scratch one.
Each job runs as of the moment it is scheduled for in December 2026, twice: "first" is the first run
ever on the whole ledger (every notice it implies is created — the worst case), "again" is the same
run repeated (nothing new). matter_deadlines is also timed as a daily run ("next day": the day after
a run). Queries are counted per run (SQLAlchemy cursor events) to show they do not grow with units.
The monthly report runs after `warm_up()` (matplotlib's import and font list), as in the scheduler's
child process for the job (bot.jobs.child: the warm-up, then the run); the cold import is timed on its
own in a fresh process.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bulk_data import PLAN, QueryCounter, at, populate  # noqa: E402


def bench(url: str, units: int, matters: int, instance: Path) -> list[tuple]:
    from bot.infra.db import upgrade
    from bot.jobs import config_of, run_job
    from tests.support import make_app

    upgrade(url)
    app = make_app(url, instance)
    rt = app.extensions["bot"]
    t0 = time.perf_counter()
    info = populate(rt.db.engine, units, matters)
    load = time.perf_counter() - t0
    print(f"  loaded {info['units']} units, {info['matters']} matters, {info['reports']} reports, "
          f"{info['report_items']} report items in {load:.1f} s", flush=True)
    config = config_of(rt)
    counter = QueryCounter(rt.db.engine)
    out = []

    def timed(name, moment):
        counter.n = 0
        t = time.perf_counter()
        result = run_job(rt, config.jobs[name], moment, record=False)
        elapsed = time.perf_counter() - t
        if name == "monthly_report" and "compute_s" in result.details:
            d = result.details
            print(f"  monthly_report parts: queries {d['compute_s']} s, workbook {d['xlsx_s']} s, "
                  f"chart {d['png_s']} s", flush=True)
        return elapsed, counter.n, result.notices

    for name, moment in PLAN:
        if name == "monthly_report" and "matplotlib.pyplot" not in sys.modules:
            # as the job's child process does before the run (bot.jobs.child); the cold cost is measured on
            # its own in a fresh process at the top of the output
            from bot.jobs.monthly import warm_up

            print(f"  monthly_report: warm_up() first, as its child process does: {warm_up():.3f} s", flush=True)
        first = timed(name, moment)
        again = timed(name, moment)
        row = [name, first, again]
        if name == "matter_deadlines":
            row.append(timed(name, moment + timedelta(days=1)))
        if name == "monthly_report":  # November's report: a second, warm run in this process
            row.append(timed(name, at(2026, 12, 1, 8)))
        out.append(tuple(row))
        print(f"  {name:<17} first {first[0]:6.3f} s ({first[1]} queries, {first[2]} notices)   "
              f"again {again[0]:6.3f} s ({again[1]} queries)"
              + (f"   next day {row[3][0]:6.3f} s ({row[3][1]} queries, {row[3][2]} notices)" if len(row) > 3 else ""),
              flush=True)
    rt.db.dispose()
    return out


def wipe_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--matters", type=int, default=100_000)
    ap.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"), help="PostgreSQL URL (wiped!)")
    ap.add_argument("--sqlite-only", action="store_true")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    import subprocess

    cold = subprocess.run([sys.executable, "-c", "from bot.jobs.monthly import warm_up; print(round(warm_up(), 3))"],
                          cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"matplotlib import + font list in a fresh process (bot.jobs.monthly.warm_up): {cold} s", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite", flush=True)
        results["SQLite"] = bench(f"sqlite:///{tmp}/bench.sqlite3", args.units, args.matters, Path(tmp) / "sqlite")
        if args.pg and not args.sqlite_only:
            print("PostgreSQL", flush=True)
            wipe_pg(args.pg)
            results["PostgreSQL"] = bench(args.pg, args.units, args.matters, Path(tmp) / "pg")
    print()
    print(f"{args.units} units, {args.matters} matters — seconds per run (queries)")
    head = "| job | " + " | ".join(f"{db} first | {db} again" for db in results) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(results)))
    names = [r[0] for r in next(iter(results.values()))]
    for i, name in enumerate(names):
        cells = []
        for rows in results.values():
            _, first, again, *rest = rows[i]
            cells.append(f"{first[0]:.3f} ({first[1]}) → {first[2]} notices")
            cells.append(f"{again[0]:.3f} ({again[1]})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for db, rows in results.items():
        for name, *runs in rows:
            if len(runs) > 2:
                t, q, n = runs[2]
                what = "next day" if name == "matter_deadlines" else "November's report (second run in the process)"
                print(f"{db} {name}, {what}: {t:.3f} s ({q} queries, {n} notices)")


if __name__ == "__main__":
    main()
