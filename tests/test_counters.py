"""The Counters contract, one suite over memory, SQLite, PostgreSQL and Redis; then failover."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from mamori.store.counters import Counters, CountersUnavailable
from mamori.store.counters_failover import FailoverCounters
from mamori.store.counters_memory import MemoryCounters
from mamori.store.counters_redis import SLACK_MS, RedisCounters
from mamori.store.counters_sql import MEMBER_RETENTION, SQLCounters
from mamori.store.engine import create_engine
from tests.conftest import need_server
from tests.live_server import RedisProcess, free_port

T0 = 1_767_225_600.25  # 2026-01-01 00:00:00.25 UTC: real epoch magnitudes, with a fraction
REDIS_URL = "redis://127.0.0.1:6379/0"
COUNTER_TABLES = ("counters", "deadlines", "counter_members", "tallies")
BACKENDS = ["memory", "sqlite", "postgresql", "redis"]


# ---- fixtures ----


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(name, url); servers and templates are set up here, outside the event loop."""
    name: str = request.param
    if name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "counters.db"
        shutil.copy(template, path)
        return name, f"sqlite+aiosqlite:///{path}"
    if name == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        return name, url
    if name == "redis":
        need_server("Redis", "127.0.0.1", 6379)
        return name, REDIS_URL
    return name, ""


@pytest.fixture
async def counters(backend: tuple[str, str]) -> AsyncIterator[Counters]:
    name, url = backend
    if name == "memory":
        yield MemoryCounters()
    elif name == "redis":
        prefix = f"mamori-test:{secrets.token_hex(6)}:"
        # generous timeouts: this suite checks semantics, even on a loaded machine
        store = RedisCounters.from_url(url, prefix=prefix, connect_timeout=5, timeout=5)
        yield store
        await store.close()
        raw = aioredis.Redis.from_url(url)
        left = [key async for key in raw.scan_iter(match=prefix + "*", count=1000)]
        if left:
            await raw.delete(*left)
        await raw.aclose()
    else:
        engine = create_engine(url)
        if name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {', '.join(COUNTER_TABLES)}"))
        sql = SQLCounters(engine)
        yield sql
        await sql.close()
        await engine.dispose()


# ---- incr / get / get_many ----


async def test_incr_counts_within_a_window(counters: Counters) -> None:
    assert await counters.incr("k", ttl=60, now=T0) == 1
    assert await counters.incr("k", ttl=60, now=T0 + 1) == 2
    assert await counters.incr("k", ttl=60, now=T0 + 2, amount=3) == 5
    assert await counters.get("k", now=T0 + 59.999) == 5


async def test_window_expires_at_exactly_ttl_and_restarts_at_amount(counters: Counters) -> None:
    await counters.incr("k", ttl=60, now=T0, amount=2)
    end = T0 + 60
    assert await counters.get("k", now=math.nextafter(end, 0)) == 2
    assert await counters.get("k", now=end) == 0
    assert await counters.incr("k", ttl=60, now=end, amount=4) == 4  # a new window at `amount`
    assert await counters.incr("k", ttl=60, now=end + 59) == 5
    assert await counters.get("k", now=end + 60) == 0


async def test_window_starts_at_first_hit_and_does_not_slide(counters: Counters) -> None:
    await counters.incr("k", ttl=60, now=T0)
    await counters.incr("k", ttl=60, now=T0 + 59)
    assert await counters.get("k", now=T0 + 60) == 0
    assert await counters.incr("k", ttl=60, now=T0 + 60) == 1


async def test_expiry_keeps_full_float_precision(counters: Counters) -> None:
    now, ttl = T0 + 0.1, 0.2
    await counters.incr("k", ttl=ttl, now=now)
    end = now + ttl
    assert await counters.get("k", now=math.nextafter(end, 0)) == 1
    assert await counters.get("k", now=end) == 0


async def test_get_absent_is_zero(counters: Counters) -> None:
    assert await counters.get("nothing", now=T0) == 0


