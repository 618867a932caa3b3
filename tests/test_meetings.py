"""Seed 000 §三(一) as written: a dispatch meeting → its minutes drafted (late: the office liaison is chased)
→ 送签 → 印发 (the copy to the supervision group; a 保密 one not copied, its items still tracked but seen
only by who has a role on them) → a correction and a reopen. Played through the WeCom callback on the
shipped org chart, every step's rows, notices and recipients checked."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.domain.address import address as addressed
from bot.domain.meetings import draft_due, meeting_owed
from bot.jobs.minutes import run_draft, run_leader_meeting
from models import AssignmentSlip, AuditLog, Matter, Meeting, Minutes, Person, Unit
from tests.dialog import at, talk
from tests.support import notice_rows as notices

OFFICE_LIAISON = "linyongyong"  # 林勇勇, office liaison of 附件2 row 2 (陈剑锋)
LEADER = "chenjianfeng"
SUPERVISION = "wujinming"
ZHUJIAN = "wuwenfeng"  # named 区住建局's liaison below (the office filled it in)


@pytest.fixture
def trial(db_url, tmp_path):
    from bot.actions.seed import load_seed
    from tests.support import SEED_FILE, wecom_runtime

    def load(s):
        load_seed(s, SEED_FILE)
        zhujian = s.scalar(select(Unit).where(Unit.name == "区住建局"))
        zhujian.liaison_id = s.scalar(select(Person.id).where(Person.wecom_userid == ZHUJIAN))

    rt = wecom_runtime(db_url, tmp_path, load)
    yield rt
    rt.db.dispose()


def audits(rt, entity):
    with rt.db.session() as s:
        return [(a.actor, a.action, a.reason) for a in s.scalars(
            select(AuditLog).where(AuditLog.entity == entity, AuditLog.actor != "seed").order_by(AuditLog.id))]


MEETING = [
    ("登记调度会", ("第 1/", "2. 陈剑锋")),
    ("陈剑锋", ("调度形式", "1. 会议", "3. 一线调度")),
    ("3", "调度日期"),
    ("11月20日", "牵头单位"),
    ("发改局", "调度内容"),
    ("石化科创小镇征迁现场调度", ("请核对", "调度形式：一线调度", "牵头单位：区发改局")),
    ("确认", ("已登记调度（一线调度）", "陈剑锋副区长", "2026年11月23日 前形成并送签",
             "区发改局尚未指定联络员，未能通知")),
]
MINUTES = [
    ("录入纪要", "第 1/"), ("陈剑锋", "纪要编号"), ("〔2026〕12号", "纪要名称"),
    ("石化科创小镇征迁调度会议纪要", "会议日期"), ("11月20日", "起草单位"), ("发改局", "调度事项的内容"),
    ("推进石化科创小镇征迁扫尾", "责任单位"), ("住建局", "完成时限"), ("12月31日", "牵头单位"), ("无", "第 2 项"),
    ("协调国道G228改线用地", "责任单位"), ("自然资源", "完成时限"), ("12月20日", "牵头单位"), ("无", "第 3 项"),
    ("完成", "请核对"),
    ("确认", ("纪要初稿已提交", "送陈剑锋副区长审签", "M1", "M2", "!已抄送督导考核组")),
]
SLIP = [
    ("交办单", "签发人"), ("陈剑锋", "调度时间"), ("今天", "事项名称"), ("涉密项目用地报批", "难点"),
    ("审批材料涉密", "措施"), ("专人专办", "责任单位"), ("住建局", "完成时限"), ("12月30日", "第 2 项"),
    ("完成", "请核对"), ("确认", "交办单 JB1 已提交"),
]


def test_a_month_of_seed_000_section_3_1_through_the_callback(trial):
    rt = trial
    ol, leader, sup, zj = (rt.say(u) for u in (OFFICE_LIAISON, LEADER, SUPERVISION, ZHUJIAN))

    # -- Nov 20: the meeting is recorded (an 一线调度 counts as a dispatch meeting) ---------------------
    rt.clock.set(at(2026, 11, 20, 17))
    talk(ol, MEETING)
    with rt.db.session() as s:
        [m] = s.scalars(select(Meeting)).all()
        assert (m.kind, m.meeting_date, m.leader.name, m.lead_unit.name, m.dispatch_row.seq) == (
            "frontline", date(2026, 11, 20), "陈剑锋", "区发改局", 2)
    assert notices(rt) == []  # 区发改局's liaison is a placeholder: never sent to

    # -- Nov 22: not due yet; Nov 23, no draft: the office liaison is chased, told who could not be ----
    assert run_draft(rt, at(2026, 11, 22, 9)).notices == 0
    assert run_draft(rt, at(2026, 11, 23, 9)).notices == 1
    [(key, target, text)] = notices(rt)
    assert (key, target) == (f"minutes_chase:{m.id}:p{_pid(rt, OFFICE_LIAISON)}", OFFICE_LIAISON)
    assert "3天内（2026年11月23日前）" in text and "区发改局尚未指定联络员，未能通知" in text and "陈剑锋副区长" in text
    assert run_draft(rt, at(2026, 11, 24, 9)).notices == 0  # once per meeting

    # -- Nov 24: the minutes drafted late, sent to sign: nothing copied, no unit told ------------------
    rt.clock.set(at(2026, 11, 24, 10))
    talk(ol, MINUTES)
    with rt.db.session() as s:
        [mn] = s.scalars(select(Minutes)).all()
        assert (mn.state, mn.meeting_id, mn.confidential) == ("drafted", m.id, False)  # the recorded meeting's
        assert s.scalars(select(Meeting.id)).all() == [m.id]
    assert [(k, t) for k, t, _ in notices(rt, "minutes-")] == [("minutes-sign:1:1", LEADER)]
    assert run_draft(rt, at(2026, 11, 25, 9)).notices == 0  # a first draft exists

    # -- the leader's 待签, 同意: 印发, copied, sent out; the unit without a liaison named ------------------
    talk(leader, [("待签", ("待您签发（1 份）", "【纪要1】石化科创小镇征迁调度会议纪要", "M1 推进石化科创小镇征迁扫尾",
                          "同意 纪要1")),
                  ("同意 纪要1", ("以下 1 份将同意印发", "【纪要1】")),
                  ("确认", ("已签发印发", "已抄送督导考核组", "已通知：区住建局",
                                "区自然资源局尚未指定联络员，未能通知")),
                  ("同意 纪要1", "不在待签发状态")])
    keyed = {k: (t, c) for k, t, c in notices(rt, "minutes-")}
    assert keyed["minutes-copy:1"][0] == "supervision" and "M1" in keyed["minutes-copy:1"][1]
    zj_id = _unit_id(rt, "区住建局")
    assert keyed[f"minutes-unit:1:{zj_id}"][0] == ZHUJIAN
    assert not any(k.startswith("minutes-unit:1:") and k != f"minutes-unit:1:{zj_id}" for k in keyed)
    assert ("陈剑锋", "issue", None) in audits(rt, "minutes")

    # -- a 保密 slip: signed, never copied; its item tracked, seen only by who has a role on it ----------
    rt.clock.set(at(2026, 11, 25, 10))
    talk(ol, SLIP + [("保密 JB1", "已标记为保密")])
    talk(leader, [("同意 JB1", ("以下 1 份将同意签发", "【交办单 JB1】", "（保密）")),
                  ("确认", ("已签发交办单 JB1", "保密，不抄送督导考核组", "已通知：区住建局"))])
    assert notices(rt, "slip-copy:") == []
    with rt.db.session() as s:
        slip = s.scalar(select(AssignmentSlip))
        [j] = slip.rows
        assert (slip.confidential, slip.state, j.code, j.state) == (True, "issued", "J3", "open")
    assert [t for _k, t, _c in notices(rt, "slip-unit:")] == [ZHUJIAN]
    talk(sup, [("查 J3", "没有找到"), ("查 JB1", "没有找到交办单"), ("查 M1", "推进石化科创小镇征迁扫尾")])
    talk(zj, [("查 J3", "涉密项目用地报批"), ("查 JB1", ("交办单 JB1", "（保密）", "J3"))])
    talk(ol, [("查 J3", "涉密项目用地报批")])

    # -- a correction: the deadline typed wrong, corrected with a reason; the unit is told -------------
    rt.clock.set(at(2026, 11, 26, 10))
    talk(zj, [("更正 M1 时限 12月25日；录入笔误", "无权办理")])
    talk(ol, [("更正 M1 时限 12月25日", "请在分号后写明更正原因"),
              ("更正 M1 时限 12月25日；纪要原文为12月25日", ("已更正事项M1的完成时限：2026年12月25日",))])
    with rt.db.session() as s:
        m1 = s.scalar(select(Matter).where(Matter.code == "M1"))
        assert (m1.deadline, m1.original_deadline) == (date(2026, 12, 25), date(2026, 12, 25))
    assert ("林勇勇", "corrected", "纪要原文为12月25日") in audits(rt, "matter")
    [(_k, target, text)] = notices(rt, "corrected:")
    assert target == ZHUJIAN and "完成时限：2026年12月25日" in text and "纪要原文为12月25日" in text

    # -- a claim that says what was done, 销号, then 重新打开 with a reason; the next report shows why -----
    rt.clock.set(at(2026, 12, 10, 10))
    talk(zj, [("申请销号 M1", "请写明已完成的情况"), ("申请销号 M1 征迁扫尾已完成，签约率100%", "核实销号")])
    talk(ol, [("销号 M1", "确认销号"), ("确认", "已销号"), ("重新打开 M1", "请写明重新打开的原因"),
              ("重新打开 M1 复查发现仍有1户未腾空", ("已重新打开事项M1", "仍有1户未腾空"))])
    with rt.db.session() as s:
        assert s.scalar(select(Matter.state).where(Matter.code == "M1")) == "returned"
    assert "复查发现仍有1户未腾空" in notices(rt, "closeout:")[-1][2] and notices(rt, "closeout:")[-1][1] == ZHUJIAN
    talk(zj, [("查 M1", ("申请销号：吴文锋", "征迁扫尾已完成", "重新打开：林勇勇", "仍有1户未腾空"))])
    # one problem list per minutes / slip: 区住建局 has M1 (minutes) and J3 (slip JB1)
    talk(zj, [("填报", ("2份问题清单", "1. 《石化科创小镇征迁调度会议纪要（2026-11-20）》问题清单",
                         "2. 事项交办单JB1")),
              ("填报 1", ("M1", "!J3", "已被林勇勇重新打开，原因：复查发现仍有1户未腾空"))])


def test_the_monthly_meeting_check_counts_meetings_without_minutes(trial):
    """陈剑锋's 一线调度 of Dec 3 has no minutes yet: it still counts; the others are reminded."""
    rt = trial
    rt.clock.set(at(2026, 12, 3, 17))
    talk(rt.say(OFFICE_LIAISON), [(s, e) for s, e in MEETING[:3]] + [("12月3日", None), ("发改局", None),
                                                                     ("无", "请核对"), ("确认", "已登记调度")])
    run_leader_meeting(rt, at(2026, 12, 25, 9))
    texts = [c for _k, _t, c in notices(rt, "leader_meeting:")]
    assert texts and not any("陈剑锋" in c for c in texts) and any("杨凤翔区长" in c for c in texts)


