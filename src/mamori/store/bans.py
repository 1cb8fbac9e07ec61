"""Durable bans on an IP, a CIDR or a network."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    Ban,
)
from mamori.store import tables as t


def _ban(row: Row[Any]) -> Ban:
    return Ban(
        id=row.id,
        kind=row.kind,
        value=row.value,
        reason=row.reason,
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        strikes=row.strikes,
        details=json.loads(row.details or "{}"),
    )


class Bans:
    """Durable bans on an IP, a CIDR or a network, one row per (kind, value)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def upsert(
        self,
        *,
        kind: str,
        value: str,
        reason: str,
        origin: str,
        now: datetime,
        expires_at: datetime | None,
        details: dict[str, Any] | None = None,
    ) -> Ban:
        """Add a ban, or renew an existing one: the later expiry wins (None = until lifted), a
        renewal after expiry counts one more strike. One atomic statement."""
        dialect = self.conn.dialect.name
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(t.bans)
        stmt = ins.values(
            kind=kind,
            value=value,
            reason=reason[:255],
            origin=origin,
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            strikes=1,
            details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        )
        cur = t.bans.c
        new = stmt.excluded
        was_expired = cur.expires_at.is_not(None) & (cur.expires_at <= now)
        later = case(
            (cur.expires_at.is_(None) | new.expires_at.is_(None), None),
            (new.expires_at > cur.expires_at, new.expires_at),
            else_=cur.expires_at,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[cur.kind, cur.value],
            set_={
                "reason": new.reason,
                "origin": new.origin,
                "updated_at": new.updated_at,
                "expires_at": case((was_expired, new.expires_at), else_=later),
                "strikes": case((was_expired, cur.strikes + 1), else_=cur.strikes),
                "details": new.details,
            },
        ).returning(*t.bans.c)
        row = (await self.conn.execute(upsert)).one()
        return _ban(row)

    async def active(self, *, now: datetime) -> list[Ban]:
        rows = await self.conn.execute(
            select(t.bans)
            .where((t.bans.c.expires_at.is_(None)) | (t.bans.c.expires_at > now))
            .order_by(t.bans.c.id)
        )
        return [_ban(r) for r in rows]

    async def get(self, *, kind: str, value: str) -> Ban | None:
        row = (
            await self.conn.execute(
                select(t.bans).where(t.bans.c.kind == kind, t.bans.c.value == value)
            )
        ).first()
        return _ban(row) if row else None

    async def remove(self, *, kind: str, value: str) -> bool:
        result = await self.conn.execute(
            delete(t.bans).where(t.bans.c.kind == kind, t.bans.c.value == value)
        )
        return bool(result.rowcount)

    async def version(self) -> tuple[int, datetime | None]:
        """(row count, latest update): changes whenever a ban is added, renewed or removed."""
        row = (await self.conn.execute(select(func.count(), func.max(t.bans.c.updated_at)))).one()
        return int(row[0]), row[1]
