"""The lead unit (牵头单位) owns the problem list (seed 000 附件3 note 2, §三(一)), and the reporting defects
found in the trial: each test here failed on the code as it was before."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests import factories as f
from tests.factories import at


def _claimed_before_the_period(s):
    """科技局's only item went to 待销号 on 12月1日, before the 20th's period opened (12月5日 18:00);
    发改局 has an open item and never reports."""
    from bot.actions.base import Acting
    from bot.actions.closeout import do_claim_completion

    o = f.small_org(s)
    f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31))
    m2 = f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 31))
    do_claim_completion(Acting(s, o.uk, at(2026, 12, 1)), m2, "已建成")
    return o


def test_a_unit_told_no_report_is_needed_is_not_counted_reminded_named_or_recorded(runtime):
    from bot.actions.circular import circular_data
    from bot.domain import reporting
    from bot.domain.periods import period_by_key
    from bot.jobs import overdue
    from bot.jobs.monthly import compute
    from models import MissedDeadline

    p = period_by_key("2026-12-20")
    with runtime.db.session() as s:
        o = _claimed_before_the_period(s)
        keji, fagai = o.keji.id, o.fagai.id
        status = reporting.report_status(s, [p], at(2026, 12, 21))
        assert status == {(fagai, p.key): reporting.MISSING}
        # it still owed the 5th: the item was open when that period opened
        assert reporting.report_status(s, [period_by_key("2026-12-05")], at(2026, 12, 21))[
            (keji, "2026-12-05")] == reporting.MISSING
        circ = circular_data(s, at(2026, 12, 21), month=(2026, 12))
        assert [row["missing"] for row in circ["periods"]] == [["区发改局", "区科技局"], ["区发改局"]]
        units = {u["name"]: u for u in compute(s, 2026, 12).units}
        assert units["区科技局"]["expected"] == 1 and units["区发改局"]["expected"] == 2
    runtime.clock.set(at(2026, 12, 12))
    assert "无需填报" in runtime.handle_text("wecom", "uk", "填报").text
    overdue.run(runtime, p.deadline)
    with runtime.db.session() as s:
        assert set(s.scalars(select(MissedDeadline.unit_id).where(MissedDeadline.period_key == p.key))) == {fagai}
