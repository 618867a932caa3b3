"""issue 12: one problem list per (lead unit, minutes or slip, period); issued minutes / slips can be
withdrawn (撤销印发)

- report_submission.source and missed_deadline.source: the list a report is (bot.domain.reporting.sql_source:
  "minutes:12", "slip:3", "" for items of neither); the unique keys gain it. A report made before this
  migration covered every minutes and slip its unit leads: it becomes "*", which counts for each source
  (`reporting.sql_status`); a recorded miss likewise;
- a ledger item may be `withdrawn`, with the moment (`matter.withdrawn_at`).

The CHECK on matter.state gains 'withdrawn'. SQLite cannot alter a CHECK: `matter` is rebuilt (batch mode,
foreign keys off — migrations/env.py) and its trigger of 0005 (the code is assigned once) created again.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

STATES = ('open', 'extension_requested', 'completion_claimed', 'closed', 'returned')
NEW_STATES = STATES + ('withdrawn',)
TRIGGER = "matter_code_assigned_once"
SQLITE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF code ON matter
FOR EACH ROW WHEN OLD.code NOT LIKE 'tmp-%' AND NEW.code IS NOT OLD.code
BEGIN SELECT RAISE(ABORT, 'matter code is assigned once'); END"""


def _check(states) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _alter(states, add: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
        with op.batch_alter_table('matter', recreate="always") as batch_op:
            batch_op.drop_constraint(op.f('ck_matter_state'), type_='check')
            batch_op.create_check_constraint(op.f('ck_matter_state'), _check(states))
            if add:
                batch_op.add_column(sa.Column('withdrawn_at', models.base.UTCDateTime(), nullable=True))
            else:
                batch_op.drop_column('withdrawn_at')
        op.execute(SQLITE_TRIGGER)
        return
    op.drop_constraint(op.f('ck_matter_state'), 'matter', type_='check')
    op.create_check_constraint(op.f('ck_matter_state'), 'matter', _check(states))
    if add:
        op.add_column('matter', sa.Column('withdrawn_at', models.base.UTCDateTime(), nullable=True))
    else:
        op.drop_column('matter', 'withdrawn_at')


SOURCE_KEYS = {
    # table: (old unique columns, new unique columns)
    'report_submission': (['unit_id', 'period_key', 'version'], ['unit_id', 'period_key', 'source', 'version']),
    'missed_deadline': (['unit_id', 'period_key'], ['unit_id', 'period_key', 'source']),
}


def _uq(table: str, cols: list[str]) -> str:
    return f"uq_{table}_{'_'.join(cols)}"


def upgrade() -> None:
    for table, (old, new) in SOURCE_KEYS.items():
        with op.batch_alter_table(table) as batch_op:
            # existing rows: '*', made for every source at once
            batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=False, server_default='*'))
            batch_op.drop_constraint(_uq(table, old), type_='unique')
            batch_op.create_unique_constraint(_uq(table, new), new)
    _alter(NEW_STATES, add=True)


def downgrade() -> None:
    # an item withdrawn cannot stay so: it was closed by the withdrawal of its record (kept as withdrawn
    # in the audit trail)
    op.execute("UPDATE matter SET state = 'closed', closed_at = withdrawn_at WHERE state = 'withdrawn'")
    _alter(STATES, add=False)
    # one report per (unit, period) again: the earliest version number of each source is kept unique by
    # renumbering within (unit, period)
    op.execute("""UPDATE report_submission SET version = (
        SELECT COUNT(*) FROM report_submission r2 WHERE r2.unit_id = report_submission.unit_id
        AND r2.period_key = report_submission.period_key AND r2.id <= report_submission.id)""")
    op.execute("""DELETE FROM missed_deadline WHERE id NOT IN (
        SELECT MIN(id) FROM missed_deadline GROUP BY unit_id, period_key)""")
    for table, (old, new) in SOURCE_KEYS.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(_uq(table, new), type_='unique')
            batch_op.create_unique_constraint(_uq(table, old), old)
            batch_op.drop_column('source')
