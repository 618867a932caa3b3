"""the office keeps its org chart (issue 19): a 附件2 row can be retired (kept, since matters point at it);
a notice remembers the request id of the callback that queued it (to follow one message through the logs)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatch_row') as batch:
        batch.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('notice') as batch:
        batch.add_column(sa.Column('request_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notice') as batch:
        batch.drop_column('request_id')
    with op.batch_alter_table('dispatch_row') as batch:
        batch.drop_column('active')
