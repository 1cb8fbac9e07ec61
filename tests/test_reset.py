"""Forgot password / reset (issue 5, item 6), on SQLite and PostgreSQL: the same answer for
unknown accounts, the emailed code and the single-use link, expiry, tries, rate limits, the
second step (authenticator, recovery code, SMS) that a reset never bypasses, the password policy,
every session ending, the notices, the forced reset (login hook, admin API, CLI), the pages in
Japanese and English, and no 500 on bad input."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.flows import reset as reset_flow
from mamori.flows.services import Services
from mamori.models import Account, ClientContext, Message
from mamori.notify import MemoryNotifier
from mamori.otp import totp_at
from tests.conftest import PASSWORD, clean, client_for, make_services, signup
from tests.test_cli import run as run_cli

API = "/api/v1/password"
NEW_PASSWORD = "a brand new passphrase for mamori 2025"
COOKIE = "__Host-mamori_reset"
TOKEN = "reset-test-operator-token-" + "z" * 20
CLIENT = ClientContext(ip="203.0.113.9", user_agent="pytest")
PHONE = "+819012345678"


# -- helpers --------------------------------------------------------------------------------


async def forgot(c: httpx.AsyncClient, who: str) -> httpx.Response:
    return await c.post(f"{API}/forgot", json={"login_id_or_email": who})


async def reset_id_for(c: httpx.AsyncClient, who: str = "alice") -> str:
    r = await forgot(c, who)
    assert r.status_code == 202, r.text
    return str(r.json()["reset_id"])


async def mails(services: Services, notifier: MemoryNotifier, kind: str) -> list[Message]:
    await services.background.drain()
    return [m for m in notifier.sent if m.kind == kind]


async def emailed(services: Services, notifier: MemoryNotifier) -> tuple[str, str]:
    """(code, link token) of the newest reset email."""
    sent = await mails(services, notifier, "password_reset_code")
    assert sent, "no reset email"
    body = sent[-1].body
    code = re.search(r"\b(\d{6})\b", body)
    link = re.search(r"https?://[^\s/]+/reset/([A-Za-z0-9_-]+)", body)
    assert code and link, body
    return code.group(1), link.group(1)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])


async def verify(c: httpx.AsyncClient, reset_id: str, code: str) -> httpx.Response:
    return await c.post(f"{API}/reset/verify", json={"reset_id": reset_id, "code": code})


async def second(c: httpx.AsyncClient, reset_id: str, method: str, code: str) -> httpx.Response:
    return await c.post(
        f"{API}/reset/second-step", json={"reset_id": reset_id, "method": method, "code": code}
    )


async def complete(c: httpx.AsyncClient, reset_id: str, password: str) -> httpx.Response:
    return await c.post(
        f"{API}/reset/complete", json={"reset_id": reset_id, "new_password": password}
    )


async def login(c: httpx.AsyncClient, password: str, login_id: str = "alice") -> httpx.Response:
    return await c.post("/api/v1/login", json={"login_id": login_id, "password": password})


async def account_of(services: Services, login_id: str = "alice") -> Account:
    async with services.store.begin() as tx:
        account = await tx.accounts.by_login_key(login_id)
    assert account is not None
    return account


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def enroll_totp(client: httpx.AsyncClient, clock: FixedClock) -> str:
    r = await client.post("/api/v1/me/security/totp", json={})
    assert r.status_code == 200, r.text
    secret = str(r.json()["secret"]).replace(" ", "")
    r = await client.post(
        "/api/v1/me/security/totp/confirm", json={"code": totp_at(secret=secret, at=clock.now())}
    )
    assert r.status_code == 200, r.text
    clock.advance(30)  # the confirming code's step is used up
    return secret


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> str:
    """alice signs up (the client keeps her session); returns her session cookie."""
    assert (await signup(client)).status_code == 201
    cookie = client.cookies.get("__Host-mamori_session")
    assert cookie
    return cookie


@pytest.fixture
async def stranger(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, on another network, with no cookies."""
    async with client_for(services, ip="198.51.100.30") as c:
        yield c


# -- the request: one answer for every login ID ---------------------------------------------


