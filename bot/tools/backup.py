"""`python -m bot backup` / `restore`: a copy of the whole database, and putting one back.

SQLite (the embedded default) uses SQLite's online backup API: a consistent copy while the bot keeps
running. PostgreSQL uses its own tools, pg_dump (custom format) and pg_restore, which must be on PATH
(Debian: postgresql-client of the server's major version); the commands they run are printed so an
operator can run them by hand. docs/operations.md says when and how.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore could not be made (the message says why, for the operator)."""


def _libpq_url(url: str) -> str:
    """postgresql+psycopg://… → postgresql://… (what pg_dump understands)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def default_target(instance_dir: str, url: str, now: Optional[datetime] = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    suffix = ".sqlite3" if make_url(url).get_backend_name() == "sqlite" else ".dump"
    return Path(instance_dir) / "backups" / f"bot-{stamp}{suffix}"


def backup(url: str, target: Path) -> Path:
    """Write a consistent copy of the database at `url` to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        src = sqlite3.connect(_sqlite_path(url))
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        return target
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", _libpq_url(url)])
    return target


def restore(url: str, source: Path) -> None:
    """Replace the database at `url` with the copy in `source` (stop the bot's processes first)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    if make_url(url).get_backend_name() == "sqlite":
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if src.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] != 1:
                raise BackupError(f"{source}: not a backup of this bot's database")
            dst = sqlite3.connect(_sqlite_path(url))
            try:
                with dst:
                    src.backup(dst)
            finally:
                dst.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source}: not an SQLite database ({exc})") from exc
        finally:
            src.close()
        return
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          f"--dbname={_libpq_url(url)}", str(source)])


def _run(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} is not installed (Debian: postgresql-client); run by hand: "
                          + " ".join(_shown(cmd)))
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[:500]}")


def _shown(cmd: list[str]) -> list[str]:
    """The command with the password hidden."""
    out = []
    for part in cmd:
        if "://" in part:
            head, _, tail = part.partition("=")
            url = tail if tail else head
            hidden = make_url(url).render_as_string(hide_password=True)
            part = f"{head}={hidden}" if tail else hidden
        out.append(part)
    return out


@click.command("backup")
@click.option("--to", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: INSTANCE_DIR/backups/bot-<time>.sqlite3 or .dump).")
@with_appcontext
def backup_command(target: Optional[Path]) -> None:
    """Copy the whole database (SQLite online backup; PostgreSQL pg_dump)."""
    settings = current_app.extensions["bot"].settings
    target = target or default_target(settings.INSTANCE_DIR, settings.DATABASE_URL)
    try:
        backup(settings.DATABASE_URL, target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written: {target} ({target.stat().st_size:,} bytes)")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Really replace the current database.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the database with a backup (stop web workers and the scheduler first)."""
    if not yes:
        raise click.ClickException("restore replaces every row of the current database: add --yes "
                                   "(after stopping the web workers and the scheduler)")
    settings = current_app.extensions["bot"].settings
    try:
        restore(settings.DATABASE_URL, source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored from {source}")


def register_cli(app) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
