"""The SQL store: one transaction per operation, repositories bound to it.

async with store.begin() as tx:        # BEGIN ... COMMIT (ROLLBACK on any exception)
    account = await tx.accounts.create(...)
    await tx.events.add(...)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mamori.errors import Conflict
from mamori.models import (
    Account,
    Ban,
    ClientContext,
    Device,
    Message,
    OutboxEntry,
    SecurityEvent,
    Session,
)
from mamori.store import tables as t
from mamori.store.engine import create_engine


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            yield Tx(conn)

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_store(url: str) -> Store:
    return Store(create_engine(url))


class Tx:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.accounts = Accounts(conn)
        self.sessions = Sessions(conn)
        self.events = Events(conn)
        self.codes = Codes(conn)
        self.outbox = Outbox(conn)
        self.bans = Bans(conn)
        self.devices = Devices(conn)


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        login_id=row.login_id,
        email=row.email,
        email_verified_at=row.email_verified_at,
        phone=row.phone,
        password_hash=row.password_hash,
        language=row.language,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        restricted_at=row.restricted_at,
        restricted_reason=row.restricted_reason,
    )


class Accounts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

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
        row = (
            await self.conn.execute(select(t.accounts).where(t.accounts.c.id == account_id))
        ).first()
        return _account(row) if row else None

    async def by_login_key(self, login_key: str) -> Account | None:
        row = (
            await self.conn.execute(select(t.accounts).where(t.accounts.c.login_key == login_key))
        ).first()
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


def _session(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_expires_at=row.idle_expires_at,
        absolute_expires_at=row.absolute_expires_at,
        remember=bool(row.remember),
        ip=row.ip,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
    )


class Sessions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        token_hash: str,
        account_id: int,
        now: datetime,
        idle_expires_at: datetime,
        absolute_expires_at: datetime,
        remember: bool,
        ip: str,
        user_agent: str,
    ) -> Session:
        result = await self.conn.execute(
            insert(t.sessions).values(
                token_hash=token_hash,
                account_id=account_id,
                created_at=now,
                last_seen_at=now,
                idle_expires_at=idle_expires_at,
                absolute_expires_at=absolute_expires_at,
                remember=remember,
                ip=ip,
                user_agent=user_agent[:512],
            )
        )
        assert result.inserted_primary_key is not None
        return Session(
            id=int(result.inserted_primary_key[0]),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=idle_expires_at,
            absolute_expires_at=absolute_expires_at,
            remember=remember,
            ip=ip,
            user_agent=user_agent[:512],
        )

    async def by_token_hash(self, token_hash: str) -> Session | None:
        row = (
            await self.conn.execute(select(t.sessions).where(t.sessions.c.token_hash == token_hash))
        ).first()
        return _session(row) if row else None

    async def touch(self, session_id: int, *, now: datetime, idle_expires_at: datetime) -> None:
        await self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session_id, t.sessions.c.revoked_at.is_(None))
            .values(last_seen_at=now, idle_expires_at=idle_expires_at)
        )

    async def revoke(self, session_id: int, *, now: datetime, reason: str) -> bool:
        result = await self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session_id, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(result.rowcount)

    async def revoke_all(
        self, account_id: int, *, now: datetime, reason: str, except_id: int | None = None
    ) -> int:
        stmt = update(t.sessions).where(
            t.sessions.c.account_id == account_id, t.sessions.c.revoked_at.is_(None)
        )
        if except_id is not None:
            stmt = stmt.where(t.sessions.c.id != except_id)
        result = await self.conn.execute(stmt.values(revoked_at=now, revoke_reason=reason))
        return int(result.rowcount or 0)

    async def active_for(self, account_id: int, *, now: datetime) -> list[Session]:
        rows = await self.conn.execute(
            select(t.sessions)
            .where(
                t.sessions.c.account_id == account_id,
                t.sessions.c.revoked_at.is_(None),
                t.sessions.c.idle_expires_at > now,
                t.sessions.c.absolute_expires_at > now,
            )
            .order_by(t.sessions.c.last_seen_at.desc())
        )
        return [_session(r) for r in rows]


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


class Events:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

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
        res = await self.conn.execute(
            insert(t.security_events).values(
                at=at,
                type=type,
                result=result,
                reason=reason,
                account_id=account_id,
                login_id=login_id[:128],
                ip=client.ip,
                user_agent=client.user_agent[:512],
                browser=client.browser[:64],
                os=client.os[:64],
                device_type=client.device_type[:16],
                country=client.country[:2],
                asn=client.asn,
                as_name=client.as_name[:128],
                details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

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


class Codes:
    """One-time codes (email verification, later challenges). Only HMACs are stored."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace(
        self,
        *,
        account_id: int,
        purpose: str,
        target: str,
        code_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        await self.conn.execute(
            delete(t.codes).where(t.codes.c.account_id == account_id, t.codes.c.purpose == purpose)
        )
        res = await self.conn.execute(
            insert(t.codes).values(
                account_id=account_id,
                purpose=purpose,
                target=target,
                code_hash=code_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def current(self, *, account_id: int, purpose: str) -> Row[Any] | None:
        return (
            await self.conn.execute(
                select(t.codes).where(
                    t.codes.c.account_id == account_id,
                    t.codes.c.purpose == purpose,
                    t.codes.c.consumed_at.is_(None),
                )
            )
        ).first()

    async def add_attempt(self, code_id: int) -> int:
        """Atomically count one wrong try; returns the new count."""
        res = await self.conn.execute(
            update(t.codes)
            .where(t.codes.c.id == code_id)
            .values(attempts=t.codes.c.attempts + 1)
            .returning(t.codes.c.attempts)
        )
        return int(res.scalar_one())

    async def consume(self, code_id: int, *, now: datetime) -> bool:
        """Mark used; False if another request used it first (single use under concurrency)."""
        res = await self.conn.execute(
            update(t.codes)
            .where(t.codes.c.id == code_id, t.codes.c.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        return bool(res.rowcount)


class Outbox:
    """The dev outbox: every message the service would have sent (only while MAMORI_DEV=1)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, message: Message, *, at: datetime) -> int:
        res = await self.conn.execute(
            insert(t.outbox).values(
                at=at,
                channel=message.channel,
                recipient=message.to,
                subject=message.subject,
                body=message.body,
                kind=message.kind,
                account_id=message.account_id,
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0])

    async def recent(self, *, limit: int = 100, to: str | None = None) -> list[OutboxEntry]:
        stmt = select(t.outbox)
        if to is not None:
            stmt = stmt.where(t.outbox.c.recipient == to)
        rows = await self.conn.execute(stmt.order_by(t.outbox.c.id.desc()).limit(limit))
        return [
            OutboxEntry(
                id=r.id,
                at=r.at,
                channel=r.channel,
                to=r.recipient,
                subject=r.subject,
                body=r.body,
                kind=r.kind,
                account_id=r.account_id,
            )
            for r in rows
        ]


def _ban(row: Row[Any]) -> Ban:
    return Ban(
        id=row.id,
        kind=row.kind,
        value=row.value,
        reason=row.reason,
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        strikes=row.strikes,
        details=json.loads(row.details or "{}"),
    )


class Bans:
    """Durable bans on an IP, a CIDR or a network, one row per (kind, value)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def upsert(
        self,
        *,
        kind: str,
        value: str,
        reason: str,
        origin: str,
        now: datetime,
        expires_at: datetime | None,
        details: dict[str, Any] | None = None,
    ) -> Ban:
        """Add a ban, or renew an existing one: the later expiry wins (None = until lifted), a
        renewal after expiry counts one more strike. One atomic statement."""
        dialect = self.conn.dialect.name
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(t.bans)
        stmt = ins.values(
            kind=kind,
            value=value,
            reason=reason[:255],
            origin=origin,
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            strikes=1,
            details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        )
        cur = t.bans.c
        new = stmt.excluded
        was_expired = cur.expires_at.is_not(None) & (cur.expires_at <= now)
        later = case(
            (cur.expires_at.is_(None) | new.expires_at.is_(None), None),
            (new.expires_at > cur.expires_at, new.expires_at),
            else_=cur.expires_at,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[cur.kind, cur.value],
            set_={
                "reason": new.reason,
                "origin": new.origin,
                "updated_at": new.updated_at,
                "expires_at": case((was_expired, new.expires_at), else_=later),
                "strikes": case((was_expired, cur.strikes + 1), else_=cur.strikes),
                "details": new.details,
            },
        ).returning(*t.bans.c)
        row = (await self.conn.execute(upsert)).one()
        return _ban(row)

    async def active(self, *, now: datetime) -> list[Ban]:
        rows = await self.conn.execute(
            select(t.bans)
            .where((t.bans.c.expires_at.is_(None)) | (t.bans.c.expires_at > now))
            .order_by(t.bans.c.id)
        )
        return [_ban(r) for r in rows]

    async def get(self, *, kind: str, value: str) -> Ban | None:
        row = (
            await self.conn.execute(
                select(t.bans).where(t.bans.c.kind == kind, t.bans.c.value == value)
            )
        ).first()
        return _ban(row) if row else None

    async def remove(self, *, kind: str, value: str) -> bool:
        result = await self.conn.execute(
            delete(t.bans).where(t.bans.c.kind == kind, t.bans.c.value == value)
        )
        return bool(result.rowcount)

    async def version(self) -> tuple[int, datetime | None]:
        """(row count, latest update): changes whenever a ban is added, renewed or removed."""
        row = (await self.conn.execute(select(func.count(), func.max(t.bans.c.updated_at)))).one()
        return int(row[0]), row[1]


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
