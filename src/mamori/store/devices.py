"""Recognized devices: device cookies bound to accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, select, update
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
        trusted_until=row.trusted_until,
        ask_again=bool(row.ask_again),
    )


_FIND = select(t.devices).where(
    t.devices.c.device_hash == bindparam("device_hash"),
    t.devices.c.account_id == bindparam("account_id"),
)
_SEEN = (
    "last_seen_at",
    "last_ip",
    "user_agent",
    "browser",
    "os",
    "device_type",
    "country",
    "as_name",
)


def _bind_statement(insert_fn: Any) -> Any:
    ins = insert_fn(t.devices)
    # a device stays known once known: "ask again" only while every binding asked for it
    ask_again = and_(t.devices.c.ask_again, ins.excluded.ask_again)
    return ins.on_conflict_do_update(
        index_elements=["device_hash", "account_id"],
        set_={**{name: ins.excluded[name] for name in _SEEN}, "ask_again": ask_again},
    ).returning(*t.devices.c)


# built once per dialect; values are bound per call
_BIND = {"sqlite": _bind_statement(sqlite_insert), "postgresql": _bind_statement(pg_insert)}


class Devices:
    """Browsers (device cookies) bound to accounts at a successful login or sign-up."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find(self, *, device_hash: str, account_id: int) -> Device | None:
        row = (
            await self.conn.execute(_FIND, {"device_hash": device_hash, "account_id": account_id})
        ).first()
        return _device(row) if row else None

    async def bind(
        self,
        *,
        device_hash: str,
        account_id: int,
        client: ClientContext,
        now: datetime,
        ask_again: bool = False,
    ) -> Device:
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
        stmt = _BIND[self.conn.dialect.name]
        params = {
            "device_hash": device_hash,
            "account_id": account_id,
            "created_at": now,
            "ask_again": ask_again,
            **seen,
        }
        return _device((await self.conn.execute(stmt, params)).one())

    async def for_account(self, account_id: int) -> list[Device]:
        rows = await self.conn.execute(
            select(t.devices)
            .where(t.devices.c.account_id == account_id)
            .order_by(t.devices.c.last_seen_at.desc())
        )
        return [_device(r) for r in rows]

    async def get(self, *, device_id: int, account_id: int) -> Device | None:
        row = (
            await self.conn.execute(
                select(t.devices).where(
                    t.devices.c.id == device_id, t.devices.c.account_id == account_id
                )
            )
        ).first()
        return _device(row) if row else None

    async def trust(self, *, device_id: int, account_id: int, until: datetime | None) -> bool:
        """Trust a device until `until` ("don't ask again"), or stop trusting it (None)."""
        result = await self.conn.execute(
            update(t.devices)
            .where(t.devices.c.id == device_id, t.devices.c.account_id == account_id)
            .values(trusted_until=until)
        )
        return bool(result.rowcount)

    async def untrust_all(self, account_id: int) -> int:
        result = await self.conn.execute(
            update(t.devices)
            .where(t.devices.c.account_id == account_id, t.devices.c.trusted_until.is_not(None))
            .values(trusted_until=None)
        )
        return int(result.rowcount or 0)

    async def forget(self, *, device_id: int, account_id: int) -> bool:
        """Remove a device from the account: its cookie is no longer recognized for it."""
        result = await self.conn.execute(
            delete(t.devices).where(
                t.devices.c.id == device_id, t.devices.c.account_id == account_id
            )
        )
        return bool(result.rowcount)

    async def set_ask_again(self, *, device_id: int, account_id: int) -> None:
        """Treat the device as new again (after "this wasn't me")."""
        await self.conn.execute(
            update(t.devices)
            .where(t.devices.c.id == device_id, t.devices.c.account_id == account_id)
            .values(ask_again=True)
        )

    async def set_known(self, *, device_id: int, account_id: int) -> None:
        """Treat the device as the owner's (after "yes, it was me")."""
        await self.conn.execute(
            update(t.devices)
            .where(t.devices.c.id == device_id, t.devices.c.account_id == account_id)
            .values(ask_again=False)
        )
