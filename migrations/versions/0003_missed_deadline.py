"""missed report deadlines as facts: table missed_deadline, filled from the report_missed audit rows;
an index on matter.leader_id

The report_overdue job recorded each unit that missed a deadline as an audit row (action report_missed,
entity unit, entity_id = the unit's id, reason = the period key). From now on it writes one
missed_deadline row per (unit, period); this migration copies the existing audit rows into it (the
earliest per unit and period; rows naming no existing unit or no valid period key are left out). The
audit rows stay: the audit trail is append-only.

An item without minutes belongs to every dispatch row of its leader: who follows it (bot.domain.scope.followers)
joins matter on leader_id, which SQLite otherwise indexes anew for each query.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""
import sqlalchemy as sa
from alembic import op

import models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('missed_deadline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=10), nullable=False),
    sa.Column('deadline', models.base.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_missed_deadline_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missed_deadline')),
    sa.UniqueConstraint('unit_id', 'period_key', name=op.f('uq_missed_deadline_unit_id_period_key'))
    )
    _backfill()
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matter_leader_id'), ['leader_id'], unique=False)


def _backfill() -> None:
    from bot.domain.periods import period_by_key

    conn = op.get_bind()
    audit = sa.table('audit_log', sa.column('entity'), sa.column('entity_id'), sa.column('action'),
                     sa.column('reason'), sa.column('at', models.base.UTCDateTime()))
    units = {str(uid) for uid in conn.execute(sa.text("SELECT id FROM unit")).scalars()}
    found: dict[tuple[int, str], dict] = {}
    for entity_id, key, at in conn.execute(
            sa.select(audit.c.entity_id, audit.c.reason, audit.c.at)
            .where(audit.c.action == 'report_missed', audit.c.entity == 'unit').order_by(audit.c.at)):
        if entity_id not in units or (int(entity_id), key) in found:
            continue
        try:
            period = period_by_key(key)
        except ValueError:
            continue
        found[(int(entity_id), key)] = dict(unit_id=int(entity_id), period_key=key, deadline=period.deadline,
                                           recorded_at=at)
    if found:
        table = sa.table('missed_deadline', sa.column('unit_id'), sa.column('period_key'),
                         sa.column('deadline', models.base.UTCDateTime()),
                         sa.column('recorded_at', models.base.UTCDateTime()))
        conn.execute(table.insert(), list(found.values()))


def downgrade() -> None:
    with op.batch_alter_table('matter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matter_leader_id'))
    op.drop_table('missed_deadline')
