"""进度 / 逾期 / 未报 / 查 / 历史 / 下一页: four roles ask on the same data and see exactly their scope."""
from __future__ import annotations

from datetime import date

import pytest

from bot.actions.base import Acting
from bot.actions.closeout import do_claim_completion
from bot.actions.escalation import do_raise_escalation
from bot.delivery.textsplit import utf8_len
from bot.infra import audit
from tests import factories as f
from tests.factories import at
from tests.support import make_app

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

NOW = at(2026, 12, 10, 10)


def build(runtime):
    """Row 1 (leader 陈剑锋): M1 发改局 overdue, M2 科技局 due soon, M5 发改局 closed.
    Row 2 (leader 郭雅婷): M3 教育局 on track, M4 教育局 overdue and escalated."""
    with runtime.db.session() as s:
        o = f.small_org(s)
        mi = f.minutes(s, o.leader1, o.fagai, row=o.row1, number="泉港调度纪要〔2026〕7号", title="经济运行调度会")
        m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 1), title="石化园区道路征迁", minutes_obj=mi,
                      last_progress_at=at(2026, 12, 4), last_progress="已完成80%")
        m2 = f.matter(s, "M2", o.keji, o.leader1, date(2026, 12, 12), title="科创小镇招商",
                      last_progress_at=at(2026, 12, 4), last_progress="洽谈中")
        m3 = f.matter(s, "M3", o.jiaoyu, o.leader2, date(2026, 12, 31), title="锦川实验小学开工",
                      last_progress_at=at(2026, 12, 6), last_progress="招标完成")
        m4 = f.matter(s, "M4", o.jiaoyu, o.leader2, date(2026, 11, 30), title="校舍维修资金")
        f.matter(s, "M5", o.fagai, o.leader1, date(2026, 11, 20), title="粮食生产台账", state="closed")
        do_raise_escalation(Acting(s, o.ub, at(2026, 12, 2)), m4, 1, "涉及财政、住建多部门")
        f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 4), [(m1, "open", "已完成80%")])
        f.report(s, o.jiaoyu, o.ub, "2026-12-05", at(2026, 12, 6), [(m3, "open", "招标完成")], is_late=True)
        do_claim_completion(Acting(s, o.uk, at(2026, 12, 8)), m2)
        # the report flow audits items under their code: the history shows those rows too
        audit.record(s, actor=o.ua, action="report", entity="matter", entity_id=m1.id, at=at(2026, 12, 4))
    runtime.clock.set(NOW)


@pytest.fixture
def rt(runtime):
    build(runtime)
    return runtime


def say(rt, user, text):
    return rt.handle_text("wecom", user, text).text


LEADER, MEMBER, OFFICE, UNIT = "chenjianfeng", "wujinming", "subingjiao", "ub"
ROW1 = ["M1 ", "M2 "]
ROW2 = ["M3 ", "M4 "]

CASES = [
    # (person, command, must see, must not see)
    (LEADER, "进度", ROW1 + ["在办 2 项", "🔴逾期 1", "已销号 1 项"], ROW2 + ["区教育局"]),
    (MEMBER, "进度", ["M1 ", "M2 ", "M4 ", "在办 4 项", "🔴逾期 2", "🟢正常 1", "区教育局 2项 🔴1"], []),
    (OFFICE, "进度", ["M4 ", "在办 2 项", "提级督办 1"], ROW1),
    (UNIT, "进度", ["M4 ", "本单位事项", "在办 2 项"], ROW1 + ["区发改局", "区科技局"]),
    (LEADER, "逾期", ["M1 ", "逾期9天"], ["M4 ", "M2 ", "M5 "]),
    (MEMBER, "逾期", ["M1 ", "M4 ", "逾期事项 2 项"], ["M2 ", "M3 ", "M5 "]),
    (OFFICE, "逾期", ["M4 ", "逾期10天"], ["M1 "]),
    (UNIT, "逾期", ["M4 "], ["M1 "]),
    (LEADER, "未报 上期", ["区科技局", "逾期未报"], ["区教育局"]),
    # one list per (unit, minutes): 发改局 owes two (M1's minutes and M5's), its one report (before 0014:
    # of every source) counts for both
    (MEMBER, "未报 上期", ["应报问题清单 4 份", "已报 3 份", "区科技局：《", "逾期报送：区教育局"], []),
    (OFFICE, "未报 上期", ["应报问题清单 1 份", "已报 1 份", "逾期报送：区教育局"], ["区科技局", "区发改局"]),
    (UNIT, "未报 上期", ["区教育局"], ["区科技局", "区发改局"]),
    (LEADER, "查 区发改局", ["M1 ", "已完成80%"], ["M3 "]),
    (LEADER, "查 区教育局", ["没有找到"], ROW2),
    (MEMBER, "查 郭雅婷", ROW2, ROW1),
    (MEMBER, "查 〔2026〕7号", ["M1 "], ["M2 ", "M3 "]),
    (OFFICE, "查 征迁", ["没有找到"], ["M1 "]),
    (MEMBER, "查 征迁", ["M1 ", "石化园区道路征迁"], ["M2 "]),
    (UNIT, "查 M1", ["没有找到编号为“M1”"], ["征迁"]),
    (UNIT, "查 m4", ["M4 校舍维修资金", "区教育局", "已逾期10天", "提请督导考核组分解督办"], []),
    (UNIT, "查 区发改局", ["没有找到"], ["M1 ", "M5 "]),
    (UNIT, "历史 M1", ["没有找到"], ["征迁"]),
    (LEADER, "历史 M2", ["办理轨迹", "科技联络员 报告已完成"], []),
    (LEADER, "历史 M1", ["2026年12月4日 09:00 发改联络员 报送进展"], []),
    (MEMBER, "历史 M4", ["教育联络员 提级", "涉及财政、住建多部门"], []),
]


