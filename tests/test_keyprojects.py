"""Seed 001's rules and jobs in isolation: the weekly calendar (a Monday holiday moves the form), milestone
states, the reminder/chase jobs on holidays and reruns, two people deciding at once, and who sees `项目`."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.domain import keyprojects as K
from bot.domain.workdays import is_workday
from models import AuditLog, JointMeeting, KeyProject, MeetingTopic, Milestone, Notice, Person, WeeklyProjectReport
from tests.dialog import Direct, at, talk
from tests.jobs_helpers import run_cli
from tests.projects_data import EDU_LIAISON, LEADER, WEEKLY, fill_in
from tests.threads import at_once


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)))
def test_form_due_is_the_first_working_day_from_monday_and_the_chase_the_next(d):
    week = K.week_start(d)
    due, chase = K.form_due(d), K.chase_day(d)
    assert week.weekday() == 0 and week <= d < week + timedelta(days=7)
    assert is_workday(due) and due >= week and all(not is_workday(week + timedelta(days=k))
                                                     for k in range((due - week).days))
    assert is_workday(chase) and chase > due
    assert all(not is_workday(due + timedelta(days=k)) for k in range(1, (chase - due).days))


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)), st.integers(0, 90),
       st.integers(-10, 100))
def test_weeks_in_are_the_begun_mondays_of_the_range(start, length, ahead):
    end, today = start + timedelta(days=length), start + timedelta(days=ahead)
    mondays = [start + timedelta(days=k) for k in range(length + 1)
               if (start + timedelta(days=k)).weekday() == 0 and start + timedelta(days=k) <= today]
    assert K.weeks_in(start, end, today) == mondays


def test_a_national_day_monday_moves_the_form():
    assert (K.form_due(date(2026, 10, 5)), K.chase_day(date(2026, 10, 5))) == (date(2026, 10, 8), date(2026, 10, 9))
    assert K.on_time(date(2026, 10, 5), date(2026, 10, 8)) and not K.on_time(date(2026, 10, 5), date(2026, 10, 9))
    assert not K.on_time(date(2026, 10, 5), None)


@given(st.dates(min_value=date(2021, 1, 1), max_value=date(2027, 12, 31)),
       st.dates(min_value=date(2021, 1, 1), max_value=date(2027, 12, 31)),
       st.one_of(st.none(), st.dates(min_value=date(2021, 1, 1), max_value=date(2027, 12, 31))))
def test_milestone_state(deadline, today, done_on):
    st_ = K.milestone_state(deadline, done_on, today)
    if done_on is not None:
        assert st_ == K.MilestoneState(K.MET, 0)
    elif today > deadline:
        assert st_ == K.MilestoneState(K.OVERDUE, (today - deadline).days)
    else:
        assert st_.state == (K.SOON if (deadline - today).days <= K.SOON_DAYS else K.DUE)
        assert st_.days == (deadline - today).days


@pytest.fixture
def chart(seeded):
    with seeded.db.session() as s:
        fill_in(s)
    return seeded


def test_reminder_waits_for_the_moved_monday_and_goes_once(chart, runner):
    run_cli(runner, "key_project_reminder", at(2026, 10, 5, 9, 10))  # 国庆 holiday Monday: nothing
    with chart.db.session() as s:
        assert s.scalar(select(Notice.id).where(Notice.key.like("kp-%"))) is None
    run_cli(runner, "key_project_reminder", at(2026, 10, 8, 9, 10))
    run_cli(runner, "key_project_reminder", at(2026, 10, 8, 9, 40))
    with chart.db.session() as s:
        keys = sorted(s.scalars(select(Notice.key).where(Notice.key.like("kp-remind:%"))))
    assert len(keys) == 5 and all(k.endswith(":2026-10-05") for k in keys)


def test_reminder_asks_the_leader_for_a_waiting_form_not_the_unit(chart, runner):
    chart.clock.set(at(2026, 12, 7, 9, 0))
    talk(Direct(chart, EDU_LIAISON), WEEKLY)
    run_cli(runner, "key_project_reminder", at(2026, 12, 7, 9, 10))
    with chart.db.session() as s:
        rows = {n.key: n.target for n in s.scalars(select(Notice).where(Notice.key.like("kp-remind%")))}
        project = s.scalar(select(KeyProject).where(KeyProject.seq == 1))
    assert rows[f"kp-remind-review:{project.id}:2026-12-07"] == LEADER
    assert not any(k.startswith(f"kp-remind:{project.id}:") for k in rows)
    assert len([k for k in rows if k.startswith("kp-remind:")]) == 4


TOPIC = [("提交议题", "请选择项目"), ("1", "事项"), ("锦川实验小学追加概算审批", "办理意见"),
         ("建议区财政局月底前完成评审", "责任单位"), ("区财政局", "办理时限"), ("12月20日", "事前征求"),
         ("已征求区财政局意见", "请核对"), ("确认", "YT1")]


def test_two_office_members_at_once_only_one_applies(chart):
    """Different people (no shared per-user lock): the conditional update lets exactly one decide."""
    chart.clock.set(at(2026, 12, 7, 9, 0))
    talk(Direct(chart, EDU_LIAISON), TOPIC)
    results = at_once([lambda: chart.handle_text("wecom", "xiaojiansong", "通过 YT1", msg_id="a1"),
                       lambda: chart.handle_text("wecom", "chenafang", "退回 YT1 材料不全", msg_id="a2")])
    texts = [r.text for r in results]
    assert sum("已不在可办理的状态" in t for t in texts) == 1, texts
    with chart.db.session() as s:
        topic = s.get(MeetingTopic, 1)
        assert (topic.state == "office_reviewed") == ("审核通过" in texts[0])
        assert (topic.state == "returned") == ("已退回" in texts[1])
        audits = list(s.scalars(select(AuditLog.action).where(AuditLog.entity == "meeting_topic",
                                                              AuditLog.action != "create")))
    assert len(audits) == 1


def test_who_sees_projects(chart):
    talk(Direct(chart, "zhangjingli"), [("项目", "泉港坝头溪流域综合整治项目")])
    talk(Direct(chart, LEADER), [("项目", ("锦川实验小学项目", "!泉港高铁站前广场"))])
    talk(Direct(chart, EDU_LIAISON), [("项目", ("锦川实验小学项目", "!泉港坝头溪"))])
    talk(Direct(chart, "chenjianfeng"), [("项目", "暂无您可查看")])
    talk(Direct(chart, EDU_LIAISON), [("新增里程碑", "联合会议办公室")])


def test_office_adds_a_milestone(chart):
    chart.clock.set(at(2026, 12, 7, 9, 0))
    talk(Direct(chart, "xiaojiansong"), [
        ("新增里程碑", "请选择项目"), ("1", "攻坚目标"), ("完成主体结构封顶", "完成时限"),
        ("2027-03-31", ("锦川实验小学项目", "完成主体结构封顶", "2027年3月31日")), ("确认", "已新增")])
    with chart.db.session() as s:
        ms = s.scalar(select(Milestone).order_by(Milestone.id.desc()))
        creator = s.get(Person, ms.created_by_id)
        assert (ms.seq, ms.target, ms.deadline, creator.name) == (4, "完成主体结构封顶", date(2027, 3, 31), "肖坚松")
        assert s.scalar(select(Notice.target).where(Notice.key.like(f"kp-milestone-added:{ms.id}:%"))) == EDU_LIAISON


def test_migration_0006_goes_down_and_up(runtime):
    """0006 removes seed 001's chat tables and columns and brings them back (existing rows get revision 1)."""
    from alembic import command
    from sqlalchemy import inspect

    from bot.infra.db import alembic_config, current_revision, upgrade

    url = runtime.settings.DATABASE_URL
    runtime.db.dispose()

    def schema():
        with runtime.db.engine.connect() as conn:
            insp = inspect(conn)
            out = (set(insp.get_table_names()), {c["name"] for c in insp.get_columns("weekly_project_report")})
        runtime.db.dispose()
        return out

    command.downgrade(alembic_config(url), "0005")
    tables, cols = schema()
    assert current_revision(url) == "0005"
    assert not {"joint_meeting", "milestone_progress", "decision_transfer"} & tables and "revision" not in cols
    upgrade(url)
    tables, cols = schema()
    assert {"joint_meeting", "milestone_progress", "decision_transfer"} <= tables and {"revision", "draft"} <= cols


