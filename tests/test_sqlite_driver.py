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