async def test_same_answer_for_unknown_and_known(
    services: Services, notifier: MemoryNotifier, client: httpx.AsyncClient, alice: str
) -> None:
    answers = [
        await forgot(client, who)
        for who in ("alice", "nobody", "ALICE@example.com", "nobody@example.com", "")
    ]
    for r in answers:
        assert r.status_code == 202, r.text
        body = r.json()
        assert set(body) == {"status", "reset_id", "expires_in"}
        assert body["status"] == "sent_if_exists"
        assert body["expires_in"] == 15 * 60
        assert 40 <= len(body["reset_id"]) <= 50
    assert len({r.json()["reset_id"] for r in answers}) == len(answers)
    sent = await mails(services, notifier, "password_reset_code")
    assert [m.to for m in sent] == ["alice@example.com", "alice@example.com"]
    # a reset waiting for its code and a row-less one answer alike, try after try
    real, ghost = answers[0].json()["reset_id"], answers[1].json()["reset_id"]
    for rid in (real, ghost):
        r = await second(client, rid, "totp", "123456")
        assert (r.status_code, error_of(r)) == (422, "reset_not_verified")
        r = await complete(client, rid, NEW_PASSWORD)
        assert (r.status_code, error_of(r)) == (422, "reset_not_verified")
        r = await client.post(f"{API}/reset/second-step/send", json={"reset_id": rid})
        assert (r.status_code, error_of(r)) == (422, "reset_not_verified")
    code, _ = await emailed(services, notifier)
    for attempt in range(1, 6):
        results = []
        for rid in (real, ghost):
            r = await verify(client, rid, other(code))
            results.append((r.status_code, error_of(r)))
        expected = (400, "reset_failed") if attempt == 5 else (400, "code_invalid")
        assert results == [expected, expected], attempt
    async with services.store.begin() as tx:
        mine = await tx.events.for_account(1, types=["password_reset_requested"])
    assert len(mine) == 2


async def test_unknown_and_known_take_about_the_same_time(
    database_url: str, clock: FixedClock
) -> None:
    """Interleaved requests for a real account and for unknown IDs: the email goes out after
    the response and both sides write once, so the medians stay close (a loose bound: the
    requests take a few milliseconds, and other work shares the machine)."""
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            password_reset_per_ip_per_hour=0,
            password_reset_per_account_per_hour=0,
        )
    )
    try:
        async with client_for(svc) as c:
            assert (await signup(c)).status_code == 201
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            for i in range(40):
                for side, who in (("known", "alice"), ("unknown", f"nobody{i}")):
                    await svc.background.drain()
                    start = time.perf_counter()
                    r = await forgot(c, who)
                    times[side].append(time.perf_counter() - start)
                    assert r.status_code == 202
            await svc.background.drain()
    finally:
        await svc.store.dispose()
    ratio = statistics.median(times["known"]) / statistics.median(times["unknown"])
    print(f"known/unknown median ratio {ratio:.3f}")
    assert 0.67 <= ratio <= 1.5, ratio


async def test_unknown_ids_with_control_characters_are_safe(client: httpx.AsyncClient) -> None:
    for who in ("bad\x00id", "x" * 320, "\u202e@example.com", "a@b", "@@@", " "):
        r = await forgot(client, who)
        assert r.status_code == 202, (who, r.text)


# -- the emailed code ------------------------------------------------------------------------


async def test_reset_by_code_ends_sessions_and_changes_password(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    rid = await reset_id_for(stranger, "alice@example.com")
    code, token = await emailed(services, notifier)
    mail = (await mails(services, notifier, "password_reset_code"))[-1]
    assert f"/reset/{token}" in mail.body and PASSWORD not in mail.body
    assert "203.0.113" not in mail.body  # it tells where the request came from: the stranger
    assert "198.51.100.30" in mail.body
    r = await verify(stranger, rid, code)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "verified", "next": "password", "methods": []}
    # the policy applies in full
    r = await complete(stranger, rid, "password1234")
    assert (r.status_code, error_of(r)) == (422, "password_rejected")
    assert r.json()["error"]["violations"]
    r = await complete(stranger, rid, "alice is my name 12345")
    assert "contains_login_id" in r.json()["error"]["violations"]
    r = await complete(stranger, rid, PASSWORD)  # the current password is not a new one
    assert r.json()["error"]["violations"] == ["reused"]
    assert (await client.get("/api/v1/me")).status_code == 200  # nothing changed yet
    r = await complete(stranger, rid, NEW_PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}
    assert "__Host-mamori_session" not in r.headers.get("set-cookie", "")  # nobody logged in
    # every session ended: the old cookie gets 401
    r = await client.get("/api/v1/me")
    assert (r.status_code, error_of(r)) == (401, "not_authenticated")
    # single use
    r = await complete(stranger, rid, NEW_PASSWORD + "!")
    assert (r.status_code, error_of(r)) == (400, "reset_failed")
    # the old password fails, the new one works (the same browser: a known device)
    r = await login(client, PASSWORD)
    assert r.status_code == 401, r.text
    r = await login(client, NEW_PASSWORD)
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    # the owner is told, and it is recorded
    notices = await mails(services, notifier, "password_reset")
    assert [m.to for m in notices] == ["alice@example.com"]
    async with services.store.begin() as tx:
        events = await tx.events.for_account(1, types=["password_reset"])
        account = await tx.accounts.get(1)
    assert [e.result for e in events] == ["ok"]
    assert events[0].details["sessions_ended"] >= 1
    assert account is not None and account.password_changed_at == services.clock.now()


