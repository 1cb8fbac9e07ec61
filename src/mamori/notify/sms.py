"""SMS adapters for the Notifier role: `ConsoleSMS` (development) and `WebhookSMS` (production).

Both ignore messages whose channel is not "sms", and neither ever logs a body (it holds codes);
phone numbers are logged masked ("+81…5678").

Webhook protocol (for gateway integrators)
------------------------------------------
`WebhookSMS` sends one HTTP request per message::

    POST <MAMORI_SMS_WEBHOOK_URL>
    Content-Type: application/json; charset=utf-8
    X-Mamori-Timestamp: 1767225600
    X-Mamori-Signature: sha256=5d1c...e9
    X-Mamori-Delivery: 3f9a0c...

    {"to":"+819012345678","body":"...","kind":"login_code","sender_id":"Mamori"}

- The body is UTF-8 JSON (non-ASCII text such as Japanese is sent as is, not \\u-escaped);
  `to` is E.164, `kind` names the message template, `sender_id` is the configured sender name.
- `X-Mamori-Timestamp` is the signing time in whole Unix seconds.
- `X-Mamori-Signature` is `sha256=` followed by the lower-case hex HMAC-SHA256, keyed with the
  shared secret (`MAMORI_SMS_WEBHOOK_SECRET`, UTF-8), over the bytes
  `<timestamp> "." <raw request body>` — the body exactly as received, before any JSON parsing.
- To verify: recompute the HMAC over the raw body, compare in constant time, and refuse
  timestamps more than 5 minutes from your clock (replay window). `verify_signature` here does
  exactly that; in other languages it is the same as Stripe/Slack-style signing.
- Answer 2xx when the SMS is accepted. A 5xx answer or a connection failure is retried twice
  (three attempts in all, short backoff, each freshly signed); any other status fails at once.
  A message may therefore arrive more than once if your 2xx answer is lost: every attempt for
  one message carries the same `X-Mamori-Delivery` id (random, not signed) to deduplicate on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime

import httpx

from mamori.clock import Clock, SystemClock
from mamori.errors import MamoriError
from mamori.models import Message

log = logging.getLogger("mamori.notify.sms")

SIGNATURE_HEADER = "X-Mamori-Signature"
TIMESTAMP_HEADER = "X-Mamori-Timestamp"
DELIVERY_HEADER = "X-Mamori-Delivery"
_SCHEME = "sha256="


class SMSDeliveryFailed(MamoriError):
    """The SMS gateway did not accept a message. Carries no body and no full number."""

    code = "sms_delivery_failed"

    def __init__(self, message: str, *, attempts: int, status: int | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


def mask_phone(number: str) -> str:
    """Mask: "+819012345678" -> "+81…5678": tells numbers apart in a log, does not let one dial."""
    number = number.strip()
    if len(number) <= 7:
        return "…" + number[-2:] if len(number) > 2 else "…"
    head = 3 if number.startswith("+") else 2
    return f"{number[:head]}…{number[-4:]}"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Mamori-Signature` value for `body` signed at `timestamp`."""
    msg = str(timestamp).encode("ascii") + b"." + body
    return _SCHEME + hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    *,
    now: datetime | float,
    tolerance: float = 300,
) -> bool:
    """True if `signature` is ours for the raw `body` at `timestamp`, within `tolerance` s of `now`.

    `timestamp` and `signature` are the header values as received; `body` is the raw body.
    """
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    now_ts = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_ts - ts) > tolerance:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, ts, raw)
    return hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("ascii", "replace")
    )


class ConsoleSMS:
    """Development adapter: logs who would get which SMS; never the body (read it in the outbox)."""

    async def send(self, message: Message) -> None:
        if message.channel != "sms":
            return
        log.info("SMS to %s kind=%s", mask_phone(message.to), message.kind)


class WebhookSMS:
    """POSTs each SMS as signed JSON to a gateway webhook (protocol in the module docstring).

    `client` is the caller's to close; without one, a short-lived client is used per message.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        sender_id: str,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the SMS webhook URL must be http(s)")
        if not secret:
            raise ValueError("the SMS webhook needs a signing secret")
        self.url = url
        self._secret = secret
        self.sender_id = sender_id
        self.timeout = timeout
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)

    def __repr__(self) -> str:  # the URL may hold a token, the secret is a secret
        return f"WebhookSMS(sender_id={self.sender_id!r})"

    def payload(self, message: Message) -> bytes:
        data = {
            "to": message.to,
            "body": message.body,
            "kind": message.kind,
            "sender_id": self.sender_id,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def headers(self, body: bytes, *, delivery_id: str) -> dict[str, str]:
        timestamp = int(self.clock.now().timestamp())
        return {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            DELIVERY_HEADER: delivery_id,
        }

    async def send(self, message: Message) -> None:
        if message.channel != "sms":
            return
        body = self.payload(message)
        if self.client is not None:
            await self._deliver(self.client, message, body)
            return
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            await self._deliver(client, message, body)

    async def _deliver(self, client: httpx.AsyncClient, message: Message, body: bytes) -> None:
        to = mask_phone(message.to)
        delivery_id = secrets.token_hex(16)
        attempts = self.retries + 1
        status: int | None = None
        problem = ""
        for attempt in range(1, attempts + 1):
            try:
                response = await client.post(
                    self.url,
                    content=body,
                    headers=self.headers(body, delivery_id=delivery_id),
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                status, problem = None, type(exc).__name__
            else:
                status = response.status_code
                if response.is_success:
                    log.info(
                        "SMS to %s kind=%s accepted by webhook (attempt %d, status %d)",
                        to,
                        message.kind,
                        attempt,
                        status,
                    )
                    return
                problem = f"HTTP {status}"
                if status < 500:  # the gateway refused this message: retrying will not help
                    break
            if attempt < attempts:
                log.warning(
                    "SMS to %s kind=%s: webhook attempt %d failed (%s), retrying",
                    to,
                    message.kind,
                    attempt,
                    problem,
                )
                await asyncio.sleep(self.backoff * attempt)
        raise SMSDeliveryFailed(
            f"SMS webhook delivery failed: kind={message.kind} to={to} "
            f"attempts={attempt} last={problem}",
            attempts=attempt,
            status=status,
        )
