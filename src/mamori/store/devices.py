"""Recognized devices: device cookies bound to accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import (
    ClientContext,
    Device,
)
from mamori.store import tables as t
from mamori.store.direct import Direct, columns, insert, select_all, utc, utc_required

_D = {c.name: i for i, c in enumerate(t.devices.columns)}


def _client_columns(client: ClientContext) -> dict[str, str]:
    """What a binding stores of the client that last used it."""
    return {"last_ip": client.ip, **t.client_columns(client)}


def shows_client(device: Device, client: ClientContext) -> bool:
    """The binding already stores what `bind` would write of `client`."""
    stored = {
        "last_ip": device.last_ip,
        "user_agent": device.user_agent,
        "browser": device.browser,
        "os": device.os,
        "device_type": device.device_type,
        "country": device.country,
        "as_name": device.as_name,
    }
    return stored == _client_columns(client)


def _device(row: Sequence[Any]) -> Device:
    """A device from a row of every column in schema order (see `accounts._account`)."""
    return Device(
        id=int(row[_D["id"]]),
        device_hash=row[_D["device_hash"]],
        account_id=int(row[_D["account_id"]]),
        created_at=utc_required(row[_D["created_at"]]),
        last_seen_at=utc_required(row[_D["last_seen_at"]]),
        last_ip=row[_D["last_ip"]],
        browser=row[_D["browser"]],
        os=row[_D["os"]],
        device_type=row[_D["device_type"]],
        country=row[_D["country"]],
        as_name=row[_D["as_name"]],
        trusted_until=utc(row[_D["trusted_until"]]),
        ask_again=bool(row[_D["ask_again"]]),
        user_agent=row[_D["user_agent"]],
    )


# the login path's statements, sent to the driver as written (store/direct.py)
_FIND = select_all(t.devices, "device_hash = :device_hash AND account_id = :account_id")
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
_INSERTED = ("device_hash", "account_id", "created_at", "ask_again", *_SEEN)
# a device stays known once known: "ask again" only while every binding asked for it
_BIND = insert(
    t.devices,
    _INSERTED,
    then="ON CONFLICT (device_hash, account_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _SEEN)
    + ", ask_again = devices.ask_again AND excluded.ask_again",
    returning=columns(t.devices),
)


class Devices:
    """Browsers (device cookies) bound to accounts at a successful login or sign-up."""

    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

    async def find(self, *, device_hash: str, account_id: int) -> Device | None:
        row = await self.direct.row(_FIND, {"device_hash": device_hash, "account_id": account_id})
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
        at = self.direct.time(now)
        params = {
            "device_hash": device_hash,
            "account_id": account_id,
            "created_at": at,
            "ask_again": ask_again,
            "last_seen_at": at,
            **_client_columns(client),
        }
        row = await self.direct.row(_BIND, params)
        assert row is not None
        return _device(row)

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
