"""Operators of the console, their sessions and their API tokens (only token hashes stored).

- `Operators.claim_totp_step`: UPDATE ... WHERE totp_last_step IS NULL OR totp_last_step < :step,
  so of two logins with one TOTP code only one succeeds (a replay is refused).
- `OperatorTokens.by_token_hash` answers only tokens that are not revoked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.errors import Conflict
from mamori.store import tables as t

ROLES = ("admin", "analyst")
SCOPES = ("read", "write")


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    id: int
    name: str
    role: str  # admin | analyst
    created_at: datetime
    disabled_at: datetime | None
    totp_last_step: int | None
    password_hash: str = field(repr=False)
    totp_secret_enc: str = field(repr=False)

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class OperatorSessionRecord:
    id: int
    operator_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # absolute end
    reauth_at: datetime  # last time the password and a TOTP code were entered
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorToken:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _operator(row: Row[Any]) -> OperatorRecord:
    return OperatorRecord(
        id=int(row.id),
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        totp_last_step=row.totp_last_step,
        password_hash=row.password_hash,
        totp_secret_enc=row.totp_secret_enc,
    )


def _session(row: Row[Any]) -> OperatorSessionRecord:
    return OperatorSessionRecord(
        id=int(row.id),
        operator_id=int(row.operator_id),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        reauth_at=row.reauth_at,
        revoked_at=row.revoked_at,
    )


def _token(row: Row[Any]) -> OperatorToken:
    return OperatorToken(
        id=int(row.id),
        name=row.name,
        scopes=tuple(s for s in row.scopes.split(",") if s),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


_SESSION_BY_HASH = select(t.operator_sessions).where(
    t.operator_sessions.c.token_hash == bindparam("token_hash")
)
_TOKEN_BY_HASH = select(t.operator_tokens).where(
    t.operator_tokens.c.token_hash == bindparam("token_hash"),
    t.operator_tokens.c.revoked_at.is_(None),
)


class Operators:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self, *, name: str, password_hash: str, role: str, now: datetime
    ) -> OperatorRecord:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        try:
            async with self.conn.begin_nested():
                res = await self.conn.execute(
                    insert(t.operators).values(
                        name=name,
                        password_hash=password_hash,
                        role=role,
                        totp_secret_enc="",
                        created_at=now,
                    )
                )
        except IntegrityError as exc:
            raise Conflict("operator name is taken", code="operator_exists", field="name") from exc
        assert res.inserted_primary_key is not None
        created = await self.get(int(res.inserted_primary_key[0]))
        assert created is not None
        return created

    async def set_totp_secret(self, operator_id: int, sealed: str) -> None:
        await self.conn.execute(
            update(t.operators)
            .where(t.operators.c.id == operator_id)
            .values(totp_secret_enc=sealed, totp_last_step=None)
        )

    async def get(self, operator_id: int) -> OperatorRecord | None:
        row = (
            await self.conn.execute(select(t.operators).where(t.operators.c.id == operator_id))
        ).first()
        return _operator(row) if row else None

    async def by_name(self, name: str) -> OperatorRecord | None:
        row = (
            await self.conn.execute(select(t.operators).where(t.operators.c.name == name))
        ).first()
        return _operator(row) if row else None

    async def list(self) -> list[OperatorRecord]:
        rows = await self.conn.execute(select(t.operators).order_by(t.operators.c.name))
        return [_operator(r) for r in rows]

    async def count_active(self) -> int:
        res = await self.conn.execute(
            select(func.count()).select_from(t.operators).where(t.operators.c.disabled_at.is_(None))
        )
        return int(res.scalar_one())

    async def disable(self, operator_id: int, *, now: datetime) -> bool:
        res = await self.conn.execute(
            update(t.operators)
            .where(t.operators.c.id == operator_id, t.operators.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        return bool(res.rowcount)

    async def claim_totp_step(self, operator_id: int, step: int) -> bool:
        """Claim `step` as used, atomically: True for exactly one caller per step, and never for
        a step at or before the last one claimed (a replayed code)."""
        c = t.operators.c
        res = await self.conn.execute(
            update(t.operators)
            .where(c.id == operator_id, or_(c.totp_last_step.is_(None), c.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return bool(res.rowcount)


class OperatorSessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self, *, operator_id: int, token_hash: str, now: datetime, expires_at: datetime
    ) -> OperatorSessionRecord:
        res = await self.conn.execute(
            insert(t.operator_sessions).values(
                operator_id=operator_id,
                token_hash=token_hash,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
                reauth_at=now,
            )
        )
        assert res.inserted_primary_key is not None
        return OperatorSessionRecord(
            id=int(res.inserted_primary_key[0]),
            operator_id=operator_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            reauth_at=now,
            revoked_at=None,
        )

    async def by_token_hash(self, token_hash: str) -> OperatorSessionRecord | None:
        row = (await self.conn.execute(_SESSION_BY_HASH, {"token_hash": token_hash})).first()
        return _session(row) if row else None

    async def touch(self, session_id: int, *, now: datetime) -> None:
        await self.conn.execute(
            update(t.operator_sessions)
            .where(t.operator_sessions.c.id == session_id)
            .values(last_seen_at=now)
        )

    async def mark_reauth(self, session_id: int, *, now: datetime) -> bool:
        res = await self.conn.execute(
            update(t.operator_sessions)
            .where(
                t.operator_sessions.c.id == session_id,
                t.operator_sessions.c.revoked_at.is_(None),
            )
            .values(reauth_at=now, last_seen_at=now)
        )
        return bool(res.rowcount)

    async def revoke(self, session_id: int, *, now: datetime) -> bool:
        res = await self.conn.execute(
            update(t.operator_sessions)
            .where(
                t.operator_sessions.c.id == session_id,
                t.operator_sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return bool(res.rowcount)

    async def revoke_all(self, operator_id: int, *, now: datetime) -> int:
        res = await self.conn.execute(
            update(t.operator_sessions)
            .where(
                t.operator_sessions.c.operator_id == operator_id,
                t.operator_sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(res.rowcount or 0)


class OperatorTokens:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self, *, name: str, token_hash: str, scopes: tuple[str, ...], now: datetime
    ) -> OperatorToken:
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ValueError(f"unknown scopes {bad!r}")
        taken = await self.conn.execute(
            select(t.operator_tokens.c.id).where(
                t.operator_tokens.c.name == name, t.operator_tokens.c.revoked_at.is_(None)
            )
        )
        if taken.first() is not None:
            raise Conflict("a token with this name exists", code="token_exists", field="name")
        res = await self.conn.execute(
            insert(t.operator_tokens).values(
                name=name, token_hash=token_hash, scopes=",".join(scopes), created_at=now
            )
        )
        assert res.inserted_primary_key is not None
        return OperatorToken(
            id=int(res.inserted_primary_key[0]),
            name=name,
            scopes=scopes,
            created_at=now,
            revoked_at=None,
        )

    async def by_token_hash(self, token_hash: str) -> OperatorToken | None:
        row = (await self.conn.execute(_TOKEN_BY_HASH, {"token_hash": token_hash})).first()
        return _token(row) if row else None

    async def list(self, *, include_revoked: bool = True) -> list[OperatorToken]:
        stmt = select(t.operator_tokens)
        if not include_revoked:
            stmt = stmt.where(t.operator_tokens.c.revoked_at.is_(None))
        rows = await self.conn.execute(stmt.order_by(t.operator_tokens.c.id))
        return [_token(r) for r in rows]

    async def revoke(self, name: str, *, now: datetime) -> int:
        res = await self.conn.execute(
            update(t.operator_tokens)
            .where(t.operator_tokens.c.name == name, t.operator_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(res.rowcount or 0)
