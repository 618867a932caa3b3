"""The board's main page on 5,000 items (300 units), rendered through Flask's test client.

    .venv/bin/python bench/board_bench.py [DATABASE_URL]      (default: a fresh SQLite file)

Prints the best of 5 for the supervision group's first page (all items, 进度's counts), a filtered page
and a unit liaison's page. Figures: docs/board.md."""
from __future__ import annotations

import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.infra.db import upgrade  # noqa: E402
from models import Matter, Unit  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.support import make_app  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tmp / 'bench.sqlite3'}"
    upgrade(url)
    app = make_app(url, tmp)
    rt = app.extensions["bot"]
    now = f.at(2026, 12, 1, 10)
    rt.clock.set(now)
    rnd = random.Random(7)
    with rt.db.session() as s:
        o = f.small_org(s)
        units = [Unit(name=f"单位{i:03d}", kind="bureau") for i in range(297)] + [o.fagai, o.keji, o.jiaoyu]
        s.add_all(units[:297])
        s.flush()
        s.add_all(Matter(code=f"M{i}", kind="minutes", title=f"调度事项{i}", responsible_unit_id=rnd.choice(units).id,
                         leader_id=rnd.choice([o.leader1.id, o.leader2.id]),
                         deadline=date(2026, 12, 1) + timedelta(days=rnd.randint(-60, 90)),
                         original_deadline=date(2026, 10, 1),
                         state=rnd.choice(["open"] * 8 + ["closed", "completion_claimed"]),
                         created_at=f.at(2026, 10, 1), last_progress="按计划推进" if i % 3 else None,
                         last_progress_at=f.at(2026, 11, 18) if i % 3 else None) for i in range(1, 5001))
    client = app.test_client()

    def login(userid):
        link = re.search(r"https?://\S+", rt.handle_text("wecom", userid, "看板").text).group(0)
        client.get("/" + link.split("://", 1)[1].split("/", 1)[1])

    def best(path, n=5):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            resp = client.get(path)
            times.append(time.perf_counter() - t)
            assert resp.status_code == 200, resp.status_code
        return min(times) * 1000

    login("wujinming")
    print(f"{rt.db.engine.dialect.name}: supervision member, first page of 5,000: {best('/board/'):.0f} ms")
    print(f"{rt.db.engine.dialect.name}: supervision member, ?light=red&sort=unit: "
          f"{best('/board/?light=red&sort=unit'):.0f} ms")
    print(f"{rt.db.engine.dialect.name}: compliance page: {best('/board/compliance?month=2026-11'):.0f} ms")
    login("ua")
    print(f"{rt.db.engine.dialect.name}: unit liaison, first page: {best('/board/'):.0f} ms")
    rt.db.dispose()


if __name__ == "__main__":
    main()
