"""The outbox sender: delivers Notice rows, each exactly once, within the platforms' rate limits.

A notice is written by the change that caused it (bot.delivery.outbox); this module claims due notices, sends
them, and records the outcome:

- **Claiming.** PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, one notice per transaction; the notice is
  sent while its row is locked and marked sent in that same transaction, so two senders never both send
  it. SQLite: a write transaction locks the whole database, so holding one across an HTTP call would stall
  every handler; instead a notice is leased (`UPDATE … SET next_attempt_at = now + LEASE WHERE … AND
  next_attempt_at <= now`, one atomic statement), sent outside any transaction, then marked. A crash leaves
  it pending (PostgreSQL: the lock dies with the connection; SQLite: the lease runs out), never lost.
  The one window no queue can close: a crash after WeCom accepted the message and before the commit.
- **Rate limits.** 20/min per robot and 30/min per member, counted in `runtime.kv` (Redis: shared by every
  process). A full window pushes `next_attempt_at` back instead of sending; it is not an attempt.
- **Failures.** Network errors, 5xx and 45009 are retried with exponential backoff (45009 waits at least a
  minute); bad keys (93000), bad users and configuration errors (40001…) fail at once; after
  OUTBOX_MAX_ATTEMPTS tries a notice is `failed` with the reason (`python -m bot outbox list`).
- **Unknown outcomes.** A send that got no answer within the timeout may have been delivered. WeCom's
  transport resends it later (app messages with WeCom's duplicate check); a transport whose platform has
  no duplicate check (`resends_unknown = False`: DingTalk) parks the notice as `unknown` — never resent
  by itself — for the operator to settle (`outbox list --state unknown`, `outbox retry`, `outbox delivered`).
- **Long content** is split with `split_utf8` at the byte limits (app text/markdown 2048, robot markdown
  4096, robot text 2048); the number of parts already delivered is kept in the payload (`_parts_sent`),
  so a retry resumes after the last delivered part instead of repeating it.

Each channel package brings its transport (`bot.channels.<name>.transport`, a `Transport`): how a notice
becomes that platform's API calls. The loop that claims, delivers and records is this one for all.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

import click
from flask.cli import AppGroup
from sqlalchemy import select, update

from bot.channels import OUTBOX_CHANNELS
from bot.channels.common import PermanentError, RetryableError, UnknownOutcome
from bot.core import replies
from bot.delivery import outbox
from bot.delivery.outbox import MENTION
from bot.infra import metrics
from models import (
    NOTICE_FAILED,
    NOTICE_PENDING,
    NOTICE_SENT,
    NOTICE_UNKNOWN,
    TARGET_GROUP,
    TARGET_USER,
    ChatGroup,
    Notice,
    Person,
    PersonIdentity,
    utcnow,
)

log = logging.getLogger(__name__)

PROGRESS = "_parts_sent"  # payload key: parts of a split notice already delivered
UNKNOWN_SINCE = "_unknown_since"  # payload key: epoch of the first send that got no answer (maybe delivered)
UNKNOWN_APP_BACKOFF = 30.0  # an app message of unknown outcome: resent (with WeCom's duplicate check) after
UNKNOWN_BACKOFF = 300.0  # a group-robot message of unknown outcome: resent (no check exists) after
LEASE_SECONDS = 120.0  # SQLite: a claimed notice is invisible to other senders this long
BACKOFF_BASE = 2.0
BACKOFF_MAX = 600.0
RATE_WINDOW = 60.0
BATCH = 50  # notices per pass
UNCONFIGURED_RECHECK_SECONDS = 300.0  # a notice for a channel without credentials looks again after this


class RateLimiter:
    """Sliding one-minute windows over `runtime.kv`: `limit` slots per name, each a key that expires a
    window after it was taken. Only `set_nx` with a TTL is needed, so the same code is exact on Redis
    (shared by every process) and in memory — hand-written because the kv interface has no counters.
    """

    def __init__(self, kv, window: float = RATE_WINDOW):
        self.kv = kv
        self.window = window

    def take(self, name: str, limit: int) -> bool:
        """Take one slot of `name`; False when `limit` were taken within the window."""
        start = random.randrange(limit)
        for i in range(limit):
            if self.kv.set_nx(f"rl:{name}:{(start + i) % limit}", "1", ttl=self.window):
                return True
        return False


@dataclass
class Job:
    """What a transport needs to deliver a notice, read while it is claimed."""

    id: int
    channel: str
    target_kind: str
    target: str
    msgtype: str
    payload: dict
    attempts: int
    robot_key: Optional[str] = None
    robot_secret: Optional[str] = None
    problem: Optional[str] = None  # known before sending (e.g. no robot key): fail with this reason
    waiting: Optional[str] = None  # known before sending, and curable by configuration: wait, try nothing
    error: Optional[str] = None  # known before sending, perhaps passing (its file could not be made): retry
    mobiles: list = field(default_factory=list)  # of the people a group message @-mentions
    user_ids: list = field(default_factory=list)  # their ids on the notice's channel


@dataclass
class Outcome:
    parts_sent: int
    done: bool = False
    error: Optional[str] = None
    permanent: bool = False
    retry_after: Optional[float] = None
    deferred: Optional[float] = None  # rate-limited: try again after this many seconds (no attempt used)
    waiting: Optional[str] = None  # why it is deferred, when it is not a rate window (shown by `outbox list`)
    unknown: bool = False  # the last part was sent and got no answer: it may have been delivered
    resend: bool = True  # with `unknown`: may the sender resend it later (False: parked as `unknown`)


class RateLimited(Exception):
    """Raised by a part that found its rate window full after all (a second call within one part)."""

    def __init__(self, per_minute: int):
        super().__init__(per_minute)
        self.per_minute = per_minute


class Transport:
    """How one channel delivers notices; each channel package has one (`bot.channels.<name>.transport`).

    `prepare(session, notice)` reads what delivery needs while the notice is claimed (a group's robot
    credentials via `robot`, the people a message @-mentions via `mentions`); `parts(job)` turns the notice
    into API calls, one callable each, in order (a callable's `rate` = (window name, per minute) is taken
    from the limiter before it runs); `deliver` is the one delivery loop, shared by every channel."""

    channel: str = ""
    target_kinds: tuple[str, ...] = (TARGET_USER, TARGET_GROUP)
    app_settings: tuple[str, ...] = ()  # what direct messages need (group robots have their own keys)
    resends_unknown: bool = True  # False: a send of unknown outcome is parked (no duplicate check to lean on)

    def __init__(self, runtime, client=None):
        self.runtime = runtime
        self._client = client
        self.limiter = RateLimiter(runtime.kv)

    @property
    def client(self):
        if self._client is None:
            self._client = self.make_client(self.runtime.settings)
        return self._client

    def make_client(self, settings):
        raise NotImplementedError

    def robot(self, job: Job, group: ChatGroup) -> None:
        """Fill in the group robot's credentials on `job` (or `job.problem`)."""
        raise NotImplementedError

    def parts(self, job: Job) -> list[Callable[[], object]]:
        raise NotImplementedError

    def prepare(self, session, notice: Notice) -> Job:
        job = Job(notice.id, notice.channel, notice.target_kind, notice.target, notice.msgtype,
                  dict(notice.payload or {}), notice.attempts)
        if notice.target_kind == TARGET_GROUP:
            group = session.scalar(select(ChatGroup).where(ChatGroup.code == notice.target))
            if group is None:
                job.problem = f"no chat group with code {notice.target!r}"
            else:
                self.robot(job, group)
            job.mobiles, job.user_ids = mentions(session, job.payload.get(MENTION) or [], self.channel)
        elif notice.target_kind not in self.target_kinds:
            job.problem = f"{self.channel} cannot deliver to a {notice.target_kind!r} target"
        elif notice.target_kind == TARGET_USER:
            missing = unconfigured(self.runtime.settings, self.app_settings)
            if missing:
                job.waiting = f"waiting: {self.channel} is not configured ({', '.join(missing)} unset)"
        return job

    def deliver(self, job: Job) -> Outcome:
        done = int(job.payload.get(PROGRESS, 0))
        if job.problem:
            return Outcome(done, error=job.problem, permanent=True)
        if job.waiting:  # no API call with empty credentials; the notice keeps its attempts
            return Outcome(done, deferred=UNCONFIGURED_RECHECK_SECONDS, waiting=job.waiting)
        if job.error:  # an attempt: retried with backoff, failed after OUTBOX_MAX_ATTEMPTS
            return Outcome(done, error=job.error)
        try:
            calls = self.parts(job)
        except (PermanentError, ValueError, KeyError, OSError) as exc:
            return Outcome(done, error=f"cannot build the message: {exc}", permanent=True)
        for call in calls[done:]:
            rate = getattr(call, "rate", None)
            if rate is not None and not self.limiter.take(rate[0], rate[1]):
                return Outcome(done, deferred=RATE_WINDOW / rate[1])
            try:
                call()
            except RateLimited as exc:
                return Outcome(done, deferred=RATE_WINDOW / exc.per_minute)
            except UnknownOutcome as exc:  # sent, unanswered: perhaps delivered (see Sender._apply)
                return Outcome(done, error=str(exc), unknown=True, resend=self.resends_unknown)
            except RetryableError as exc:
                return Outcome(done, error=str(exc), retry_after=exc.retry_after)
            except PermanentError as exc:  # ConfigError included
                return Outcome(done, error=str(exc), permanent=True)
            except (ValueError, OSError) as exc:
                return Outcome(done, error=f"{type(exc).__name__}: {exc}", permanent=True)
            done += 1
        return Outcome(done, done=True)


