"""A real SMTP server on loopback for the mail tests (aiosmtpd): STARTTLS or implicit TLS with a
self-signed certificate made here, AUTH LOGIN/PLAIN against one mailbox, every accepted mail kept as bytes,
and failures on demand (a recipient refused with a reply, the next DATA answered with a 4xx/5xx). `stop()`
and `start()` again on the same port make "the server was down for a while"."""
from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "bot@qgdd.gov.cn", "smtp-auth-code-2026"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self):
        self.accepted: list[bytes] = []  # every mail the server took (250 to DATA)
        self.attempts: list[bytes] = []  # every DATA received, taken or not
        self.refuse: dict[str, str] = {}  # address -> reply to its RCPT
        self.data_replies: list[str] = []  # replies to the next DATAs instead of 250

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts.append(envelope.original_content or envelope.content)
        if self.data_replies:
            return self.data_replies.pop(0)
        self.accepted.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """`tls`: "starttls" (required before AUTH) or "ssl" (implicit TLS)."""

    def __init__(self, folder: Path, tls: str = "starttls"):
        self.cert, self.key = self_signed(folder)
        self.tls, self.port, self.handler = tls, free_port(), Handler()
        self.controller = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def start(self) -> SMTPServer:
        kw = dict(authenticator=_authenticator, auth_required=True)
        if self.tls == "ssl":
            kw.update(ssl_context=self._context(), auth_require_tls=False)
        else:
            kw.update(tls_context=self._context(), require_starttls=True, auth_require_tls=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, **extra) -> dict:
        cfg = dict(MAIL_HOST="localhost", MAIL_PORT=self.port, MAIL_USER=USER, MAIL_PASSWORD=PASSWORD,
                   MAIL_FROM=f"大调度大督查工作助手 <{USER}>", MAIL_TLS=self.tls, MAIL_CA_FILE=str(self.cert),
                   MAIL_TIMEOUT_SECONDS=5.0)
        cfg.update(extra)
        return cfg

    @property
    def mails(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for raw in self.handler.accepted]
