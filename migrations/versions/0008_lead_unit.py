"""the lead unit (牵头单位) of minutes and slips; when an item went to 待销号

Seed 000 附件3 note 2: "会议纪要撰写、会签及问题清单填报、后续跟踪均由牵头单位负责". Minutes and slips get a
`lead_unit_id`; existing minutes take their drafting unit (the unit that wrote them is the lead unit by that
note); existing slips keep none, so their rows' responsible units go on reporting for themselves.

`matter.claimed_at`: an item awaiting 销号 since before a period opened owes no report in it (the unit is told
"无需填报"). Existing claimed items take their last progress (or creation) time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00
"""
import sqlalchemy as sa
from alembic import op

import models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_minutes_lead_unit_id'), ['lead_unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_minutes_lead_unit_id_unit'), 'unit', ['lead_unit_id'], ['id'])
    with op.batch_alter_table('assignment_slip', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assignment_slip_lead_unit_id'), ['lead_unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_assignment_slip_lead_unit_id_unit'), 'unit',
                                    ['lead_unit_id'], ['id'])
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', models.base.UTCDateTime(), nullable=True))
    op.execute("UPDATE minutes SET lead_unit_id = drafting_unit_id WHERE lead_unit_id IS NULL")
    op.execute("UPDATE matter SET claimed_at = COALESCE(last_progress_at, created_at) "
               "WHERE state = 'completion_claimed'")


def downgrade() -> None:
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
    with op.batch_alter_table('assignment_slip', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignment_slip_lead_unit_id_unit'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assignment_slip_lead_unit_id'))
        batch_op.drop_column('lead_unit_id')
    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_minutes_lead_unit_id_unit'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_minutes_lead_unit_id'))
        batch_op.drop_column('lead_unit_id')
