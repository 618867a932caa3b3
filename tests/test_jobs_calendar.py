"""calendar_check: the office is told in December while next year's holidays are not confirmed."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain import workdays
from bot.jobs import config_of, run_job
from tests.jobs_helpers import notices, targets

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d):
    return datetime(y, m, d, 9, 5, tzinfo=TZ)


@pytest.fixture
def unconfirmed(tmp_path):
    workdays.configure(tmp_path / "absent.yaml")
    yield
    workdays.configure(None)


def test_december_tells_admins_and_the_office_group_twice_at_most(seeded, unconfirmed):
    for day in (1, 2, 3):
        run_job(seeded, config_of(seeded).jobs["calendar_check"], at(2026, 12, day))
    first = notices(seeded, "calendar_check:2027:1:")
    assert targets(first) == ["liuzhaoxuan", "office"]
    text = first[0].payload["content"]
    assert "2027年节假日及调休安排" in text and "调休上班日尚无数据" in text and "config/calendar.yaml" in text
    for day in (20, 21):
        run_job(seeded, config_of(seeded).jobs["calendar_check"], at(2026, 12, day))
    assert len(notices(seeded, "calendar_check:")) == 4


def test_nothing_outside_december_or_once_confirmed(seeded, tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text("years:\n  2027:\n    confirmed: true\n", encoding="utf-8")
    try:
        run_job(seeded, config_of(seeded).jobs["calendar_check"], at(2026, 11, 30))
        workdays.configure(path)
        run_job(seeded, config_of(seeded).jobs["calendar_check"], at(2026, 12, 1))
    finally:
        workdays.configure(None)
    assert notices(seeded, "calendar_check:") == []


def test_a_retired_administrator_is_not_told(seeded, unconfirmed):
    """An administrator retired from the org chart (inactive) keeps the role row but is told nothing."""
    from sqlalchemy import select

    from models import ROLE_ADMIN, Person, PersonRole

    with seeded.db.session() as s:
        s.add(PersonRole(person_id=s.scalar(select(Person.id).where(Person.wecom_userid == "hecanghai")),
                         role=ROLE_ADMIN))
        s.scalar(select(Person).where(Person.wecom_userid == "liuzhaoxuan")).active = False
    run_job(seeded, config_of(seeded).jobs["calendar_check"], at(2026, 12, 1))
    assert targets(notices(seeded, "calendar_check:2027:1:")) == ["hecanghai", "office"]
