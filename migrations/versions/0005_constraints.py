"""constraints: CHECKs on every state and kind column, a ledger item's kind tied to its source, its code
assigned once, audit rows naming their entity by id

- every state/kind column accepts only the constants models/ defines for it;
- matter.kind says which of minutes_id / slip_id / topic_id is set (exactly that one);
- matter.code, once it is the item's real code (not the `tmp-` placeholder of the first flush), never
  changes: a trigger refuses the UPDATE, on both databases;
- audit_log.entity_id is the primary key of the row `entity` names: the slip flow used to write the slip's
  code (JB3) and some matter rows the item's code (M12); those rows are rewritten to ids.

A database with rows that break a new CHECK is refused with the table, the constraint and the number of
rows, before anything changes. SQLite cannot add a CHECK to a table: the tables are rebuilt (batch mode,
foreign keys off for the rebuild — see migrations/env.py); a later migration that rebuilds `matter` on
SQLite must create the trigger again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:00:00
"""
from alembic import op
from sqlalchemy import text

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# A copy of the models' constraints as they were when this migration was written.
CHECKS = {
    "notice": [
        ("ck_notice_state", "state IN ('pending', 'sent', 'failed')"),
        ("ck_notice_target_kind", "target_kind IN ('user', 'group', 'webhook')"),
    ],
    "unit": [
        ("ck_unit_kind", "kind IN ('bureau', 'town', 'street', 'company', 'office', 'other')"),
    ],
    "assignment_slip": [
        ("ck_assignment_slip_state", "state IN ('pending_signature', 'returned', 'issued')"),
    ],
    "person_role": [
        ("ck_person_role_role", "role IN ('leader', 'office_supervisor', 'office_liaison', 'unit_head', "
                                "'unit_liaison', 'supervision_member', 'coordination_member', "
                                "'liaison_group_member', 'convener', 'admin')"),
    ],
    "meeting_topic": [
        ("ck_meeting_topic_state", "state IN ('submitted', 'office_reviewed', 'approved', 'decided', 'rejected')"),
    ],
    "minutes": [
        ("ck_minutes_state", "state IN ('recorded', 'drafted', 'issued')"),
    ],
    "weekly_project_report": [
        ("ck_weekly_project_report_state", "state IN ('submitted', 'reviewed', 'returned')"),
    ],
    "matter": [
        ("ck_matter_escalation_level", "escalation_level BETWEEN 0 AND 5"),
        ("ck_matter_kind", "kind IN ('minutes', 'slip', 'topic')"),
        ("ck_matter_kind_source",
         "(kind = 'minutes' AND minutes_id IS NOT NULL AND slip_id IS NULL AND topic_id IS NULL) OR "
         "(kind = 'slip' AND minutes_id IS NULL AND slip_id IS NOT NULL AND topic_id IS NULL) OR "
         "(kind = 'topic' AND minutes_id IS NULL AND slip_id IS NULL AND topic_id IS NOT NULL)"),
        ("ck_matter_state", "state IN ('open', 'extension_requested', 'completion_claimed', 'closed', 'returned')"),
    ],
    "project_problem": [
        ("ck_project_problem_category", "category IN ('approval', 'budget', 'land', 'construction', 'community')"),
    ],
    "escalation": [
        ("ck_escalation_level", "level BETWEEN 1 AND 5"),
        ("ck_escalation_state", "state IN ('raised', 'accepted', 'returned')"),
    ],
    "extension_request": [
        ("ck_extension_request_state", "state IN ('pending', 'approved', 'refused', 'withdrawn')"),
    ],
    "report_item": [
        ("ck_report_item_status", "status IN ('done', 'open')"),
    ],
}

TRIGGER = "matter_code_assigned_once"
PG_FUNCTION = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.code NOT LIKE 'tmp-%' AND NEW.code IS DISTINCT FROM OLD.code THEN
        RAISE EXCEPTION 'matter %: code % is assigned once (refused: %)', OLD.id, OLD.code, NEW.code
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$"""
PG_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF code ON matter
FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"""
SQLITE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF code ON matter
FOR EACH ROW WHEN OLD.code NOT LIKE 'tmp-%' AND NEW.code IS NOT OLD.code
BEGIN SELECT RAISE(ABORT, 'matter code is assigned once'); END"""

# audit_log.entity_id: the id of the row, where a writer put that row's code.
AUDIT_IDS = [
    ("assignment_slip", "assignment_slip"),
    ("matter", "matter"),
]


def _refuse_bad_rows(conn) -> None:
    bad = []
    for table, checks in CHECKS.items():
        for name, sql in checks:
            n = conn.execute(text(f"SELECT count(*) FROM {table} WHERE NOT ({sql})")).scalar()
            if n:
                bad.append(f"{table}: {n} row(s) break {name} ({sql})")
    if bad:
        raise RuntimeError("cannot add the constraints of 0005; fix these rows first:\n" + "\n".join(bad))


def upgrade() -> None:
    conn = op.get_bind()
    for entity, table in AUDIT_IDS:
        conn.execute(text(
            f"UPDATE audit_log SET entity_id = (SELECT CAST(t.id AS VARCHAR(64)) FROM {table} t "
            f"WHERE t.code = audit_log.entity_id) "
            f"WHERE entity = '{entity}' AND entity_id IN (SELECT code FROM {table} WHERE code IS NOT NULL)"))
    _refuse_bad_rows(conn)
    sqlite = conn.dialect.name == "sqlite"
    for table, checks in CHECKS.items():
        if sqlite:
            with op.batch_alter_table(table, recreate="always") as batch_op:
                for name, sql in checks:
                    batch_op.create_check_constraint(op.f(name), sql)
        else:
            for name, sql in checks:
                op.create_check_constraint(op.f(name), table, sql)
    if sqlite:
        op.execute(SQLITE_TRIGGER)
    else:
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}" + ("" if sqlite else " ON matter"))
    if not sqlite:
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    for table, checks in CHECKS.items():
        if sqlite:
            with op.batch_alter_table(table, recreate="always") as batch_op:
                for name, _sql in checks:
                    batch_op.drop_constraint(op.f(name), type_="check")
        else:
            for name, _sql in checks:
                op.drop_constraint(op.f(name), table, type_="check")
