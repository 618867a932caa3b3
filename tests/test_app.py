"""The app factory, settings, health and migrations."""
from datetime import UTC

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config.settings import ServerSettings, Settings, SettingsError
from models import Base


def test_settings_defaults_and_env(clean_env):
    s = Settings.load()
    assert s.DATABASE_URL.startswith("sqlite:///") and s.DATABASE_URL.endswith("instance/bot.sqlite3")
    assert s.REDIS_URL is None and s.BOT_TIMEZONE == "Asia/Shanghai"
    assert s.WECOM_API_BASE == "https://qyapi.weixin.qq.com"
    for var, value in {"REDIS_URL": "redis://x/1", "OUTBOX_MAX_ATTEMPTS": "3", "EMBEDDED_WORKERS": "false",
                       "WECOM_SECRET": ""}.items():
        clean_env.setenv(var, value)
    s = Settings.load({"MAX_BODY_BYTES": "1000"})
    assert s.REDIS_URL == "redis://x/1" and s.OUTBOX_MAX_ATTEMPTS == 3 and s.EMBEDDED_WORKERS is False
    assert s.MAX_BODY_BYTES == 1000
    assert not s.wecom_enabled
    assert s.WECOM_SECRET == ""  # an empty variable is the default


@pytest.mark.parametrize("var, value", [("MAX_BODY_BYTES", "64k"), ("EMBEDDED_WORKERS", "maybe"),
                                        ("PASSIVE_REPLY_SECONDS", "three"), ("BOT_TIMEZONE", "Mars/Olympus")])
def test_a_bad_setting_names_the_variable(clean_env, var, value):
    clean_env.setenv(var, value)
    with pytest.raises(SettingsError, match=rf"^invalid setting {var}='{value}': "):
        Settings.load()
    with pytest.raises(SettingsError, match=var):
        Settings.load({var: value})


def test_a_bad_gunicorn_setting_names_the_variable(clean_env):
    clean_env.setenv("WEB_THREADS", "many")
    with pytest.raises(SettingsError, match="^invalid setting WEB_THREADS='many'"):
        ServerSettings.load()
    clean_env.setenv("WEB_THREADS", "4")
    assert ServerSettings.load().WEB_THREADS == 4


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "redis": "disabled"}


def test_healthz_reports_broken_database(tmp_path):
    from tests.support import make_app

    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["status"] == "error"


def test_healthz_with_redis(db_url, redis_url, tmp_path):
    from tests.support import make_app

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
    assert current_revision(runtime.settings.DATABASE_URL) == head_revision() == "0019"  # the newest migration


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

    from bot.infra.db import current_revision, head_revision, upgrade

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
    runtime.db.dispose()
    upgrade(url)  # back to head for the tests that follow on this database
    assert current_revision(url) == head_revision()


def test_migration_0003_moves_the_missed_deadlines_out_of_the_audit_rows(runtime):
    """On a populated database: each report_missed audit row becomes one missed_deadline row (the earliest
    per unit and period); rows naming no unit or no period key are left out; down and up again works."""
    from datetime import datetime

    from alembic import command
    from sqlalchemy import func, select

    from bot.infra.db import alembic_config, current_revision, upgrade
    from models import AuditLog, MissedDeadline
    from tests import factories as f

    url = runtime.settings.DATABASE_URL
    with runtime.db.session() as s:
        o = f.small_org(s)
        fagai, keji = o.fagai.id, o.keji.id
    runtime.db.dispose()
    command.downgrade(alembic_config(url), "0002")
    assert current_revision(url) == "0002"
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    with runtime.db.session() as s:
        for eid, key, when in ((fagai, "2026-11-05", utc(2026, 11, 5, 10, 1)),
                               (keji, "2026-11-05", utc(2026, 11, 5, 10, 1)),
                               (fagai, "2026-11-20", utc(2026, 11, 20, 10, 2)),
                               (fagai, "2026-11-20", utc(2026, 11, 20, 10, 5)),  # a second scheduler's copy
                               (999999, "2026-11-20", utc(2026, 11, 20, 10, 2)), (keji, "bogus", utc(2026, 11, 1))):
            s.add(AuditLog(at=when, actor="system:report_overdue", action="report_missed", entity="unit",
                           entity_id=str(eid), reason=key, after={"period": key}))
    runtime.db.dispose()
    upgrade(url, "0003")
    assert current_revision(url) == "0003"
    with runtime.db.session() as s:
        rows = sorted((m.unit_id, m.period_key, m.deadline, m.recorded_at) for m in s.scalars(select(MissedDeadline)))
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "report_missed")) == 6
    assert rows == sorted([(fagai, "2026-11-05", utc(2026, 11, 5, 10), utc(2026, 11, 5, 10, 1)),
                           (keji, "2026-11-05", utc(2026, 11, 5, 10), utc(2026, 11, 5, 10, 1)),
                           (fagai, "2026-11-20", utc(2026, 11, 20, 10), utc(2026, 11, 20, 10, 2))])
    runtime.db.dispose()
    command.downgrade(alembic_config(url), "0002")
    upgrade(url)
    with runtime.db.session() as s:
        assert s.scalar(select(func.count(MissedDeadline.id))) == 3
    runtime.db.dispose()


def test_database_errors_do_not_carry_what_people_typed(db_url):
    """Issue 11 item 6: SQLAlchemy puts bound values into an error's text ('[parameters: …]'), which the
    handler logs; the engine hides them."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from bot.infra.db import make_engine

    engine = make_engine(db_url)
    secret = "联络员手机13599290520的私密内容"
    with pytest.raises(DBAPIError) as err:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table (x) VALUES (:x)"), {"x": secret})
    engine.dispose()
    assert secret not in str(err.value)
    assert "hidden due to hide_parameters" in str(err.value)
