"""The risk model's memory: the login history and the frequency tables counting it.

History = the account's successful logins, at most `max_logins` per account (the oldest leave
first, enforced when a login is recorded) and none older than `days` (removed by `prune`, which
a background task runs every `MAMORI_RISK_PRUNE_INTERVAL_SECONDS`: `prune_loop`). The rows live
in SQL (`risk_history`); the counters the scorer reads are maintained incrementally, never
recomputed per login: `record` adds one login, and every login that leaves is forgotten
(`forget_many`, the exact inverse of recording).

    RiskStore (role)   record(account_id, features, at)   snapshot(account_id, features)
                       prune(now, batch=...)              rebuild()
    SQLRiskStore       counters in SQL (`risk_counts`), each call ONE transaction
    RedisRiskStore     history in SQL, counters in Redis (`RedisRiskCounts`)

Exactly-once forgetting: a login is forgotten only after the statement that deleted its history
row returned it (`DELETE ... RETURNING`), and a row is deleted by one statement only, so several
processes pruning at once (or pruning while a login trims its account to the cap) never forget
one login twice. On PostgreSQL the age pruning skips rows another pruner has locked. Lock order
in SQL: the account's advisory lock (recording only: it makes the cap exact under concurrent
logins of one account), then history rows, then the counters (whose global "n" row every
writer takes first), so no two of these transactions can wait on each other in a cycle.

Failure ordering:
- SQL counters: the row changes and the counter changes commit or roll back together. Exact.
- Redis counters cannot share the SQL transaction, so the order is chosen so that a crash or an
  outage between the two halves can only leave counts TOO HIGH (a login counted that the history
  no longer holds, or never held), never too low: recording bumps Redis before inserting the
  row; forgetting deletes the rows in SQL (committed) before decrementing Redis. Too-high counts
  make the scorer slightly more familiar with old values until `rebuild` recounts; too-low
  counts could go negative when the row is later forgotten, which this order rules out. (The
  Redis forget script also never goes below 0, e.g. after a flush.)

Values are cut to the history's column sizes (`risk_history.fit`) before they reach either the
row or the counters, and `snapshot` cuts the same way, so all three name the same values.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis

from mamori.clock import Clock
from mamori.errors import ConfigError
from mamori.risk.features import LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot
from mamori.settings import Settings
from mamori.store import Store, Tx
from mamori.store.risk_counts import tables_from_tallies
from mamori.store.risk_counts_redis import RedisRiskCounts
from mamori.store.risk_history import HistoryEntry, fit

__all__ = [
    "RedisRiskStore",
    "RiskStore",
    "SQLRiskStore",
    "build_risk_store",
    "prune_loop",
]

log = logging.getLogger("mamori.risk")


class RiskStore(Protocol):
    """Where the risk model's history and frequency tables live."""

    async def record(
        self,
        account_id: int,
        features: LoginFeatures,
        at: datetime,
        *,
        tx: Tx | None = None,
        history: int | None = None,
    ) -> None:
        """Add one successful login (and drop the account's oldest beyond the cap); inside
        `tx` when given (the history row, and SQL counters, commit with the caller's work).
        `history`: the account's logins as last read (its snapshot's count), when known; the
        cap is then only enforced once the account comes near it (a query saved per login)."""
        ...

    async def snapshot(
        self, account_id: int, features: LoginFeatures, *, tx: Tx | None = None
    ) -> FrequencySnapshot:
        """The counters scoring `features` for the account reads (SQL: inside `tx` if given)."""
        ...

    async def prune(self, now: datetime, *, batch: int = 1000) -> int:
        """Forget every login older than the age limit; returns how many left."""
        ...

    async def rebuild(self) -> int:
        """Recount the frequency tables from the history; returns the logins counted."""
        ...


def _logins(entries: list[HistoryEntry]) -> list[tuple[int, LoginFeatures]]:
    return [(e.account_id, e.features) for e in entries]