async def test_get_many_with_missing_expired_and_repeated_keys(counters: Counters) -> None:
    await counters.incr("a", ttl=60, now=T0, amount=3)
    await counters.incr("b", ttl=10, now=T0)
    await counters.incr("c", ttl=60, now=T0, amount=7)
    keys = ["a", "missing", "b", "c", "a"]
    assert await counters.get_many(keys, now=T0 + 5) == [3, 0, 1, 7, 3]
    assert await counters.get_many(keys, now=T0 + 10) == [3, 0, 0, 7, 3]
    assert await counters.get_many([], now=T0) == []


# ---- deadlines ----


async def test_incr_unless_locked(counters: Counters) -> None:
    assert await counters.incr_unless_locked("n", lock_key="l", ttl=60, now=T0) == (1, 0.0)
    assert await counters.incr_unless_locked("n", lock_key="l", ttl=60, now=T0) == (2, 0.0)
    await counters.raise_until("l", until=T0 + 30, now=T0)
    # while locked nothing is counted and the deadline comes back
    assert await counters.incr_unless_locked("n", lock_key="l", ttl=60, now=T0 + 1) == (0, T0 + 30)
    assert await counters.get("n", now=T0 + 1) == 2
    # once the deadline passes counting resumes in the same window
    assert await counters.incr_unless_locked("n", lock_key="l", ttl=60, now=T0 + 30) == (3, 0.0)
    # a negative amount takes an attempt back
    assert await counters.incr("n", ttl=60, now=T0 + 31, amount=-1) == 2


async def test_concurrent_incr_unless_locked_is_exact(counters: Counters) -> None:
    results = await asyncio.gather(
        *[counters.incr_unless_locked("c", lock_key="cl", ttl=60, now=T0) for _ in range(100)]
    )
    assert sorted(n for n, _ in results) == list(range(1, 101))


async def test_raise_until_keeps_the_maximum(counters: Counters) -> None:
    assert await counters.raise_until("d", until=T0 + 100, now=T0) == T0 + 100
    assert await counters.raise_until("d", until=T0 + 50, now=T0) == T0 + 100  # never lowers
    assert await counters.get_until("d", now=T0) == T0 + 100
    precise = T0 + 200.123456789
    assert await counters.raise_until("d", until=precise, now=T0 + 1) == precise
    assert await counters.get_until("d", now=T0 + 2) == precise


async def test_get_until_is_zero_when_absent_or_passed(counters: Counters) -> None:
    assert await counters.get_until("d", now=T0) == 0.0
    await counters.raise_until("d", until=T0 + 30, now=T0)
    assert await counters.get_until("d", now=math.nextafter(T0 + 30, 0)) == T0 + 30
    assert await counters.get_until("d", now=T0 + 30) == 0.0
    assert await counters.get_until("d", now=T0 + 31) == 0.0
    assert await counters.raise_until("d", until=T0 + 90, now=T0 + 31) == T0 + 90


# ---- member sets ----


async def test_touch_member_counts_distinct_members(counters: Counters) -> None:
    assert await counters.touch_member("ip", "alice", ttl=60, now=T0) == 1
    assert await counters.touch_member("ip", "bob", ttl=60, now=T0 + 10) == 2
    assert await counters.touch_member("ip", "alice", ttl=60, now=T0 + 10) == 2
    assert await counters.touch_member("other", "alice", ttl=60, now=T0 + 10) == 1


async def test_touch_member_window_slides(counters: Counters) -> None:
    await counters.touch_member("ip", "alice", ttl=60, now=T0)
    await counters.touch_member("ip", "bob", ttl=60, now=T0 + 10)
    # alice was seen exactly ttl ago: out; bob is in
    assert await counters.touch_member("ip", "carol", ttl=60, now=T0 + 60) == 2
    assert await counters.touch_member("ip", "carol", ttl=60, now=T0 + 70) == 1
    assert await counters.touch_member("ip", "dave", ttl=60, now=T0 + 200) == 1


