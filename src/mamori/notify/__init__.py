"""Messages to people: catalog (ja, en), SMTP, SMS adapters, dev outbox."""

from mamori.notify.notifier import (
    FanOutNotifier,
    MemoryNotifier,
    Notifier,
    OutboxNotifier,
    SMTPNotifier,
)

__all__ = ["FanOutNotifier", "MemoryNotifier", "Notifier", "OutboxNotifier", "SMTPNotifier"]
