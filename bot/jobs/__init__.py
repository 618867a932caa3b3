"""Scheduled jobs: a small registry, the configuration (config/jobs.yaml) and `run_job`.

Every job is a reconciler `fn(runtime, as_of, **params) -> JobResult` that works out what should have
been sent as of `as_of` and adds the missing notices with deterministic keys. `run_job` wraps one run:
a lock per job name (shared through Redis when configured), the call, and a JobRun row (used by
`jobs list` and by the scheduler's catch-up after downtime). With `isolate` (the schedulers) a job whose
function carries `child_process = True` runs its body in a short-lived child process (bot.jobs.child), so
its heavy libraries never stay in a long-lived process; the rest of the run stays here.
"""
from __future__ import annotations

import copy
import importlib
import inspect
import logging
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select

from bot.domain import clock
from bot.infra import metrics
from bot.jobs.base import JobResult
from models import JobRun, Notice, utcnow

log = logging.getLogger(__name__)

# name -> "module:function"; the order is the order `jobs run all` uses.
BUILTIN: dict[str, str] = {
    "report_reminder": "bot.jobs.reminders:run",
    "report_overdue": "bot.jobs.overdue:run",
    "rollup_compile": "bot.jobs.rollup:run_compile",
    "rollup_reminder": "bot.jobs.rollup:run_reminder",
    "rollup_overdue": "bot.jobs.rollup:run_overdue",
    "minutes_draft": "bot.jobs.minutes:run_draft",
    "leader_meeting": "bot.jobs.minutes:run_leader_meeting",
    "matter_deadlines": "bot.jobs.deadlines:run",
    "acknowledge_chase": "bot.jobs.acknowledge:run",
    "monthly_report": "bot.jobs.monthly:run",
    "housekeeping": "bot.jobs.housekeeping:run",
    "calendar_check": "bot.jobs.calendar:run",
    "key_project_reminder": "bot.jobs.projects:run_weekly_reminder",
    "key_project_chase": "bot.jobs.projects:run_weekly_chase",
    "supervision_followup": "bot.jobs.supervision:run",
}
CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")


class JobConfigError(ValueError):
    """config/jobs.yaml is not valid (message says where)."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str
    cron: dict
    params: dict = field(default_factory=dict)
    style: str = "runtime"  # runtime: fn(runtime, as_of, **params); session: fn(session, runtime, as_of, **params)
    enabled: bool = True
    catchup_hours: float = 48  # a missed run older than this is not caught up (it would be stale news)

    def trigger(self, tz: ZoneInfo):
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(timezone=tz, **self.cron)

    def resolve(self) -> Optional[Callable]:
        """The job function, or None when its module is not part of this build."""
        mod_name, _, func_name = self.target.partition(":")
        try:
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and mod_name.startswith(exc.name):
                return None
            raise
        return getattr(module, func_name, None)


@dataclass(frozen=True)
class JobsConfig:
    timezone: str
    jobs: dict[str, JobSpec]
    misfire_grace_seconds: int = 3600

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_config(path: str | Path) -> JobsConfig:
    """Read and check config/jobs.yaml (unknown cron fields and job names without code are refused)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    tz = clock.tz().key  # the schedule runs in the bot's zone (BOT_TIMEZONE), like every deadline
    if raw.get("timezone", tz) != tz:
        raise JobConfigError(f"timezone: {raw['timezone']} differs from BOT_TIMEZONE ({tz}); set BOT_TIMEZONE instead")
    jobs: dict[str, JobSpec] = {}
    for name, entry in (raw.get("jobs") or {}).items():
        entry = entry or {}
        target = entry.get("target") or BUILTIN.get(name)
        if not target or ":" not in target:
            raise JobConfigError(f"jobs.{name}: unknown job (no built-in and no `target: module:function`)")
        cron = dict(entry.get("cron") or {})
        bad = set(cron) - set(CRON_FIELDS)
        if not cron or bad:
            raise JobConfigError(f"jobs.{name}.cron: needs fields among {', '.join(CRON_FIELDS)}"
                                 + (f" (unknown: {', '.join(sorted(bad))})" if bad else ""))
        style = entry.get("style", "runtime")
        if style not in ("runtime", "session"):
            raise JobConfigError(f"jobs.{name}.style: runtime or session")
        spec = JobSpec(name, target, cron, dict(entry.get("params") or {}), style, bool(entry.get("enabled", True)),
                       float(entry.get("catchup_hours", raw.get("catchup_hours", 48))))
        try:
            spec.trigger(ZoneInfo(tz))
        except ValueError as exc:
            raise JobConfigError(f"jobs.{name}.cron: {exc}") from exc
        jobs[name] = spec
    return JobsConfig(tz, jobs, int(raw.get("misfire_grace_seconds", 3600)))


