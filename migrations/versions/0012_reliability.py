"""reliability (issue 11, items 7-9): one pending extension request per item, one issue of a slip
(unique rows per slip), and the inbox of messages acknowledged before their handler committed

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_message',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('incoming', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_inbox_message'))
    )
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_message_received_at'), ['received_at'], unique=False)
    # plain indexes, not batch operations: recreating matter on SQLite would drop its triggers
    op.create_index('uq_extension_one_pending', 'extension_request', ['matter_id'], unique=True,
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_index('uq_matter_slip_row', 'matter', ['slip_id', 'seq'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_matter_slip_row', table_name='matter')
    op.drop_index('uq_extension_one_pending', table_name='extension_request')
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_message_received_at'))
    op.drop_table('inbox_message')
