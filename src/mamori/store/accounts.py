"""Accounts: create, look up by login key or email, password hash, restriction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.errors import Conflict
from mamori.models import (
    Account,
)
from mamori.store import tables as t
from mamori.store.direct import Direct, select_all, utc, utc_required

_A = {c.name: i for i, c in enumerate(t.accounts.columns)}


def _account(row: Sequence[Any]) -> Account:
    """An account from a row of every column in schema order: `select(t.accounts)`, or
    `columns(t.accounts)` through `Direct` (times as stored, booleans as 0/1 on SQLite)."""
    return Account(
        id=int(row[_A["id"]]),
        login_id=row[_A["login_id"]],
        email=row[_A["email"]],
        email_verified_at=utc(row[_A["email_verified_at"]]),
        phone=row[_A["phone"]],
        password_hash=row[_A["password_hash"]],
        language=row[_A["language"]],
        created_at=utc_required(row[_A["created_at"]]),
        password_changed_at=utc_required(row[_A["password_changed_at"]]),
        restricted_at=utc(row[_A["restricted_at"]]),
        restricted_reason=row[_A["restricted_reason"]],
        two_step_mode=row[_A["two_step_mode"]],
        two_step_forced=bool(row[_A["two_step_forced"]]),
        phone_verified_at=utc(row[_A["phone_verified_at"]]),
        password_reset_required=bool(row[_A["password_reset_required"]]),
        single_device=bool(row[_A["single_device"]]),
        last_login_at=utc(row[_A["last_login_at"]]),
        dormant_warned_at=utc(row[_A["dormant_warned_at"]]),
        suspended_at=utc(row[_A["suspended_at"]]),
    )


# the login path's statements, sent to the driver as written (store/direct.py)
_BY_LOGIN_KEY = select_all(t.accounts, "login_key = :login_key")
_TOUCH_LOGIN = (
    "UPDATE accounts SET last_login_at = :at, dormant_warned_at = NULL WHERE id = :account_id"
)
_BY_ID = select(t.accounts).where(t.accounts.c.id == bindparam("account_id"))


class Accounts:
    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

    async def create(
        self,
        *,
        login_id: str,
        login_key: str,
        email: str,
        phone: str | None,
        password_hash: str,
        language: str,
        now: datetime,
        two_step_mode: str = "new_devices",
    ) -> Account:
        values = {
            "login_id": login_id,
            "login_key": login_key,
            "email": email,
            "email_key": email.lower(),
            "phone": phone,
            "password_hash": password_hash,
            "language": language,
            "created_at": now,
            "password_changed_at": now,
            "two_step_mode": two_step_mode,
        }
        # A nested savepoint keeps the outer transaction usable after a unique violation.
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(insert(t.accounts).values(**values))
        except IntegrityError as exc:
            taken = await self.conn.execute(
                select(t.accounts.c.id).where(t.accounts.c.login_key == login_key)
            )
            if taken.first() is not None:
                raise Conflict(
                    "login ID is taken", code="login_id_taken", field="login_id"
                ) from exc
            raise Conflict("email address is taken", code="email_taken", field="email") from exc
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert new_id is not None
        account = await self.get(int(new_id))
        assert account is not None
        return account

    async def get(self, account_id: int) -> Account | None:
        row = (await self.conn.execute(_BY_ID, {"account_id": account_id})).first()
        return _account(row) if row else None

    async def by_login_key(self, login_key: str) -> Account | None:
        row = await self.direct.row(_BY_LOGIN_KEY, {"login_key": login_key})
        return _account(row) if row else None

    async def by_email(self, email: str) -> Account | None:
        row = (
            await self.conn.execute(
                select(t.accounts).where(t.accounts.c.email_key == email.lower())
            )
        ).first()
        return _account(row) if row else None

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[Account]:
        rows = await self.conn.execute(
            select(t.accounts).order_by(t.accounts.c.id).limit(limit).offset(offset)
        )
        return [_account(r) for r in rows]

    async def count(self) -> int:
        return int(
            (await self.conn.execute(select(func.count()).select_from(t.accounts))).scalar_one()
        )

    async def set_password_hash(
        self, account_id: int, *, password_hash: str, changed_at: datetime | None
    ) -> None:
        values: dict[str, Any] = {"password_hash": password_hash}
        if changed_at is not None:
            values["password_changed_at"] = changed_at
        await self.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(**values)
        )

    async def set_restriction(
        self, account_id: int, *, restricted_at: datetime | None, reason: str
    ) -> bool:
        result = await self.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(restricted_at=restricted_at, restricted_reason=reason[:255])
        )
        return bool(result.rowcount)

    async def mark_email_verified(self, account_id: int, *, at: datetime) -> None:
        await self.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id, t.accounts.c.email_verified_at.is_(None))
            .values(email_verified_at=at)
        )

    async def set_email(self, account_id: int, email: str, *, verified_at: datetime | None) -> None:
        """Set the email address (and its case-folded key) and when it was verified (None:
        unverified). Conflict `email_taken` when another account has the address."""
        stmt = (
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(email=email, email_key=email.lower(), email_verified_at=verified_at)
        )
        # A nested savepoint keeps the outer transaction usable after a unique violation.
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(stmt)
        except IntegrityError as exc:
            raise Conflict("email address is taken", code="email_taken", field="email") from exc

    async def set_two_step_mode(self, account_id: int, mode: str) -> None:
        await self.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(two_step_mode=mode)
        )

    async def set_two_step_forced(self, account_id: int, forced: bool) -> bool:
        result = await self.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(two_step_forced=forced)
        )
        return bool(result.rowcount)

    async def set_phone(
        self, account_id: int, *, phone: str | None, verified_at: datetime | None
    ) -> None:
        """Set (or clear, with None) the phone number and when it was verified."""
        await self.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(phone=phone, phone_verified_at=verified_at)
        )

    async def set_password_reset_required(self, account_id: int, required: bool) -> bool:
        result = await self.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(password_reset_required=required)
        )
        return bool(result.rowcount)

    async def set_single_device(self, account_id: int, on: bool) -> None:
        await self.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(single_device=on)
        )

    async def touch_login(self, account_id: int, *, at: datetime) -> None:
        """Record a successful login (what dormancy is measured from)."""
        await self.direct.run(_TOUCH_LOGIN, {"account_id": account_id, "at": self.direct.time(at)})

    async def lift_suspension(self, account_id: int) -> bool:
        """Reactivate a dormant account (after its owner reset the password)."""
        result = await self.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id, t.accounts.c.suspended_at.is_not(None))
            .values(suspended_at=None, dormant_warned_at=None)
        )
        return bool(result.rowcount)
