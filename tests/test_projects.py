"""Seed 001 in chat (issue 13), through the real signed WeCom callback on the shipped org chart with the
project leaders and liaisons filled in: the Monday form, its review, the Tuesday chase, a topic to the joint
meeting, the minutes signed and copied, a decision overdue and transferred after a leader's 批办."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.actions import projects as P
from models import (
    AuditLog,
    DecisionTransfer,
    JointMeeting,
    Matter,
    MeetingTopic,
    Milestone,
    Unit,
    WeeklyProjectReport,
)
from tests.dialog import Callback, at, talk
from tests.jobs_helpers import run_cli
from tests.projects_data import CONVENER, EDU_LIAISON, FIN_LIAISON, LEADER, OFFICE, WEEKLY, fill_in
from tests.support import AES, AGENT, CORP, SEED_FILE, TOKEN, make_app, wecom_config
from tests.support import notice_rows as notices
from tests.wecom_peer import WeComPeer


@pytest.fixture
def app(db_url, tmp_path):
    from bot.actions.seed import load_seed

    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
        fill_in(s)
    yield app
    rt.db.dispose()


def say(app, user):
    return Callback(app, WeComPeer(TOKEN, AES, CORP, AGENT), user)


def keyed(rt, prefix=""):
    return {k: (t, c) for k, t, c in notices(rt, prefix)}




def test_key_project_mechanism_end_to_end(app):
    rt = app.extensions["bot"]
    edu, leader, office, convener = (say(app, u) for u in (EDU_LIAISON, LEADER, OFFICE, CONVENER))
    runner = app.test_cli_runner()

    # -- Monday 2026-12-07: the reminder names the contact; the form is filled step by step
    rt.clock.set(at(2026, 12, 7, 9, 30))
    run_cli(runner, "key_project_reminder", at(2026, 12, 7, 9, 10))
    with rt.db.session() as s:
        edu_unit = s.scalar(select(Unit).where(Unit.name == "区教育局"))
        fin_unit = s.scalar(select(Unit).where(Unit.name == "区财政局"))
    remind = keyed(rt, "kp-remind:")
    target, text = remind[f"kp-remind:1:{edu_unit.id}:2026-12-07"]
    assert target == EDU_LIAISON and "小郑" in text and "13599290520" in text and "已逾期" in text
    assert len(remind) == 5  # five lead units of four projects (two for the station square)
    digest = keyed(rt, "kp-milestones:")["kp-milestones:2026-12-07"]
    assert digest[0] == "joint_office" and digest[1].count("逾期") == 14

    talk(edu, WEEKLY)
    with rt.db.session() as s:
        rep = s.scalar(select(WeeklyProjectReport))
        assert (rep.state, rep.revision, rep.filled_unit.name, rep.week_start) == ("submitted", 1, "区教育局",
                                                                                  date(2026, 12, 7))
        assert sorted((p.category, p.responsible_unit.name) for p in rep.problems) == [
            ("budget", "区财政局"), ("land", "区自然资源局")]
        assert [x.met for x in rep.milestone_lines] == [True, False, False]
        assert rep.problems[0].progress == "已报区财政局评审" and rep.problems[0].proposal == "提请联合会议研究追加概算"
    t, text = keyed(rt)["kp-weekly-review:1:1"]
    assert t == LEADER and "同意 ZH1" in text and "工程施工方面：无" in text

    # only the project's leader reviews; a reason is required to return
    talk(convener, [("同意 ZH1", "项目负责领导")])
    talk(leader, [("退回 ZH1", "须说明原因")])
    talk(leader, [("退回 ZH1 工程施工方面情况未填写清楚，请核实", "已退回")])
    t, text = keyed(rt)["kp-weekly-returned:1:1"]
    assert t == EDU_LIAISON and "工程施工方面情况未填写清楚" in text
    talk(leader, [("同意 ZH1", "已不在可办理的状态")])
    # the liaison reopens it at the summary and resubmits it
    talk(edu, [("周报", ("已被退回", "工程施工方面情况未填写清楚", "请核对")), ("确认", "ZH1")])
    assert keyed(rt)["kp-weekly-review:1:2"][0] == LEADER
    talk(leader, [("同意", ("以下 1 份将同意报送", "【问题清单 ZH1】", "确认")),
                  ("确认", ("已同意", "联合会议办公室"))])
    with rt.db.session() as s:
        rep = s.scalar(select(WeeklyProjectReport))
        assert (rep.state, rep.revision, rep.reviewed_by_id is not None) == ("reviewed", 2, True)
        ms1 = s.scalar(select(Milestone).where(Milestone.project_id == rep.project_id, Milestone.seq == 1))
        assert (ms1.claimed_on, ms1.done_on) == (date(2026, 12, 7), None)
        actions = [(a.action, a.reason) for a in s.scalars(select(AuditLog).where(
            AuditLog.entity == "weekly_project_report").order_by(AuditLog.id))]
    assert actions == [("submit", None), ("return", "工程施工方面情况未填写清楚，请核实"), ("resubmit", None),
                       ("review", None)]
    t, text = keyed(rt)["kp-weekly-office:1"]
    assert t == "joint_office" and f"LC{ms1.id}" in text and "WT" in text and "郭雅婷副区长" in text
    talk(edu, [("周报", "已经审阅报送")])
    talk(office, [(f"确认达成 LC{ms1.id}", "2026年12月7日达成"), (f"确认达成 LC{ms1.id}", "已于")])

    # -- Tuesday: the chase lists the three projects without a reviewed form, not 锦川
    run_cli(runner, "key_project_chase", at(2026, 12, 8, 9, 20))
    run_cli(runner, "key_project_chase", at(2026, 12, 8, 9, 25))  # sent once
    [(key, t, text)] = notices(rt, "kp-chase:")
    assert (key, t) == ("kp-chase:2026-12-07", "joint_office")
    assert "锦川" not in text and text.count("未填报") == 3 and "泉港高铁站前广场及配套工程" in text

    # -- a topic: submitted, returned by the office, resubmitted, approved by 张井丽, on the agenda
    talk(edu, [
        ("提交议题", "请选择项目"),
        ("1", "需提交联合会议研究协调的事项"),
        ("锦川实验小学追加概算审批", "办理意见"),
        ("建议由区财政局牵头于月底前完成追加概算评审", "责任单位"),
        ("区财政局、区发改局", "办理时限"),
        ("12月20日", "事前征求"),
        ("已征求", ("请核对", "锦川实验小学项目", "区财政局、区发改局")),
        ("确认", ("YT1", "联合会议办公室审核")),
    ])
    assert keyed(rt)["kp-topic-office:1:1"][0] == "joint_office"
    talk(office, [("退回 YT1 请写明已征求意见的部门及其意见", "已退回")])
    assert "请写明已征求意见" in keyed(rt)["kp-topic-returned:1:1"][1]
    talk(convener, [("同意 YT1", "已不在可办理的状态")])
    talk(edu, [("修改议题", ("已被退回", "请核对")), ("修改 6", "事前征求"),
               ("已征求区财政局、区发改局意见，均无异议", "请核对"), ("确认", "YT1")])
    talk(office, [("通过 YT1", "审核通过")])
    conv_keys = [k for k in keyed(rt) if k.startswith("kp-topic-convener:1:2:")]
    assert len(conv_keys) == 5  # 总召集人 and four 召集人
    talk(convener, [("同意 YT1", ("以下 1 份将通过列入议题", "【议题 YT1】", "确认")),
                    ("确认", ("已同意议题 YT1", "HY1"))])
    with rt.db.session() as s:
        topic = s.get(MeetingTopic, 1)
        meeting = s.get(JointMeeting, 1)
        assert (topic.state, topic.revision, topic.meeting_id, topic.consulted) == (
            "approved", 2, 1, "已征求区财政局、区发改局意见，均无异议")
        assert (meeting.chair.name, meeting.state, meeting.meeting_date) == ("张井丽", "planned", date(2026, 12, 14))

    # -- the meeting: agenda to attendees, minutes drafted by the office, signed by the chair and copied
    talk(office, [("发送议程 HY1", ("已向参会人员发送", "张井丽", "郭雅婷", "林教联"))])
    agenda = {k: t for k, t, _c in notices(rt, "kp-agenda:1:")}
    assert sorted(agenda.values()) == sorted([CONVENER, LEADER, EDU_LIAISON, "joint_office"])
    talk(office, [
        ("录入会议纪要 HY1", "属于哪个议题"),
        ("1", "议定事项内容"),
        ("区财政局于12月20日前完成锦川实验小学追加概算评审", "责任单位"),
        ("财政局", "完成时限"),
        ("12月20日", "第 2 项"),
        ("完成", ("请核对", "区财政局")),
        ("确认", ("已送张井丽常务副区长签发")),
    ])
    talk(leader, [("签发 HY1", "由主持会议的张井丽常务副区长签发")])
    talk(convener, [("签发 HY1", ("已签发HY1会议纪要", "纳入督查台账"))])
    with rt.db.session() as s:
        [m] = s.scalars(select(Matter)).all()
        assert (m.kind, m.code, m.responsible_unit.name, m.deadline, m.leader.name, m.lead_unit.name) == (
            "topic", f"T{m.id}", "区财政局", date(2026, 12, 20), "张井丽", "区教育局")
        assert s.get(MeetingTopic, 1).state == "decided"
        code = m.code
    minutes = keyed(rt, "kp-minutes-")
    assert minutes[f"kp-minutes-unit:1:{fin_unit.id}"][0] == FIN_LIAISON
    assert code in minutes[f"kp-minutes-unit:1:{fin_unit.id}"][1]
    assert minutes[f"kp-minutes-unit:1:{edu_unit.id}"][0] == EDU_LIAISON
    copies = [t for k, (t, _c) in minutes.items() if k.startswith("kp-minutes-copy:1:")]
    assert copies == ["yangfengxiang"]  # 区委区政府主要领导 (the party secretary is still a placeholder)
    assert minutes["kp-minutes-office:1"][0] == "joint_office"

    # -- the decision is overdue; transferred to 区政府督查室 once 张井丽 approves (批办)
    rt.clock.set(at(2026, 12, 22, 10))
    talk(say(app, "yangfengxiang"), [(f"转办 {code} 区政府督查室 逾期未完成", "联合会议办公室")])
    talk(office, [(f"转办 {code} 区政府督查室 逾期两天未完成追加概算评审 通报效能办",
                   ("已报张井丽常务副区长批办", "ZB1"))])
    assert keyed(rt)["kp-transfer-ask:1"][0] == CONVENER
    talk(leader, [("批办 ZB1", "须由张井丽常务副区长批办")])
    talk(convener, [("批办 ZB1", ("已批办", "区政府督查室"))])
    sent = keyed(rt, "kp-transfer:1:")
    assert sorted(t for t, _c in sent.values()) == sorted(["yangyoumei", "tangshaoqing", FIN_LIAISON, "joint_office"])
    assert "逾期两天未完成追加概算评审" in sent[next(k for k in sent if "gov_supervision" in k)][1]
    with rt.db.session() as s:
        tr = s.get(DecisionTransfer, 1)
        assert (tr.state, tr.target, tr.notify_efficiency, tr.notify_discipline) == ("approved", "gov", True, False)
        assert s.get(Matter, tr.matter_id).escalation_level == 2
        assert s.scalar(select(AuditLog).where(AuditLog.entity == "matter", AuditLog.action == "transfer")) is not None
    talk(convener, [("批办 ZB1", "已不在可办理的状态")])

    # -- 张井丽's 项目: four projects, fourteen milestones with their states
    text = talk(convener, [("项目", ("锦川实验小学项目", "泉港医院病房大楼2#楼及附属配套设施项目",
                                     "泉港高铁站前广场及配套工程", "泉港坝头溪流域综合整治项目"))])
    assert text.count("LC") == 14 and text.count("已达成") == 1 and text.count("逾期") >= 13
    text = talk(convener, [("项目 锦川", ("资金概算：WT", "项目审批：无", code, "逾期", "本周问题清单：未填报"))])

    # §四(一): the cooperation table counts the reviewed form and the overdue decision
    with rt.db.session() as s:
        table = {c.unit: c for c in P.cooperation_table(s, date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 22))}
    edu_row, fin_row = table["区教育局"], table["区财政局"]
    assert (edu_row.forms_due, edu_row.forms_on_time, edu_row.forms_missing) == (3, 1, 2)  # weeks of 7, 14, 21
    assert (fin_row.decisions, fin_row.decisions_overdue, fin_row.problems, fin_row.problems_closed) == (1, 1, 1, 0)
