"""Migration 0004 on a populated database: platform ids move from person columns into person_identity
rows, person.key is the former natural key, and the way down restores the columns."""
from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.infra.db import alembic_config, current_revision, upgrade

PEOPLE = [  # id, name, wecom_userid, dingtalk_userid
    (1, "刘昭暄", "liuzhaoxuan", "dt_liu"),
    (2, "杨幼梅", "yangyoumei", None),
    (3, "钉钉用户", None, "dt_only"),
    (4, "无号", None, None),
]


def _rows(url, sql):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(text(sql)))
    finally:
        engine.dispose()


def test_0004_moves_platform_ids_into_identity_rows(runtime):
    url = runtime.settings.DATABASE_URL
    runtime.db.dispose()
    command.downgrade(alembic_config(url), "0003")
    assert current_revision(url) == "0003"
    engine = create_engine(url)
    with engine.begin() as conn:
        for pid, name, wecom, ding in PEOPLE:
            conn.execute(text("INSERT INTO person (id, name, wecom_userid, dingtalk_userid, placeholder, active, "
                              "created_at) VALUES (:id, :name, :w, :d, false, true, CURRENT_TIMESTAMP)"),
                         dict(id=pid, name=name, w=wecom, d=ding))
        conn.execute(text("INSERT INTO unit (id, name, aliases, kind, liaison_id, active, created_at) "
                          "VALUES (1, '区发改局', '[]', 'bureau', 2, true, CURRENT_TIMESTAMP)"))
    engine.dispose()

    upgrade(url)

    assert _rows(url, "SELECT person_id, channel, external_id FROM person_identity") == [
        (1, "dingtalk", "dt_liu"), (1, "wecom", "liuzhaoxuan"), (2, "wecom", "yangyoumei"), (3, "dingtalk", "dt_only")]
    assert _rows(url, "SELECT id, key FROM person") == [
        (1, "liuzhaoxuan"), (2, "yangyoumei"), (3, "dingtalk:dt_only"), (4, None)]
    assert _rows(url, "SELECT liaison_id FROM unit") == [(2,)]  # references to people are untouched
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("person")}
    finally:
        engine.dispose()
    assert "wecom_userid" not in columns and "dingtalk_userid" not in columns

    # The migrated people are found through their identities.
    assert runtime.handle_text("wecom", "yangyoumei", "帮助") is not None
    with runtime.db.session() as s:
        assert runtime.find_person(s, "dingtalk", "dt_liu").name == "刘昭暄"
        assert runtime.find_person(s, "wecom", "dt_liu") is None
    runtime.db.dispose()

    command.downgrade(alembic_config(url), "0003")
    assert _rows(url, "SELECT id, wecom_userid, dingtalk_userid FROM person") == [
        (pid, wecom, ding) for pid, _n, wecom, ding in PEOPLE]
    upgrade(url)