async def test_touching_again_refreshes_a_member(counters: Counters) -> None:
    await counters.touch_member("ip", "alice", ttl=60, now=T0)
    await counters.touch_member("ip", "bob", ttl=60, now=T0)
    await counters.touch_member("ip", "alice", ttl=60, now=T0 + 50)  # refresh
    assert await counters.touch_member("ip", "carol", ttl=60, now=T0 + 100) == 2  # alice, carol


# ---- tallies ----


async def test_tally_counts_per_member_and_top_orders(counters: Counters) -> None:
    assert await counters.tally("t", "a", ttl=60, now=T0) == 1
    assert await counters.tally("t", "a", ttl=60, now=T0 + 1, amount=2) == 3
    assert await counters.tally("t", "b", ttl=60, now=T0 + 2) == 1
    assert await counters.tally("t", "c", ttl=60, now=T0 + 3, amount=5) == 5
    assert await counters.top("t", n=10, now=T0 + 4) == [("c", 5), ("a", 3), ("b", 1)]
    assert await counters.top("t", n=2, now=T0 + 4) == [("c", 5), ("a", 3)]
    assert await counters.top("t", n=0, now=T0 + 4) == []
    assert await counters.top("missing", n=3, now=T0) == []


async def test_top_breaks_ties_by_member_ascending(counters: Counters) -> None:
    for member in ["b", "a", "B", "c", "aa"]:
        await counters.tally("t", member, ttl=60, now=T0, amount=2)
    await counters.tally("t", "z", ttl=60, now=T0, amount=3)
    await counters.tally("t", "y", ttl=60, now=T0, amount=1)
    # byte order, like Python's: "B" < "a" < "aa" < "b" < "c"
    expect = [("z", 3), ("B", 2), ("a", 2), ("aa", 2), ("b", 2), ("c", 2), ("y", 1)]
    assert await counters.top("t", n=10, now=T0) == expect
    assert await counters.top("t", n=3, now=T0) == expect[:3]  # the cut falls inside a tie
    assert await counters.top("t", n=1, now=T0) == expect[:1]


async def test_tally_key_expires_as_a_whole_ttl_after_its_first_hit(counters: Counters) -> None:
    await counters.tally("t", "a", ttl=60, now=T0, amount=3)
    await counters.tally("t", "b", ttl=60, now=T0 + 30)  # joins the window opened at T0
    assert await counters.top("t", n=5, now=math.nextafter(T0 + 60, 0)) == [("a", 3), ("b", 1)]
    assert await counters.top("t", n=5, now=T0 + 60) == []
    # the next hit opens a new window: earlier members are gone, counts restart at amount
    assert await counters.tally("t", "b", ttl=60, now=T0 + 61, amount=2) == 2
    assert await counters.top("t", n=5, now=T0 + 61) == [("b", 2)]
    assert await counters.tally("t", "a", ttl=60, now=T0 + 62) == 1
    assert await counters.top("t", n=5, now=T0 + 62) == [("b", 2), ("a", 1)]
    assert await counters.top("t", n=5, now=T0 + 121) == []


# ---- delete / purge ----


async def test_delete_removes_every_kind_for_the_keys(counters: Counters) -> None:
    for key in ("x", "y", "keep"):
        await counters.incr(key, ttl=60, now=T0)
        await counters.raise_until(key, until=T0 + 60, now=T0)
        await counters.touch_member(key, "m", ttl=60, now=T0)
        await counters.tally(key, "m", ttl=60, now=T0)
    await counters.delete("x", "y", "never-existed")
    await counters.delete()
    for key in ("x", "y"):
        assert await counters.get(key, now=T0) == 0
        assert await counters.get_until(key, now=T0) == 0.0
        assert await counters.top(key, n=5, now=T0) == []
        assert await counters.touch_member(key, "other", ttl=60, now=T0) == 1
        assert await counters.incr(key, ttl=60, now=T0) == 1
    assert await counters.get("keep", now=T0) == 1
    assert await counters.get_until("keep", now=T0) == T0 + 60
    assert await counters.top("keep", n=5, now=T0) == [("m", 1)]
    assert await counters.touch_member("keep", "other", ttl=60, now=T0) == 2


