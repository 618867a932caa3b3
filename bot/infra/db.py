"""Database engine, sessions and migrations (Alembic, run programmatically)."""
from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import PROJECT_ROOT


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    """An engine with the settings each backend needs (SQLite: FKs on, WAL, real SAVEPOINTs).

    `hide_parameters`: a database error's message would otherwise carry the bound values — what people
    typed in chat — into the log."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and url.count("///"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN (SAVEPOINT support)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True)


class Database:
    """One engine and a session factory; `session()` is a unit of work (commit or roll back)."""

    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 20):
        self.url = url
        self.engine = make_engine(url, pool_size, max_overflow)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        s = self.Session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()


def dialect_insert(session: Session):
    """The `insert()` of this session's database — PostgreSQL's or SQLite's, the two that have
    `on_conflict_do_nothing` (the exactly-once inserts of jobs, escalations and reports use it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


@functools.lru_cache(maxsize=64)
def insert_ignore_text(table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[str, ...] = ()):
    """INSERT … ON CONFLICT (conflict) DO NOTHING [RETURNING returning] of `columns` as a typed text
    statement, made once. The same SQL on PostgreSQL and SQLite; unlike the dialects' `insert()` with
    `on_conflict_do_nothing` (whose statements SQLAlchemy 2.0 cannot cache: compiled again at every
    execution) it is compiled once — for the hot path's one-row inserts (a tombstone, a notice) and
    executemany without RETURNING."""
    def q(name: str) -> str:
        return '"' + name + '"'

    sql = (f"INSERT INTO {q(table.name)} ({', '.join(map(q, columns))}) "
           f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT ({', '.join(map(q, conflict))}) DO NOTHING")
    if returning:
        sql += " RETURNING " + ", ".join(map(q, returning))
    stmt = text(sql).bindparams(*[bindparam(c, type_=table.c[c].type) for c in columns])
    return stmt.columns(*[table.c[c] for c in returning]) if returning else stmt


def claim_key(session: Session, key: str) -> bool:
    """Insert `key` into processed_message in the caller's transaction: True if it was not there (a message
    claimed, a draft finished), False if it was. On PostgreSQL a concurrent insert of the same key waits for
    the other transaction, then finds its row or takes its turn."""
    from models import ProcessedMessage, utcnow

    stmt = insert_ignore_text(ProcessedMessage.__table__, ("key", "created_at"), ("key",), ("key",))
    return session.connection().execute(stmt, {"key": key, "created_at": utcnow()}).first() is not None


def insert_ignore(session: Session, table, rows: list[dict], conflict: list[str], returning) -> list:
    """INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING returning, for many rows at once: one
    compiled statement executed with SQLAlchemy's batched "insertmanyvalues" (SQLite and PostgreSQL)."""
    if not rows:
        return []
    insert = dialect_insert(session)
    cols = returning if isinstance(returning, (tuple, list)) else (returning,)
    stmt = insert(table).on_conflict_do_nothing(index_elements=conflict).returning(*cols)
    result = session.connection().execute(stmt, rows)
    return list(result.scalars()) if len(cols) == 1 else list(result.all())


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def upgrade_in_child(url: str, revision: str = "head") -> None:
    """`upgrade` in a short-lived child process, for a long-lived one (`serve`, the simulator): alembic and
    every migration script (~9 MB) would otherwise stay in its memory (issue 18). The URL goes on stdin (it
    may hold a password); the child's output is this process's. An in-memory SQLite database, which no
    other process can open, is migrated here."""
    import subprocess
    import sys

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (parsed.database in (None, "", ":memory:")
                                                  or parsed.query.get("mode") == "memory"):
        upgrade(url, revision)
        return
    from config.settings import child_environment

    env = child_environment(PROJECT_ROOT)
    script = "import sys; from bot.infra.db import upgrade; upgrade(sys.stdin.read(), sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", script, revision], input=url, text=True, cwd=PROJECT_ROOT,
                          env=env)
    if done.returncode:
        raise RuntimeError(f"database migration failed in its child process (exit code {done.returncode})")


def head_revision() -> str:
    """The newest migration in migrations/versions."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
