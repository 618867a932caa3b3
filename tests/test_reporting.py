"""Report lateness: one rule (bot.domain.reporting) for 未报, reminders, 超期未报, roll-up, 通报 and the
monthly report — on time iff the FIRST submission for the period came by the deadline."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import factories as f
from tests.factories import at

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")


def _reported_then_revised(s):
    """发改局 reports on the 4th (on time) and revises on the 6th; 科技局 reports first on the 6th (late);
    教育局 (row 2) never reports."""
    o = f.small_org(s)
    f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31))
    f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 31))
    f.matter(s, "M3", o.jiaoyu, o.leader2, date(2026, 12, 31))
    first = f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 4), is_late=False)
    first.current = False
    f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 6), is_late=True, version=2)
    f.report(s, o.keji, o.uk, "2026-12-05", at(2026, 12, 6), is_late=True)
    return o


def test_a_revision_after_the_deadline_does_not_make_an_on_time_report_late_in_the_rollup(runtime):
    from bot.actions.rollup import compile_rows
    from bot.domain.periods import period_by_key

    with runtime.db.session() as s:
        o = _reported_then_revised(s)
        compiled = compile_rows(s, period_by_key("2026-12-05"))
        text = compiled[o.row1.id].content
    fagai = next(line for line in text.splitlines() if "区发改局" in line)
    keji = next(line for line in text.splitlines() if "区科技局" in line)
    assert "迟报" not in fagai
    assert "迟报" in keji
    assert "其中迟报 1 个" in text


def test_every_use_agrees_on_the_revised_report(runtime):
    from bot.actions.circular import circular_data
    from bot.domain import reporting
    from bot.domain.periods import period_by_key
    from bot.jobs.monthly import compute

    p = period_by_key("2026-12-05")
    with runtime.db.session() as s:
        o = _reported_then_revised(s)
        status = reporting.by_unit(reporting.report_status(s, [p], at(2026, 12, 10)))
        assert status == {(o.fagai.id, p.key): reporting.ON_TIME, (o.keji.id, p.key): reporting.LATE,
                          (o.jiaoyu.id, p.key): reporting.MISSING}
        assert reporting.status_of(s, o.fagai.id, p, at(2026, 12, 10)) == reporting.ON_TIME
        assert reporting.status_of(s, o.jiaoyu.id, p, at(2026, 12, 10)) == reporting.MISSING
        # as of the deadline, nobody but 发改局 had reported
        assert reporting.by_unit(reporting.report_status(s, [p], p.deadline))[(o.keji.id, p.key)] == reporting.MISSING
        circ = circular_data(s, at(2026, 12, 10), month=(2026, 12))
        row = circ["periods"][0]
        assert row["on_time"] == 1 and row["late"] == ["区科技局"] and row["missing"] == ["区教育局"]
        rep = compute(s, 2026, 12)
        units = {u["name"]: u for u in rep.units}
        # the month's second deadline (the 20th) nobody met
        assert (units["区发改局"]["on_time"], units["区发改局"]["late"]) == (1, 1)
        assert (units["区科技局"]["on_time"], units["区科技局"]["late"]) == (0, 2)
    runtime.clock.set(at(2026, 12, 10))
    text = runtime.handle_text("wecom", "wujinming", "未报 上期").text
    assert "逾期报送：区科技局" in text and "区发改局" not in text


def test_the_report_flow_calls_a_revision_of_an_on_time_report_on_time(runtime):
    """The 填报 intro and the stored flag follow the same rule: the revision on the 6th is not 迟报."""
    from bot.domain import reporting
    from bot.domain.periods import period_by_key

    p = period_by_key("2026-12-05")
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31))
        f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 4))
        assert reporting.late_if_submitted(s, o.fagai.id, p, at(2026, 12, 6)) is False
        assert reporting.late_if_submitted(s, o.keji.id, p, at(2026, 12, 6)) is True
        assert reporting.late_if_submitted(s, o.keji.id, p, at(2026, 12, 5, 18)) is False


@given(first=st.one_of(st.none(), st.integers(-20_000, 20_000)),
       as_of=st.integers(-20_000, 40_000))
def test_classify_looks_at_the_first_submission_only(first, as_of):
    from bot.domain import reporting
    from bot.domain.periods import period_by_key

    p = period_by_key("2026-12-05")
    minute = timedelta(minutes=1)
    first_at = None if first is None else p.deadline + first * minute
    now = p.deadline + as_of * minute
    got = reporting.classify(first_at, p, now)
    if first_at is None or first_at > now:
        assert got == reporting.MISSING
    elif first_at <= p.deadline:
        assert got == reporting.ON_TIME
    else:
        assert got == reporting.LATE


def test_missed_deadlines_are_recorded_once_and_counted_in_the_circular(runtime):
    from bot.actions.circular import build_circular
    from bot.domain import reporting
    from bot.domain.periods import period_by_key

    with runtime.db.session() as s:
        o = _reported_then_revised(s)
        nov, dec = period_by_key("2026-11-20"), period_by_key("2026-12-05")
        assert reporting.record_missed(s, nov, [o.keji.id]) == [(o.keji.id, "")]
        assert sorted(reporting.record_missed(s, dec, [o.keji.id, o.jiaoyu.id])) == [(o.keji.id, ""), (o.jiaoyu.id, "")]
        assert reporting.record_missed(s, dec, [o.keji.id]) == []  # once per unit and deadline
        assert reporting.missed_counts(s, 2026) == {o.keji.id: 2, o.jiaoyu.id: 1}
        assert reporting.missed_counts(s, 2027) == {}
        text = build_circular(s, at(2026, 12, 10), month=(2026, 12))
    keji = next(line for line in text.splitlines() if line.startswith("- 区科技局"))
    jiaoyu = next(line for line in text.splitlines() if line.startswith("- 区教育局"))
    assert "本年累计超期未报 2 次" in keji and "本年累计超期未报 1 次" in jiaoyu