def test_withdrawing_an_unissued_draft_and_a_slip(trial):
    rt = trial
    rt.clock.set(at(2026, 11, 24, 10))
    ol = rt.say(OFFICE_LIAISON)
    talk(ol, MINUTES + [("撤回 纪要1", "请写明撤回原因"), ("撤回 纪要1 重复录入", ("已撤回纪要1", "陈剑锋副区长"))])
    talk(ol, SLIP + [("撤回 JB1 事项已并入纪要", "已撤回交办单 JB1")])
    with rt.db.session() as s:
        assert s.scalar(select(Minutes.state)) == "withdrawn" and s.scalars(select(Matter)).all() == []
        assert s.scalar(select(AssignmentSlip.state)) == "withdrawn"
    assert [a for a in audits(rt, "matter") if a[1] == "withdrawn"] == [("林勇勇", "withdrawn", "重复录入")] * 2
    talk(rt.say(LEADER), [("待签", "目前没有待您签发"), ("同意", "没有待您签发")])
    assert {t for _k, t, _c in notices(rt, "minutes-withdrawn:") + notices(rt, "slip-withdrawn:")} == {LEADER}


def _pid(rt, user):
    with rt.db.session() as s:
        return s.scalar(select(Person.id).where(Person.wecom_userid == user))


