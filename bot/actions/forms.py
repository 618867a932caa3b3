"""The forms travel with the events that produce them: one helper, `send_forms`, that an action calls in
its own transaction — it saves the rendered files under INSTANCE_DIR/exports/<date>/<random>/ and queues
them as a group-chat file (each file) and as one mail per mailbox (all files attached), under keys derived
from the event, so a rerun or a second attempt of the action queues nothing twice.

Who gets what (docs/mail.md):
- an issued slip → its 附件4 (.docx) to the supervision group's chat and mailbox, unless it is confidential;
- a roll-up submitted → the consolidated 附件3 (.xlsx) of its dispatch row to the supervision group's chat;
- a reviewed key-project weekly form → the week's form (.xlsx) to the project's report mailbox;
- the monthly report → its .docx and .xlsx to the supervision group's mailbox (bot.jobs.monthly).

Mail is queued only when the deployment has a mail server (MAIL_HOST): a deployment without one would only
collect failed notices. Files over the chat platforms' 20 MB are not sent to the chat; attachments over
MAIL_MAX_ATTACHMENT_BYTES stay out of the mail, whose body then says so.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.base import settings_of
from bot.delivery import outbox
from bot.delivery.outbox import mb
from models import KeyProject, WorkGroup

log = logging.getLogger(__name__)

CHAT_FILE_MAX_BYTES = 20 * 1024 * 1024  # WeCom media upload and DingTalk file limit
SUPERVISION = "supervision"  # the work group and chat of 督导考核组


def save_export(settings, now: datetime, filename: str, data: bytes) -> Path:
    """The file saved where exports live: INSTANCE_DIR/exports/<date>/<random>/<filename>."""
    folder = Path(settings.INSTANCE_DIR) / "exports" / now.strftime("%Y%m%d") / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_bytes(data)
    return path


def group_mailbox(session: Session, code: str) -> Optional[str]:
    """The mailbox the org chart gives a work group (督导考核组: qgzwdc@126.com in the seed)."""
    return session.scalar(select(WorkGroup.mailbox).where(WorkGroup.code == code))


def mail_targets(session: Session) -> list[tuple[str, str]]:
    """The org chart's mailboxes as (name, address): each work group's (督导考核组: qgzwdc@126.com) and each
    key project's report mailbox — the addresses a briefing may be mailed to."""
    out = [(name, box) for name, box in session.execute(
        select(WorkGroup.name, WorkGroup.mailbox).where(WorkGroup.mailbox.is_not(None)).order_by(WorkGroup.id))]
    out += [(f"{name}（报送邮箱）", box) for name, box in session.execute(
        select(KeyProject.name, KeyProject.report_mailbox).where(KeyProject.report_mailbox.is_not(None))
        .order_by(KeyProject.id))]
    return [(n, b.strip()) for n, b in out if b and b.strip()]


def is_confidential(record) -> bool:
    """Is this minutes or slip 保密 (never copied to the supervision group's mailbox)? Reads the record's
    `confidential` flag once the minutes lifecycle gives records one; until then nothing is."""
    return bool(getattr(record, "confidential", False))


def send_forms(act, files: list[tuple[str, bytes]], *, key: str, kind: str, group: Optional[str] = None,
               mailboxes: Iterable[Optional[str]] = (), mail: Optional[str] = None, **kw) -> list[Path]:
    """Save `files` (filename, bytes) and queue them in the action's transaction (`queue_forms`). Returns the
    saved paths (none without a deployment: an action run on a bare session has nowhere to save)."""
    settings = settings_of(act)
    if settings is None or not files:
        return []
    paths = [save_export(settings, act.now, name, data) for name, data in files]
    batch = outbox.Notices(settings, kind)
    queue_forms(batch, settings, act.render, paths, key=key, group=group, mailboxes=mailboxes, mail=mail, **kw)
    batch.flush(act.session)
    return paths


def queue_forms(batch: outbox.Notices, settings, render: Callable[..., str], paths: list[Path], *, key: str,
                group: Optional[str] = None, mailboxes: Iterable[Optional[str]] = (), mail: Optional[str] = None,
                **kw) -> None:
    """Add the files at `paths` to `batch`: each to the chat `group`, all of them in one mail to each of
    `mailboxes` (subject and body: templates/mail/<mail>_subject.txt, <mail>_body.txt with `kw`).
    Keys: form:<key>:<n> and mail:<key>:<address>."""
    if group:
        for n, path in enumerate(paths, 1):
            if path.stat().st_size > CHAT_FILE_MAX_BYTES:
                log.warning("%s is over the chat platforms' file limit: not sent to %s", path.name, group)
                continue
            batch.file_to_group(group, str(path), "file", key=f"form:{key}:{n}")
    addresses = list(dict.fromkeys(a.strip() for a in mailboxes if a and a.strip()))
    if not (mail and addresses and settings.mail_enabled):
        return
    attached = [(str(p), p.name) for p in paths]
    left_out = []
    if sum(p.stat().st_size for p in paths) > settings.MAIL_MAX_ATTACHMENT_BYTES:
        attached, left_out = [], [(p.name, mb(p.stat().st_size)) for p in paths]
    subject = render(f"mail/{mail}_subject.txt", **kw).strip()
    body = render(f"mail/{mail}_body.txt", **kw)
    if left_out:
        body += "\n\n" + render("mail/too_big.txt", files=left_out, limit=mb(settings.MAIL_MAX_ATTACHMENT_BYTES))
    for address in addresses:
        batch.mail(address, subject, body, attached, key=f"mail:{key}:{address}", sender=settings.mail_sender)
