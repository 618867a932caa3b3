"""org chart version (issue 18): one counter that every write to the org chart's tables bumps, so that
each process may cache a person and their roles until the org chart changes

Revision ID: 0017
Revises: 0016

The bump is done by the database itself (a trigger per table and operation), so no writer can forget it:
the chat's org-chart actions, the seed, a migration, a test factory or SQL typed by hand. PostgreSQL:
one statement-level trigger per table (a bulk insert bumps once); SQLite: row-level triggers (it has no
other kind). The counter row is created by the first write to an empty org chart (and after a
TRUNCATE, which fires no trigger).
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# The tables a person's lookup (find_person) and roles (roles_of) are read from.
TABLES = ("person", "person_identity", "person_role", "unit", "dispatch_row", "dispatch_row_liaison")
FUNCTION = "org_version_bump"

PG_FUNCTION = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO org_version (id, version) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET version = org_version.version + 1;
    RETURN NULL;
END
$$"""
SQLITE_BODY = ("INSERT OR IGNORE INTO org_version (id, version) VALUES (1, 0); "
               "UPDATE org_version SET version = version + 1 WHERE id = 1;")


def trigger_names(table: str) -> list[str]:
    return [f"{table}_org_version_{op_}" for op_ in ("insert", "update", "delete")]


def upgrade() -> None:
    op.create_table('org_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_version'))
    )
    # an existing org chart gets its version now; an empty database at its first write (the seed)
    op.execute("INSERT INTO org_version (id, version) SELECT 1, 1 WHERE EXISTS (SELECT 1 FROM person)")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.execute(PG_FUNCTION)
    for table in TABLES:
        if sqlite:
            for name, event in zip(trigger_names(table), ("INSERT", "UPDATE", "DELETE"), strict=True):
                op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {SQLITE_BODY} END")
        else:
            op.execute(f"CREATE TRIGGER {table}_org_version AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            for name in trigger_names(table):
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_org_version ON {table}")
    if not sqlite:
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.drop_table('org_version')
