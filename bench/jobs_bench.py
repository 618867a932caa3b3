"""Benchmark of the scheduled jobs on a large ledger: 5,000 units, 100,000 matters, reports.

    .venv/bin/python bench/jobs_bench.py                       # SQLite (temp file) and TEST_DATABASE_URL
    .venv/bin/python bench/jobs_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/jobs_bench.py --units 500 --matters 10000 --sqlite-only

The PostgreSQL database given is WIPED (schema public dropped and re-created): use a scratch one.
Each job runs as of the moment it is scheduled for in December 2026, twice: "first" is the first run
ever on the whole ledger (every notice it implies is created — the worst case), "again" is the same
run repeated (nothing new). matter_deadlines is also timed as a daily run ("next day": the day after
a run). Queries are counted per run (SQLAlchemy cursor events) to show they do not grow with units.
The monthly report runs after `warm_up()` (matplotlib's import and font list), as in the scheduler,
which warms each job up when it starts; the cold import is timed on its own in a fresh process.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
LEADERS = 50
OFFICE_LIAISONS_PER_ROW = 2


def at(y, m, d, hh=9, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# job, moment it runs as of
PLAN = [
    ("report_reminder", at(2026, 12, 4, 9)),
    ("report_overdue", at(2026, 12, 5, 18, 1)),
    ("rollup_compile", at(2026, 12, 6, 9)),
    ("rollup_reminder", at(2026, 12, 7, 9, 30)),
    ("rollup_overdue", at(2026, 12, 7, 18, 1)),
    ("minutes_draft", at(2026, 12, 12, 9)),
    ("leader_meeting", at(2026, 12, 25, 9)),
    ("matter_deadlines", at(2026, 12, 7, 8, 30)),
    ("escalation", at(2026, 12, 7, 8, 40)),
    ("monthly_report", at(2027, 1, 1, 8)),
]


def populate(engine, units: int, matters: int, seed: int = 7) -> dict:
    """Fill an empty, migrated database with Core bulk inserts; returns a few counts."""
    from sqlalchemy import insert

    from models import (ChatGroup, DispatchRow, Escalation, Matter, Minutes, Person, PersonIdentity, ReportItem,
                        ReportSubmission, Unit, dispatch_row_liaison, dispatch_row_unit, utcnow)

    rnd = random.Random(seed)
    now = utcnow()
    as_of = at(2026, 12, 7)
    leaders = LEADERS if units >= LEADERS else max(1, units // 10)
    n_ol = leaders * OFFICE_LIAISONS_PER_ROW
    person_rows = []
    pid = 0
    for i in range(units):  # unit liaisons: ids 1..units
        pid += 1
        person_rows.append(dict(id=pid, name=f"联络员{i}", wecom_userid=f"u{i}", mobile=f"139{i:08d}",
                                placeholder=False, active=True, created_at=now))
    leader_ids, ol_ids = [], []
    for i in range(leaders):
        pid += 1
        leader_ids.append(pid)
        person_rows.append(dict(id=pid, name=f"领导{i}", wecom_userid=f"leader{i}", mobile=None, placeholder=False, active=True,
                                created_at=now))
    for i in range(n_ol):
        pid += 1
        ol_ids.append(pid)
        person_rows.append(dict(id=pid, name=f"办公室联络员{i}", wecom_userid=f"ol{i}", mobile=None, placeholder=False, active=True,
                                created_at=now))
    identity_rows = [dict(person_id=r["id"], channel="wecom", external_id=r.pop("wecom_userid")) for r in person_rows]
    unit_rows = [dict(id=i + 1, name=f"单位{i}", aliases=[], kind="bureau", liaison_id=i + 1, active=True,
                      created_at=now) for i in range(units)]
    row_rows = [dict(id=r + 1, seq=r + 1, leader_id=leader_ids[r], content=f"调度事项{r}", cycle="monthly")
                for r in range(leaders)]
    row_of_unit = {u: (u - 1) % leaders + 1 for u in range(1, units + 1)}
    ru = [dict(dispatch_row_id=row_of_unit[u], unit_id=u) for u in range(1, units + 1)]
    rl = [dict(dispatch_row_id=r + 1, person_id=ol_ids[r * OFFICE_LIAISONS_PER_ROW + k])
          for r in range(leaders) for k in range(OFFICE_LIAISONS_PER_ROW)]
    minutes_rows = []
    for r in range(leaders):
        for k in range(3):
            minutes_rows.append(dict(id=len(minutes_rows) + 1, title=f"调度会{r}-{k}", leader_id=leader_ids[r],
                                     dispatch_row_id=r + 1, meeting_date=date(2026, 11 + (k == 2), 10 + k),
                                     drafting_unit_id=(r % units) + 1,
                                     state="recorded" if k == 2 and r % 3 == 0 else "issued", created_at=now))
    matter_rows = []
    created = at(2026, 8, 1)
    for i in range(matters):
        u = i % units + 1
        r = row_of_unit[u]
        deadline = date(2026, 12, 7) + timedelta(days=rnd.randint(-90, 120))
        roll = rnd.random()
        state, closed_at = "open", None
        if roll < 0.15:
            state, closed_at = "closed", created + timedelta(days=rnd.randint(1, 120))
        elif roll < 0.25:
            state = "completion_claimed"
        slip = rnd.random() < 0.3
        matter_rows.append(dict(
            id=i + 1, code=f"{'J' if slip else 'M'}{i + 1}", kind="slip" if slip else "minutes",
            minutes_id=None if slip else (r - 1) * 3 + 1, seq=1, title=f"事项{i}", leader_id=leader_ids[r - 1],
            obstacles="资金缺口" if slip and rnd.random() < 0.5 else None, responsible_unit_id=u, deadline=deadline,
            original_deadline=deadline, state=state, escalation_level=0, created_at=created, closed_at=closed_at))
    subs, items = [], []
    matters_of_unit: dict[int, list[int]] = {}
    for mrow in matter_rows:
        matters_of_unit.setdefault(mrow["responsible_unit_id"], []).append(mrow["id"])
    for key, deadline_at, share in (("2026-11-05", at(2026, 11, 5, 18), 0.8), ("2026-11-20", at(2026, 11, 20, 18), 0.8),
                                    ("2026-12-05", at(2026, 12, 5, 18), 0.7), ("2026-12-20", at(2026, 12, 20, 18), 0.75)):
        for u in range(1, units + 1):
            if rnd.random() >= share:
                continue
            late = rnd.random() < 0.1
            when = deadline_at + (timedelta(hours=20) if late else -timedelta(days=rnd.randint(1, 3)))
            sid = len(subs) + 1
            subs.append(dict(id=sid, unit_id=u, period_key=key, version=1, current=True, submitted_by_id=u,
                             submitted_at=when, is_late=late))
            if key == "2026-12-05":
                for mid in matters_of_unit.get(u, [])[:20]:
                    items.append(dict(submission_id=sid, matter_id=mid, status="open", progress="推进中",
                                      obstacle="协调难度大" if rnd.random() < 0.1 else None))
    escalations = [dict(matter_id=mid, level=1, state="raised", raised_at=at(2026, 12, rnd.randint(1, 28)))
                   for mid in rnd.sample(range(1, matters + 1), min(2000, matters))]
    chats = [dict(code=c, name=c, channel="wecom") for c in ("supervision", "liaisons", "office")]
    with engine.begin() as conn:
        for table, rows in ((Person, person_rows), (PersonIdentity, identity_rows), (Unit, unit_rows), (DispatchRow, row_rows),
                            (dispatch_row_unit, ru), (dispatch_row_liaison, rl), (ChatGroup, chats),
                            (Minutes, minutes_rows), (Matter, matter_rows), (ReportSubmission, subs),
                            (ReportItem, items), (Escalation, escalations)):
            tbl = getattr(table, "__table__", table)
            for start in range(0, len(rows), 5000):
                conn.execute(insert(tbl), rows[start:start + 5000])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            from sqlalchemy import text

            for t in ("person", "unit", "dispatch_row", "minutes", "matter", "report_submission"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
            conn.execute(text("ANALYZE"))
    return dict(units=units, matters=matters, reports=len(subs), report_items=len(items), as_of=as_of)


class QueryCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_a, **_k):
        self.n += 1


def bench(url: str, units: int, matters: int, instance: Path) -> list[tuple]:
    from bot.infra.db import upgrade
    from bot.jobs import config_of, run_job
    from tests.conftest import make_app

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
            # as the scheduler does when it starts (bot.jobs.scheduler: each job's `warm_up` hook); the cold
            # cost is measured on its own in a fresh process at the top of the output
            from bot.jobs.monthly import warm_up

            print(f"  monthly_report: warm_up() first, as the scheduler does at start: {warm_up():.3f} s", flush=True)
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
