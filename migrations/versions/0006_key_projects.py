"""seed 001 in chat (issue 13): weekly forms with milestone lines and problems in detail, topics, joint
meetings and their minutes, decision transfers (§三(四)); a project keeps its report mailbox and contact

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:55:15.381685
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# meeting_topic.state gains 'returned' (a topic sent back with a reason is revised and resubmitted).
TOPIC_STATES_BEFORE = "state IN ('submitted', 'office_reviewed', 'approved', 'decided', 'rejected')"
TOPIC_STATES_NOW = "state IN ('submitted', 'office_reviewed', 'approved', 'decided', 'rejected', 'returned')"


def upgrade() -> None:
    op.create_table('joint_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('meeting_date', sa.Date(), nullable=False),
    sa.Column('chair_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('extra', sa.Boolean(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('invited_unit_ids', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('called_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('draft', sa.JSON(), nullable=True),
    sa.Column('drafted_by_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['chair_id'], ['person.id'], name=op.f('fk_joint_meeting_chair_id_person')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_joint_meeting_created_by_id_person')),
    sa.ForeignKeyConstraint(['drafted_by_id'], ['person.id'], name=op.f('fk_joint_meeting_drafted_by_id_person')),
    sa.ForeignKeyConstraint(['project_id'], ['key_project.id'], name=op.f('fk_joint_meeting_project_id_key_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_joint_meeting')),
    sa.CheckConstraint("state IN ('proposed', 'declined', 'planned', 'called', 'minutes_drafted', 'signed')",
                       name=op.f('ck_joint_meeting_state'))
    )
    op.create_table('milestone_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestone.id'], name=op.f('fk_milestone_progress_milestone_id_milestone'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['weekly_project_report.id'], name=op.f('fk_milestone_progress_report_id_weekly_project_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_progress')),
    sa.UniqueConstraint('report_id', 'milestone_id', name=op.f('uq_milestone_progress_report_id_milestone_id'))
    )
    op.create_table('decision_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('notify_discipline', sa.Boolean(), nullable=False),
    sa.Column('notify_efficiency', sa.Boolean(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['approver_id'], ['person.id'], name=op.f('fk_decision_transfer_approver_id_person')),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], name=op.f('fk_decision_transfer_matter_id_matter')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['person.id'], name=op.f('fk_decision_transfer_requested_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_transfer')),
    sa.CheckConstraint("state IN ('requested', 'approved', 'refused')", name=op.f('ck_decision_transfer_state')),
    sa.CheckConstraint("target IN ('party', 'gov')", name=op.f('ck_decision_transfer_target'))
    )
    with op.batch_alter_table('decision_transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_transfer_matter_id'), ['matter_id'], unique=False)

    with op.batch_alter_table('key_project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_mailbox', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_mobile', sa.String(length=20), nullable=True))

    with op.batch_alter_table('meeting_topic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consulted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', models.base.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_meeting_topic_meeting_id_joint_meeting'), 'joint_meeting', ['meeting_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_meeting_topic_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_meeting_topic_state'), TOPIC_STATES_NOW)

    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_milestone_confirmed_by_id_person'), 'person', ['confirmed_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_milestone_created_by_id_person'), 'person', ['created_by_id'], ['id'])

    with op.batch_alter_table('project_problem', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('proposal', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_project_problem_closed_by_id_person'), 'person', ['closed_by_id'], ['id'])

    with op.batch_alter_table('weekly_project_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filled_unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('return_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_weekly_project_report_filled_unit_id_unit'), 'unit', ['filled_unit_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('weekly_project_report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_weekly_project_report_filled_unit_id_unit'), type_='foreignkey')
        batch_op.drop_column('draft')
        batch_op.drop_column('return_reason')
        batch_op.drop_column('revision')
        batch_op.drop_column('filled_unit_id')

    with op.batch_alter_table('project_problem', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_project_problem_closed_by_id_person'), type_='foreignkey')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('proposal')
        batch_op.drop_column('progress')

    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_milestone_created_by_id_person'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_milestone_confirmed_by_id_person'), type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('confirmed_by_id')
        batch_op.drop_column('claimed_on')

    with op.batch_alter_table('meeting_topic', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_meeting_topic_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_meeting_topic_state'), TOPIC_STATES_BEFORE)
        batch_op.drop_constraint(batch_op.f('fk_meeting_topic_meeting_id_joint_meeting'), type_='foreignkey')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('meeting_id')
        batch_op.drop_column('revision')
        batch_op.drop_column('return_reason')
        batch_op.drop_column('consulted')

    with op.batch_alter_table('key_project', schema=None) as batch_op:
        batch_op.drop_column('contact_mobile')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('report_mailbox')

    with op.batch_alter_table('decision_transfer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_transfer_matter_id'))

    op.drop_table('decision_transfer')
    op.drop_table('milestone_progress')
    op.drop_table('joint_meeting')
