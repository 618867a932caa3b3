"""person identities: a person's platform ids become rows (channel, external id); person.key is the org chart's

`person.wecom_userid` and `person.dingtalk_userid` move into `person_identity` (one row per person and
channel, an id unique per channel), and `person.key` takes over as the seed's natural key of a person:
the WeCom id for the people that have one (what the seed used so far), else the DingTalk id with a
`dingtalk:` prefix, else none. Existing rows are copied in SQL before the columns are dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHANNEL_COLUMNS = (("wecom", "wecom_userid"), ("dingtalk", "dingtalk_userid"))


def upgrade() -> None:
    op.create_table('person_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_identity_person_id_person'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_identity')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_person_identity_channel_external_id')),
    sa.UniqueConstraint('person_id', 'channel', name=op.f('uq_person_identity_person_id_channel'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=64), nullable=True))
    for channel, column in CHANNEL_COLUMNS:
        op.execute(sa.text(
            f"INSERT INTO person_identity (person_id, channel, external_id) "
            f"SELECT id, :channel, {column} FROM person WHERE {column} IS NOT NULL AND {column} <> '' "
            f"ORDER BY id").bindparams(channel=channel))
    op.execute("UPDATE person SET key = CASE WHEN wecom_userid IS NOT NULL AND wecom_userid <> '' "
               "THEN wecom_userid WHEN dingtalk_userid IS NOT NULL AND dingtalk_userid <> '' "
               "THEN 'dingtalk:' || dingtalk_userid END")
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_dingtalk_userid'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_person_wecom_userid'), type_='unique')
        batch_op.drop_column('dingtalk_userid')
        batch_op.drop_column('wecom_userid')
        batch_op.create_unique_constraint(batch_op.f('uq_person_key'), ['key'])


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wecom_userid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('dingtalk_userid', sa.String(length=64), nullable=True))
    for channel, column in CHANNEL_COLUMNS:
        op.execute(sa.text(
            f"UPDATE person SET {column} = (SELECT external_id FROM person_identity "
            f"WHERE person_identity.person_id = person.id AND person_identity.channel = :channel)"
        ).bindparams(channel=channel))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_key'), type_='unique')
        batch_op.drop_column('key')
        batch_op.create_unique_constraint(batch_op.f('uq_person_wecom_userid'), ['wecom_userid'])
        batch_op.create_unique_constraint(batch_op.f('uq_person_dingtalk_userid'), ['dingtalk_userid'])
    op.drop_table('person_identity')
