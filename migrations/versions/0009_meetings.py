"""meetings: dispatch meetings as records of their own; minutes and slips signed, issued, 保密, withdrawn

- table meeting (leader, date, 附件2 row, lead unit, kind 会议/调研/一线调度): what the monthly meeting rule
  and the 3-day draft rule count;
- minutes: meeting_id, confidential, issued_at, return_reason; states returned and withdrawn added;
- assignment_slip: confidential; state withdrawn added.

Existing minutes were copied and sent out when typed (they were treated as issued): they become issued,
each with a meeting of its own leader, date and row, so the monthly count keeps them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""
import sqlalchemy as sa
from alembic import op

import models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

MINUTES_OLD = "state IN ('recorded', 'drafted', 'issued')"
MINUTES_NEW = "state IN ('recorded', 'drafted', 'issued', 'returned', 'withdrawn')"
SLIP_OLD = "state IN ('pending_signature', 'returned', 'issued')"
SLIP_NEW = "state IN ('pending_signature', 'returned', 'issued', 'withdrawn')"


def upgrade() -> None:
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('dispatch_row_id', sa.Integer(), nullable=True),
    sa.Column('meeting_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('lead_unit_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('meeting', 'research', 'frontline')", name=op.f('ck_meeting_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_meeting_created_by_id_person')),
    sa.ForeignKeyConstraint(['dispatch_row_id'], ['dispatch_row.id'],
                            name=op.f('fk_meeting_dispatch_row_id_dispatch_row')),
    sa.ForeignKeyConstraint(['lead_unit_id'], ['unit.id'], name=op.f('fk_meeting_lead_unit_id_unit')),
    sa.ForeignKeyConstraint(['leader_id'], ['person.id'], name=op.f('fk_meeting_leader_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_leader_id'), ['leader_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_meeting_date'), ['meeting_date'], unique=False)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('minutes', schema=None, recreate="always" if sqlite else "auto") as batch_op:
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('issued_at', models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_minutes_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_minutes_meeting_id_meeting'), 'meeting', ['meeting_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_minutes_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_minutes_state'), MINUTES_NEW)
    with op.batch_alter_table('assignment_slip', schema=None,
                              recreate="always" if sqlite else "auto") as batch_op:
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_constraint(op.f('ck_assignment_slip_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assignment_slip_state'), SLIP_NEW)
    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.alter_column('confidential', server_default=None)
    with op.batch_alter_table('assignment_slip', schema=None) as batch_op:
        batch_op.alter_column('confidential', server_default=None)
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    minutes = sa.table('minutes', sa.column('id'), sa.column('leader_id'), sa.column('dispatch_row_id'),
                       sa.column('meeting_date', sa.Date()), sa.column('drafting_unit_id'),
                       sa.column('created_by_id'), sa.column('created_at', models.base.UTCDateTime()),
                       sa.column('drafted_at', models.base.UTCDateTime()), sa.column('state'),
                       sa.column('meeting_id'), sa.column('issued_at', models.base.UTCDateTime()))
    meeting = sa.table('meeting', sa.column('id'), sa.column('leader_id'), sa.column('dispatch_row_id'),
                       sa.column('meeting_date', sa.Date()), sa.column('kind'), sa.column('lead_unit_id'),
                       sa.column('created_by_id'), sa.column('created_at', models.base.UTCDateTime()))
    for r in conn.execute(sa.select(minutes).order_by(minutes.c.id)).all():
        mid = conn.execute(meeting.insert().values(
            leader_id=r.leader_id, dispatch_row_id=r.dispatch_row_id, meeting_date=r.meeting_date,
            kind='meeting', lead_unit_id=r.drafting_unit_id, created_by_id=r.created_by_id,
            created_at=r.created_at).returning(meeting.c.id)).scalar_one()
        values = {"meeting_id": mid}
        if r.state in ('recorded', 'drafted'):
            values.update(state='issued', issued_at=r.drafted_at or r.created_at)
        conn.execute(minutes.update().where(minutes.c.id == r.id).values(**values))


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    conn.execute(sa.text("UPDATE minutes SET state = 'drafted' WHERE state IN ('returned', 'withdrawn')"))
    conn.execute(sa.text("UPDATE assignment_slip SET state = 'returned' WHERE state = 'withdrawn'"))
    with op.batch_alter_table('assignment_slip', schema=None,
                              recreate="always" if sqlite else "auto") as batch_op:
        batch_op.drop_constraint(op.f('ck_assignment_slip_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assignment_slip_state'), SLIP_OLD)
        batch_op.drop_column('confidential')
    with op.batch_alter_table('minutes', schema=None, recreate="always" if sqlite else "auto") as batch_op:
        batch_op.drop_constraint(op.f('ck_minutes_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_minutes_state'), MINUTES_OLD)
        batch_op.drop_constraint(batch_op.f('fk_minutes_meeting_id_meeting'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_minutes_meeting_id'))
        batch_op.drop_column('return_reason')
        batch_op.drop_column('issued_at')
        batch_op.drop_column('confidential')
        batch_op.drop_column('meeting_id')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_meeting_date'))
        batch_op.drop_index(batch_op.f('ix_meeting_leader_id'))
    op.drop_table('meeting')
