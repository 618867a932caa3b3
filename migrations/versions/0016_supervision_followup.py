"""notice.state gains 'unknown': a DingTalk send that got no answer within the timeout (it may have been
delivered; DingTalk has no duplicate check) is parked instead of being resent (docs/reliability.md)

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

STATES_BEFORE = "state IN ('pending', 'sent', 'failed')"
STATES_NOW = "state IN ('pending', 'sent', 'failed', 'unknown')"


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_notice_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_notice_state'), STATES_NOW)


def downgrade() -> None:
    # a parked notice of unknown outcome becomes a failed one (the operator still sees it in `outbox list`)
    op.execute("UPDATE notice SET state = 'failed' WHERE state = 'unknown'")
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_notice_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_notice_state'), STATES_BEFORE)