def config_of(runtime) -> JobsConfig:
    return load_config(runtime.settings.JOBS_FILE)


def _call(spec: JobSpec, fn: Callable, runtime, as_of: datetime) -> JobResult:
    params = dict(spec.params)
    accepted = inspect.signature(fn).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        params = {k: v for k, v in params.items() if k in accepted}
    if spec.style == "session":
        with runtime.db.session() as s:
            out = fn(s, runtime, as_of, **params)
    else:
        out = fn(runtime, as_of, **params)
    if isinstance(out, JobResult):
        return out
    result = JobResult(spec.name, as_of)
    if isinstance(out, int):
        result.notices = out
    elif isinstance(out, (list, tuple, set)):
        result.details["items"] = len(out)
    elif out is not None:
        result.details["result"] = str(out)
    return result


def run_job(runtime, spec: JobSpec, as_of: datetime, *, record: bool = True, lock_wait: float = 600,
            isolate: bool = False) -> JobResult:
    """Run one job as of `as_of` (aware), recording a JobRun; errors are recorded and re-raised.

    `isolate`: a job that asks for it (`fn.child_process`) runs in a child process (bot.jobs.child), which
    must finish within `lock_wait` seconds (the lock's time); the lock, the JobRun row, the metrics and
    the log line stay here, so a child that dies is a failed run like any other."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    from bot.jobs import child  # not at import: `python -m bot.jobs.child` imports this package first

    fn = spec.resolve()
    if fn is None:
        raise LookupError(f"job {spec.name}: {spec.target} is not available in this build")
    started = utcnow()
    error: Optional[str] = None
    result = JobResult(spec.name, as_of)
    clock_started = time.monotonic()
    try:
        with runtime.kv.lock(f"job:{spec.name}", timeout=lock_wait, wait=lock_wait):
            if isolate and child.wanted(fn, runtime):
                result = child.run(runtime, spec, as_of, timeout=lock_wait)
            else:
                result = _call(spec, fn, runtime, as_of)
    except Exception:
        error = traceback.format_exc(limit=5)
        log.exception("job %s as of %s failed", spec.name, as_of.isoformat())
        raise
    finally:
        metrics.JOB_SECONDS.labels(spec.name).observe(time.monotonic() - clock_started)
        metrics.JOB_RUNS.labels(spec.name, "failed" if error else "ok").inc()
        metrics.JOB_NOTICES.labels(spec.name).inc(result.notices or 0)
        if record:
            with runtime.db.session() as s:
                s.add(JobRun(job=spec.name, as_of=as_of, started_at=started, finished_at=utcnow(),
                             notices=result.notices, error=error))
    log.info("%s", result)
    return result


class _Rehearsal:
    """A stand-in for `runtime.db` whose sessions roll back: what a job would queue is read back inside
    each session (it sees its own inserts) and then undone, with everything else the job wrote."""

    def __init__(self, db, floor: int):
        self._db, self._floor = db, floor
        self.notices: list[dict] = []

    def __getattr__(self, name):  # engine, Session, is_sqlite, url … are the real database's
        return getattr(self._db, name)

    @contextmanager
    def session(self):
        s = self._db.Session()
        try:
            yield s
            s.flush()
            for n in s.scalars(select(Notice).where(Notice.id > self._floor).order_by(Notice.id)):
                self.notices.append(dict(key=n.key, channel=n.channel, target_kind=n.target_kind,
                                         target=n.target, msgtype=n.msgtype, payload=dict(n.payload or {})))
        finally:
            s.rollback()
            s.close()


def rehearse(runtime, spec: JobSpec, as_of: datetime) -> tuple[JobResult, list[dict]]:
    """Run a job as of `as_of` and undo it: (its result, the notices it would have queued). Nothing is
    written (no notice, no ledger change, no JobRun). A job whose later session depends on an earlier
    one's commit sees the earlier one undone (none of the built-in jobs does)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    fn = spec.resolve()
    if fn is None:
        raise LookupError(f"job {spec.name}: {spec.target} is not available in this build")
    with runtime.db.session() as s:
        floor = s.scalar(select(func.max(Notice.id))) or 0
    rehearsal = _Rehearsal(runtime.db, floor)
    shadow = copy.copy(runtime)
    shadow.db = rehearsal
    with runtime.kv.lock(f"job:{spec.name}", timeout=600, wait=600):
        result = _call(spec, fn, shadow, as_of)
    return result, rehearsal.notices


