"""The Counters role: hot, expiring counters shared by every Mamori process.

Implementations (same contract, `tests/test_counters.py` runs it over each):
- `MemoryCounters`  (tests, a single process)                      store/counters_memory.py
- `SQLCounters`     (embedded default; SQLite and PostgreSQL)       store/counters_sql.py
- `RedisCounters`   (`MAMORI_REDIS_URL`)                            store/counters_redis.py
- `FailoverCounters(primary, fallback)`: Redis first; while Redis is unreachable, the fallback
  (SQL) answers and the outage is logged. Never fails open, never raises a connection error.

Every update is ONE atomic operation (an upsert ... RETURNING, or one Lua script), so parallel
requests in many processes cannot slip past a limit. Time is a parameter: `now` is epoch seconds
from the caller's Clock, and expiry is judged against that `now` (not the server's clock), so a
FixedClock drives all three implementations alike. Redis keys also get a real TTL (the window plus
slack) so nothing is left behind.

Semantics:
- incr(key, ttl, now, amount) -> count: a windowed counter. The window starts at the first hit
  and lasts `ttl` seconds; a hit after it expired starts a new window at `amount`.
- get(key, now) -> count (0 when absent or expired); get_many(keys, now) -> list of counts.
- incr_unless_locked(key, lock_key, ttl, now) -> (count, deadline): the login path's one call
  before the hash. It increments `key` like incr FIRST and only then reads `lock_key`'s
  deadline: if that is still ahead, the increment is taken back and (0, deadline) comes back,
  else (count, 0.0). Increment-then-look is what makes a lock race-free: the request that
  crosses a threshold raises the deadline BEFORE it resets the count, so any increment that lands
  after the reset is certain to see the deadline.
- raise_until(key, until, now) -> deadline: set the deadline to max(current, until) atomically
  and return the new deadline; get_until(key, now) -> deadline, or 0.0 when absent or passed.
- touch_member(key, member, ttl, now) -> distinct members seen within the last `ttl` seconds
  (a sliding window; touching again refreshes the member).
- tally(key, member, ttl, now, amount) -> that member's count in the tally; the whole tally key
  expires `ttl` seconds after its first hit. top(key, n, now) -> the n largest (member, count),
  largest first, ties by member ascending.
- delete(*keys): remove counters, deadlines, member sets and tallies with those keys.
- purge(now) -> rows removed: drop everything expired (SQL; a no-op elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class CountersUnavailable(Exception):
    """The backend cannot be reached (FailoverCounters catches it)."""


class Counters(Protocol):
    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int: ...

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]: ...

    async def get(self, key: str, *, now: float) -> int: ...

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]: ...

    async def raise_until(self, key: str, *, until: float, now: float) -> float: ...

    async def get_until(self, key: str, *, now: float) -> float: ...

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int: ...

    async def tally(
        self, key: str, member: str, *, ttl: float, now: float, amount: int = 1
    ) -> int: ...

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]: ...

    async def delete(self, *keys: str) -> None: ...

    async def purge(self, *, now: float) -> int: ...

    async def close(self) -> None: ...


async def count_then_check_lock(
    counters: Counters, key: str, *, lock_key: str, ttl: float, now: float
) -> tuple[int, float]:
    """incr_unless_locked composed from incr and get_until, for backends whose round trips are
    cheap (memory, Redis): count first, then look; take the count back when locked."""
    count = await counters.incr(key, ttl=ttl, now=now)
    until = await counters.get_until(lock_key, now=now)
    if until > now:
        await counters.incr(key, ttl=ttl, now=now, amount=-1)
        return 0, until
    return count, 0.0
