"""The scheduler: configuration, `jobs list` / `jobs run`, APScheduler wiring, the embedded start and
jobs whose module is missing."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select

from bot.jobs import BUILTIN, JobConfigError, last_fire_time, load_config
from bot.jobs.scheduler import Scheduler, start_embedded
from models import JobRun
from tests.jobs_helpers import TZ, at
from tests.support import ROOT, make_app

CONFIG = ROOT / "config" / "jobs.yaml"


def write_config(tmp_path, jobs: dict, **top) -> str:
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump({"timezone": "Asia/Shanghai", **top, "jobs": jobs}, allow_unicode=True),
                    encoding="utf-8")
    return str(path)


def test_shipped_config_has_every_builtin_job_with_a_valid_trigger():
    config = load_config(CONFIG)
    assert set(BUILTIN) <= set(config.jobs)
    # daily: the job itself knows whether a deadline (5th/20th, or the working day it moved to) just passed
    assert config.jobs["report_overdue"].trigger(config.tz).get_next_fire_time(None, at(2026, 12, 1)) == \
        at(2026, 12, 1, 18, 1)
    assert config.jobs["monthly_report"].trigger(config.tz).get_next_fire_time(None, at(2026, 12, 2)) == \
        at(2027, 1, 1, 8)
    assert config.jobs["report_reminder"].params == {"days_before": [2, 0]}


@pytest.mark.parametrize("jobs, message", [
    ({"nope": {"cron": {"hour": 9}}}, "unknown job"),
    ({"report_overdue": {"cron": {"hours": 9}}}, "unknown: hours"),
    ({"report_overdue": {"cron": {}}}, "needs fields"),
    ({"report_overdue": {"cron": {"hour": 25}}}, "report_overdue.cron"),
    ({"report_overdue": {"cron": {"hour": 9}, "style": "weird"}}, "style"),
])
def test_bad_config_is_refused_with_the_place(tmp_path, jobs, message):
    with pytest.raises(JobConfigError, match=message):
        load_config(write_config(tmp_path, jobs))


def test_jobs_list_shows_schedule_next_and_last_run(runner, runtime):
    out = runner.invoke(args=["jobs", "list", "--now", "2026-12-01T00:00+08:00"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("report_overdue"))
    assert "hour=18 minute=1" in line and "2026-12-01T18:01+08:00" in line and line.endswith("never")
    assert runner.invoke(args=["jobs", "run", "minutes_draft", "--now", "2026-12-03T09:00+08:00"]).exit_code == 0
    out = runner.invoke(args=["jobs", "list", "--now", "2026-12-03T10:00+08:00"])
    line = next(x for x in out.output.splitlines() if x.startswith("minutes_draft"))
    assert line.endswith("2026-12-03T09:00+08:00 / 0")


@pytest.mark.parametrize("args, code, text", [
    (["jobs", "run", "nope", "--now", "2026-12-05T18:00+08:00"], 1, "unknown job"),
    (["jobs", "run", "report_overdue", "--now", "5 Dec"], 2, "not an ISO date-time"),
])
def test_jobs_run_refuses_bad_input(runner, args, code, text):
    out = runner.invoke(args=args)
    assert out.exit_code == code and text in out.output


def test_jobs_run_naive_now_is_shanghai_time(runner, runtime):
    out = runner.invoke(args=["jobs", "run", "report_overdue", "--now", "2026-12-05T18:01"])
    assert out.exit_code == 0 and "as of 2026-12-05T18:01:00+08:00" in out.output
    with runtime.db.session() as s:
        assert s.scalar(select(JobRun.as_of)) == at(2026, 12, 5, 18, 1)


def test_missing_module_disables_only_that_job(sqlite_url, tmp_path):
    jobs_file = write_config(tmp_path, {
        "ghost": {"target": "bot.not_written_yet:run", "cron": {"hour": 9}},
        "minutes_draft": {"cron": {"hour": 9}},
    })
    app = make_app(sqlite_url, tmp_path, JOBS_FILE=jobs_file)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["jobs", "list"])
    assert "unavailable in this build" in out.output
    assert runner.invoke(args=["jobs", "run", "ghost"]).exit_code == 1
    sched = Scheduler(app.extensions["bot"])
    assert [j.id for j in sched.jobs] == ["minutes_draft"]


def test_last_fire_time_walks_the_cron():
    config = load_config(CONFIG)
    spec = config.jobs["monthly_report"]  # day 1, 08:00
    assert last_fire_time(spec, TZ, at(2026, 12, 19, 12), timedelta(days=40)) == at(2026, 12, 1, 8)
    assert last_fire_time(spec, TZ, at(2026, 12, 1, 8), timedelta(days=40)) == at(2026, 12, 1, 8)
    assert last_fire_time(spec, TZ, at(2026, 12, 1, 7, 59), timedelta(days=1)) is None
    assert last_fire_time(spec, TZ, at(2026, 12, 3, 8, 1), timedelta(hours=48)) is None  # too long ago
    every_second = load_config(CONFIG).jobs["minutes_draft"].__class__("x", "m:f", {"second": "*"})
    assert last_fire_time(every_second, TZ, at(2026, 12, 5, 18, 0, 30), timedelta(days=40)) == \
        at(2026, 12, 5, 18, 0, 30)


def _wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_embedded_scheduler_runs_its_jobs_and_stops(sqlite_url, tmp_path):
    """A job due every second is run by the background scheduler; catch-up runs at start."""
    jobs_file = write_config(tmp_path, {"minutes_draft": {"cron": {"second": "*"}}})
    app = make_app(sqlite_url, tmp_path, JOBS_FILE=jobs_file)
    rt = app.extensions["bot"]

    def runs():
        with rt.db.session() as s:
            return s.scalar(select(func.count(JobRun.id)))

    sched = start_embedded(rt)
    try:
        assert sched.aps.running and isinstance(sched.next_runs()["minutes_draft"], datetime)
        assert _wait_for(lambda: runs() >= 2)
    finally:
        sched.stop()
    assert not sched.aps.running
    settled = runs()
    time.sleep(1.2)
    assert runs() == settled  # stopped means stopped


def test_serve_starts_the_scheduler_through_the_cli_hook(sqlite_url, tmp_path):
    from bot.tools.cli import start_embedded_workers

    app = make_app(sqlite_url, tmp_path, JOBS_FILE=write_config(tmp_path, {"minutes_draft": {"cron": {"hour": 3}}}))
    started = start_embedded_workers(app.extensions["bot"])
    try:
        assert any(isinstance(w, Scheduler) for w in started)
    finally:
        for w in started:
            w.stop()


def test_jobs_run_dry_run_shows_the_notices_and_queues_nothing(seeded, runner):
    """A rehearsal on a live database must not send anything (issue 15, 'Operating it')."""
    from tests.jobs_helpers import build_december, notices

    with seeded.db.session() as s:
        build_december(s)
    result = runner.invoke(args=["jobs", "run", "report_overdue", "--now", "2026-12-07T18:01+08:00", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "[dry run] report_overdue" in result.output
    assert "would queue report_overdue:" in result.output
    assert notices(seeded) == []
    with seeded.db.session() as s:
        from models import AuditLog, JobRun

        assert s.scalars(select(JobRun)).all() == []
        assert s.scalars(select(AuditLog).where(AuditLog.actor == "report_overdue")).all() == []
    real = runner.invoke(args=["jobs", "run", "report_overdue", "--now", "2026-12-07T18:01+08:00"])
    assert real.exit_code == 0
    assert notices(seeded, "report_overdue:")


def test_the_scheduler_beats_and_healthcheck_reads_it(sqlite_url, tmp_path):
    """The scheduler container's HEALTHCHECK: fresh while the scheduler runs, failing before and after."""
    from bot.jobs.scheduler import heartbeat_path

    app = make_app(sqlite_url, tmp_path)
    runner = app.test_cli_runner()
    rt = app.extensions["bot"]
    before = runner.invoke(args=["healthcheck", "scheduler"])
    assert before.exit_code == 1 and "no heartbeat" in before.output
    sched = Scheduler(rt).start(catchup=False)
    try:
        assert _wait_for(lambda: heartbeat_path(rt).exists())
        alive = runner.invoke(args=["healthcheck", "scheduler"])
        assert alive.exit_code == 0 and "alive" in alive.output
    finally:
        sched.stop()
    stale = runner.invoke(args=["healthcheck", "scheduler", "--max-age", "0"])
    assert stale.exit_code == 1 and "last heartbeat" in stale.output