async def test_sms_notice_when_the_phone_is_verified(
    services: Services, notifier: MemoryNotifier, client: httpx.AsyncClient, alice: str
) -> None:
    account = await account_of(services)
    async with services.store.begin() as tx:
        await tx.accounts.set_phone(account.id, phone=PHONE, verified_at=services.clock.now())
    rid = await reset_id_for(client)
    code, _ = await emailed(services, notifier)
    r = await verify(client, rid, code)
    assert r.json()["methods"] == ["sms"]
    r = await second(client, rid, "sms", code)  # no SMS code sent yet: nothing matches
    assert (r.status_code, error_of(r)) == (400, "code_invalid")
    r = await client.post(f"{API}/reset/second-step/send", json={"reset_id": rid})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/reset/second-step/send", json={"reset_id": rid})
    assert (r.status_code, error_of(r)) == (429, "resend_limited")
    sms = await mails(services, notifier, "password_reset_code_sms")
    assert [m.to for m in sms] == [PHONE]
    sms_code = re.search(r"\b(\d{6})\b", sms[0].body)
    assert sms_code
    r = await second(client, rid, "sms", sms_code.group(1))
    assert r.status_code == 200, r.text
    assert r.json()["next"] == "password"
    assert (await complete(client, rid, NEW_PASSWORD)).status_code == 200
    await services.background.drain()
    kinds = [m.kind for m in notifier.sent]
    assert "password_reset" in kinds and "password_reset_sms" in kinds


# -- the link --------------------------------------------------------------------------------


async def test_link_works_once(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    await reset_id_for(client)
    _, token = await emailed(services, notifier)
    page = await stranger.get(f"/reset/{token}")
    assert page.status_code == 200
    assert 'name="new_password"' in page.text and 'data-login-id="alice"' in page.text
    assert 'id="strength"' in page.text
    # GET changed nothing (mail scanners open links): it opens again
    page = await stranger.get(f"/reset/{token}")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text), "action": "password", "new_password": NEW_PASSWORD}
    r = await stranger.post(f"/reset/{token}", data=form)
    assert r.status_code == 200, r.text
    assert 'id="done"' in r.text
    assert (await client.get("/api/v1/me")).status_code == 401
    # used: the link shows the "ask again" page, and cannot be posted again
    again = await stranger.get(f"/reset/{token}")
    assert again.status_code == 410 and 'href="/forgot"' in again.text
    r = await stranger.post(f"/reset/{token}", data={**form, "new_password": NEW_PASSWORD + "!"})
    assert r.status_code == 410
    assert (await login(client, NEW_PASSWORD)).json()["status"] == "ok"


