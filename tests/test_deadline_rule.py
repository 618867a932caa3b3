"""Issue 15: a report deadline on a non-working day (DEADLINE_ON_NON_WORKING_DAY, default next_working_day)
and how people are named (bot.domain.address) and escalation levels shown (one mapping)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import periods
from bot.domain.address import address, short_title, unit_contact
from bot.domain.ledger import ESCALATION_LEVEL_NAMES, escalation_level_name
from bot.domain.periods import KEEP, NEXT_WORKING_DAY, deadline_day, period_at, period_by_key
from bot.domain.workdays import is_workday
from bot.infra.text import cn_deadline
from tests.jobs_helpers import build_december, notices, report, run_cli

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture
def rule():
    yield periods.set_deadline_rule
    periods.set_deadline_rule(NEXT_WORKING_DAY)


# -- the rule ---------------------------------------------------------------------------------------
def test_a_saturday_deadline_moves_to_monday_by_default():
    p = period_by_key("2026-12-05")  # Saturday
    assert p.deadline == at(2026, 12, 7, 18) and p.moved and p.nominal_date == date(2026, 12, 5)
    assert p.key == "2026-12-05" and p.year == 2026 and p.month == 12
    assert p.rollup_due == at(2026, 12, 9, 18)  # two days after the moved deadline
    assert cn_deadline(p.deadline) == "2026年12月7日（星期一）18:00"
    second = period_by_key("2026-12-20")  # Sunday → Monday 21st
    assert second.deadline == at(2026, 12, 21, 18) and second.opens == p.deadline
    assert period_at(at(2026, 12, 6, 12)) == p  # Sunday the 6th still belongs to the 5th's period
    assert period_at(at(2026, 12, 7, 18, 1)).key == "2026-12-20"


def test_keep_leaves_the_deadline_where_it_falls(rule):
    rule(KEEP)
    p = period_by_key("2026-12-05")
    assert p.deadline == at(2026, 12, 5, 18) and not p.moved and p.rollup_due == at(2026, 12, 7, 18)
    assert period_at(at(2026, 12, 6, 12)).key == "2026-12-20"


def test_a_make_up_working_weekend_day_of_the_calendar_is_not_moved():
    # 2026: National Day 1–7 October off; Sunday 20 September and Saturday 10 October are 调休 working days
    assert is_workday(date(2026, 9, 20)) and not is_workday(date(2026, 10, 5))
    assert period_by_key("2026-09-20").deadline == at(2026, 9, 20, 18)  # a working Sunday: kept
    assert deadline_day(date(2026, 10, 5)) == date(2026, 10, 8)  # the holiday: Thursday the 8th
    assert deadline_day(date(2026, 10, 5), KEEP) == date(2026, 10, 5)
    assert period_by_key("2026-02-20").deadline == at(2026, 2, 24, 18)  # Spring Festival


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="next_working_day"):
        periods.set_deadline_rule("someday")


@settings(deadline=None)  # the first 2027 date loads the `holidays` package (bot.domain.workdays)
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_every_deadline_is_on_a_working_day_and_never_before_its_nominal_day(d):
    nominal = date(d.year, d.month, 5 if d.day < 13 else 20)
    p = period_by_key(nominal.isoformat())
    assert is_workday(p.deadline_date) and p.deadline_date >= nominal
    assert p.deadline_date - nominal < timedelta(days=10)
    assert is_workday(p.rollup_due.date()) and p.rollup_due > p.deadline
    # the windows tile time: the period after opens where this one closes
    assert periods.next_period(p).opens == p.deadline and periods.previous_period(p).deadline == p.opens
    assert period_at(p.deadline) == p and period_at(p.deadline + timedelta(minutes=1)) == periods.next_period(p)


# -- jobs and texts on both settings ------------------------------------------------------------------
def test_reminders_and_the_overdue_list_follow_the_moved_deadline(seeded, runner):
    rt = seeded
    with rt.db.session() as s:
        d = build_december(s)
    run_cli(runner, "report_reminder", at(2026, 12, 4))  # Friday: the Saturday would-be reminder day
    dm = [n for n in notices(rt, "report_reminder:u") if n.key.endswith(":2026-12-04")]
    assert dm, "two days before Monday the 7th is Saturday the 5th: reminded on Friday the 4th"
    text = dm[0].payload["content"]
    assert "须在2026年12月7日（星期一）18:00前报送" in text and "（12月5日为休息日，截止时间顺延至12月7日）" in text
    assert "请您发送“填报”" in text
    with rt.db.session() as s:  # a report on Sunday the 6th is on time: the deadline is Monday's
        report(s, d.jiaoyu, "2026-12-05", at(2026, 12, 6, 10), period_by_key("2026-12-05").deadline)
    for moment in (at(2026, 12, 5, 18, 1), at(2026, 12, 6, 18, 1)):  # Saturday and Sunday evenings: nothing
        run_cli(runner, "report_overdue", moment)
        assert notices(rt, "report_overdue:") == []
    run_cli(runner, "report_reminder", at(2026, 12, 7))  # the day of the (moved) deadline
    assert [n for n in notices(rt, "report_reminder:u") if n.key.endswith(":2026-12-07")]
    run_cli(runner, "report_overdue", at(2026, 12, 7, 18, 1))
    group, = notices(rt, "report_overdue:group:liaisons:")
    assert "截止时间2026年12月7日（星期一）18:00" in group.payload["content"]
    assert "区教育局" not in group.payload["content"] and "区住建局" in group.payload["content"]
    assert group.payload["content"].startswith("【超期未报】12月5日期调度事项落实情况")


def test_keep_lists_a_weekend_deadline_on_the_next_working_day(seeded, runner, monkeypatch, tmp_path):
    from tests.support import make_app

    monkeypatch.setenv("DEADLINE_ON_NON_WORKING_DAY", "keep")
    app = make_app(seeded.settings.DATABASE_URL, tmp_path / "keep")
    rt, runner = app.extensions["bot"], app.test_cli_runner()
    try:
        assert period_by_key("2026-12-05").deadline == at(2026, 12, 5, 18)
        with rt.db.session() as s:
            build_december(s)
        run_cli(runner, "report_overdue", at(2026, 12, 5, 18, 1))  # Saturday: never on a non-working day
        run_cli(runner, "report_overdue", at(2026, 12, 6, 18, 1))
        assert notices(rt, "report_overdue:") == []
        run_cli(runner, "report_overdue", at(2026, 12, 7, 18, 1))
        group, = notices(rt, "report_overdue:group:liaisons:")
        assert "截止时间2026年12月5日（星期六）18:00已过" in group.payload["content"]
    finally:
        app.extensions["bot"].db.dispose()
        periods.set_deadline_rule(NEXT_WORKING_DAY)


def test_the_choice_of_problem_lists_names_the_period_by_its_nominal_day(runtime):
    """A moved deadline keeps the period's name ("12月5日期", periods.Period.nominal_date): the reply that
    asks which problem list to report named it after the moved deadline ("12月7日期")."""
    from tests import factories as f

    with runtime.db.session() as s:
        o = f.small_org(s)
        mins = f.minutes(s, o.leader1, o.fagai, row=o.row1, title="经济运行调度会", meeting=date(2026, 11, 2))
        f.matter(s, "M5", o.keji, o.leader1, date(2026, 12, 31), minutes_obj=mins)
        f.matter(s, "M6", o.keji, o.leader1, date(2026, 12, 31))
    runtime.clock.set(at(2026, 12, 4))
    assert period_by_key("2026-12-05").deadline == at(2026, 12, 7, 18)  # Saturday 5th: moved to Monday
    text = runtime.handle_text("wecom", "uk", "填报").text
    assert "2份问题清单" in text and "12月5日期报送" in text and "12月7日期" not in text, text
    assert "12月5日期报送" in runtime.handle_text("wecom", "uk", "填报 1").text


# -- address -----------------------------------------------------------------------------------------
def person(name, title=None, unit=None, short=None, placeholder=False):
    return SimpleNamespace(name=name, title=title, unit_name=unit, short_title=short, placeholder=placeholder)


@pytest.mark.parametrize("title, unit, expected", [
    ("区政府区长", "区政府", "杨凤翔区长"),
    ("区委常委、区政府常务副区长", "区政府", "杨凤翔常务副区长"),
    ("区政府副区长、公安分局局长", "区政府", "杨凤翔副区长"),
    ("区发改局局长", "区发改局", "杨凤翔局长"),
    ("区政府办副主任、二级主任科员", "区政府办（效能办）", "杨凤翔副主任"),
    ("区政府办三级主任科员", "区政府办（效能办）", "杨凤翔"),  # a rank, not a post named after a person
    ("区效能办督查股负责人", None, "杨凤翔"),
    (None, None, "杨凤翔"),
])
def test_address_derives_the_short_title(title, unit, expected):
    assert address(person("杨凤翔", title, unit)) == expected


def test_address_prefers_the_org_chart_short_title_and_hides_placeholders():
    assert address(person("刘志春", "区纪委监委驻政府办纪检监察组组长", short="组长")) == "刘志春组长"
    ph = person("（待指定）锦川实验小学项目负责领导", "项目负责领导（待指定）", placeholder=True)
    assert address(ph) == "项目负责领导" and "待指定" not in address(ph)
    liaison = person("（待指定）区工信局（数字办）联络员", "联络员（待指定）", placeholder=True)
    assert unit_contact("区工信局（数字办）", liaison) == "区工信局（数字办）"
    assert unit_contact("区发改局", person("王五")) == "区发改局（王五）"
    assert short_title("区委常委、区政府常务副区长") == "常务副区长" and address(None) == ""


def test_escalation_levels_are_shown_by_name_everywhere():
    assert [escalation_level_name(n) for n in range(1, 6)] == ["提级督办", "久推不动", "久拖不办", "效能问责",
                                                               "转报区纪委监委"]
    assert set(ESCALATION_LEVEL_NAMES) == {1, 2, 3, 4, 5}
    from bot.infra.text import env

    macro = env.get_template("status/_labels.txt").module.line
    v = SimpleNamespace(icon="🔴", code="M1", title="事项", unit="区发改局", deadline=date(2026, 12, 1),
                        overdue_days=3, state="open", escalation_level=2)
    shown = str(macro(v))
    assert "久推不动" in shown and "2级" not in shown and "⚠️" not in shown
