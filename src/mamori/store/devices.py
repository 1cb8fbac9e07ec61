"""Recognized devices: device cookies bound to accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    ClientContext,
    Device,
)
from mamori.store import tables as t


def _device(row: Row[Any]) -> Device:
    return Device(
        id=row.id,
        device_hash=row.device_hash,
        account_id=row.account_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        last_ip=row.last_ip,
        browser=row.browser,
        os=row.os,
        device_type=row.device_type,
        country=row.country,
        as_name=row.as_name,
    )


class Devices:
    """Browsers (device cookies) bound to accounts at a successful login or sign-up."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find(self, *, device_hash: str, account_id: int) -> Device | None:
        row = (
            await self.conn.execute(
                select(t.devices).where(
                    t.devices.c.device_hash == device_hash, t.devices.c.account_id == account_id
                )
            )
        ).first()
        return _device(row) if row else None

    async def bind(
        self, *, device_hash: str, account_id: int, client: ClientContext, now: datetime
    ) -> Device:
        dialect = self.conn.dialect.name
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(t.devices)
        seen = {
            "last_seen_at": now,
            "last_ip": client.ip,
            "user_agent": client.user_agent[:512],
            "browser": client.browser[:64],
            "os": client.os[:64],
            "device_type": client.device_type[:16],
            "country": client.country[:2],
            "as_name": client.as_name[:128],
        }
        stmt = (
            ins.values(device_hash=device_hash, account_id=account_id, created_at=now, **seen)
            .on_conflict_do_update(index_elements=["device_hash", "account_id"], set_=seen)
            .returning(*t.devices.c)
        )
        return _device((await self.conn.execute(stmt)).one())

    async def for_account(self, account_id: int) -> list[Device]:
        rows = await self.conn.execute(
            select(t.devices)
            .where(t.devices.c.account_id == account_id)
            .order_by(t.devices.c.last_seen_at.desc())
        )
        return [_device(r) for r in rows]
