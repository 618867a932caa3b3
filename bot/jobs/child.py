"""Heavy jobs in a short-lived child process (issue 18: the memory of the long-lived processes).

A job function that carries `child_process = True` — the monthly report: matplotlib, numpy, PIL and the
CJK font, python-docx, ~80 MB that would otherwise stay in `serve` or the `scheduler` process for the
rest of its life — is run by the schedulers (`bot.jobs.scheduler`: the cron runs and the catch-up) in a
fresh `python -m bot.jobs.child`. The child builds the app from the parent's settings (every field, so
settings given in code — tests, benchmarks — count too) and the parent's clock, runs the job's warm-up
(imports and fonts, before the job opens its transaction: SQLite's one write lock is not held through
them), then the job body, writes its JobResult as JSON on its stdout and exits: its memory goes with it.

Everything else of a run stays in the parent, in `bot.jobs.run_job`: the job's lock (`job:<name>`), the
JobRun row, the metrics and the log line. A child that fails, is killed, crashes or outlives the lock's
time is a failed run, recorded with the reason and retried by the next catch-up like any other. The job
body is the same function in both places, and its exactly-once comes from its keys and unique rows (the
notices, MonthlyReport (month), the audit row written with that row), never from the process it runs in.
The child opens its own database connections; the parent holds no transaction while it waits, so the
two never wait for each other on SQLite (the child waits, at most busy_timeout, for a write of `serve`'s
other threads, as the job did in-process). The child's log lines go to the parent's stderr.

Not in a child: `jobs run` (a short-lived process already; the tests drive jobs that way), `jobs run
--dry-run` (its rehearsal rolls back the sessions of its own process) and an in-memory SQLite database
(which another process cannot open).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Optional

from bot.jobs.base import JobResult
from config.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

ATTRIBUTE = "child_process"  # fn.child_process = True: run me in a child process when a scheduler runs me


class JobChildError(RuntimeError):
    """The child process failed: the job raised (the message carries its traceback), or the process died
    or took too long."""


def wanted(fn, runtime) -> bool:
    """Should a scheduler run `fn` in a child process? When the job asks for it and another process can
    open the database."""
    return bool(getattr(fn, ATTRIBUTE, False)) and not in_memory(runtime.db.engine.url)


def in_memory(url) -> bool:
    return url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:")
                                                   or url.query.get("mode") == "memory")


def clock_of(runtime) -> dict:
    """The parent's clock for the child: a moment fixed by `runtime.clock.set` (tests), or the offset of a
    clock that runs apart from the real time (benchmarks), or nothing."""
    fixed = getattr(runtime.clock, "fixed", None)
    if fixed is not None:
        return {"fixed": fixed.isoformat()}
    offset = (runtime.now() - datetime.now(UTC)).total_seconds()
    return {"offset": offset} if abs(offset) > 1 else {}


def request_of(runtime, spec, as_of: datetime) -> dict:
    return {"settings": runtime.settings.model_dump(mode="json"), "spec": dataclasses.asdict(spec),
            "as_of": as_of.isoformat(), "clock": clock_of(runtime)}


def run(runtime, spec, as_of: datetime, *, timeout: float = 600) -> JobResult:
    """Run `spec` as of `as_of` in a child process and return its JobResult; JobChildError if it failed."""
    from config.settings import child_environment

    env = child_environment(PROJECT_ROOT)
    request = json.dumps(request_of(runtime, spec, as_of))  # on stdin: the settings hold secrets
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "bot.jobs.child"], input=request, stdout=subprocess.PIPE,
                              cwd=PROJECT_ROOT, env=env, text=True, encoding="utf-8", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise JobChildError(f"job {spec.name}: the child process took longer than {timeout:.0f} s and was "
                            "killed") from None
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        raise JobChildError(f"job {spec.name}: the child process exited with code {done.returncode} "
                            "and no result")
    if "error" in answer:
        raise JobChildError(f"job {spec.name} failed in its child process:\n{answer['error']}")
    r = answer["result"]
    log.info("job %s ran in child process %s (%.1f s, peak RSS %s MB)", spec.name, answer.get("pid"),
             time.monotonic() - started, answer.get("peak_rss_mb"))
    return JobResult(spec.name, as_of, notices=int(r.get("notices") or 0), details=dict(r.get("details") or {}),
                     skipped=r.get("skipped"))


class _OffsetClock:
    """The real time moved by the parent's offset (a benchmark's clock that runs from a set moment)."""

    def __init__(self, tz, seconds: float):
        self.tz, self.offset = tz, timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(self.tz) + self.offset

    def set(self, moment: Optional[datetime]) -> None:
        raise RuntimeError("a job's child process keeps its parent's clock")

    fixed = None


def _peak_rss_mb() -> Optional[int]:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
    except (ImportError, OSError):
        return None


def main() -> int:
    """The child: one job run from the request on stdin; the answer is the last line of stdout."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the job prints goes to stderr: stdout carries only the answer
    from bot.infra.observe import configure_logging

    configure_logging("info", "text")  # create_app switches to JSON lines when LOG_FORMAT=json
    request = json.loads(sys.stdin.read())
    answer: dict = {"pid": os.getpid()}
    runtime = None
    try:
        from bot import create_app
        from bot.core import forgiving
        from bot.jobs import JobSpec, _call

        forgiving.skip_warm_up()  # the pinyin and conversion tables are for messages: none come here
        settings = dict(request["settings"], EMBEDDED_WORKERS=False)
        runtime = create_app(settings).extensions["bot"]
        clock = request.get("clock") or {}
        if clock.get("fixed"):
            runtime.clock.set(datetime.fromisoformat(clock["fixed"]))
        elif clock.get("offset"):
            runtime.clock = _OffsetClock(runtime.tz, float(clock["offset"]))
        spec = JobSpec(**request["spec"])
        fn = spec.resolve()
        if fn is None:
            raise LookupError(f"job {spec.name}: {spec.target} is not available in this build")
        warm_up = getattr(fn, "warm_up", None)
        if warm_up is not None:
            warm_up()
        result = _call(spec, fn, runtime, datetime.fromisoformat(request["as_of"]))
        answer["result"] = {"notices": result.notices, "details": result.details, "skipped": result.skipped}
    except BaseException:  # noqa: BLE001 - everything is the parent's to record (JobRun) and log
        answer["error"] = traceback.format_exc(limit=8)
    finally:
        if runtime is not None:
            runtime.db.dispose()
    answer["peak_rss_mb"] = _peak_rss_mb()
    out.write(json.dumps(answer, ensure_ascii=False, default=str) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