@pytest.mark.parametrize("who, command, must, must_not", CASES)
def test_roles_see_their_scope(rt, who, command, must, must_not):
    text = say(rt, who, command)
    for s in must:
        assert s in text, (s, text)
    for s in must_not:
        assert s not in text, (s, text)


def test_someone_without_a_role_sees_nothing(rt):
    with rt.db.session() as s:
        f.person(s, "路人", "nobody")
    assert "暂无可查看" in say(rt, "nobody", "进度")
    assert "没有找到" in say(rt, "nobody", "查 M1")


def test_usage_replies(rt):
    assert "查 区发改局" in say(rt, MEMBER, "查")
    assert "历史 M12" in say(rt, MEMBER, "历史")
    assert "没有更多内容" in say(rt, MEMBER, "下一页")


def many_items(runtime, n=70):
    with runtime.db.session() as s:
        o = f.small_org(s)
        for i in range(n):
            f.matter(s, f"J{i:03d}", o.fagai, o.leader1, date(2026, 12, 1),
                     title=f"第{i}项：泉港石化工业园区配套道路及管网建设征迁扫尾工作")
    runtime.clock.set(NOW)


@pytest.mark.parametrize("command", ["逾期", "查 区发改局"])
def test_long_answers_are_paged_within_2048_bytes(runtime, command):
    many_items(runtime)
    pages = [say(runtime, MEMBER, command)]
    while "下一页" in pages[-1]:
        pages.append(say(runtime, MEMBER, "下一页"))
        assert len(pages) < 40
    assert len(pages) > 1
    assert all(utf8_len(p) <= 2048 for p in pages)
    text = "".join(pages)
    for i in range(70):
        assert f"J{i:03d}" in text
    assert f"第{len(pages)}/{len(pages)}页" in pages[-1]
    assert "没有更多内容" in say(runtime, MEMBER, "下一页")


def test_progress_lists_the_first_15_items_needing_attention(runtime):
    many_items(runtime)
    pages = [say(runtime, MEMBER, "进度")]
    while "下一页" in pages[-1]:
        pages.append(say(runtime, MEMBER, "下一页"))
    text = "".join(pages)
    assert "共70项，列出前15项" in text and "J014" in text and "J015" not in text
    assert all(utf8_len(p) <= 2048 for p in pages)


def test_pages_are_kept_in_redis(pg_url, redis_url, tmp_path):
    app = make_app(pg_url, tmp_path, REDIS_URL=redis_url)
    runtime = app.extensions["bot"]
    try:
        many_items(runtime)
        first = say(runtime, MEMBER, "逾期")
        second = say(runtime, MEMBER, "下一页")
        assert "第1/" in first and "第2/" in second and first != second
        import redis

        assert any(k.startswith("ddb:pages:") for k in redis.Redis.from_url(redis_url, decode_responses=True).keys())
    finally:
        runtime.db.dispose()
