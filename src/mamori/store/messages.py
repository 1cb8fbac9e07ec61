"""One-time codes (stored as HMACs) and the dev outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    Message,
    OutboxEntry,
)
from mamori.store import tables as t


class Codes:
    """One-time codes (email verification, later challenges). Only HMACs are stored."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace(
        self,
        *,
        account_id: int,
        purpose: str,
        target: str,
        code_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        await self.conn.execute(
            delete(t.codes).where(t.codes.c.account_id == account_id, t.codes.c.purpose == purpose)
        )
        res = await self.conn.execute(
            insert(t.codes).values(
                account_id=account_id,
                purpose=purpose,
                target=target,
                code_hash=code_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def current(self, *, account_id: int, purpose: str) -> Row[Any] | None:
        return (
            await self.conn.execute(
                select(t.codes).where(
                    t.codes.c.account_id == account_id,
                    t.codes.c.purpose == purpose,
                    t.codes.c.consumed_at.is_(None),
                )
            )
        ).first()

    async def add_attempt(self, code_id: int) -> int:
        """Atomically count one wrong try; returns the new count."""
        res = await self.conn.execute(
            update(t.codes)
            .where(t.codes.c.id == code_id)
            .values(attempts=t.codes.c.attempts + 1)
            .returning(t.codes.c.attempts)
        )
        return int(res.scalar_one())

    async def consume(self, code_id: int, *, now: datetime) -> bool:
        """Mark used; False if another request used it first (single use under concurrency)."""
        res = await self.conn.execute(
            update(t.codes)
            .where(t.codes.c.id == code_id, t.codes.c.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        return bool(res.rowcount)


class Outbox:
    """The dev outbox: every message the service would have sent (only while MAMORI_DEV=1)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, message: Message, *, at: datetime) -> int:
        res = await self.conn.execute(
            insert(t.outbox).values(
                at=at,
                channel=message.channel,
                recipient=message.to,
                subject=message.subject,
                body=message.body,
                kind=message.kind,
                account_id=message.account_id,
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def recent(self, *, limit: int = 100, to: str | None = None) -> list[OutboxEntry]:
        stmt = select(t.outbox)
        if to is not None:
            stmt = stmt.where(t.outbox.c.recipient == to)
        rows = await self.conn.execute(stmt.order_by(t.outbox.c.id.desc()).limit(limit))
        return [
            OutboxEntry(
                id=r.id,
                at=r.at,
                channel=r.channel,
                to=r.recipient,
                subject=r.subject,
                body=r.body,
                kind=r.kind,
                account_id=r.account_id,
            )
            for r in rows
        ]
