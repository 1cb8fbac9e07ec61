"""Outgoing webhooks for security events: signed, retried with backoff, at least once.

Every security event whose type is wanted (`MAMORI_WEBHOOK_EVENTS`, empty: all) is queued in
`webhook_deliveries` in the transaction that records it (`store/webhooks.py`). `deliver_due`
sends what is due; `webhook_loop` (app lifespan, every `MAMORI_WEBHOOK_INTERVAL_SECONDS` in every
worker) and `mamori webhooks deliver` (cron) call it. Senders in several processes share the
queue safely: each row is leased to one sender at a time.

Protocol (for receivers)
------------------------
::

    POST <MAMORI_WEBHOOK_URL>
    Content-Type: application/json; charset=utf-8
    X-Mamori-Timestamp: 1767225600
    X-Mamori-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">
    X-Mamori-Delivery: 42
    X-Mamori-Event: login_success

    {"id":1234,"type":"login_success","at":"2026-01-01T00:00:00Z","result":"ok","reason":"",
     "account_id":7,"login_id":"alice","ip":"203.0.113.7","country":"JP","asn":null,
     "as_name":"KDDI CORPORATION","browser":"Chrome 131","os":"Windows 10",
     "device_type":"desktop","details":{...}}

- The signature is the SMS webhook's (`notify/sms.sign`): keyed with `MAMORI_WEBHOOK_SECRET`,
  over the timestamp, a dot and the body bytes exactly as received. Verify it in constant time
  and refuse timestamps more than 5 minutes off (`notify.sms.verify_signature` does both).
- Answer 2xx once the event is stored. Anything else (or no answer within the timeout) is
  retried: after 30 s, 1 min, 2 min, ... doubling up to 1 h between attempts, each delay
  jittered down by up to half; after 12 attempts (about 5 hours) the delivery is given up
  ("dead"; `mamori webhooks list --status dead`, `mamori webhooks retry ID`).
- At least once: a delivery whose 2xx answer was lost is sent again. Every attempt of one
  delivery carries the same `X-Mamori-Delivery` id; deduplicate on it (or on the body's `id`,
  the security event's). Order is not guaranteed.
- The body holds personal data (login ID, IP): see `store.webhooks.event_payload`. Use https.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from mamori import metrics
from mamori.flows.services import Services
from mamori.notify.sms import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from mamori.settings import Settings
from mamori.store.webhooks import Delivery, WebhookTarget

log = logging.getLogger("mamori.webhooks")

EVENT_HEADER = "X-Mamori-Event"
MAX_ATTEMPTS = 12
BACKOFF_BASE = 30.0  # seconds before the second attempt
BACKOFF_CAP = 3600.0  # at most this long between attempts
TIMEOUT = 10.0  # per request
LEASE = timedelta(seconds=120)  # a claimed batch is sent concurrently, well within this
BATCH = 20


def target_from(settings: Settings) -> WebhookTarget | None:
    """The webhook target the settings describe (None: no webhook)."""
    if not settings.webhook_url:
        return None
    return WebhookTarget(url=settings.webhook_url, events=frozenset(settings.webhook_events))


def backoff(attempts: int, *, rng: random.Random) -> float:
    """Seconds to wait after `attempts` failed attempts: 30 s doubling, capped at 1 h, with
    "equal jitter" (between half and all of it) so failed senders do not retry in step."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    return delay / 2 + rng.random() * delay / 2


