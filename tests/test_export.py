"""导出 / 月报 in chat: files scoped by role, queued as outbox file notices, the 20 MB limit, and the WeCom
app file message (media/upload then message/send) against the fake server."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.delivery import outbox
from bot.delivery.sender import Sender
from bot.tools.fakes.wecom_server import FakeWeCom
from models import Notice, Unit
from tests.dialog import Direct
from tests.support import make_app


@pytest.fixture
def month(seeded):
    from tests.documents_data import build_month

    with seeded.db.session() as s:
        build_month(s)
    return seeded


def files(rt) -> list[Notice]:
    with rt.db.session() as s:
        return list(s.scalars(select(Notice).where(Notice.msgtype == "file").order_by(Notice.id)))


def codes_in(path: str) -> list[str]:
    ws = load_workbook(path).active
    return [r[1] for r in ws.iter_rows(values_only=True) if r[1] and str(r[1])[:1] in "MJ" and str(r[1])[1:].isdigit()]


def liaison_of(rt, unit_name: str) -> str:
    with rt.db.session() as s:
        return s.scalar(select(Unit).where(Unit.name == unit_name)).liaison.wecom_userid


def test_export_ledger_is_scoped_like_the_ledger_queries(month):
    reply = Direct(month, "yangyoumei").say("导出 台账")
    assert reply.startswith("已生成《督查台账_") and "稍后以文件消息发送给您" in reply
    (n,) = files(month)
    assert n.target_kind == "user" and n.target == "yangyoumei" and n.kind == "export"
    assert n.payload["filename"].startswith("督查台账_") and Path(n.payload["path"]).name == n.payload["filename"]
    assert sorted(codes_in(n.payload["path"])) == ["J6", "J7", "M1", "M2", "M3", "M4", "M5"]

    Direct(month, liaison_of(month, "区统计局")).say("导出 台账")
    assert codes_in(files(month)[-1].payload["path"]) == ["M2"]


def test_export_annex3_defaults_to_the_liaisons_own_unit(month):
    reply = Direct(month, liaison_of(month, "区发改局")).say("导出 附件3 2026-11-20")
    assert "附件3_重点工作定期调度问题清单_区发改局_2026-11-20.xlsx" in reply
    ws = load_workbook(files(month)[-1].payload["path"]).active
    assert ws["A3"].value == "单位：（盖章）：区发改局"


def test_export_slip_needs_a_visible_row_and_gives_xlsx_and_docx(month):
    assert Direct(month, liaison_of(month, "区教育局")).say("导出 交办单 JB1") == "未找到交办单JB1，或您无权查看。"
    assert files(month) == []
    reply = Direct(month, "chenjianfeng").say("导出 交办单 jb1")
    assert "《附件4_事项交办单_JB1.xlsx》、《附件4_事项交办单_JB1.docx》" in reply
    assert [n.payload["filename"] for n in files(month)] == ["附件4_事项交办单_JB1.xlsx", "附件4_事项交办单_JB1.docx"]


def test_export_annex2_and_the_project_form(month):
    Direct(month, "chenjianfeng").say("导出 附件2")
    Direct(month, "chenjianfeng").say("导出 项目周报 2026-11-25")
    names = [n.payload["filename"] for n in files(month)]
    assert names == ["附件2_区政府领导定期协调调度事项清单.xlsx", "问题清单_难硬重新重点项目_2026-11-23.xlsx"]
    assert "用法" in Direct(month, "chenjianfeng").say("导出")


def test_monthly_report_for_the_supervision_group_only(month):
    from bot.jobs import monthly

    assert "仅督导考核组成员" in Direct(month, liaison_of(month, "区发改局")).say("月报 2026-11")
    assert "尚未生成" in Direct(month, "yangyoumei").say("月报 2026-11")
    monthly.run(month, datetime(2026, 12, 1, tzinfo=UTC))
    before = len(files(month))
    reply = Direct(month, "yangyoumei").say("月报 2026-11")
    assert "《2026-11调度分析报告.docx》、《2026-11调度分析报告.xlsx》" in reply
    assert [n.target for n in files(month)[before:]] == ["yangyoumei", "yangyoumei"]


def test_a_file_over_the_platform_limit_is_refused_with_a_message(month, monkeypatch):
    import handlers.export as export

    monkeypatch.setattr(export, "MAX_FILE_BYTES", 1000)
    reply = Direct(month, "yangyoumei").say("导出 台账")
    assert "超过平台20MB的文件限制" in reply and files(month) == []


def test_wecom_app_file_message_uploads_then_sends(db_url, tmp_path):
    with FakeWeCom("wwexport", "secret", set(), agent_id=1000002) as fake:
        app = make_app(db_url, tmp_path, WECOM_CORP_ID="wwexport", WECOM_SECRET="secret", WECOM_AGENT_ID="1000002",
                       WECOM_API_BASE=fake.base_url)
        rt = app.extensions["bot"]
        path = tmp_path / "附件2.xlsx"
        path.write_bytes(b"PK\x03\x04 not really a workbook")
        with rt.db.session() as s:
            outbox.enqueue(s, target_kind="user", target="yangyoumei", msgtype="file",
                           payload={"filename": "附件2_清单.xlsx", "path": str(path)})
        stats = Sender(rt).run_once()
        assert stats.sent == 1, files(rt)[0].last_error
        upload = [c for c in fake.sent if c["kind"] == "media_upload"]
        assert [(u["filename"], u["size"]) for u in upload] == [("附件2_清单.xlsx", path.stat().st_size)]
        (msg,) = [m for m in fake.sent if m["kind"] == "app"]
        assert msg["touser"] == ["yangyoumei"] and msg["payload"]["file"] == {"media_id": upload[0]["media_id"]}
        rt.db.dispose()
