"""Second factors: an account's authenticator app (TOTP) and its recovery codes.

Only ciphertext (the TOTP key, sealed by `mamori.secretbox`) and HMACs (recovery codes) are
stored. Every state change that guards single use is ONE conditional statement, so two
concurrent requests presenting the same code cannot both pass:
- `TotpFactors.set_last_step`: UPDATE ... WHERE last_step IS NULL OR last_step < :step
- `RecoveryCodes.mark_used`:    UPDATE ... WHERE used_at IS NULL
(PostgreSQL re-checks the WHERE after waiting for the row lock; SQLite serializes writers.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t


@dataclass(frozen=True, slots=True)
class TotpFactor:
    id: int
    account_id: int
    secret_enc: str  # sealed; never the key in clear
    created_at: datetime
    confirmed_at: datetime | None  # None: enrollment started, not confirmed by a first code
    last_step: int | None  # the last accepted time step: codes at or before it are replays

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class RecoveryCode:
    id: int
    code_hash: str


def _factor(row: Row[Any]) -> TotpFactor:
    return TotpFactor(
        id=row.id,
        account_id=row.account_id,
        secret_enc=row.secret_enc,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        last_step=None if row.last_step is None else int(row.last_step),
    )


def _start_statement(insert_fn: Any) -> Any:
    ins = insert_fn(t.totp_factors)
    # a pending enrollment is replaced; a confirmed factor is left alone (nothing returned)
    return ins.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "secret_enc": ins.excluded.secret_enc,
            "created_at": ins.excluded.created_at,
            "confirmed_at": None,
            "last_step": None,
        },
        where=t.totp_factors.c.confirmed_at.is_(None),
    ).returning(*t.totp_factors.c)


_START = {"sqlite": _start_statement(sqlite_insert), "postgresql": _start_statement(pg_insert)}


class TotpFactors:
    """At most one authenticator app per account (unique account_id)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, account_id: int) -> TotpFactor | None:
        row = (
            await self.conn.execute(
                select(t.totp_factors).where(t.totp_factors.c.account_id == account_id)
            )
        ).first()
        return _factor(row) if row else None

    async def start(self, account_id: int, *, secret_enc: str, now: datetime) -> TotpFactor | None:
        """Start (or restart) an enrollment: the pending factor, or None when a confirmed
        factor already exists (it is never overwritten)."""
        stmt = _START[self.conn.dialect.name].values(
            account_id=account_id, secret_enc=secret_enc, created_at=now
        )
        row = (await self.conn.execute(stmt)).first()
        return _factor(row) if row else None

    async def confirm(self, *, factor_id: int, account_id: int, now: datetime, step: int) -> bool:
        """Confirm THIS pending enrollment (not one that replaced it), recording the step of the
        confirming code as used. False if it was replaced, removed or already confirmed."""
        result = await self.conn.execute(
            update(t.totp_factors)
            .where(
                t.totp_factors.c.id == factor_id,
                t.totp_factors.c.account_id == account_id,
                t.totp_factors.c.confirmed_at.is_(None),
            )
            .values(confirmed_at=now, last_step=step)
        )
        return bool(result.rowcount)

    async def set_last_step(self, account_id: int, step: int) -> bool:
        """Claim `step` as used, atomically: True for exactly one caller per step (and never for
        a step at or before the last one claimed)."""
        result = await self.conn.execute(
            update(t.totp_factors)
            .where(
                t.totp_factors.c.account_id == account_id,
                t.totp_factors.c.confirmed_at.is_not(None),
                or_(t.totp_factors.c.last_step.is_(None), t.totp_factors.c.last_step < step),
            )
            .values(last_step=step)
        )
        return bool(result.rowcount)

    async def delete(self, account_id: int) -> bool:
        result = await self.conn.execute(
            delete(t.totp_factors).where(t.totp_factors.c.account_id == account_id)
        )
        return bool(result.rowcount)


class RecoveryCodes:
    """Single-use recovery codes; only their HMACs are stored."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace_all(self, account_id: int, hashes: Sequence[str], *, now: datetime) -> None:
        """A new set: every older code, used or not, stops working."""
        await self.conn.execute(
            delete(t.recovery_codes).where(t.recovery_codes.c.account_id == account_id)
        )
        if hashes:
            await self.conn.execute(
                insert(t.recovery_codes),
                [{"account_id": account_id, "code_hash": h, "created_at": now} for h in hashes],
            )

    async def unused(self, account_id: int) -> list[RecoveryCode]:
        rows = await self.conn.execute(
            select(t.recovery_codes.c.id, t.recovery_codes.c.code_hash)
            .where(
                t.recovery_codes.c.account_id == account_id,
                t.recovery_codes.c.used_at.is_(None),
            )
            .order_by(t.recovery_codes.c.id)
        )
        return [RecoveryCode(id=r.id, code_hash=r.code_hash) for r in rows]

    async def mark_used(self, code_id: int, *, now: datetime) -> bool:
        """Use a code: True for exactly one caller, False if it was used (or replaced) already."""
        result = await self.conn.execute(
            update(t.recovery_codes)
            .where(t.recovery_codes.c.id == code_id, t.recovery_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)

    async def count_unused(self, account_id: int) -> int:
        return int(
            (
                await self.conn.execute(
                    select(func.count())
                    .select_from(t.recovery_codes)
                    .where(
                        t.recovery_codes.c.account_id == account_id,
                        t.recovery_codes.c.used_at.is_(None),
                    )
                )
            ).scalar_one()
        )

    async def delete_all(self, account_id: int) -> int:
        result = await self.conn.execute(
            delete(t.recovery_codes).where(t.recovery_codes.c.account_id == account_id)
        )
        return int(result.rowcount or 0)
