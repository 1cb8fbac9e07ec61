"""Password resets: one row per request, addressed by a hashed token (see `flows/reset.py`).

`code_hash` holds the emailed code's HMAC until the reset is verified; from then on it holds the
reset's second-step state: `STEP_DONE` (nothing more to pass: the new password may be set),
`STEP_PENDING` (a second factor is still needed) or the HMAC of an SMS code sent for that step.
Every change that must not race is one conditional UPDATE: counting a try only while tries are
left and the reset is open, verifying once, moving the step only from the state it was read in
(compare-and-set), and using the reset once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t

STEP_DONE = "done"
STEP_PENDING = "second_step"


@dataclass(frozen=True, slots=True)
class PasswordReset:
    id: int
    account_id: int
    token_hash: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    verified_at: datetime | None
    used_at: datetime | None
    ip: str

    def open_at(self, now: datetime, *, max_attempts: int) -> bool:
        return self.used_at is None and now < self.expires_at and self.attempts < max_attempts

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def step_done(self) -> bool:
        return self.verified and self.code_hash == STEP_DONE


def _reset(row: Row[Any]) -> PasswordReset:
    return PasswordReset(
        id=row.id,
        account_id=row.account_id,
        token_hash=row.token_hash,
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
        verified_at=row.verified_at,
        used_at=row.used_at,
        ip=row.ip,
    )


class Resets:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        account_id: int,
        token_hash: str,
        code_hash: str,
        now: datetime,
        expires_at: datetime,
        ip: str,
        verified: bool = False,
    ) -> int:
        """A new reset; `verified` for a forced reset that already passed the login's steps."""
        res = await self.conn.execute(
            insert(t.password_resets).values(
                account_id=account_id,
                token_hash=token_hash,
                code_hash=code_hash,
                created_at=now,
                expires_at=expires_at,
                verified_at=now if verified else None,
                ip=ip[:45],
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def by_token_hash(self, token_hash: str) -> PasswordReset | None:
        row = (
            await self.conn.execute(
                select(t.password_resets).where(t.password_resets.c.token_hash == token_hash)
            )
        ).first()
        return _reset(row) if row else None

    async def count_try(self, reset_id: int, *, now: datetime, max_attempts: int) -> int | None:
        """Count one try if the reset is open; the tries used so far, or None if it was not
        open (used, expired or out of tries)."""
        c = t.password_resets.c
        row = (
            await self.conn.execute(
                update(t.password_resets)
                .where(
                    c.id == reset_id,
                    c.used_at.is_(None),
                    c.expires_at > now,
                    c.attempts < max_attempts,
                )
                .values(attempts=c.attempts + 1)
                .returning(c.attempts)
            )
        ).first()
        return int(row[0]) if row else None

    async def verify(
        self, reset_id: int, *, now: datetime, step: str, token_hash: str | None = None
    ) -> bool:
        """Mark an open, unverified reset verified with its second-step state `step`, and give
        it a new token hash when one is given (the link's browser gets a fresh handle). False
        when it was verified (or used, or expired) a moment ago: verification happens once."""
        c = t.password_resets.c
        values: dict[str, Any] = {"verified_at": now, "code_hash": step}
        if token_hash is not None:
            values["token_hash"] = token_hash
        result = await self.conn.execute(
            update(t.password_resets)
            .where(
                c.id == reset_id,
                c.verified_at.is_(None),
                c.used_at.is_(None),
                c.expires_at > now,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def set_step(self, reset_id: int, *, now: datetime, expected: str, step: str) -> bool:
        """Move a verified, open reset's second-step state from `expected` to `step`
        (compare-and-set: of two concurrent moves from one state, one wins)."""
        c = t.password_resets.c
        result = await self.conn.execute(
            update(t.password_resets)
            .where(
                c.id == reset_id,
                c.verified_at.is_not(None),
                c.used_at.is_(None),
                c.expires_at > now,
                c.code_hash == expected,
            )
            .values(code_hash=step)
        )
        return bool(result.rowcount)

    async def use(self, reset_id: int, *, now: datetime) -> bool:
        """Use a verified reset whose second step is done, once: False if it is not ready, has
        expired, or another request used it first."""
        c = t.password_resets.c
        result = await self.conn.execute(
            update(t.password_resets)
            .where(
                c.id == reset_id,
                c.verified_at.is_not(None),
                c.used_at.is_(None),
                c.expires_at > now,
                c.code_hash == STEP_DONE,
            )
            .values(used_at=now)
        )
        return bool(result.rowcount)

    async def expire_open(self, account_id: int, *, now: datetime) -> int:
        """End every other open reset of an account (its password was just set)."""
        c = t.password_resets.c
        result = await self.conn.execute(
            update(t.password_resets)
            .where(c.account_id == account_id, c.used_at.is_(None), c.expires_at > now)
            .values(expires_at=now)
        )
        return int(result.rowcount or 0)

    async def purge(self, *, before: datetime) -> int:
        """Delete resets that expired before `before` (kept a while for investigation)."""
        result = await self.conn.execute(
            delete(t.password_resets).where(t.password_resets.c.expires_at < before)
        )
        return int(result.rowcount or 0)