def unconfigured(settings, names: tuple[str, ...]) -> list[str]:
    """The settings among `names` that are empty."""
    return [n for n in names if not getattr(settings, n, None)]


def mentions(session, person_ids: list[int], channel: str) -> tuple[list[str], list[str]]:
    """(mobiles, user ids on `channel`) of the people a group message @-mentions, in their order."""
    if not person_ids:
        return [], []
    mobile = dict(session.execute(select(Person.id, Person.mobile).where(Person.id.in_(person_ids))).all())
    ident = dict(session.execute(select(PersonIdentity.person_id, PersonIdentity.external_id).where(
        PersonIdentity.person_id.in_(person_ids), PersonIdentity.channel == channel)).all())
    return ([mobile[i] for i in person_ids if mobile.get(i)], [ident[i] for i in person_ids if ident.get(i)])


def robot_window(prefix: str, token: str) -> str:
    """A rate window's name for a robot: a hash, never the credential itself."""
    return prefix + hashlib.sha256(token.encode()).hexdigest()[:16]


TRANSPORTS: dict[str, Callable] = {}


def register_transport(channel: str, factory: Callable) -> None:
    """Add a channel's transport: `factory(runtime)` with `.prepare(session, notice)` and `.deliver(job)`."""
    TRANSPORTS[channel] = factory


