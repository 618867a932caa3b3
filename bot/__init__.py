"""大调度·大督查 chatbot: the Flask app factory."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from flask import Flask

from config.settings import Settings


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the web app: settings from the environment, then `config` overrides."""
    from bot.channels.dingtalk import callback as dingtalk
    from bot.channels.wecom import callback as wecom
    from bot.core.runtime import Runtime
    from bot.delivery.sender import load_transports
    from bot.domain import periods, workdays
    from bot.tools.cli import register
    from bot.web import board
    from bot.web.health import health_bp
    from handlers import build_router

    settings = Settings.load(config)
    if settings.LOG_FORMAT == "json":
        from bot.infra.observe import configure_logging

        configure_logging("info", "json")
    workdays.configure(settings.CALENDAR_FILE)
    periods.set_deadline_rule(settings.DEADLINE_ON_NON_WORKING_DAY)
    app = Flask(__name__, instance_path=settings.INSTANCE_DIR)
    app.config.from_mapping(settings.as_dict())
    app.config["MAX_CONTENT_LENGTH"] = settings.MAX_BODY_BYTES
    load_transports()  # every process built here (serve, scheduler, outbox run) can deliver on every channel
    runtime = Runtime(settings, build_router())
    app.extensions["bot"] = runtime
    app.register_blueprint(health_bp)
    app.register_blueprint(wecom.bp)
    app.register_blueprint(dingtalk.bp)
    board.init_app(app, settings)
    register(app)
    return app

