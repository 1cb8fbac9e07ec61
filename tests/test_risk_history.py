"""The risk history window: forgetting is the exact inverse of recording, the cap and the age
limit keep the counters equal to a recount of the surviving logins (SQLite, PostgreSQL, Redis).

The oracle is `MemoryFrequencies`: after any sequence of records, caps and prunes, every counter
in the store (all rows or hash fields, with no zero left behind) equals what
`MemoryFrequencies.from_logins(survivors)` holds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from mamori.clock import FixedClock
from mamori.errors import ConfigError
from mamori.flows.risk_store import (
    RedisRiskStore,
    RiskStore,
    SQLRiskStore,
    build_risk_store,
    prune_loop,
)
from mamori.flows.services import Services
from mamori.risk.features import Level, LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot, MemoryFrequencies
from mamori.store import Store, Tx, create_store
from mamori.store import tables as t
from mamori.store.risk_counts_redis import RedisRiskCounts
from mamori.store.risk_history import HistoryEntry, fit
from tests.conftest import make_settings, need_server
from tests.test_risk_store import accounts, random_login

Tables = dict[str, dict[str, int]]
US = "\x1f"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ---- the oracle, written out independently of the store's code -------------------------------


def memory_tables(memory: MemoryFrequencies) -> Tables:
    """Every counter MemoryFrequencies holds, in the store's (scope -> key -> count) shape."""
    logins, g_counts, g_distinct, users = cast(
        tuple[
            int,
            dict[tuple[Level, str], int],
            dict[Level, int],
            dict[int, tuple[int, dict[tuple[Level, str], int], dict[Level, int]]],
        ],
        memory.state(),
    )
    g: dict[str, int] = {}
    if logins:
        g["n"] = logins
    if users:
        g["users"] = len(users)
    g.update({f"c{US}{lv}{US}{v}": n for (lv, v), n in g_counts.items()})
    g.update({f"d{US}{lv}": n for lv, n in g_distinct.items() if n})
    out: Tables = {"g": g} if g else {}
    for user, (n, counts, distinct) in users.items():
        own = {"n": n}
        own.update({f"c{US}{lv}{US}{v}": k for (lv, v), k in counts.items()})
        own.update({f"d{US}{lv}": k for lv, k in distinct.items() if k})
        out[f"u{user}"] = own
    return out


@dataclass
class Login:
    """One login of the model history (the order of `seq` breaks ties on `at`, like row ids)."""

    seq: int
    user: int
    at: datetime
    features: LoginFeatures


class Model:
    """The history window in plain Python: cap per user at record time, age limit at prune."""

    def __init__(self, *, days: int, max_logins: int) -> None:
        self.days = days
        self.max_logins = max_logins
        self.logins: list[Login] = []
        self._seq = 0

    def record(self, user: int, features: LoginFeatures, at: datetime) -> None:
        self._seq += 1
        self.logins.append(Login(self._seq, user, at, features))
        own = sorted((x for x in self.logins if x.user == user), key=lambda x: (x.at, x.seq))
        drop = {x.seq for x in own[: max(0, len(own) - self.max_logins)]}
        self.logins = [x for x in self.logins if x.seq not in drop]

    def prune(self, now: datetime) -> int:
        cutoff = now - timedelta(days=self.days)
        before = len(self.logins)
        self.logins = [x for x in self.logins if x.at >= cutoff]
        return before - len(self.logins)

    def tables(self) -> Tables:
        return memory_tables(
            MemoryFrequencies.from_logins((x.user, x.features) for x in self.logins)
        )


# ---- reading the stores whole -------------------------------------------------------------------


async def sql_tables(store: Store) -> Tables:
    async with store.begin() as tx:
        rows = list(await tx.conn.execute(select(t.risk_counts)))
    out: Tables = {}
    for scope, key, count in rows:
        out.setdefault(str(scope), {})[str(key)] = int(count)
    return out


