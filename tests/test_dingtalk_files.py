"""DingTalk file messages: a file for a DingTalk user is uploaded (oapi media/upload, type file) and sent
as a robot one-to-one message with msgKey sampleFile (mediaId, fileName, fileType), against the fake
DingTalk server; a group file fails with the reason (custom group robots cannot send files)."""
from __future__ import annotations

from sqlalchemy import select

from bot.channels.dingtalk.transport import DingTalkTransport
from bot.delivery import outbox
from bot.delivery.sender import Sender
from bot.tools.fakes.dingtalk_server import FakeDingTalk
from models import Notice
from tests.support import make_app

APP_KEY, APP_SECRET, ROBOT_CODE = "dingfileappkey", "dt-file-secret", "dingfilerobot"
USER = "dt_yangyoumei"


def app_with(fake, db_url, tmp_path):
    return make_app(db_url, tmp_path, DINGTALK_APP_KEY=APP_KEY, DINGTALK_APP_SECRET=APP_SECRET,
                    DINGTALK_ROBOT_CODE=ROBOT_CODE, DINGTALK_API_BASE=fake.base_url,
                    DINGTALK_OAPI_BASE=fake.base_url, HTTP_TIMEOUT_SECONDS=2.0).extensions["bot"]


def send(rt):
    return Sender(rt, transports={"dingtalk": DingTalkTransport(rt)}).run_once()


def test_a_file_reaches_a_dingtalk_user_as_upload_then_sample_file(db_url, tmp_path):
    path = tmp_path / "督查台账_20261201.xlsx"
    path.write_bytes(b"PK\x03\x04 workbook bytes")
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE) as fake:
        rt = app_with(fake, db_url, tmp_path)
        with rt.db.session() as s:
            outbox.enqueue(s, target_kind="user", target=USER, msgtype="file", channel="dingtalk",
                           payload={"path": str(path), "filename": path.name})
        assert send(rt).sent == 1
        assert fake.hits["media_upload"] == 1
        [item] = fake.sent
        assert (item["kind"], item["users"], item["msgKey"]) == ("one_to_one", [USER], "sampleFile")
        assert item["param"]["fileName"] == "督查台账_20261201.xlsx" and item["param"]["fileType"] == "xlsx"
        assert fake.media[item["param"]["mediaId"]] == ("督查台账_20261201.xlsx", path.read_bytes())
        rt.db.dispose()


def test_an_upload_failure_is_retried_and_the_file_sent_once(db_url, tmp_path):
    path = tmp_path / "附件2.xlsx"
    path.write_bytes(b"PK\x03\x04 annex2")
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE) as fake:
        rt = app_with(fake, db_url, tmp_path)
        with rt.db.session() as s:
            outbox.enqueue(s, target_kind="user", target=USER, msgtype="file", channel="dingtalk",
                           payload={"path": str(path), "filename": path.name})
        fake.fail_next(1, http_status=502, path="/media/upload")
        assert send(rt).retried == 1 and fake.sent == []
        with rt.db.session() as s:
            n = s.scalar(select(Notice))
            n.next_attempt_at = n.created_at
        assert send(rt).sent == 1 and len(fake.sent) == 1
        rt.db.dispose()


def test_a_file_for_a_dingtalk_group_fails_with_the_reason(db_url, tmp_path):
    path = tmp_path / "附件3.xlsx"
    path.write_bytes(b"PK")
    with FakeDingTalk(APP_KEY, APP_SECRET, ROBOT_CODE, robots={"tok": None}) as fake:
        rt = app_with(fake, db_url, tmp_path)
        with rt.db.session() as s:
            from models import ChatGroup

            s.add(ChatGroup(code="supervision", name="督导考核组工作群", channel="dingtalk", robot_key="tok"))
            s.flush()
            outbox.enqueue(s, target_kind="group", target="supervision", msgtype="file", channel="dingtalk",
                           payload={"path": str(path)})
        assert send(rt).failed == 1
        with rt.db.session() as s:
            assert "cannot send files" in s.scalar(select(Notice)).last_error
        assert fake.sent == [] and fake.hits["media_upload"] == 0
        rt.db.dispose()
