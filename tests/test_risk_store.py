"""The SQL frequency tables mirror MemoryFrequencies exactly (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random

from mamori.flows.services import Services
from mamori.risk.features import LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot, MemoryFrequencies
from mamori.risk.policy import RiskPolicy
from mamori.risk.scoring import score_login


def random_login(rng: random.Random) -> LoginFeatures:
    return LoginFeatures(
        ip=f"203.0.113.{rng.randint(1, 6)}",
        network=rng.choice(["AS1", "AS2", "KDDI"]),
        country=rng.choice(["JP", "JP", "US"]),
        ua=rng.choice(["UA-a", "UA-b", "UA-c"]),
        browser=rng.choice(["Chrome 131", "Safari 17"]),
        os=rng.choice(["Windows 10", "iOS 17.5"]),
        device_type=rng.choice(["desktop", "mobile"]),
        device_id=rng.choice([None, "dev-1", "dev-2", "dev-3"]),
    )


async def accounts(services: Services, n: int) -> list[int]:
    ids = []
    async with services.store.begin() as tx:
        for i in range(n):
            account = await tx.accounts.create(
                login_id=f"risk{i}",
                login_key=f"risk{i}",
                email=f"risk{i}@example.com",
                phone=None,
                password_hash="x",
                language="ja",
                now=services.clock.now(),
            )
            ids.append(account.id)
    return ids


async def test_sql_counts_equal_memory_counts(services: Services) -> None:
    rng = random.Random(11)
    users = await accounts(services, 4)
    memory = MemoryFrequencies()
    for _ in range(120):
        user, features = rng.choice(users), random_login(rng)
        memory.add(user, features)
        async with services.store.begin() as tx:
            await tx.risk.record(user, features)
    for _ in range(40):
        user, features = rng.choice([*users, 999]), random_login(rng)
        expected = FrequencySnapshot.capture(memory, user=user, features=features)
        async with services.store.begin() as tx:
            got = await tx.risk.snapshot(user, features)
        assert got == expected
        policy = RiskPolicy()
        assert score_login(got, user=user, features=features, policy=policy) == score_login(
            memory, user=user, features=features, policy=policy
        )


async def test_concurrent_first_sightings_count_once(services: Services) -> None:
    (user,) = await accounts(services, 1)
    features = LoginFeatures(
        "203.0.113.9", "AS9", "JP", "UA", "Chrome 131", "Windows 10", "desktop", "dev-9"
    )

    async def record() -> None:
        async with services.store.begin() as tx:
            await tx.risk.record(user, features)

    await asyncio.gather(*[record() for _ in range(20)])
    async with services.store.begin() as tx:
        snap = await tx.risk.snapshot(user, features)
    assert (snap.logins, snap.users, snap.own_logins) == (20, 1, 20)
    assert all(v == 1 for v in snap.global_distincts.values())
    assert all(v == 1 for v in snap.user_distincts.values())
    assert set(snap.user_counts.values()) == {20}


async def test_redis_counts_equal_memory_counts() -> None:
    import secrets

    import redis.asyncio as aioredis

    from mamori.store.risk_counts_redis import RedisRiskCounts
    from tests.conftest import need_server

    need_server("Redis", "127.0.0.1", 6379)
    prefix = f"mamori-test:{secrets.token_hex(6)}:"
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        store = RedisRiskCounts(client, prefix=prefix)
        rng = random.Random(12)
        memory = MemoryFrequencies()
        users = [1, 2, 3, 4]
        for _ in range(120):
            user, features = rng.choice(users), random_login(rng)
            memory.add(user, features)
            await store.record(user, features)
        for _ in range(40):
            user, features = rng.choice([*users, 999]), random_login(rng)
            expected = FrequencySnapshot.capture(memory, user=user, features=features)
            assert await store.snapshot(user, features) == expected
        # concurrent first sightings count once
        features = random_login(rng)
        await asyncio.gather(*[store.record(77, features) for _ in range(20)])
        snap = await store.snapshot(77, features)
        assert snap.own_logins == 20
        assert all(
            v == 1
            for lv, v in snap.user_distincts.items()
            if lv != "device" or features.device_id is not None
        )
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
