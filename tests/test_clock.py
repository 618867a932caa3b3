"""The time zone has one source: BOT_TIMEZONE, set when the app starts (bot.domain.clock)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.support import make_app

UTC = UTC


@pytest.mark.usefixtures("keep_deadlines")  # the Saturday 5th as it falls: this is about the zone
def test_bot_timezone_moves_the_deadline_and_the_dates_people_read(sqlite_url, tmp_path):
    from bot.domain import clock, reporting
    from bot.domain.periods import period_at, period_by_key
    from bot.infra.text import cn_date, cn_datetime

    shanghai = period_by_key("2026-12-05").deadline
    assert shanghai.astimezone(UTC) == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    app = make_app(sqlite_url, tmp_path, BOT_TIMEZONE="Asia/Tokyo")
    try:
        rt = app.extensions["bot"]
        assert rt.tz == clock.tz() == ZoneInfo("Asia/Tokyo")
        p = period_by_key("2026-12-05")
        assert p.deadline.astimezone(UTC) == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # 18:00 in Tokyo
        at_1730_shanghai = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
        assert reporting.classify(at_1730_shanghai, p) == reporting.LATE  # on time in Shanghai, late in Tokyo
        assert period_at(at_1730_shanghai).key == "2026-12-20"
        assert cn_datetime(at_1730_shanghai) == "2026年12月5日 18:30"
        assert cn_date(datetime(2026, 12, 5, 15, 30, tzinfo=UTC)) == "2026年12月6日"
        assert rt.now().tzinfo == ZoneInfo("Asia/Tokyo")
    finally:
        app.extensions["bot"].db.dispose()
        clock.set_tz(clock.DEFAULT_TZ)
    assert period_by_key("2026-12-05").deadline == shanghai


def test_the_job_schedule_follows_bot_timezone(tmp_path):
    from bot.domain import clock
    from bot.jobs import JobConfigError, load_config

    path = tmp_path / "jobs.yaml"
    jobs = {"report_overdue": {"cron": {"hour": 18, "minute": 1}}}
    path.write_text(yaml.safe_dump({"jobs": jobs}), encoding="utf-8")
    try:
        clock.set_tz("Asia/Tokyo")
        assert load_config(path).tz == ZoneInfo("Asia/Tokyo")
        path.write_text(yaml.safe_dump({"timezone": "Asia/Shanghai", "jobs": jobs}), encoding="utf-8")
        with pytest.raises(JobConfigError, match="BOT_TIMEZONE"):
            load_config(path)
    finally:
        clock.set_tz(clock.DEFAULT_TZ)
    assert load_config(path).tz == ZoneInfo("Asia/Shanghai")
