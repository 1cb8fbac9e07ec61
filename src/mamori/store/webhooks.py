"""The durable webhook queue: one `webhook_deliveries` row per (security event, target URL).

Rows are written by `Events.add` in the transaction that records the event (so an event that
is rolled back is never sent, and one that commits is never lost), and sent by
`flows/webhooks.deliver_due`. A sender *claims* due rows with a lease (`locked_until`) in one
atomic UPDATE, commits, sends, and then records the outcome; a row whose sender died becomes
due again when its lease runs out (delivery is at least once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t

STATUSES = ("pending", "delivered", "dead")
_W = t.webhook_deliveries
_INSERT = insert(_W)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where security events go: the URL, and the event types wanted (empty: every type)."""

    url: str = field(repr=False)  # may carry a token
    events: frozenset[str] = frozenset()

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: int | None
    event_type: str
    url: str = field(repr=False)
    payload: str = field(repr=False)
    created_at: datetime
    status: str  # pending | delivered | dead
    attempts: int  # counted when claimed
    next_attempt_at: datetime
    locked_until: datetime | None  # a sender's lease
    delivered_at: datetime | None
    last_error: str


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        url=row.url,
        payload=row.payload,
        created_at=row.created_at,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        locked_until=row.locked_until,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_payload(event_id: int, event: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """The JSON body for one security event (`event`: the `security_events` column values).

    Personal data, on purpose: the account ID, the login ID as entered (case-folded) and the
    client IP, with its country and network, and the browser/OS/device type — what a receiver
    (the operator's SIEM or chat-ops) needs to act on an event. Not the raw user agent. The
    details are the event's own (never a password, a code or a token: events do not hold them).
    """
    body = {
        "id": event_id,
        "type": event["type"],
        "at": _iso(event["at"]),
        "result": event["result"],
        "reason": event["reason"],
        "account_id": event["account_id"],
        "login_id": event["login_id"],
        "ip": event["ip"],
        "country": event["country"],
        "asn": event["asn"],
        "as_name": event["as_name"],
        "browser": event["browser"],
        "os": event["os"],
        "device_type": event["device_type"],
        "details": dict(details),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


class Webhooks:
    """The queue's repository. `target` (set on the Store by boot) decides what is enqueued."""

    def __init__(self, conn: AsyncConnection, target: WebhookTarget | None = None) -> None:
        self.conn = conn
        self.target = target

    async def on_event(
        self, event_id: int, event: Mapping[str, Any], details: Mapping[str, Any]
    ) -> int | None:
        """Enqueue the event just added (same transaction) when a target wants its type."""
        target = self.target
        if target is None or not target.wants(str(event["type"])):
            return None
        return await self.enqueue(
            event_id=event_id,
            event_type=str(event["type"]),
            url=target.url,
            payload=event_payload(event_id, event, details),
            now=event["at"],
        )

    async def enqueue(
        self, *, event_id: int | None, event_type: str, url: str, payload: str, now: datetime
    ) -> int:
        res = await self.conn.execute(
            _INSERT,
            {
                "event_id": event_id,
                "event_type": event_type[:40],
                "url": url,
                "payload": payload,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
            },
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Lease up to `limit` due rows (pending, next attempt reached, no live lease) until
        `lease_until`, counting the attempt. One UPDATE: a row is claimed by one sender only
        (PostgreSQL re-checks the conditions on a row another sender just updated; SQLite
        runs one writer at a time). Commit before sending, so other senders see the lease."""
        due = and_(
            _W.c.status == "pending",
            _W.c.next_attempt_at <= now,
            or_(_W.c.locked_until.is_(None), _W.c.locked_until < now),
        )
        candidates = select(_W.c.id).where(due).order_by(_W.c.next_attempt_at, _W.c.id).limit(limit)
        stmt = (
            update(_W)
            .where(_W.c.id.in_(candidates), due)
            .values(locked_until=lease_until, attempts=_W.c.attempts + 1)
            .returning(*_W.c)
        )
        rows = (await self.conn.execute(stmt)).all()
        return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

    async def mark_delivered(self, delivery_id: int, *, now: datetime) -> bool:
        res = await self.conn.execute(
            update(_W)
            .where(_W.c.id == delivery_id, _W.c.status == "pending")
            .values(status="delivered", delivered_at=now, locked_until=None, last_error="")
        )
        return bool(res.rowcount)

    async def mark_failed(
        self,
        delivery_id: int,
        *,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
        dead: bool,
    ) -> bool:
        """Record a failed attempt, if this sender still holds the lease (else another sender
        has taken the row over and will record its own outcome)."""
        res = await self.conn.execute(
            update(_W)
            .where(
                _W.c.id == delivery_id,
                _W.c.status == "pending",
                _W.c.locked_until == lease_until,
            )
            .values(
                status="dead" if dead else "pending",
                next_attempt_at=next_attempt_at,
                locked_until=None,
                last_error=error[:255],
            )
        )
        return bool(res.rowcount)

    async def retry(self, delivery_id: int, *, now: datetime) -> bool:
        """Give a dead (or pending) row a fresh set of attempts, due now."""
        res = await self.conn.execute(
            update(_W)
            .where(_W.c.id == delivery_id, _W.c.status != "delivered")
            .values(status="pending", attempts=0, next_attempt_at=now, locked_until=None)
        )
        return bool(res.rowcount)

    async def list(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        stmt = select(_W)
        if status is not None:
            stmt = stmt.where(_W.c.status == status)
        rows = await self.conn.execute(stmt.order_by(_W.c.id.desc()).limit(limit))
        return [_delivery(r) for r in rows]

    async def get(self, delivery_id: int) -> Delivery | None:
        row = (await self.conn.execute(select(_W).where(_W.c.id == delivery_id))).first()
        return _delivery(row) if row is not None else None

    async def count(self, *, status: str | None = None) -> int:
        stmt = select(func.count()).select_from(_W)
        if status is not None:
            stmt = stmt.where(_W.c.status == status)
        return int((await self.conn.execute(stmt)).scalar_one())
