"""The supervision group's follow-up (issue #17, the rest), through the real signed WeCom callback on both
databases: the `supervision_followup` job reminding rectifications and interview promises before their
date and chasing overdue ones (unit liaison and head, the supervision group with the 效能问责 candidates),
exactly once; 约谈改期 (reason required, audited, the unit told, the reminder following the new time); a
briefing published by mail to the org chart's mailboxes with its .docx, once."""
from __future__ import annotations

import io
from datetime import date

import pytest
from docx import Document
from sqlalchemy import select

from bot.channels.mail.transport import MailTransport
from bot.delivery.sender import Sender
from bot.jobs import config_of, run_job
from bot.jobs.supervision import chase_stage, overdue_workdays, remind_day
from models import AuditLog, Briefing, Interview, Notice, SupervisionTask, WorkGroup
from tests import factories as f
from tests.dialog import Callback, talk
from tests.factories import at
from tests.mail_server import SMTPServer
from tests.support import AES, AGENT, CORP, TOKEN, make_app, wecom_config
from tests.threads import at_once
from tests.wecom_peer import WeComPeer

SUPERVISION_BOX, OFFICE_BOX = "qgzwdc@126.com", "qgzb@qg.gov.cn"


def _world(db_url, tmp_path, **extra):
    app = make_app(db_url, tmp_path, **wecom_config(), **extra)
    rt = app.extensions["bot"]
    with rt.db.session() as s:
        o = f.small_org(s)
        o.keji.head_id = f.person(s, "科技局长", "kjhead", o.keji).id
        o.fagai.head_id = f.person(s, "发改局长", "fghead", o.fagai).id
        f.matter(s, "M1", o.keji, o.leader1, date(2027, 3, 1), title="清源实验室装修")
        s.add(WorkGroup(code="supervision", name="督导考核组", mailbox=SUPERVISION_BOX))
        s.add(WorkGroup(code="office", name="专班办公室", mailbox=OFFICE_BOX))
        s.add(WorkGroup(code="liaison", name="调度联络组"))
    return app, rt


@pytest.fixture
def world(db_url, tmp_path):
    app, rt = _world(db_url, tmp_path)
    yield app, rt, WeComPeer(TOKEN, AES, CORP, AGENT)
    rt.db.dispose()


def keyed(rt, like):
    with rt.db.session() as s:
        return [(n.target, n.payload.get("content", "")) for n in
                s.scalars(select(Notice).where(Notice.key.like(like)).order_by(Notice.id))]


def run(rt, moment):
    return run_job(rt, config_of(rt).jobs["supervision_followup"], moment)


def _tasks(app, rt, peer):
    """ZG1: a rectification of 发改局 due Fri 18 Dec; ZG2: 科技局's interview promise due Wed 16 Dec."""
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 10))
    talk(sup, [
        ("现场抽查 12月11日 发改局 吴金明", "CC1"),
        ("整改要求 CC1 发改局 12月18日 补齐项目台账资料", "ZG1"),
        ("约谈 科技局 12月11日 10:00 区政府三楼会议室", "YT1"),
    ])
    rt.clock.set(at(2026, 12, 11, 11))
    talk(sup, [("约谈记录 YT1 承诺装修12月16日前完成验收", "已记录"),
               ("约谈承诺 YT1 12月16日 完成实验室装修验收", "ZG2")])
    return sup


# -- the rules of the days ------------------------------------------------------------------------

def test_reminder_days_and_chase_stages_count_working_days():
    assert remind_day(date(2026, 12, 16), 2) == date(2026, 12, 14)  # Wed → Mon
    assert remind_day(date(2026, 12, 14), 2) == date(2026, 12, 10)  # Mon → Thu (the weekend skipped)
    assert remind_day(date(2026, 12, 13), 0) == date(2026, 12, 11)  # a Sunday date: the Friday before
    assert remind_day(date(2026, 10, 9), 2) == date(2026, 9, 30)  # Oct 8, then over the National Day holiday
    assert overdue_workdays(date(2026, 12, 16), date(2026, 12, 16)) == 0
    assert overdue_workdays(date(2026, 12, 18), date(2026, 12, 21)) == 1  # Sat, Sun are not counted
    assert chase_stage(date(2026, 12, 16), date(2026, 12, 17), 5) == (0, True)
    assert chase_stage(date(2026, 12, 16), date(2026, 12, 23), 5) == (0, False)
    assert chase_stage(date(2026, 12, 16), date(2026, 12, 24), 5) == (1, True)
    assert chase_stage(date(2026, 12, 16), date(2026, 12, 16), 5) == (-1, False)


