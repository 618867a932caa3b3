"""A month of activity (November 2026) on the seeded org chart, for the document tests and for
bench/render_forms.py: two minutes with their matters, the units' reports of the 20th, an issued and a
pending assignment slip, a week's key-project form, escalations and history."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from sqlalchemy import select

from bot.infra import audit
from models import (
    ESC_ACCOUNTABILITY,
    ESC_SUPERVISION_REQUEST,
    SLIP_ISSUED,
    SLIP_PENDING,
    AssignmentSlip,
    DispatchRow,
    Escalation,
    KeyProject,
    Matter,
    Person,
    ProjectProblem,
    ReportItem,
    Unit,
    WeeklyProjectReport,
)
from tests import factories as f

at = f.at


def build_month(s) -> SimpleNamespace:
    o = SimpleNamespace()
    unit = lambda name: s.scalar(select(Unit).where(Unit.name == name))  # noqa: E731
    who = lambda uid: s.scalar(select(Person).where(Person.wecom_userid == uid))  # noqa: E731
    o.fagai, o.tongji, o.keji, o.jiaoyu = unit("区发改局"), unit("区统计局"), unit("区科技局"), unit("区教育局")
    o.chen, o.guo, o.yang = who("chenjianfeng"), who("guoyating"), who("yangyoumei")
    o.row_chen = s.scalar(select(DispatchRow).where(DispatchRow.leader_id == o.chen.id))
    o.row_guo = s.scalar(select(DispatchRow).where(DispatchRow.leader_id == o.guo.id))
    oct_ = at(2026, 10, 30)

    o.min1 = f.minutes(s, o.chen, o.fagai, row=o.row_chen, number="泉港政纪〔2026〕12号", title="全区经济运行调度会",
                       meeting=date(2026, 11, 3))
    o.min1.created_at = at(2026, 11, 3)
    o.a = f.matter(s, "M1", o.fagai, o.chen, date(2026, 11, 30), title="推进石化科创小镇项目入库", minutes_obj=o.min1,
                   created_at=at(2026, 11, 3))
    o.b = f.matter(s, "M2", o.tongji, o.chen, date(2026, 12, 15), title="完成规上工业增加值数据核对",
                   minutes_obj=o.min1, created_at=at(2026, 11, 3))
    o.c = f.matter(s, "M3", o.keji, o.chen, date(2026, 11, 10), title="清源实验室设备采购招标", minutes_obj=o.min1,
                   created_at=at(2026, 11, 3))
    for m, seq in ((o.a, 1), (o.b, 2), (o.c, 3)):
        m.seq, m.lead_unit_id = seq, o.fagai.id
    o.min2 = f.minutes(s, o.guo, o.jiaoyu, row=o.row_guo, number="泉港政纪〔2026〕15号", title="教育工作专题调度会",
                       meeting=date(2026, 11, 12))
    o.d = f.matter(s, "M4", o.jiaoyu, o.guo, date(2026, 12, 31), title="锦川实验小学秋季开学准备", minutes_obj=o.min2,
                   created_at=at(2026, 11, 12))
    o.d.lead_unit_id = o.jiaoyu.id
    o.old = f.matter(s, "M5", o.keji, o.chen, date(2026, 10, 20), title="科技企业培育专项", created_at=oct_)

    o.sub_fagai = f.report(s, o.fagai, o.fagai.liaison, "2026-11-20", at(2026, 11, 19, 16))
    s.add(ReportItem(submission_id=o.sub_fagai.id, matter_id=o.a.id, status="done", progress="已完成项目入库"))
    o.sub_tongji = f.report(s, o.tongji, o.tongji.liaison, "2026-11-20", at(2026, 11, 20, 17))
    s.add(ReportItem(submission_id=o.sub_tongji.id, matter_id=o.b.id, status="open", progress="数据核对中",
                     planned_deadline=date(2026, 12, 10), obstacle="统计口径不一致"))
    o.a.state, o.a.closed_at = "closed", at(2026, 11, 25)
    o.b.last_progress, o.b.last_progress_at = "数据核对中", at(2026, 11, 20, 17)
    o.c.escalation_level = ESC_SUPERVISION_REQUEST
    o.old.escalation_level = ESC_ACCOUNTABILITY
    s.add_all([Escalation(matter_id=o.c.id, level=ESC_SUPERVISION_REQUEST, raised_at=at(2026, 11, 21),
                          reason="涉及多部门"),
               Escalation(matter_id=o.old.id, level=ESC_ACCOUNTABILITY, raised_at=at(2026, 11, 26))])
    audit.record(s, actor=o.fagai.liaison, action="report", entity="matter", entity_id=o.a.code,
                 at=at(2026, 11, 19, 16))
    audit.record(s, actor="系统", action="closed", entity="matter", entity_id=o.a.id, at=at(2026, 11, 25))

    drafter = o.fagai.liaison
    o.slip = AssignmentSlip(code="JB1", leader_id=o.chen.id, dispatched_on=date(2026, 11, 8), drafted_by_id=drafter.id,
                            drafting_unit_id=o.fagai.id, state=SLIP_ISSUED, signed_at=at(2026, 11, 9, 10, 30),
                            created_at=at(2026, 11, 8))
    s.add(o.slip)
    s.flush()
    o.j1 = Matter(code="J6", kind="slip", slip_id=o.slip.id, seq=1, title="G228改线工程用地征迁",
                  obstacles="征迁补偿标准分歧",
                  measures="自然资源局牵头逐户协商", leader_id=o.chen.id, responsible_unit_id=o.fagai.id,
                  deadline=date(2026, 12, 20), original_deadline=date(2026, 12, 20), created_at=at(2026, 11, 9))
    o.j2 = Matter(code="J7", kind="slip", slip_id=o.slip.id, seq=2, title="高铁站前广场场地平整",
                  obstacles="施工震动引发阻工",
                  measures="属地镇做好群众工作", leader_id=o.chen.id, responsible_unit_id=o.keji.id,
                  deadline=date(2026, 11, 28), original_deadline=date(2026, 11, 28), created_at=at(2026, 11, 9),
                  state="closed", closed_at=at(2026, 11, 27), last_progress="已完成场地平整")
    s.add_all([o.j1, o.j2])
    o.pending = AssignmentSlip(code="JB2", leader_id=o.guo.id, dispatched_on=date(2026, 11, 28),
                               drafted_by_id=drafter.id,
                               state=SLIP_PENDING, draft={"rows": [{"title": "校舍安全排查", "obstacles": "经费不足",
                                                                    "measures": "财政局统筹",
                                                                    "responsible_unit": {"id": o.jiaoyu.id},
                                                                    "deadline": "2026-12-30"}]})
    s.add(o.pending)

    o.project = s.scalar(select(KeyProject).order_by(KeyProject.seq))
    o.weekly = WeeklyProjectReport(project_id=o.project.id, week_start=date(2026, 11, 23), submitted_by_id=drafter.id,
                                   submitted_at=at(2026, 11, 23, 10), coordination_progress="已召开协调会两次",
                                   next_steps="加快招投标进度")
    o.weekly.problems = [ProjectProblem(category="approval", description="施工许可待办理",
                                        responsible_unit_id=o.jiaoyu.id),
                         ProjectProblem(category="construction", description="雨季影响工期",
                                        responsible_unit_id=o.fagai.id)]
    s.add(o.weekly)
    s.flush()
    return o
