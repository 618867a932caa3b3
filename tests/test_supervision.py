"""The supervision group's end of the loop, played through the real signed WeCom callback: a 久拖不办 item
→ an interview scheduled and recorded → a promised date missed → a 效能问责 case with evidence and a
deduction, shown in 考评 2026; a spot check with a rectification closed; a briefing drafted, edited and
published once."""
from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.actions.escalation import auto_escalate
from bot.domain import supervision as rules
from models import (
    AccountabilityCase,
    AuditLog,
    Briefing,
    Escalation,
    Highlight,
    Interview,
    Notice,
    SpotCheck,
    SupervisionTask,
)
from tests import factories as f
from tests.dialog import Callback, talk
from tests.factories import at
from tests.support import AES, AGENT, CORP, TOKEN, make_app, wecom_config
from tests.wecom_peer import WeComPeer


@pytest.fixture
def world(db_url, tmp_path):
    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        o = f.small_org(s)
        o.keji.head_id = f.person(s, "科技局长", "kjhead", o.keji).id
        m1 = f.matter(s, "M1", o.keji, o.leader1, date(2026, 10, 31), title="清源实验室装修",
                      last_progress_at=at(2026, 12, 4), last_progress="等待验收")
        m2 = f.matter(s, "M2", o.fagai, o.leader1, date(2027, 3, 1), title="园区标准化建设",
                      last_progress_at=at(2026, 12, 4))
        for key, when in (("2026-11-20", at(2026, 11, 19)), ("2026-12-05", at(2026, 12, 4)),
                          ("2026-12-20", at(2026, 12, 19))):  # both units report on time
            f.report(s, o.keji, o.uk, key, when, [(m1, "open", "推进中")])
            f.report(s, o.fagai, o.ua, key, when, [(m2, "open", "推进中")])
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    yield app, rt, peer
    rt.db.dispose()


def notices(rt, like):
    with rt.db.session() as s:
        return [(n.target, n.payload.get("content", "")) for n in
                s.scalars(select(Notice).where(Notice.key.like(like)).order_by(Notice.id))]


def test_interview_promise_missed_leads_to_a_case_counted_in_the_assessment(world):
    app, rt, peer = world
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 8, 40))
    with rt.db.session() as s:
        auto_escalate(s, rt, at(2026, 12, 10, 8, 40))  # M1: 40 days overdue → 久拖不办
    assert notices(rt, "escalation:3:batch:%")
    # a unit liaison may not schedule anything
    talk(Callback(app, peer, "uk"), [("约谈 M1 12月15日 10:00 三楼会议室", "没有这一权限")])
    talk(sup, [
        ("约谈 M1 12月15日 10:00 区政府三楼会议室 吴金明", ("YT", "区科技局", "2026年12月15日")),
        ("约谈承诺 YT1 12月20日 完成验收", "先用“约谈记录”"),
        ("约谈记录 YT1 局长说明装修进度滞后原因，承诺12月20日前完成验收", "已记录约谈"),
        ("约谈承诺 YT1 12月20日 完成实验室装修验收", ("ZG1", "2026年12月20日")),
    ])
    with rt.db.session() as s:
        iv = s.scalar(select(Interview))
        esc = s.scalar(select(Escalation).where(Escalation.level == 3))
        assert (iv.state, iv.matter.code, iv.escalation_id) == ("held", "M1", esc.id)
        task = s.scalar(select(SupervisionTask))
        assert (task.kind, task.interview_id, task.deadline) == ("promise", iv.id, date(2026, 12, 20))
    told = notices(rt, f"interview:{iv.id}:scheduled%")
    assert sorted(t for t, _ in told) == ["kjhead", "uk"] and "督查约谈" in told[0][1]
    assert {t for t, _ in notices(rt, f"supervision-task:{task.id}:new%")} == {"kjhead", "uk"}

    # not yet a candidate: the promise is not due
    talk(sup, [("效能问责 科技局 久拖不办", "不符合启动效能问责的条件")])
    rt.clock.set(at(2026, 12, 28, 10))  # the promised date passed, nothing done
    talk(sup, [
        ("问责候选", ("区科技局", "ZG1", "整改/承诺逾期1项")),
        ("效能问责 科技局 约谈承诺未兑现", ("WZ1", "ZG1 完成实验室装修验收")),
        ("问责决定 WZ1 2 予以通报批评", ("扣2.0分", "2026年度")),
        ("问责决定 WZ1 1 再决定一次", "已作出决定"),
    ])
    with rt.db.session() as s:
        case = s.scalar(select(AccountabilityCase))
        assert (case.state, case.deduction, case.year) == ("decided", 2.0, 2026)
        assert [t["code"] for t in case.evidence["overdue_tasks"]] == ["ZG1"]
        assert {a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "accountability_case"))} == {
            "opened", "decided"}
    assert {t for t, _ in notices(rt, f"accountability:{case.id}:decided%")} == {"kjhead", "uk"}

    talk(sup, [("转报纪委 WZ1 约谈记录、承诺书及逾期情况说明", "转报区纪委监委"),
               ("问责 WZ1", "已转报区纪委监委")])
    talk(Callback(app, peer, "uk"), [("问责 WZ1", ("予以通报批评", "!纪委")),
                                     ("转报纪委 WZ1 x", "没有这一权限")])
    talk(Callback(app, peer, "ua"), [("问责 WZ1", "没有找到 WZ1")])

    reply = talk(sup, [("考评 2026", ("区科技局", "效能问责扣2.0分"))])
    assert reply.index("区科技局") < reply.index("区发改局") if "区发改局" in reply else True
    talk(Callback(app, peer, "uk"), [("考评 2026", ("区科技局", "!区发改局"))])
    talk(sup, [("考评 2026 导出", "统计表已生成")])
    with rt.db.session() as s:
        sent = s.scalar(select(Notice).where(Notice.msgtype == "file"))
    ws = load_workbook(sent.payload["path"]).active
    cells = [[c.value for c in r] for r in ws.iter_rows()]
    row = next(r for r in cells if "区科技局" in r)
    assert 2 in row or 2.0 in row
    assert any(r[0] and "效能问责扣分" in str(r[0]) for r in cells)