# -- the job --------------------------------------------------------------------------------------

def test_tasks_are_reminded_before_their_date_and_chased_after_it_once(world):
    app, rt, peer = world
    _tasks(app, rt, peer)
    assert run(rt, at(2026, 12, 11, 9, 15)).notices == 0  # ZG2's reminder day is Mon 14 Dec
    assert run(rt, at(2026, 12, 12, 9, 15)).skipped == "not a working day"

    assert run(rt, at(2026, 12, 14, 9, 15)).notices == 2
    due = keyed(rt, "supervision_due:%")
    assert sorted(t for t, _ in due) == ["kjhead", "uk"]
    assert "约谈承诺到期提醒" in due[0][1] and "2026年12月16日" in due[0][1] and "还有 2 天" in due[0][1]
    assert run(rt, at(2026, 12, 14, 9, 15)).notices == 0  # a rerun adds nothing
    assert run(rt, at(2026, 12, 15, 9, 15)).notices == 0  # one reminder per task and date

    assert run(rt, at(2026, 12, 16, 9, 15)).notices == 2  # ZG1 (due Fri) to 发改局's liaison and head
    assert sorted(t for t, _ in keyed(rt, "supervision_due:t1:%")) == ["fghead", "ua"]

    # the unit claims ZG1 done; ZG2 passes its date undone
    talk(Callback(app, peer, "ua"), [("整改完成 ZG1 台账已补齐", "待督导考核组核实")])
    result = run(rt, at(2026, 12, 17, 9, 15))
    chase = keyed(rt, "supervision_overdue:t2:%")
    assert sorted(t for t, _ in chase) == ["kjhead", "uk"]
    assert "逾期督办" in chase[0][1] and "已过 1 天" in chase[0][1] and "第一责任人" in chase[0][1]
    [(target, group)] = keyed(rt, "supervision_overdue:group:%")
    assert target == "supervision" and "ZG2 区科技局" in group and "逾期 1 天" in group
    assert "区科技局已列入效能问责候选" in group  # bot.actions.supervision.case_candidates, the one rule
    assert result.notices == 3 and run(rt, at(2026, 12, 17, 9, 15)).notices == 0
    for day in (18, 21, 22, 23):  # working days 2–5 of the first chase stage: nothing new for ZG2
        run(rt, at(2026, 12, day, 9, 15))
    assert len(keyed(rt, "supervision_overdue:t2:%")) == 2
    # ZG1 is overdue from Mon 21 Dec but claimed: the unit is not chased, the group is asked to confirm
    assert keyed(rt, "supervision_overdue:t1:%") == []
    [(_, dec21)] = keyed(rt, "supervision_overdue:group:2026-12-21")
    assert "ZG1 区发改局" in dec21 and "待确认" in dec21 and "ZG2" not in dec21
    assert run(rt, at(2026, 12, 24, 9, 15)).notices == 3  # ZG2's second chase: liaison, head, group
    assert len(keyed(rt, "supervision_overdue:t2:%:s1:%")) == 2

    talk(Callback(app, peer, "wujinming"), [("整改销号 ZG2", "已销号"), ("整改销号 ZG1", "已销号")])
    assert run(rt, at(2026, 12, 31, 9, 15)).notices == 0  # closed tasks are left alone


def test_a_missed_day_is_caught_up_by_the_next_run(world):
    app, rt, peer = world
    _tasks(app, rt, peer)
    # no run on 14 and 15 Dec: the reminder still goes on the 15th (the window runs to the deadline)
    assert run(rt, at(2026, 12, 15, 9, 15)).notices == 2
    # no run on 16 and 17 Dec: on the 18th ZG1 (due that day) is still reminded and ZG2's first chase goes;
    # the group digest belonged to the 17th
    assert run(rt, at(2026, 12, 18, 9, 15)).notices == 4
    assert sorted(t for t, _ in keyed(rt, "supervision_due:t1:%")) == ["fghead", "ua"]
    assert sorted(t for t, _ in keyed(rt, "supervision_overdue:t2:%:s0:%")) == ["kjhead", "uk"]
    assert keyed(rt, "supervision_overdue:group:%") == []


