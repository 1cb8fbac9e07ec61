"""Notifier role and its implementations.

`Notifier.send(message)` delivers one message. Implementations are named for the technology:
`SMTPNotifier` (aiosmtplib), `OutboxNotifier` (the dev outbox table), `MemoryNotifier` (tests),
`FanOutNotifier` (several at once), and the SMS adapters in `sms.py`: `WebhookSMS` (signed JSON
to a gateway) and `ConsoleSMS` (dev log). Delivery failures are logged (without the body, which
may hold a code) and never raised into a login or sign-up.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib

from mamori.clock import Clock
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


class SMTPNotifier:
    """Sends email over SMTP; SMS messages are not its business and are skipped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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

    async def send(self, message: Message) -> None:
        if message.channel != "email":
            return
        s = self.settings
        await aiosmtplib.send(
            self.build(message),
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