async def redis_tables(client: aioredis.Redis, prefix: str) -> Tables:
    out: Tables = {}
    async for raw in client.scan_iter(match=f"{prefix}risk:*"):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        fields = await client.hgetall(name)
        out[name.removeprefix(f"{prefix}risk:")] = {
            (k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in fields.items()
        }
    return out


async def history(store: Store) -> list[HistoryEntry]:
    async with store.begin() as tx:
        return await tx.risk_history.page(after_id=0, limit=1_000_000)


def recount(entries: list[HistoryEntry]) -> Tables:
    return memory_tables(MemoryFrequencies.from_logins((e.account_id, e.features) for e in entries))


@pytest.fixture
async def redis_client() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    need_server("Redis", "127.0.0.1", 6379)
    prefix = f"mamori-test:{secrets.token_hex(6)}:"
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@dataclass
class Env:
    """One way of storing the risk history: "sql" or "redis" counters, on one database."""

    services: Services
    kind: str
    redis: tuple[aioredis.Redis, str] | None

    def store(
        self, *, days: int = 183, max_logins: int = 200, on: Store | None = None
    ) -> RiskStore:
        sql = on or self.services.store
        if self.redis is None:
            return SQLRiskStore(sql, days=days, max_logins=max_logins)
        client, prefix = self.redis
        counts = RedisRiskCounts(client, prefix=prefix)
        return RedisRiskStore(sql, counts, days=days, max_logins=max_logins)

    async def tables(self) -> Tables:
        if self.redis is None:
            return await sql_tables(self.services.store)
        return await redis_tables(*self.redis)

    async def lose_counters(self) -> None:
        """Simulate lost or corrupted counters (a Redis flush; a bad SQL row)."""
        if self.redis is None:
            async with self.services.store.begin() as tx:
                await tx.conn.execute(t.risk_counts.delete().where(t.risk_counts.c.key == "n"))
                await tx.conn.execute(t.risk_counts.insert().values(scope="u999", key="n", count=5))
            return
        client, prefix = self.redis
        keys = [k async for k in client.scan_iter(match=f"{prefix}risk:*")]
        await client.delete(*keys)


@pytest.fixture(params=["sql", "redis"])
def env(request: pytest.FixtureRequest, services: Services) -> Env:
    if request.param == "redis":
        pair: tuple[aioredis.Redis, str] = request.getfixturevalue("redis_client")
        return Env(services, "redis", pair)
    return Env(services, "sql", None)


# ---- forget: the exact inverse of record --------------------------------------------------------


async def test_sql_forget_inverts_record(services: Services) -> None:
    rng = random.Random(21)
    users = await accounts(services, 4)
    logins = [(rng.choice(users), random_login(rng)) for _ in range(150)]
    for user, features in logins:
        async with services.store.begin() as tx:
            await tx.risk.record(user, features)
    rng.shuffle(logins)
    gone, kept = logins[:110], logins[110:]
    for user, features in gone[:30]:  # one at a time
        async with services.store.begin() as tx:
            await tx.risk.forget(user, features)
    for i in range(30, 110, 40):  # in batches (counters shared within a batch)
        async with services.store.begin() as tx:
            await tx.risk.forget_many(gone[i : i + 40])
    memory = MemoryFrequencies.from_logins(kept)
    assert await sql_tables(services.store) == memory_tables(memory)
    for _ in range(30):
        user, features = rng.choice([*users, 999]), random_login(rng)
        async with services.store.begin() as tx:
            got = await tx.risk.snapshot(user, features)
        assert got == FrequencySnapshot.capture(memory, user=user, features=features)
    # forgetting everything leaves an empty table
    async with services.store.begin() as tx:
        await tx.risk.forget_many(kept)
    assert await sql_tables(services.store) == {}


async def test_sql_forget_of_unrecorded_login_goes_no_lower(services: Services) -> None:
    (user,) = await accounts(services, 1)
    features = random_login(random.Random(1))
    async with services.store.begin() as tx:
        await tx.risk.forget(user, features)
    assert await sql_tables(services.store) == {}
    async with services.store.begin() as tx:
        await tx.risk.record(user, features)
        await tx.risk.forget_many([(user, features), (user, features)])  # once too often
    assert await sql_tables(services.store) == {}


async def test_redis_forget_inverts_record(redis_client: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_client
    counts = RedisRiskCounts(client, prefix=prefix)
    rng = random.Random(22)
    logins = [(rng.choice([1, 2, 3, 4]), random_login(rng)) for _ in range(150)]
    for user, features in logins:
        await counts.record(user, features)
    rng.shuffle(logins)
    gone, kept = logins[:110], logins[110:]
    for user, features in gone[:30]:
        await counts.forget(user, features)
    await counts.forget_many(gone[30:])
    memory = MemoryFrequencies.from_logins(kept)
    assert await redis_tables(client, prefix) == memory_tables(memory)
    for _ in range(30):
        user, features = rng.choice([1, 2, 3, 4, 999]), random_login(rng)
        expected = FrequencySnapshot.capture(memory, user=user, features=features)
        assert await counts.snapshot(user, features) == expected
    # one login too many forgotten (e.g. after a flush): nothing goes below 0
    await counts.forget_many([*kept, *kept[:5]])
    assert await redis_tables(client, prefix) == {}


# ---- the window: cap at record, age at prune ---------------------------------------------------


async def test_cap_is_enforced_when_recording(env: Env) -> None:
    rng = random.Random(31)
    alice, bob = await accounts(env.services, 2)
    store = env.store(max_logins=5)
    model = Model(days=183, max_logins=5)
    for i in range(9):
        features = random_login(rng)
        at = T0 + timedelta(minutes=i)
        await store.record(alice, features, at)
        model.record(alice, features, at)
    features = random_login(rng)
    await store.record(bob, features, T0)
    model.record(bob, features, T0)
    async with env.services.store.begin() as tx:
        assert await tx.risk_history.count(alice) == 5
        assert await tx.risk_history.count(bob) == 1
    kept = [e.at for e in await history(env.services.store) if e.account_id == alice]
    assert sorted(kept) == [T0 + timedelta(minutes=i) for i in range(4, 9)]
    assert await env.tables() == model.tables()
    snap = await store.snapshot(alice, features)
    assert snap.own_logins == 5
    assert snap.logins == 6


async def test_cap_check_skipped_far_from_it_and_made_near_it(env: Env) -> None:
    """With the account's history count passed in (the login's snapshot), the cap query only
    runs once the account comes within CAP_MARGIN of the cap; then it trims everything."""
    from mamori.flows.risk_store import CAP_MARGIN

    rng = random.Random(35)
    (alice,) = await accounts(env.services, 1)
    cap = CAP_MARGIN + 4
    store = env.store(max_logins=cap)
    # told "0 logins so far" each time: far from the cap, so nothing is trimmed yet
    for i in range(cap + 2):
        await store.record(alice, random_login(rng), T0 + timedelta(minutes=i), history=0)
    async with env.services.store.begin() as tx:
        assert await tx.risk_history.count(alice) == cap + 2
    # a count near the cap: the check runs and trims to the newest `cap`
    await store.record(alice, random_login(rng), T0 + timedelta(hours=1), history=cap - 1)
    async with env.services.store.begin() as tx:
        assert await tx.risk_history.count(alice) == cap
    kept = sorted(e.at for e in await history(env.services.store) if e.account_id == alice)
    assert kept[-1] == T0 + timedelta(hours=1)
    assert kept[0] == T0 + timedelta(minutes=3)
    snap = await store.snapshot(alice, random_login(rng))
    assert snap.own_logins == cap


async def test_age_pruning_with_a_fixed_clock(env: Env, clock: FixedClock) -> None:
    rng = random.Random(32)
    users = await accounts(env.services, 3)
    store = env.store(days=10)
    model = Model(days=10, max_logins=200)
    for day in range(30):
        for user in users:
            features = random_login(rng)
            at = T0 + timedelta(days=day, hours=rng.randint(0, 23))
            await store.record(user, features, at)
            model.record(user, features, at)
    clock.set(T0 + timedelta(days=30))
    expected = model.prune(clock.now())
    assert expected > 0
    assert await store.prune(clock.now(), batch=7) == expected  # several batches
    assert all(e.at >= clock.now() - timedelta(days=10) for e in await history(env.services.store))
    assert await env.tables() == model.tables()
    assert await store.prune(clock.now(), batch=7) == 0  # idempotent
    assert await env.tables() == model.tables()
    # everything ages out: nothing is left anywhere
    clock.advance(timedelta(days=365))
    assert await store.prune(clock.now()) == len(model.logins)
    assert await history(env.services.store) == []
    assert await env.tables() == {}


async def test_no_age_limit_and_no_cap_when_zero(env: Env) -> None:
    (user,) = await accounts(env.services, 1)
    store = env.store(days=0, max_logins=0)
    rng = random.Random(33)
    for i in range(5):
        await store.record(user, random_login(rng), T0 - timedelta(days=1000 * i))
    assert await store.prune(T0 + timedelta(days=10_000)) == 0
    assert len(await history(env.services.store)) == 5


async def test_concurrent_pruners_never_forget_twice(env: Env) -> None:
    """Two 'processes' (separate engines) and several tasks prune the same window at once."""
    rng = random.Random(34)
    users = await accounts(env.services, 4)
    store = env.store(days=10)
    model = Model(days=10, max_logins=200)
    for i in range(160):
        user, features = rng.choice(users), random_login(rng)
        at = T0 + timedelta(hours=4 * i)
        await store.record(user, features, at)
        model.record(user, features, at)
    now = T0 + timedelta(days=27)
    expected = model.prune(now)
    other = create_store(env.services.settings.database_url)
    try:
        stores = [store, env.store(days=10, on=other), store, env.store(days=10, on=other)]
        removed = await asyncio.gather(*[s.prune(now, batch=5) for s in stores])
    finally:
        await other.dispose()
    assert sum(removed) == expected
    assert await env.tables() == model.tables()
    assert await env.tables() == recount(await history(env.services.store))


async def test_concurrent_records_and_prunes_stay_consistent(env: Env) -> None:
    """Logins (some beyond the cap, some already too old) recorded while pruners run: the
    counters always equal a recount of whatever history survived (and nothing deadlocks)."""
    rng = random.Random(35)
    users = await accounts(env.services, 3)
    store = env.store(days=5, max_logins=4)
    now = T0 + timedelta(days=20)

    async def record(i: int) -> None:
        await store.record(rng.choice(users), random_login(rng), T0 + timedelta(hours=12 * i))

    jobs = [record(i) for i in range(40)] + [store.prune(now, batch=3) for _ in range(4)]
    await asyncio.gather(*jobs)
    await store.prune(now)
    survivors = await history(env.services.store)
    assert all(e.at >= now - timedelta(days=5) for e in survivors)
    assert all(sum(e.account_id == u for e in survivors) <= 4 for u in users)
    assert await env.tables() == recount(survivors)


async def test_random_records_and_prunes_match_memory(env: Env, clock: FixedClock) -> None:
    """Property-style: a seeded random walk of logins, clock moves and prunes."""
    rng = random.Random(36)
    users = await accounts(env.services, 5)
    days, cap = 3, 6
    store = env.store(days=days, max_logins=cap)
    model = Model(days=days, max_logins=cap)
    for step in range(220):
        roll = rng.random()
        if roll < 0.75:
            user, features = rng.choice(users), random_login(rng)
            # mostly now, sometimes back-dated (an older login must be the one the cap drops)
            at = clock.now() - timedelta(hours=rng.choice([0, 0, 0, 1, 30, 80]))
            await store.record(user, features, at)
            model.record(user, features, at)
        elif roll < 0.9:
            clock.advance(timedelta(hours=rng.randint(1, 20)))
        else:
            assert await store.prune(clock.now(), batch=rng.randint(1, 8)) == model.prune(
                clock.now()
            )
        if step % 20 == 0:
            assert await env.tables() == model.tables()
    assert await env.tables() == model.tables()
    for _ in range(20):
        user, features = rng.choice([*users, 999]), random_login(rng)
        memory = MemoryFrequencies.from_logins((x.user, x.features) for x in model.logins)
        expected = FrequencySnapshot.capture(memory, user=user, features=features)
        assert await store.snapshot(user, features) == expected


async def test_long_and_nul_values_are_stored_and_read_alike(env: Env) -> None:
    (user,) = await accounts(env.services, 1)
    store = env.store()
    features = LoginFeatures(
        "203.0.113.1", "N" * 300, "JPN", "Mozilla\x00" + "u" * 900, "B" * 90, "O" * 90,
        "desktop-class-device", "d" * 80,
    )  # fmt: skip
    await store.record(user, features, T0)
    await store.record(user, features, T0)
    snap = await store.snapshot(user, features)
    assert snap.own_logins == 2
    assert set(snap.user_counts.values()) == {2}
    (entry, _) = await history(env.services.store)
    assert entry.features == fit(features)
    assert len(entry.features.ua) == 512
    assert "\x00" not in entry.features.ua
    assert await store.prune(T0 + timedelta(days=400)) == 2
    assert await env.tables() == {}


async def test_rebuild_recounts_from_history(env: Env) -> None:
    rng = random.Random(37)
    users = await accounts(env.services, 3)
    store = env.store(max_logins=8)
    model = Model(days=183, max_logins=8)
    for i in range(50):
        user, features = rng.choice(users), random_login(rng)
        at = T0 + timedelta(minutes=i)
        await store.record(user, features, at)
        model.record(user, features, at)
    await env.lose_counters()
    assert await env.tables() != model.tables()
    assert await store.rebuild() == len(model.logins)
    assert await env.tables() == model.tables()
    # and it goes on incrementally from there
    await store.record(users[0], random_login(rng), T0 + timedelta(hours=2))
    assert await env.tables() == recount(await history(env.services.store))


async def test_sql_rebuild_is_exact_while_logins_are_recorded(services: Services) -> None:
    rng = random.Random(38)
    users = await accounts(services, 3)
    store = SQLRiskStore(services.store, days=183, max_logins=5)
    for i in range(20):
        await store.record(rng.choice(users), random_login(rng), T0 + timedelta(minutes=i))

    async def record(i: int) -> None:
        await store.record(rng.choice(users), random_login(rng), T0 + timedelta(hours=1, minutes=i))

    await asyncio.gather(*[record(i) for i in range(20)], store.rebuild(), store.rebuild())
    assert await sql_tables(services.store) == recount(await history(services.store))


# ---- wiring ------------------------------------------------------------------------------------


async def test_build_risk_store_follows_the_settings() -> None:
    url = "sqlite+aiosqlite:///:memory:"
    sql = create_store(url)
    redis_client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        plain = make_settings(url)
        with_redis = make_settings(url, redis_url="redis://127.0.0.1:6379/0")
        assert isinstance(build_risk_store(plain, sql, None), SQLRiskStore)
        assert isinstance(build_risk_store(with_redis, sql, redis_client), RedisRiskStore)
        assert isinstance(build_risk_store(with_redis, sql, None), RedisRiskStore)
        forced_sql = with_redis.replace(risk_store="sql")
        assert isinstance(build_risk_store(forced_sql, sql, redis_client), SQLRiskStore)
        with pytest.raises(ConfigError):
            build_risk_store(plain.replace(risk_store="redis"), sql, None)
        with pytest.raises(ConfigError):
            build_risk_store(plain.replace(risk_store="memcached"), sql, None)
    finally:
        await redis_client.aclose()
        await sql.dispose()


class FailingStore:
    """A RiskStore whose pruning fails once with data in the message, then succeeds."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []

    async def record(
        self,
        account_id: int,
        features: LoginFeatures,
        at: datetime,
        *,
        tx: Tx | None = None,
        history: int | None = None,
    ) -> None:
        raise AssertionError

    async def snapshot(
        self, account_id: int, features: LoginFeatures, *, tx: Tx | None = None
    ) -> FrequencySnapshot:
        raise AssertionError

    async def prune(self, now: datetime, *, batch: int = 1000) -> int:
        self.calls.append(now)
        if len(self.calls) == 1:
            raise RuntimeError("INSERT ... [parameters: ('203.0.113.77', 'Mozilla/5.0 secret')]")
        return 3

    async def rebuild(self) -> int:
        raise AssertionError


async def test_prune_loop_logs_errors_without_data_and_goes_on(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FailingStore()
    caplog.set_level(logging.INFO, logger="mamori.risk")
    task = asyncio.create_task(prune_loop(fake, clock, 0.01))
    for _ in range(200):
        if len(fake.calls) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fake.calls) >= 3
    assert fake.calls[0] == clock.now()
    assert "RuntimeError" in caplog.text
    assert "203.0.113.77" not in caplog.text
    assert "secret" not in caplog.text
    assert "3 logins" in caplog.text
    calls = len(fake.calls)
    await asyncio.wait_for(prune_loop(fake, clock, 0), 1)  # 0 disables: returns at once
    assert len(fake.calls) == calls
