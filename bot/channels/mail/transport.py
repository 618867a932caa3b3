"""How mail notices are delivered (the `Transport` of bot.delivery.sender): one SMTP session per notice,
STARTTLS or implicit TLS, AUTH from configuration, the message built by the stdlib's EmailMessage (its
default policy encodes a Chinese subject per RFC 2047 and Chinese attachment names per RFC 2231).

A mail notice is `target_kind="mail"`, `target` = the address, `msgtype="mail"`, payload `subject`, `body`,
`attachments` [{path, filename}] and `message_id` (derived from the notice key when it was queued, so every
retry carries the same Message-ID and a resend after an unknown outcome — the connection dropped after
DATA — is recognisable as the same mail).

SMTP outcomes, as the outbox records them (`outbox list`):
- login refused (535 …) or TLS/STARTTLS not available: `ConfigError`, failed at once;
- a 4xx reply anywhere (greylisting, mailbox busy, too many connections), a refused connection, a timeout or
  a dropped connection: `RetryableError`, retried with the outbox's backoff;
- a 5xx reply to the recipient: `PermanentError` naming the address; any other 5xx: `PermanentError`;
- attachments over MAIL_MAX_ATTACHMENT_BYTES, or a file gone: failed at once, with the sizes.
"""
from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Optional

from bot.channels.common import ConfigError, PermanentError, RetryableError
from bot.delivery.outbox import MAIL, mb
from bot.delivery.sender import Job, Transport, register_transport
from models import TARGET_MAIL

CHANNEL = MSGTYPE = MAIL


def oversize(attachments: list[dict], limit: int) -> Optional[str]:
    """Why these attachments may not go by mail (their sizes against `limit`), or None."""
    sizes = [(a.get("filename") or Path(a["path"]).name, Path(a["path"]).stat().st_size) for a in attachments]
    total = sum(n for _, n in sizes)
    if total <= limit:
        return None
    listed = ", ".join(f"{name} {mb(n)}" for name, n in sizes)
    return f"attachments of {mb(total)} exceed MAIL_MAX_ATTACHMENT_BYTES ({mb(limit)}): {listed}"


def build_message(payload: dict, *, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = payload.get("subject") or ""
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    if payload.get("message_id"):
        msg["Message-ID"] = payload["message_id"]
    msg.set_content(payload.get("body") or "")
    for a in payload.get("attachments") or []:
        path = Path(a["path"])
        name = a.get("filename") or path.name
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=name)
    return msg


def _reply(code: int, text, what: str, address: Optional[str] = None):
    """The channel error for an SMTP reply: 4xx retry, 5xx permanent (naming the address when given)."""
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    subject = f"{what} {address}" if address else what
    message = f"SMTP {code} for {subject}: {detail}".strip()
    if 400 <= code < 500:
        return RetryableError(code, message)
    return PermanentError(code, message)


class MailClient:
    """One SMTP session per `send`: connect (implicit TLS or STARTTLS), log in, send, quit."""

    def __init__(self, host: str, port: int, user: str = "", password: str = "", tls: str = "starttls",
                 timeout: float = 30.0, ca_file: str = "", sender: str = ""):
        self.host, self.port, self.user, self._password = host, port, user, password
        self.tls, self.timeout, self.ca_file = tls, timeout, ca_file
        self.sender = sender or user

    def __repr__(self) -> str:
        return f"MailClient(host={self.host!r}, port={self.port}, tls={self.tls!r}, user={self.user!r})"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.tls == "starttls":
            try:
                smtp.starttls(context=self._context())
            except smtplib.SMTPNotSupportedError:
                smtp.close()
                raise ConfigError(None, f"{self.host}:{self.port} does not offer STARTTLS (MAIL_TLS)") from None
        return smtp

    def send(self, msg: EmailMessage, to: str) -> None:
        if not self.host:
            raise ConfigError(None, "MAIL_HOST not set")
        envelope_from = parseaddr(self.sender)[1]
        if not envelope_from:
            raise ConfigError(None, "MAIL_FROM / MAIL_USER not set: no sender address")
        try:
            smtp = self._connect()
            try:
                if self.user:
                    smtp.login(self.user, self._password)
                smtp.send_message(msg, from_addr=envelope_from, to_addrs=[to])
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(exc.smtp_code, f"SMTP login refused for {self.user!r} (MAIL_USER / MAIL_PASSWORD): "
                              f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(to, next(iter(exc.recipients.values()), (550, b"")))
            raise _reply(code, text, "recipient", to) from None
        except smtplib.SMTPSenderRefused as exc:
            raise _reply(exc.smtp_code, exc.smtp_error, "sender", exc.sender) from None
        except smtplib.SMTPResponseException as exc:  # DATA refused, HELO refused, …
            raise _reply(exc.smtp_code, exc.smtp_error, "the message") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ConfigError(None, f"SMTP server lacks a needed extension: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(None, f"TLS certificate of {self.host} not trusted (MAIL_CA_FILE): "
                              f"{exc.verify_message}") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, TimeoutError, OSError) as exc:
            raise RetryableError(None, f"{type(exc).__name__}: {exc}") from None


def _text(raw) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class MailTransport(Transport):
    channel = CHANNEL
    target_kinds = (TARGET_MAIL,)

    def make_client(self, s) -> MailClient:
        return MailClient(s.MAIL_HOST, s.MAIL_PORT, s.MAIL_USER, s.MAIL_PASSWORD, s.MAIL_TLS,
                          s.MAIL_TIMEOUT_SECONDS, s.MAIL_CA_FILE, s.mail_sender)

    def prepare(self, session, notice) -> Job:
        job = super().prepare(session, notice)
        if notice.target_kind != TARGET_MAIL:
            job.problem = f"mail delivers to mail addresses only, not to a {notice.target_kind!r} target"
        elif notice.msgtype != MSGTYPE:
            job.problem = f"unsupported mail msgtype {notice.msgtype!r}"
        return job

    def parts(self, job: Job) -> list[Callable[[], object]]:
        attachments = job.payload.get("attachments") or []
        try:
            too_big = oversize(attachments, self.runtime.settings.MAIL_MAX_ATTACHMENT_BYTES)
        except OSError as exc:
            raise PermanentError(None, f"attachment missing: {exc}") from None
        if too_big:
            raise PermanentError(None, too_big)

        def call():
            msg = build_message(job.payload, sender=self.client.sender, to=job.target)
            self.client.send(msg, job.target)
        return [call]


register_transport(CHANNEL, MailTransport)
