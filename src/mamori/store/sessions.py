"""Server-side sessions: only token hashes are stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    Session,
)
from mamori.store import tables as t
from mamori.store.direct import Direct, insert, select_all, utc, utc_required

_S = {c.name: i for i, c in enumerate(t.sessions.columns)}


def _session(row: Sequence[Any]) -> Session:
    """A session from a row of every column in schema order (see `accounts._account`)."""
    return Session(
        id=int(row[_S["id"]]),
        account_id=int(row[_S["account_id"]]),
        created_at=utc_required(row[_S["created_at"]]),
        last_seen_at=utc_required(row[_S["last_seen_at"]]),
        idle_expires_at=utc_required(row[_S["idle_expires_at"]]),
        absolute_expires_at=utc_required(row[_S["absolute_expires_at"]]),
        remember=bool(row[_S["remember"]]),
        ip=row[_S["ip"]],
        user_agent=row[_S["user_agent"]],
        revoked_at=utc(row[_S["revoked_at"]]),
        device_id=row[_S["device_id"]],
    )


# every request with a session runs these: sent to the driver as written (store/direct.py)
_CREATED = (
    "token_hash",
    "account_id",
    "created_at",
    "last_seen_at",
    "idle_expires_at",
    "absolute_expires_at",
    "remember",
    "ip",
    "user_agent",
    "revoke_reason",
    "device_id",
)
_INSERT = insert(t.sessions, _CREATED, returning="id")
_BY_TOKEN_HASH = select_all(t.sessions, "token_hash = :token_hash")
_TOUCH = (
    "UPDATE sessions SET last_seen_at = :now, idle_expires_at = :idle_expires_at "
    "WHERE id = :session_id AND revoked_at IS NULL"
)


class Sessions:
    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

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
        time = self.direct.time
        row = await self.direct.row(
            _INSERT,
            {
                "token_hash": token_hash,
                "account_id": account_id,
                "created_at": time(now),
                "last_seen_at": time(now),
                "idle_expires_at": time(idle_expires_at),
                "absolute_expires_at": time(absolute_expires_at),
                "remember": remember,
                "ip": ip,
                "user_agent": user_agent[:512],
                "revoke_reason": "",
                "device_id": device_id,
            },
        )
        assert row is not None
        return Session(
            id=int(row[0]),
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
        row = await self.direct.row(_BY_TOKEN_HASH, {"token_hash": token_hash})
        return _session(row) if row else None

    async def touch(self, session_id: int, *, now: datetime, idle_expires_at: datetime) -> None:
        time = self.direct.time
        await self.direct.run(
            _TOUCH,
            {
                "session_id": session_id,
                "now": time(now),
                "idle_expires_at": time(idle_expires_at),
            },
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
