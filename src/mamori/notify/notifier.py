"""Notifier role and its implementations.

`Notifier.send(message)` delivers one message. Implementations are named for the technology:
`SMTPNotifier` (aiosmtplib), `OutboxNotifier` (the dev outbox table), `MemoryNotifier` (tests),
`FanOutNotifier` (several at once), and the SMS adapters in `sms.py`: `WebhookSMS` (signed JSON
to a gateway) and `ConsoleSMS` (dev log). Delivery failures are logged (without the body, which
may hold a code) and never raised into a login or sign-up.

DKIM: when `dkim_private_key_file`, `dkim_selector` and `dkim_domain` are all set, SMTPNotifier
signs each mail (rsa-sha256, relaxed/relaxed, over From, To, Subject, Date, Message-ID) and sends
exactly the bytes it signed, so no re-encoding on the way can break the signature.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
import dkim

from mamori.clock import Clock
from mamori.errors import ConfigError
from mamori.models import Message
from mamori.notify.sms import ConsoleSMS, WebhookSMS
from mamori.settings import Settings
from mamori.store import Store

log = logging.getLogger("mamori.notify")


class Notifier(Protocol):
    async def send(self, message: Message) -> None: ...


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class OutboxNotifier:
    """Keeps a copy of every message in the dev outbox table (only used while MAMORI_DEV=1)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def send(self, message: Message) -> None:
        async with self.store.begin() as tx:
            await tx.outbox.add(message, at=self.clock.now())


DKIM_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id")


def load_dkim_key(settings: Settings) -> bytes | None:
    """The DKIM private key (PEM) when signing is configured, else None."""
    s = settings
    if not (s.dkim_private_key_file and s.dkim_selector and s.dkim_domain):
        return None
    try:
        return Path(s.dkim_private_key_file).read_bytes()
    except OSError as exc:
        raise ConfigError(
            [("dkim_key_unreadable", f"cannot read the DKIM key file: {exc.strerror}")]
        ) from None


class SMTPNotifier:
    """Sends email over SMTP; SMS messages are not its business and are skipped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dkim_key = load_dkim_key(settings)

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        domain = self.settings.mail_from.rsplit("@", 1)[-1].rstrip(">").strip() or "localhost"
        mail["Message-ID"] = make_msgid(domain=domain)
        mail["X-Mamori-Kind"] = message.kind
        mail.set_content(message.body)
        return mail

    def signed(self, mail: EmailMessage) -> bytes:
        """The mail as sent on the wire (CRLF), with a DKIM-Signature header in front when a
        key is configured."""
        raw = mail.as_bytes(policy=policy.SMTP)
        if self.dkim_key is None:
            return raw
        header = dkim.sign(
            raw,
            self.settings.dkim_selector.encode("ascii"),
            self.settings.dkim_domain.encode("ascii"),
            self.dkim_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
        )
        return bytes(header) + raw

    async def send(self, message: Message) -> None:
        if message.channel != "email":
            return
        s = self.settings
        mail = self.build(message)
        if self.dkim_key is None:
            content: EmailMessage | bytes = mail
            sender, recipients = None, None
        else:
            content = self.signed(mail)
            sender, recipients = parseaddr(s.mail_from)[1], [message.to]
        await aiosmtplib.send(
            content,
            sender=sender,
            recipients=recipients,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_tls,
            timeout=s.smtp_timeout_seconds,
        )


class FanOutNotifier:
    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    async def send(self, message: Message) -> None:
        for notifier in self.notifiers:
            try:
                await notifier.send(message)
            except Exception as exc:  # delivery must never break the flow that sent it
                log.warning(
                    "delivery failed: notifier=%s kind=%s channel=%s error=%s",
                    type(notifier).__name__,
                    message.kind,
                    message.channel,
                    exc,
                )


def build_notifier(settings: Settings, *, store: Store, clock: Clock) -> Notifier:
    parts: list[Notifier] = []
    if settings.dev:
        parts.append(OutboxNotifier(store, clock))
    if settings.smtp_host:
        parts.append(SMTPNotifier(settings))
    if not parts:
        log.warning("no email delivery configured: set MAMORI_SMTP_HOST")
    if settings.sms_webhook_url:
        parts.append(
            WebhookSMS(
                settings.sms_webhook_url,
                settings.sms_webhook_secret,
                sender_id=settings.sms_sender_id,
                timeout=settings.sms_webhook_timeout_seconds,
                clock=clock,
            )
        )
    elif settings.dev:
        parts.append(ConsoleSMS())
    else:
        log.info("no SMS delivery configured: set MAMORI_SMS_WEBHOOK_URL to send SMS")
    return FanOutNotifier(*parts)
