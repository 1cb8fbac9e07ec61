"""Dormant accounts: warned, then suspended after years without a login; a login in between
keeps the account; the owner reactivates through a password reset. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mamori.clock import FixedClock
from mamori.flows import dormant
from mamori.flows.services import Services
from mamori.notify import MemoryNotifier
from tests.conftest import PASSWORD, clean, client_for, make_services, signup

NEW_PASSWORD = "a completely fresh passphrase 8832"


@pytest.fixture
async def svc(
    database_url: str, clock: FixedClock, notifier: MemoryNotifier
) -> AsyncIterator[Services]:
    s = await clean(
        make_services(
            database_url,
            clock=clock,
            notifier=notifier,
            dormant_enabled=True,
            dormant_after_days=1095,
            dormant_warning_days=30,
        )
    )
    yield s
    await s.background.drain()
    await s.store.dispose()


async def kinds(svc: Services, notifier: MemoryNotifier) -> list[str]:
    await svc.background.drain()
    return [m.kind for m in notifier.sent]


async def test_warned_then_suspended_then_reactivated_by_reset(
    svc: Services, clock: FixedClock, notifier: MemoryNotifier
) -> None:
    async with client_for(svc) as c:
        assert (await signup(c, "sleepy")).status_code == 201
        assert (await signup(c, "active", email="active@example.com")).status_code == 201
    # nothing to do for two years
    clock.advance(timedelta(days=730))
    assert await dormant.run(svc) == dormant.DormantRun(0, 0)
    # "active" logs in; "sleepy" does not
    async with client_for(svc) as c:
        r = await c.post("/api/v1/login", json={"login_id": "active", "password": PASSWORD})
        assert r.status_code == 200
    clock.advance(timedelta(days=1095 - 730 - 29))  # 29 days before the cutoff
    assert await dormant.run(svc) == dormant.DormantRun(1, 0)
    assert await dormant.run(svc) == dormant.DormantRun(0, 0)  # idempotent
    assert (await kinds(svc, notifier)).count("dormant_warning") == 1
    clock.advance(timedelta(days=31))
    assert await dormant.run(svc) == dormant.DormantRun(0, 1)
    assert await dormant.run(svc) == dormant.DormantRun(0, 0)
    assert "account_suspended" in await kinds(svc, notifier)

    async with client_for(svc) as c:
        # a wrong password learns nothing; the right one is told how to reactivate
        r = await c.post("/api/v1/login", json={"login_id": "sleepy", "password": "wrong" * 4})
        assert r.status_code == 401
        r = await c.post("/api/v1/login", json={"login_id": "sleepy", "password": PASSWORD})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "suspended"
        # reactivation: forgot password -> code by email -> new password
        r = await c.post("/api/v1/password/forgot", json={"login_id_or_email": "sleepy"})
        assert r.status_code == 202
        reset_id = r.json()["reset_id"]
        await svc.background.drain()
        mail = [m for m in notifier.sent if m.kind == "password_reset_code"][-1]
        code = re.findall(r"(?<!\d)\d{6}(?!\d)", mail.body)[0]
        r = await c.post("/api/v1/password/reset/verify", json={"reset_id": reset_id, "code": code})
        assert r.status_code == 200, r.text
        r = await c.post(
            "/api/v1/password/reset/complete",
            json={"reset_id": reset_id, "new_password": NEW_PASSWORD},
        )
        assert r.status_code == 200, r.text
        r = await c.post("/api/v1/login", json={"login_id": "sleepy", "password": NEW_PASSWORD})
        assert r.status_code == 200, r.text
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("sleepy")
        assert account is not None and account.suspended_at is None
        events = await tx.events.for_account(account.id, types=["account_reactivated"])
    assert len(events) == 1


async def test_off_by_default(database_url: str, clock: FixedClock) -> None:
    s = await clean(make_services(database_url, clock=clock))
    try:
        async with client_for(s) as c:
            assert (await signup(c, "sleepy")).status_code == 201
        clock.advance(timedelta(days=5000))
        assert await dormant.run(s) == dormant.DormantRun(0, 0)
    finally:
        await s.background.drain()
        await s.store.dispose()
