"""A simulated December 2026 on the seed org chart, driven through `python -m bot jobs run NAME --now ISO`.

Dec 5 2026 is a Saturday and Dec 20 a Sunday, so the reminder days move: Dec 3 + Dec 4 (instead of
Dec 3 + Dec 5) and one reminder on Dec 18 (Dec 18 and Dec 20 both land on Friday the 18th).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.periods import period_by_key
from models import MissedDeadline, RollUp
from tests.dialog import Direct, talk
from tests.factories import mention_fields
from tests.jobs_helpers import at, build_december, notices, report, run_cli, targets

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

P1 = period_by_key("2026-12-05")
P2 = period_by_key("2026-12-20")


def liaison_ids(d, *names):
    return sorted(d.liaison[n].wecom_userid for n in names)


def test_december(seeded, runner):
    rt = seeded
    with rt.db.session() as s:
        d = build_december(s)

    # -- Dec 1: the monthly report for November, and the matter deadlines --------------------------
    out = run_cli(runner, "monthly_report", at(2026, 12, 1, 8))
    # summary, chart, report .docx, workbook
    assert "month=2026-11" in out and len(notices(rt, "monthly_report:2026-11:")) == 4
    run_cli(runner, "matter_deadlines", at(2026, 12, 1, 8, 30))
    digest, = notices(rt, "matter_due:")  # one digest per unit liaison and day
    assert digest.key == f"matter_due:u{d.fagai.id}:2026-12-01" and digest.target == d.liaison["区发改局"].wecom_userid
    assert "已逾期 1 项" in digest.payload["content"] and "M2" in digest.payload["content"]
    assert "逾期 31 天" in digest.payload["content"] and "即将到期" not in digest.payload["content"]
    assert notices(rt, "matter_overdue_office:") == []  # M2 was overdue already on the previous working day
    assert notices(rt, "escalation:") == []  # 久拖不办 is the escalation job's alert, not this one's

    # -- report reminders: Dec 3 (2 days before) and Dec 4 (the Saturday deadline moved to Friday) ---
    out = run_cli(runner, "report_reminder", at(2026, 12, 2))
    assert "no reminder due" in out and notices(rt, "report_reminder:") == []
    run_cli(runner, "report_reminder", at(2026, 12, 3))
    dm = [n for n in notices(rt, "report_reminder:u") if ":2026-12-03" in n.key]
    # 区科技局's only item was closed before the period opened: it owes nothing
    assert targets(dm) == liaison_ids(d, "区发改局", "区教育局", "区住建局", "区农水局")
    group = notices(rt, "report_reminder:group:")
    assert len(group) == 1 and group[0].target == "liaisons" and group[0].msgtype == "text"
    assert sorted(mention_fields(rt, group[0].payload)["mentioned_mobile_list"]) == ["13900000001", "13900000002",
                                                                                     "13900000003", "13900000005"]
    with rt.db.session() as s:
        report(s, d.fagai, P1.key, at(2026, 12, 3, 15), P1.deadline)
    run_cli(runner, "report_reminder", at(2026, 12, 4))
    dm = [n for n in notices(rt, "report_reminder:u") if ":2026-12-04" in n.key]
    assert targets(dm) == liaison_ids(d, "区教育局", "区住建局", "区农水局")
    group = notices(rt, "report_reminder:group:liaisons:2026-12-05:2026-12-04")
    assert sorted(mention_fields(rt, group[0].payload)["mentioned_mobile_list"]) == ["13900000002", "13900000003",
                                                                                     "13900000005"]
    assert "区发改局" not in group[0].payload["content"] and "区住建局" in group[0].payload["content"]
    with rt.db.session() as s:
        report(s, d.nongshui, P1.key, at(2026, 12, 4, 11), P1.deadline)
    before = len(notices(rt))
    run_cli(runner, "report_reminder", at(2026, 12, 5))  # Saturday: nothing new is due
    assert len(notices(rt)) == before

    # -- Dec 5 18:00: overdue list to both groups ---------------------------------------------------
    run_cli(runner, "report_overdue", at(2026, 12, 5, 18, 1))  # Saturday: no list on a non-working day
    assert notices(rt, "report_overdue:") == []
    run_cli(runner, "report_overdue", at(2026, 12, 7, 18, 1))  # the kept deadline's list: next working day
    liaisons_msg, = notices(rt, "report_overdue:group:liaisons:")
    sup_msg, = notices(rt, "report_overdue:group:supervision:")
    for msg in (liaisons_msg, sup_msg):
        text = msg.payload["content"]
        assert "区教育局" in text and "区住建局" in text and "区发改局" not in text and "区农水局" not in text
        assert "累计超期1次" in text
    assert sorted(mention_fields(rt, liaisons_msg.payload)["mentioned_mobile_list"]) == ["13900000002", "13900000003"]
    with rt.db.session() as s:
        missed = sorted(m.unit_id for m in s.scalars(select(MissedDeadline)))
    assert missed == sorted([d.jiaoyu.id, d.zhujian.id])
    with rt.db.session() as s:  # 教育局 reports late, the day after
        report(s, d.jiaoyu, P1.key, at(2026, 12, 6, 10), P1.deadline)

    # -- Dec 6: roll-ups to the office liaisons of the rows that have items -------------------------
    run_cli(runner, "rollup_compile", at(2026, 12, 6))
    assert targets(notices(rt, "rollup:r")) == ["jiayihai", "linyongyong", "subingjiao", "tangshaoqing"]
    chen_rollup = next(n for n in notices(rt, "rollup:r") if n.target == "linyongyong").payload["content"]
    assert "陈剑锋" in chen_rollup and "区发改局" in chen_rollup and "已报 1 个" in chen_rollup
    guo_rollup = next(n for n in notices(rt, "rollup:r") if n.target == "subingjiao").payload["content"]
    assert "建设资金缺口约800万元" in guo_rollup  # the slip row's 难点痛点堵点
    rt.clock.set(at(2026, 12, 6, 15))
    talk(Direct(rt, "linyongyong"), [("提交", ("已提交", "报送督导考核组", "!迟报"))])
    rt.clock.set(at(2026, 12, 7, 17))
    talk(Direct(rt, "subingjiao"), [
        ("汇总", ("郭雅婷", "区教育局", "提交 6")),
        ("修改汇总 校舍改造资金未落实", ("已更新", "校舍改造资金未落实")),
        ("提交", "已提交"),
    ])
    rt.clock.set(None)
    submitted = notices(rt, "rollup_submitted:")
    assert [n.target for n in submitted] == ["supervision", "supervision"]
    assert "校舍改造资金未落实" in submitted[1].payload["content"]

    # -- Dec 7: roll-up reminder in the morning, late list at 18:00 --------------------------------
    run_cli(runner, "rollup_reminder", at(2026, 12, 7, 9, 30))
    assert targets(notices(rt, "rollup_reminder:")) == ["jiayihai", "tangshaoqing"]
    run_cli(runner, "rollup_overdue", at(2026, 12, 7, 18, 1))
    late, = notices(rt, "rollup_overdue:")
    assert "贾义海" in late.payload["content"] and "唐少清" in late.payload["content"]
    assert "林勇勇" not in late.payload["content"] and "苏冰娇" not in late.payload["content"]
    with rt.db.session() as s:
        flags = {r.dispatch_row_id: r.is_late for r in s.scalars(select(RollUp))}
    assert flags == {d.rows[2].id: False, d.rows[3].id: True, d.rows[5].id: True, d.rows[6].id: False}

    # -- matter deadlines through the month ----------------------------------------------------------
    def digests(day):
        return {n.target: n.payload["content"] for n in notices(rt, "matter_due:") if n.key.endswith(day)}

    run_cli(runner, "matter_deadlines", at(2026, 12, 7, 8, 30))
    dec7 = digests("2026-12-07")
    assert list(dec7) == [d.liaison["区发改局"].wecom_userid]  # M1 due Thursday, M2 still overdue
    assert ("即将到期 1 项" in dec7[d.liaison["区发改局"].wecom_userid]
            and "还有 3 天" in dec7[d.liaison["区发改局"].wecom_userid])
    run_cli(runner, "matter_deadlines", at(2026, 12, 11, 8, 30))
    dec11 = digests("2026-12-11")[d.liaison["区发改局"].wecom_userid]
    assert "已逾期 2 项" in dec11 and dec11.index("M2") < dec11.index("M1")  # the longest overdue first
    office, = notices(rt, "matter_overdue_office:")
    assert office.target == "linyongyong" and office.key.endswith(":2026-12-11")
    assert "新增逾期 1 项" in office.payload["content"] and "M1" in office.payload["content"]
    assert "M2" not in office.payload["content"] and "目前共 2 项逾期" in office.payload["content"]
    run_cli(runner, "matter_deadlines", at(2026, 12, 12, 8, 30))  # Saturday: nothing
    assert digests("2026-12-12") == {}
    run_cli(runner, "matter_deadlines", at(2026, 12, 16, 8, 30))
    assert d.liaison["区住建局"].wecom_userid not in digests("2026-12-16")
    run_cli(runner, "matter_deadlines", at(2026, 12, 17, 8, 30))  # M4 (Dec 20, a Sunday): from Thursday the 17th
    assert "M4" in digests("2026-12-17")[d.liaison["区住建局"].wecom_userid]
    before = len(notices(rt))
    run_cli(runner, "matter_deadlines", at(2026, 12, 17, 15))  # a rerun the same day adds nothing
    assert len(notices(rt)) == before

    # -- minutes: 郭雅婷's meeting of Dec 9 still not drafted on Dec 12 ------------------------------
    run_cli(runner, "minutes_draft", at(2026, 12, 11))
    assert notices(rt, "minutes_draft:") == []
    run_cli(runner, "minutes_draft", at(2026, 12, 12))
    assert targets(notices(rt, "minutes_draft:")) == [d.liaison["区教育局"].wecom_userid]

    # -- second period: Dec 18 (Fri) is the only reminder day ----------------------------------------
    with rt.db.session() as s:
        report(s, d.fagai, P2.key, at(2026, 12, 15, 10), P2.deadline)
    run_cli(runner, "report_reminder", at(2026, 12, 17))
    assert not [n for n in notices(rt, "report_reminder:") if "2026-12-20" in n.key]
    run_cli(runner, "report_reminder", at(2026, 12, 18))
    second = [n for n in notices(rt, "report_reminder:u") if ":2026-12-20:" in n.key]
    assert targets(second) == liaison_ids(d, "区教育局", "区住建局", "区农水局")
    assert all(n.key.endswith(":2026-12-18") for n in second)
    run_cli(runner, "report_reminder", at(2026, 12, 20))  # Sunday: the merged reminder is not repeated
    assert len([n for n in notices(rt, "report_reminder:u") if ":2026-12-20:" in n.key]) == 3
    with rt.db.session() as s:
        report(s, d.jiaoyu, P2.key, at(2026, 12, 20, 17), P2.deadline)
        report(s, d.nongshui, P2.key, at(2026, 12, 19, 9), P2.deadline)
    run_cli(runner, "report_overdue", at(2026, 12, 21, 18, 1))  # Sunday's deadline: listed on Monday
    second_overdue = notices(rt, "report_overdue:group:liaisons:2026-12-20")[0]
    assert mention_fields(rt, second_overdue.payload)["mentioned_mobile_list"] == ["13900000003"]  # only 住建局
    assert "区住建局" in second_overdue.payload["content"] and "累计超期2次" in second_overdue.payload["content"]

    # -- Dec 25: leaders without a December meeting → their office liaisons ----------------------------
    run_cli(runner, "leader_meeting", at(2026, 12, 24))
    assert notices(rt, "leader_meeting:") == []
    run_cli(runner, "leader_meeting", at(2026, 12, 25))
    lm = notices(rt, "leader_meeting:")
    # 郭雅婷 met on Dec 9; everyone else did not (陈剑锋's meeting was in November)
    assert targets(lm) == sorted(["hecanghai", "panxiaoqing", "linyongyong", "jiayihai", "panxiaoqing",
                                  "tangshaoqing", "liuzeyang", "liujianwei"])
    assert not any("郭雅婷" in n.payload["content"] for n in lm)

    # -- Jan 1: the monthly report for December --------------------------------------------------------
    out = run_cli(runner, "monthly_report", at(2027, 1, 1, 8))
    assert "month=2026-12" in out
    kinds = sorted(n.msgtype for n in notices(rt, "monthly_report:2026-12"))
    assert kinds == ["file", "file", "image", "markdown"]  # the report .docx and the workbook
    summary = notices(rt, "monthly_report:2026-12:summary")[0].payload["content"]
    assert "2026年12月调度分析报告" in summary and "区住建局（2次）" in summary

    # -- every job again at every moment: nothing more is sent ------------------------------------------
    total = len(notices(rt))
    for moment in (at(2026, 12, 1, 8, 30), at(2026, 12, 4), at(2026, 12, 5, 18, 1), at(2026, 12, 6),
                   at(2026, 12, 7, 18, 1), at(2026, 12, 18), at(2026, 12, 25)):
        for name in ("report_reminder", "report_overdue", "rollup_compile", "rollup_reminder", "rollup_overdue",
                     "minutes_draft", "leader_meeting", "monthly_report"):
            run_cli(runner, name, moment)
    run_cli(runner, "monthly_report", at(2027, 1, 3, 8))
    assert len(notices(rt)) == total


def test_a_deadline_nobody_owed_says_nothing(seeded):
    """The seed org chart with an empty ledger: no unit owes a report, so no "0 个应报单位均已按时报送" notice."""
    from bot.jobs import config_of, run_job

    result = run_job(seeded, config_of(seeded).jobs["report_overdue"], at(2026, 12, 7, 18, 1))
    assert result.notices == 0 and result.skipped == "no unit owed a report for 2026-12-05"
    assert notices(seeded, "report_overdue") == []