async def test_purge_drops_only_what_expired(counters: Counters, backend: tuple[str, str]) -> None:
    await counters.incr("old", ttl=10, now=T0)
    await counters.incr("live", ttl=100, now=T0)
    await counters.raise_until("old", until=T0 + 10, now=T0)
    await counters.raise_until("live", until=T0 + 100, now=T0)
    await counters.tally("old", "a", ttl=10, now=T0)
    await counters.tally("old", "b", ttl=10, now=T0)
    await counters.tally("live", "a", ttl=100, now=T0)
    await counters.touch_member("m", "stale", ttl=MEMBER_RETENTION, now=T0 - MEMBER_RETENTION - 1)
    await counters.touch_member("m", "fresh", ttl=MEMBER_RETENTION + 100, now=T0)  # keeps "stale"
    removed = await counters.purge(now=T0 + 10)
    if backend[0] == "redis":
        assert removed == 0  # Redis expires keys itself
    else:
        assert removed == 1 + 1 + 2 + 1  # counter, deadline, two tally rows, one member
        assert await counters.purge(now=T0 + 10) == 0
    assert await counters.get("live", now=T0 + 10) == 1
    assert await counters.get_until("live", now=T0 + 10) == T0 + 100
    assert await counters.top("live", n=5, now=T0 + 10) == [("a", 1)]
    assert await counters.touch_member("m", "fresh", ttl=60, now=T0 + 10) == 1


# ---- concurrency: every update is one atomic operation ----

N = 200


async def test_concurrent_incr_is_exact(counters: Counters) -> None:
    results = await asyncio.gather(*(counters.incr("hot", ttl=60, now=T0) for _ in range(N)))
    assert sorted(results) == list(range(1, N + 1))
    assert await counters.get("hot", now=T0) == N


async def test_concurrent_tally_is_exact(counters: Counters) -> None:
    results = await asyncio.gather(*(counters.tally("t", "m", ttl=60, now=T0) for _ in range(N)))
    assert sorted(results) == list(range(1, N + 1))
    assert await counters.top("t", n=1, now=T0) == [("m", N)]


async def test_concurrent_tally_of_many_members_shares_one_window(counters: Counters) -> None:
    members = [f"m{i:03d}" for i in range(50)]
    await asyncio.gather(*(counters.tally("t", m, ttl=60, now=T0) for m in members))
    assert await counters.top("t", n=100, now=T0 + 59) == [(m, 1) for m in members]
    assert await counters.top("t", n=100, now=T0 + 60) == []


async def test_concurrent_raise_until_keeps_the_maximum(counters: Counters) -> None:
    untils = [T0 + i for i in range(1, N + 1)]
    random.Random(7).shuffle(untils)
    results = await asyncio.gather(*(counters.raise_until("d", until=u, now=T0) for u in untils))
    assert all(r >= u for r, u in zip(results, untils, strict=True))
    assert set(results) <= set(untils)
    assert max(results) == T0 + N
    assert await counters.get_until("d", now=T0) == T0 + N


async def test_concurrent_touch_member_counts_exactly(counters: Counters) -> None:
    results = await asyncio.gather(
        *(counters.touch_member("ip", f"user{i}", ttl=60, now=T0) for i in range(N))
    )
    assert sorted(results) == list(range(1, N + 1))


