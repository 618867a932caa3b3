"""Benchmark of the ledger's chat queries, automatic escalation and circular on a large ledger.

    .venv/bin/python bench/ledger_bench.py                         # SQLite (temp file)
    .venv/bin/python bench/ledger_bench.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench_h7

The PostgreSQL database given is WIPED (schema public dropped and re-created): use a scratch one.
Builds `--units` units, two leaders' rows per 10 units and `--matters` items (a quarter overdue, a tenth
silent), one report per unit for the last period, then times each command through Runtime.handle_text
(the full path: lookup, roles, scope SQL, rendering, paging) and the jobs' functions.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bot import create_app  # noqa: E402
from bot.actions.circular import build_circular  # noqa: E402
from bot.actions.escalation import accountability_candidates, auto_escalate  # noqa: E402
from bot.infra.db import upgrade  # noqa: E402
from models import ROLE_SUPERVISION, ChatGroup, DispatchRow, Matter, Minutes, Person, PersonRole, ReportSubmission, Unit  # noqa: E402
from tests.factories import at  # noqa: E402

NOW = at(2026, 12, 10, 10)


def build(runtime, n_units: int, n_matters: int) -> None:
    rnd = random.Random(7)
    with runtime.db.session() as s:
        for code in ("supervision", "liaisons", "office"):
            s.add(ChatGroup(code=code, name=code))
        units = [Unit(name=f"单位{i:04d}", aliases=[]) for i in range(n_units)]
        s.add_all(units)
        s.flush()
        member = Person(name="督导成员", wecom_userid="member")
        member.roles = [PersonRole(role=ROLE_SUPERVISION)]
        s.add(member)
        leaders = []
        for i in range(max(1, n_units // 10)):
            leader = Person(name=f"领导{i}", wecom_userid=f"leader{i}")
            sup = Person(name=f"督导{i}", wecom_userid=f"sup{i}")
            ol = Person(name=f"联络{i}", wecom_userid=f"ol{i}")
            s.add_all([leader, sup, ol])
            s.flush()
            row = DispatchRow(seq=i + 1, leader_id=leader.id, content="内容", office_supervisor_id=sup.id)
            row.lead_units = units[i * 10:(i + 1) * 10]
            row.office_liaisons = [ol]
            s.add(row)
            leaders.append(leader)
        for u in units:
            p = Person(name=f"{u.name}联络员", wecom_userid=f"u{u.id}")
            s.add(p)
            s.flush()
            u.liaison_id = p.id
        s.flush()
        meeting = Minutes(title="调度会", leader_id=leaders[0].id, meeting_date=date(2026, 9, 1),
                          drafting_unit_id=units[0].id, state="issued")
        s.add(meeting)
        s.flush()
        for i in range(n_matters):
            u = units[rnd.randrange(n_units)]
            dl = NOW.date() + timedelta(days=rnd.randint(-60, 120))
            last = None if rnd.random() < 0.1 else NOW - timedelta(days=rnd.randint(1, 14))
            s.add(Matter(code=f"M{i + 1}", minutes_id=meeting.id, title=f"重点事项{i}：园区道路及配套管网建设",
                         responsible_unit_id=u.id,
                         leader_id=leaders[units.index(u) // 10 % len(leaders)].id, deadline=dl, original_deadline=dl,
                         created_at=at(2026, 9, 1), last_progress_at=last, last_progress="推进中" if last else None))
        s.flush()
        for u in units[: int(n_units * 0.8)]:
            s.add(ReportSubmission(unit_id=u.id, period_key="2026-12-05", submitted_by_id=u.liaison_id,
                                   submitted_at=at(2026, 12, 5, 17)))
    runtime.clock.set(NOW)


def timed(label: str, fn, repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    extra = f"  ({out})" if isinstance(out, (int, str)) and len(str(out)) < 40 else ""
    print(f"  {label:<34} {best * 1000:8.1f} ms{extra}")


def run(url: str, n_units: int, n_matters: int) -> None:
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "REDIS_URL": "", "EMBEDDED_WORKERS": False, "TESTING": True})
    rt = app.extensions["bot"]
    t = time.perf_counter()
    build(rt, n_units, n_matters)
    print(f"{rt.db.engine.dialect.name}: {n_units} units, {n_matters} items (built in {time.perf_counter() - t:.1f} s)")

    def say(user, words):
        return lambda: len(rt.handle_text("wecom", user, words).text.encode())

    timed("进度 (supervision, everything)", say("member", "进度"))
    timed("进度 (leader, ~10 units)", say("leader0", "进度"))
    timed("进度 (unit liaison)", say("u1", "进度"))
    timed("逾期 (supervision)", say("member", "逾期"))
    timed("未报 上期 (supervision)", say("member", "未报 上期"))
    timed("查 单位0001 (supervision)", say("member", "查 单位0001"))
    timed("查 M17 (supervision)", say("member", "查 M17"))
    timed("下一页", say("member", "下一页"))

    def esc():
        with rt.db.session() as s:
            return len(auto_escalate(s, rt, NOW))

    timed("auto_escalate first run", esc, repeat=1)
    timed("auto_escalate again (nothing new)", esc, repeat=1)

    def circ():
        with rt.db.session() as s:
            return len(build_circular(s, NOW).encode())

    timed("build_circular", circ)

    def acc():
        with rt.db.session() as s:
            return len(accountability_candidates(s, "2026-11"))

    timed("accountability_candidates", acc)
    rt.db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--matters", type=int, default=5000)
    ap.add_argument("--pg", default="")
    args = ap.parse_args()
    if args.pg:
        eng = create_engine(args.pg)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
        eng.dispose()
        run(args.pg, args.units, args.matters)
    else:
        with tempfile.TemporaryDirectory() as d:
            run(f"sqlite:///{Path(d) / 'bench.sqlite3'}", args.units, args.matters)


if __name__ == "__main__":
    main()