def load_transports() -> dict[str, Callable]:
    """Every channel's transport (each registers itself when its module is imported)."""
    for channel in OUTBOX_CHANNELS:
        importlib.import_module(f"bot.channels.{channel}.transport")
    return TRANSPORTS


def unconfigured_channels(settings) -> dict[str, list[str]]:
    """channel -> the settings its direct messages still need (only channels missing some)."""
    out = {}
    for channel, factory in load_transports().items():
        missing = unconfigured(settings, getattr(factory, "app_settings", ()))
        if missing:
            out[channel] = missing
    return out


def say_what_is_not_configured(settings, echo: Callable[[str], object]) -> None:
    """At start-up: tell the operator which channels cannot send yet (their notices wait in the outbox)."""
    for channel, missing in unconfigured_channels(settings).items():
        echo(f"{channel}: not configured ({', '.join(missing)} unset) — direct messages on {channel} wait in "
             "the outbox and nothing is sent to its API until these are set")


@dataclass
class PassStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0  # parked: sent, unanswered, not resent
    ids: list = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.deferred + self.unknown


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: 2, 4, 8 … up to 10 minutes, ±20% jitter."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class Sender:
    """Claims and delivers due notices. `now` is replaceable in tests (backoff without sleeping)."""

    def __init__(self, runtime, transports: Optional[dict] = None, now: Callable[[], datetime] = utcnow):
        self.runtime = runtime
        self.transports = transports if transports is not None else {
            ch: factory(runtime) for ch, factory in load_transports().items()}
        self.now = now
        self.max_attempts = runtime.settings.OUTBOX_MAX_ATTEMPTS

    def _due(self, now: datetime):
        return (select(Notice).where(Notice.state == NOTICE_PENDING, Notice.next_attempt_at <= now,
                                     Notice.channel.in_(list(self.transports)))
                .order_by(Notice.next_attempt_at, Notice.id))

    def run_once(self, limit: int = BATCH) -> PassStats:
        """One pass: deliver up to `limit` due notices."""
        stats = PassStats()
        one = self._one_locked if not self.runtime.db.is_sqlite else self._one_leased
        for _ in range(limit):
            if not one(stats):
                break
        return stats

    def _one_locked(self, stats: PassStats) -> bool:
        """PostgreSQL: claim, send and mark in one transaction."""
        with self.runtime.db.session() as s:
            notice = s.scalar(self._due(self.now()).limit(1).with_for_update(skip_locked=True))
            if notice is None:
                return False
            transport = self.transports[notice.channel]
            job = self._materialize(s, notice, transport.prepare(s, notice))
            outcome = self._deliver(transport, job)
            self._apply(notice, outcome, stats)
        return True

    def _one_leased(self, stats: PassStats) -> bool:
        """SQLite: lease with one atomic UPDATE, send outside the transaction, then mark."""
        with self.runtime.db.session() as s:
            now = self.now()
            candidates = s.scalars(self._due(now).with_only_columns(Notice.id).limit(5)).all()
            job = transport = None
            for nid in candidates:
                claimed = s.execute(update(Notice).where(
                    Notice.id == nid, Notice.state == NOTICE_PENDING, Notice.next_attempt_at <= now,
                ).values(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS))).rowcount
                if claimed:
                    notice = s.get(Notice, nid)
                    transport = self.transports[notice.channel]
                    job = self._materialize(s, notice, transport.prepare(s, notice))
                    break
        if job is None:
            return False
        outcome = self._deliver(transport, job)
        with self.runtime.db.session() as s:
            notice = s.get(Notice, job.id)
            if notice is not None and notice.state == NOTICE_PENDING:
                self._apply(notice, outcome, stats)
        return True

    def _materialize(self, session, notice: Notice, job: Job) -> Job:
        """A file made at send time (outbox.RENDERERS) is made now, while the notice is claimed, once: its
        path is kept in the notice, so a later attempt sends the same file. A failure to make it is an
        attempt that failed (retried with backoff); its savepoint keeps the claim's transaction usable."""
        payload = job.payload
        if outbox.RENDER not in payload or job.problem or job.waiting:
            return job
        path = payload.get(outbox.PATH)
        if path and Path(path).is_file():
            return job
        try:
            with session.begin_nested():
                path = outbox.render_file(session, self.runtime.settings, notice.id, payload)
        except Exception as exc:  # noqa: BLE001 - a file that cannot be made must not stop the sender
            log.exception("notice %s: cannot make its file", notice.id, extra={"request_id": notice.request_id or "-"})
            job.error = f"cannot make the file {payload.get('filename')!r}: {type(exc).__name__}: {exc}"
            return job
        payload[outbox.PATH] = path
        notice.payload = {**(notice.payload or {}), outbox.PATH: path}
        return job

    @staticmethod
    def _deliver(transport, job: Job) -> Outcome:
        try:
            return transport.deliver(job)
        except Exception as exc:  # noqa: BLE001 - a bug in a transport must not kill the sender
            log.exception("transport crashed on notice %s", job.id)
            return Outcome(int(job.payload.get(PROGRESS, 0)), error=f"{type(exc).__name__}: {exc}")

    def _apply(self, notice: Notice, out: Outcome, stats: PassStats) -> None:
        now = self.now()
        if out.parts_sent != int((notice.payload or {}).get(PROGRESS, 0)):
            notice.payload = {**notice.payload, PROGRESS: out.parts_sent}
        stats.ids.append(notice.id)
        if out.done:
            notice.state, notice.sent_at, notice.last_error = NOTICE_SENT, now, None
            notice.next_attempt_at = now
            stats.sent += 1
            metrics.OUTBOX_SENT.labels(notice.channel).inc()
            return
        if out.deferred is not None:
            notice.next_attempt_at = now + timedelta(seconds=out.deferred)
            if out.waiting and notice.last_error != out.waiting:
                notice.last_error = out.waiting
            stats.deferred += 1
            return
        notice.attempts += 1
        notice.last_error = (out.error or "unknown error")[:2000]
        metrics.OUTBOX_FAILURES.labels(notice.channel, metrics.error_code(out.error)).inc()
        if out.unknown and not out.resend:
            # Perhaps delivered, and the platform cannot drop a duplicate: a resend could deliver it twice,
            # not resending could lose it. Neither is decided here: parked for the operator, who asks the
            # recipient and then resends (`outbox retry`) or settles it (`outbox delivered`).
            notice.state = NOTICE_UNKNOWN
            notice.last_error = (f"unknown outcome, not resent (part {out.parts_sent + 1}): {notice.last_error}"
                                 )[:2000]
            stats.unknown += 1
            log.warning("notice %s: outcome unknown, parked: %s", notice.id, notice.last_error,
                        extra={"request_id": notice.request_id or "-"})
            return
        if out.permanent or notice.attempts >= self.max_attempts:
            if not out.permanent:
                notice.last_error = f"gave up after {notice.attempts} attempts: {notice.last_error}"[:2000]
            notice.state = NOTICE_FAILED
            stats.failed += 1
            log.warning("notice %s failed: %s", notice.id, notice.last_error,
                        extra={"request_id": notice.request_id or "-"})
            return
        delay = max(backoff(notice.attempts), out.retry_after or 0.0)
        if out.unknown:
            # Not a failure: WeCom may have delivered it and answered late. Wait for a slow success to
            # have landed and remember since when, so the resend of an app message asks WeCom's duplicate
            # check to drop it if it did; a group robot has no such check, so it waits much longer
            # (what remains is the gap of docs/wecom.md).
            if UNKNOWN_SINCE not in (notice.payload or {}):
                notice.payload = {**(notice.payload or {}), UNKNOWN_SINCE: time.time()}
            delay = max(delay, UNKNOWN_APP_BACKOFF if notice.target_kind == TARGET_USER else UNKNOWN_BACKOFF)
        notice.next_attempt_at = now + timedelta(seconds=delay)
        stats.retried += 1


