"""Plain HTTP endpoints: health."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz():
    """200 when the database (and Redis, if configured) answer; 503 otherwise."""
    runtime = current_app.extensions["bot"]
    status = {"status": "ok", "database": "ok", "redis": "disabled"}
    code = 200
    try:
        with runtime.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report, don't raise
        status.update(status="error", database=type(exc).__name__)
        code = 503
    if runtime.shared_state:
        try:
            runtime.kv.ping()
            status["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            status.update(status="error", redis=type(exc).__name__)
            code = 503
    return jsonify(status), code


@health_bp.get("/metrics")
def metrics():
    """Prometheus text format (bot.infra.metrics); 404 when METRICS_ENABLED is off. Put it behind the
    proxy's allow-list: it names no person, but it is the office's own business."""
    runtime = current_app.extensions["bot"]
    if not runtime.settings.METRICS_ENABLED:
        return "", 404
    from bot.infra.metrics import exposition

    body, content_type = exposition(runtime)
    return body, 200, {"Content-Type": content_type}
