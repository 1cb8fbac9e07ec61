"""Server-side sessions: only token hashes are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    Session,
)
from mamori.store import tables as t


def _session(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_expires_at=row.idle_expires_at,
        absolute_expires_at=row.absolute_expires_at,
        remember=bool(row.remember),
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
        device_id=row.device_id,
    )


# built once; values are bound per call (no statement building on the request path)
_INSERT = insert(t.sessions)
_BY_TOKEN_HASH = select(t.sessions).where(t.sessions.c.token_hash == bindparam("token_hash"))
_TOUCH = (
    update(t.sessions)
    .where(t.sessions.c.id == bindparam("session_id"), t.sessions.c.revoked_at.is_(None))
    .values(last_seen_at=bindparam("now"), idle_expires_at=bindparam("idle_expires_at"))
)


class Sessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        token_hash: str,
        account_id: int,
        now: datetime,
        idle_expires_at: datetime,
        absolute_expires_at: datetime,
        remember: bool,
        ip: str,
        user_agent: str,
        device_id: int | None = None,
    ) -> Session:
        result = await self.conn.execute(
            _INSERT,
            {
                "token_hash": token_hash,
                "account_id": account_id,
                "created_at": now,
                "last_seen_at": now,
                "idle_expires_at": idle_expires_at,
                "absolute_expires_at": absolute_expires_at,
                "remember": remember,
                "ip": ip,
                "user_agent": user_agent[:512],
                "revoke_reason": "",
                "device_id": device_id,
            },
        )
        assert result.inserted_primary_key is not None
        return Session(
            id=int(result.inserted_primary_key[0]),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=idle_expires_at,
            absolute_expires_at=absolute_expires_at,
            remember=remember,
            ip=ip,
            user_agent=user_agent[:512],
            device_id=device_id,
        )

    async def by_token_hash(self, token_hash: str) -> Session | None:
        row = (await self.conn.execute(_BY_TOKEN_HASH, {"token_hash": token_hash})).first()
        return _session(row) if row else None

    async def touch(self, session_id: int, *, now: datetime, idle_expires_at: datetime) -> None:
        await self.conn.execute(
            _TOUCH, {"session_id": session_id, "now": now, "idle_expires_at": idle_expires_at}
        )

    async def revoke(self, session_id: int, *, now: datetime, reason: str) -> bool:
        result = await self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session_id, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(result.rowcount)

    async def revoke_all(
        self, account_id: int, *, now: datetime, reason: str, except_id: int | None = None
    ) -> int:
        stmt = update(t.sessions).where(
            t.sessions.c.account_id == account_id, t.sessions.c.revoked_at.is_(None)
        )
        if except_id is not None:
            stmt = stmt.where(t.sessions.c.id != except_id)
        result = await self.conn.execute(stmt.values(revoked_at=now, revoke_reason=reason))
        return int(result.rowcount or 0)

    async def active_for(self, account_id: int, *, now: datetime) -> list[Session]:
        rows = await self.conn.execute(
            select(t.sessions)
            .where(
                t.sessions.c.account_id == account_id,
                t.sessions.c.revoked_at.is_(None),
                t.sessions.c.idle_expires_at > now,
                t.sessions.c.absolute_expires_at > now,
            )
            .order_by(t.sessions.c.last_seen_at.desc())
        )
        return [_session(r) for r in rows]

    async def revoke_for_device(
        self, account_id: int, device_id: int, *, now: datetime, reason: str
    ) -> int:
        """End every open session of `account_id` created on the browser `device_id`."""
        c = t.sessions.c
        result = await self.conn.execute(
            update(t.sessions)
            .where(c.account_id == account_id, c.device_id == device_id, c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return int(result.rowcount or 0)