CAP_MARGIN = 16  # concurrent logins of one account allowed for when skipping the cap check


class _Window:
    def __init__(self, *, days: int, max_logins: int) -> None:
        self.days = days  # <= 0: no age limit
        self.max_logins = max_logins  # <= 0: no cap

    def near_cap(self, history: int | None) -> bool:
        """Whether recording one more login may take the account past the cap. Logins recorded
        concurrently since `history` was read count too: the margin covers them (a few more
        would only be dropped at the account's next login)."""
        if self.max_logins <= 0:
            return False
        return history is None or history + CAP_MARGIN >= self.max_logins

    def cutoff(self, now: datetime) -> datetime | None:
        return now - timedelta(days=self.days) if self.days > 0 else None


class SQLRiskStore:
    """History and counters in the service database; every call is one transaction."""

    def __init__(self, store: Store, *, days: int, max_logins: int) -> None:
        self._store = store
        self._window = _Window(days=days, max_logins=max_logins)

    async def record(
        self,
        account_id: int,
        features: LoginFeatures,
        at: datetime,
        *,
        tx: Tx | None = None,
        history: int | None = None,
    ) -> None:
        if tx is not None:
            await self._record_in(tx, account_id, fit(features), at, history)
            return
        async with self._store.begin() as own:
            await self._record_in(own, account_id, fit(features), at, history)

    async def _record_in(
        self, tx: Tx, account_id: int, features: LoginFeatures, at: datetime, history: int | None
    ) -> None:
        # history rows before counters, as in `prune` (rows, then the counters' global
        # row lock): the opposite order could deadlock with a pruner on PostgreSQL
        await tx.risk_history.lock_account(account_id)
        await tx.risk_history.add(account_id, features, at)
        dropped: list[HistoryEntry] = []
        if self._window.near_cap(history):
            dropped = await tx.risk_history.take_beyond_cap(
                account_id, keep=self._window.max_logins
            )
        await tx.risk.record(account_id, features)
        if dropped:
            await tx.risk.forget_many(_logins(dropped))

    async def snapshot(
        self, account_id: int, features: LoginFeatures, *, tx: Tx | None = None
    ) -> FrequencySnapshot:
        if tx is not None:
            return await tx.risk.snapshot(account_id, fit(features))
        async with self._store.begin() as own:
            return await own.risk.snapshot(account_id, fit(features))

    async def prune(self, now: datetime, *, batch: int = 1000) -> int:
        cutoff = self._window.cutoff(now)
        if cutoff is None:
            return 0
        total = 0
        while True:
            async with self._store.begin(offload=True) as tx:
                taken = await tx.risk_history.take_older_than(cutoff, limit=batch)
                if taken:
                    await tx.risk.forget_many(_logins(taken))
            total += len(taken)
            if len(taken) < batch:
                return total

    async def rebuild(self) -> int:
        """Exact even while logins are recorded: `clear` holds off every counter writer until
        the recount commits."""
        async with self._store.begin(offload=True) as tx:
            await tx.risk.clear()
            logins, tallies = await tx.risk_history.tallies()
            await tx.risk.load(tables_from_tallies(logins, tallies))
        return sum(logins.values())


