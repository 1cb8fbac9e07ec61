"""RedisCounters: the Counters contract on Redis, one Lua script per update.

Expiry is judged against the caller's `now`, stored next to the value, never Redis's clock;
each key also gets a real PEXPIRE (what is left of the window, plus `SLACK_MS`) so that nothing
is left behind. Float arguments travel as `repr(float)` (full precision) and expiries are stored
as those strings, so a window ends at exactly the same instant as in SQLCounters.

Keys (`prefix` defaults to "mamori:"):
    {prefix}c:{key}       hash  c=<count> e=<expires_at>          incr, get, get_many
    {prefix}d:{key}       string <until>                          raise_until, get_until
    {prefix}m:{key}       zset  member -> last seen (score)       touch_member
    {prefix}t:{{key}}     zset  member -> count                   tally, top
    {prefix}te:{{key}}    string <expires_at> of the tally window  (same hash slot as the zset)

Connection failures (and a read-only replica after a failover) raise `CountersUnavailable`.
Build the client with `RedisCounters.from_url`: short timeouts, at most one immediate retry and
a blocking pool. redis-py's defaults (10 retries with backoff; a pool that raises
MaxConnectionsError, a ConnectionError, past 100 connections) would hide an outage for seconds,
or report one under a mere burst.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mamori.store.counters import CountersUnavailable

SLACK_MS = 60_000

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, TimeoutError, OSError)

# ARGV: now, expires_at (for a new window), amount, slack_ms
_INCR = """
local now = tonumber(ARGV[1])
local e = redis.call('HGET', KEYS[1], 'e')
local c
if e and now < tonumber(e) then
  c = redis.call('HINCRBY', KEYS[1], 'c', ARGV[3])
else
  e = ARGV[2]
  redis.call('HSET', KEYS[1], 'c', ARGV[3], 'e', e)
  c = tonumber(ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil((tonumber(e) - now) * 1000), 0) + ARGV[4])
return c
"""

# KEYS: counter hash, lock deadline. ARGV: now, expires_at (for a new window), slack_ms.
# Count one attempt unless the lock is running, in one step: {count, "0"} or {0, deadline}.
# (Counting and then looking in two round trips let a concurrent request set the lock between
# them, so that no request saw itself cross the threshold: a lock without its start event.)
_INCR_UNLESS_LOCKED = """
local now = tonumber(ARGV[1])
local d = redis.call('GET', KEYS[2])
if d and now < tonumber(d) then return {0, d} end
local e = redis.call('HGET', KEYS[1], 'e')
local c
if e and now < tonumber(e) then
  c = redis.call('HINCRBY', KEYS[1], 'c', 1)
else
  e = ARGV[2]
  redis.call('HSET', KEYS[1], 'c', 1, 'e', e)
  c = 1
end
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil((tonumber(e) - now) * 1000), 0) + ARGV[3])
return {c, '0'}
"""

# ARGV: until, now, slack_ms; returns the deadline as stored (a string, full precision)
_RAISE_UNTIL = """
local u = ARGV[1]
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(u) then u = cur end
local ms = math.max(math.ceil((tonumber(u) - tonumber(ARGV[2])) * 1000), 0) + ARGV[3]
redis.call('SET', KEYS[1], u, 'PX', ms)
return u
"""

# ARGV: member, now, cutoff (now - ttl), ttl_ms + slack_ms
_TOUCH = """
local now = tonumber(ARGV[2])
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seen or tonumber(seen) < now then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n
"""

# KEYS: counts zset, window key. ARGV: member, now, expires_at (new window), amount, slack_ms
_TALLY = """
local now = tonumber(ARGV[2])
local e = redis.call('GET', KEYS[2])
if not e or now >= tonumber(e) then
  redis.call('DEL', KEYS[1])
  e = ARGV[3]
  redis.call('SET', KEYS[2], e)
end
local c = redis.call('ZINCRBY', KEYS[1], ARGV[4], ARGV[1])
local ms = math.max(math.ceil((tonumber(e) - now) * 1000), 0) + ARGV[5]
redis.call('PEXPIRE', KEYS[1], ms)
redis.call('PEXPIRE', KEYS[2], ms)
return c
"""

# KEYS: counts zset, window key. ARGV: now, n. Returns every member scoring at least the n-th
# largest score (ties at the cut are ordered by member in Python), or nothing when expired.
_TOP = """
local e = redis.call('GET', KEYS[2])
if not e or tonumber(ARGV[1]) >= tonumber(e) then return {} end
local n = tonumber(ARGV[2])
local nth = redis.call('ZREVRANGE', KEYS[1], n - 1, n - 1, 'WITHSCORES')
if #nth == 0 then return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') end
return redis.call('ZRANGEBYSCORE', KEYS[1], nth[2], '+inf', 'WITHSCORES')
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pexpire_ms(expires_at: float, now: float) -> int:
    return max(math.ceil((expires_at - now) * 1000), 0) + SLACK_MS


