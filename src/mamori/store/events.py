"""Security events: every authentication decision, durable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    ClientContext,
    SecurityEvent,
)
from mamori.store import tables as t
from mamori.store.direct import Direct, insert
from mamori.store.webhooks import Webhooks


def _event(row: Row[Any]) -> SecurityEvent:
    return SecurityEvent(
        id=row.id,
        at=row.at,
        type=row.type,
        result=row.result,
        reason=row.reason,
        account_id=row.account_id,
        login_id=row.login_id,
        ip=row.ip,
        user_agent=row.user_agent,
        browser=row.browser,
        os=row.os,
        device_type=row.device_type,
        country=row.country,
        asn=row.asn,
        as_name=row.as_name,
        details=json.loads(row.details or "{}"),
    )


# every login adds one: sent to the driver as written (store/direct.py)
_COLUMNS = tuple(c.name for c in t.security_events.columns if c.name != "id")
_INSERT = insert(t.security_events, _COLUMNS, returning="id")


class Events:
    def __init__(
        self, conn: AsyncConnection, direct: Direct, *, webhooks: Webhooks | None = None
    ) -> None:
        self.conn = conn
        self.direct = direct
        self.webhooks = webhooks  # enqueues wanted events in this transaction
        # (type, result, reason, details) of each event added: counted in the metrics after
        # COMMIT (Store.begin), so a rolled-back event is never counted
        self.added: list[tuple[str, str, str, dict[str, Any]]] = []

    async def add(
        self,
        *,
        at: datetime,
        type: str,
        client: ClientContext,
        result: str = "",
        reason: str = "",
        account_id: int | None = None,
        login_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> int:
        values: dict[str, Any] = {
            "at": at,
            "type": type,
            "result": result,
            "reason": reason,
            "account_id": account_id,
            "login_id": login_id[:128],
            "ip": client.ip,
            "asn": client.asn,
            **t.client_columns(client),
            "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        }
        row = await self.direct.row(_INSERT, {**values, "at": self.direct.time(at)})
        assert row is not None
        event_id = int(row[0])
        self.added.append((str(type), result, reason, details or {}))
        if self.webhooks is not None:
            await self.webhooks.on_event(event_id, values, details or {})
        return event_id

    async def for_account(
        self,
        account_id: int,
        *,
        types: Sequence[str] | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[SecurityEvent]:
        stmt = select(t.security_events).where(t.security_events.c.account_id == account_id)
        if types:
            stmt = stmt.where(t.security_events.c.type.in_(list(types)))
        if before_id is not None:
            stmt = stmt.where(t.security_events.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(t.security_events.c.id.desc()).limit(limit))
        return [_event(r) for r in rows]

    async def recent(self, *, limit: int = 100) -> list[SecurityEvent]:
        rows = await self.conn.execute(
            select(t.security_events).order_by(t.security_events.c.id.desc()).limit(limit)
        )
        return [_event(r) for r in rows]

    async def count(self, *, type: str | None = None, login_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(t.security_events)
        if type is not None:
            stmt = stmt.where(t.security_events.c.type == type)
        if login_id is not None:
            stmt = stmt.where(t.security_events.c.login_id == login_id)
        return int((await self.conn.execute(stmt)).scalar_one())