class SenderThread(threading.Thread):
    """The sender as a daemon thread of this process; `stop()` ends it after the current pass."""

    def __init__(self, runtime, poll: Optional[float] = None, sender: Optional[Sender] = None):
        super().__init__(name="outbox-sender", daemon=True)
        self.sender = sender or Sender(runtime)
        self.poll = runtime.settings.OUTBOX_POLL_SECONDS if poll is None else poll
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                replies.drain_inbox(self.sender.runtime)  # messages whose handler died after their ack
            except Exception:  # noqa: BLE001 - the database is away: next pass
                log.exception("inbox pass failed")
            try:
                stats = self.sender.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database is restarting: try again later
                log.exception("outbox pass failed")
                stats = PassStats()
            if stats.handled < BATCH:
                self._stop_event.wait(self.poll)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)


def start_embedded(runtime) -> SenderThread:
    """Start the sender as a daemon thread (the single-process default, or one per gunicorn worker)."""
    thread = SenderThread(runtime)
    thread.start()
    return thread


# -- command line ----------------------------------------------------------------------------------

outbox_group = AppGroup("outbox", help="The outbox of outbound messages.")


def _rt():
    from flask import current_app

    return current_app.extensions["bot"]


@outbox_group.command("list")
@click.option("--state", type=click.Choice([NOTICE_PENDING, NOTICE_SENT, NOTICE_FAILED, NOTICE_UNKNOWN]),
              default=None)
