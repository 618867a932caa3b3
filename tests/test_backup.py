"""`backup` / `restore`: a seeded database with a ledger round-trips (SQLite online backup; PostgreSQL
pg_dump / pg_restore)."""
from datetime import date

from sqlalchemy import delete, select

from models import AuditLog, Matter, Person, Unit
from tests import factories as f


def snapshot(runtime):
    with runtime.db.session() as s:
        return {
            "units": sorted(s.scalars(select(Unit.name))),
            "people": sorted((p.name, p.title or "") for p in s.scalars(select(Person))),
            "matters": sorted((m.code, m.title, m.state, m.deadline) for m in s.scalars(select(Matter))),
            "audit": s.query(AuditLog).count(),
        }


def test_backup_and_restore_round_trip(seeded, runner, tmp_path):
    with seeded.db.session() as s:
        unit = s.scalar(select(Unit).where(Unit.name == "区农水局"))
        leader = s.scalar(select(Person).where(Person.name == "庄一鸣"))
        f.matter(s, "M1", unit, leader, date(2026, 12, 31), title="征迁扫尾")
        f.matter(s, "M2", unit, leader, date(2027, 1, 15), title="截污工程")
    before = snapshot(seeded)
    target = tmp_path / "copy.bak"
    out = runner.invoke(args=["backup", "--to", str(target)])
    assert out.exit_code == 0, out.output
    assert "backup written" in out.output and target.stat().st_size > 0

    with seeded.db.session() as s:  # something goes wrong after the backup
        s.execute(delete(Matter).where(Matter.code == "M2"))
        s.scalar(select(Unit).where(Unit.name == "区发改局")).name = "误改的名称"
    assert snapshot(seeded) != before

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    out = runner.invoke(args=["restore", str(target), "--yes"])
    assert out.exit_code == 0, out.output
    seeded.db.dispose()  # connections opened before the restore may cache the old schema
    assert snapshot(seeded) == before


def test_restore_refuses_a_file_that_is_not_a_backup(sqlite_url, tmp_path):
    from tests.support import make_app

    app = make_app(sqlite_url, tmp_path)
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_bytes(b"not a database at all" * 100)
    out = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert out.exit_code != 0 and "not an SQLite database" in out.output
    missing = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "nothing.sqlite3"), "--yes"])
    assert missing.exit_code != 0 and "no such backup file" in missing.output
    app.extensions["bot"].db.dispose()