async def test_concurrent_touch_delete_and_purge_do_not_deadlock(counters: Counters) -> None:
    old = T0 - MEMBER_RETENTION - 10
    await asyncio.gather(
        *(counters.touch_member("ip", f"u{i}", ttl=60, now=old) for i in range(50))
    )
    calls: list[Awaitable[object]] = [
        counters.touch_member("ip", f"u{i}", ttl=60, now=T0) for i in range(100)
    ]
    calls += [counters.delete("ip", "other") for _ in range(10)]
    calls += [counters.purge(now=T0) for _ in range(5)]
    random.Random(3).shuffle(calls)
    await asyncio.gather(*calls)
    assert 1 <= await counters.touch_member("ip", "last", ttl=60, now=T0) <= 101


# ---- Redis specifics ----


@pytest.fixture
async def redis_counters() -> AsyncIterator[tuple[RedisCounters, aioredis.Redis, str]]:
    need_server("Redis", "127.0.0.1", 6379)
    prefix = f"mamori-test:{secrets.token_hex(6)}:"
    store = RedisCounters.from_url(REDIS_URL, prefix=prefix)
    raw = aioredis.Redis.from_url(REDIS_URL)
    yield store, raw, prefix
    left = [key async for key in raw.scan_iter(match=prefix + "*", count=1000)]
    if left:
        await raw.delete(*left)
    await raw.aclose()
    await store.close()


async def test_redis_keys_get_a_real_ttl(
    redis_counters: tuple[RedisCounters, aioredis.Redis, str],
) -> None:
    store, raw, p = redis_counters
    await store.incr("k", ttl=60, now=T0)
    await store.raise_until("k", until=T0 + 30, now=T0)
    await store.touch_member("k", "m", ttl=20, now=T0)
    await store.tally("k", "m", ttl=40, now=T0)
    expected = {
        f"{p}c:k": 60_000,
        f"{p}d:k": 30_000,
        f"{p}m:k": 20_000,
        f"{p}t:{{k}}": 40_000,
        f"{p}te:{{k}}": 40_000,
    }
    for name, window_ms in expected.items():
        pttl = await raw.pttl(name)
        assert window_ms + SLACK_MS - 2_000 < pttl <= window_ms + SLACK_MS, name
    # a deadline already passed (by the caller's clock) is still kept for the slack
    await store.raise_until("gone", until=T0 - 100, now=T0)
    assert SLACK_MS - 2_000 < await raw.pttl(f"{p}d:gone") <= SLACK_MS


async def test_redis_unreachable_raises_counters_unavailable_fast() -> None:
    store = RedisCounters.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(CountersUnavailable):
        await store.incr("k", ttl=60, now=T0)
    with pytest.raises(CountersUnavailable):
        await store.get_many(["a", "b"], now=T0)
    with pytest.raises(CountersUnavailable):
        await store.top("t", n=3, now=T0)
    assert time.monotonic() - started < 2.0
    await store.close()


