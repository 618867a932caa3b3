"""Exactly once: a job run twice at the same moment, two schedulers (threads with their own app, and
two processes) running the same jobs at once on PostgreSQL, and the catch-up after downtime."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml
from sqlalchemy import func, select

from bot.actions.seed import load_seed
from bot.jobs import BUILTIN, catch_up, config_of, run_job
from models import JobRun, MissedDeadline, MonthlyReport, Notice, RollUp
from tests.jobs_helpers import at, build_december, iso, notices, report
from tests.support import ROOT, SEED_FILE, make_app
from tests.threads import at_once

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

MOMENTS = (at(2026, 12, 1, 8, 30), at(2026, 12, 3), at(2026, 12, 4), at(2026, 12, 5, 18, 1), at(2026, 12, 6),
           at(2026, 12, 7, 9, 30), at(2026, 12, 7, 18, 1), at(2026, 12, 12), at(2026, 12, 25))


def _prepare(runtime):
    with runtime.db.session() as s:
        load_seed(s, SEED_FILE)
        d = build_december(s)
        report(s, d.fagai, "2026-12-05", at(2026, 12, 3, 15), at(2026, 12, 5, 18))
    return d


def _run_all(runtime, moment):
    config = config_of(runtime)
    return [run_job(runtime, config.jobs[name], moment) for name in BUILTIN]


def _keys(runtime) -> list[str]:
    return sorted(n.key for n in notices(runtime))


def test_every_job_twice_at_the_same_moment(db_url, tmp_path):
    app = make_app(db_url, tmp_path)
    rt = app.extensions["bot"]
    _prepare(rt)
    for moment in MOMENTS:
        first = _run_all(rt, moment)
        count = len(notices(rt))
        second = _run_all(rt, moment)
        assert [r.notices for r in second] == [0] * len(BUILTIN), (moment, [str(r) for r in second])
        assert len(notices(rt)) == count
    assert sum(r.notices for r in first) >= 0 and len(notices(rt)) > 20
    with rt.db.session() as s:
        assert s.scalar(select(func.count(JobRun.id))) == 2 * len(MOMENTS) * len(BUILTIN)
    rt.db.dispose()


def _concurrent(apps, moment):
    """Every built-in job at `moment` in each app's own thread, started together."""
    at_once([lambda a=a: _run_all(a.extensions["bot"], moment) for a in apps], timeout=120)


def test_two_schedulers_at_once_on_postgresql(pg_url, sqlite_url, tmp_path):
    """Two apps (own engine, own in-process locks: nothing shared but the database) run the same jobs
    at the same moments concurrently; the result is exactly what one scheduler alone produces."""
    apps = [make_app(pg_url, tmp_path / "a"), make_app(pg_url, tmp_path / "b")]
    alone = make_app(sqlite_url, tmp_path / "alone")
    _prepare(apps[0].extensions["bot"])
    _prepare(alone.extensions["bot"])
    for moment in MOMENTS:
        _concurrent(apps, moment)
        _run_all(alone.extensions["bot"], moment)
    rt = apps[0].extensions["bot"]
    assert _keys(rt) == _keys(alone.extensions["bot"])
    with rt.db.session() as s:
        assert s.scalar(select(func.count(MonthlyReport.id))) == 1
        assert s.scalar(select(func.count(RollUp.id))) == 4
        missed = Counter(m.unit_id for m in s.scalars(select(MissedDeadline)))
        assert missed and set(missed.values()) == {1}
    for a in apps + [alone]:
        a.extensions["bot"].db.dispose()


def test_two_processes_at_once(pg_url, tmp_path):
    """Two `python -m bot jobs run all --now …` processes started together on PostgreSQL."""
    app = make_app(pg_url, tmp_path)
    rt = app.extensions["bot"]
    _prepare(rt)
    jobs_file = tmp_path / "jobs.yaml"  # the built-in jobs only (other issues' jobs are theirs to test)
    config = yaml.safe_load((ROOT / "config" / "jobs.yaml").read_text(encoding="utf-8"))
    config["jobs"] = {k: v for k, v in config["jobs"].items() if k in BUILTIN}
    jobs_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, DATABASE_URL=pg_url, REDIS_URL="", INSTANCE_DIR=str(tmp_path / "inst"),
               PYTHONPATH=str(ROOT), JOBS_FILE=str(jobs_file))
    cmd = [sys.executable, "-m", "bot", "jobs", "run", "all", "--now", iso(at(2026, 12, 4))]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=False):
        assert p.returncode == 0 and "report_reminder" in out, err
    keys = [n.key for n in notices(rt)]
    dm = [k for k in keys if k.startswith("report_reminder:u") and k.endswith(":2026-12-04")]
    assert len(dm) == 3  # 教育局, 住建局, 农水局 — each once although two processes ran the job
    # summary, chart, .docx, .xlsx: once each
    assert len([k for k in keys if k.startswith("monthly_report:2026-11:")]) == 4
    assert sum(int(out.split("report_reminder as of")[1].split(": ")[1].split()[0]) for out, _ in outs) == 4
    rt.db.dispose()


def test_catch_up_after_downtime_runs_once_and_sends_no_burst(seeded):
    rt = seeded
    with rt.db.session() as s:
        build_december(s)
    # down from Dec 2 to Dec 4 12:00: two reminder days (Dec 3, Dec 4) passed without a scheduler
    done = {r.job: r for r in catch_up(rt, now=at(2026, 12, 4, 12))}
    assert "report_reminder" in done and done["report_reminder"].as_of == at(2026, 12, 4, 9)
    reminders = [n.key for n in notices(rt, "report_reminder:u")]
    assert reminders and all(k.endswith(":2026-12-04") for k in reminders)  # only the latest, once each
    assert len(reminders) == len({k.split(":")[1] for k in reminders}) == 4
    with rt.db.session() as s:
        runs = s.scalar(select(func.count(JobRun.id)))
    # a restart soon after: every job has a run since its last scheduled time → nothing runs again
    assert catch_up(rt, now=at(2026, 12, 4, 12, 30)) == []
    with rt.db.session() as s:
        assert s.scalar(select(func.count(JobRun.id))) == runs
    # a failed run does not count as done: it is retried by the next catch-up
    with rt.db.session() as s:
        s.add(JobRun(job="report_overdue", as_of=at(2026, 12, 7, 18, 1), error="boom"))
    again = [r.job for r in catch_up(rt, now=at(2026, 12, 7, 20))]
    assert "report_overdue" in again
    with rt.db.session() as s:
        assert s.scalar(select(func.count(Notice.id)).where(Notice.key.like("report_overdue:%"))) == 2