def _unit_id(rt, name):
    with rt.db.session() as s:
        return s.scalar(select(Unit.id).where(Unit.name == name))


# -- the rules ----------------------------------------------------------------------------------------
@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_the_first_draft_is_due_three_calendar_days_after_the_meeting(d):
    due = draft_due(d)
    assert (due - d).days == 3 and draft_due(d, 5) > due


@given(st.integers(1, 12))
def test_monthly_rows_owe_a_meeting_every_month_quarterly_ones_every_third(month):
    assert meeting_owed("monthly", 2026, month) and meeting_owed("weekly", 2026, month)
    assert meeting_owed("quarterly", 2026, month) == (month in (3, 6, 9, 12))


def test_leaders_are_addressed_with_name_and_short_title():
    class P:
        def __init__(self, name, title):
            self.name, self.title = name, title

    assert addressed(P("杨凤翔", "区政府区长")) == "杨凤翔区长"
    assert addressed(P("陈剑锋", "区委常委、区政府副区长")) == "陈剑锋副区长"
    assert addressed(P("林勇勇", "南埔镇副镇长")) == "林勇勇南埔镇副镇长"
    assert addressed(P("某某", None)) == "某某"


def test_a_placeholder_liaison_is_never_reminded_to_draft(seeded):
    """A meeting led by a unit whose liaison is a placeholder: only the office liaisons are told."""
    from bot.actions.base import Acting
    from bot.actions.minutes import do_record_meeting

    with seeded.db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == LEADER))
        fagai = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        assert fagai.liaison.placeholder
        do_record_meeting(Acting(s, leader, at(2026, 11, 20)), leader=leader, meeting_date=date(2026, 11, 20),
                          lead_unit=fagai)
    run_draft(seeded, at(2026, 11, 23, 9))
    assert {t for _k, t, _c in notices(seeded)} == {OFFICE_LIAISON}


