"""E-mail as an outbox channel, against a real SMTP server on loopback (tests/mail_server.py, aiosmtpd):
STARTTLS and implicit TLS with login, the headers, a Chinese subject and attachment names (RFC 2047 /
2231) and the attachments opened back; the failure states; the monthly report arriving exactly once after
the server was down; an oversize attachment refused with a clear message; and the forms travelling with
their events (slip, roll-up, reviewed weekly form, monthly report)."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document
from hypothesis import given
from hypothesis import settings as h_settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bot.actions.base import Acting
from bot.channels.common import PermanentError, RetryableError
from bot.channels.mail import transport as mail_transport
from bot.channels.mail.transport import MailTransport
from bot.delivery import outbox
from bot.delivery.outbox import mail_message_id
from bot.delivery.sender import Sender
from models import Notice, Person
from tests.mail_server import PASSWORD, SMTPServer
from tests.support import Now, make_app

SUPERVISION_BOX = "qgzwdc@126.com"
PROJECT_BOX = "7719664@qq.com"


@pytest.fixture
def smtp(tmp_path):
    server = SMTPServer(tmp_path).start()
    yield server
    server.stop()


def mail_app(db_url, tmp_path, server, **extra):
    return make_app(db_url, tmp_path, **server.settings(**extra)).extensions["bot"]


def send(rt, now=None):
    return Sender(rt, transports={"mail": MailTransport(rt)}, now=now or Now()).run_once()


def mails(rt) -> list[Notice]:
    with rt.db.session() as s:
        return list(s.scalars(select(Notice).where(Notice.channel == "mail").order_by(Notice.id)))


def xlsx_bytes(value: str) -> bytes:
    wb = Workbook()
    wb.active["A1"] = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def docx_bytes(text: str) -> bytes:
    doc = Document()
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def queue_mail(rt, tmp_path, key="mail:test:1", to=SUPERVISION_BOX, files=None):
    files = files if files is not None else [("附件4_事项交办单_JB1.docx", docx_bytes("事项交办单JB1")),
                                             ("调度工作分析报告_2026年11月.xlsx", xlsx_bytes("按领导"))]
    paths = []
    for name, data in files:
        p = tmp_path / name
        p.write_bytes(data)
        paths.append((str(p), name))
    with rt.db.session() as s:
        batch = outbox.Notices(rt.settings, "test")
        batch.mail(to, "【事项交办单抄送】JB1 陈剑锋调度事项交办单", "督导考核组：\n\n附件随本邮件抄送。", paths,
                   key=key, sender=rt.settings.mail_sender)
        batch.flush(s)


# -- the message --------------------------------------------------------------------------------

def test_mail_arrives_over_starttls_with_login_chinese_names_and_attachments_that_open(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp)
    queue_mail(rt, tmp_path)
    assert send(rt).sent == 1
    [raw] = smtp.handler.accepted
    [msg] = smtp.mails
    assert msg["Subject"] == "【事项交办单抄送】JB1 陈剑锋调度事项交办单"
    assert b"Subject: =?utf-8?" in raw  # RFC 2047 on the wire, never raw UTF-8 in a header
    assert msg["To"] == SUPERVISION_BOX and msg["From"].addresses[0].addr_spec == "bot@qgdd.gov.cn"
    assert msg["From"].addresses[0].display_name == "大调度大督查工作助手"
    assert msg["Message-ID"] == mail_message_id("mail:test:1", rt.settings.mail_sender)
    assert msg["Message-ID"].endswith("@qgdd.gov.cn>") and msg["Date"]
    assert "附件随本邮件抄送" in msg.get_body(("plain",)).get_content()
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == ["附件4_事项交办单_JB1.docx", "调度工作分析报告_2026年11月.xlsx"]
    assert b"filename*0*=utf-8''" in raw  # RFC 2231, continued over lines
    assert Document(io.BytesIO(parts[0].get_content())).paragraphs[0].text == "事项交办单JB1"
    assert load_workbook(io.BytesIO(parts[1].get_content())).active["A1"].value == "按领导"
    assert parts[1].get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    [n] = mails(rt)
    assert (n.state, n.target_kind, n.target, n.msgtype) == ("sent", "mail", SUPERVISION_BOX, "mail")


def test_implicit_tls_works_too(sqlite_url, tmp_path):
    server = SMTPServer(tmp_path, tls="ssl").start()
    try:
        rt = mail_app(sqlite_url, tmp_path, server)
        queue_mail(rt, tmp_path, files=[])
        assert send(rt).sent == 1 and len(server.mails) == 1
    finally:
        server.stop()


def test_an_untrusted_certificate_is_a_configuration_error(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp, MAIL_CA_FILE="")
    queue_mail(rt, tmp_path, files=[])
    assert send(rt).failed == 1
    [n] = mails(rt)
    assert "not trusted" in n.last_error and "ConfigError" in n.last_error and smtp.handler.accepted == []


# -- failure states -----------------------------------------------------------------------------

def test_login_refused_fails_at_once_without_the_password(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp, MAIL_PASSWORD="wrong-code")
    queue_mail(rt, tmp_path)
    assert send(rt).failed == 1
    [n] = mails(rt)
    assert n.attempts == 1 and "ConfigError" in n.last_error and "login refused" in n.last_error
    assert "wrong-code" not in n.last_error and PASSWORD not in n.last_error


def test_a_refused_recipient_fails_with_the_address(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp)
    smtp.handler.refuse["gone@126.com"] = "550 5.1.1 mailbox unavailable"
    queue_mail(rt, tmp_path, to="gone@126.com")
    assert send(rt).failed == 1
    [n] = mails(rt)
    assert "gone@126.com" in n.last_error and "550" in n.last_error and n.attempts == 1


def test_a_4xx_is_retried_and_the_resend_carries_the_same_message_id(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp)
    smtp.handler.data_replies.append("451 4.3.0 try again later")
    queue_mail(rt, tmp_path)
    now = Now()
    assert send(rt, now).retried == 1
    [n] = mails(rt)
    assert n.state == "pending" and "451" in n.last_error and n.attempts == 1
    now.advance(60)
    assert send(rt, now).sent == 1
    first, second = (p.split(b"Message-ID: ")[1].split(b"\r\n")[0] for p in smtp.handler.attempts)
    assert first == second and len(smtp.handler.accepted) == 1


def test_outbox_list_shows_the_subject_and_the_failure(sqlite_url, tmp_path, smtp):
    app = make_app(sqlite_url, tmp_path, **smtp.settings())
    rt = app.extensions["bot"]
    smtp.handler.refuse["gone@126.com"] = "550 5.1.1 mailbox unavailable"
    queue_mail(rt, tmp_path, key="mail:a")
    queue_mail(rt, tmp_path, key="mail:b", to="gone@126.com")
    send(rt)
    lines = app.test_cli_runner().invoke(args=["outbox", "list"]).output.splitlines()
    assert any("mail:gone@126.com" in ln and "failed" in ln and "550" in ln for ln in lines)
    assert any("mail:qgzwdc@126.com" in ln and "sent" in ln and "【事项交办单抄送】JB1" in ln for ln in lines)


def test_an_oversize_attachment_is_refused_with_a_clear_message(sqlite_url, tmp_path, smtp):
    rt = mail_app(sqlite_url, tmp_path, smtp, MAIL_MAX_ATTACHMENT_BYTES=4096)
    queue_mail(rt, tmp_path, files=[("调度工作分析报告_2026年11月.docx", b"x" * 5000)])
    assert send(rt).failed == 1
    [n] = mails(rt)
    assert n.attempts == 1 and "exceed MAIL_MAX_ATTACHMENT_BYTES" in n.last_error
    assert "调度工作分析报告_2026年11月.docx" in n.last_error and smtp.handler.attempts == []


# -- the forms travel with their events ----------------------------------------------------------

@pytest.fixture
def month(db_url, tmp_path, smtp):
    from bot.actions.seed import load_seed
    from tests.documents_data import build_month
    from tests.support import SEED_FILE

    rt = mail_app(db_url, tmp_path, smtp)
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
    with rt.db.session() as s:
        rt.o = build_month(s)
    return rt


def test_the_monthly_report_arrives_by_mail_exactly_once_after_the_server_was_down(month, smtp):
    from bot.jobs import monthly

    smtp.stop()
    as_of = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    monthly.run(month, as_of)
    monthly.run(month, as_of)  # a rerun (or a second scheduler) queues nothing new
    [n] = mails(month)
    assert (n.key, n.target) == (f"mail:monthly_report:2026-11:{SUPERVISION_BOX}", SUPERVISION_BOX)
    now = Now()
    for _ in range(3):  # down: each attempt is retried later
        assert send(month, now).retried == 1
        now.advance(3600)
    assert mails(month)[0].attempts == 3 and "Connection" in mails(month)[0].last_error
    smtp.start()
    assert send(month, now).sent == 1
    now.advance(3600)
    assert send(month, now).handled == 0
    [msg] = smtp.mails
    assert msg["Subject"] == "【调度工作分析报告】2026年11月重点工作“大调度、大督查”调度工作分析报告"
    docx_part, xlsx_part = msg.iter_attachments()
    assert docx_part.get_filename().endswith(".docx") and xlsx_part.get_filename().endswith(".xlsx")
    text = "\n".join(p.text for p in Document(io.BytesIO(docx_part.get_content())).paragraphs)
    assert "一、总体情况" in text
    # the seeded chart's key projects had weekly forms due that month: their sheet comes last
    assert load_workbook(io.BytesIO(xlsx_part.get_content())).sheetnames == [
        "按领导", "按单位", "难点事项", "逾期事项", "重点项目配合"]


def test_an_issued_slip_sends_its_annex4_to_the_group_and_the_mailbox(month, smtp):
    from bot.actions.slip import do_sign_slip
    from models import AssignmentSlip

    with month.db.session() as s:
        slip = s.get(AssignmentSlip, month.o.pending.id)
        do_sign_slip(Acting(s, s.get(Person, month.o.guo.id), datetime(2026, 12, 1, 2, tzinfo=UTC), month),
                     slip)
    with month.db.session() as s:
        group_file = s.scalar(select(Notice).where(Notice.key == f"form:slip:{month.o.pending.id}:1"))
        assert (group_file.target_kind, group_file.target, group_file.msgtype) == ("group", "supervision", "file")
        assert Path(group_file.payload["path"]).name == "附件4_事项交办单_JB2.docx"
        assert "/exports/" in group_file.payload["path"]
    [n] = mails(month)
    assert n.key == f"mail:slip:{month.o.pending.id}:{SUPERVISION_BOX}"
    assert n.payload["subject"].startswith("【事项交办单抄送】JB2")
    assert send(month).sent == 1
    [msg] = smtp.mails
    [part] = msg.iter_attachments()
    assert part.get_filename() == "附件4_事项交办单_JB2.docx"
    doc = Document(io.BytesIO(part.get_content()))
    assert any("校舍安全排查" in c.text for t in doc.tables for r in t.rows for c in r.cells)


def test_a_confidential_slip_is_not_copied(month):
    from bot.actions.slip import do_sign_slip
    from models import AssignmentSlip

    with month.db.session() as s:
        slip = s.get(AssignmentSlip, month.o.pending.id)
        slip.confidential = True  # the hook bot.actions.forms.is_confidential reads (W4 adds the column)
        do_sign_slip(Acting(s, s.get(Person, month.o.guo.id), datetime(2026, 12, 1, 2, tzinfo=UTC), month),
                     slip)
    with month.db.session() as s:
        assert s.scalars(select(Notice.key).where(Notice.key.like("form:%") | Notice.key.like("mail:%"))).all() == []


def test_a_reviewed_weekly_form_is_mailed_to_the_projects_mailbox(month, smtp):
    from bot.actions.projects import do_review_weekly
    from models import WeeklyProjectReport

    with month.db.session() as s:
        report = s.get(WeeklyProjectReport, month.o.weekly.id)
        report.filled_unit_id = month.o.jiaoyu.id  # the lead unit that filled it
        leader = report.project.leader
        do_review_weekly(Acting(s, leader, datetime(2026, 11, 23, 6, tzinfo=UTC), month), report, True)
    [n] = mails(month)
    assert n.target == PROJECT_BOX and n.key == f"mail:kp-weekly:{month.o.weekly.id}:{PROJECT_BOX}"
    assert send(month).sent == 1
    [msg] = smtp.mails
    assert msg["To"] == PROJECT_BOX and "锦川实验小学项目" in msg["Subject"]
    [part] = msg.iter_attachments()
    assert part.get_filename() == "问题清单_难硬重新重点项目_2026-11-23.xlsx"
    cells = [c for row in load_workbook(io.BytesIO(part.get_content())).active.iter_rows(values_only=True)
             for c in row if c]
    assert any("施工许可待办理" in str(c) for c in cells)


def test_no_mail_without_a_mail_server(db_url, tmp_path):
    from bot.actions.seed import load_seed
    from bot.actions.slip import do_sign_slip
    from models import AssignmentSlip
    from tests.documents_data import build_month
    from tests.support import SEED_FILE

    rt = make_app(db_url, tmp_path).extensions["bot"]
    with rt.db.session() as s:
        load_seed(s, SEED_FILE)
        o = build_month(s)
        do_sign_slip(Acting(s, s.get(Person, o.guo.id), datetime(2026, 12, 1, 2, tzinfo=UTC), rt),
                     s.get(AssignmentSlip, o.pending.id))
    assert mails(rt) == []
    with rt.db.session() as s:  # the group still gets the file
        assert s.scalar(select(Notice).where(Notice.key == f"form:slip:{o.pending.id}:1")) is not None
    rt.db.dispose()


def test_oversize_forms_go_without_attachments_and_the_body_says_so(month):
    from bot.actions.forms import queue_forms
    from bot.infra.text import render

    big = Path(month.settings.INSTANCE_DIR) / "big.docx"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(b"x" * (month.settings.MAIL_MAX_ATTACHMENT_BYTES + 1))
    batch = outbox.Notices(month.settings, "test")
    queue_forms(batch, month.settings, render, [big], key="t", mailboxes=[SUPERVISION_BOX], mail="monthly",
                year=2026, month=11)
    with month.db.session() as s:
        batch.flush(s)
    [n] = mails(month)
    assert n.payload["attachments"] == [] and "《big.docx》（20.0 MB）" in n.payload["body"]
    assert "超过邮件附件上限20.0 MB" in n.payload["body"]


def test_a_submitted_rollup_carries_the_consolidated_annex3(month):
    from bot.actions.rollup import do_compile_rollups, do_submit_rollup, rollups_of
    from bot.domain.periods import period_by_key
    from models import DispatchRow, RollUp

    period = period_by_key("2026-11-20")
    with month.db.session() as s:
        do_compile_rollups(s, period)
    with month.db.session() as s:
        row = s.get(DispatchRow, month.o.row_chen.id)
        rollup = s.get(RollUp, next(r.id for r in rollups_of(s, period) if r.dispatch_row_id == row.id))
        do_submit_rollup(Acting(s, row.office_liaisons[0], datetime(2026, 11, 21, 2, tzinfo=UTC), month),
                         rollup, row)
    with month.db.session() as s:
        [n] = s.scalars(select(Notice).where(Notice.key.like("form:rollup:%"))).all()
    assert (n.target, n.msgtype) == ("supervision", "file") and n.key == f"form:rollup:r{row.id}:2026-11-20:1"
    ws = load_workbook(n.payload["path"]).active
    cells = [str(c) for r in ws.iter_rows(values_only=True) for c in r if c]
    assert any("全区经济运行调度会" in c for c in cells)  # the row's minutes
    assert not any("教育工作专题调度会" in c for c in cells)  # another leader's row: not in this roll-up


# -- properties -----------------------------------------------------------------------------------

NAME_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='/\\"')


@h_settings(max_examples=60, deadline=None)
@given(subject=st.text(NAME_CHARS, min_size=1, max_size=80).filter(str.strip),
       stem=st.text(NAME_CHARS, min_size=1, max_size=60).filter(lambda s: s.strip() == s and s.strip(". ")),
       data=st.binary(min_size=1, max_size=200))
def test_any_subject_and_attachment_name_survive_the_wire(tmp_path_factory, subject, stem, data):
    import email
    from email import policy

    folder = tmp_path_factory.mktemp("att")
    path = folder / "f.bin"
    path.write_bytes(data)
    msg = mail_transport.build_message({"subject": subject, "body": "正文", "message_id": "<x@y>",
                                        "attachments": [{"path": str(path), "filename": stem + ".xlsx"}]},
                                       sender="助手 <bot@qgdd.gov.cn>", to=SUPERVISION_BOX)
    raw = msg.as_bytes(policy=policy.SMTP)
    assert all(b < 128 for b in raw.split(b"\r\n\r\n", 1)[0])  # headers are 7-bit on the wire
    back = email.message_from_bytes(raw, policy=policy.default)
    assert back["Subject"] == " ".join(subject.split()) or back["Subject"] == subject
    [part] = back.iter_attachments()
    assert part.get_filename() == stem + ".xlsx" and part.get_content() == data


@given(code=st.integers(400, 599), address=st.emails())
def test_smtp_replies_4xx_retry_5xx_fail_naming_the_address(code, address):
    err = mail_transport._reply(code, b"reason", "recipient", address)
    assert isinstance(err, RetryableError if code < 500 else PermanentError)
    assert address in str(err) and str(code) in str(err)


@pytest.mark.parametrize("confidential", [False, True])
def test_issued_minutes_are_copied_to_the_mailbox_unless_confidential(month, smtp, confidential):
    """Seed 000 §三(一): "除涉及保密工作事项外，所有印发纪要/事项交办单均要抄送督导考核组（qgzwdc@126.com）"."""
    from datetime import date

    from bot.actions.minutes import MatterInput, do_issue_minutes, do_record_minutes

    at = datetime(2026, 12, 2, 2, tzinfo=UTC)
    with month.db.session() as s:
        guo = s.get(Person, month.o.guo.id)
        minutes, _ = do_record_minutes(
            Acting(s, guo, at, month), leader=guo, number="泉港政纪〔2026〕21号", title="教育领域专题调度会",
            meeting_date=date(2026, 12, 1), drafting_unit=s.get(type(month.o.jiaoyu), month.o.jiaoyu.id),
            matters=[MatterInput("完成校舍安全排查整改", month.o.jiaoyu.id, date(2026, 12, 31))],
            confidential=confidential)
        do_issue_minutes(Acting(s, guo, at, month), minutes)
        minutes_id = minutes.id
    found = [n for n in mails(month) if n.key.startswith(f"mail:minutes:{minutes_id}:")]
    if confidential:
        assert found == []
        return
    [n] = found
    assert n.target == SUPERVISION_BOX and n.payload["subject"].startswith("【会议纪要抄送】郭雅婷")
    assert send(month).sent >= 1
    [msg] = [m for m in smtp.mails if m["Subject"].startswith("【会议纪要抄送】")]
    body = msg.get_body().get_content()
    assert "郭雅婷副区长主持召开的调度会" in body and "完成校舍安全排查整改" in body and "已纳入督查台账" in body
