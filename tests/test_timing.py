"""An unknown login ID must cost the same as a wrong password: medians within 20%, ≥30 tries each.

Runs with the real argon2id parameters (m=19 MiB, t=2, p=1); tries are interleaved so machine
noise falls on both sides alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.notify import MemoryNotifier
from mamori.web.app import create_app
from tests.conftest import TEST_GEO, make_settings, signup

TRIES = 30


@pytest.fixture
async def real_cost_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # lockouts and IP throttles off: this test is about the hash, and makes 60+ tries
    settings = make_settings(
        database_url,
        argon2_time_cost=2,
        argon2_memory_kib=19456,
        lock_threshold=10_000,
        ip_fail_threshold=10_000,
        ip_distinct_threshold=10_000,
    )
    svc = build_services(settings, clock=FixedClock(), notifier=MemoryNotifier(), geo=TEST_GEO)
    if svc.store.dialect == "postgresql":
        from sqlalchemy import text

        from tests.conftest import TABLES

        async with svc.store.begin() as tx:
            await tx.conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    transport = httpx.ASGITransport(app=create_app(svc), client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
    await svc.store.dispose()


async def test_unknown_id_and_wrong_password_take_the_same_time(
    real_cost_client: httpx.AsyncClient,
) -> None:
    client = real_cost_client
    assert (await signup(client, "victim")).status_code == 201
    client.cookies.clear()
    wrong = {"login_id": "victim", "password": "not the right password"}
    unknown = {"login_id": "no-such-user", "password": "not the right password"}
    times: dict[str, list[float]] = {"wrong": [], "unknown": []}
    bodies: dict[str, set[str]] = {"wrong": set(), "unknown": set()}
    for _ in range(3):  # warm-up
        await client.post("/api/v1/login", json=wrong)
        await client.post("/api/v1/login", json=unknown)
    for i in range(TRIES * 2):
        kind = "unknown" if i % 2 == 0 else "wrong"
        started = time.perf_counter()
        r = await client.post("/api/v1/login", json=wrong if kind == "wrong" else unknown)
        times[kind].append(time.perf_counter() - started)
        assert r.status_code == 401
        bodies[kind].add(r.text)
    assert bodies["wrong"] == bodies["unknown"]
    m_wrong = statistics.median(times["wrong"])
    m_unknown = statistics.median(times["unknown"])
    ratio = m_unknown / m_wrong
    print(
        f"median wrong={m_wrong * 1000:.1f} ms unknown={m_unknown * 1000:.1f} ms ratio={ratio:.3f}"
    )
    assert 0.8 <= ratio <= 1.2, (m_wrong, m_unknown)
    assert m_wrong > 0.01  # the real argon2 cost is there (≥10 ms), so the check means something