def test_the_draft_reminder_goes_to_a_named_lead_unit_liaison_too(seeded):
    from bot.actions.base import Acting
    from bot.actions.minutes import do_record_meeting

    with seeded.db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == LEADER))
        zhujian = s.scalar(select(Unit).where(Unit.name == "区住建局"))
        zhujian.liaison_id = s.scalar(select(Person.id).where(Person.wecom_userid == ZHUJIAN))
        s.flush()
        s.refresh(zhujian)
        do_record_meeting(Acting(s, leader, at(2026, 11, 20)), leader=leader, meeting_date=date(2026, 11, 20),
                          lead_unit=zhujian)
    assert [t for _k, t, _c in notices(seeded, "meeting-unit:")] == [ZHUJIAN]
    run_draft(seeded, at(2026, 11, 23, 9))
    by_key = {k.split(":")[0]: (t, c) for k, t, c in notices(seeded, "minutes_")}
    assert by_key["minutes_draft"][0] == ZHUJIAN and by_key["minutes_chase"][0] == OFFICE_LIAISON
    assert "已提醒区住建局联络员" in by_key["minutes_chase"][1]



def test_the_monthly_meeting_check_leaves_out_retired_rows(trial):
    """A retired 附件2 row (DispatchRow.active=False: "持续滚动更新") owes no meeting any more: its leader's
    office liaisons are not reminded for it."""
    from models import DispatchRow
    rt = trial
    with rt.db.session() as s:
        yang = s.scalar(select(Person.id).where(Person.name == "杨凤翔"))
        rows = s.scalars(select(DispatchRow).where(DispatchRow.leader_id == yang)).all()
        assert rows
        for r in rows:
            r.active = False
    run_leader_meeting(rt, at(2026, 12, 25, 9))
    texts = [c for _k, _t, c in notices(rt, "leader_meeting:")]
    assert texts and not any("杨凤翔" in c for c in texts)


