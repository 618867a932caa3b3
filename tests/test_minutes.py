"""录入纪要 end to end on the real org chart: dialog tables, odd answers, permissions, ledger rows, copies."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from models import AuditLog, Matter, Minutes, Notice, Person, Unit
from tests.dialog import Callback, Direct, at, talk

OFFICE_LIAISON = "linyongyong"  # 林勇勇, office liaison of 附件2 row 2 (陈剑锋)

HAPPY = [
    ("录入纪要", ("第 1/", "1. 杨凤翔", "2. 陈剑锋")),
    ("2", ("第 2/", "纪要编号")),
    ("〔2026〕12号", "纪要名称"),
    ("关于重点项目建设的专题调度会议纪要", "会议日期"),
    ("11月20日", "起草单位"),
    ("发展和改革局", ("第 1 项", "调度事项的内容")),
    ("推进石化科创小镇征迁扫尾", "责任单位"),
    ("住建局", "完成时限"),
    ("12月31日", "牵头单位"),
    ("同上", ("第 2 项", "完成")),
    ("协调国道G228改线用地", "责任单位"),
    ("自然资源", "完成时限"),
    ("月底", "牵头单位"),
    ("无", "第 3 项"),
    ("完成", ("请核对", "1. 调度领导：陈剑锋", "3. 纪要名称：关于重点项目建设的专题调度会议纪要",
             "4. 会议日期：2026年11月20日", "5. 起草单位：区发改局", "调度事项（2 项）",
             "完成时限：2026年12月31日；牵头单位：区住建局", "完成时限：2026年11月30日；牵头单位：无")),
    ("确认", ("✅", "M1", "M2", "送陈剑锋副区长审签", "!已抄送督导考核组")),
]
SIGN = [  # the leader signs the draft: issued, copied, sent to the units — and told who was not reached
    ("同意", ("以下 1 份将同意印发", "【纪要1】", "确认")),
    ("确认", ("纪要1", "已签发印发", "已抄送督导考核组", "已通知：区住建局", "区自然资源局尚未指定联络员，未能通知",
            "!已通知：区住建局、区自然资源局")),
]


def _ledger(s):
    """Minutes, matters, notices and non-seed audit rows."""
    minutes = s.scalars(select(Minutes)).all()
    matters = s.scalars(select(Matter).order_by(Matter.id)).all()
    notices = s.scalars(select(Notice).order_by(Notice.id)).all()
    audits = s.scalars(select(AuditLog).where(AuditLog.actor != "seed")).all()
    return minutes, matters, notices, audits


def test_minutes_happy_path_writes_ledger_copy_and_audit(seeded):
    rt = seeded
    rt.clock.set(at(2026, 11, 23))
    with rt.db.session() as s:  # give 区住建局 a real liaison so the unit notice can be checked
        zhujian = s.scalar(select(Unit).where(Unit.name == "区住建局"))
        zhujian.liaison_id = s.scalar(select(Person.id).where(Person.wecom_userid == "wuwenfeng"))
    talk(Direct(rt, OFFICE_LIAISON), HAPPY)
    with rt.db.Session() as s:  # a draft sent to sign: nothing copied, no unit told yet
        _m, _x, notices, _a = _ledger(s)
        assert [(n.key, n.target) for n in notices] == [("minutes-sign:1:1", "chenjianfeng")]
        assert "同意 纪要1" in notices[0].payload["content"] and "陈剑锋副区长" in notices[0].payload["content"]
    talk(Direct(rt, "chenjianfeng"), SIGN)
    with rt.db.Session() as s:
        check_happy(*_ledger(s))


def check_happy(minutes, matters, notices, audits):
    [minutes] = minutes
    assert (minutes.number, minutes.title, minutes.meeting_date) == ("〔2026〕12号",
                                                                     "关于重点项目建设的专题调度会议纪要",
                                                                     date(2026, 11, 20))
    assert minutes.state == "issued" and minutes.dispatch_row_id is not None and minutes.meeting_id is not None
    assert [m.code for m in matters] == ["M1", "M2"]
    m1, m2 = matters
    assert (m1.deadline, m1.original_deadline, m1.state, m1.kind) == (date(2026, 12, 31), date(2026, 12, 31),
                                                                      "open", "minutes")
    assert m1.responsible_unit.name == "区住建局" and m1.lead_unit.name == "区住建局"
    assert m2.responsible_unit.name == "区自然资源局" and m2.lead_unit_id is None and m2.deadline == date(2026, 11, 30)
    assert {m.leader.name for m in matters} == {"陈剑锋"} and {m.minutes_id for m in matters} == {minutes.id}
    copy = [n for n in notices if n.key == f"minutes-copy:{minutes.id}"]
    assert len(copy) == 1 and copy[0].target == "supervision" and "M1" in copy[0].payload["content"]
    unit_notes = [n for n in notices if n.key.startswith("minutes-unit:")]
    assert [n.target for n in unit_notes] == ["wuwenfeng"]  # 自然资源局's liaison is a placeholder: skipped
    assert "M1" in unit_notes[0].payload["content"] and "2026年12月31日" in unit_notes[0].payload["content"]
    assert sorted((a.entity, a.action) for a in audits) == [("matter", "create"), ("matter", "create"),
                                                            ("meeting", "create"), ("minutes", "create"),
                                                            ("minutes", "issue")]
    assert all(a.actor == ("陈剑锋" if a.action == "issue" else "林勇勇") for a in audits)
    drafter = [n for n in notices if n.key.startswith(f"minutes-issued:{minutes.id}:")]
    assert ([n.target for n in drafter] == ["linyongyong"]
            and "区自然资源局尚未指定联络员" in drafter[0].payload["content"])


def test_minutes_odd_answers_through_the_wecom_callback(db_url, tmp_path):
    """Emoji, 5,000 characters, blank-ish, "；", numbers for dates, ambiguous units — every message answered."""
    from bot.actions.seed import load_seed
    from tests.support import AES, AGENT, CORP, SEED_FILE, TOKEN, make_app, wecom_config
    from tests.wecom_peer import WeComPeer

    app = make_app(db_url, tmp_path, **wecom_config())
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
    rt.clock.set(at(2026, 11, 23))
    driver = Callback(app, WeComPeer(TOKEN, AES, CORP, AGENT), OFFICE_LIAISON)
    talk(driver, [
        ("录入纪要", "区政府领导"),
        ("😀", ("没有找到", "陈剑锋")),
        ("剑锋", "纪要编号"),
        ("无", "纪要名称"),
        ("字" * 5000, ("太长", "300")),
        ("；", "太短"),
        ("　", "纪要名称"),
        ("专题调度会", "会议日期"),
        ("5", ("是指哪一天", "1. 2026年11月5日")),
        ("1", "起草单位"),
        ("局", ("对应多个单位", "1. ")),
        ("发改", "调度事项的内容"),
        ("完成", ("至少需要 1 项", "调度事项的内容")),
        ("字" * 5000, ("太长", "1000")),
        ("抓好项目征迁", "责任单位"),
        ("火星局", "没有找到“火星局”"),
        ("区住建局（主办）、涂岭镇（主办）", "主办单位只能有一个"),
        ("区住建局、火星局", ("没有找到“火星局”", "全部责任单位")),
        ("配合：区住建局", "请注明主办单位"),
        ("区住建局、区住建局", "重复"),
        ("涂岭", "完成时限"),
        ("2026-11-01", "不能早于会议日期"),
        ("明年13月1日", "不是一个有效的日期"),
        ("下礼拜某天吧", "没有看懂"),
        ("1231", ("是指哪一天", "2026年12月31日")),
        ("1", "牵头单位"),
        ("同上", "第 2 项"),
        ("完成", ("请核对", "涂岭镇", "2026年12月31日", "纪要编号：（无）")),
        ("确认", ("✅", "M1")),
    ])
    with rt.db.Session() as s:
        minutes, [m], _n, _a = _ledger(s)
        assert m.responsible_unit.name == "涂岭镇" and m.deadline == date(2026, 12, 31)
        assert m.lead_unit.name == "涂岭镇"
        assert minutes[0].number is None and minutes[0].meeting_date == date(2026, 11, 5)
        assert minutes[0].drafting_unit.name == "区发改局"
    rt.db.dispose()


def test_minutes_refused_for_people_without_the_role_allowed_for_a_lead_units_liaison(seeded):
    """涂岭镇 leads no 附件2 row; a leader and a supervision member don't record minutes; 发改局 leads row 2."""
    for user in ("placeholder_tulingzhen", "chenjianfeng", "wujinming"):
        talk(Direct(seeded, user), [("录入纪要", ("没有这一权限", "!第 1/"))])
    talk(Direct(seeded, "placeholder_fagaiju"), [("录入纪要", "第 1/")])
    with seeded.db.Session() as s:
        assert _ledger(s)[1] == []


def test_cancel_writes_nothing_and_edit_returns_to_summary(seeded):
    seeded.clock.set(at(2026, 11, 23))
    d = Direct(seeded, OFFICE_LIAISON)
    talk(d, HAPPY[:-1] + [
        ("修改 4", ("会议日期", "当前已填：2026年11月20日")),
        ("上周五", ("请核对", "会议日期：2026年11月20日")),
        ("修改 6", ("(1) 推进石化科创小镇征迁扫尾", "删除")),
        ("删除 1", ("(1) 协调国道G228改线用地", "!(2)")),
        ("删除 1", "至少需要 1 项"),
        ("返回", "请核对"),
        ("取消", "已取消"),
        ("确认", "没有看懂"),  # the draft is gone: 确认 is just an unknown word now
    ])
    with seeded.db.Session() as s:
        minutes, matters, _n, audits = _ledger(s)
        assert minutes == [] and matters == [] and audits == []
