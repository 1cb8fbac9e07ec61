"""The audit log: every operator action (who, what, when, why)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str  # "operator:<name>", "token:<name>", "cli:<user>"
    action: str
    target: str
    reason: str
    details: dict[str, Any]


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        reason=row.reason,
        details=json.loads(row.details or "{}"),
    )


class Audit:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        target: str = "",
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> int:
        res = await self.conn.execute(
            insert(t.audit_log).values(
                at=at,
                actor=actor[:80],
                action=action[:64],
                target=target[:255],
                reason=reason,
                details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def recent(
        self, *, limit: int = 100, before_id: int | None = None, actor: str | None = None
    ) -> list[AuditEntry]:
        stmt = select(t.audit_log)
        if before_id is not None:
            stmt = stmt.where(t.audit_log.c.id < before_id)
        if actor is not None:
            stmt = stmt.where(t.audit_log.c.actor == actor)
        rows = await self.conn.execute(stmt.order_by(t.audit_log.c.id.desc()).limit(limit))
        return [_entry(r) for r in rows]
