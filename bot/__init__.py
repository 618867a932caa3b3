"""大调度·大督查 chatbot: the Flask app factory."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask

from config.settings import Settings


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the web app: settings from the environment, then `config` overrides."""
    from bot.core import Runtime
    from bot.web import health_bp

    settings = Settings.load(config)
    app = Flask(__name__, instance_path=settings.INSTANCE_DIR)
    app.config.from_mapping(settings.as_dict())
    app.config["MAX_CONTENT_LENGTH"] = settings.MAX_BODY_BYTES
    runtime = Runtime(settings)
    app.extensions["bot"] = runtime
    app.register_blueprint(health_bp)
    from bot.channels import dingtalk, wecom

    app.register_blueprint(wecom.bp)
    app.register_blueprint(dingtalk.bp)
    from bot.cli import register

    register(app)
    return app


def get_runtime(app: Optional[Flask] = None):
    """The Runtime of `app` (or of the current app)."""
    from flask import current_app

    return (app or current_app).extensions["bot"]