def test_withdrawing_issued_minutes_and_a_confidential_slip(trial):
    """撤销印发: only the drafter / the row's office liaison / an admin, with a reason; the open items are
    withdrawn (no longer owed); the responsible unit, the leader and — not for 保密 — the supervision group
    are told why."""
    from bot.domain import reporting
    from bot.domain.periods import period_by_key

    rt = trial
    ol, leader, zj = (rt.say(u) for u in (OFFICE_LIAISON, LEADER, ZHUJIAN))
    rt.clock.set(at(2026, 11, 24, 10))
    talk(ol, MINUTES)
    talk(leader, [("同意 纪要1", "以下 1 份将同意印发"), ("确认", "已签发印发")])
    rt.clock.set(at(2026, 11, 26, 10))
    talk(zj, [("撤销印发 纪要1 错发", "只有起草人可以修改")])
    talk(ol, [("撤销印发 纪要1", "请写明撤回原因"),
              ("撤销印发 纪要1 纪要内容有误，另行印发", ("已撤销印发纪要1", "纪要内容有误，另行印发", "M1、M2",
                                                  "陈剑锋副区长和督导考核组"))])
    with rt.db.session() as s:
        mn = s.scalar(select(Minutes))
        items = {m.code: m for m in s.scalars(select(Matter))}
        assert mn.state == "withdrawn"
        assert {c: m.state for c, m in items.items()} == {"M1": "withdrawn", "M2": "withdrawn"}
        assert all(m.withdrawn_at == at(2026, 11, 26, 10) for m in items.values())
        # owed nothing from the next period on
        assert reporting.report_status(s, [period_by_key("2026-12-05")]) == {}
    why = "纪要内容有误，另行印发"
    assert [a for a in audits(rt, "matter") if a[1] == "withdrawn"] == [("林勇勇", "withdrawn", why)] * 2
    assert ("林勇勇", "withdraw_issued", "纪要内容有误，另行印发") in audits(rt, "minutes")
    sent = {k: (t, c) for k, t, c in notices(rt, "minutes-revoked:")}
    zj_id = _unit_id(rt, "区住建局")
    to_unit = f"minutes-revoked:1:u{zj_id}:p{_pid(rt, ZHUJIAN)}"
    assert set(sent) == {to_unit, f"minutes-revoked:1:p{_pid(rt, LEADER)}", "minutes-revoked:1:supervision"}
    assert sent[to_unit][0] == ZHUJIAN and "M1" in sent[to_unit][1] and "M2" not in sent[to_unit][1]
    assert all("纪要内容有误，另行印发" in c for _t, c in sent.values())
    assert sent["minutes-revoked:1:supervision"][0] == "supervision"
    talk(zj, [("查 M1", "已撤销")])
    talk(ol, [("撤销印发 纪要1 再撤", "已签发或已撤回")])

    # a 保密 slip: the unit and the leader are told, the supervision group never
    talk(ol, SLIP + [("保密 JB1", "已标记为保密")])
    talk(leader, [("同意 JB1", "以下 1 份将同意签发"), ("确认", "已签发交办单 JB1")])
    talk(ol, [("撤回 JB1 事项已另行交办", ("已撤销印发交办单 JB1", "J3"))])
    with rt.db.session() as s:
        assert s.scalar(select(AssignmentSlip.state)) == "withdrawn"
        assert s.scalar(select(Matter.state).where(Matter.code == "J3")) == "withdrawn"
    targets = {t for _k, t, _c in notices(rt, "slip-revoked:")}
    assert targets == {ZHUJIAN, LEADER}


def _second_minutes():
    """MINUTES for another meeting (its own title and date)."""
    swap = {"〔2026〕12号": "〔2026〕13号", "石化科创小镇征迁调度会议纪要": "区长专题调度会议纪要",
            "11月20日": "11月21日"}
    return ([(swap.get(says, says), expect) for says, expect in MINUTES[:-1]]
            + [("确认", ("纪要初稿已提交", "M3", "M4"))])


