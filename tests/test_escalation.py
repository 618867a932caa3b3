"""The escalation ladder: 提请督办 by hand, 久推不动 and 久拖不办 automatically — each alerts once."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.actions.escalation import accountability_candidates, auto_escalate
from models import AuditLog, Escalation, Matter, Notice, Person, Unit
from tests import factories as f
from tests.factories import at, mention_fields
from tests.threads import at_once

NOW = at(2026, 12, 10, 10)


def say(rt, user, text):
    return rt.handle_text("wecom", user, text).text


def group_notices(rt, prefix="escalation:"):
    with rt.db.session() as s:
        return {n.key: n for n in s.scalars(select(Notice).where(Notice.target == "supervision",
                                                                 Notice.key.like(prefix + "%")))}


@pytest.fixture
def rt(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        # stalled: created long ago, last progress 11-01 (before the period due 11-20 opened on 11-05)
        f.matter(s, "M1", o.fagai, o.leader1, date(2027, 3, 1), title="园区标准化建设",
                 last_progress_at=at(2026, 11, 1), last_progress="方案编制中")
        # long overdue: 40 days past the deadline, but reported recently (so not stalled)
        f.matter(s, "M2", o.keji, o.leader1, date(2026, 10, 31), title="清源实验室装修",
                 last_progress_at=at(2026, 12, 4), last_progress="等待验收")
        # fine: recent progress, deadline ahead
        f.matter(s, "M3", o.jiaoyu, o.leader2, date(2027, 3, 1), title="锦川实验小学开工",
                 last_progress_at=at(2026, 12, 4))
        # silent but claimed done: not stalled; overdue 20 days only: not 久拖不办
        f.matter(s, "M4", o.jiaoyu, o.leader2, date(2026, 11, 20), state="completion_claimed")
        # silent in Matter.last_progress_at, but present in a report of the period due 11-20: not stalled
        m5 = f.matter(s, "M5", o.jiaoyu, o.leader2, date(2027, 3, 1))
        f.report(s, o.jiaoyu, o.ub, "2026-11-20", at(2026, 11, 19), [(m5, "open", "推进中")])
    runtime.clock.set(NOW)
    return runtime


def coded(s, raised):
    """(code, level) of each escalation `auto_escalate` returned, in its order."""
    code = dict(s.execute(select(Matter.id, Matter.code)).tuples().all())
    return [(code[e.matter_id], e.level) for e in raised]


def run(rt, when=NOW):
    with rt.db.session() as s:
        return coded(s, auto_escalate(s, rt, when))


def test_automatic_levels_alert_once_each(rt):
    assert sorted(run(rt)) == [("M1", 2), ("M2", 3)]
    first = group_notices(rt)
    with rt.db.session() as s:
        ids = {c: s.scalar(select(Matter.id).where(Matter.code == c)) for c in ("M1", "M2")}
        esc = {e.level: e.id for e in s.scalars(select(Escalation))}
    # one batch alert per level, keyed by the smallest escalation id of the batch
    assert set(first) == {f"escalation:2:batch:{esc[2]}", f"escalation:3:batch:{esc[3]}"}
    stalled = first[f"escalation:2:batch:{esc[2]}"].payload
    assert "久推不动" in stalled["content"] and "M1 园区标准化建设" in stalled["content"]
    assert "M2" not in stalled["content"]
    assert "陈剑锋" in stalled["content"] and "曾永顺" in stalled["content"]
    assert set(mention_fields(rt, stalled)["mentioned_list"]) == {"chenjianfeng", "zengyongshun"}
    interview = first[f"escalation:3:batch:{esc[3]}"].payload["content"]
    assert "督查约谈" in interview and "M2 清源实验室装修" in interview and "已逾期40天" in interview
    assert "M1" not in interview
    with rt.db.session() as s:  # the office supervisor and the leader get a digest each
        direct = {n.target: n.payload["content"] for n in s.scalars(select(Notice).where(
            Notice.key.like(f"escalation:2:batch:{esc[2]}:p%")))}
    assert sorted(direct) == ["chenjianfeng", "zengyongshun"] and all("M1" in t for t in direct.values())
    # a second run (and a later one) adds nothing
    assert run(rt) == [] and run(rt, at(2026, 12, 11, 10)) == []
    assert set(group_notices(rt)) == set(first)
    with rt.db.session() as s:
        assert s.scalar(select(Matter.escalation_level).where(Matter.code == "M2")) == 3
        assert len(list(s.scalars(select(Escalation)))) == 2
        audits = list(s.scalars(select(AuditLog).where(AuditLog.action == "escalated")))
    assert sorted((a.entity_id, a.after["level"], a.before.get("escalation_level")) for a in audits) == sorted(
        [(str(ids["M1"]), 2, 0), (str(ids["M2"]), 3, 0)])
    assert "系统 提级（久拖不办（督查约谈））" in say(rt, "wujinming", "历史 M2")


def test_an_item_reaching_both_levels_at_once(rt):
    """Stalled AND long overdue on the first run: both escalations are recorded, the item ends at level 3,
    its history reads 0 → 3 then level 2 as reached, and each alert lists it."""
    with rt.db.session() as s:
        unit = s.scalar(select(Unit).where(Unit.name == "区科技局"))
        lead = s.scalar(select(Person).where(Person.wecom_userid == "chenjianfeng"))
        mid = f.matter(s, "M9", unit, lead, date(2026, 10, 1), title="旧厂房改造",
                       last_progress_at=at(2026, 10, 20)).id
    assert sorted(run(rt)) == [("M1", 2), ("M2", 3), ("M9", 2), ("M9", 3)]
    with rt.db.session() as s:
        assert s.get(Matter, mid).escalation_level == 3
        audits = [(a.before, a.after) for a in s.scalars(select(AuditLog).where(
            AuditLog.action == "escalated", AuditLog.entity_id == str(mid)).order_by(AuditLog.id))]
    assert audits == [({"escalation_level": 0}, {"escalation_level": 3, "level": 3}), ({}, {"level": 2})]
    texts = {k.split(":")[1]: n.payload["content"] for k, n in group_notices(rt).items()}
    assert "M9 旧厂房改造" in texts["2"] and "M9 旧厂房改造" in texts["3"]


def test_each_item_in_exactly_one_batch(rt):
    """New items qualifying later come in a new batch; long batches list the most overdue 30 and count the rest."""
    with rt.db.session() as s:
        o = {u.name: u for u in s.scalars(select(Unit))}
        lead = s.scalar(select(Person).where(Person.wecom_userid == "chenjianfeng"))
        for i in range(35):  # 35 more items long overdue, reported recently (not stalled)
            f.matter(s, f"L{i}", o["区科技局"], lead, date(2026, 10, 1) + timedelta(days=i % 10),
                     last_progress_at=at(2026, 12, 4))
    assert len(run(rt)) == 37  # M1 (level 2), M2 and the 35 (level 3)
    with rt.db.session() as s:
        f.matter(s, "L99", s.scalar(select(Unit).where(Unit.name == "区教育局")), None, date(2026, 11, 8),
                 last_progress_at=at(2026, 12, 4))
    assert run(rt, at(2026, 12, 11, 10)) == [("L99", 3)]
    level3 = [n.payload["content"] for n in sorted(group_notices(rt, "escalation:3:").values(), key=lambda n: n.id)]
    assert len(level3) == 2
    assert "本次新增36项" in level3[0] and "等共 36 项" in level3[0] and "L99" not in level3[0]
    assert level3[0].index("1. L0 ") < level3[0].index("L8 ") and "L9 " not in level3[0]  # the oldest 30 first
    assert "本次新增1项" in level3[1] and "L99" in level3[1] and "等共" not in level3[1]
    listed = [c for t in level3 for c in re.findall(r"\d+\. (\w+) ", t)]
    assert len(listed) == len(set(listed)) == 31  # 30 shown of the first batch, and L99


def test_two_runs_at_once_alert_each_item_once(pg_url, tmp_path):
    """Two processes' worth of runs (own engines) at once on PostgreSQL: escalation rows are unique and
    every item is listed in exactly one batch alert."""
    from tests.support import make_app

    apps = [make_app(pg_url, tmp_path / "a"), make_app(pg_url, tmp_path / "b")]
    rt0 = apps[0].extensions["bot"]
    with rt0.db.session() as s:
        o = f.small_org(s)
        for i in range(20):
            f.matter(s, f"L{i}", o.keji, o.leader1, date(2026, 10, 1), last_progress_at=at(2026, 12, 4))
    def worker(app):
        rt = app.extensions["bot"]
        with rt.db.session() as s:
            return [c for c, _ in coded(s, auto_escalate(s, rt, NOW))]

    got = at_once([lambda a=a: worker(a) for a in apps])
    assert sorted(c for lst in got for c in lst) == sorted(f"L{i}" for i in range(20))
    alerts = group_notices(rt0, "escalation:3:")
    listed = [c for n in alerts.values() for c in re.findall(r"\d+\. (\w+) ", n.payload["content"])]
    assert sorted(listed) == sorted(f"L{i}" for i in range(20)) and len(alerts) == len([g for g in got if g])
    with rt0.db.session() as s:
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "escalated")) == 20
    for a in apps:
        a.extensions["bot"].db.dispose()


def test_interview_threshold_is_configurable(db_url, tmp_path):
    from tests.support import make_app

    app = make_app(db_url, tmp_path, OVERDUE_INTERVIEW_DAYS=10)
    runtime = app.extensions["bot"]
    try:
        with runtime.db.session() as s:
            o = f.small_org(s)
            f.matter(s, "M4", o.jiaoyu, o.leader2, date(2026, 11, 20), last_progress_at=at(2026, 12, 4))
            f.matter(s, "M6", o.jiaoyu, o.leader2, date(2026, 11, 30), last_progress_at=at(2026, 12, 4))
        with runtime.db.session() as s:
            got = coded(s, auto_escalate(s, runtime, NOW))
        assert got == [("M4", 3)]  # 20 days > 10; M6 is exactly 10 days: not more than 10
    finally:
        runtime.db.dispose()


def test_stalled_becomes_unstalled_after_a_report(rt):
    with rt.db.session() as s:
        m = s.scalar(select(Matter).where(Matter.code == "M1"))
        m.last_progress_at = at(2026, 12, 5, 9)
    assert ("M1", 2) not in run(rt)


def test_manual_request_and_supervision_answers(rt):
    dialog = [
        ("ub", "提请督办 M1 跨部门", "没有找到编号为“M1”"),  # not their item
        ("ua", "提请督办 M1", "请写明提请督办的理由"),
        ("ua", "提请督办 M1 涉及住建、自然资源多部门，难以协调", "已将事项M1提请督导考核组分解督办"),
        ("ua", "提请督办 M1 再次提请", "只能提请一次"),
        ("ua", "立项督办 M1 2027-01-10", "由督导考核组成员办理"),
        ("wujinming", "立项督办 M1", "请写明督办时限"),
        ("wujinming", "立项督办 M1 2027-01-10", "已对事项M1立项督办，督办时限2027年1月10日"),
        ("wujinming", "退回督办 M1 不需要", "没有待处理的督办申请"),
    ]
    for who, text, answer in dialog:
        assert answer in say(rt, who, text), (who, text)
    with rt.db.session() as s:
        mid = s.scalar(select(Matter.id).where(Matter.code == "M1"))
    alerts = group_notices(rt)
    assert list(alerts) == [f"escalation:1:{mid}"]
    content = alerts[f"escalation:1:{mid}"].payload["content"]
    assert "M1 园区标准化建设" in content and "涉及住建、自然资源多部门" in content and "办理轨迹" in content
    assert "发改联络员 提级" in content
    with rt.db.session() as s:
        told = {n.target: n.payload["content"] for n in s.scalars(select(Notice).where(
            Notice.key.like(f"escalation:1:{mid}:decided%")))}
    assert set(told) == {"ua", "linyongyong"} and "立项督办" in told["ua"]
    hist = say(rt, "wujinming", "历史 M1")
    assert "发改联络员 提级（提请督导考核组分解督办）：涉及住建" in hist
    assert "吴金明 立项督办（提请督导考核组分解督办）（督办时限1月10日）" in hist


def test_return_of_a_request(rt):
    say(rt, "ua", "提请督办 M1 跨部门难协调")
    assert "请写明退回原因" in say(rt, "wujinming", "退回督办 M1")
    assert "已退回" in say(rt, "wujinming", "退回督办 M1 请牵头单位先行协调")
    with rt.db.session() as s:
        assert s.scalar(select(Matter.escalation_level).where(Matter.code == "M1")) == 0


def test_accountability_candidates(rt):
    with rt.db.session() as s:
        o_units = {m.code: m.responsible_unit for m in s.scalars(select(Matter))}
        jiaoyu, keji = o_units["M3"], o_units["M2"]
        ub = jiaoyu.liaison
        # 教育局: on time on 11-05, late on 11-20 (already reported above, on time) -> add lateness for 11-05
        f.report(s, jiaoyu, ub, "2026-11-05", at(2026, 11, 6, 9))
        # 科技局 gets three overdue items
        for i in range(2):
            f.matter(s, f"K{i}", keji, None, date(2026, 11, 1 + i))
    with rt.db.session() as s:
        got = {c.unit.name: c for c in accountability_candidates(s, "2026-11")}
        # 发改局 and 科技局 never reported in November: missing twice
        assert set(got) == {"区发改局", "区科技局"}
        assert got["区发改局"].missing_periods == ["2026-11-05", "2026-11-20"]
        assert got["区科技局"].reasons == ["late_reports", "overdue_items"]
        assert [m.code for m in got["区科技局"].overdue_items] == ["M2", "K0", "K1"]
        strict = accountability_candidates(s, "2026-11", min_late_periods=3, min_overdue_items=3)
        assert [c.unit.name for c in strict] == ["区科技局"]
        loose = {c.unit.name for c in accountability_candidates(s, "2026-11", min_late_periods=1)}
        assert loose == {"区发改局", "区科技局", "区教育局"}