@dataclass(frozen=True, slots=True)
class Round:
    """What one `deliver_due` call did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: Delivery
    ok: bool
    error: str


def headers(secret: str, body: bytes, *, delivery: Delivery, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Mamori-Webhook/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery.id),
        EVENT_HEADER: delivery.event_type,
    }


async def _send(
    client: httpx.AsyncClient, secret: str, delivery: Delivery, *, now: datetime, wait: float
) -> _Outcome:
    body = delivery.payload.encode("utf-8")
    try:
        response = await client.post(
            delivery.url,
            content=body,
            headers=headers(secret, body, delivery=delivery, now=now),
            timeout=wait,
        )
    except httpx.HTTPError as exc:  # never the URL (it may hold a token) nor the body
        return _Outcome(delivery, False, type(exc).__name__)
    if response.is_success:
        return _Outcome(delivery, True, "")
    return _Outcome(delivery, False, f"HTTP {response.status_code}")


async def deliver_due(
    svc: Services,
    *,
    limit: int = BATCH,
    client: httpx.AsyncClient | None = None,
    rng: random.Random | None = None,
    request_timeout: float = TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
) -> Round:
    """Claim up to `limit` due deliveries (a lease, committed), send them concurrently, and
    record each outcome: 2xx -> delivered; else retried after `backoff`, or dead after
    `max_attempts`. Safe to run in several processes at once."""
    secret = svc.settings.webhook_secret
    if not secret:
        log.warning("webhook deliveries not sent: MAMORI_WEBHOOK_SECRET is not set")
        return Round()
    now = svc.clock.now()
    lease_until = now + LEASE
    async with svc.store.begin() as tx:
        claimed = await tx.webhooks.claim(now=now, lease_until=lease_until, limit=limit)
    if not claimed:
        return Round()
    if client is None:
        async with httpx.AsyncClient(timeout=request_timeout, follow_redirects=False) as own:
            outcomes = await _send_all(own, secret, claimed, now=now, wait=request_timeout)
    else:
        outcomes = await _send_all(client, secret, claimed, now=now, wait=request_timeout)
    return await _record(svc, outcomes, lease_until=lease_until, rng=rng, max_attempts=max_attempts)


async def _send_all(
    client: httpx.AsyncClient,
    secret: str,
    claimed: list[Delivery],
    *,
    now: datetime,
    wait: float,
) -> list[_Outcome]:
    return list(
        await asyncio.gather(*(_send(client, secret, d, now=now, wait=wait) for d in claimed))
    )


async def _record(
    svc: Services,
    outcomes: list[_Outcome],
    *,
    lease_until: datetime,
    rng: random.Random | None,
    max_attempts: int,
) -> Round:
    rng = rng or random.SystemRandom()
    now = svc.clock.now()
    delivered = retried = dead = 0
    async with svc.store.begin() as tx:
        for o in outcomes:
            d = o.delivery
            if o.ok:
                await tx.webhooks.mark_delivered(d.id, now=now)
                delivered += 1
                continue
            last = d.attempts >= max_attempts
            wait = backoff(d.attempts, rng=rng)
            await tx.webhooks.mark_failed(
                d.id,
                lease_until=lease_until,
                next_attempt_at=now + timedelta(seconds=wait),
                error=o.error,
                dead=last,
            )
            if last:
                dead += 1
                log.error(
                    "webhook delivery %d (%s) given up after %d attempts: %s",
                    d.id,
                    d.event_type,
                    d.attempts,
                    o.error,
                )
            else:
                retried += 1
                log.warning(
                    "webhook delivery %d (%s) attempt %d failed: %s; next in %d s",
                    d.id,
                    d.event_type,
                    d.attempts,
                    o.error,
                    wait,
                )
    for result, n in (("delivered", delivered), ("retry", retried), ("dead", dead)):
        metrics.count_webhook(result, n)
    return Round(claimed=len(outcomes), delivered=delivered, retried=retried, dead=dead)


async def deliver_all_due(svc: Services, *, client: httpx.AsyncClient | None = None) -> Round:
    """Rounds of `deliver_due` until a round finds less than a full batch (cron, the loop)."""
    total = Round()
    while True:
        r = await deliver_due(svc, client=client)
        total = Round(
            claimed=total.claimed + r.claimed,
            delivered=total.delivered + r.delivered,
            retried=total.retried + r.retried,
            dead=total.dead + r.dead,
        )
        if r.claimed < BATCH:
            return total


async def pending_count(svc: Services) -> int:
    async with svc.store.begin() as tx:
        return await tx.webhooks.count(status="pending")


async def webhook_loop(svc: Services, interval: float) -> None:
    """Every `interval` seconds: send what is due. Errors are logged and the loop goes on."""
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        while True:
            await asyncio.sleep(interval)
            try:
                await deliver_all_due(svc, client=client)
                metrics.set_webhook_pending(await pending_count(svc))
            except Exception:
                log.exception("webhook delivery round failed")
