"""SQLCounters: the Counters contract on SQLite (>= 3.35) or PostgreSQL.

The statements a login runs go to the driver as written (store/direct.py); the others are
SQLAlchemy Core.

Each method is one short transaction (`engine.begin()`), and each update is one atomic upsert:

    INSERT ... ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN counters.expires_at <= :now THEN excluded.count
                     ELSE counters.count + excluded.count END, ...
    RETURNING count

so parallel requests in many processes cannot slip past a limit. Expiry is judged against the
caller's `now` (epoch seconds, stored as double precision), never the database clock.

- tally: every live row of a tally key carries the key's window expiry. A new row takes it from
  the key's live rows (a scalar subquery in the same INSERT), or opens a window at now + ttl;
  a row left over from an earlier window is reset on conflict. `top` reads the live rows.
  (On PostgreSQL, first hits of two members racing to open a window each use their own
  now + ttl; the expiries then differ by the callers' clock difference, microseconds.)
- touch_member: delete the key's stale members, upsert this one, count the rest. SQLite runs the
  transaction under its write lock (the first statement writes); PostgreSQL first takes a
  transaction-scoped advisory lock on the key, so the count is exact under concurrency too.
- purge: counters, deadlines and tallies past their expiry; member rows not seen for
  `member_retention` seconds (7 days; they have no ttl of their own, so touch_member's ttl must
  not exceed it).

Errors propagate: SQL is the fallback of last resort. `close()` leaves the engine to its owner.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    Table,
    bindparam,
    delete,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mamori.store import tables as t
from mamori.store.direct import Direct, insert

MEMBER_RETENTION = 7 * 86400.0

# pg_advisory_xact_lock(int4, int4): the first half names this lock family ("mamo").
_PG_LOCK_CLASS = 0x6D616D6F


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)


class SQLCounters:
    def __init__(self, engine: AsyncEngine, *, member_retention: float = MEMBER_RETENTION) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._bound_direct: Direct | None = None
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SQLCounters supports sqlite and postgresql, not {self._dialect}")
        self._member_retention = member_retention
        self._build()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def bound(self, conn: AsyncConnection, direct: Direct | None = None) -> SQLCounters:
        """The same counters, run inside the caller's open transaction on `conn` (no transaction
        of their own): a login counts its attempt in the transaction that looks the account up.
        Atomicity is unchanged (each update is still one statement); the caller commits.
        `direct`: the transaction's driver, when the caller has it already."""
        clone = object.__new__(SQLCounters)  # copy.copy costs ~20 us; this runs per login
        clone.__dict__.update(self.__dict__)
        clone._conn = conn
        clone._bound_direct = direct
        return clone

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        if self._conn is not None:
            yield self._conn
        else:
            async with self._engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _direct(self) -> AsyncIterator[Direct]:
        """The driver of `_tx`'s connection, for the statements every login runs."""
        if self._conn is not None:
            yield self._bound_direct or Direct(self._conn)
        else:
            async with self._engine.begin() as conn:
                yield Direct(conn)

    # ---- statements ----
    # Those every login runs go to the driver as written (store/direct.py); the rest are built
    # once with bind parameters (compiled once, cached by SQLAlchemy).

    def _build(self) -> None:
        greatest_of = "max" if self._dialect == "sqlite" else "greatest"
        expired = "counters.expires_at <= :now"
        self._sql_incr = insert(
            t.counters,
            ("key", "count", "expires_at"),
            then='ON CONFLICT ("key") DO UPDATE SET '
            f"count = CASE WHEN {expired} THEN excluded.count "
            "ELSE counters.count + excluded.count END, "
            f"expires_at = CASE WHEN {expired} THEN excluded.expires_at "
            "ELSE counters.expires_at END",
            returning="count",
        )
        self._sql_get = 'SELECT count FROM counters WHERE "key" = :key AND expires_at > :now'
        self._sql_get_until = 'SELECT until FROM deadlines WHERE "key" = :key AND until > :now'
        self._sql_raise_until = insert(
            t.deadlines,
            ("key", "until"),
            then='ON CONFLICT ("key") DO UPDATE SET '
            f"until = {greatest_of}(deadlines.until, excluded.until)",
            returning="until",
        )
        self._sql_drop_stale = (
            'DELETE FROM counter_members WHERE "key" = :key AND seen_at <= :cutoff'
        )
        self._sql_touch = insert(
            t.counter_members,
            ("key", "member", "seen_at"),
            then='ON CONFLICT ("key", member) DO UPDATE SET '
            f"seen_at = {greatest_of}(counter_members.seen_at, excluded.seen_at)",
        )
        self._sql_count_members = (
            'SELECT count(*) FROM counter_members WHERE "key" = :key AND seen_at > :cutoff'
        )
        self._sql_lock = "SELECT pg_advisory_xact_lock(:lock_class, :lock_id)"

        self._sql_tally = (
            'INSERT INTO tallies ("key", member, count, expires_at) '
            "VALUES (:key, :member, :count, COALESCE("
            # every live row of the key carries the window's expiry: any one will do
            '(SELECT live.expires_at FROM tallies AS live WHERE live."key" = :live_key '
            "AND live.expires_at > :now LIMIT 1), :expires_at)) "
            'ON CONFLICT ("key", member) DO UPDATE SET '
            "count = CASE WHEN tallies.expires_at <= :now THEN excluded.count "
            "ELSE tallies.count + excluded.count END, "
            "expires_at = CASE WHEN tallies.expires_at <= :now THEN excluded.expires_at "
            "ELSE tallies.expires_at END "
            "RETURNING count"
        )

        key = bindparam("key", type_=String())
        now = bindparam("now", type_=Float())
        c = t.counters.c
        self._get_many = select(c.key, c.count).where(
            c.key.in_(bindparam("keys", expanding=True)), c.expires_at > now
        )
        tc = t.tallies.c
        member_order = tc.member.collate("C") if self._dialect == "postgresql" else tc.member
        self._top = (
            select(tc.member, tc.count)
            .where(tc.key == key, tc.expires_at > now)
            .order_by(tc.count.desc(), member_order.asc())
            .limit(bindparam("n"))
        )

    # ---- the contract ----

    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int:
        params = {
            "key": key,
            "count": int(amount),
            "now": float(now),
            "expires_at": float(now + ttl),
        }
        async with self._direct() as direct:
            row = await direct.row(self._sql_incr, params)
        assert row is not None
        return int(row[0])

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]:
        params = {"key": key, "count": 1, "now": float(now), "expires_at": float(now + ttl)}
        async with self._direct() as direct:
            # first count (the upsert takes the row lock and waits for a concurrent locker to
            # commit), then look at the deadline that locker raised before resetting the count
            row = await direct.row(self._sql_incr, params)
            assert row is not None
            locked = await direct.row(self._sql_get_until, {"key": lock_key, "now": float(now)})
            if locked is not None:
                await direct.row(self._sql_incr, {**params, "count": -1})
                return 0, float(locked[0])
        return int(row[0]), 0.0

    async def get(self, key: str, *, now: float) -> int:
        async with self._direct() as direct:
            row = await direct.row(self._sql_get, {"key": key, "now": float(now)})
        return 0 if row is None else int(row[0])

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        if not keys:
            return []
        async with self._tx() as conn:
            rows = await conn.execute(self._get_many, {"keys": list(set(keys)), "now": float(now)})
            found = {str(k): int(n) for k, n in rows}
        return [found.get(key, 0) for key in keys]

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        async with self._direct() as direct:
            row = await direct.row(self._sql_raise_until, {"key": key, "until": float(until)})
        assert row is not None
        return float(row[0])

    async def get_until(self, key: str, *, now: float) -> float:
        async with self._direct() as direct:
            row = await direct.row(self._sql_get_until, {"key": key, "now": float(now)})
        return 0.0 if row is None else float(row[0])

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        cutoff = float(now - ttl)
        async with self._direct() as direct:
            if self._dialect == "postgresql":
                lock = {"lock_class": _PG_LOCK_CLASS, "lock_id": _lock_id(key)}
                await direct.rows(self._sql_lock, lock)
            await direct.run(self._sql_drop_stale, {"key": key, "cutoff": cutoff})
            await direct.run(self._sql_touch, {"key": key, "member": member, "seen_at": float(now)})
            row = await direct.row(self._sql_count_members, {"key": key, "cutoff": cutoff})
        assert row is not None
        return int(row[0])

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        params = {
            "key": key,
            "live_key": key,  # PostgreSQL deduces another type for it there than in VALUES
            "member": member,
            "count": int(amount),
            "now": float(now),
            "expires_at": float(now + ttl),
        }
        async with self._direct() as direct:
            row = await direct.row(self._sql_tally, params)
        assert row is not None
        return int(row[0])

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]:
        if n <= 0:
            return []
        async with self._tx() as conn:
            rows = await conn.execute(self._top, {"key": key, "now": float(now), "n": n})
            return [(str(name), int(n)) for name, n in rows]

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        async with self._tx() as conn:
            if self._dialect == "postgresql":
                # the locks touch_member takes, in one order: no deadlock with it or each other
                direct = Direct(conn)
                for lock_id in sorted({_lock_id(key) for key in keys}):
                    lock = {"lock_class": _PG_LOCK_CLASS, "lock_id": lock_id}
                    await direct.rows(self._sql_lock, lock)
            for table in (t.counters, t.deadlines, t.counter_members, t.tallies):
                await conn.execute(delete(table).where(table.c.key.in_(keys)))

    async def purge(self, *, now: float) -> int:
        """Delete expired rows of all four tables; returns the number of rows removed.

        Member rows go when not seen for `member_retention` seconds. On PostgreSQL purge skips
        rows another transaction holds (FOR UPDATE SKIP LOCKED), so it never waits on, or
        deadlocks with, the requests; what it skips goes next time.
        """
        now = float(now)  # an int would be bound as INTEGER
        expired: list[tuple[Table, ColumnElement[bool]]] = [
            (t.counters, t.counters.c.expires_at <= now),
            (t.deadlines, t.deadlines.c.until <= now),
            (t.counter_members, t.counter_members.c.seen_at < now - self._member_retention),
            (t.tallies, t.tallies.c.expires_at <= now),
        ]
        removed = 0
        async with self._tx() as conn:
            for table, condition in expired:
                statement = delete(table)
                if self._dialect == "postgresql":
                    pk = tuple_(*table.primary_key.columns)
                    victims = select(*table.primary_key.columns).where(condition)
                    statement = statement.where(pk.in_(victims.with_for_update(skip_locked=True)))
                else:
                    statement = statement.where(condition)
                removed += (await conn.execute(statement)).rowcount
        return removed

    async def close(self) -> None:
        """The engine belongs to whoever created it (it is usually shared with the Store)."""
        return None
