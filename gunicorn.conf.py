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
from config.settings import ServerSettings

_env = ServerSettings.load()
bind = f"{_env.HOST}:{_env.PORT}"
workers = _env.WEB_CONCURRENCY
worker_class = "gthread"
threads = _env.WEB_THREADS
timeout = _env.WEB_TIMEOUT
graceful_timeout = 20
keepalive = 5
backlog = 2048
preload_app = False
accesslog = _env.WEB_ACCESS_LOG
errorlog = "-"
loglevel = _env.LOG_LEVEL


def _sender_wanted() -> bool:
    mode = _env.OUTBOX_SENDER_IN_WEB
    if mode in ("1", "true", "yes", "on"):
        return True
    if mode in ("0", "false", "no", "off"):
        return False
    return bool(_env.REDIS_URL) or workers == 1


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


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, drop the gauges of a worker that is gone (bot.infra.metrics)."""
    if _env.PROMETHEUS_MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