def test_spot_check_rectification_closed_and_briefing_published_once(world):
    app, rt, peer = world
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 10))
    talk(sup, [
        ("现场抽查 12月12日 区发改局、M2 吴金明、林勇勇", ("CC1", "区发改局", "M2 园区标准化建设")),
        ("抽查结果 CC1 台账资料不全", "已记录"),
        ("整改要求 CC1 发改局 12月31日 补齐项目台账资料", ("ZG1", "区发改局")),
    ])
    liaison = Callback(app, peer, "ua")
    talk(liaison, [("整改", "ZG1"), ("整改完成 ZG1 已补齐", "待督导考核组核实")])
    assert [t for t, _ in notices(rt, "supervision-task:1:claimed%")] == ["supervision"]
    talk(Callback(app, peer, "uk"), [("整改完成 ZG1 x", "没有找到 ZG1")])
    talk(sup, [("整改销号 ZG1", "已销号"), ("整改销号 ZG1", "已销号")])
    with rt.db.session() as s:
        task = s.scalar(select(SupervisionTask))
        assert (task.state, task.kind, task.spot_check_id) == ("closed", "rectification", 1)
        assert s.scalar(select(SpotCheck)).findings == "台账资料不全"
    assert [t for t, _ in notices(rt, "supervision-task:1:closed%")] == ["ua"]

    talk(sup, [
        ("亮点 发改局 “一项目一专班”推进机制", "标记为亮点"),
        ("简报 起草", ("XB1", "信息简报", "“一项目一专班”", "区科技局")),
        ("简报 修改 XB1 ## 信息简报\n本期各单位推进有力。", "本期各单位推进有力"),
        ("简报 发布 XB1 火星群", "请写明发布到哪个群"),
        ("简报 发布 XB1 调度联络员群", "已发布到调度联络员群"),
        ("简报 发布 XB1 调度联络员群", "不能再修改或重复发布"),
        ("简报 修改 XB1 改一下", "不能再修改"),
    ])
    published = notices(rt, "briefing:%")
    assert published == [("liaisons", "## 信息简报\n本期各单位推进有力。")]
    with rt.db.session() as s:
        b = s.scalar(select(Briefing))
        assert (b.state, b.group_code) == ("published", "liaisons")
        assert s.scalar(select(Highlight)).briefing_id == b.id
    talk(sup, [("简报 起草", "!一项目一专班")])  # carried once: the next briefing does not repeat it
    talk(liaison, [("简报 起草", "没有这一权限")])


def test_assessment_rules_are_validated_and_scored():
    r = rules.AssessmentRules(base=100, weights={"reports_late": 0.5, "items_overdue": 1})
    assert r.score({"reports_late": 2, "items_overdue": 3}, 1.5) == 94.5
    assert r.score({"items_overdue": 500}, 0) == 0.0
    with pytest.raises(ValueError):
        rules.AssessmentRules(weights={"nonsense": 1})
    with pytest.raises(ValueError):
        rules.AssessmentRules(weights={"reports_late": -1})
    loaded = rules.rules("config/supervision.yaml")
    assert loaded.candidates.min_overdue_tasks == 1 and loaded.assessment.weights["reports_missing"] == 1
    assert rules.on_time(date(2026, 1, 5), date(2026, 1, 5)) and not rules.on_time(date(2026, 1, 5), date(2026, 1, 6))
    assert not rules.on_time(date(2026, 1, 5), None)


def test_monthly_report_counts_spot_checks_cases_and_highlights(db_session):
    from bot.actions import supervision as act
    from bot.actions.base import Acting
    from bot.documents.report import analyse
    from bot.documents.texts import lines

    s = db_session
    o = f.small_org(s)
    a = Acting(s, o.member, at(2026, 12, 3))
    check = act.do_plan_spot_check(a, date(2026, 12, 8), "吴金明", [o.keji])
    act.do_ask_rectification(a, check, o.keji, date(2026, 12, 20), "补齐台账")
    act.do_mark_highlight(a, o.fagai, "“一项目一专班”机制")
    s.flush()
    got = analyse(s, type("R", (), {"units": []})(), 2026, 12)
    assert (got.spot_checks, got.rectifications, got.rectifications_open) == (1, 1, 1)
    assert got.highlights == [{"unit": "区发改局", "text": "“一项目一专班”机制"}]
    text = "\n".join(lines("report", "s5", a=got))
    assert "现场抽查1次，提出整改要求1项，尚未整改到位1项" in text and "区发改局“一项目一专班”机制" in text
    assert analyse(s, type("R", (), {"units": []})(), 2026, 11).spot_checks == 0
