"""Set-based work: each job issues the same handful of queries whatever the number of units (the
benchmark's data generator at two sizes; SQL statements counted with a cursor event)."""
from __future__ import annotations

import shutil

from bot.jobs import config_of, run_job
from tests import bulk_data
from tests.support import make_app


def counts(db_url, tmp_path, units, matters):
    app = make_app(db_url, tmp_path)
    rt = app.extensions["bot"]
    bulk_data.populate(rt.db.engine, units, matters)
    config = config_of(rt)
    counter = bulk_data.QueryCounter(rt.db.engine)
    out = {}
    for name, moment in bulk_data.PLAN:
        if name == "monthly_report":
            continue  # covered by its own test; it writes files
        counter.n = 0
        result = run_job(rt, config.jobs[name], moment, record=False)
        out[name] = (counter.n, result.notices)
    rt.db.dispose()
    return out


def test_queries_do_not_grow_with_units(_sqlite_template, tmp_path):
    dbs = []
    for name in ("small", "big"):
        shutil.copy(_sqlite_template, tmp_path / f"{name}.sqlite3")
        dbs.append(f"sqlite:///{tmp_path / name}.sqlite3")
    small = counts(dbs[0], tmp_path / "s", 60, 1200)
    big = counts(dbs[1], tmp_path / "b", 240, 4800)
    for name, (q_small, _n_small) in small.items():
        q_big, n_big = big[name]
        assert q_small <= 20, (name, q_small)
        if name == "matter_deadlines":  # + one statement per 1,000 inserted notices (insertmanyvalues batches)
            assert q_big - q_small <= n_big // 1000 + 1, (name, q_small, q_big)
        else:
            assert q_big == q_small, (name, q_small, q_big)
    assert big["report_reminder"][1] > small["report_reminder"][1]  # more units, more notices, same queries