class RedisCounters:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "mamori:") -> None:
        self._client = client
        self._prefix = prefix
        self._incr = client.register_script(_INCR)
        self._incr_unless_locked = client.register_script(_INCR_UNLESS_LOCKED)
        self._raise_until = client.register_script(_RAISE_UNTIL)
        self._touch = client.register_script(_TOUCH)
        self._tally = client.register_script(_TALLY)
        self._top = client.register_script(_TOP)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "mamori:",
        connect_timeout: float = 0.5,
        timeout: float = 0.5,
        max_connections: int = 32,
        pool_timeout: float = 2.0,
        **kwargs: Any,
    ) -> RedisCounters:
        """A client that notices an outage fast: 0.5 s timeouts, one immediate retry.

        The single retry (connection errors only, never timeouts, which could run a script
        twice) lets a pooled connection that a restarted server dropped reconnect quietly.
        The pool blocks (up to `pool_timeout`) for a free connection: redis-py's default pool
        raises MaxConnectionsError at once, which would look like an outage under a burst.
        """
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_connect_timeout=connect_timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            **kwargs,
        )
        return cls(aioredis.Redis.from_pool(pool), prefix=prefix)

    @asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            raise CountersUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    def _counter(self, key: str) -> str:
        return f"{self._prefix}c:{key}"

    def _deadline(self, key: str) -> str:
        return f"{self._prefix}d:{key}"

    def _members(self, key: str) -> str:
        return f"{self._prefix}m:{key}"

    def _tally_keys(self, key: str) -> list[str]:
        return [f"{self._prefix}t:{{{key}}}", f"{self._prefix}te:{{{key}}}"]

    # ---- the contract ----

    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int:
        args: list[str | float] = [float(now), float(now + ttl), int(amount), SLACK_MS]
        async with self._guard():
            count = await self._incr(keys=[self._counter(key)], args=args)
        return int(count)

    @staticmethod
    def _live_count(raw: Sequence[Any], now: float) -> int:
        count, expires_at = raw
        if count is None or expires_at is None or now >= float(expires_at):
            return 0
        return int(count)

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]:
        args: list[str | float] = [float(now), float(now + ttl), SLACK_MS]
        async with self._guard():
            count, until = await self._incr_unless_locked(
                keys=[self._counter(key), self._deadline(lock_key)], args=args
            )
        return int(count), float(_text(until))

    async def get(self, key: str, *, now: float) -> int:
        async with self._guard():
            raw = await self._client.hmget(self._counter(key), ["c", "e"])
        return self._live_count(raw, now)

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        if not keys:
            return []
        async with self._guard(), self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._counter(key), ["c", "e"])
            raws = await pipe.execute()
        return [self._live_count(raw, now) for raw in raws]

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        async with self._guard():
            value = await self._raise_until(
                keys=[self._deadline(key)], args=[float(until), float(now), SLACK_MS]
            )
        return float(value)

    async def get_until(self, key: str, *, now: float) -> float:
        async with self._guard():
            raw = await self._client.get(self._deadline(key))
        if raw is None or now >= float(raw):
            return 0.0
        return float(raw)

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        gc_ms = _pexpire_ms(now + ttl, now)
        args: list[str | float] = [member, float(now), float(now - ttl), gc_ms]
        async with self._guard():
            count = await self._touch(keys=[self._members(key)], args=args)
        return int(count)

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        args: list[str | float] = [member, float(now), float(now + ttl), int(amount), SLACK_MS]
        async with self._guard():
            count = await self._tally(keys=self._tally_keys(key), args=args)
        return int(float(count))

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]:
        if n <= 0:
            return []
        async with self._guard():
            flat = await self._top(keys=self._tally_keys(key), args=[float(now), n])
        pairs = [(_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        return pairs[:n]

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        names: list[str] = []
        for key in keys:
            names += [self._counter(key), self._deadline(key), self._members(key)]
            names += self._tally_keys(key)
        async with self._guard():
            await self._client.delete(*names)

    async def purge(self, *, now: float) -> int:
        """Redis expires keys itself (PEXPIRE); nothing to do."""
        return 0

    async def close(self) -> None:
        await self._client.aclose()
