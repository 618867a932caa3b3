"""Memory of the long-running processes (issue 18): what a web worker and the embedded `serve` load."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

from bot.jobs import monthly
from bot.jobs.scheduler import Scheduler, start_embedded
from tests.support import ROOT


def test_no_scheduler_runs_a_jobs_warm_up_in_its_own_process(runtime, monkeypatch):
    """The monthly report's warm-up (matplotlib and the CJK font) would stay in `serve` or the `scheduler`
    process all month: only the job's child process runs it (bot.jobs.child)."""
    called = threading.Event()
    monkeypatch.setattr(monthly.run, "warm_up", called.set)
    for sched in (start_embedded(runtime), Scheduler(runtime).start(catchup=False)):
        try:
            assert not called.wait(0.5)
        finally:
            sched.stop()


SERVE_CATCH_UP = textwrap.dedent("""
    import json, sys
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from bot import create_app
    from bot.jobs.scheduler import start_embedded

    url, instance, jobs_file = sys.argv[1:4]
    rt = create_app({"DATABASE_URL": url, "INSTANCE_DIR": instance, "REDIS_URL": "", "JOBS_FILE": jobs_file,
                     "EMBEDDED_WORKERS": False}).extensions["bot"]
    rt.clock.set(datetime(2026, 12, 7, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    sched = start_embedded(rt)  # what `serve` starts: the catch-up runs the monthly report of November
    sched._catchup_thread.join(240)
    sched.stop()
    print(json.dumps({m: m in sys.modules for m in HEAVY}))
""")


def test_serve_keeps_none_of_the_monthly_reports_libraries_after_its_catch_up(sqlite_url, tmp_path):
    """Issue 18: the embedded `serve` (SQLite) starts after the 1st; its scheduler's catch-up runs the
    monthly report — in a child process, so matplotlib & co. never enter the serving process."""
    from sqlalchemy import select

    from models import JobRun, MonthlyReport
    from tests.jobs_helpers import monthly_ledger
    from tests.support import make_app

    rt = make_app(sqlite_url, tmp_path).extensions["bot"]
    with rt.db.session() as s:
        monthly_ledger(s)
    jobs_file = tmp_path / "jobs.yaml"
    jobs_file.write_text("jobs:\n  monthly_report:\n    cron: {day: 1, hour: 8}\n    catchup_hours: 240\n")
    heavy = ("matplotlib", "numpy", "PIL", "openpyxl")
    script = f"HEAVY = {heavy!r}\n" + SERVE_CATCH_UP
    run = subprocess.run([sys.executable, "-c", script, sqlite_url, str(tmp_path / "instance"), str(jobs_file)],
                         capture_output=True, text=True, cwd=ROOT, timeout=280)
    assert run.returncode == 0, run.stderr
    with rt.db.session() as s:
        assert s.scalar(select(MonthlyReport.month)) == "2026-11"
        assert [(r.job, r.error) for r in s.scalars(select(JobRun))] == [("monthly_report", None)]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert not any(loaded.values()), loaded
    rt.db.dispose()


def test_a_web_worker_loads_no_document_library_at_start_and_never_openpyxl(sqlite_url):
    """After create_app: no matplotlib, openpyxl (numpy, PIL), XlsxWriter or python-docx (lxml) — the chat's
    documents load XlsxWriter / python-docx with the first one; the board's ledger download never loads
    openpyxl."""
    script = textwrap.dedent("""
        import sys, tempfile
        from datetime import datetime
        from bot import create_app
        from bot.domain.roles import Roles
        from bot.web.board.downloads import FORMS
        from models import ROLE_ADMIN
        HEAVY = ("openpyxl", "numpy", "PIL", "matplotlib", "xlsxwriter", "docx", "lxml")
        app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_DIR": tempfile.mkdtemp(), "EMBEDDED_WORKERS": False})
        print(",".join(m for m in HEAVY if m in sys.modules))
        with app.extensions["bot"].db.session() as s:
            name, data = FORMS["ledger"].export(s, Roles(0, frozenset({ROLE_ADMIN})), now=datetime(2026, 12, 7))
        assert data[:2] == b"PK", name
        print(",".join(m for m in HEAVY if m in sys.modules))
    """)
    run = subprocess.run([sys.executable, "-c", script, sqlite_url], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["", "xlsxwriter"]


def test_serve_migrates_in_a_child_process(tmp_path):
    """`serve` migrates at start; alembic and the migration scripts (~9 MB) stay out of it."""
    script = textwrap.dedent("""
        import sys
        from bot import create_app
        from bot.infra.db import current_revision, head_revision
        from bot.tools.cli import prepare_database
        rt = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_DIR": sys.argv[2], "EMBEDDED_WORKERS": False,
                         "REDIS_URL": ""}).extensions["bot"]
        prepare_database(rt)
        loaded = "alembic" in sys.modules
        print(loaded, current_revision(sys.argv[1]) == head_revision())
    """)
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    run = subprocess.run([sys.executable, "-c", script, url, str(tmp_path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "True"]
