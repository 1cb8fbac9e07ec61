"""SQLCounters: the Counters contract on SQLite (>= 3.35) or PostgreSQL, SQLAlchemy Core.

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

import copy
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    String,
    Table,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mamori.store import tables as t

MEMBER_RETENTION = 7 * 86400.0

# pg_advisory_xact_lock(int4, int4): the first half names this lock family ("mamo").
_PG_LOCK_CLASS = 0x6D616D6F


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)


class SQLCounters:
    def __init__(self, engine: AsyncEngine, *, member_retention: float = MEMBER_RETENTION) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SQLCounters supports sqlite and postgresql, not {self._dialect}")
        self._member_retention = member_retention
        self._build()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def bound(self, conn: AsyncConnection) -> SQLCounters:
        """The same counters, run inside the caller's open transaction on `conn` (no transaction
        of their own): a login counts its attempt in the transaction that looks the account up.
        Atomicity is unchanged (each update is still one statement); the caller commits."""
        clone = copy.copy(self)
        clone._conn = conn
        return clone

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        if self._conn is not None:
            yield self._conn
        else:
            async with self._engine.begin() as conn:
                yield conn

    # ---- statements, built once with bind parameters (compiled once, cached by SQLAlchemy) ----

    def _insert(self, table: Any) -> Any:
        return sqlite.insert(table) if self._dialect == "sqlite" else postgresql.insert(table)

    def _build(self) -> None:
        key = bindparam("key", type_=String())
        member = bindparam("member", type_=String())
        now = bindparam("now", type_=Float())
        amount = bindparam("amount", type_=BigInteger())
        expires_at = bindparam("expires_at", type_=Float())

        c = t.counters.c
        ins = self._insert(t.counters).values(key=key, count=amount, expires_at=expires_at)
        expired = c.expires_at <= now
        self._incr = ins.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "count": case((expired, ins.excluded.count), else_=c.count + ins.excluded.count),
                "expires_at": case((expired, ins.excluded.expires_at), else_=c.expires_at),
            },
        ).returning(c.count)
        self._get = select(c.count).where(c.key == key, c.expires_at > now)
        self._get_many = select(c.key, c.count).where(
            c.key.in_(bindparam("keys", expanding=True)), c.expires_at > now
        )

        d = t.deadlines.c
        ins = self._insert(t.deadlines).values(key=key, until=bindparam("until", type_=Float()))
        greatest: ColumnElement[float] = (
            func.max(d.until, ins.excluded.until, type_=Float())
            if self._dialect == "sqlite"
            else func.greatest(d.until, ins.excluded.until, type_=Float())
        )
        self._raise_until = ins.on_conflict_do_update(
            index_elements=[d.key], set_={"until": greatest}
        ).returning(d.until)
        self._get_until = select(d.until).where(d.key == key, d.until > now)

        m = t.counter_members.c
        cutoff = bindparam("cutoff", type_=Float())
        self._lock = text("SELECT pg_advisory_xact_lock(:lock_class, :lock_id)")
        self._drop_stale = delete(t.counter_members).where(m.key == key, m.seen_at <= cutoff)
        ins = self._insert(t.counter_members).values(key=key, member=member, seen_at=now)
        later: ColumnElement[float] = (
            func.max(m.seen_at, ins.excluded.seen_at, type_=Float())
            if self._dialect == "sqlite"
            else func.greatest(m.seen_at, ins.excluded.seen_at, type_=Float())
        )
        self._touch = ins.on_conflict_do_update(
            index_elements=[m.key, m.member], set_={"seen_at": later}
        )
        self._count_members = (
            select(func.count())
            .select_from(t.counter_members)
            .where(m.key == key, m.seen_at > cutoff)
        )

        tc = t.tallies.c
        live = t.tallies.alias("live")
        window = (  # every live row of the key carries the window's expiry: any one will do
            select(live.c.expires_at)
            .where(live.c.key == key, live.c.expires_at > now)
            .limit(1)
            .scalar_subquery()
        )
        ins = self._insert(t.tallies).values(
            key=key,
            member=member,
            count=amount,
            expires_at=func.coalesce(window, expires_at, type_=Float()),
        )
        expired = tc.expires_at <= now
        self._tally = ins.on_conflict_do_update(
            index_elements=[tc.key, tc.member],
            set_={
                "count": case((expired, ins.excluded.count), else_=tc.count + ins.excluded.count),
                "expires_at": case((expired, ins.excluded.expires_at), else_=tc.expires_at),
            },
        ).returning(tc.count)
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
            "amount": int(amount),
            "now": float(now),
            "expires_at": float(now + ttl),
        }
        async with self._tx() as conn:
            count: int = (await conn.execute(self._incr, params)).scalar_one()
        return int(count)

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]:
        params = {"key": key, "amount": 1, "now": float(now), "expires_at": float(now + ttl)}
        async with self._tx() as conn:
            # first count (the upsert takes the row lock and waits for a concurrent locker to
            # commit), then look at the deadline that locker raised before resetting the count
            count: int = (await conn.execute(self._incr, params)).scalar_one()
            until = (
                await conn.execute(self._get_until, {"key": lock_key, "now": float(now)})
            ).scalar()
            if until is not None:
                await conn.execute(self._incr, {**params, "amount": -1})
                return 0, float(until)
        return int(count), 0.0

    async def get(self, key: str, *, now: float) -> int:
        async with self._tx() as conn:
            count = (await conn.execute(self._get, {"key": key, "now": float(now)})).scalar()
        return 0 if count is None else int(count)

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        if not keys:
            return []
        async with self._tx() as conn:
            rows = await conn.execute(self._get_many, {"keys": list(set(keys)), "now": float(now)})
            found = {str(k): int(n) for k, n in rows}
        return [found.get(key, 0) for key in keys]

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        async with self._tx() as conn:
            value = await conn.execute(self._raise_until, {"key": key, "until": float(until)})
            result: float = value.scalar_one()
        return float(result)

    async def get_until(self, key: str, *, now: float) -> float:
        async with self._tx() as conn:
            until = (await conn.execute(self._get_until, {"key": key, "now": float(now)})).scalar()
        return 0.0 if until is None else float(until)

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        cutoff = float(now - ttl)
        async with self._tx() as conn:
            if self._dialect == "postgresql":
                lock = {"lock_class": _PG_LOCK_CLASS, "lock_id": _lock_id(key)}
                await conn.execute(self._lock, lock)
            await conn.execute(self._drop_stale, {"key": key, "cutoff": cutoff})
            await conn.execute(self._touch, {"key": key, "member": member, "now": float(now)})
            count = await conn.execute(self._count_members, {"key": key, "cutoff": cutoff})
            result: int = count.scalar_one()
        return int(result)

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        params = {
            "key": key,
            "member": member,
            "amount": int(amount),
            "now": float(now),
            "expires_at": float(now + ttl),
        }
        async with self._tx() as conn:
            count: int = (await conn.execute(self._tally, params)).scalar_one()
        return int(count)

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
                for lock_id in sorted({_lock_id(key) for key in keys}):
                    await conn.execute(
                        self._lock, {"lock_class": _PG_LOCK_CLASS, "lock_id": lock_id}
                    )
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
