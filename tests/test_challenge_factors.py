"""Second steps by authenticator app and recovery code at login: enrolled through the security
API, used to complete a challenge from a new browser; a TOTP code is never accepted twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.notify import MemoryNotifier
from mamori.otp import totp_at
from tests.conftest import PASSWORD, client_for, signup

SECURITY = "/api/v1/me/security"


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, ip="198.51.100.20") as c:
        yield c


async def login(c: httpx.AsyncClient) -> Any:
    r = await c.post("/api/v1/login", json={"login_id": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def enrolled(client: httpx.AsyncClient, clock: FixedClock) -> str:
    """alice signs up, logs in once (history), and enrolls an authenticator app."""
    assert (await signup(client)).status_code == 201
    assert (await login(client))["status"] == "ok"
    r = await client.post(f"{SECURITY}/totp", json={})
    assert r.status_code == 200, r.text
    secret = str(r.json()["secret"]).replace(" ", "")
    r = await client.post(
        f"{SECURITY}/totp/confirm", json={"code": totp_at(secret=secret, at=clock.now())}
    )
    assert r.status_code == 200, r.text
    clock.advance(30)  # the confirming code's step is used up
    return secret


async def answer(c: httpx.AsyncClient, challenge: Any, method: str, code: str) -> httpx.Response:
    return await c.post(
        "/api/v1/login/challenge",
        json={"challenge_id": challenge["challenge_id"], "method": method, "code": code},
    )


async def test_authenticator_code_completes_a_challenge_once(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    secret = await enrolled(client, clock)
    challenge = await login(browser)
    assert challenge["status"] == "challenge"
    assert challenge["methods"] == ["totp", "email"]
    assert challenge["sent_to"] is None  # no code is sent: the app has it
    await services.background.drain()
    assert not [m for m in notifier.sent if m.kind == "login_code"]
    code = totp_at(secret=secret, at=clock.now())
    assert (await answer(browser, challenge, "totp", code)).status_code == 200
    # the same code again, from another new browser within its 30 s: refused, owner told
    async with client_for(services, ip="198.51.100.66") as thief:
        second = await login(thief)
        r = await answer(thief, second, "totp", code)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "code_invalid"
    await services.background.drain()
    assert [m.kind for m in notifier.sent if m.kind == "totp_replay"] == ["totp_replay"]
    async with services.store.begin() as tx:
        events = await tx.events.for_account(1, types=["totp_replay"])
    assert len(events) == 1


async def test_wrong_password_challenge_refuses_the_right_authenticator_code(
    clock: FixedClock, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    secret = await enrolled(client, clock)
    r = await browser.post("/api/v1/login", json={"login_id": "alice", "password": "wrong" * 4})
    challenge = r.json()
    assert challenge["methods"] == ["totp", "email"]
    r = await answer(browser, challenge, "totp", totp_at(secret=secret, at=clock.now()))
    assert r.json()["error"]["code"] == "code_invalid"


async def test_recovery_code_completes_a_challenge_once(
    services: Services,
    clock: FixedClock,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await enrolled(client, clock)
    r = await client.post(f"{SECURITY}/recovery-codes", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    codes = r.json()["codes"]
    assert len(codes) == 10
    challenge = await login(browser)
    assert challenge["methods"] == ["totp", "email", "recovery"]
    assert (await answer(browser, challenge, "recovery", codes[0])).status_code == 200
    clock.advance(timedelta(minutes=1))
    async with client_for(services, ip="198.51.100.67") as other:
        again = await login(other)
        r = await answer(other, again, "recovery", codes[0])
        assert r.json()["error"]["code"] == "code_invalid"
        assert (await answer(other, again, "recovery", codes[1])).status_code == 200

