"""Several responsible units per matter (主办 / 协办), 认领 and its chasing, 分解督办 (seed 000 §三(二)):
minutes with one matter for 3 units issued → each unit told → two 认领, the third chased by the job, then
the lead unit and the office liaison told → 提请督办 by the lead unit, 立项督办 split into 2 sub-items with
主办/协办 → reports on a sub-item and as 协办 on the parent → the parent not closable until its sub-items
are closed. Played through the signed WeCom callback on the shipped org chart; rows, notices and
recipients checked at every step. Plus the parser (hypothesis) and the role function."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.domain import responsibility as R
from bot.jobs.acknowledge import run as run_ack
from models import UNIT_ASSIST, UNIT_HOST, AuditLog, Escalation, Matter, MatterUnit, Person, Unit
from tests.dialog import at, talk
from tests.support import notice_rows as notices

OFFICE_LIAISON = "linyongyong"  # 林勇勇, office liaison of 附件2 row 2 (陈剑锋)
LEADER = "chenjianfeng"
SUPERVISION = "wujinming"
LIAISONS = {"区住建局": "wuwenfeng", "区自然资源局": "chenguoxian", "南埔镇": "chenbaoxi", "区发改局": "shihuadong"}
ZJ, ZR, NP, FG = (LIAISONS[k] for k in ("区住建局", "区自然资源局", "南埔镇", "区发改局"))


@pytest.fixture
def trial(db_url, tmp_path):
    from bot.actions.seed import load_seed
    from tests.support import SEED_FILE, wecom_runtime

    def load(s):
        load_seed(s, SEED_FILE)
        for unit, user in LIAISONS.items():  # the office named these units' liaisons
            s.scalar(select(Unit).where(Unit.name == unit)).liaison_id = s.scalar(
                select(Person.id).where(Person.wecom_userid == user))

    rt = wecom_runtime(db_url, tmp_path, load)
    yield rt
    rt.db.dispose()


def _id(rt, model, **kw):
    with rt.db.session() as s:
        return s.scalar(select(model.id).filter_by(**kw))


MINUTES = [
    ("录入纪要", "第 1/"), ("陈剑锋", "纪要编号"), ("〔2026〕15号", "纪要名称"),
    ("石化科创小镇征迁调度会议纪要", "会议日期"), ("11月20日", "起草单位"), ("发改局", "调度事项的内容"),
    ("推进石化科创小镇征迁扫尾", ("责任单位", "主办")),
    ("区住建局（主办）、区自然资源局、南埔镇", "完成时限"), ("12月31日", "牵头单位"), ("无", "第 2 项"),
    ("完成", ("请核对", "责任单位：区住建局（主办）、区自然资源局、南埔镇")),
    ("确认", ("纪要初稿已提交", "M1")),
]
SPLIT = [
    ("完成征迁签约", "主办单位和协办单位"),
    ("主办：区住建局；协办：南埔镇", "完成时限"),
    ("12月20日", "第 2 项子项"),
    ("完成国道G228改线用地报批", "主办单位"),
    ("区自然资源局", "完成时限"),
    ("12月25日", "第 3 项子项"),
    ("完成", ("请核对", "区住建局（主办）、南埔镇", "区自然资源局", "2026年12月20日")),
    ("确认", ("已分解为 2 项子项", "M1-1 完成征迁签约（区住建局（主办）、南埔镇", "M1-2")),
]


def test_three_units_acknowledge_split_report_and_close_through_the_callback(trial):
    rt = trial
    ol, leader, sup, zj, zr, np_, fg = (rt.say(u) for u in (OFFICE_LIAISON, LEADER, SUPERVISION, ZJ, ZR, NP, FG))
    zj_id, zr_id, np_id, fg_id = (_id(rt, Unit, name=n) for n in ("区住建局", "区自然资源局", "南埔镇", "区发改局"))

    # -- Nov 24: minutes with one matter for three units, signed: each unit told, in its role -----------
    rt.clock.set(at(2026, 11, 24, 10))
    talk(ol, MINUTES)
    with rt.db.session() as s:
        m1 = s.scalar(select(Matter).where(Matter.code == "M1"))
        assert m1.responsible_unit_id == zj_id
        assert [(r.unit_id, r.role, r.assigned_at) for r in m1.unit_links] == [
            (zj_id, UNIT_HOST, None), (zr_id, UNIT_ASSIST, None), (np_id, UNIT_ASSIST, None)]  # not told yet
    assert notices(rt, "minutes-unit:") == []
    talk(leader, [("同意 纪要1", ("请核对", "纪要1")), ("确认", ("已签发印发", "区住建局", "区自然资源局", "南埔镇"))])
    told = {t: c for _k, t, c in notices(rt, "minutes-unit:")}
    assert set(told) == {ZJ, ZR, NP}
    assert "贵单位主办" in told[ZJ] and "贵单位配合" in told[ZR] and "贵单位配合" in told[NP]
    assert all("认领 M1" in c and "区住建局（主办）、区自然资源局、南埔镇" in c for c in told.values())
    with rt.db.session() as s:
        rows = s.scalars(select(MatterUnit).order_by(MatterUnit.id)).all()
        assert all(r.assigned_at == at(2026, 11, 24, 10) and r.acknowledged_at is None for r in rows)

    # -- the 协办 units see and follow the item; two units 认领, one does not ------------------------------
    talk(np_, [("我的事项", ("M1", "本单位配合", "尚未认领")), ("查 M1", ("区住建局（主办）、区自然资源局、南埔镇",
                                                                   "南埔镇未认领"))])
    talk(zj, [("认领", ("待认领事项 1 项", "M1")), ("认领 M1", ("已认领事项 M1", "区住建局主办")),
              ("认领 M1", "已认领过"), ("认领", "没有待认领")])
    rt.clock.set(at(2026, 11, 24, 15))
    talk(zr, [("认领 M1", ("已认领事项 M1", "区自然资源局配合"))])
    talk(fg, [("认领 M1", "不是本单位负责的事项")])  # the lead unit is not a responsible unit
    with rt.db.session() as s:
        acks = {r.unit_id: (r.acknowledged_at, r.acknowledged_by.wecom_userid if r.acknowledged_by else None)
                for r in s.scalars(select(MatterUnit))}
        assert acks == {zj_id: (at(2026, 11, 24, 10), ZJ), zr_id: (at(2026, 11, 24, 15), ZR), np_id: (None, None)}
        assert [(a.actor, a.after["unit_id"]) for a in s.scalars(
            select(AuditLog).where(AuditLog.action == "acknowledged").order_by(AuditLog.id))] == [
            ("吴文锋", zj_id), ("陈国显", zr_id)]

    # -- the job: chased after 1 working day, the lead unit and the office liaison told after 3 ---------
    assert run_ack(rt, at(2026, 11, 24, 18)).notices == 0
    assert run_ack(rt, at(2026, 11, 25, 9, 15)).notices == 1
    np_row = _id(rt, MatterUnit, unit_id=np_id)
    [(key, target, text)] = notices(rt, "ack_")
    assert (key, target) == (f"ack_chase:{np_row}", NP) and "认领 M1" in text and "配合" in text
    assert run_ack(rt, at(2026, 11, 25, 9, 15)).notices == 0  # exactly once
    assert run_ack(rt, at(2026, 11, 26, 9, 15)).notices == 0
    assert run_ack(rt, at(2026, 11, 27, 9, 15)).notices == 2
    escalated = {t: (k, c) for k, t, c in notices(rt, "ack_escalate:")}
    assert set(escalated) == {OFFICE_LIAISON, FG}
    assert all("南埔镇" in c and "3个工作日仍未认领" in c for _k, c in escalated.values())
    assert escalated[FG][0] == f"ack_escalate:{np_row}:p{_id(rt, Person, wecom_userid=FG)}"
    assert run_ack(rt, at(2026, 11, 27, 16)).notices == 0
    rt.clock.set(at(2026, 11, 27, 16))
    talk(ol, [("查 M1", ("区住建局已认领（吴文锋", "南埔镇未认领"))])
    talk(fg, [("查 M1", ("区自然资源局已认领（陈国显", "南埔镇未认领"))])  # the lead unit sees who has not

    # -- 提请督办 by the lead unit; 立项督办 with 分解: two sub-items with 主办 / 协办 ---------------------------
    talk(fg, [("提请督办 M1 涉及征迁与用地报批，需跨部门协调", "提请督导考核组分解督办")])
    talk(sup, [("分解督办 M1", "尚未立项督办"),
               ("立项督办 M1 12月30日 分解", ("已对事项M1立项督办", "第 1 项子项的内容"))] + SPLIT)
    with rt.db.session() as s:
        m1 = s.scalar(select(Matter).where(Matter.code == "M1"))
        assert s.scalar(select(Escalation.state).where(Escalation.matter_id == m1.id)) == "accepted"
        subs = {c.code: c for c in m1.children}
        assert set(subs) == {"M1-1", "M1-2"}
        s1, s2 = subs["M1-1"], subs["M1-2"]
        assert (s1.parent_id, s1.minutes_id, s1.leader_id, s1.responsible_unit_id, s1.deadline) == (
            m1.id, m1.minutes_id, m1.leader_id, zj_id, date(2026, 12, 20))
        assert [(r.unit_id, r.role) for r in s1.unit_links] == [(zj_id, UNIT_HOST), (np_id, UNIT_ASSIST)]
        assert [(r.unit_id, r.role) for r in s2.unit_links] == [(zr_id, UNIT_HOST)]
        assert all(r.assigned_at == at(2026, 11, 27, 16) for r in s1.unit_links + s2.unit_links)
        assert s.scalar(select(AuditLog.after).where(AuditLog.action == "split")) == {"sub_items": ["M1-1", "M1-2"]}
    split_told = {t: c for _k, t, c in notices(rt, "split-unit:")}
    assert set(split_told) == {ZJ, NP, ZR}
    assert "M1-1" in split_told[NP] and "贵单位配合" in split_told[NP] and "M1-2" not in split_told[NP]
    assert "M1-2" in split_told[ZR] and "贵单位主办" in split_told[ZR]
    assert {t for _k, t, _c in notices(rt, "split:")} == {OFFICE_LIAISON, FG}
    decided = {t for k, t, _c in notices(rt, "escalation:1:")
               if k.startswith(f"escalation:1:{_id(rt, Matter, code='M1')}:decided")}
    assert decided == {ZJ, ZR, NP, OFFICE_LIAISON}  # every responsible unit and the office
    talk(zj, [("认领 M1-1", "已认领事项 M1-1")])
    talk(ol, [("查 M1", ("分解督办子项 2 项", "M1-1 完成征迁签约", "M1-2")),
              ("查 M1-1", ("上级事项：M1", "区住建局（主办）、南埔镇"))])

    # -- Dec 1: 区自然资源局 reports — M1-2 done as its 主办, M1 as 协办 (its part, no claim) ---------------
    rt.clock.set(at(2026, 12, 1, 10))
    talk(zr, [
        ("填报", ("共有 2 项", "M1-2 完成国道G228改线用地报批")),
        ("已完成", "完成情况"),
        ("用地报批已获省厅批复", ("M1 推进石化科创小镇征迁扫尾", "第 2/2 项", "区住建局（主办）")),
        ("2", "目前进展"), ("配合完成地类核查", "计划"), ("12月25日", "难点"), ("无", "请核对"),
        ("确认", "已提交区自然资源局"),
    ])
    with rt.db.session() as s:
        state = dict(s.execute(select(Matter.code, Matter.state)).all())
        assert state == {"M1": "open", "M1-1": "open", "M1-2": "completion_claimed"}
        assert s.scalar(select(Matter.last_progress).where(Matter.code == "M1")) == "配合完成地类核查"
        from bot.domain.periods import period_by_key
        from handlers.report import items_to_report

        fg_items = {x["code"]: x for x in items_to_report(s, fg_id,
                                                          period_by_key("2026-12-05"))}
        assert set(fg_items) == {"M1", "M1-1", "M1-2"}  # the lead unit files all of them
        assert fg_items["M1-2"]["theirs"]["unit"] == "区自然资源局" and fg_items["M1-2"]["theirs"]["status"] == "done"
        assert fg_items["M1"]["theirs"]["progress"] == "配合完成地类核查"  # the 协办's report, pre-filled
        # 附件3 prints 责任单位 as the offices do: the 主办 first and marked
        from bot.documents.problems import rows_from_problem_list
        from models import Minutes

        mn = s.scalar(select(Minutes))
        row = rows_from_problem_list(s, mn, list(mn.matters), period_by_key("2026-12-05"))
        assert any("区住建局（主办）、区自然资源局、南埔镇" in x for x in row.matters)
        assert any("M1" not in x and "区住建局（主办）、南埔镇" in x for x in row.matters)  # M1-1

    # -- closing: the parent waits for its sub-items ---------------------------------------------------
    talk(ol, [("销号 M1-2", "确认销号"), ("确认", "已销号")])
    talk(zj, [("申请销号 M1 征迁扫尾全部完成", "核实销号")])
    talk(ol, [("销号 M1", ("子项M1-1尚未办结", "!已销号"))])
    with rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "completion_claimed"
    talk(zj, [("申请销号 M1-1 签约全部完成", "核实销号")])
    talk(ol, [("销号 M1-1", "确认销号"), ("确认", "已销号"), ("销号 M1", "【M1 申请销号】"), ("确认", "已销号")])
    with rt.db.session() as s:
        assert set(s.scalars(select(Matter.state))) == {"closed"}
    m1_id = _id(rt, Matter, code="M1")
    closed_told = {t for k, t, _c in notices(rt, "closeout:") if k.startswith(f"closeout:{m1_id}:closed:")}
    assert closed_told == {ZJ, ZR, NP}  # the 协办 units are told too


# -- the parser -------------------------------------------------------------------------------------
NAME = st.text(st.sampled_from("住建发改自然资源局南埔镇前黄涂岭街道区委办公室"), min_size=2, max_size=8).filter(
    lambda n: not any(w in n for w in ("主办", "牵头", "协办", "配合")))


@given(st.lists(NAME, min_size=1, max_size=5, unique=True), st.integers(0, 2), st.sampled_from(["、", "，", ",", "；"]))
def test_the_ways_offices_write_units_parse_to_the_same_roles(names, style, sep):
    host, assist = names[0], tuple(names[1:])
    if style == 0:  # 区住建局（主办）、区发改局 — or just a list, the first one leading
        text = sep.join([f"{host}（主办）" if assist else host, *assist])
    elif style == 1:  # 主办：区住建局；配合：区发改局、南埔镇
        text = f"主办：{host}" + (f"；配合：{'、'.join(assist)}" if assist else "")
    else:  # a 协办 mark on each other unit, the 主办 anywhere
        text = sep.join([*(f"{a}(协办)" for a in assist), host])
    got = R.parse_unit_roles(text)
    assert got == R.UnitRoles(host, assist if style != 2 else assist)
    assert R.parse_unit_roles(R.format_unit_roles(host, assist)) == got  # what the forms print reads back


@given(st.text(max_size=40))
def test_the_parser_never_guesses(text):
    """Any text: an error with its reason, or exactly one 主办 and distinct names none of which is blank."""
    try:
        got = R.parse_unit_roles(text)
    except R.UnitRolesError as exc:
        assert exc.code in ("empty", "two_hosts", "no_host", "duplicate")
        return
    assert got.host.strip() and all(a.strip() for a in got.assist)
    assert len(set(got.names)) == len(got.names)


@pytest.mark.parametrize("text,want", [
    ("区住建局（主办）、区发改局、南埔镇", ("区住建局", ("区发改局", "南埔镇"))),
    ("主办：区住建局；配合：区发改局", ("区住建局", ("区发改局",))),
    ("主办单位:区住建局 ; 协办单位:区发改局,南埔镇", ("区住建局", ("区发改局", "南埔镇"))),
    ("区发改局、区住建局（牵头）", ("区住建局", ("区发改局",))),
    ("区住建局", ("区住建局", ())),
])
def test_typed_examples(text, want):
    assert R.parse_unit_roles(text) == R.UnitRoles(want[0], want[1])


@pytest.mark.parametrize("text,code", [
    ("", "empty"), ("、，", "empty"), ("区住建局（主办）、区发改局（主办）", "two_hosts"),
    ("配合：区住建局、区发改局", "no_host"), ("区住建局、区住建局", "duplicate"),
])
def test_refused_lists(text, code):
    with pytest.raises(R.UnitRolesError) as exc:
        R.parse_unit_roles(text)
    assert exc.value.code == code


# -- the role function: one answer for SQL and for a loaded item ---------------------------------------
def test_units_of_and_sql_units_agree(runtime):
    from bot.actions.matterunits import attach_units
    from tests import factories as f

    with runtime.db.session() as s:
        o = f.small_org(s)
        lone = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31))
        shared = f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 31))
        attach_units(s, shared, [o.jiaoyu.id, o.fagai.id])
        s.flush()
        s.refresh(shared)
        assert R.units_of(lone) == [(o.fagai, UNIT_HOST)]  # no matter_unit row: still its 主办
        assert R.units_of(shared) == [(o.keji, UNIT_HOST), (o.jiaoyu, UNIT_ASSIST), (o.fagai, UNIT_ASSIST)]
        assert R.role_of(shared, o.jiaoyu.id) == UNIT_ASSIST and R.role_of(shared, o.office_unit.id) is None
        assert R.units_label(shared) == "区科技局（主办）、区教育局、区发改局" and R.units_label(lone) == "区发改局"
        sql = set(s.execute(select(R.sql_units().subquery())).all())
        assert sql == {(lone.id, o.fagai.id, UNIT_HOST), (shared.id, o.keji.id, UNIT_HOST),
                       (shared.id, o.jiaoyu.id, UNIT_ASSIST), (shared.id, o.fagai.id, UNIT_ASSIST)}
        for unit in (o.fagai, o.keji, o.jiaoyu, o.office_unit):
            found = set(s.scalars(select(Matter.code).where(R.sql_responsible_for([unit.id]))))
            assert found == {m.code for m in (lone, shared) if R.role_of(m, unit.id) is not None}
        # scope: the 协办 unit's liaison sees the item and follows it as unit_liaison
        from bot.domain.scope import ROLE_UNIT_LIAISON, followers

        o.jiaoyu.liaison_id = o.ol2.id
        s.flush()
        fol = followers(Matter.id == shared.id, roles=(ROLE_UNIT_LIAISON,))
        assert o.ol2.id in set(s.scalars(select(fol.c.person_id)))


def test_the_slip_form_prints_the_units_of_a_draft_row(runtime):
    """附件4 of a slip not yet signed: the row's units as entered, 主办 first and marked."""
    from bot.documents.slip import slip_sheet
    from models import AssignmentSlip
    from tests import factories as f

    with runtime.db.session() as s:
        o = f.small_org(s)
        slip = AssignmentSlip(leader_id=o.leader1.id, dispatched_on=date(2026, 11, 20), drafted_by_id=o.ol1.id,
                              draft={"rows": [{"title": "用地报批", "obstacles": "材料多", "measures": "专人专办",
                                               "deadline": "2026-12-30",
                                               "responsible_unit": {
                                                   "id": o.fagai.id, "name": "区发改局",
                                                   "assist": [{"id": o.keji.id, "name": "区科技局"}]}}]})
        s.add(slip)
        s.flush()
        assert slip_sheet(s, slip).rows[0][4] == "区发改局（主办）、区科技局"


