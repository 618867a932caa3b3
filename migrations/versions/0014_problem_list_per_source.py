"""issue 12: issued minutes / slips can be withdrawn (撤销印发) — a ledger item may be `withdrawn`, with
the moment (`matter.withdrawn_at`)

The CHECK on matter.state gains 'withdrawn'. SQLite cannot alter a CHECK: `matter` is rebuilt (batch mode,
foreign keys off — migrations/env.py) and its trigger of 0005 (the code is assigned once) created again.

Revision ID: 0014
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0014'
down_revision = '0012'
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


def upgrade() -> None:
    _alter(NEW_STATES, add=True)


def downgrade() -> None:
    # an item withdrawn cannot stay so: it was closed by the withdrawal of its record (kept as withdrawn
    # in the audit trail)
    op.execute("UPDATE matter SET state = 'closed', closed_at = withdrawn_at WHERE state = 'withdrawn'")
    _alter(STATES, add=False)
