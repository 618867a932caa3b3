"""person.short_title: how official texts address a person after their name (杨凤翔区长); empty: derived
from `title` (bot.domain.address.short_title)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column without a batch: recreating tables on SQLite is not needed for a nullable column
    op.add_column('person', sa.Column('short_title', sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('short_title')