# ---- failover ----


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Switchable(MemoryCounters):
    """A primary that can be taken down: every call raises CountersUnavailable while down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise CountersUnavailable("switched off")

    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int:
        self._check()
        return await super().incr(key, ttl=ttl, now=now, amount=amount)

    async def get(self, key: str, *, now: float) -> int:
        self._check()
        return await super().get(key, now=now)

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        self._check()
        return await super().get_many(keys, now=now)

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        self._check()
        return await super().raise_until(key, until=until, now=now)

    async def get_until(self, key: str, *, now: float) -> float:
        self._check()
        return await super().get_until(key, now=now)

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        self._check()
        return await super().touch_member(key, member, ttl=ttl, now=now)

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        self._check()
        return await super().tally(key, member, ttl=ttl, now=now, amount=amount)

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]:
        self._check()
        return await super().top(key, n=n, now=now)

    async def delete(self, *keys: str) -> None:
        self._check()
        await super().delete(*keys)

    async def purge(self, *, now: float) -> int:
        self._check()
        return await super().purge(now=now)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mamori.counters"]


async def test_failover_routes_probes_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mamori.counters")
    primary, fallback, clock = Switchable(), MemoryCounters(), FakeMonotonic()
    fo = FailoverCounters(primary, fallback, retry_after=5.0, clock=clock)
    assert await fo.incr("k", ttl=60, now=T0) == 1
    assert not fo.degraded
    assert await primary.get("k", now=T0) == 1

    primary.down = True
    assert await fo.incr("k", ttl=60, now=T0) == 1  # the fallback's own window
    assert fo.degraded
    calls = primary.calls
    # every method answers from the fallback, none raises, the primary is left alone
    assert await fo.get("k", now=T0) == 1
    assert await fo.get_many(["k", "x"], now=T0) == [1, 0]
    assert await fo.raise_until("d", until=T0 + 9, now=T0) == T0 + 9
    assert await fo.get_until("d", now=T0) == T0 + 9
    assert await fo.touch_member("m", "a", ttl=60, now=T0) == 1
    assert await fo.tally("t", "a", ttl=60, now=T0) == 1
    assert await fo.top("t", n=3, now=T0) == [("a", 1)]
    assert await fo.purge(now=T0) == 0
    assert primary.calls == calls

    clock.t += 5.0  # probe: still down; no second warning
    assert await fo.incr("k", ttl=60, now=T0) == 2
    assert primary.calls == calls + 1
    assert fo.degraded
    assert len(outage_lines(caplog)) == 1
    assert "unavailable" in outage_lines(caplog)[0]

    await fo.delete("k")  # during the outage: fallback now, primary on recovery
    assert await fallback.get("k", now=T0) == 0
    primary.down = False
    clock.t += 4.9
    assert await fo.incr("j", ttl=60, now=T0) == 1
    assert await primary.get("j", now=T0) == 0  # not probed yet
    clock.t += 0.1
    assert await fo.incr("j", ttl=60, now=T0) == 1  # probed: the primary answers
    assert not fo.degraded
    assert await primary.get("j", now=T0) == 1
    assert await primary.get("k", now=T0) == 0  # the delete was replayed
    lines = outage_lines(caplog)
    assert len(lines) == 2
    assert "back" in lines[1]
    await fo.close()


async def test_failover_fails_closed_when_the_fallback_is_down_too() -> None:
    primary, fallback = Switchable(), Switchable()
    primary.down = fallback.down = True
    fo = FailoverCounters(primary, fallback, clock=FakeMonotonic())
    with pytest.raises(RuntimeError) as info:
        await fo.incr("k", ttl=60, now=T0)
    assert not isinstance(info.value, CountersUnavailable)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.kill()


async def test_failover_survives_a_real_redis_outage(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mamori.counters")
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    clock = FakeMonotonic()
    fo = FailoverCounters(
        RedisCounters.from_url(url), MemoryCounters(), retry_after=5.0, clock=clock
    )
    raw = aioredis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        assert await fo.incr("k", ttl=60, now=T0) == 1
        assert await fo.incr("k", ttl=60, now=T0) == 2
        assert not fo.degraded

        redis_server.kill()
        started = time.monotonic()
        assert await fo.incr("k", ttl=60, now=T0) == 1  # answered by the fallback
        assert time.monotonic() - started < 2.0
        assert fo.degraded
        assert await fo.incr("k", ttl=60, now=T0) == 2
        assert await fo.tally("t", "a", ttl=60, now=T0) == 1
        lines = outage_lines(caplog)
        assert len(lines) == 1
        assert "unavailable" in lines[0]

        redis_server.start()  # same port, empty
        clock.t += 4.9
        assert await fo.incr("k", ttl=60, now=T0) == 3  # still the fallback
        assert await raw.exists("mamori:c:k") == 0
        clock.t += 0.1
        assert await fo.incr("k", ttl=60, now=T0) == 1  # the primary again (a fresh server)
        assert not fo.degraded
        assert await raw.hget("mamori:c:k", "c") == b"1"
        assert await fo.get("k", now=T0) == 1
        lines = outage_lines(caplog)
        assert len(lines) == 2
        assert "back" in lines[1]
    finally:
        await raw.aclose()
        await fo.close()