def test_an_extra_meeting_proposed_by_a_member_and_agreed_by_a_convener(chart):
    """§三(一): 可由成员单位提议，经总召集人或召集人同意可随时召开; topics then go onto it."""
    chart.clock.set(at(2026, 12, 7, 9, 0))
    talk(Direct(chart, "chenjianfeng"), [("提议召开会议", "成员单位提议")])  # not a member of the group
    talk(Direct(chart, "chenjianxiong"), [  # 陈建雄, 区教育局局长, a member
        ("提议召开会议", "请选择项目"), ("1", "拟召开日期"), ("12月9日", "事由"),
        ("研究锦川实验小学追加概算问题", ("请核对", "2026年12月9日")), ("确认", ("HY1", "总召集人、召集人同意"))])
    with chart.db.session() as s:
        asked = sorted(s.scalars(select(Notice.target).where(Notice.key.like("kp-extra-ask:1:%"))))
    assert asked == sorted(["zhangjingli", "zhuangyiming", "huangshaowei", "caibenteng", "suchunyi"])
    talk(Direct(chart, "xiaojiansong"), [("同意 HY1", "召集人同意")])  # the office can't agree to it
    talk(Direct(chart, "caibenteng"), [("退回 HY1", "须说明原因"), ("同意", ("已同意召开HY1", "提议人"))])
    talk(Direct(chart, "zhangjingli"), [("退回 HY1 不必召开", "已不在可办理的状态")])
    with chart.db.session() as s:
        m = s.get(JointMeeting, 1)
        assert (m.state, m.extra, m.chair.name, m.meeting_date) == ("planned", True, "蔡奔腾", date(2026, 12, 9))
        told = {n.key: n.target for n in s.scalars(select(Notice).where(Notice.key.like("kp-extra-%ed:1")))}
    assert told == {"kp-extra-decided:1": "chenjianxiong"}
    talk(Direct(chart, EDU_LIAISON), TOPIC)
    talk(Direct(chart, "xiaojiansong"), [("通过 YT1", "审核通过")])
    talk(Direct(chart, "zhangjingli"), [("同意 YT1", ("【议题 YT1】", "确认")),
                                        ("确认", ("HY1", "2026年12月9日"))])  # onto the extra meeting


