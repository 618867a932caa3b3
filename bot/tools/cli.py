"""Command line: `python -m bot …` or `flask --app bot …` (the same commands)."""
from __future__ import annotations

import importlib
import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

log = logging.getLogger(__name__)

db_group = AppGroup("db", help="Database schema (Alembic migrations).")

# Modules that add their own commands with a `register_cli(app)` function.
COMMAND_MODULES = ("bot.delivery.sender", "bot.tools.simulator", "bot.jobs.scheduler", "bot.tools.backup")


def runtime():
    return current_app.extensions["bot"]


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema (SQLite or PostgreSQL)."""
    from bot.infra.db import upgrade

    upgrade(runtime().settings.DATABASE_URL, revision)
    click.echo(f"database at revision {revision}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """(Developers) autogenerate a migration from models/ changes."""
    from alembic import command

    from bot.infra.db import alembic_config

    command.revision(alembic_config(runtime().settings.DATABASE_URL), message=message, autogenerate=True)


@click.command("seed")
@click.argument("path")
@click.option("--reason", default=None, help="Why a unit's liaison changes (required for such a change).")
@click.option("--if-empty", is_flag=True,
              help="Only into a database with no org chart yet (the first start; later changes are the office's).")
@click.option("--to", "to", default=None, type=click.Path(dir_okay=False),
              help="With `seed export`: write the YAML to this file (default: standard output).")
@with_appcontext
def seed_command(path: str, reason: str | None, if_empty: bool, to: str | None) -> None:
    """Load an org chart YAML (idempotent; validates everything before writing; prints what it changed).
    `seed export [--to FILE]` writes the YAML of what the database holds now."""
    from pathlib import Path

    from bot.actions import seed

    if path == "export":
        rt = runtime()
        try:
            organization = seed.read_yaml(rt.settings.SEED_FILE).get("organization")
        except (OSError, AttributeError):
            organization = None
        with rt.db.session() as s:
            text = seed.dump_yaml(seed.export_seed(s, organization))
        if to:
            Path(to).write_text(text, encoding="utf-8")
            click.echo(f"org chart exported to {to}")
        else:
            click.echo(text, nl=False)
        return
    if not Path(path).is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="PATH")
    if if_empty:
        click.echo("seeded the empty database" if seed_if_empty(runtime(), path)
                   else "the database already holds an org chart: not seeded")
        return
    status = seed.seed_command(runtime().db, path, reason, echo=click.echo)
    if status:
        raise SystemExit(status)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--seed/--no-seed", "auto_seed", default=True, show_default=True,
              help="Load SEED_FILE if the database has no units yet.")
@click.option("--workers/--no-workers", default=True, show_default=True,
              help="Run the outbox sender and the scheduler in this process.")
@with_appcontext
def serve_command(host: str, port: int, auto_seed: bool, workers: bool) -> None:
    """The embedded default: one process, migrates on first start, health at /healthz."""
    app = current_app._get_current_object()
    rt = runtime()
    prepare_database(rt, auto_seed=auto_seed)
    if workers and rt.settings.EMBEDDED_WORKERS:
        from bot.delivery.sender import say_what_is_not_configured

        say_what_is_not_configured(rt.settings, click.echo)
        start_embedded_workers(rt)
    click.echo(f"serving on http://{host}:{port}  (health: /healthz)")
    # Not app.run(): Flask ignores it inside a `flask`/FlaskGroup command.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def prepare_database(rt, auto_seed: bool = True) -> None:
    """Migrate (in a short-lived child process: alembic stays out of the long-lived process that calls
    this), and load the seed org chart into an empty database."""
    from bot.infra.db import upgrade_in_child

    upgrade_in_child(rt.settings.DATABASE_URL)
    if auto_seed:
        seed_if_empty(rt, rt.settings.SEED_FILE)


def seed_if_empty(rt, path) -> bool:
    """Load the org chart at `path` if the database has no unit yet; True if it did."""
    from sqlalchemy import func, select

    from bot.actions.seed import load_seed
    from models import Unit

    with rt.db.session() as s:
        if s.scalar(select(func.count(Unit.id))):
            return False
        report = load_seed(s, path)
    log.info("seeded empty database: %s", report)
    return True


def start_embedded_workers(rt) -> list:
    """Start the outbox sender and the scheduler as threads of this process."""
    from bot.delivery import sender
    from bot.jobs import scheduler

    return [sender.start_embedded(rt), scheduler.start_embedded(rt)]


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(serve_command)
    for mod_name in COMMAND_MODULES:
        importlib.import_module(mod_name).register_cli(app)
