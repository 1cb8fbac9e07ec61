"""Shared fixtures. The `services` fixture runs every API test on SQLite and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, database `test`) and Redis (127.0.0.1:6379) are used when they are
running. With CI=true they must be: a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.geo import GeoInfo, StaticGeoResolver
from mamori.notify import MemoryNotifier
from mamori.settings import Settings
from mamori.store import migrate
from mamori.web.app import create_app

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("MAMORI_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TABLES = (
    "outbox",
    "codes",
    "security_events",
    "sessions",
    "accounts",
    "counters",
    "deadlines",
    "counter_members",
    "tallies",
    "bans",
    "devices",
    "risk_counts",
    "totp_factors",
    "recovery_codes",
    "challenges",
    "risk_history",
    "notices",
    "risk_flags",
    "password_resets",
    "webhook_deliveries",
    "operators",
    "operator_sessions",
    "operator_tokens",
    "audit_log",
    "incidents",
    "incident_actions",
    "incident_action_items",
)

# Geo answers for the documentation ranges the tests use, so assertions do not depend on data.
TEST_GEO = StaticGeoResolver(
    {
        "203.0.113.0/24": GeoInfo("JP", "Japan", 2516, "KDDI CORPORATION", "203.0.113.0/24"),
        "198.51.100.0/24": GeoInfo("US", "United States", 15169, "GOOGLE", "198.51.100.0/24"),
    }
)


def server_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    if server_up(host, port):
        return
    if CI:
        pytest.fail(f"{name} at {host}:{port} is not running, and CI=true requires it")
    pytest.skip(f"{name} at {host}:{port} is not running (start it to run these tests)")


def make_settings(database_url: str, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "dev": True,
        "secret_key": "test-secret-key-" + "x" * 32,
        "database_url": database_url,
        # cheap argon2 for API tests; the hashing and timing tests use the real parameters
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8192,
    }
    base.update(overrides)
    return Settings.from_mapping(base)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    need_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"mamori_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = PG_ADMIN_URL

    async def run(sql: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name
    migrate.upgrade(url)
    yield url
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "mamori.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def notifier() -> MemoryNotifier:
    return MemoryNotifier()


@pytest.fixture
async def services(
    database_url: str, clock: FixedClock, notifier: MemoryNotifier
) -> AsyncIterator[Services]:
    svc = await clean(make_services(database_url, clock=clock, notifier=notifier))
    yield svc
    await svc.background.drain()  # notices still being written (their own transactions)
    await svc.store.dispose()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://testserver", headers={"user-agent": UA_CHROME}
    ) as c:
        yield c


UA_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PASSWORD = "correct horse battery staple 77"


async def signup(
    client: httpx.AsyncClient, login_id: str = "alice", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    body = {"login_id": login_id, "email": f"{login_id}@example.com", "password": password, **extra}
    return await client.post("/api/v1/signup", json=body)


def make_services(
    database_url: str,
    *,
    clock: FixedClock,
    notifier: MemoryNotifier | None = None,
    geo: object = TEST_GEO,
    **overrides: object,
) -> Services:
    return build_services(
        make_settings(database_url, **overrides),
        clock=clock,
        notifier=notifier or MemoryNotifier(),
        geo=geo,  # type: ignore[arg-type]
    )


async def clean(svc: Services) -> Services:
    if svc.store.dialect == "postgresql":
        async with svc.store.begin() as tx:
            await tx.conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return svc


def client_for(svc: Services, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(svc), client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url="https://testserver", headers={"user-agent": UA_CHROME}
    )
