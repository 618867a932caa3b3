"""Who follows an item (office liaisons, office supervisor, leader): ONE selectable, bot.domain.scope.followers,
used for visibility, 销号, digests and consultation. An item belongs to its minutes' 附件2 row if it has
one, else to every row of its leader."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import ROLE_LEADER, ROLE_OFFICE_LIAISON, ROLE_OFFICE_SUPERVISOR, DispatchRow, Matter, Notice
from tests import factories as f
from tests.factories import at

NOW = at(2026, 12, 10, 10)  # a Thursday


@pytest.fixture
def o(runtime):
    """陈剑锋 leads row 1 (林勇勇, 曾永顺) and a second row, 9 (谢联络, 谢督导). M1 is of minutes filed under
    row 1; M2 has no minutes. Both became overdue yesterday; both are claimed done."""
    from bot.actions.base import Acting
    from bot.actions.closeout import do_claim_completion

    with runtime.db.session() as s:
        o = f.small_org(s)
        o.xl = f.person(s, "谢联络", "xielianluo", o.office_unit)
        o.xs = f.person(s, "谢督导", "xiedudao", o.office_unit)
        o.row9 = DispatchRow(seq=9, leader_id=o.leader1.id, content="园区工作", office_supervisor_id=o.xs.id)
        o.row9.office_liaisons = [o.xl]
        s.add(o.row9)
        s.flush()
        mi = f.minutes(s, o.leader1, o.fagai, row=o.row1)
        o.m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 9), minutes_obj=mi).id
        o.m2 = f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 9)).id
        for mid in (o.m1, o.m2):
            do_claim_completion(Acting(s, o.ua, at(2026, 12, 9)), s.get(Matter, mid))
    runtime.clock.set(NOW)
    return o


def test_followers_of_an_item_are_those_of_its_own_rows(runtime, o):
    from bot.domain.scope import followers

    with runtime.db.session() as s:
        fol = followers()
        got = {(m, p, r) for m, p, r in s.execute(select(fol.c.matter_id, fol.c.person_id, fol.c.role))}
    assert got == {(o.m1, o.ol1.id, ROLE_OFFICE_LIAISON), (o.m1, o.sup1.id, ROLE_OFFICE_SUPERVISOR),
                   (o.m1, o.leader1.id, ROLE_LEADER),
                   (o.m2, o.ol1.id, ROLE_OFFICE_LIAISON), (o.m2, o.sup1.id, ROLE_OFFICE_SUPERVISOR),
                   (o.m2, o.xl.id, ROLE_OFFICE_LIAISON), (o.m2, o.xs.id, ROLE_OFFICE_SUPERVISOR),
                   (o.m2, o.leader1.id, ROLE_LEADER)}


def test_a_liaison_of_the_leaders_other_row_neither_sees_nor_is_told_about_an_item_of_minutes_row(runtime, o):
    say = lambda user, text: runtime.handle_text("wecom", user, text).text  # noqa: E731
    # visibility: the other row's liaison sees M2 (no minutes: all the leader's rows) but not M1
    progress = say("xielianluo", "进度")
    assert "M2 " in progress and "M1 " not in progress
    assert "没有找到编号为“M1”" in say("xielianluo", "查 M1")
    # 销号: whoever sees an item as its office liaison may close it, and only they
    assert "没有找到编号为“M1”" in say("xielianluo", "销号 M1")
    assert "确认" in say("xielianluo", "销号 M2") and "已销号" in say("xielianluo", "确认")
    assert "确认" in say("linyongyong", "销号 M1") and "已销号" in say("linyongyong", "确认")


def test_digests_and_consultation_follow_the_same_rows(runtime, o):
    from bot.actions.escalation import _consulted
    from bot.jobs import deadlines

    with runtime.db.session() as s:  # back to open: the digest lists items still to do
        for mid in (o.m1, o.m2):
            s.get(Matter, mid).state = "open"
    deadlines.run(runtime, NOW)
    with runtime.db.session() as s:
        digests = {n.target: n.payload["content"] for n in s.scalars(
            select(Notice).where(Notice.key.like("matter_overdue_office:%")))}
        consulted = _consulted(s, [o.m1, o.m2])
    assert "M1" in digests["linyongyong"] and "M2" in digests["linyongyong"]
    assert "M2" in digests["xielianluo"] and "M1" not in digests["xielianluo"]
    assert {pid: sorted(ids) for pid, (_n, ids) in consulted.items()} == {
        o.sup1.id: sorted([o.m1, o.m2]), o.leader1.id: sorted([o.m1, o.m2]), o.xs.id: [o.m2]}
