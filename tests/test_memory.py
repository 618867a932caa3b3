"""Memory of the long-running processes (issue 18): what a web worker and the embedded `serve` load."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from bot.jobs import monthly
from bot.jobs.scheduler import Scheduler, start_embedded
from tests.support import ROOT, wait_for


def test_the_embedded_scheduler_skips_the_warm_ups_the_scheduler_process_runs(runtime, monkeypatch):
    called = threading.Event()
    monkeypatch.setattr(monthly.run, "warm_up", called.set)
    sched = start_embedded(runtime)
    try:
        assert not called.wait(0.5)  # matplotlib and the CJK font would stay in `serve` all month
    finally:
        sched.stop()
    sched = Scheduler(runtime).start(catchup=False)
    try:
        assert wait_for(called.is_set, timeout=5)
    finally:
        sched.stop()


def test_a_web_worker_does_not_import_openpyxl_numpy_or_matplotlib():
    script = textwrap.dedent("""
        import sys, tempfile
        from bot import create_app
        create_app({"DATABASE_URL": "sqlite://", "INSTANCE_DIR": tempfile.mkdtemp(), "EMBEDDED_WORKERS": False})
        print(",".join(m for m in ("openpyxl", "numpy", "PIL", "matplotlib") if m in sys.modules))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
