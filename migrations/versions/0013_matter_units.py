"""several responsible units per matter (主办 / 协办), their 认领, and 分解督办 sub-items (issue 12)

matter_unit holds every responsible unit of a matter in its role; the 主办 rows of the existing matters
are back-filled from matter.responsible_unit_id (which stays the 主办), acknowledged as of the matter's
creation (nothing old is chased). matter.parent_id links a sub-item to the item it was split from; the
one-issue rule of slip rows then applies to top-level rows only.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import models.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('matter_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matter_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('added_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('assigned_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("role IN ('host', 'assist')", name=op.f('ck_matter_unit_role')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['person.id'], name=op.f('fk_matter_unit_acknowledged_by_id_person')),
    sa.ForeignKeyConstraint(['matter_id'], ['matter.id'], name=op.f('fk_matter_unit_matter_id_matter'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_matter_unit_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matter_unit')),
    sa.UniqueConstraint('matter_id', 'unit_id', name=op.f('uq_matter_unit_matter_id_unit_id'))
    )
    op.create_index(op.f('ix_matter_unit_unit_id'), 'matter_unit', ['unit_id'], unique=False)
    # plain ALTER / indexes, not batch operations: recreating matter on SQLite would drop its triggers
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a column with its reference in place
        op.execute("ALTER TABLE matter ADD COLUMN parent_id INTEGER "
                   "CONSTRAINT fk_matter_parent_id_matter REFERENCES matter (id)")
    else:
        op.add_column('matter', sa.Column('parent_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_matter_parent_id_matter'), 'matter', 'matter', ['parent_id'], ['id'])
    op.create_index(op.f('ix_matter_parent_id'), 'matter', ['parent_id'], unique=False)
    op.drop_index('uq_matter_slip_row', table_name='matter')
    op.create_index('uq_matter_slip_row', 'matter', ['slip_id', 'seq'], unique=True,
                    postgresql_where=sa.text("parent_id IS NULL"), sqlite_where=sa.text("parent_id IS NULL"))
    op.execute("INSERT INTO matter_unit (matter_id, unit_id, role, added_at, assigned_at, acknowledged_at) "
               "SELECT id, responsible_unit_id, 'host', created_at, created_at, created_at FROM matter")


def downgrade() -> None:
    op.drop_index('uq_matter_slip_row', table_name='matter')
    op.create_index('uq_matter_slip_row', 'matter', ['slip_id', 'seq'], unique=True)
    op.drop_index(op.f('ix_matter_parent_id'), table_name='matter')
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # A later migration may have rebuilt `matter` (0014 does), which turns the column's REFERENCES into a
        # table-level foreign key that SQLite's DROP COLUMN refuses: rebuild the table, keeping its triggers.
        op.execute("DELETE FROM matter WHERE parent_id IS NOT NULL")
        triggers = conn.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'matter'")).all()
        for name, _sql in triggers:
            op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        with op.batch_alter_table('matter', recreate="always") as batch_op:
            batch_op.drop_column('parent_id')
        for _name, sql in triggers:
            op.execute(sql)
    else:
        op.execute("DELETE FROM matter WHERE parent_id IS NOT NULL")
        op.drop_constraint(op.f('fk_matter_parent_id_matter'), 'matter', type_='foreignkey')
        op.drop_column('matter', 'parent_id')
    op.drop_index(op.f('ix_matter_unit_unit_id'), table_name='matter_unit')
    op.drop_table('matter_unit')