class RedisRiskStore:
    """History in SQL, counters in Redis (see the module docstring for the failure order)."""

    def __init__(
        self, store: Store, counts: RedisRiskCounts, *, days: int, max_logins: int
    ) -> None:
        self._store = store
        self._counts = counts
        self._window = _Window(days=days, max_logins=max_logins)

    async def record(
        self,
        account_id: int,
        features: LoginFeatures,
        at: datetime,
        *,
        tx: Tx | None = None,
        history: int | None = None,
    ) -> None:
        features = fit(features)
        # Redis first: if anything below fails, the login is counted without a row (too high)
        await self._counts.record(account_id, features)
        if tx is not None:
            dropped = await self._rows_in(tx, account_id, features, at, history)
        else:
            async with self._store.begin() as own:
                dropped = await self._rows_in(own, account_id, features, at, history)
        if dropped:
            # with a caller's tx this runs before its commit: a rollback then leaves the
            # counts too low for those logins until the next rebuild (never negative)
            await self._counts.forget_many(_logins(dropped))

    async def _rows_in(
        self, tx: Tx, account_id: int, features: LoginFeatures, at: datetime, history: int | None
    ) -> list[HistoryEntry]:
        await tx.risk_history.lock_account(account_id)
        await tx.risk_history.add(account_id, features, at)
        if not self._window.near_cap(history):
            return []
        return await tx.risk_history.take_beyond_cap(account_id, keep=self._window.max_logins)

    async def snapshot(
        self, account_id: int, features: LoginFeatures, *, tx: Tx | None = None
    ) -> FrequencySnapshot:
        return await self._counts.snapshot(account_id, fit(features))

    async def prune(self, now: datetime, *, batch: int = 1000) -> int:
        cutoff = self._window.cutoff(now)
        if cutoff is None:
            return 0
        total = 0
        while True:
            # rows deleted (committed) first, then forgotten in Redis: a crash in between
            # leaves counts too high, never a double decrement
            async with self._store.begin(offload=True) as tx:
                taken = await tx.risk_history.take_older_than(cutoff, limit=batch)
            if taken:
                await self._counts.forget_many(_logins(taken))
            total += len(taken)
            if len(taken) < batch:
                return total

    async def rebuild(self) -> int:
        """Replace the Redis counters by a recount of the SQL history (after Redis lost them).

        Not synchronized with concurrent logins: one recorded or pruned while the recount runs
        may be miscounted until the next rebuild. Run it when the service is quiet (or accept
        that small error)."""
        async with self._store.begin(offload=True) as tx:
            logins, tallies = await tx.risk_history.tallies()
        await self._counts.replace_all(tables_from_tallies(logins, tallies))
        return sum(logins.values())


def build_risk_store(
    settings: Settings, store: Store, redis: aioredis.Redis | None = None
) -> RiskStore:
    """The RiskStore MAMORI_RISK_STORE asks for: "sql", "redis", or "auto" (Redis when
    MAMORI_REDIS_URL is set). For Redis, `redis` is used when given, else a client is made from
    MAMORI_REDIS_URL (short timeouts: an outage surfaces as CountersUnavailable quickly)."""
    kind = settings.risk_store
    if kind == "auto":
        kind = "redis" if settings.redis_url else "sql"
    window = {"days": settings.risk_history_days, "max_logins": settings.risk_history_max_logins}
    if kind == "sql":
        return SQLRiskStore(store, **window)
    if kind != "redis":
        raise ConfigError([("risk_store_invalid", 'risk_store must be "sql", "redis" or "auto"')])
    if redis is None:
        if not settings.redis_url:
            raise ConfigError([("risk_store_needs_redis", 'risk_store "redis" needs redis_url')])
        redis = aioredis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return RedisRiskStore(store, RedisRiskCounts(redis), **window)


async def prune_loop(risk_store: RiskStore, clock: Clock, interval_seconds: float) -> None:
    """Prune now, then every `interval_seconds`, forever (0 or less: return at once). Errors are
    logged by type only (their messages may quote SQL parameters: logins' addresses and user
    agents) and the loop goes on. Safe in every process at once (see the module docstring)."""
    if interval_seconds <= 0:
        return
    while True:
        try:
            removed = await risk_store.prune(clock.now())
            if removed:
                log.info("risk history: %d logins left the window", removed)
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            # no traceback: its last line would quote the failed statement's parameters
            log.error(
                "risk history pruning failed: %s%s",
                type(exc).__name__,
                f" (from {type(cause).__name__})" if cause else "",
            )
        await asyncio.sleep(interval_seconds)
