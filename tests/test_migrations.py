"""Migration 0005 (constraints) on a populated database: the seeded org chart, minutes, slips, items and audit
rows are written through today's models at head, the database is taken down to the revision before 0005
(later migrations drop what they added; the rows stay), then upgraded to head again — on SQLite and on PostgreSQL (in a
schema of its own, so the session's migrated test schema is left alone)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import CheckConstraint, create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.infra.db import Database, current_revision, head_revision, upgrade
from models import AssignmentSlip, AuditLog, Base, ExtensionRequest, Matter, Minutes, Person, Unit
from tests.support import SEED_FILE

T0 = datetime(2026, 11, 20, 2, tzinfo=UTC)


def before_0005() -> str:
    from alembic.script import ScriptDirectory

    from bot.infra.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0005").down_revision


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


def populated_before_0005(url: str) -> dict:
    """A database at the revision before 0005 holding `populate`'s rows (written at head, where the models
    match the schema, then migrated down)."""
    from alembic import command

    from bot.infra.db import alembic_config

    upgrade(url)
    ids = populate(url)
    command.downgrade(alembic_config(url), before_0005())
    return ids


def populate(url: str) -> dict:
    """Rows as the product wrote them before 0005, including the audit ids of the old slip flow (its code)."""
    from bot.actions.seed import load_seed

    db = Database(url)
    with db.session() as s:
        load_seed(s, SEED_FILE)
    with db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == "yangfengxiang"))
        unit = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        # Core inserts of the columns named only: the models may have columns later migrations add
        def add(model, **values):
            return s.execute(insert(model.__table__).values(**values)).inserted_primary_key[0]

        minutes_id = add(Minutes, title="经济运行调度会", leader_id=leader.id, meeting_date=date(2026, 11, 18),
                         drafting_unit_id=unit.id, state="issued", created_at=T0)
        slip_id = add(AssignmentSlip, code="JB1", leader_id=leader.id, dispatched_on=date(2026, 11, 19),
                      drafted_by_id=leader.id, state="issued", signed_at=T0, created_at=T0)
        m1_id = add(Matter, code="M1", kind="minutes", minutes_id=minutes_id, seq=1, title="道路征迁",
                    responsible_unit_id=unit.id, deadline=date(2026, 12, 31), original_deadline=date(2026, 12, 31),
                    state="open", escalation_level=0, created_at=T0)
        j2_id = add(Matter, code="J2", kind="slip", slip_id=slip_id, seq=1, title="项目审批",
                    responsible_unit_id=unit.id, deadline=date(2026, 12, 20), original_deadline=date(2026, 12, 20),
                    state="closed", closed_at=T0, escalation_level=0, created_at=T0)
        minutes, slip = SimpleNamespace(id=minutes_id), SimpleNamespace(id=slip_id)
        m1, j2 = SimpleNamespace(id=m1_id), SimpleNamespace(id=j2_id, deadline=date(2026, 12, 20))
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


def test_0005_upgrades_a_populated_database_and_its_constraints_refuse_bad_rows(empty_url):
    url = empty_url
    ids = populated_before_0005(url)
    assert current_revision(url) == before_0005()
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


def test_0005_refuses_a_database_with_rows_that_break_a_constraint_and_changes_nothing(empty_url):
    url = empty_url
    ids = populated_before_0005(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE matter SET state = 'finished' WHERE id = {ids['m1']}"))
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"matter: 1 row\(s\) break ck_matter_state"):
        upgrade(url)
    assert current_revision(url) == before_0005()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT entity_id FROM audit_log WHERE action = 'sign'")).scalar() == "JB1"
    engine.dispose()


def test_0014_a_report_made_before_it_counts_for_each_minutes_and_slip_its_unit_leads(empty_url):
    """Before 0014 one report per (unit, period) covered every minutes and slip the unit leads: migrated, it
    becomes source '*' and counts for each list (seed 000 附件3: one problem list per minutes); a withdrawn
    item survives the way down as closed."""
    from alembic import command

    from bot.domain import reporting
    from bot.domain.periods import period_by_key
    from bot.infra.db import alembic_config
    from models import ReportSubmission

    url = empty_url
    upgrade(url)
    ids = populate(url)
    db = Database(url)
    with db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == "yangfengxiang"))
        s.execute(Minutes.__table__.update().values(lead_unit_id=ids["unit"]))
        s.execute(AssignmentSlip.__table__.update().values(lead_unit_id=ids["unit"]))
        s.execute(Matter.__table__.update().where(Matter.code == "J2").values(state="open", closed_at=None))
        s.add(ReportSubmission(unit_id=ids["unit"], period_key="2026-12-05", source="minutes:1", version=1,
                               current=True, submitted_by_id=leader.id, submitted_at=T0, is_late=False))
    db.dispose()
    command.downgrade(alembic_config(url), "0012")
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            assert s.scalars(select(ReportSubmission.source)).all() == ["*"]
            p = period_by_key("2026-12-05")
            assert reporting.report_status(s, [p], T0) == {
                (ids["unit"], f"minutes:{ids['minutes']}", p.key): reporting.ON_TIME,
                (ids["unit"], f"slip:{ids['slip']}", p.key): reporting.ON_TIME}
            s.execute(Matter.__table__.update().where(Matter.code == "M1").values(state="withdrawn",
                                                                                  withdrawn_at=T0))
        command.downgrade(alembic_config(url), "0012")
        with create_engine(url).connect() as conn:
            assert conn.execute(text("SELECT state FROM matter WHERE code = 'M1'")).scalar() == "closed"
        upgrade(url)
    finally:
        db.dispose()
