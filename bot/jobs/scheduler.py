"""The scheduler: APScheduler 3.11 cron triggers (config/jobs.yaml, Asia/Shanghai) for the jobs of
bot/jobs, plus the catch-up after downtime, and the command line:

    python -m bot scheduler                       # scheduler + outbox sender in one process
    python -m bot jobs list [--now ISO]           # jobs, their cron, next and last run
    python -m bot jobs run NAME|all --now ISO [--dry-run]  # one job (or all, in order) as of that moment
    python -m bot healthcheck scheduler           # exit 0 while the scheduler's heartbeat is fresh

`serve` runs the same scheduler in-process through `start_embedded(runtime)`. Both run a heavy job (one
whose function carries `child_process = True`: the monthly report) in a short-lived child process
(bot.jobs.child), so its libraries (matplotlib, python-docx …) never stay in their memory.
Exactly-once does not depend on the scheduler: every notice has a unique key, so two schedulers, a
restart or a manual re-run never send anything twice. APScheduler coalesces runs it missed while
the process was up; `bot.jobs.catch_up` covers the time the process was down (one run per job).
"""
from __future__ import annotations

import importlib
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

import click
from flask.cli import AppGroup, with_appcontext

from bot.jobs import BUILTIN, JobConfigError, JobsConfig, catch_up, config_of, describe, last_runs, rehearse, run_job

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30
HEARTBEAT_FILE = "scheduler.heartbeat"  # under INSTANCE_DIR; read by `healthcheck scheduler`


def heartbeat_path(runtime) -> Path:
    return Path(runtime.settings.INSTANCE_DIR) / HEARTBEAT_FILE


def write_heartbeat(runtime) -> None:
    """Say the scheduler is alive: the time, written by one of its own jobs (so a dead scheduler thread,
    not only a dead process, shows as stale)."""
    path = heartbeat_path(runtime)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(datetime.now(UTC).isoformat())
    tmp.replace(path)


def heartbeat_age(runtime, now: Optional[datetime] = None) -> Optional[float]:
    """Seconds since the last heartbeat, or None if there is none."""
    try:
        beat = datetime.fromisoformat(heartbeat_path(runtime).read_text().strip())
    except (OSError, ValueError):
        return None
    return ((now or datetime.now(UTC)) - beat).total_seconds()


class Scheduler:
    """The jobs of `config` on an APScheduler BackgroundScheduler; `stop()` ends it."""

    def __init__(self, runtime, config: Optional[JobsConfig] = None, isolate: bool = True):
        """`isolate`: run heavy jobs in a child process (bot.jobs.child); False only for tests."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self.runtime = runtime
        self.config = config or config_of(runtime)
        self.isolate = isolate
        self.aps = BackgroundScheduler(timezone=self.config.tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": self.config.misfire_grace_seconds})
        self.jobs = []
        self._catchup_thread: Optional[threading.Thread] = None
        for spec in self.config.jobs.values():
            if not spec.enabled:
                continue
            if spec.resolve() is None:
                log.warning("job %s disabled: %s is not in this build", spec.name, spec.target)
                continue
            self.jobs.append(self.aps.add_job(self._fire, spec.trigger(self.config.tz), args=[spec.name],
                                              id=spec.name, name=spec.name, replace_existing=True))

    def _fire(self, name: str) -> None:
        try:
            run_job(self.runtime, self.config.jobs[name], self.runtime.now(), isolate=self.isolate)
        except Exception:  # logged and recorded in JobRun by run_job; the scheduler keeps going
            pass

    def _catch_up(self) -> None:
        try:
            catch_up(self.runtime, self.config, isolate=self.isolate)
        except Exception:
            log.exception("catch-up failed")

    def _beat(self) -> None:
        try:
            write_heartbeat(self.runtime)
        except OSError:
            log.exception("cannot write the scheduler heartbeat")

    def start(self, catchup: bool = True) -> Scheduler:
        """Start the cron triggers and the heartbeat, and the catch-up in a thread of its own. No job's
        warm-up runs here: a job that has one (matplotlib and the CJK font) runs in a child process, which
        warms up itself (bot.jobs.child)."""
        self.aps.add_job(self._beat, "interval", seconds=HEARTBEAT_SECONDS, id="_heartbeat",
                         next_run_time=datetime.now(UTC))
        self.aps.start()
        if catchup:  # once, now, beside the scheduler (not an APScheduler date job: those race shutdown)
            self._catchup_thread = threading.Thread(target=self._catch_up, name="jobs-catch-up", daemon=True)
            self._catchup_thread.start()
        log.info("scheduler started with %d job(s)", len(self.jobs))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=True)
        if self._catchup_thread is not None and self._catchup_thread is not threading.current_thread():
            self._catchup_thread.join(timeout)

    def next_runs(self) -> dict[str, Optional[datetime]]:
        return {j.id: j.next_run_time for j in self.aps.get_jobs() if j.id != "_heartbeat"}


def start_embedded(runtime) -> Scheduler:
    """Start the scheduler in this process (the embedded `serve`); returns it (`.stop()`)."""
    return Scheduler(runtime).start()


# -- command line ------------------------------------------------------------------------------------

@click.command("healthcheck")
@click.argument("what", type=click.Choice(["scheduler"]))
@click.option("--max-age", default=3 * HEARTBEAT_SECONDS, show_default=True, type=float,
              help="Seconds since the last heartbeat above which the scheduler counts as down.")
@with_appcontext
def healthcheck_command(what: str, max_age: float) -> None:
    """Exit 0 if the scheduler process beats (its container's HEALTHCHECK), else 1."""
    age = heartbeat_age(_rt())
    if age is None or age > max_age:
        click.echo("scheduler: no heartbeat" if age is None else f"scheduler: last heartbeat {age:.0f} s ago", err=True)
        raise SystemExit(1)
    click.echo(f"scheduler: alive ({age:.0f} s ago)")


jobs_group = AppGroup("jobs", help="Scheduled jobs: list them, run one as of a moment.")


def _rt():
    from flask import current_app

    return current_app.extensions["bot"]


def _config(rt) -> JobsConfig:
    try:
        return config_of(rt)
    except (JobConfigError, OSError) as exc:
        raise click.ClickException(f"{rt.settings.JOBS_FILE}: {exc}") from exc


def parse_moment(value: Optional[str], rt) -> datetime:
    """`--now` as ISO 8601 (an offset is expected; a naive time is taken as Asia/Shanghai)."""
    if not value:
        return rt.now()
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {value!r} (e.g. 2026-12-05T18:00+08:00)",
                                 param_hint="--now") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=rt.tz)
    return moment.astimezone(rt.tz)


