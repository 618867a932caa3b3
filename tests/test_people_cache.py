"""The per-process cache of senders and their roles (bot.core.people): a change to the org chart, made by
anyone — this process, another process, plain SQL — is seen by the next message; both databases."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import event, inspect, select, text

from bot.actions.base import Acting
from bot.actions.orgchart import do_set_person_active
from models import ROLE_SUPERVISION, Person, PersonRole
from tests import factories as f
from tests.support import ROOT, make_app

ORG_TABLES = ("person", "person_identity", "person_role", "unit", "dispatch_row", "dispatch_row_liaison")


@pytest.fixture
def org(runtime):
    with runtime.db.session() as s:
        return f.small_org(s)


def say(runtime, user: str, words: str = "帮助") -> str:
    reply = runtime.handle_text("wecom", user, words)
    return reply.text if reply is not None else ""


def queries(runtime):
    counted = []
    event.listen(runtime.db.engine, "before_cursor_execute", lambda *a, **k: counted.append(a[2]))
    return counted


def in_other_process(url: str, sql: str) -> None:
    """Run `sql` from a separate Python process: no code of the bot, just the database."""
    script = textwrap.dedent(f"""
        from sqlalchemy import create_engine, text
        engine = create_engine({url!r})
        with engine.begin() as conn:
            conn.execute(text({sql!r}))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, timeout=60)


def test_the_second_message_reads_neither_the_person_nor_the_roles(runtime, org):
    counted = queries(runtime)
    first = say(runtime, "ua")
    n_first = len(counted)
    counted.clear()
    assert say(runtime, "ua") == first
    assert runtime.people.hits >= 1
    assert not any("person_role" in q or "person_identity" in q for q in counted), counted
    assert len(counted) < n_first


def test_a_role_given_in_this_process_is_seen_by_the_next_message(runtime, org):
    assert "立项督办" not in say(runtime, "ua")
    with runtime.db.session() as s:
        s.add(PersonRole(person_id=org.ua.id, role=ROLE_SUPERVISION))
    assert "立项督办" in say(runtime, "ua")


def test_a_person_retired_by_the_orgchart_action_is_unregistered_at_once(runtime, org):
    assert "这里是" in say(runtime, "xiaojiansong")
    with runtime.db.session() as s:
        do_set_person_active(Acting(s, s.get(Person, org.admin.id), runtime.now(), runtime),
                             s.get(Person, org.sup2.id), False)
    assert "尚未登记" in say(runtime, "xiaojiansong")


def test_a_change_made_by_another_process_is_seen_by_the_next_message(runtime, org):
    """Another process (a `seed`, another worker, SQL by hand) writes; this process had both cached."""
    url = runtime.settings.DATABASE_URL
    assert "立项督办" not in say(runtime, "ub")
    unknown = say(runtime, "newcomer")
    assert "尚未登记" in unknown
    in_other_process(url, f"INSERT INTO person_role (person_id, role) VALUES ({org.ub.id}, '{ROLE_SUPERVISION}')")
    assert "立项督办" in say(runtime, "ub")
    in_other_process(url, f"INSERT INTO person_identity (person_id, channel, external_id) "
                          f"VALUES ({org.ub.id}, 'dingtalk', 'x')")  # any org write bumps the version
    in_other_process(url, f"UPDATE person_identity SET external_id = 'newcomer' WHERE person_id = {org.uk.id} "
                          f"AND channel = 'wecom'")
    assert "这里是" in say(runtime, "newcomer")  # 科技联络员, under a new WeCom id
    assert "尚未登记" in say(runtime, "uk")


def test_a_second_runtime_on_the_same_database_sees_the_first_ones_change(db_url, tmp_path, runtime, org):
    other = make_app(db_url, tmp_path / "other").extensions["bot"]
    try:
        assert "立项督办" not in say(runtime, "ua") and "立项督办" not in say(other, "ua")
        with other.db.session() as s:
            s.add(PersonRole(person_id=org.ua.id, role=ROLE_SUPERVISION))
        assert "立项督办" in say(runtime, "ua")
    finally:
        other.db.dispose()


def test_without_the_version_row_nothing_is_cached(runtime, org):
    with runtime.db.session() as s:
        s.execute(text("DELETE FROM org_version"))
    say(runtime, "ua")
    say(runtime, "ua")
    assert runtime.people.hits == 0
    with runtime.db.session() as s:  # the next org write creates it again
        s.add(PersonRole(person_id=org.ua.id, role=ROLE_SUPERVISION))
    assert "立项督办" in say(runtime, "ua")
    say(runtime, "ua")
    assert runtime.people.hits == 1


def test_a_cached_person_is_a_live_instance_of_this_message(runtime, org):
    say(runtime, "ua")
    with runtime.db.session() as s:
        person, roles = runtime.people.lookup(s, runtime.people.version, "wecom", "ua")
        assert inspect(person).session is s and person.unit.name == "区发改局"  # lazy loads work
        assert roles.liaison_unit_ids == {org.fagai.id}
        assert s.scalar(select(Person).where(Person.id == org.ua.id)) is person


def test_every_org_table_bumps_the_version(db_url, runtime):
    """Guards the triggers of migration 0017 (a later batch migration on SQLite would drop them)."""
    with runtime.db.engine.connect() as conn:
        if runtime.db.is_sqlite:
            found = {r[0] for r in conn.execute(text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                                     "AND name LIKE '%org_version%'"))}
        else:
            found = {r[0] for r in conn.execute(text("SELECT event_object_table FROM information_schema.triggers "
                                                     "WHERE trigger_name LIKE '%org_version%'"))}
    assert found == set(ORG_TABLES)
