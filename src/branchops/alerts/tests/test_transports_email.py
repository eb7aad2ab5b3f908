"""E-mail against a real SMTP server (aiosmtpd) on 127.0.0.1.

The server keeps what it receives; tests parse it back with the standard library as a mail
client would: the Chinese subject decodes, both parts are there, the HTML is escaped. It
answers RCPT and DATA as told (4xx, 5xx) to test what is worth retrying, and speaks
STARTTLS with a throw-away self-signed certificate and AUTH LOGIN/PLAIN.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from branchops.alerts.transports import build
from branchops.alerts.transports.base import Delivery, Notice, TransportError
from branchops.alerts.transports.testing import HOSTILE, LOOPBACK, NOW, OUR_LINKS, closed_port

NOTICE = Notice(
    kind="escalation",
    severity=1,
    severity_label="一级",
    title="上海徐汇支行 unreachable <script>alert(1)</script>",
    body='loss 100 %\nR&D said: "it\'s fine"',
    fields=(("站点", "上海徐汇"),),
    link="https://ops.example.cn/alerts/12",
    ack_link="https://ops.example.cn/alerts/12/ack?t=a&u=b",
    items=tuple(f"symptom {i}" for i in range(12)),
)


@dataclass
class Mailbox:
    """An aiosmtpd handler: refuses the recipients and DATA it is told to, keeps the rest."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 2.0.0 Ok: queued as 4F2A"
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply.startswith("250"):
            message = email.message_from_bytes(envelope.content, policy=default)
            assert isinstance(message, EmailMessage)
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return self.data_reply


@contextmanager
def smtp_server(mailbox: Mailbox, **options: Any) -> Iterator[int]:
    port = closed_port()
    controller = Controller(mailbox, hostname=LOOPBACK, port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def send(settings: dict[str, Any], notice: Notice = NOTICE) -> Delivery | TransportError:
    async def main() -> Delivery | TransportError:
        async with httpx.AsyncClient(trust_env=False) as client:
            transport = build("email", settings, client=client, clock=lambda: NOW)
            try:
                return await transport.send(notice)
            except TransportError as exc:
                return exc

    return asyncio.run(main())


def settings(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": LOOPBACK,
        "port": port,
        "security": "none",
        "from": "BranchOps NOC <noc@ops.example.cn>",
        "to": ["oncall@ops.example.cn", "Zhang San <zhangsan@ops.example.cn>"],
    } | extra


def test_mail_arrives_multipart_with_an_encoded_chinese_subject() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        delivery = send(settings(port))
    assert isinstance(delivery, Delivery)
    assert delivery.ok
    assert delivery.status == "250 2.0.0 Ok: queued as 4F2A"
    [(sender, recipients, message)] = mailbox.received
    assert sender == "noc@ops.example.cn"
    assert recipients == ["oncall@ops.example.cn", "zhangsan@ops.example.cn"]
    assert (
        message["Subject"]
        == "[一级] Escalation: 上海徐汇支行 unreachable <script>alert(1)</script>"
    )
    assert message["Subject"].defects == ()
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    assert text is not None
    assert "… and 2 more" in text.get_content()
    assert "Acknowledge: https://ops.example.cn/alerts/12/ack?t=a&u=b" in text.get_content()


def test_mail_subject_header_is_ascii_on_the_wire() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        send(settings(port))
    raw = mailbox.received[0][2].as_bytes()
    subject = re.search(rb"^Subject: (.*(?:\r?\n[ \t].*)*)", raw, re.MULTILINE)
    assert subject is not None
    assert subject.group(1).isascii()
    assert b"=?utf-8?" in subject.group(1)


def test_mail_html_is_escaped_and_links_only_ours() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        send(settings(port))
        send(settings(port), HOSTILE)
    for (_, _, message), notice in zip(mailbox.received, (NOTICE, HOSTILE), strict=True):
        part = message.get_body(("html",))
        assert part is not None
        html = part.get_content()
        assert "<script>" not in html
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert [h.replace("&amp;", "&") for h in hrefs] == [notice.link, notice.ack_link]
    first = mailbox.received[0][2].get_body(("html",))
    assert first is not None
    assert "&lt;script&gt;" in first.get_content()
    assert "R&amp;D said: &quot;it&#x27;s fine&quot;" in first.get_content()
    hostile = mailbox.received[1][2].get_body(("html",))
    assert hostile is not None
    assert re.findall(r"<a ", hostile.get_content()) == ["<a "] * len(OUR_LINKS)


def test_some_recipients_refused_is_a_partial_delivery_not_an_error() -> None:
    mailbox = Mailbox(rcpt_replies={"oncall@ops.example.cn": "550 5.1.1 no such user"})
    with smtp_server(mailbox) as port:
        delivery = send(settings(port))
    assert isinstance(delivery, Delivery)
    assert not delivery.ok
    assert delivery.detail == "refused: oncall@ops.example.cn (550 5.1.1 no such user)"
    assert mailbox.received[0][1] == ["zhangsan@ops.example.cn"]


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("450 4.2.1 mailbox busy", True), ("550 5.1.1 no such user", False)],
)
def test_all_recipients_refused_is_retryable_only_for_4xx(reply: str, retryable: bool) -> None:
    refusals = {"oncall@ops.example.cn": reply, "zhangsan@ops.example.cn": reply}
    with smtp_server(Mailbox(rcpt_replies=refusals)) as port:
        error = send(settings(port))
    assert isinstance(error, TransportError)
    assert error.retryable is retryable
    assert str(error).startswith("all recipients refused")


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 try again later", True), ("554 5.7.1 rejected as spam", False)],
)
def test_data_refused_is_retryable_only_for_4xx(reply: str, retryable: bool) -> None:
    with smtp_server(Mailbox(data_reply=reply)) as port:
        error = send(settings(port))
    assert isinstance(error, TransportError)
    assert error.retryable is retryable
    assert str(error) == reply


def test_no_server_is_retryable() -> None:
    error = send(settings(closed_port()))
    assert isinstance(error, TransportError)
    assert error.retryable
    assert str(error).startswith("connection failed")


# ---- STARTTLS and AUTH ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1, made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.fromtimestamp(NOW, dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"noc", b"s3cret")
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@pytest.mark.parametrize(
    ("password", "ok"), [("s3cret", True), ("wrong", False)], ids=["right", "wrong"]
)
def test_starttls_and_login(tls_context: ssl.SSLContext, password: str, ok: bool) -> None:
    mailbox = Mailbox()
    options = {
        "tls_context": tls_context,
        "require_starttls": True,
        "authenticator": authenticator,
        "auth_required": True,
    }
    with smtp_server(mailbox, **options) as port:
        outcome = send(
            settings(port, security="starttls", verify_tls=False, username="noc", password=password)
        )
    if ok:
        assert isinstance(outcome, Delivery)
        assert outcome.ok
        assert len(mailbox.received) == 1
    else:
        assert isinstance(outcome, TransportError)
        assert not outcome.retryable
        assert str(outcome).startswith("535")


def test_starttls_with_an_unverifiable_certificate_is_not_retryable(
    tls_context: ssl.SSLContext,
) -> None:
    with smtp_server(Mailbox(), tls_context=tls_context, require_starttls=True) as port:
        error = send(settings(port, security="starttls"))
    assert isinstance(error, TransportError)
    assert not error.retryable
    assert str(error).startswith("TLS: ")