def test_two_schedulers_at_once_send_each_notice_once(pg_url, sqlite_url, tmp_path):
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    (app_a, rt_a), (_app_b, rt_b) = _world(pg_url, tmp_path / "a"), (None, None)
    _tasks(app_a, rt_a, peer)
    rt_b = make_app(pg_url, tmp_path / "b", **wecom_config()).extensions["bot"]
    alone_app, alone = _world(sqlite_url, tmp_path / "alone")
    _tasks(alone_app, alone, peer)
    moments = [at(2026, 12, d, 9, 15) for d in (14, 16, 17, 18, 21, 24)]
    for moment in moments:
        at_once([lambda r=r, m=moment: run(r, m) for r in (rt_a, rt_b)], timeout=60)
        run(alone, moment)

    def keys(rt):
        with rt.db.session() as s:
            return sorted(k for k in s.scalars(select(Notice.key)) if k and k.startswith("supervision_"))

    # due 2 + 2, chased ZG2 twice (liaison, head) and ZG1 once, three group digests (17, 21, 24 Dec)
    assert keys(rt_a) == keys(alone) and len(keys(rt_a)) == 13
    for r in (rt_a, rt_b, alone):
        r.db.dispose()


# -- 约谈改期 ---------------------------------------------------------------------------------------

def test_an_interview_is_rescheduled_with_a_reason_and_its_reminder_follows(world):
    app, rt, peer = world
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 10))
    talk(sup, [("约谈 科技局 12月15日 10:00 区政府三楼会议室 吴金明", ("YT1", "2026年12月15日 10:00"))])
    talk(Callback(app, peer, "uk"), [("约谈改期 YT1 12月18日 原因：有会", "没有这一权限")])
    talk(sup, [
        ("约谈改期 YT1 12月18日 15:00 区政府五楼会议室", "须写明原因"),
        ("约谈改期 YT1 2026-12-09 原因：提前", "不是有效的约谈日期"),
        ("约谈改期 YT9 12月18日 原因：有会", "没有找到 YT9"),
        ("约谈改期 YT1", "用法：约谈改期"),
        ("约谈改期 YT1 12月18日 15:00 区政府五楼会议室 原因：区长临时有会",
         ("已改期", "2026年12月18日 15:00", "区政府五楼会议室", "按新时间")),
    ])
    with rt.db.session() as s:
        iv = s.scalar(select(Interview))
        assert iv.scheduled_at == at(2026, 12, 18, 15) and iv.place == "区政府五楼会议室"
        [row] = s.scalars(select(AuditLog).where(AuditLog.entity == "interview", AuditLog.action == "rescheduled"))
        assert row.reason == "区长临时有会" and row.before["place"] == "区政府三楼会议室"
        assert row.before["scheduled_at"].startswith("2026-12-15T02:00") or "10:00" in row.before["scheduled_at"]
        assert row.actor_id is not None
    told = keyed(rt, "interview:1:moved:%")
    assert sorted(t for t, _ in told) == ["kjhead", "uk"]
    assert "原定于2026年12月15日 10:00在区政府三楼会议室" in told[0][1] and "因区长临时有会" in told[0][1]
    assert "改于2026年12月18日 15:00在区政府五楼会议室" in told[0][1]

    # the working day before the old date: no reminder of a time that no longer holds
    assert run(rt, at(2026, 12, 14, 9, 15)).notices == 0
    assert run(rt, at(2026, 12, 17, 9, 15)).notices == 2
    reminders = keyed(rt, "interview_reminder:%")
    assert sorted(t for t, _ in reminders) == ["kjhead", "uk"]
    assert "2026年12月18日 15:00（周五）在区政府五楼会议室" in reminders[0][1]
    assert run(rt, at(2026, 12, 18, 9, 15)).notices == 0  # once per time

    # moved again (the place kept, the time of day kept): a new reminder for the new day
    talk(sup, [("约谈改期 YT1 12月22日 原因：约谈对象出差", ("已改期", "2026年12月22日 15:00", "区政府五楼会议室"))])
    assert run(rt, at(2026, 12, 21, 9, 15)).notices == 2
    assert len(keyed(rt, "interview_reminder:%")) == 4
    rt.clock.set(at(2026, 12, 22, 16))
    talk(sup, [("约谈记录 YT1 已约谈", "已记录"), ("约谈改期 YT1 12月25日 原因：再议", "已经举行")])