def test_one_problem_list_per_lead_unit_and_minutes(keep_deadlines, trial):
    """Seed 000 附件3: the unit of reporting is the problem list of ONE minutes. 区住建局 leads two minutes: its
    填报 asks which; what is owed, reminded, named in 超期未报 and recorded as missed is per list; the 18:00 rule
    is decided by each list's first submission."""
    from bot.domain import reporting
    from bot.domain.periods import period_by_key
    from bot.jobs import overdue, reminders
    from models import MissedDeadline, ReportSubmission

    rt = trial
    ol, leader, zj, sup = (rt.say(u) for u in (OFFICE_LIAISON, LEADER, ZHUJIAN, SUPERVISION))
    rt.clock.set(at(2026, 11, 24, 10))
    talk(ol, MINUTES)
    talk(leader, [("同意 纪要1", "以下 1 份将同意印发"), ("确认", "已签发印发")])
    talk(ol, _second_minutes())
    talk(leader, [("同意 纪要2", "以下 1 份将同意印发"), ("确认", "已签发印发")])
    zj_id = _unit_id(rt, "区住建局")
    with rt.db.session() as s:
        for mn in s.scalars(select(Minutes)):
            mn.lead_unit_id = zj_id  # 区住建局 leads both (its liaison is named)
    first = "《石化科创小镇征迁调度会议纪要（2026-11-20）》问题清单"
    second = "《区长专题调度会议纪要（2026-11-21）》问题清单"
    p = period_by_key("2026-12-05")

    rt.clock.set(at(2026, 12, 3, 10))
    answers = [("2", None), ("征迁扫尾推进中", None), ("12月18日", None), ("无", None),
               ("2", None), ("用地报批材料已报送", None), ("12月18日", None), ("无", "请核对")]
    talk(zj, [("填报", ("2份问题清单", "1. " + first + "（2项）", "2. " + second + "（2项）", "填报 序号")),
              ("填报 1", (first, "共有 2 项", "M2", "!M3"))] + answers
         + [("确认", ("第 1 版", first, "本期还有1份问题清单未报送：" + second))])
    talk(sup, [("未报 本期", ("应报问题清单 2 份", "已报 1 份", "区住建局：" + second, "!区住建局：" + first))])

    # the reminder on the deadline day names the list still owed; 超期未报 names and records it alone
    reminders.run(rt, at(2026, 12, 5, 9))
    [(_k, target, text)] = [n for n in notices(rt, "report_reminder:u")]
    assert target == ZHUJIAN and second in text and first not in text
    overdue.run(rt, overdue.post_at(p))  # a Saturday deadline kept: listed on Monday
    group = [c for _k, t, c in notices(rt, "report_overdue:group:supervision:")]
    assert group and "区住建局（联络员：吴文锋）：" + second + "未报" in group[0] and first not in group[0]
    with rt.db.session() as s:
        assert [(m.unit_id, m.source) for m in s.scalars(select(MissedDeadline))] == [(zj_id, "minutes:2")]

    # Dec 6: a revision of the first list stays on time (its first version decides); the second comes late
    rt.clock.set(at(2026, 12, 6, 10))
    talk(zj, [("填报 1", (first, "12月5日期", "这次提交将替换之前的报送", "!本期报送已过截止时间"))] + answers
         + [("确认", ("第 2 版", "!记为迟报"))])
    talk(zj, [("填报 2", (second, "12月5日期", "本期报送已过截止时间", "M4", "!M1"))] + answers
         + [("确认", ("第 1 版", "记为迟报"))])
    with rt.db.session() as s:
        assert reporting.report_status(s, [p], at(2026, 12, 7)) == {
            (zj_id, "minutes:1", p.key): reporting.ON_TIME, (zj_id, "minutes:2", p.key): reporting.LATE}
        subs = [(r.source, r.version, r.current, r.is_late) for r in s.scalars(
            select(ReportSubmission).order_by(ReportSubmission.id))]
        assert subs == [("minutes:1", 1, False, False), ("minutes:1", 2, True, False), ("minutes:2", 1, True, True)]
