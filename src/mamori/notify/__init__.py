"""Messages to people: catalog (ja, en), SMTP, SMS adapters, dev outbox."""

from mamori.notify.notifier import (
    FanOutNotifier,
    MemoryNotifier,
    Notifier,
    OutboxNotifier,
    SMTPNotifier,
)
from mamori.notify.sms import ConsoleSMS, SMSDeliveryFailed, WebhookSMS

__all__ = [
    "ConsoleSMS",
    "FanOutNotifier",
    "MemoryNotifier",
    "Notifier",
    "OutboxNotifier",
    "SMSDeliveryFailed",
    "SMTPNotifier",
    "WebhookSMS",
]