@click.option("--limit", default=50, show_default=True, type=int)
def list_command(state: Optional[str], limit: int) -> None:
    """Newest notices first, with state, attempts and the last error."""
    with _rt().db.session() as s:
        q = select(Notice).order_by(Notice.id.desc()).limit(limit)
        if state:
            q = q.where(Notice.state == state)
        rows = s.scalars(q).all()
    if not rows:
        click.echo("no notices")
        return
    click.echo(f"{'id':>6}  {'state':<8} {'try':>3}  {'channel':<8} {'target':<24} {'type':<9} next/sent (UTC)"
               "      content / error")
    for n in rows:
        when = n.sent_at if n.state == NOTICE_SENT else n.next_attempt_at
        content = str((n.payload or {}).get("content") or (n.payload or {}).get("title")
                      or (n.payload or {}).get("subject") or "")
        waiting = n.state == NOTICE_PENDING and (n.last_error or "").startswith("waiting:")
        tail = n.last_error if n.state in (NOTICE_FAILED, NOTICE_UNKNOWN) or waiting else " ".join(content.split())[:40]
        click.echo(f"{n.id:>6}  {n.state:<8} {n.attempts:>3}  {n.channel:<8} {n.target_kind + ':' + n.target:<24.24} "
                   f"{n.msgtype:<9} {when:%Y-%m-%d %H:%M:%S}  {tail}")


