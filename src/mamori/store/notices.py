"""Notices: the in-app security inbox (every notice kept), notice codes, "this wasn't me"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    id: int
    account_id: int
    kind: str
    created_at: datetime
    channels: tuple[str, ...]
    params: dict[str, Any]
    event_id: int | None
    device_id: int | None
    session_id: int | None
    read_at: datetime | None
    action_expires_at: datetime | None
    feedback: str
    feedback_at: datetime | None

    @property
    def has_action(self) -> bool:
        return self.action_expires_at is not None


def _notice(row: Row[Any]) -> NoticeRecord:
    return NoticeRecord(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        created_at=row.created_at,
        channels=tuple(c for c in row.channels.split(",") if c),
        params=json.loads(row.params or "{}"),
        event_id=row.event_id,
        device_id=row.device_id,
        session_id=row.session_id,
        read_at=row.read_at,
        action_expires_at=row.action_expires_at,
        feedback=row.feedback,
        feedback_at=row.feedback_at,
    )


class Notices:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        *,
        account_id: int,
        kind: str,
        code_hash: str,
        now: datetime,
        channels: tuple[str, ...],
        params: dict[str, Any],
        event_id: int | None = None,
        device_id: int | None = None,
        session_id: int | None = None,
        action_hash: str | None = None,
        action_expires_at: datetime | None = None,
    ) -> int:
        res = await self.conn.execute(
            insert(t.notices).values(
                account_id=account_id,
                kind=kind,
                code_hash=code_hash,
                created_at=now,
                channels=",".join(channels),
                params=json.dumps(params, ensure_ascii=False, sort_keys=True),
                event_id=event_id,
                device_id=device_id,
                session_id=session_id,
                action_hash=action_hash,
                action_expires_at=action_expires_at,
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def get(self, notice_id: int) -> NoticeRecord | None:
        row = (
            await self.conn.execute(select(t.notices).where(t.notices.c.id == notice_id))
        ).first()
        return _notice(row) if row else None

    async def by_code_hash(self, code_hash: str) -> NoticeRecord | None:
        row = (
            await self.conn.execute(select(t.notices).where(t.notices.c.code_hash == code_hash))
        ).first()
        return _notice(row) if row else None

    async def by_action_hash(self, action_hash: str) -> NoticeRecord | None:
        row = (
            await self.conn.execute(select(t.notices).where(t.notices.c.action_hash == action_hash))
        ).first()
        return _notice(row) if row else None

    async def for_account(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[NoticeRecord]:
        stmt = select(t.notices).where(t.notices.c.account_id == account_id)
        if before_id is not None:
            stmt = stmt.where(t.notices.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(t.notices.c.id.desc()).limit(limit))
        return [_notice(r) for r in rows]

    async def unread(self, account_id: int) -> int:
        c = t.notices.c
        stmt = select(func.count()).where(c.account_id == account_id, c.read_at.is_(None))
        return int((await self.conn.execute(stmt)).scalar_one())

    async def mark_read(
        self, account_id: int, *, now: datetime, notice_id: int | None = None
    ) -> int:
        c = t.notices.c
        stmt = update(t.notices).where(c.account_id == account_id, c.read_at.is_(None))
        if notice_id is not None:
            stmt = stmt.where(c.id == notice_id)
        return int((await self.conn.execute(stmt.values(read_at=now))).rowcount or 0)

    async def take_action(self, notice_id: int, *, now: datetime, feedback: str) -> bool:
        """Record feedback once: True only for the first answer while the action is valid
        ("this wasn't me" links are single use)."""
        c = t.notices.c
        result = await self.conn.execute(
            update(t.notices)
            .where(c.id == notice_id, c.feedback == "")
            .values(feedback=feedback, feedback_at=now, action_hash=None)
        )
        return bool(result.rowcount)
