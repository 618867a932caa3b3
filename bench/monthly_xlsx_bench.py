"""Time the monthly workbook alone on a district-sized report (the shape of bench/jobs_bench.py's:
5,000 units, 8 leaders, 30 hardest items, 1,000 overdue items), without a database.

    .venv/bin/python bench/monthly_xlsx_bench.py [--units 5000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.jobs.monthly import Report, write_workbook  # noqa: E402


def synthetic(units: int) -> Report:
    counts = dict(total=20, done=8, open=12, overdue=3, new=4, closed=2, expected=2, on_time=1, late=1, rate=50.0,
                  escalations=1)
    leaders = [dict(counts, id=i, name=f"领导{i}", rollups_late=0, hardest=["M1", "M2"]) for i in range(8)]
    unit_rows = [dict(counts, id=i, name=f"泉港区第{i}单位") for i in range(units)]
    day = date(2026, 11, 1)
    hardest = [dict(code=f"M{i}", title="推进重点项目征迁工作" * 2, unit="区发改局", leader="陈剑锋", deadline=day,
                    obstacle="资金未到位", overdue_days=30, level=2) for i in range(30)]
    at = datetime(2026, 11, 20, 9, 30, 12, 345678, tzinfo=UTC)
    overdue = [dict(code=f"M{i}", title="推进重点项目征迁工作", unit="区发改局", leader="陈剑锋",
                    deadline=day - timedelta(days=i % 90), overdue_days=i % 90, level=i % 4, last_progress="推进中",
                    last_progress_at=at) for i in range(1000)]
    return Report("2026-11", leaders, unit_rows, hardest, overdue, dict(counts), 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    report = synthetic(args.units)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xlsx"
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            write_workbook(report, path)
            times.append(time.perf_counter() - t)
        print(f"workbook of {args.units} units: best {min(times):.3f} s, "
              f"median {sorted(times)[len(times) // 2]:.3f} s, "
              f"{path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
