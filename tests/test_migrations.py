"""Migration 0004 (constraints) on a populated database: built at the revision before it with the seeded org
chart, minutes, slips, items and audit rows, then upgraded to head — on SQLite and on PostgreSQL (in a
schema of its own, so the session's migrated test schema is left alone)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import CheckConstraint, Date, column, create_engine, insert, inspect, select, table, text
from sqlalchemy.exc import IntegrityError

from bot.infra.db import Database, current_revision, head_revision, upgrade
from models import AuditLog, Base, ExtensionRequest, Matter, Person, Unit, UTCDateTime
from tests.support import SEED_FILE

T0 = datetime(2026, 11, 20, 2, tzinfo=UTC)


def before_0004() -> str:
    from alembic.script import ScriptDirectory

    from bot.infra.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0004").down_revision


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    base = request.getfixturevalue("pg_url")
    schema = "mig_" + uuid.uuid4().hex[:8]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class _Row:
    def __init__(self, id_: int):
        self.id = id_


def populate(url: str) -> dict:
    """Rows as the product wrote them before 0004, including the audit ids of the old slip flow (its code)."""
    from bot.actions.seed import load_seed

    db = Database(url)
    with db.session() as s:
        load_seed(s, SEED_FILE)
    with db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == "yangfengxiang"))
        unit = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        # minutes and slips with the columns they had then (later migrations add more)
        minutes_id = s.execute(insert(table(
            "minutes", column("id"), column("title"), column("leader_id"), column("meeting_date", Date()),
            column("drafting_unit_id"), column("state"), column("created_at", UTCDateTime()))).values(
            title="经济运行调度会", leader_id=leader.id, meeting_date=date(2026, 11, 18), drafting_unit_id=unit.id,
            state="issued", created_at=T0).returning(table("minutes", column("id")).c.id)).scalar_one()
        slip_id = s.execute(insert(table(
            "assignment_slip", column("id"), column("code"), column("leader_id"), column("dispatched_on", Date()),
            column("drafted_by_id"), column("state"), column("signed_at", UTCDateTime()),
            column("created_at", UTCDateTime()))).values(
            code="JB1", leader_id=leader.id, dispatched_on=date(2026, 11, 19), drafted_by_id=leader.id,
            state="issued", signed_at=T0, created_at=T0).returning(table("assignment_slip", column("id")).c.id)
        ).scalar_one()
        minutes, slip = _Row(minutes_id), _Row(slip_id)
        m1 = Matter(code="M1", kind="minutes", minutes_id=minutes.id, title="道路征迁", responsible_unit_id=unit.id,
                    deadline=date(2026, 12, 31), original_deadline=date(2026, 12, 31), state="open")
        j2 = Matter(code="J2", kind="slip", slip_id=slip.id, title="项目审批", responsible_unit_id=unit.id,
                    deadline=date(2026, 12, 20), original_deadline=date(2026, 12, 20), state="closed", closed_at=T0)
        s.add_all([m1, j2])
        s.flush()
        s.add(ExtensionRequest(matter_id=j2.id, requested_by_id=leader.id, old_deadline=j2.deadline,
                               new_deadline=date(2027, 1, 20), reason="资金", state="withdrawn", created_at=T0))
        s.add_all([
            AuditLog(actor="x", action="sign", entity="assignment_slip", entity_id="JB1", at=T0),
            AuditLog(actor="x", action="report", entity="matter", entity_id="M1", at=T0),
            AuditLog(actor="x", action="closed", entity="matter", entity_id=str(j2.id), at=T0),
        ])
        ids = dict(slip=slip.id, m1=m1.id, j2=j2.id, unit=unit.id, minutes=minutes.id)
    db.dispose()
    return ids


def test_0004_upgrades_a_populated_database_and_its_constraints_refuse_bad_rows(empty_url):
    url = empty_url
    upgrade(url, before_0004())
    ids = populate(url)
    upgrade(url)
    assert current_revision(url) == head_revision()

    engine = create_engine(url)
    try:
        insp = inspect(engine)
        for table in Base.metadata.sorted_tables:
            wanted = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            if wanted:
                got = {c["name"] for c in insp.get_check_constraints(table.name)}
                assert wanted <= got, table.name
        with engine.connect() as conn:
            audit = dict(conn.execute(text(
                "SELECT action, entity_id FROM audit_log WHERE entity IN ('matter', 'assignment_slip')")).all())
        assert audit == {"sign": str(ids["slip"]), "report": str(ids["m1"]), "closed": str(ids["j2"])}

        bad = [
            "UPDATE matter SET state = 'finished' WHERE code = 'M1'",
            f"UPDATE matter SET slip_id = {ids['slip']} WHERE code = 'M1'",  # a minutes item with a slip too
            "UPDATE matter SET kind = 'topic' WHERE code = 'M1'",  # kind without its topic
            "UPDATE matter SET escalation_level = 6 WHERE code = 'M1'",
            "UPDATE matter SET code = 'M99' WHERE code = 'M1'",  # the code is assigned once
            "UPDATE assignment_slip SET state = 'signed'",
            "UPDATE unit SET kind = 'ministry'",
            "UPDATE extension_request SET state = 'lost'",
            "UPDATE person_role SET role = 'king'",
        ]
        for sql in bad:
            with pytest.raises(IntegrityError):
                with engine.begin() as conn:
                    conn.execute(text(sql))
        with engine.begin() as conn:  # the placeholder of the first flush may still become the code
            conn.execute(text(
                "INSERT INTO matter (code, kind, minutes_id, seq, title, responsible_unit_id, deadline, "
                "original_deadline, state, escalation_level, created_at) VALUES ('tmp-1', 'minutes', "
                f"{ids['minutes']}, 2, 't', {ids['unit']}, '2026-12-31', '2026-12-31', 'open', 0, '2026-11-20')"))
            conn.execute(text("UPDATE matter SET code = 'M7' WHERE code = 'tmp-1'"))
            conn.execute(text("UPDATE matter SET title = 'still M1' WHERE code = 'M1'"))
    finally:
        engine.dispose()


def test_0004_refuses_a_database_with_rows_that_break_a_constraint_and_changes_nothing(empty_url):
    url = empty_url
    upgrade(url, before_0004())
    ids = populate(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE matter SET state = 'finished' WHERE id = {ids['m1']}"))
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"matter: 1 row\(s\) break ck_matter_state"):
        upgrade(url)
    assert current_revision(url) == before_0004()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT entity_id FROM audit_log WHERE action = 'sign'")).scalar() == "JB1"
    engine.dispose()
