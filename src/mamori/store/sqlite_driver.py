"""A lean asyncio shim over the standard `sqlite3` module, shaped like aiosqlite, for SQLAlchemy's
`sqlite+aiosqlite` dialect (plugged in with `create_async_engine(..., async_creator=...)`).

Why: through aiosqlite every statement costs four hand-offs to its worker thread (cursor,
execute, fetchall, close) and each wakes the event loop; a login runs about ten statements, so
those hand-offs cost more CPU than SQLite itself. Here a statement is ONE hand-off: the worker
thread executes it and fetches all rows; `cursor()`, `fetch*()` and `close()` then run inline on
the buffered rows. Statements of one connection still run one at a time (SQLAlchemy serializes
them), on a shared thread pool, and never on the event loop — so a writer waiting for another
process's lock never stalls the loop.

Writers queue on an advisory file lock (`flock` on `<database>.writer`) taken in the worker
thread just before a transaction's first write and released at commit or rollback. Waiting in
the kernel wakes the next writer the moment the lock is free; SQLite's own busy handler, which
several worker processes would otherwise fall back to, polls with sleeps that grow to 25-100 ms
and left the CPUs idle under load. SQLite's locking still guards correctness underneath.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mamori-sqlite")
_WRITES = ("insert", "update", "delete", "replace")


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].lower().startswith(_WRITES)


async def _run(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_executor, fn)


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _absorb(self, cur: sqlite3.Cursor) -> Cursor:
        self.description = cur.description
        self._rows = cur.fetchall() if cur.description else []
        self.rowcount = cur.rowcount
        self.lastrowid = cur.lastrowid
        cur.close()
        return self

    async def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Cursor:
        raw = self._conn._raw
        conn = self._conn
        if conn.inline and (not _is_write(sql) or conn._try_writer_lock()):
            return self._absorb(raw.execute(sql, parameters or ()))

        def work() -> Cursor:
            if _is_write(sql):
                conn._take_writer_lock()
            return self._absorb(raw.execute(sql, parameters or ()))

        return await _run(work)

    async def executemany(self, sql: str, seq_of_parameters: Sequence[Any]) -> Cursor:
        raw = self._conn._raw
        conn = self._conn
        if conn.inline and (not _is_write(sql) or conn._try_writer_lock()):
            return self._absorb(raw.executemany(sql, seq_of_parameters))

        def work() -> Cursor:
            if _is_write(sql):
                conn._take_writer_lock()
            return self._absorb(raw.executemany(sql, seq_of_parameters))

        return await _run(work)

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = size or self.arraysize
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._rows = []


class Connection:
    """What SQLAlchemy's aiosqlite adapter uses of an aiosqlite connection."""

    def __init__(self, raw: sqlite3.Connection, *, lock_path: str | None = None) -> None:
        self._connection: sqlite3.Connection | None = raw
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600) if lock_path else -1
        self._writing = False
        # Run statements on the calling (event loop) thread: set per transaction by the store.
        self.inline = False

    def _try_writer_lock(self) -> bool:
        """On the event loop: take the writer lock if it is free, without waiting."""
        if self._lock_fd < 0 or self._writing:
            return True
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._writing = True
        return True

    def _take_writer_lock(self) -> None:
        """In the worker thread: wait (in the kernel) until no other writer holds the file."""
        if self._lock_fd >= 0 and not self._writing:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._writing = True

    def _drop_writer_lock(self) -> None:
        if self._writing:
            self._writing = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @property
    def _raw(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._raw.isolation_level

    def cursor(self) -> Cursor:
        self._raw  # noqa: B018 — raises on a closed connection, like aiosqlite
        return Cursor(self)

    async def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        raw = self._raw
        if raw.in_transaction or self._writing:

            def work() -> None:
                try:
                    raw.commit()
                finally:
                    self._drop_writer_lock()

            if self.inline:
                work()
            else:
                await _run(work)

    async def rollback(self) -> None:
        raw = self._raw
        if raw.in_transaction or self._writing:

            def work() -> None:
                try:
                    raw.rollback()
                finally:
                    self._drop_writer_lock()

            if self.inline:
                work()
            else:
                await _run(work)

    async def create_function(self, *args: Any, **kw: Any) -> None:
        raw = self._raw
        await _run(lambda: raw.create_function(*args, **kw))

    async def close(self) -> None:
        raw, self._connection = self._connection, None
        if raw is not None:

            def work() -> None:
                try:
                    raw.close()
                finally:
                    self._drop_writer_lock()
                    if self._lock_fd >= 0:
                        os.close(self._lock_fd)
                        self._lock_fd = -1

            await _run(work)


def connector(path: str, *, timeout: float = 30.0) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: opens `path` in the worker pool."""

    async def connect() -> Connection:
        def work() -> sqlite3.Connection:
            return sqlite3.connect(path, timeout=timeout, check_same_thread=False)

        lock = None if path in ("", ":memory:") or path.startswith("file:") else path + ".writer"
        return Connection(await _run(work), lock_path=lock)

    return connect