# -- briefings by mail ----------------------------------------------------------------------------

@pytest.fixture
def smtp(tmp_path):
    server = SMTPServer(tmp_path).start()
    yield server
    server.stop()


def test_a_briefing_is_mailed_to_the_chosen_mailboxes_with_its_docx_once(db_url, tmp_path, smtp):
    app, rt = _world(db_url, tmp_path, **smtp.settings())
    peer = WeComPeer(TOKEN, AES, CORP, AGENT)
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 10))
    talk(sup, [
        ("简报 起草", "XB1"),
        ("简报 修改 XB1 ## 信息简报（第1期）\n**工作进展**\n本期各单位推进有力。", "本期各单位推进有力"),
        ("简报 发布 XB1 调度联络员群 邮箱 火星局", ("“火星局”不是组织架构中的邮箱", "督导考核组（qgzwdc@126.com）",
                                           "专班办公室（qgzb@qg.gov.cn）")),
        ("简报 发布 XB1 调度联络员群 邮箱 督导考核组、qgzb@qg.gov.cn",
         ("已发布到调度联络员群", "已邮件发送至督导考核组（qgzwdc@126.com）、专班办公室（qgzb@qg.gov.cn）", ".docx")),
        ("简报 发布 XB1 调度联络员群 邮箱 督导考核组",
         ("已发布（2026年12月10日 10:00，liaisons）", "不能再修改或重复发布")),
    ])
    with rt.db.session() as s:
        rows = list(s.scalars(select(Notice).where(Notice.key.like("%briefing:1%")).order_by(Notice.key)))
        b = s.scalar(select(Briefing))
        audit = s.scalar(select(AuditLog).where(AuditLog.entity == "briefing", AuditLog.action == "published"))
    assert [(n.key, n.target) for n in rows] == [
        ("briefing:1", "liaisons"), ("mail:briefing:1:qgzb@qg.gov.cn", OFFICE_BOX),
        ("mail:briefing:1:qgzwdc@126.com", SUPERVISION_BOX)]
    assert b.state == "published" and audit.after["mailboxes"] == [SUPERVISION_BOX, OFFICE_BOX]
    assert Sender(rt, transports={"mail": MailTransport(rt)}).run_once().sent == 2
    msgs = smtp.mails
    assert sorted(m["To"] for m in msgs) == sorted([SUPERVISION_BOX, OFFICE_BOX])
    msg = msgs[0]
    assert msg["Subject"] == f"【信息简报】{b.title}"
    assert "本期各单位推进有力" in msg.get_body(("plain",)).get_content()
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "信息简报_XB1_2026-12.docx"
    texts = [p.text for p in Document(io.BytesIO(part.get_content())).paragraphs if p.text]
    assert texts[0] == "信息简报（第1期）" and "工作进展" in texts and "本期各单位推进有力。" in texts
    assert texts[-1] == "2026年12月10日" and "工作专班" in texts[-2]

    # by mail only, to a mailbox named by its address
    talk(sup, [("简报 起草 专项 关于逾期事项的专项通报", "XB2"),
               ("简报 发布 XB2 邮箱 qgzwdc@126.com", ("XB2 已发布", "已邮件发送至督导考核组（qgzwdc@126.com）"))])
    assert Sender(rt, transports={"mail": MailTransport(rt)}).run_once().sent == 1
    assert smtp.mails[-1]["Subject"] == "【专项通报】关于逾期事项的专项通报"
    assert len(smtp.mails) == 3
    rt.db.dispose()


def test_without_a_mail_server_the_publisher_is_told_nothing_was_mailed(world):
    app, rt, peer = world
    sup = Callback(app, peer, "wujinming")
    rt.clock.set(at(2026, 12, 10, 10))
    talk(sup, [("简报 起草", "XB1"),
               ("简报 发布 XB1 调度联络员群 邮箱 督导考核组", ("已发布到调度联络员群", "未配置邮件服务器"))])
    assert keyed(rt, "mail:%") == []
    with rt.db.session() as s:
        assert s.scalar(select(SupervisionTask)) is None