def test_correcting_the_host_unit_moves_its_row_to_be_acknowledged_afresh(runtime):
    """更正 … 责任单位: the 主办 row follows the new 主办 (a former 协办 becomes the 主办); the old 主办 leaves."""
    from bot.actions.base import Acting
    from bot.actions.matterunits import assign, attach_units, do_acknowledge
    from bot.actions.minutes import do_correct_matter
    from tests import factories as f
    from tests.dialog import at as when

    with runtime.db.session() as s:
        o = f.small_org(s)
        m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31))
        attach_units(s, m, [o.keji.id])
        s.refresh(m)
        act = Acting(s, o.admin, when(2026, 11, 24))
        assign(s, [m], act.now)
        do_acknowledge(act, m, [o.fagai.id])
        do_correct_matter(Acting(s, o.admin, when(2026, 11, 25)), m, "responsible_unit_id", o.keji.id, "录入笔误")
        s.refresh(m)
        assert [(r.unit_id, r.role) for r in m.unit_links] == [(o.keji.id, UNIT_HOST)]
        assert R.units_of(m) == [(o.keji, UNIT_HOST)]
        do_correct_matter(Acting(s, o.admin, when(2026, 11, 26)), m, "responsible_unit_id", o.jiaoyu.id, "再次更正")
        s.refresh(m)
        [row] = m.unit_links
        assert (row.unit_id, row.role, row.assigned_at, row.acknowledged_at) == (
            o.jiaoyu.id, UNIT_HOST, when(2026, 11, 26), None)
