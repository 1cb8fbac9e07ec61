"""Login challenges: the second step of one login attempt, addressed by a hashed public id.

Every change that must not race is one conditional UPDATE: counting a try only while tries are
left and the challenge is open, ending it only once, and sending a new code only while resends
are left and the interval has passed. Whether the password behind a challenge was right is a
column the flow reads and never reveals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    token_hash: str
    account_id: int | None
    login_key: str
    password_ok: bool
    device_hash: str
    remember: bool
    strict: bool
    methods: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    attempts: int
    max_attempts: int
    resends: int
    last_sent_at: datetime | None
    code_hash: str
    code_channel: str
    ended_at: datetime | None
    ended_reason: str
    ip: str
    decision: dict[str, Any]

    def open_at(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at and self.attempts < self.max_attempts


def _challenge(row: Row[Any]) -> Challenge:
    return Challenge(
        id=row.id,
        token_hash=row.token_hash,
        account_id=row.account_id,
        login_key=row.login_key,
        password_ok=bool(row.password_ok),
        device_hash=row.device_hash,
        remember=bool(row.remember),
        strict=bool(row.strict),
        methods=tuple(m for m in row.methods.split(",") if m),
        created_at=row.created_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        resends=row.resends,
        last_sent_at=row.last_sent_at,
        code_hash=row.code_hash,
        code_channel=row.code_channel,
        ended_at=row.ended_at,
        ended_reason=row.ended_reason,
        ip=row.ip,
        decision=json.loads(row.decision or "{}"),
    )


class Challenges:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        token_hash: str,
        account_id: int | None,
        login_key: str,
        password_ok: bool,
        device_hash: str,
        remember: bool,
        strict: bool,
        methods: tuple[str, ...],
        now: datetime,
        expires_at: datetime,
        max_attempts: int,
        code_hash: str,
        code_channel: str,
        ip: str,
        decision: dict[str, Any],
    ) -> int:
        res = await self.conn.execute(
            insert(t.challenges).values(
                token_hash=token_hash,
                account_id=account_id,
                login_key=login_key[:128],
                password_ok=password_ok,
                device_hash=device_hash,
                remember=remember,
                strict=strict,
                methods=",".join(methods),
                created_at=now,
                expires_at=expires_at,
                max_attempts=max_attempts,
                code_hash=code_hash,
                code_channel=code_channel,
                last_sent_at=now if code_channel else None,
                ip=ip[:45],
                decision=json.dumps(decision, separators=(",", ":"), sort_keys=True),
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def by_token_hash(self, token_hash: str) -> Challenge | None:
        row = (
            await self.conn.execute(
                select(t.challenges).where(t.challenges.c.token_hash == token_hash)
            )
        ).first()
        return _challenge(row) if row else None

    async def count_try(self, challenge_id: int, *, now: datetime) -> int | None:
        """Count one try if the challenge is open; the tries used so far, or None if it was not
        open (ended, expired or out of tries)."""
        c = t.challenges.c
        row = (
            await self.conn.execute(
                update(t.challenges)
                .where(
                    c.id == challenge_id,
                    c.ended_at.is_(None),
                    c.expires_at > now,
                    c.attempts < c.max_attempts,
                )
                .values(attempts=c.attempts + 1)
                .returning(c.attempts)
            )
        ).first()
        return int(row[0]) if row else None

    async def end(self, challenge_id: int, *, now: datetime, reason: str) -> bool:
        """End an open challenge; False if it had already ended (so success happens once)."""
        c = t.challenges.c
        result = await self.conn.execute(
            update(t.challenges)
            .where(c.id == challenge_id, c.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason[:16])
        )
        return bool(result.rowcount)

    async def new_code(
        self,
        challenge_id: int,
        *,
        now: datetime,
        code_hash: str,
        channel: str,
        expires_at: datetime,
        max_resends: int,
        sent_before: datetime,
    ) -> bool:
        """Replace the code (a resend) if the challenge is open, resends are left and the last
        code went out before `sent_before`; the new code extends the challenge to `expires_at`."""
        c = t.challenges.c
        result = await self.conn.execute(
            update(t.challenges)
            .where(
                c.id == challenge_id,
                c.ended_at.is_(None),
                c.expires_at > now,
                c.attempts < c.max_attempts,
                c.resends < max_resends,
                (c.last_sent_at.is_(None)) | (c.last_sent_at <= sent_before),
            )
            .values(
                resends=c.resends + 1,
                last_sent_at=now,
                code_hash=code_hash,
                code_channel=channel,
                expires_at=expires_at,
            )
        )
        return bool(result.rowcount)

    async def purge(self, *, before: datetime) -> int:
        """Delete challenges that expired before `before` (kept a while for investigation)."""
        result = await self.conn.execute(
            delete(t.challenges).where(t.challenges.c.expires_at < before)
        )
        return int(result.rowcount or 0)
