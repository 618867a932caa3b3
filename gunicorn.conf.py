"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py "bot:create_app()"`.

Every value can be set from the environment:
  PORT (8000), HOST (0.0.0.0), WEB_CONCURRENCY (workers, default 2 × cores + 1), WEB_THREADS (8 per
  worker), WEB_TIMEOUT (30 s), WEB_ACCESS_LOG (unset: no access log; "-": stdout),
  OUTBOX_SENDER_IN_WEB ("auto": each worker runs an outbox sender thread when REDIS_URL is set — rate
  limits are then shared and PostgreSQL claims with SKIP LOCKED — or when there is a single worker;
  "1" always; "0" never, e.g. when a separate `python -m bot outbox run` process sends).

Workers use threads (gthread): a WeCom callback mostly waits on the database, and a slow handler is
answered after PASSIVE_REPLY_SECONDS anyway. The app is not preloaded, so each worker opens its own
database pool and Redis connections after the fork.
"""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 8)
timeout = int(os.environ.get("WEB_TIMEOUT") or 30)
graceful_timeout = 20
keepalive = 5
backlog = 2048
preload_app = False
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def _sender_wanted() -> bool:
    mode = os.environ.get("OUTBOX_SENDER_IN_WEB", "auto").lower()
    if mode in ("1", "true", "yes", "on"):
        return True
    if mode in ("0", "false", "no", "off"):
        return False
    return bool(os.environ.get("REDIS_URL")) or workers == 1


def post_worker_init(worker):
    """Start this worker's outbox sender thread (see OUTBOX_SENDER_IN_WEB)."""
    if not _sender_wanted():
        return
    runtime = getattr(worker.wsgi, "extensions", {}).get("bot")
    if runtime is None:
        return
    from bot.delivery.sender import start_embedded

    start_embedded(runtime)
    worker.log.info("outbox sender started in worker %s", worker.pid)
