"""Prometheus metrics (the official client, prometheus_client), scraped at GET /metrics.

Counters and histograms are updated where things happen (the runtime, the sender, the job runner, the
conversation engine); the outbox depth is read from the database at scrape time (any process may have
queued the notices). Under gunicorn every worker is its own process: set PROMETHEUS_MULTIPROC_DIR to an
empty directory, writable by the workers and wiped at each start, and /metrics adds up all of them
(prometheus_client's multiprocess mode). Labels carry channels, results, job and flow names and error
codes — never a user id or message text.
"""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CALLBACKS = Counter("bot_callbacks_total", "Incoming messages by channel and result", ["channel", "result"])
REPLY_SECONDS = Histogram("bot_reply_seconds", "Time from receiving a message to its reply",
                          ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30))
OUTBOX_FAILURES = Counter("bot_outbox_failures_total", "Delivery attempts that failed, by channel and error code",
                          ["channel", "code"])
OUTBOX_SENT = Counter("bot_outbox_sent_total", "Notices delivered, by channel", ["channel"])
JOB_SECONDS = Histogram("bot_job_seconds", "Duration of scheduled job runs", ["job"],
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900))
JOB_NOTICES = Counter("bot_job_notices_total", "Notices queued by job runs", ["job"])
JOB_RUNS = Counter("bot_job_runs_total", "Job runs by job and outcome", ["job", "outcome"])
CONVERSATION_STEPS = Counter("bot_conversation_steps_total", "Answers to step-by-step forms, by flow and outcome",
                             ["flow", "outcome"])


def error_code(message: str | None) -> str:
    """A failure's platform error code for a label: the leading number of `last_error` ("93000: …",
    "HTTP 503"), else its first word; bounded so a label never carries free text."""
    text = (message or "").strip()
    if text.startswith("gave up after"):
        text = text.split(":", 1)[1].strip() if ":" in text else ""
    head = text.replace("[", " ").replace("]", " ").split()
    if not head:
        return "unknown"
    first = head[0].rstrip(":")
    if first == "HTTP" and len(head) > 1:
        return "http_" + head[1].rstrip(":")[:8]
    if first.lstrip("-").isdigit():
        return first[:12]
    return "".join(c for c in first if c.isalnum() or c == "_")[:32] or "unknown"


class OutboxCollector:
    """The outbox depth, read at scrape time: notices by channel and state."""

    def __init__(self, runtime):
        self.runtime = runtime

    def collect(self):
        from sqlalchemy import func, select

        from models import Notice

        family = GaugeMetricFamily("bot_outbox_notices", "Notices in the outbox by channel and state",
                                   labels=["channel", "state"])
        try:
            with self.runtime.db.session() as s:
                rows = s.execute(select(Notice.channel, Notice.state, func.count())
                                 .group_by(Notice.channel, Notice.state)).all()
        except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
            rows = []
        for channel, state, n in rows:
            family.add_metric([channel or "", state], n)
        yield family


def exposition(runtime) -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    from prometheus_client import REGISTRY

    registry = CollectorRegistry()
    if runtime.settings.PROMETHEUS_MULTIPROC_DIR:  # prometheus_client reads the same variable itself
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    db_registry = CollectorRegistry()
    db_registry.register(OutboxCollector(runtime))
    return body + generate_latest(db_registry), CONTENT_TYPE_LATEST
