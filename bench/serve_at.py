"""`python -m bot serve` whose bot clock starts at SURGE_START (env, ISO 8601) and runs on from there, for the
benchmarks of the embedded process (bench/surge.py --serve): its scheduler's catch-up at start is then the
same whatever the real date (the monthly report of the month before included, when SURGE_START is within
10 days of the 1st). Imports nothing but the bot, so the process measured is `serve` as shipped.

    SURGE_START=2026-12-05T17:00:00+08:00 python -m bench.serve_at serve --port 5000
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta


def make_app():
    from bot import create_app

    app = create_app()
    rt = app.extensions["bot"]
    start = datetime.fromisoformat(os.environ["SURGE_START"])
    wall0 = time.time()

    class Shifted:
        tz = rt.clock.tz
        fixed = None

        def now(self):
            return (start + timedelta(seconds=time.time() - wall0)).astimezone(self.tz)

        def set(self, moment):
            raise RuntimeError("the benchmark's clock cannot be set")

    rt.clock = Shifted()
    return app


if __name__ == "__main__":
    from flask.cli import FlaskGroup

    from bot.infra.observe import configure_logging

    configure_logging("info", "text")
    FlaskGroup(create_app=make_app, add_default_commands=False).main(prog_name="bench.serve_at")