@outbox_group.command("send-pending")
def send_pending_command() -> None:
    """One pass of the sender: deliver what is due now."""
    stats = Sender(_rt()).run_once(limit=10_000)
    click.echo(f"sent {stats.sent}, retry later {stats.retried}, rate-limited {stats.deferred}, "
               f"failed {stats.failed}, unknown outcome {stats.unknown}")


@outbox_group.command("run")
def run_command() -> None:
    """Run the sender in the foreground (a dedicated sender process)."""
    thread = start_embedded(_rt())
    click.echo("outbox sender running; Ctrl-C to stop")
    try:
        while thread.is_alive():
            thread.join(1.0)
    except KeyboardInterrupt:
        thread.stop()


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed notice.")
def retry_command(ids: tuple[int, ...], all_failed: bool) -> None:
    """Make failed notices pending again (e.g. after fixing a robot key or the secret); by ID also a
    notice of unknown outcome that the recipient did not get."""
    from bot.infra import audit

    if not ids and not all_failed:
        raise click.UsageError("give notice IDs or --all-failed")
    with _rt().db.session() as s:
        q = select(Notice).where(Notice.state.in_([NOTICE_FAILED] if all_failed else [NOTICE_FAILED,
                                                                                          NOTICE_UNKNOWN]))
        if not all_failed:
            q = q.where(Notice.id.in_(ids))
        rows = s.scalars(q).all()
        missing = set(ids) - {n.id for n in rows}
        for n in rows:
            before = {"state": n.state, "attempts": n.attempts, "last_error": n.last_error}
            n.state, n.attempts, n.next_attempt_at = NOTICE_PENDING, 0, utcnow()
            audit.record(s, actor="system:cli", action="outbox.retry", entity="notice", entity_id=n.id,
                         before=before, after={"state": n.state, "attempts": 0})
    for nid in sorted(missing):
        click.echo(f"notice {nid}: not found, or neither failed nor unknown", err=True)
    click.echo(f"{len(rows)} notice(s) queued again")
    if missing:
        raise SystemExit(1)


@outbox_group.command("delivered")
@click.argument("ids", nargs=-1, type=int, required=True)
def delivered_command(ids: tuple[int, ...]) -> None:
    """Settle notices of unknown outcome that the recipient did get: marked sent, never resent."""
    from bot.infra import audit

    with _rt().db.session() as s:
        rows = s.scalars(select(Notice).where(Notice.state == NOTICE_UNKNOWN, Notice.id.in_(ids))).all()
        for n in rows:
            n.state, n.sent_at = NOTICE_SENT, utcnow()
            audit.record(s, actor="system:cli", action="outbox.delivered", entity="notice", entity_id=n.id,
                         before={"state": NOTICE_UNKNOWN, "last_error": n.last_error}, after={"state": n.state})
    for nid in sorted(set(ids) - {n.id for n in rows}):
        click.echo(f"notice {nid}: not found or not of unknown outcome", err=True)
    click.echo(f"{len(rows)} notice(s) marked delivered")
    if len(rows) != len(set(ids)):
        raise SystemExit(1)


def register_cli(app) -> None:
    app.cli.add_command(outbox_group)
