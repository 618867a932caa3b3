"""e-mail as an outbox channel: notice.target_kind gains 'mail' (the target is an address)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

KINDS_BEFORE = "target_kind IN ('user', 'group', 'webhook')"
KINDS_NOW = "target_kind IN ('user', 'group', 'webhook', 'mail')"


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_notice_target_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_notice_target_kind'), KINDS_NOW)


def downgrade() -> None:
    # mail notices have no address kind before this revision: they go with it
    op.execute("DELETE FROM notice WHERE target_kind = 'mail'")
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_notice_target_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_notice_target_kind'), KINDS_BEFORE)
