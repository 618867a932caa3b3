"""The app factory, settings, health and migrations."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config.settings import Settings
from models import Base


def test_settings_defaults_and_env():
    s = Settings.load(environ={})
    assert s.DATABASE_URL.startswith("sqlite:///") and s.DATABASE_URL.endswith("instance/bot.sqlite3")
    assert s.REDIS_URL is None and s.BOT_TIMEZONE == "Asia/Shanghai"
    assert s.WECOM_API_BASE == "https://qyapi.weixin.qq.com"
    s = Settings.load({"MAX_BODY_BYTES": "1000"}, environ={"REDIS_URL": "redis://x/1", "OUTBOX_MAX_ATTEMPTS": "3",
                                                          "EMBEDDED_WORKERS": "false"})
    assert s.REDIS_URL == "redis://x/1" and s.OUTBOX_MAX_ATTEMPTS == 3 and s.EMBEDDED_WORKERS is False
    assert s.MAX_BODY_BYTES == 1000
    assert not s.wecom_enabled


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "redis": "disabled"}


def test_healthz_reports_broken_database(tmp_path):
    from tests.conftest import make_app

    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["status"] == "error"


def test_healthz_with_redis(db_url, redis_url, tmp_path):
    from tests.conftest import make_app

    r = make_app(db_url, tmp_path, REDIS_URL=redis_url).test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["redis"] == "ok"


def test_migrations_match_models(runtime):
    """The migrated schema is exactly what models/ declares, on SQLite and PostgreSQL."""
    with runtime.db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diffs == []


def test_cli_help_lists_commands(runner):
    result = runner.invoke(args=["--help"])
    assert result.exit_code == 0
    for cmd in ("db", "seed", "serve"):
        assert cmd in result.output


def test_db_upgrade_is_idempotent(runner, runtime):
    from bot.infra.db import current_revision, head_revision

    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert current_revision(runtime.settings.DATABASE_URL) == head_revision() == "0009"  # the newest migration


def test_commands_on_an_unmigrated_database_say_what_to_do(tmp_path):
    """No traceback on a fresh machine: a command that needs the schema names the command that creates it."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'new.sqlite3'}", INSTANCE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "bot", "outbox", "list"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "python -m bot db upgrade" in r.stderr and "Traceback" not in r.stderr


def test_migrations_go_down_and_up(runtime):
    """0002 reverts to 0001's schema and comes back; on PostgreSQL the ledger table keeps room for HOT updates."""
    from sqlalchemy import inspect, text

    from bot.infra.db import current_revision, upgrade

    url = runtime.settings.DATABASE_URL
    runtime.db.dispose()

    def escalation_indexes():
        engine = runtime.db.engine
        with engine.connect() as conn:
            names = {i["name"] for i in inspect(conn).get_indexes("escalation")}
            options = (conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'matter'")).scalar()
                       if engine.dialect.name == "postgresql" else None)
        runtime.db.dispose()
        return names, options

    from alembic import command

    from bot.infra.db import alembic_config

    command.downgrade(alembic_config(url), "0001")
    assert current_revision(url) == "0001"
    names, options = escalation_indexes()
    assert "ix_escalation_matter_id" in names and not options
    upgrade(url, "0002")
    assert current_revision(url) == "0002"
    names, options = escalation_indexes()
    assert "ix_escalation_matter_id" not in names
    if runtime.db.engine.dialect.name == "postgresql":
        assert options == ["fillfactor=70"]
    upgrade(url)  # back to the head: the PostgreSQL database is shared by the session's later tests
    assert current_revision(url) == "0009"
