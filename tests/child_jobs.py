"""Job functions for tests/test_jobs_child.py, run in a job's child process (bot.jobs.child): they say what
the child saw (settings, clock, process), fail, crash or hang."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bot.jobs.base import JobResult


def probe(runtime, as_of, echo=""):
    from bot.domain import clock, periods

    s = runtime.settings
    return JobResult("probe", as_of, notices=1, details={
        "pid": os.getpid(), "now": runtime.now().isoformat(), "as_of": as_of.isoformat(), "echo": echo,
        "database": s.DATABASE_URL, "instance": s.INSTANCE_DIR, "testing": s.TESTING, "tz": clock.tz().key,
        "deadline_rule": periods.deadline_rule(), "interview_days": s.OVERDUE_INTERVIEW_DAYS,
        "matplotlib": "matplotlib" in sys.modules})


def flaky(runtime, as_of):
    """Fails on its first run (no marker yet), succeeds after."""
    marker = Path(runtime.settings.INSTANCE_DIR) / "flaky.marker"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("failed once")
        raise RuntimeError("boom in the child")
    return JobResult("flaky", as_of, notices=0, details={"second": True})


def crash(runtime, as_of):
    os._exit(3)


def hang(runtime, as_of):
    time.sleep(60)


for _fn in (probe, flaky, crash, hang):
    _fn.child_process = True
