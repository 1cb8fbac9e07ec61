"""Statements sent to the driver as written (store/direct.py), and the SQLite transactions that
keep their connection (Store.begin): the same rows, times and results as through SQLAlchemy, on
SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from mamori.models import ClientContext
from mamori.store import create_store
from mamori.store import tables as t
from mamori.store.accounts import _account
from mamori.store.devices import _device
from mamori.store.direct import _numbered, utc
from mamori.store.sessions import _session
from mamori.store.sql import IDLE_SQLITE_CONNECTIONS

NOW = datetime(2026, 12, 7, 13, 4, 5, 123456, tzinfo=UTC)
CLIENT = ClientContext(
    ip="203.0.113.9",
    user_agent="Mozilla/5.0 test",
    browser="Chrome",
    os="Windows",
    device_type="desktop",
    country="JP",
    asn=2516,
    as_name="KDDI CORPORATION",
)


def test_named_parameters_become_numbered_once_each() -> None:
    sql, names = _numbered(
        """SELECT :a, :b::text, ':lit'' :x', "a:b", x::int FROM t WHERE c = :a AND d = :c1"""
    )
    assert (
        sql == """SELECT $1, $2::text, ':lit'' :x', "a:b", x::int FROM t WHERE c = $1 AND d = $3"""
    )
    assert names == ("a", "b", "c1")


def test_stored_times_read_back_as_aware_utc() -> None:
    assert utc(None) is None
    assert utc("2026-12-07 13:04:05.123456") == NOW
    assert utc(NOW.replace(tzinfo=None)) == NOW
    assert utc(NOW) == NOW


async def test_times_written_directly_compare_with_those_written_by_sqlalchemy(
    database_url: str,
) -> None:
    """SQLite compares times as text: a time bound by Direct must be the same string as one
    bound by SQLAlchemy, or `expires_at > :now` would go wrong."""
    store = create_store(database_url)
    try:
        async with store.begin() as tx:
            await tx.conn.execute(t.counters.delete())
            account = await tx.accounts.create(
                login_id="tina",
                login_key="tina",
                email="tina@example.com",
                phone=None,
                password_hash="$argon2id$x",
                language="en",
                now=NOW,
            )
            await tx.accounts.touch_login(account.id, at=NOW + timedelta(microseconds=1))
            # written by SQLAlchemy (created_at) and directly (last_login_at), compared in SQL
            later = await tx.conn.execute(
                select(t.accounts.c.id).where(
                    t.accounts.c.id == account.id,
                    t.accounts.c.last_login_at > t.accounts.c.created_at,
                )
            )
            assert later.first() is not None
            if store.dialect == "sqlite":
                raw = await tx.conn.execute(
                    text("SELECT created_at, last_login_at FROM accounts WHERE id = :i"),
                    {"i": account.id},
                )
                created, touched = raw.one()
                assert created == "2026-12-07 13:04:05.123456"
                assert touched == "2026-12-07 13:04:05.123457"
            bound = tx.direct.time(NOW)
            assert bound == (
                "2026-12-07 13:04:05.123456"
                if store.dialect == "sqlite"
                else NOW.replace(tzinfo=None)
            )
            with pytest.raises(ValueError, match="naive"):
                tx.direct.time(NOW.replace(tzinfo=None))
    finally:
        await store.dispose()


async def test_records_read_directly_equal_those_read_through_sqlalchemy(
    database_url: str,
) -> None:
    store = create_store(database_url)
    try:
        async with store.begin() as tx:
            account = await tx.accounts.create(
                login_id="Uma",
                login_key="uma",
                email="uma@example.com",
                phone="+819012345678",
                password_hash="$argon2id$y",
                language="ja",
                now=NOW,
            )
            await tx.accounts.set_restriction(account.id, restricted_at=NOW, reason="test")
            device = await tx.devices.bind(
                device_hash="d" * 64, account_id=account.id, client=CLIENT, now=NOW, ask_again=True
            )
            again = await tx.devices.bind(
                device_hash="d" * 64, account_id=account.id, client=CLIENT, now=NOW
            )
            assert again.id == device.id and again.ask_again is False  # known once known
            session = await tx.sessions.create(
                token_hash="s" * 64,
                account_id=account.id,
                now=NOW,
                idle_expires_at=NOW + timedelta(minutes=30),
                absolute_expires_at=NOW + timedelta(hours=12),
                remember=True,
                ip=CLIENT.ip,
                user_agent=CLIENT.user_agent,
                device_id=device.id,
            )
        async with store.begin() as tx:
            direct_account = await tx.accounts.by_login_key("uma")
            sa_account = _account(
                (
                    await tx.conn.execute(select(t.accounts).where(t.accounts.c.id == account.id))
                ).one()
            )
            assert direct_account == sa_account
            assert direct_account is not None and direct_account.restricted_at == NOW
            assert direct_account.created_at.tzinfo is UTC
            direct_device = await tx.devices.find(device_hash="d" * 64, account_id=account.id)
            sa_device = _device(
                (await tx.conn.execute(select(t.devices).where(t.devices.c.id == device.id))).one()
            )
            assert direct_device == sa_device == again
            direct_session = await tx.sessions.by_token_hash("s" * 64)
            sa_session = _session(
                (
                    await tx.conn.execute(select(t.sessions).where(t.sessions.c.id == session.id))
                ).one()
            )
            assert direct_session == sa_session == session
            assert await tx.sessions.by_token_hash("n" * 64) is None
            assert await tx.accounts.by_login_key("nobody") is None
    finally:
        await store.dispose()


async def test_a_transaction_commits_or_rolls_back_direct_and_sqlalchemy_statements_together(
    database_url: str,
) -> None:
    store = create_store(database_url)

    async def count() -> int:
        async with store.begin() as tx:
            return int((await tx.conn.execute(text("SELECT count(*) FROM counters"))).scalar_one())

    try:
        async with store.begin() as tx:
            await tx.conn.execute(t.counters.delete())

        class Boom(Exception):
            pass

        async def fail(*, sqlalchemy_first: bool) -> None:
            async with store.begin() as tx:
                if sqlalchemy_first:
                    await tx.conn.execute(
                        t.counters.insert().values(key="sa", count=1, expires_at=1.0)
                    )
                await tx.direct.run(
                    'INSERT INTO counters ("key", count, expires_at) VALUES (:k, 1, 1.0)',
                    {"k": f"direct-{sqlalchemy_first}"},
                )
                raise Boom

        for sqlalchemy_first in (True, False):
            with pytest.raises(Boom):
                await fail(sqlalchemy_first=sqlalchemy_first)
            assert await count() == 0
        async with store.begin() as tx:  # only direct statements: committed by the driver
            await tx.direct.run(
                'INSERT INTO counters ("key", count, expires_at) VALUES (:k, 1, 1.0)', {"k": "a"}
            )
        async with store.begin() as tx:  # both kinds
            await tx.direct.run(
                'INSERT INTO counters ("key", count, expires_at) VALUES (:k, 1, 1.0)', {"k": "b"}
            )
            await tx.conn.execute(t.counters.insert().values(key="c", count=1, expires_at=1.0))
        assert await count() == 3
        changed = 0
        async with store.begin() as tx:
            changed = await tx.direct.run("UPDATE counters SET count = count + 1", {})
        assert changed == 3
    finally:
        await store.dispose()


async def test_sqlite_connections_are_kept_between_transactions_and_bounded(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "k.db"
    shutil.copy(sqlite_template, path)
    store = create_store(f"sqlite+aiosqlite:///{path}")
    try:
        async with store.begin() as tx:
            first = tx.conn
        async with store.begin() as tx:
            assert tx.conn is first  # the same open connection, no checkout
        # many at once: each has its own connection; at most IDLE_SQLITE_CONNECTIONS stay open
        async with AsyncExitStack() as stack:
            txs = [await stack.enter_async_context(store.begin()) for _ in range(8)]
            assert len({id(tx.conn) for tx in txs}) == 8
        assert len(store._idle) == IDLE_SQLITE_CONNECTIONS
    finally:
        await store.dispose()
    assert store._idle == []
