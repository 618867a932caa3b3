"""Heavy jobs in a child process (bot.jobs.child), as the schedulers run them: the monthly report end to
end on SQLite and PostgreSQL (its files, row, audit row, notices, JobRun — once), the settings and the
test clock the child gets, failures recorded and retried, and SQLite's one writer shared with the
parent's writers without a deadlock."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.jobs import JobsConfig, JobSpec, catch_up, config_of, run_job
from bot.jobs.child import JobChildError
from models import AuditLog, JobRun, MonthlyReport, Notice, ProcessedMessage
from tests.jobs_helpers import at, monthly_ledger, notices
from tests.support import make_app


def _spec(name: str, **params) -> JobSpec:
    return JobSpec(name, f"tests.child_jobs:{name}", {"hour": 9}, params)


def _runs(rt, job: str) -> list[JobRun]:
    with rt.db.session() as s:
        return list(s.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def test_the_monthly_report_in_a_child_process(db_url, tmp_path):
    app = make_app(db_url, tmp_path)
    rt = app.extensions["bot"]
    rt.clock.set(at(2026, 12, 7, 10))
    with rt.db.session() as s:
        monthly_ledger(s)
    spec = config_of(rt).jobs["monthly_report"]
    result = run_job(rt, spec, at(2026, 12, 1, 8), isolate=True)
    assert result.details["month"] == "2026-11" and result.details["generated"] is True
    with rt.db.session() as s:
        row = s.scalar(select(MonthlyReport).where(MonthlyReport.month == "2026-11"))
        audits = s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "monthly_report_generated"))
    assert row.figures["totals"]["total"] == 8 and audits == 1
    xlsx, png = Path(row.xlsx_path), Path(row.png_path)
    assert xlsx.parent == tmp_path / "instance" / "reports" / "2026-11"  # the parent's INSTANCE_DIR
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and xlsx.with_suffix(".docx").stat().st_size > 5000
    sent = notices(rt, "monthly_report:2026-11:")
    assert {n.key.rsplit(":", 1)[1] for n in sent} >= {"summary", "image", "docx", "file"}
    assert result.notices == len(notices(rt)) == len(sent)
    [run] = _runs(rt, "monthly_report")  # recorded by the parent
    assert run.error is None and run.notices == result.notices and run.as_of == at(2026, 12, 1, 8)

    # once: again in a child, in this process, and a catch-up find nothing to do
    again = run_job(rt, spec, at(2026, 12, 1, 8), isolate=True)
    assert again.notices == 0 and "generated" not in again.details
    assert run_job(rt, spec, at(2026, 12, 1, 8)).notices == 0
    config = JobsConfig("Asia/Shanghai", {"monthly_report": spec})
    assert catch_up(rt, config, now=at(2026, 12, 7, 10), isolate=True) == []
    with rt.db.session() as s:
        assert s.scalar(select(func.count(MonthlyReport.id))) == 1
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "monthly_report_generated")) == 1
    assert len(notices(rt)) == len(sent) and len(_runs(rt, "monthly_report")) == 3
    rt.db.dispose()


def test_the_child_gets_the_settings_and_the_test_clock(db_url, tmp_path, keep_deadlines):
    app = make_app(db_url, tmp_path, OVERDUE_INTERVIEW_DAYS=45)  # a setting given in code, not in the environment
    rt = app.extensions["bot"]
    rt.clock.set(at(2026, 12, 3, 9, 30))
    result = run_job(rt, _spec("probe", echo="回声"), at(2026, 12, 3, 9), isolate=True)
    seen = result.details
    assert seen["pid"] != os.getpid() and seen["matplotlib"] is False
    assert seen["now"] == at(2026, 12, 3, 9, 30).isoformat() and seen["as_of"] == at(2026, 12, 3, 9).isoformat()
    assert (seen["database"], seen["instance"]) == (db_url, str(tmp_path / "instance"))
    assert (seen["interview_days"], seen["testing"], seen["deadline_rule"], seen["tz"]) == \
        (45, True, "keep", "Asia/Shanghai")
    assert seen["echo"] == "回声" and result.notices == 1
    # without `isolate` (jobs run, the tests' other jobs) the same function runs here
    assert run_job(rt, _spec("probe"), at(2026, 12, 3, 9)).details["pid"] == os.getpid()
    rt.db.dispose()


def test_a_failed_child_is_recorded_and_retried_by_the_next_catch_up(sqlite_url, tmp_path):
    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    config = JobsConfig("Asia/Shanghai", {"flaky": JobSpec("flaky", "tests.child_jobs:flaky", {"hour": 9})})
    assert catch_up(rt, config, now=at(2026, 12, 3, 10), isolate=True) == []  # failed: logged, recorded
    [failed] = _runs(rt, "flaky")
    assert "failed in its child process" in failed.error and "RuntimeError: boom in the child" in failed.error
    [retried] = catch_up(rt, config, now=at(2026, 12, 3, 10, 5), isolate=True)
    assert retried.details == {"second": True} and retried.as_of == at(2026, 12, 3, 9)
    assert catch_up(rt, config, now=at(2026, 12, 3, 10, 10), isolate=True) == []
    assert [r.error is None for r in _runs(rt, "flaky")] == [False, True]

    with pytest.raises(JobChildError, match="exited with code 3 and no result"):
        run_job(rt, _spec("crash"), at(2026, 12, 3, 9), isolate=True)
    with pytest.raises(JobChildError, match="longer than 3 s"):
        run_job(rt, _spec("hang"), at(2026, 12, 3, 9), isolate=True, lock_wait=3)
    assert "exited with code 3" in _runs(rt, "crash")[0].error and "killed" in _runs(rt, "hang")[0].error
    rt.db.dispose()


def test_on_sqlite_the_child_and_the_parents_writers_share_the_one_writer(sqlite_url, tmp_path):
    """`serve` on SQLite: its request and sender threads keep writing while the child writes the report;
    one of them even holds the write lock when the child starts. Nobody deadlocks or fails."""
    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    with rt.db.session() as s:
        monthly_ledger(s)
    done, holding, errors, written = threading.Event(), threading.Event(), [], []

    def hold_the_lock():
        with rt.db.session() as s:  # BEGIN IMMEDIATE: the write lock, for 2 s
            s.add(ProcessedMessage(key="held", created_at=at(2026, 12, 7, 10)))
            s.flush()
            holding.set()
            time.sleep(2)

    def keep_writing():
        while not done.is_set():
            try:
                key = f"w{len(written)}"
                assert rt.claim_message(key)
                written.append(key)
            except Exception as exc:  # noqa: BLE001 - collected, asserted below
                errors.append(exc)
            time.sleep(0.02)

    threads = [threading.Thread(target=hold_the_lock), threading.Thread(target=keep_writing)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    try:
        result = run_job(rt, config_of(rt).jobs["monthly_report"], at(2026, 12, 1, 8), isolate=True)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert not errors and len(written) > 10
    assert result.details["generated"] is True and result.notices >= 4
    with rt.db.session() as s:
        assert s.scalar(select(func.count(ProcessedMessage.key))) == len(written) + 1
        assert s.scalar(select(func.count(Notice.id))) == result.notices
    rt.db.dispose()