def test_a_slip_code_is_left_to_the_slip_even_with_a_form_waiting(chart):
    """同意 JB… is the slip's; a bare 同意 acts on the only seed-001 item waiting (found as a defect: the form was
    approved by 同意 JB9)."""
    chart.clock.set(at(2026, 12, 7, 9, 0))
    talk(Direct(chart, EDU_LIAISON), WEEKLY)
    talk(Direct(chart, LEADER), [("同意 JB9", "!已同意"), ("退回 JB9 原因", "!已退回")])
    with chart.db.session() as s:
        assert s.scalar(select(WeeklyProjectReport.state)) == "submitted"
    talk(Direct(chart, LEADER), [("同意", ("【问题清单 ZH1】", "确认")), ("确认", "已同意")])


def test_the_conveners_progress_shows_the_joint_meeting_decisions(seeded):
    """Issue 13: 总召集人 张井丽 asking 进度 got "暂无可查看的台账事项"; the decisions she signs are T items."""
    from datetime import date

    from models import KeyProject, Matter, MeetingTopic, Person, Unit

    with seeded.db.session() as s:
        zhang = s.scalar(select(Person).where(Person.wecom_userid == "zhangjingli"))
        unit = s.scalar(select(Unit).where(Unit.name == "区教育局"))
        project = s.scalar(select(KeyProject).where(KeyProject.seq == 1))
        topic = MeetingTopic(project_id=project.id, title="追加概算", proposed_solution="财政评审后追加",
                             raised_by_id=zhang.id, state="decided")
        s.add(topic)
        s.flush()
        s.add(Matter(code="T1", kind="topic", topic_id=topic.id, title="完成追加概算批复", leader_id=zhang.id,
                     responsible_unit_id=unit.id, deadline=date(2026, 12, 31), original_deadline=date(2026, 12, 31)))
    reply = seeded.handle_text("wecom", "zhangjingli", "进度").text
    assert "暂无可查看的台账事项" not in reply and "1" in reply
    detail = seeded.handle_text("wecom", "zhangjingli", "查 T1").text
    assert "完成追加概算批复" in detail
    other = seeded.handle_text("wecom", "yangfengxiang", "查 T1").text  # a leader who is not a convener
    assert "完成追加概算批复" not in other
