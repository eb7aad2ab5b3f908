"""E-mail over SMTP: a multipart message (plain text and HTML) to a list of addresses.

The standard library's smtplib runs in a worker thread (``asyncio.to_thread``): no new
dependency, and its socket timeout bounds every step, so a stuck server costs one thread for
at most ``timeout_s`` per step. The SMTP dialogue is driven step by step (MAIL, RCPT, DATA)
rather than through ``sendmail`` so that the log can show the server's final reply.

Replies in 4xx are temporary (RFC 5321) and retryable, like a refused or dropped
connection; 5xx replies are permanent and are not. When the server accepts only some
recipients, the message still goes to those, and the delivery is reported with
``ok=False`` and the refused addresses, rather than raised and sent again to everyone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import ClassVar, Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from branchops.alerts.transports.base import (
    ChannelConfig,
    Delivery,
    Notice,
    Transport,
    TransportError,
    excerpt,
)
from branchops.alerts.transports.mail_html import html_body
from branchops.alerts.transports.text import cut_bytes, headline, plain_lines

BODY_LIMIT: Final = 100_000  # bytes of notice body in a message; a log dump is not a mail
_DEFAULT_PORTS: Final = {"none": 25, "starttls": 587, "ssl": 465}
_ADDRESS: Final = re.compile(r"[^@\s<>]+@[A-Za-z0-9.-]+")


def _address(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("an address must be on one line")
    _name, addr = parseaddr(value)
    if not _ADDRESS.fullmatch(addr) or not addr.isascii():
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.strip()


class EmailConfig(ChannelConfig):
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int | None = Field(None, ge=1, le=65535, description="Default by security.")
    security: Literal["none", "starttls", "ssl"] = "starttls"
    verify_tls: bool = Field(True, description="Check the server's certificate and name.")
    username: str = ""
    password: str = ""
    sender: str = Field(alias="from", description='"BranchOps <noc@example.cn>"')
    to: list[str] = Field(min_length=1, max_length=100)

    @field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _check_to(cls, values: list[str]) -> list[str]:
        return [_address(value) for value in values]

    @model_validator(mode="after")
    def _login_is_complete(self) -> Self:
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")
        return self


class EmailTransport(Transport[EmailConfig]):
    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[ChannelConfig]] = EmailConfig

    async def send(self, notice: Notice) -> Delivery:
        message = self.message(notice)
        return await asyncio.to_thread(self._deliver, message)

    def message(self, notice: Notice) -> EmailMessage:
        config = self.config
        notice = dataclasses.replace(notice, body=cut_bytes(notice.body, BODY_LIMIT))
        message = EmailMessage(policy=SMTP)
        # The policy encodes a non-ASCII subject as RFC 2047 words; headline() has no
        # line breaks, which would otherwise be a header injection.
        message["Subject"] = headline(notice)
        message["From"] = config.sender
        message["To"] = ", ".join(config.to)
        message["Date"] = formatdate(self.clock(), localtime=False)
        message["Message-ID"] = make_msgid(domain=_domain(config.sender))
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        message.set_content("\n".join(plain_lines(notice, config.max_items)) + "\n")
        message.add_alternative(html_body(notice, config.max_items), subtype="html")
        return message

    def _deliver(self, message: EmailMessage) -> Delivery:
        try:
            with self._connect() as smtp:
                return self._dialogue(smtp, message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"all recipients refused: {_refusals(exc.recipients)}",
                retryable=all(400 <= code < 500 for code in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            raise TransportError(reply, retryable=400 <= exc.smtp_code < 500) from None
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(f"TLS: {exc.verify_message}", retryable=False) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TransportError(str(exc), retryable=False) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise TransportError(f"connection failed: {reason}", retryable=True) from None
        except smtplib.SMTPException as exc:
            raise TransportError(str(exc), retryable=False) from None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        port = config.port or _DEFAULT_PORTS[config.security]
        if config.security == "ssl":
            return smtplib.SMTP_SSL(
                config.host, port, timeout=config.timeout_s, context=self._tls()
            )
        return smtplib.SMTP(config.host, port, timeout=config.timeout_s)

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify_tls:  # an internal relay with a self-signed certificate
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _dialogue(self, smtp: smtplib.SMTP, message: EmailMessage) -> Delivery:
        config = self.config
        smtp.ehlo_or_helo_if_needed()
        if config.security == "starttls":
            smtp.starttls(context=self._tls())
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password)
        sender = parseaddr(config.sender)[1]
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for recipient in (parseaddr(to)[1] for to in config.to):
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, reply)
        if len(refused) == len(config.to):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)
        code, reply = smtp.data(message.as_bytes())
        if code != 250:  # smtplib raises only when DATA itself is refused, not the message
            raise smtplib.SMTPDataError(code, reply)
        status = excerpt(f"{code} {_text(reply)}", 120)
        if refused:
            return Delivery(False, status, excerpt(f"refused: {_refusals(refused)}"))
        return Delivery(True, status)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{addr} ({code} {_text(reply)})" for addr, (code, reply) in refused.items())


def _domain(sender: str) -> str:
    return Address(addr_spec=parseaddr(sender)[1]).domain
