"""No oracle in the answer or its time: an unknown login ID vs a wrong password, and (when the
login is challenged) a right vs a wrong password. Medians within 20%, >= 30 tries each.

Runs with the real argon2id parameters (m=19 MiB, t=2, p=1); tries are interleaved so machine
noise falls on both sides alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.notify import MemoryNotifier
from mamori.web.app import create_app
from tests.conftest import PASSWORD, TEST_GEO, make_settings, signup

TRIES = 30


@pytest.fixture
async def real_cost_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(database_url) as c:
        yield c


@asynccontextmanager
async def _client(database_url: str, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    # lockouts and IP throttles off: these tests are about the hash, and make 60+ tries
    settings = make_settings(
        database_url,
        argon2_time_cost=2,
        argon2_memory_kib=19456,
        lock_threshold=10_000,
        ip_fail_threshold=10_000,
        ip_distinct_threshold=10_000,
        **overrides,
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
    await svc.background.drain()
    await svc.store.dispose()


Shape = tuple[int, tuple[tuple[str, object], ...]]


def shape(r: httpx.Response) -> Shape:
    """Status and body without the per-request random parts (the challenge id)."""
    body = r.json()
    return r.status_code, tuple(sorted((k, str(v)) for k, v in body.items() if k != "challenge_id"))


async def race(
    client: httpx.AsyncClient, a: dict[str, str], b: dict[str, str]
) -> tuple[float, set[Shape], set[Shape]]:
    """Interleaved tries of two login bodies from new browsers (cookies cleared): the ratio of
    the median times (b / a) and the answers' shapes."""
    times: list[list[float]] = [[], []]
    shapes: list[set[Shape]] = [set(), set()]
    for _ in range(3):  # warm-up
        for body in (a, b):
            client.cookies.clear()
            await client.post("/api/v1/login", json=body)
    for i in range(TRIES * 2):
        k = i % 2
        client.cookies.clear()
        started = time.perf_counter()
        r = await client.post("/api/v1/login", json=(a, b)[k])
        times[k].append(time.perf_counter() - started)
        shapes[k].add(shape(r))
    m_a, m_b = statistics.median(times[0]), statistics.median(times[1])
    print(f"median a={m_a * 1000:.1f} ms b={m_b * 1000:.1f} ms ratio={m_b / m_a:.3f}")
    assert m_a > 0.01  # the real argon2 cost is there (>= 10 ms), so the check means something
    return m_b / m_a, shapes[0], shapes[1]


async def with_history(client: httpx.AsyncClient) -> None:
    assert (await signup(client, "victim")).status_code == 201
    r = await client.post("/api/v1/login", json={"login_id": "victim", "password": PASSWORD})
    assert r.json()["status"] == "ok"


async def test_unknown_id_and_wrong_password_take_the_same_time(
    real_cost_client: httpx.AsyncClient,
) -> None:
    client = real_cost_client
    await with_history(client)
    wrong = {"login_id": "victim", "password": "not the right password"}
    unknown = {"login_id": "no-such-user", "password": "not the right password"}
    ratio, wrong_shapes, unknown_shapes = await race(client, wrong, unknown)
    assert wrong_shapes == unknown_shapes
    assert len(wrong_shapes) == 1 and next(iter(wrong_shapes))[0] == 200  # both challenged
    assert 0.8 <= ratio <= 1.2, ratio


async def test_unknown_id_and_wrong_password_take_the_same_time_without_challenges(
    database_url: str,
) -> None:
    """The foundation's property where no challenge is involved (two-step off by default)."""
    async with _client(database_url, two_step_default_mode="off") as client:
        assert (await signup(client, "victim")).status_code == 201
        wrong = {"login_id": "victim", "password": "not the right password"}
        unknown = {"login_id": "no-such-user", "password": "not the right password"}
        ratio, wrong_shapes, unknown_shapes = await race(client, wrong, unknown)
    assert wrong_shapes == unknown_shapes
    assert next(iter(wrong_shapes))[0] == 401
    assert 0.8 <= ratio <= 1.2, ratio


async def test_right_and_wrong_password_from_a_new_browser_look_the_same(
    real_cost_client: httpx.AsyncClient,
) -> None:
    """No credential oracle: challenged, a right and a wrong password get the same status, the
    same body (but for the random challenge id) and the same time (the code goes out after the
    response)."""
    client = real_cost_client
    await with_history(client)
    right = {"login_id": "victim", "password": PASSWORD}
    wrong = {"login_id": "victim", "password": "not the right password"}
    ratio, right_shapes, wrong_shapes = await race(client, right, wrong)
    assert right_shapes == wrong_shapes
    (status, body) = next(iter(right_shapes))
    assert status == 200 and ("status", "challenge") in body
    assert 0.8 <= ratio <= 1.2, ratio