def last_runs(runtime) -> dict[str, JobRun]:
    """The latest successful run (by as_of) of each job."""
    with runtime.db.session() as s:
        latest = (select(JobRun.job, func.max(JobRun.as_of).label("as_of"))
                  .where(JobRun.error.is_(None)).group_by(JobRun.job).subquery())
        rows = s.scalars(select(JobRun).join(latest, (JobRun.job == latest.c.job) & (JobRun.as_of == latest.c.as_of)))
        return {r.job: r for r in rows}


def last_fire_time(spec: JobSpec, tz: ZoneInfo, now: datetime, lookback: timedelta) -> Optional[datetime]:
    """The latest time the cron trigger fired at or before `now`, no further back than `lookback`.

    APScheduler triggers only look forward, so this searches backwards in doubling windows and then
    walks forward inside the first window that holds a fire time (a few steps for any cron)."""
    trigger = spec.trigger(tz)
    horizon = now - lookback
    window = timedelta(minutes=1)
    while True:
        start = max(now - window, horizon)
        t = trigger.get_next_fire_time(None, start)
        if t is not None and t <= now:
            while True:
                nxt = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
                if nxt is None or nxt > now:
                    return t
                t = nxt
        if start == horizon:
            return None
        window *= 2


def has_run_since(runtime, name: str, moment: datetime) -> bool:
    with runtime.db.session() as s:
        return s.scalar(select(JobRun.id).where(JobRun.job == name, JobRun.as_of >= moment,
                                                JobRun.error.is_(None)).limit(1)) is not None


def catch_up(runtime, config: Optional[JobsConfig] = None, now: Optional[datetime] = None, *,
             isolate: bool = False) -> list[JobResult]:
    """After downtime: each enabled job whose last scheduled time (within its `catchup_hours`) has no
    successful run since is run once, as of that time (reconcilers make one catch-up run enough: one
    notice, not a burst). `isolate`: as `run_job`'s (the schedulers' catch-up)."""
    config = config or config_of(runtime)
    now = now or runtime.now()
    done = []
    for spec in config.jobs.values():
        if not spec.enabled or spec.resolve() is None:
            continue
        fired = last_fire_time(spec, config.tz, now, timedelta(hours=spec.catchup_hours))
        if fired is None or has_run_since(runtime, spec.name, fired):
            continue
        log.info("catch-up: %s missed its run at %s", spec.name, fired.isoformat())
        try:
            done.append(run_job(runtime, spec, fired, isolate=isolate))
        except Exception:  # recorded in JobRun; the other jobs still catch up
            pass
    return done


def describe(spec: JobSpec) -> str:
    return " ".join(f"{k}={spec.cron[k]}" for k in CRON_FIELDS if k in spec.cron)


__all__ = ["BUILTIN", "JobConfigError", "JobResult", "JobSpec", "JobsConfig", "catch_up", "config_of",
           "describe", "last_fire_time", "last_runs", "load_config", "run_job"]
