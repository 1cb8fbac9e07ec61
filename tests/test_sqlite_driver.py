"""The SQLite shim under SQLAlchemy: transactions, savepoints, executemany, closed connections."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mamori.store import sqlite_driver
from mamori.store.engine import create_engine


async def test_transactions_savepoints_and_rollback(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))
        await conn.execute(
            text("INSERT INTO t VALUES (:k, :v)"), [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
        )

    async def insert_then_fail() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES ('c', 3)"))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(text("INSERT INTO t VALUES ('a', 9)"))
        await conn.execute(text("INSERT INTO t VALUES ('d', 4)"))  # the outer one goes on
    async with engine.begin() as conn:
        rows = (await conn.execute(text("SELECT k, v FROM t ORDER BY k"))).all()
        assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("d", 4)]
        result = await conn.execute(text("UPDATE t SET v = v + 1 WHERE v < 3"))
        assert result.rowcount == 2
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert mode == "wal"
    await engine.dispose()


async def test_cursor_fetch_and_closed_connection(tmp_path: Path) -> None:
    conn = await sqlite_driver.connector(str(tmp_path / "e.db"))()
    cur = await conn.execute("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
    assert await cur.fetchone() == (1,)
    assert await cur.fetchmany(1) == [(2,)]
    assert await cur.fetchall() == [(3,)]
    assert await cur.fetchone() is None
    await conn.close()
    with pytest.raises(ValueError, match="no active connection"):
        conn.cursor()


async def test_inline_statements_and_a_waiting_writer_does_not_stall_the_loop(
    tmp_path: Path,
) -> None:
    """Store transactions run SQLite statements on the event loop, but a write that finds
    another writer holding the lock waits in a worker thread: the loop keeps running."""
    import asyncio
    import threading

    from mamori.store.sql import Store

    store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"))
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real_run = sqlite_driver._run

    async def spy(fn: object) -> object:
        seen.append(1)
        return await real_run(fn)  # type: ignore[arg-type]

    sqlite_driver._run = spy  # type: ignore[assignment]
    try:
        async with store.begin() as tx:  # inline: no hand-off at all
            await tx.conn.execute(text("INSERT INTO t VALUES ('a', 1)"))
            assert (await tx.conn.execute(text("SELECT v FROM t"))).scalar() == 1
        assert seen == []
        async with store.begin(offload=True) as tx:  # offloaded: every statement in a thread
            assert (await tx.conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        assert seen
        seen.clear()

        holder_started = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with store.begin() as tx:
                await tx.conn.execute(text("INSERT INTO t VALUES ('b', 2)"))
                holder_started.set()
                await release.wait()  # holds the writer lock across awaits

        async def waiter() -> None:
            await holder_started.wait()
            async with store.begin() as tx:
                await tx.conn.execute(text("INSERT INTO t VALUES ('c', 3)"))

        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not release.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        async def let_go() -> None:
            await asyncio.sleep(0.3)
            release.set()

        await asyncio.gather(holder(), waiter(), ticker(), let_go())
        assert ticks >= 10, "the event loop stalled while a writer waited"
        assert seen, "the waiting write did not go to a worker thread"
        assert threading.get_ident() == loop_thread
        async with store.begin() as tx:
            rows = (await tx.conn.execute(text("SELECT k FROM t ORDER BY k"))).all()
            assert [r[0] for r in rows] == ["a", "b", "c"]
    finally:
        sqlite_driver._run = real_run
        await store.dispose()
