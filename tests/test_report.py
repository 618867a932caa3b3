"""填报: one period's report per unit, versions, late reports, matter updates, permissions."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import AuditLog, Matter, Notice, ReportSubmission
from tests import factories as f
from tests.dialog import Direct, at, talk

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")


@pytest.fixture
def org(runtime):
    """small_org plus three matters: two of 发改局 (one due soon), one of 科技局, one closed 发改局 matter."""
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="推进石化科创小镇征迁")
        f.matter(s, "M2", o.fagai, o.leader1, date(2026, 11, 28), title="完成项目立项审批")
        f.matter(s, "M3", o.keji, o.leader1, date(2026, 12, 15), title="科技局的事")
        f.matter(s, "M4", o.fagai, o.leader1, date(2026, 11, 1), title="已销号的事", state="closed")
    return o


FIRST = [
    ("填报", ("区发改局", "2026年12月5日期", "共有 2 项", "第 1/", "M2 完成项目立项审批", "1. 已完成")),
    ("已完成", "完成情况"),
    ("立项批复已取得", ("M1 推进石化科创小镇征迁", "第 2/2 项")),
    ("2", "目前进展"),
    ("征迁完成80%", "计划什么时候完成"),
    ("", ("没有收到文字", "计划什么时候完成")),
    ("下月15日", "难点"),
    ("剩余3户未签约", ("请核对", "✅ 已完成", "⏳ 未完成，计划 2026年12月15日 完成", "剩余3户未签约",
                      "已完成 1 项，未完成 1 项")),
    ("确认", ("已提交区发改局 2026年12月5日期报送（第 1 版", "!迟报")),
]


def rows(rt):
    with rt.db.session() as s:
        subs = [(x.period_key, x.version, x.current, x.is_late, sorted((i.matter.code, i.status,
                 i.planned_deadline, i.obstacle) for i in x.items))
                for x in s.scalars(select(ReportSubmission).order_by(ReportSubmission.id))]
        matters = {m.code: (m.state, m.planned_deadline, m.last_progress) for m in s.scalars(select(Matter))}
        return subs, matters


def test_report_saves_the_period_and_updates_matters(runtime, org):
    runtime.clock.set(at(2026, 11, 23))
    talk(Direct(runtime, "ua"), FIRST)
    subs, matters = rows(runtime)
    assert subs == [("2026-12-05", 1, True, False, [("M1", "open", date(2026, 12, 15), "剩余3户未签约"),
                                                    ("M2", "done", None, None)])]
    assert matters["M2"][0] == "completion_claimed" and matters["M2"][2] == "立项批复已取得"
    assert matters["M1"] == ("open", date(2026, 12, 15), "征迁完成80%")
    assert matters["M3"][2] is None and matters["M4"][0] == "closed"  # other unit / closed untouched
    with runtime.db.session() as s:
        actions = sorted((a.entity, a.action) for a in s.scalars(select(AuditLog)))
    assert actions == [("matter", "completion_claimed"), ("matter", "report"), ("matter", "report"),
                       ("report_submission", "create")]
    with runtime.db.session() as s:  # the 已完成 claim is put to the row's office liaison for 销号
        keys = [n.key for n in s.scalars(select(Notice).where(Notice.key.like("closeout:%")))]
        m2 = s.scalar(select(Matter).where(Matter.code == "M2"))
    assert keys and all(k.startswith(f"closeout:{m2.id}:claim") for k in keys)


def test_second_report_replaces_the_first_which_is_kept(runtime, org):
    runtime.clock.set(at(2026, 11, 23))
    talk(Direct(runtime, "ua"), FIRST)
    runtime.clock.set(at(2026, 12, 1))
    talk(Direct(runtime, "ua"), [
        ("填报", ("本期已于 2026年11月23日 10:00 报送过", "共有 2 项", "当前已填：已完成")),  # M2 comes back
        ("2", ("目前进展", "当前已填：立项批复已取得")),  # M2 after all not done
        ("还差公示", "计划"),
        ("12月10日", "难点"),
        ("无", ("第 2/2 项", "当前已填：未完成")),
        ("1", ("完成情况", "当前已填：征迁完成80%")),
        ("征迁全部完成", "请核对"),
        ("修改 2", ("修改第 2 项（M1）", "1. 是否完成：已完成", "2. 进展情况：征迁全部完成")),
        ("1", ("M1", "这项工作完成了吗", "当前已填：已完成")),
        ("不变", "请核对"),
        ("修改 2 进展", ("完成情况", "当前已填：征迁全部完成")),
        ("征迁全部完成并交地", ("请核对", "征迁全部完成并交地")),
        ("确认", ("第 2 版", "替换了 2026年11月23日 10:00 的报送")),
    ])
    subs, matters = rows(runtime)
    assert [(s[1], s[2]) for s in subs] == [(1, False), (2, True)]
    assert subs[1][4] == [("M1", "done", None, None), ("M2", "open", date(2026, 12, 10), None)]
    assert matters["M2"][0] == "open" and matters["M1"][0] == "completion_claimed"


def test_report_after_18_on_the_5th_is_late(runtime, org):
    runtime.clock.set(at(2026, 12, 5, 18, 1))
    talk(Direct(runtime, "ua"), [
        ("填报", ("2026年12月5日期", "已过截止时间")),
        ("1", None), ("好了", None), ("1", None), ("好了", "请核对"),
        ("确认", "记为迟报"),
    ])
    subs, _m = rows(runtime)
    assert [(s[0], s[3]) for s in subs] == [("2026-12-05", True)]


def test_report_before_18_is_on_time_and_open_items_need_a_future_plan(runtime, org):
    runtime.clock.set(at(2026, 12, 5, 17, 59))
    talk(Direct(runtime, "ua"), [
        ("填报", "2026年12月5日期"),
        ("未完成", "目前进展"),
        ("推进中", "计划"),
        ("昨天", "已经过去了"),
        ("2026-12-04", "已经过去了"),
        ("后天", "难点"),
        ("无", "M1"),
        ("帮助", ("填写说明", "这项工作完成了吗")),
        ("3", ("请回复选项的序号", "已完成")),
        ("已完成", None), ("办结", "请核对"),
        ("确认", ("第 1 版", "!迟报")),
    ])
    subs, matters = rows(runtime)
    assert subs[0][3] is False and matters["M2"][1] == date(2026, 12, 7)


def test_report_permissions_and_nothing_to_report(runtime, org):
    for user in ("chenjianfeng", "linyongyong", "wujinming"):
        talk(Direct(runtime, user), [("填报", ("单位联络员", "!第 1/"))])
    talk(Direct(runtime, "ub"), [("填报", "没有需要报送")])  # 教育局 has no matters
    assert rows(runtime)[0] == []
