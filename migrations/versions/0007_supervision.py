"""the supervision group's records: spot_check, interview, supervision_task (rectifications and
promises, tracked to 销号), accountability_case (效能问责, referral to 区纪委监委), briefing, highlight

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:40:25
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accountability_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('deduction', sa.Float(), nullable=False),
    sa.Column('decided_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('referred_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('referred_by_id', sa.Integer(), nullable=True),
    sa.Column('referral_note', sa.Text(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('open', 'decided')", name=op.f('ck_accountability_case_state')),
    sa.CheckConstraint('deduction >= 0', name=op.f('ck_accountability_case_deduction')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['person.id'], name=op.f('fk_accountability_case_decided_by_id_person')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['person.id'], name=op.f('fk_accountability_case_opened_by_id_person')),
    sa.ForeignKeyConstraint(['referred_by_id'], ['person.id'], name=op.f('fk_accountability_case_referred_by_id_person')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_accountability_case_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accountability_case')),
    sa.UniqueConstraint('code', name=op.f('uq_accountability_case_code'))
    )
    with op.batch_alter_table('accountability_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accountability_case_unit_id'), ['unit_id'], unique=False)

    op.create_table('briefing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('group_code', sa.String(length=64), nullable=True),
    sa.Column('published_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('briefing', 'special')", name=op.f('ck_briefing_kind')),
    sa.CheckConstraint("state IN ('draft', 'published')", name=op.f('ck_briefing_state')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_briefing_created_by_id_person')),
    sa.ForeignKeyConstraint(['published_by_id'], ['person.id'], name=op.f('fk_briefing_published_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing')),
    sa.UniqueConstraint('code', name=op.f('uq_briefing_code'))
    )
    op.create_table('spot_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('team', sa.Text(), nullable=False),
    sa.Column('unit_ids', sa.JSON(), nullable=False),
    sa.Column('matter_ids', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('recorded_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('planned', 'recorded')", name=op.f('ck_spot_check_state')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_spot_check_created_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check')),
    sa.UniqueConstraint('code', name=op.f('uq_spot_check_code'))
    )
    op.create_table('highlight',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('briefing_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['briefing_id'], ['briefing.id'], name=op.f('fk_highlight_briefing_id_briefing')),
    sa.ForeignKeyConstraint(['marked_by_id'], ['person.id'], name=op.f('fk_highlight_marked_by_id_person')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_highlight_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_highlight'))
    )
    op.create_table('interview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=True),
    sa.Column('escalation_id', sa.Integer(), nullable=True),
    sa.Column('scheduled_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('interviewers', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('held_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("state IN ('scheduled', 'held')", name=op.f('ck_interview_state')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_interview_created_by_id_person')),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalation.id'], name=op.f('fk_interview_escalation_id_escalation')),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], name=op.f('fk_interview_matter_id_matter')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_interview_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interview')),
    sa.UniqueConstraint('code', name=op.f('uq_interview_code'))
    )
    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_unit_id'), ['unit_id'], unique=False)

    op.create_table('supervision_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('spot_check_id', sa.Integer(), nullable=True),
    sa.Column('interview_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('requirement', sa.Text(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claim_note', sa.Text(), nullable=True),
    sa.Column('claimed_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'rectification' AND spot_check_id IS NOT NULL AND interview_id IS NULL) OR (kind = 'promise' AND interview_id IS NOT NULL AND spot_check_id IS NULL)", name=op.f('ck_supervision_task_kind_source')),
    sa.CheckConstraint("kind IN ('rectification', 'promise')", name=op.f('ck_supervision_task_kind')),
    sa.CheckConstraint("state IN ('open', 'claimed', 'closed')", name=op.f('ck_supervision_task_state')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['person.id'], name=op.f('fk_supervision_task_closed_by_id_person')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_supervision_task_created_by_id_person')),
    sa.ForeignKeyConstraint(['interview_id'], ['interview.id'], name=op.f('fk_supervision_task_interview_id_interview')),
    sa.ForeignKeyConstraint(['spot_check_id'], ['spot_check.id'], name=op.f('fk_supervision_task_spot_check_id_spot_check')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_supervision_task_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_task')),
    sa.UniqueConstraint('code', name=op.f('uq_supervision_task_code'))
    )
    with op.batch_alter_table('supervision_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_task_unit_id'), ['unit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supervision_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_task_unit_id'))

    op.drop_table('supervision_task')
    with op.batch_alter_table('interview', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_unit_id'))

    op.drop_table('interview')
    op.drop_table('highlight')
    op.drop_table('spot_check')
    op.drop_table('briefing')
    with op.batch_alter_table('accountability_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accountability_case_unit_id'))

    op.drop_table('accountability_case')
