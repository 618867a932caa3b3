"""Inside a form (issue #15): 修改 N edits one field of an item, 不变 keeps a value, edits survive 返回, a revised
填报 starts from the last report's answers, a command typed inside a form is offered (是 / 否) and a paused
draft is never lost, 没有 / 无 mean none, the review page shows full texts paged to the channel's limit,
step numbers don't jump, 延期申请 refuses at once when a request is pending. Every dialog goes through the
real signed and encrypted WeCom callback."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.delivery.textsplit import utf8_len
from models import EXT_PENDING, ExtensionRequest, Matter, Minutes, ReportSubmission
from tests import factories as f
from tests.dialog import at, talk
from tests.support import wecom_runtime

OFFICE_LIAISON = "linyongyong"  # 林勇勇, office liaison of 附件2 row 2 (陈剑锋), on the shipped org chart
WECOM_TEXT_BYTES = 2048


@pytest.fixture
def shipped(db_url, tmp_path):
    """The shipped org chart (seed 000), on 2026-11-23."""
    from bot.actions.seed import load_seed
    from tests.support import SEED_FILE

    rt = wecom_runtime(db_url, tmp_path, lambda s: load_seed(s, SEED_FILE))
    rt.clock.set(at(2026, 11, 23))
    yield rt
    rt.db.dispose()


@pytest.fixture
def small(db_url, tmp_path):
    """small_org with two open matters of 区发改局 (liaison "ua")."""
    def load(s):
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="推进石化科创小镇征迁")
        f.matter(s, "M2", o.fagai, o.leader1, date(2026, 11, 28), title="完成项目立项审批")

    rt = wecom_runtime(db_url, tmp_path, load)
    rt.clock.set(at(2026, 11, 23))
    yield rt
    rt.db.dispose()


TO_MATTERS = [
    ("录入纪要", "区政府领导"),
    ("2", "纪要编号"),
    ("〔2026〕12号", "纪要名称"),
    ("关于重点项目建设的专题调度会议纪要", "会议日期"),
    ("11月20日", "起草单位"),
    ("发展和改革局", ("第 1 项", "调度事项的内容")),
]
MATTERS = [
    ("推进石化科创小镇征迁扫尾", "责任单位"),
    ("住建局", "完成时限"),
    ("12月31日", "牵头单位"),
    ("同上", ("第 2 项", "完成")),
    ("协调国道G228改线用地", "责任单位"),
    ("自然资源", "完成时限"),
    ("月底", "牵头单位"),
    ("无", "第 3 项"),
]
TO_SUMMARY = TO_MATTERS + MATTERS + [("完成", "请核对")]


def test_edit_one_field_of_a_matter_and_keep_values_with_bu_bian(shipped):
    me = shipped.say(OFFICE_LIAISON)
    talk(me, TO_SUMMARY + [
        ("修改 6", ("(1) 推进石化科创小镇征迁扫尾", "(2) 协调国道G228改线用地", "项号")),
        ("1", ("修改第 1 项", "1. 事项内容：推进石化科创小镇征迁扫尾", "2. 责任单位：区住建局",
               "3. 完成时限：2026年12月31日", "4. 牵头单位：区住建局")),
        ("3", ("完成时限", "当前已填：2026年12月31日", "不变")),
        ("12月30日", ("请核对", "完成时限：2026年12月30日", "协调国道G228改线用地")),  # only that field, then back
        ("修改 6 2 完成时限", ("完成时限", "当前已填：2026年11月30日")),  # 修改 N M 字段: straight there
        ("不变", ("请核对", "完成时限：2026年11月30日", "!不变")),
        ("修改 2", ("纪要编号", "当前已填：〔2026〕12号")),
        ("不变", ("请核对", "纪要编号：〔2026〕12号", "!不变")),
        ("修改 6.1", "修改第 1 项"),
        ("事项内容", ("调度事项的内容", "当前已填：推进石化科创小镇征迁扫尾")),  # a field by its name
        ("", ("请核对", "推进石化科创小镇征迁扫尾")),  # an empty answer keeps it too
        ("确认", ("✅", "M1", "M2")),
    ])
    with shipped.db.session() as s:
        got = [(m.title, m.deadline) for m in s.scalars(select(Matter).order_by(Matter.id))]
        number = s.scalar(select(Minutes.number))
    assert got == [("推进石化科创小镇征迁扫尾", date(2026, 12, 30)), ("协调国道G228改线用地", date(2026, 11, 30))]
    assert number == "〔2026〕12号"


def test_the_edit_survives_back(shipped):
    me = shipped.say(OFFICE_LIAISON)
    talk(me, TO_SUMMARY + [
        ("修改 6", "项号"),
        ("添加", ("第 3 项", "调度事项的内容")),
        ("落实安置房分配", "责任单位"),
        ("返回", ("调度事项的内容", "当前已填：落实安置房分配")),  # still the edit: back one question
        ("不变", "责任单位"),
        ("住建局", "完成时限"),
        ("12月20日", "牵头单位"),
        ("无", ("请核对", "调度事项（3 项）", "落实安置房分配")),  # back to the review page, not "第 4 项"
        ("修改 6 1 责任单位", ("责任单位", "当前已填：区住建局")),
        ("返回", ("请核对", "!第 1/")),  # 返回 at the edited field: the review page, not the start
        ("修改 6", "项号"),
        ("2", "修改第 2 项"),
        ("返回", ("项号", "(2) 协调国道G228改线用地")),  # the item list
        ("返回", "请核对"),
    ])


def headers(replies: list[str]) -> list[tuple[int, int]]:
    out = []
    for text in replies:
        m = re.search(r"第 (\d+)/(\d+) 步", text)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def test_step_numbers_do_not_jump(shipped):
    me = shipped.say(OFFICE_LIAISON)
    replies = [me.say(says) for says, _expect in TO_MATTERS + MATTERS]
    steps = headers(replies)
    assert len(steps) == len(replies) and {n for _k, n in steps} == {6}, steps  # a group is one step
    assert [k for k, _n in steps] == sorted(k for k, _n in steps) and steps[-1] == (6, 6)


def test_none_words_mean_none(shipped):
    me = shipped.say(OFFICE_LIAISON)
    talk(me, TO_MATTERS + MATTERS[:3] + [
        ("无问题", ("第 2 项", "完成")),  # 牵头单位: none
        ("没有", ("请核对", "调度事项（1 项）", "牵头单位：无")),  # at a new item: the list is complete
    ])


def test_a_command_inside_a_form_is_offered_and_the_draft_kept(shipped):
    me = shipped.say(OFFICE_LIAISON)
    talk(me, TO_MATTERS[:3] + [
        ("提请督办 M9", ("您正在填写《录入纪要》（第3/6步）", "要先办理「提请督办 M9」吗", "回复「是」办理",
                      "回复「否」把它作为本步的回答")),
        ("否", "会议日期"),  # taken as the answer after all
        ("返回", "当前已填：提请督办 M9"),
        ("查 M3", "要先办理「查 M3」吗"),
        ("是", ("!会议日期", "!要先办理")),  # 查 M3 answered
        ("继续", ("第 3/6 步", "纪要名称")),  # the draft is back where it was
        ("专题会", "会议日期"),
    ])


def test_a_paused_draft_is_not_lost_by_a_command(shipped):
    me = shipped.say(OFFICE_LIAISON)
    talk(me, TO_MATTERS[:4])
    shipped.clock.set(at(2026, 11, 23, 11, 0))  # a pause longer than CONVERSATION_IDLE_MINUTES
    talk(me, [
        ("我的事项", "!未完成的【录入纪要】"),  # the command is handled, not swallowed by the resume offer
        ("录入纪要", ("未完成的【录入纪要】", "继续", "重新开始")),  # offered back, not started from nothing
        ("继续", ("第 4/6 步", "会议日期")),
        ("11月20日", "起草单位"),
        ("登记调度会", "要先办理「登记调度会」吗"),
        ("是", ("未完成的【录入纪要】", "开始填写【")),  # the other form waits behind this draft
        ("继续", "起草单位"),
    ])
    talk(me, [("登记调度会", "要先办理"), ("是", "重新开始"), ("重新开始", ("第 1/5 步", "区政府领导"))])


def test_the_review_page_shows_full_texts_paged(shipped):
    me = shipped.say(OFFICE_LIAISON)
    titles = [f"{k}号事项：" + "推进征迁安置和项目用地报批，逐户攻坚" * 40 for k in range(1, 4)]
    rows = []
    for t in titles:
        rows += [(t, "责任单位"), ("住建局", "完成时限"), ("12月31日", "牵头单位"), ("无", "项")]
    talk(me, TO_MATTERS + rows)
    pages = [me.say("完成")]
    assert "第 1/" in pages[0] and "下一页" in pages[0]
    while "下一页" in pages[-1] and len(pages) < 20:
        pages.append(me.say("下一页"))
    assert "已是最后一页" in pages[-1] and len(pages) > 2
    assert all(utf8_len(p) <= WECOM_TEXT_BYTES for p in pages), [utf8_len(p) for p in pages]
    bodies = "".join(p.split("\n\n", 1)[1].split("\n\n（", 1)[0] for p in pages)  # without page header/footer
    assert all(t in bodies.replace("\n", "") for t in titles) and "…" not in bodies
    assert "已是最后一页" in me.say("下一页")  # past the end: still the last page
    assert f"第 {len(pages) - 1}/{len(pages)} 页" in me.say("上一页")
    talk(me, [("确认", ("✅", "M1", "M3"))])


FIRST = [
    ("填报", ("共有 2 项", "M2 完成项目立项审批")),
    ("已完成", "完成情况"),
    ("立项批复已取得", "M1 推进石化科创小镇征迁"),
    ("2", "目前进展"),
    ("征迁完成80%", "计划什么时候完成"),
    ("下月15日", "难点"),
    ("剩余3户未签约", "请核对"),
    ("确认", "第 1 版"),
]


def test_a_revised_report_starts_from_the_last_answers(small):
    ua = small.say("ua")
    talk(ua, FIRST)
    small.clock.set(at(2026, 12, 10))  # the next period (12月20日期): M1 is still open
    talk(ua, [
        ("填报", ("2026年12月20日期", "已按", "预填", "M1", "当前已填：未完成")),
        ("不变", "当前已填：征迁完成80%"),
        ("不变", "当前已填：2026年12月15日"),
        ("不变", "当前已填：剩余3户未签约"),
        ("无", ("请核对", "征迁完成80%", "计划 2026年12月15日 完成", "!不变", "!难点堵点")),
        ("确认", "第 1 版"),
    ])
    with small.db.session() as s:
        sub = s.scalar(select(ReportSubmission).where(ReportSubmission.period_key == "2026-12-20"))
        assert [(i.status, i.progress, i.planned_deadline, i.obstacle) for i in sub.items] == [
            ("open", "征迁完成80%", date(2026, 12, 15), None)]


def test_a_kept_plan_that_is_past_is_asked_again(small):
    ua = small.say("ua")
    talk(ua, FIRST)
    small.clock.set(at(2026, 12, 17))  # 12月15日 has passed
    talk(ua, [("填报", "当前已填：未完成"), ("不变", "征迁完成80%"), ("不变", "当前已填：2026年12月15日"),
              ("不变", ("已经过去了", "计划什么时候完成"))])


def test_extension_refused_at_once_when_a_request_is_pending(small):
    with small.db.session() as s:  # a request left pending while the matter is open again (e.g. a claim withdrawn)
        m1 = s.scalar(select(Matter).where(Matter.code == "M1"))
        ua_id = m1.responsible_unit.liaison_id
        s.add(ExtensionRequest(matter_id=m1.id, requested_by_id=ua_id, old_deadline=m1.deadline,
                               new_deadline=m1.deadline + timedelta(days=30), reason="征迁未完成", state=EXT_PENDING,
                               created_at=at(2026, 11, 20)))
    talk(small.say("ua"), [("延期申请 M1", ("已有一份待审批的延期申请", "!新的完成时限", "!第 1/"))])
    talk(small.say("ua"), [("延期申请 M2", "第 1/")])  # another matter: the form starts


def test_a_paused_report_is_offered_back_after_my_items(small):
    ua = small.say("ua")
    talk(ua, FIRST[:2])
    small.clock.set(at(2026, 11, 23, 11, 0))
    talk(ua, [
        ("我的事项", ("M1", "!未完成的【")),  # answered, the draft kept
        ("填报", ("未完成的【", "继续", "重新开始")),  # not a new report from nothing
        ("继续", ("第 1/2 项", "完成情况")),
        ("立项批复已取得", "M1 推进石化科创小镇征迁"),
    ])