@jobs_group.command("list")
@click.option("--now", "now_text", default=None, help="Show next runs after this moment (ISO 8601).")
def list_command(now_text: Optional[str]) -> None:
    """Each job: schedule, next run time, last run and its notices."""
    rt = _rt()
    config = _config(rt)
    now = parse_moment(now_text, rt)
    last = last_runs(rt)
    click.echo(f"{'job':<18} {'schedule':<28} {'next run':<26} last run (as of) / notices")
    for spec in config.jobs.values():
        available = spec.resolve() is not None
        if not spec.enabled:
            nxt = "disabled"
        elif not available:
            nxt = "unavailable in this build"
        else:
            t = spec.trigger(config.tz).get_next_fire_time(None, now)
            nxt = t.isoformat(timespec="minutes") if t else "never"
        run = last.get(spec.name)
        tail = f"{run.as_of.astimezone(config.tz).isoformat(timespec='minutes')} / {run.notices}" if run else "never"
        click.echo(f"{spec.name:<18} {describe(spec):<28} {nxt:<26} {tail}")


@jobs_group.command("run")
@click.argument("name")
@click.option("--now", "now_text", default=None, help="Run as of this moment, e.g. 2026-12-05T18:00+08:00.")
@click.option("--dry-run", is_flag=True, help="Show what would be queued; queue and change nothing.")
def run_command(name: str, now_text: Optional[str], dry_run: bool) -> None:
    """Run job NAME (or `all`, in schedule order) once as of --now (default: now)."""
    rt = _rt()
    config = _config(rt)
    as_of = parse_moment(now_text, rt)
    if name == "all":
        order = list(BUILTIN) + [n for n in config.jobs if n not in BUILTIN]
        specs = [config.jobs[n] for n in order if n in config.jobs and config.jobs[n].enabled
                 and config.jobs[n].resolve() is not None]
    elif name in config.jobs:
        specs = [config.jobs[name]]
        if specs[0].resolve() is None:
            raise click.ClickException(f"job {name}: {specs[0].target} is not available in this build")
    else:
        raise click.ClickException(f"unknown job {name!r}; known: {', '.join(config.jobs)}, all")
    failed = False
    for spec in specs:
        if dry_run:
            result, queued = rehearse(rt, spec, as_of)
            click.echo(f"[dry run] {result}")
            for n in queued:
                first = (n["payload"].get("content") or n["payload"].get("filename") or "").split("\n")[0]
                click.echo(f"  would queue {n['key']} → {n['target_kind']} {n['target']} "
                           f"({n['channel']}): {first[:60]}")
            continue
        try:
            click.echo(str(run_job(rt, spec, as_of)))
        except Exception as exc:  # recorded in JobRun
            failed = True
            click.echo(f"{spec.name} as of {as_of.isoformat()}: failed: {exc}", err=True)
    if failed:
        raise SystemExit(1)


@click.command("scheduler")
@click.option("--sender/--no-sender", default=True, show_default=True, help="Also run the outbox sender.")
@click.option("--catch-up/--no-catch-up", "catchup", default=True, show_default=True,
              help="Run jobs whose last scheduled time passed while no scheduler was running.")
def scheduler_command(sender: bool, catchup: bool) -> None:
    """Run the scheduled jobs (and the outbox sender) in the foreground until stopped."""
    rt = _rt()
    _config(rt)
    stop = threading.Event()
    workers = []
    if sender:
        try:
            outbox_sender = importlib.import_module("bot.delivery.sender")
            outbox_sender.say_what_is_not_configured(rt.settings, click.echo)
            workers.append(outbox_sender.start_embedded(rt))
        except ModuleNotFoundError as exc:
            if exc.name != "bot.delivery.sender":
                raise
            log.warning("no outbox sender in this build; notices stay queued")
    sched = Scheduler(rt).start(catchup=catchup)
    workers.append(sched)
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread (e.g. tests)
            pass
    click.echo(f"scheduler running {len(sched.jobs)} job(s){' and the outbox sender' if sender else ''}; "
               "Ctrl-C to stop")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for w in reversed(workers):
            w.stop()


def register_cli(app) -> None:
    app.cli.add_command(jobs_group)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(healthcheck_command)