async def test_following_the_link_takes_the_reset_from_whoever_asked(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    """Someone asks for alice's reset and holds its reset_id; alice follows the emailed link.
    From then on only alice's browser can finish it."""
    rid = await reset_id_for(stranger)
    code, token = await emailed(services, notifier)
    page = await client.get(f"/reset/{token}")
    form = {"csrf_token": csrf_of(page.text), "action": "password", "new_password": "password1"}
    r = await client.post(f"/reset/{token}", data=form)  # too weak: the form comes back
    assert r.status_code == 422
    assert 'action="/reset/continue"' in r.text
    assert client.cookies.get(COOKIE)
    for attempt in (verify(stranger, rid, code), complete(stranger, rid, NEW_PASSWORD)):
        r = await attempt
        assert (r.status_code, error_of(r)) == (400, "reset_failed")
    form = {"csrf_token": csrf_of(page.text), "action": "password"}
    r = await client.post("/reset/continue", data={**form, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and 'id="done"' in r.text
    assert not client.cookies.get(COOKIE)


async def test_a_verified_code_retires_the_link(
    services: Services, notifier: MemoryNotifier, client: httpx.AsyncClient, alice: str
) -> None:
    rid = await reset_id_for(client)
    code, token = await emailed(services, notifier)
    assert (await verify(client, rid, code)).status_code == 200
    assert (await client.get(f"/reset/{token}")).status_code == 410
    assert (await complete(client, rid, NEW_PASSWORD)).status_code == 200


# -- expiry, tries, limits -------------------------------------------------------------------


async def test_expiry(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    alice: str,
) -> None:
    rid = await reset_id_for(client)
    ghost = await reset_id_for(client, "nobody")
    code, token = await emailed(services, notifier)
    clock.advance(timedelta(minutes=15, seconds=1))
    for r in (await verify(client, rid, code), await verify(client, ghost, code)):
        assert (r.status_code, error_of(r)) == (400, "reset_failed")
    assert (await client.get(f"/reset/{token}")).status_code == 410
    # verified in time, but the new password comes too late
    rid = await reset_id_for(client)
    code, _ = await emailed(services, notifier)
    assert (await verify(client, rid, code)).status_code == 200
    clock.advance(timedelta(minutes=16))
    r = await complete(client, rid, NEW_PASSWORD)
    assert (r.status_code, error_of(r)) == (400, "reset_failed")
    assert (await login(client, PASSWORD)).status_code == 200


async def test_five_tries_in_all(
    services: Services, notifier: MemoryNotifier, client: httpx.AsyncClient, alice: str
) -> None:
    rid = await reset_id_for(client)
    code, token = await emailed(services, notifier)
    for _ in range(4):
        r = await verify(client, rid, other(code))
        assert (r.status_code, error_of(r)) == (400, "code_invalid")
    r = await verify(client, rid, other(code))
    assert (r.status_code, error_of(r)) == (400, "reset_failed")
    r = await verify(client, rid, code)  # the right code, too late
    assert (r.status_code, error_of(r)) == (400, "reset_failed")
    assert (await client.get(f"/reset/{token}")).status_code == 410
    async with services.store.begin() as tx:
        events = await tx.events.for_account(1, types=["password_reset"])
    assert Counter(e.reason for e in events) == {"code_invalid": 4, "too_many": 1}
    assert all(e.result == "fail" for e in events)


async def test_rate_limits(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    # per account: 3 an hour; then the same answer, and nothing is sent
    answers = [await forgot(stranger, "alice") for _ in range(5)]
    assert [r.status_code for r in answers] == [202] * 5
    assert {frozenset(r.json()) for r in answers} == {
        frozenset({"status", "reset_id", "expires_in"})
    }
    assert len(await mails(services, notifier, "password_reset_code")) == 3
    # per IP address: 20 an hour, then 429 (the stranger has used 5)
    for i in range(15):
        assert (await forgot(stranger, f"nobody{i}")).status_code == 202
    r = await forgot(stranger, "alice")
    assert (r.status_code, error_of(r)) == (429, "too_many_requests")
    assert int(r.headers["retry-after"]) > 0
    assert (await forgot(client, "alice")).status_code == 202  # another address is not limited
    assert len(await mails(services, notifier, "password_reset_code")) == 3  # alice's hour is up
    clock.advance(timedelta(hours=1, seconds=1))
    assert (await forgot(stranger, "alice")).status_code == 202
    assert len(await mails(services, notifier, "password_reset_code")) == 4


# -- the second step is not bypassed ---------------------------------------------------------


async def test_authenticator_is_required(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    secret = await enroll_totp(client, clock)
    rid = await reset_id_for(stranger)
    code, _ = await emailed(services, notifier)
    r = await verify(stranger, rid, code)
    assert r.json() == {"status": "verified", "next": "second_step", "methods": ["totp"]}
    r = await complete(stranger, rid, NEW_PASSWORD)  # the email alone is not enough
    assert (r.status_code, error_of(r)) == (422, "second_step_required")
    for method in ("email", "sms", "recovery", "password"):
        r = await second(stranger, rid, method, code)
        assert (r.status_code, error_of(r)) == (422, "invalid_method"), method
    r = await second(stranger, rid, "totp", other(totp_at(secret=secret, at=clock.now())))
    assert (r.status_code, error_of(r)) == (400, "code_invalid")
    r = await second(stranger, rid, "totp", totp_at(secret=secret, at=clock.now()))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "next": "password", "methods": []}
    assert (await complete(stranger, rid, NEW_PASSWORD)).status_code == 200
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_recovery_code_instead_of_the_authenticator(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    alice: str,
) -> None:
    await enroll_totp(client, clock)
    r = await client.post("/api/v1/me/security/recovery-codes", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    codes = r.json()["codes"]
    rid = await reset_id_for(client)
    code, _ = await emailed(services, notifier)
    r = await verify(client, rid, code)
    assert r.json()["methods"] == ["totp", "recovery"]
    assert (await second(client, rid, "recovery", codes[0])).status_code == 200
    assert (await complete(client, rid, NEW_PASSWORD)).status_code == 200
    # the recovery code was used up
    client.cookies.clear()
    rid = await reset_id_for(client)
    code, _ = await emailed(services, notifier)
    assert (await verify(client, rid, code)).status_code == 200
    r = await second(client, rid, "recovery", codes[0])
    assert (r.status_code, error_of(r)) == (400, "code_invalid")


async def test_second_step_tries_count_with_the_email_code(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    alice: str,
) -> None:
    secret = await enroll_totp(client, clock)
    rid = await reset_id_for(client)
    code, _ = await emailed(services, notifier)
    assert (await verify(client, rid, other(code))).status_code == 400  # try 1
    assert (await verify(client, rid, code)).status_code == 200  # try 2
    wrong = other(totp_at(secret=secret, at=clock.now()))
    assert error_of(await second(client, rid, "totp", wrong)) == "code_invalid"  # 3
    assert error_of(await second(client, rid, "totp", wrong)) == "code_invalid"  # 4
    assert error_of(await second(client, rid, "totp", wrong)) == "reset_failed"  # 5
    r = await second(client, rid, "totp", totp_at(secret=secret, at=clock.now()))
    assert error_of(r) == "reset_failed"


# -- forced resets ---------------------------------------------------------------------------


async def test_forced_reset_after_login(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    account = await account_of(services)
    async with services.store.begin() as tx:
        await tx.accounts.set_password_reset_required(account.id, True)
    account = await account_of(services)
    rid = await reset_flow.start_forced_reset(services, account=account, client=CLIENT)
    state = await reset_flow.describe(services, rid)
    assert state is not None and state.stage == "password" and state.login_id == "alice"
    await services.background.drain()
    assert not [m for m in notifier.sent if m.kind == "password_reset_code"]  # nothing emailed
    stranger.cookies.set(COOKIE, rid, domain="testserver.local", path="/")
    page = await stranger.get("/reset/continue")
    assert page.status_code == 200 and 'name="new_password"' in page.text
    form = {"csrf_token": csrf_of(page.text), "action": "password"}
    r = await stranger.post("/reset/continue", data={**form, "new_password": PASSWORD})
    assert r.status_code == 422  # the known password cannot stay
    r = await stranger.post("/reset/continue", data={**form, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and 'id="done"' in r.text
    account = await account_of(services)
    assert not account.password_reset_required
    assert (await client.get("/api/v1/me")).status_code == 401
    async with services.store.begin() as tx:
        events = await tx.events.for_account(account.id, types=["password_reset"])
    assert events[0].details["forced"] is True


async def test_forced_reset_by_json(
    services: Services, client: httpx.AsyncClient, alice: str
) -> None:
    account = await account_of(services)
    rid = await reset_flow.start_forced_reset(services, account=account, client=CLIENT)
    r = await verify(client, rid, "000000")  # already verified: it tells the next step
    assert r.json()["next"] == "password"
    assert (await complete(client, rid, NEW_PASSWORD)).status_code == 200
    assert (await reset_flow.describe(services, rid)) is None


@pytest.fixture
async def admin_services(database_url: str, clock: FixedClock) -> AsyncIterator[Services]:
    notifier = MemoryNotifier()
    svc = await clean(
        make_services(database_url, clock=clock, notifier=notifier, operator_token=TOKEN)
    )
    yield svc
    await svc.store.dispose()


async def test_admin_api_forces_a_reset(admin_services: Services) -> None:
    svc = admin_services
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with client_for(svc) as c:
        assert (await signup(c)).status_code == 201
        url = "/api/v1/admin/accounts/alice/force-reset"
        assert (await c.post(url, json={})).status_code == 403
        r = await c.post(url, json={"reason": "found in a leaked list"}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ok", "password_reset_required": True, "sessions_ended": 1}
        assert (await c.get("/api/v1/me")).status_code == 401
        r = await c.post("/api/v1/admin/accounts/nobody/force-reset", json={}, headers=auth)
        assert (r.status_code, error_of(r)) == (404, "not_found")
        r = await c.post(url, json={"reason": 5}, headers=auth)
        assert r.status_code == 422
    account = await account_of(svc)
    assert account.password_reset_required
    assert account.two_step_forced  # the password alone must not reach the new-password form
    await svc.background.drain()
    notifier = svc.notifier
    assert isinstance(notifier, MemoryNotifier)
    assert [m.kind for m in notifier.sent if "reset" in m.kind] == ["password_reset_forced"]
    async with svc.store.begin() as tx:
        events = await tx.events.for_account(account.id, types=["password_reset_forced"])
    assert events[0].details["by"] == "token" and events[0].details["sessions_ended"] == 1


def test_cli_forces_a_reset(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "MAMORI_SECRET_KEY": "cli-test-secret-" + "y" * 32,
            "MAMORI_ARGON2_TIME_COST": "1",
            "MAMORI_ARGON2_MEMORY_KIB": "8192",
            "COLUMNS": "200",
        }
    )
    assert run_cli(["migrate"], env).returncode == 0
    r = run_cli(
        ["users", "add", "cli-user", "cli@example.com", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    r = run_cli(["users", "force-reset", "cli-user", "--reason", "leaked"], env)
    assert r.returncode == 0, r.stderr
    assert "password reset required for cli-user" in r.stdout
    r = run_cli(["users", "show", "cli-user"], env)
    assert "password_reset_forced" in r.stdout
    r = run_cli(["users", "force-reset", "ghost"], env)
    assert r.returncode == 1 and "not_found" in r.stderr


# -- pages -----------------------------------------------------------------------------------


async def _forgot_page_flow(c: httpx.AsyncClient, who: str) -> httpx.Response:
    page = await c.get("/forgot")
    assert page.status_code == 200
    r = await c.post(
        "/forgot",
        data={"csrf_token": csrf_of(page.text), "login_id_or_email": who},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/reset/continue"
    assert c.cookies.get(COOKIE)
    return await c.get("/reset/continue")


async def test_pages_full_flow_and_unknown_ids_look_the_same(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    login_page = await client.get("/login")
    assert 'href="/forgot"' in login_page.text
    known = await _forgot_page_flow(client, "alice")
    unknown = await _forgot_page_flow(stranger, "nobody")
    assert known.status_code == unknown.status_code == 200
    csrf = re.compile(r'name="csrf_token" value="[^"]+"')
    assert csrf.sub("", known.text) == csrf.sub("", unknown.text)
    assert 'value="code"' in known.text
    code, _ = await emailed(services, notifier)
    form = {"csrf_token": csrf_of(known.text), "action": "code"}
    r = await client.post("/reset/continue", data={**form, "code": other(code)})
    assert r.status_code == 400 and 'id="errors"' in r.text
    r = await client.post("/reset/continue", data={**form, "code": code}, follow_redirects=False)
    assert r.status_code == 303
    page = await client.get("/reset/continue")
    assert 'name="new_password"' in page.text
    form = {"csrf_token": csrf_of(page.text), "action": "password", "new_password": NEW_PASSWORD}
    r = await client.post("/reset/continue", data=form)
    assert r.status_code == 200 and 'id="done"' in r.text
    assert not client.cookies.get(COOKIE)
    r = await client.get("/reset/continue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/forgot"


async def test_pages_second_step_with_the_link(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    alice: str,
) -> None:
    secret = await enroll_totp(client, clock)
    await reset_id_for(client)
    _, token = await emailed(services, notifier)
    page = await stranger.get(f"/reset/{token}")
    assert page.status_code == 200
    assert 'value="second_step"' in page.text and 'id="method-totp"' in page.text
    assert 'name="new_password"' not in page.text
    form = {"csrf_token": csrf_of(page.text), "action": "second_step", "method": "totp"}
    wrong = other(totp_at(secret=secret, at=clock.now()))
    r = await stranger.post(f"/reset/{token}", data={**form, "code": wrong})
    assert r.status_code == 400 and 'action="/reset/continue"' in r.text
    right = totp_at(secret=secret, at=clock.now())
    r = await stranger.post("/reset/continue", data={**form, "code": right}, follow_redirects=False)
    assert r.status_code == 303
    page = await stranger.get("/reset/continue")
    assert 'name="new_password"' in page.text
    form = {"csrf_token": csrf_of(page.text), "action": "password", "new_password": NEW_PASSWORD}
    r = await stranger.post("/reset/continue", data=form)
    assert 'id="done"' in r.text


@pytest.mark.parametrize(
    ("lang", "text"), [("ja", "パスワードの再設定"), ("en", "Reset your password")]
)
async def test_pages_in_both_languages(client: httpx.AsyncClient, lang: str, text: str) -> None:
    r = await client.get(f"/forgot?lang={lang}")
    assert r.status_code == 200 and text in r.text
    r = await client.get(f"/reset/{'x' * 43}?lang={lang}")
    assert r.status_code == 410 and f'lang="{lang}"' in r.text


# -- bad input -------------------------------------------------------------------------------


async def test_never_a_500_on_bad_input(
    services: Services, notifier: MemoryNotifier, client: httpx.AsyncClient, alice: str
) -> None:
    rid = await reset_id_for(client)
    bodies: list[tuple[str, Any]] = [
        ("/forgot", {}),
        ("/forgot", {"login_id_or_email": 5}),
        ("/forgot", {"login_id_or_email": ["alice"]}),
        ("/forgot", {"login_id_or_email": "alice", "extra": 1}),
        ("/forgot", {"login_id_or_email": "x" * 5000}),
        ("/reset/verify", {"reset_id": rid}),
        ("/reset/verify", {"reset_id": "", "code": "123456"}),
        ("/reset/verify", {"reset_id": "\x00" * 10, "code": "\x00"}),
        ("/reset/verify", {"reset_id": rid, "code": "１２３４５６"}),
        ("/reset/verify", {"reset_id": "é" * 100, "code": "1" * 64}),
        ("/reset/second-step", {"reset_id": rid, "method": "totp"}),
        ("/reset/second-step", {"reset_id": rid, "method": "x" * 17, "code": "1"}),
        ("/reset/second-step", {"reset_id": rid, "method": "\x00", "code": "1"}),
        ("/reset/second-step/send", {"reset_id": rid, "method": "email"}),
        ("/reset/second-step/send", {}),
        ("/reset/complete", {"reset_id": rid}),
        ("/reset/complete", {"reset_id": rid, "new_password": None}),
        ("/reset/complete", {"reset_id": rid, "new_password": "x" * 5000}),
        ("/reset/complete", {"reset_id": "x" * 129, "new_password": NEW_PASSWORD}),
    ]
    for path, body in bodies:
        r = await client.post(API + path, json=body)
        assert r.status_code in (400, 422), (path, body, r.status_code, r.text)
        error_of(r)
    for raw in (b"{", b"null", b"[]", b'"x"', b"\xff\xfe"):
        r = await client.post(
            f"{API}/forgot", content=raw, headers={"content-type": "application/json"}
        )
        assert 400 <= r.status_code < 500, (raw, r.text)
    r = await client.post(f"{API}/forgot", data={"login_id_or_email": "alice"})
    assert r.status_code == 415
    # pages: forged CSRF, odd tokens and cookies
    r = await client.post("/forgot", data={"csrf_token": "forged" * 5, "login_id_or_email": "a"})
    assert r.status_code == 403
    for token in ("%00", "x" * 500, "..%2f..%2fetc", "%E2%80%AE"):
        r = await client.get(f"/reset/{token}")
        assert r.status_code in (404, 410), (token, r.status_code)
    for junk in ("not-a-reset-id", "x" * 500, "%00%ff"):
        client.cookies.set(COOKIE, junk, domain="testserver.local", path="/")
        r = await client.get("/reset/continue")
        assert r.status_code == 410, junk
    page = await client.get("/forgot")
    r = await client.post(
        "/reset/continue", data={"csrf_token": csrf_of(page.text), "action": "nonsense"}
    )
    assert r.status_code < 500
