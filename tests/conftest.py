"""Shared fixtures (flaskr style): app, client, runner, runtime, database URLs for SQLite and PostgreSQL.

Tests that need a service run whenever it is configured (TEST_DATABASE_URL, TEST_REDIS_URL). With
REQUIRE_SERVICES=1 (set by .ci/run) a missing service is a failure, never a skip.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from bot.infra.db import upgrade
from tests.support import REQUIRE, SEED_FILE, make_app

# Hypothesis' per-example deadline measures the machine, not the code: a first call that warms a table
# (pypinyin, the holiday calendar) on a loaded CI machine would fail a correct property. Speed is
# measured in bench/, never in tests.
hypothesis_settings.register_profile("project", deadline=None)
hypothesis_settings.load_profile("project")


def pytest_configure(config):
    """Under pytest-xdist (the README's `-n 2`) each worker gets its own PostgreSQL database and Redis db,
    so workers never truncate or flush each other's data. Done by rewriting the environment before
    anything reads it: fixtures, tests that read TEST_* themselves and the processes tests spawn all see
    the worker's own services."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, …
    if worker:
        _isolate_worker(worker, int(worker.removeprefix("gw")))


def _isolate_worker(worker: str, n: int) -> None:
    from sqlalchemy.engine import make_url

    db = os.environ.get("TEST_DATABASE_URL")
    if db and db.startswith("postgresql"):
        url = make_url(db)
        name = f"{url.database}_{worker}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url:
        base, _, number = redis_url.rpartition("/")
        # db 15 for a plain run; workers count down from it (15, 14, …), leaving the low numbers to
        # whatever else uses this Redis (benchmarks, a running bot)
        own = int(number or 0) - n if number.isdigit() and int(number) >= n else n
        os.environ["TEST_REDIS_URL"] = f"{base}/{own}"


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        if REQUIRE:
            pytest.fail(f"{var} is not set but REQUIRE_SERVICES=1: the service must be tested")
        pytest.skip(f"{var} not set")
    return value


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("tpl") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_migrated():
    """Migrate the PostgreSQL test database from scratch once per session."""
    url = _need("TEST_DATABASE_URL")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    with engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
    yield url, engine, tables
    engine.dispose()


def _fresh_pg(pg) -> str:
    url, engine, tables = pg
    with engine.begin() as conn:
        # A session a previous test forgot to close would block TRUNCATE forever: end it first.
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
def sqlite_url(_sqlite_template, tmp_path) -> str:
    path = tmp_path / "bot.sqlite3"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A freshly migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return _fresh_pg(request.getfixturevalue("_pg_migrated"))


@pytest.fixture
def pg_url(_pg_migrated) -> str:
    return _fresh_pg(_pg_migrated)


@pytest.fixture
def redis_url() -> str:
    url = _need("TEST_REDIS_URL")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def clean_env(monkeypatch):
    """No setting from this machine's environment: each test sets what it needs on the returned monkeypatch."""
    from config.settings import ServerSettings, Settings

    for name in {*Settings.model_fields, *ServerSettings.model_fields}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch




@pytest.fixture(autouse=True)
def _default_timezone():
    """An app made with another BOT_TIMEZONE sets the bot's zone: put the default back after each test."""
    yield
    from bot.domain import clock, periods

    clock.set_tz(clock.DEFAULT_TZ)
    periods.set_deadline_rule(periods.NEXT_WORKING_DAY)  # an app made with DEADLINE_ON_NON_WORKING_DAY=keep


@pytest.fixture
def keep_deadlines(monkeypatch):
    """DEADLINE_ON_NON_WORKING_DAY=keep: a 5th/20th on a weekend stays where it falls (for tests of other
    rules that were written on December 2026's Saturday 5th and Sunday 20th as nominal deadlines)."""
    from bot.domain import periods

    monkeypatch.setenv("DEADLINE_ON_NON_WORKING_DAY", periods.KEEP)
    periods.set_deadline_rule(periods.KEEP)
    yield


@pytest.fixture
def app(db_url, tmp_path):
    app = make_app(db_url, tmp_path)
    yield app
    app.extensions["bot"].db.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["bot"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(runtime):
    """A session on the test database (committed by the test if it wants)."""
    with runtime.db.Session() as s:
        yield s


@pytest.fixture
def seeded(runtime):
    """The runtime with config/seed/quangang.yaml loaded."""
    from bot.actions.seed import load_seed

    with runtime.db.session() as s:
        load_seed(s, SEED_FILE)
    return runtime
