"""What the next login looks like after "this wasn't me": the second step from any browser, then
the forced reset instead of a session; the reported device is high risk; single-device mode asks
the new browser before the others are signed out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.flows import not_me
from mamori.flows.services import Services
from mamori.models import ClientContext
from mamori.notify import MemoryNotifier
from tests.conftest import PASSWORD, clean, client_for, make_services, signup

NEW_PASSWORD = "a completely fresh passphrase 4521"
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def login(c: httpx.AsyncClient, password: str = PASSWORD) -> Any:
    r = await c.post("/api/v1/login", json={"login_id": "alice", "password": password})
    assert r.status_code == 200, r.text
    return r.json()


async def last_code(svc: Services, notifier: MemoryNotifier) -> str:
    await svc.background.drain()
    message = [m for m in notifier.sent if m.kind == "login_code"][-1]
    found = re.findall(r"(?<!\d)\d{6}(?!\d)", message.body)
    return str(found[0])


async def pass_challenge(
    c: httpx.AsyncClient, svc: Services, notifier: MemoryNotifier, challenge: Any
) -> Any:
    r = await c.post(
        "/api/v1/login/challenge",
        json={
            "challenge_id": challenge["challenge_id"],
            "method": "email",
            "code": await last_code(svc, notifier),
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


async def reported_intruder(
    svc: Services, client: httpx.AsyncClient, intruder: httpx.AsyncClient
) -> None:
    """alice signs up; an intruder logs in from a new browser; she says "not me"."""
    assert (await signup(client)).status_code == 201
    assert (await login(intruder))["status"] == "ok"  # no history yet: no challenge
    async with svc.store.begin() as tx:
        notices = await tx.notices.for_account(1)
    (notice,) = [n for n in notices if n.kind == "new_device_login"]
    await not_me.report_from_center(
        svc,
        auth=await _auth_of(svc, client),
        notice_id=notice.id,
        client=ClientContext(ip="203.0.113.7", user_agent="test"),
    )
    assert (await intruder.get("/api/v1/me")).status_code == 401


async def _auth_of(svc: Services, client: httpx.AsyncClient) -> Any:
    from mamori.flows.sessions import resolve_session

    return await resolve_session(svc, client.cookies.get("__Host-mamori_session"))


@pytest.fixture
async def intruder(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, ip="198.51.100.66") as c:
        c.headers["user-agent"] = UA_FIREFOX
        yield c


async def test_next_login_needs_the_second_step_then_a_new_password(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    intruder: httpx.AsyncClient,
) -> None:
    await reported_intruder(services, client, intruder)
    # even her own (known) browser: the second step first, then the reset, no session
    client.cookies.delete("__Host-mamori_session")
    challenge = await login(client)
    assert challenge["status"] == "challenge"
    answer = await pass_challenge(client, services, notifier, challenge)
    assert answer["status"] == "password_reset_required"
    assert (await client.get("/api/v1/me")).status_code == 401
    r = await client.post(
        "/api/v1/password/reset/complete",
        json={"reset_id": answer["reset_id"], "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 200, r.text
    # the old password no longer works; the new one logs in from her browser
    r = await client.post("/api/v1/login", json={"login_id": "alice", "password": PASSWORD})
    assert r.status_code == 401
    assert (await login(client, NEW_PASSWORD))["status"] == "ok"


async def test_the_reported_browser_is_high_risk_for_the_account(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    intruder: httpx.AsyncClient,
) -> None:
    await reported_intruder(services, client, intruder)
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_forced(1, False)
        await tx.accounts.set_password_reset_required(1, False)
    challenge = await login(intruder)
    assert challenge["status"] == "challenge"
    assert challenge["expires_in"] == 300  # strict: high risk
    async with services.store.begin() as tx:
        events = await tx.events.for_account(1, types=["login_challenged"])
    risk = events[0].details["risk"]
    assert risk["level"] == "high"
    assert "reported_device" in risk["reasons"]


async def test_single_device_mode_asks_the_new_browser(
    database_url: str, clock: FixedClock, notifier: MemoryNotifier
) -> None:
    svc = await clean(
        make_services(database_url, clock=clock, notifier=notifier, single_device_mode="all")
    )
    try:
        async with client_for(svc) as first, client_for(svc, ip="198.51.100.9") as second:
            assert (await signup(first)).status_code == 201
            answer = await login(second)
            assert answer["status"] == "ok" and answer["single_device_confirm"] is True
            r = await second.post("/api/v1/me/single-device/confirm", json={})
            assert r.status_code == 200, r.text
            assert (await first.get("/api/v1/me")).status_code == 401
            assert (await second.get("/api/v1/me")).status_code == 200
            # the same browser again is not a new device: nothing to ask
            answer = await login(second)
            assert "single_device_confirm" not in answer
    finally:
        await svc.background.drain()
        await svc.store.dispose()
