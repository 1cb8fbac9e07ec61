"""Attack scenarios through the HTTP API (ASGI), on SQLite and PostgreSQL with SQL counters."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.geo import GeoInfo, StaticGeoResolver
from mamori.notify import MemoryNotifier
from tests.conftest import PASSWORD, clean, client_for, make_services, signup

TOKEN = "operator-token-" + "z" * 32
# These scenarios are about the defenses alone: with two-step verification off, a wrong password
# answers 401 rather than a challenge (tests/test_challenge.py covers the challenged answers).
TWO_STEP = "off"
LOGIN = "/api/v1/login"


@pytest.fixture
async def svc(database_url: str, clock: FixedClock) -> AsyncIterator[Services]:
    s = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            operator_token=TOKEN,
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    yield s
    await s.background.drain()  # notices still being written
    await s.store.dispose()


@pytest.fixture
async def web(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client behind the trusted proxy: X-Forwarded-For picks the client address."""
    async with client_for(svc, "127.0.0.1") as c:
        yield c


def xff(ip: str) -> dict[str, str]:
    return {"x-forwarded-for": ip}


async def login(c: httpx.AsyncClient, login_id: str, password: str, ip: str) -> httpx.Response:
    return await c.post(LOGIN, json={"login_id": login_id, "password": password}, headers=xff(ip))


async def make_account(c: httpx.AsyncClient, login_id: str) -> None:
    r = await signup(c, login_id)
    assert r.status_code == 201, r.text
    c.cookies.clear()  # forget the session and the sign-up browser's device cookie


async def event_reasons(svc: Services, login_id: str) -> list[str]:
    async with svc.store.begin() as tx:
        events = await tx.events.recent(limit=1000)
    return [
        e.reason for e in reversed(events) if e.type == "login_failure" and e.login_id == login_id
    ]


async def test_brute_force_on_one_account_locks_it(web: httpx.AsyncClient, svc: Services) -> None:
    await make_account(web, "target")
    for _ in range(5):
        assert (await login(web, "target", "wrong password!", "198.51.100.1")).status_code == 401
    r = await login(web, "target", "wrong password!", "198.51.100.1")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "temporarily_locked"
    assert r.json()["error"]["retry_after"] == 600
    assert r.headers["retry-after"] == "600"
    # even the right password is refused from an unrecognized client while locked
    r = await login(web, "target", PASSWORD, "198.51.100.2")
    assert r.status_code == 429
    assert await event_reasons(svc, "target") == ["wrong_password"] * 5 + ["lock_started", "locked"]


async def test_lock_says_nothing_about_existence(web: httpx.AsyncClient) -> None:
    await make_account(web, "exists")
    answers = {}
    for name in ("exists", "ghost"):
        for _ in range(6):
            r = await login(web, name, "wrong password!", "198.51.100.1")
        answers[name] = (r.status_code, r.json())
    assert answers["exists"] == answers["ghost"]
    assert answers["exists"][0] == 429


async def test_lock_extension_rule_with_fixed_clock(
    web: httpx.AsyncClient, clock: FixedClock
) -> None:
    """Yahoo! JAPAN: locked for 10 minutes; a try after 6 minutes extends it by 10 minutes from
    that try (16 minutes in all)."""
    await make_account(web, "yahoo")
    for _ in range(6):
        await login(web, "yahoo", "wrong password!", "198.51.100.1")
    clock.advance(timedelta(minutes=6))
    r = await login(web, "yahoo", "wrong password!", "198.51.100.1")
    assert r.status_code == 429 and r.json()["error"]["retry_after"] == 600
    clock.advance(timedelta(minutes=5))  # 11 min: the original lock would be over
    r = await login(web, "yahoo", PASSWORD, "198.51.100.9")
    assert r.status_code == 429  # and this try extended it again, to 21 min
    assert r.json()["error"]["retry_after"] == 600
    clock.advance(timedelta(minutes=10, seconds=1))
    assert (await login(web, "yahoo", PASSWORD, "198.51.100.9")).status_code == 200


async def test_repeat_locks_double(web: httpx.AsyncClient, clock: FixedClock) -> None:
    await make_account(web, "repeat")
    expected = [600, 1200, 2400]
    for seconds in expected:
        for _ in range(5):
            assert (
                await login(web, "repeat", "wrong password!", "198.51.100.3")
            ).status_code == 401
        r = await login(web, "repeat", "wrong password!", "198.51.100.3")
        assert r.json()["error"]["retry_after"] == seconds
        clock.advance(timedelta(seconds=seconds + 1))


async def test_owner_with_recognized_device_logs_in_during_attack(
    svc: Services, web: httpx.AsyncClient
) -> None:
    await make_account(web, "owner")
    async with client_for(svc, "127.0.0.1") as phone:
        # the owner's browser logs in once: its device cookie is now bound to the account
        assert (await login(phone, "owner", PASSWORD, "203.0.113.50")).status_code == 200
        assert phone.cookies.get("__Host-mamori_device")
        # an attacker hammers the account from elsewhere: it is locked for unrecognized clients
        for _ in range(30):
            await login(web, "owner", "guess " * 3, "198.51.100.66")
        assert (await login(web, "owner", PASSWORD, "198.51.100.67")).status_code == 429
        # the owner's own browser still gets in, even with a typo first
        assert (await login(phone, "owner", "typo password", "203.0.113.50")).status_code == 401
        assert (await login(phone, "owner", PASSWORD, "203.0.113.50")).status_code == 200


async def test_recognized_device_has_its_own_lock(svc: Services, web: httpx.AsyncClient) -> None:
    await make_account(web, "devlock")
    async with client_for(svc, "127.0.0.1") as laptop:
        assert (await login(laptop, "devlock", PASSWORD, "203.0.113.51")).status_code == 200
        for _ in range(10):
            assert (
                await login(laptop, "devlock", "bad password", "203.0.113.51")
            ).status_code == 401
        r = await login(laptop, "devlock", PASSWORD, "203.0.113.51")
        assert r.status_code == 429
    # the per-login-ID counter for unrecognized clients was not touched by the device's tries
    assert (await login(web, "devlock", PASSWORD, "203.0.113.52")).status_code == 200


async def test_password_spraying_from_one_ip_is_throttled(
    web: httpx.AsyncClient, svc: Services
) -> None:
    for i in range(25):
        await make_account(web, f"spray{i}")
    codes = [
        (await login(web, f"spray{i}", "Summer2026!!", "198.51.100.77")).status_code
        for i in range(25)
    ]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}
    async with svc.store.begin() as tx:
        ban = await tx.bans.get(kind="ip", value="198.51.100.77")
    assert ban is not None and ban.reason == "ip_failures" and ban.origin == "rule"
    # the ban answers before any lookup: no failure event for the refused tries
    assert len(await event_reasons(svc, "spray24")) == 0
    # other addresses are unaffected
    assert (await login(web, "spray0", PASSWORD, "198.51.100.78")).status_code == 200


async def test_many_login_ids_from_one_ip_blocks_it(database_url: str, clock: FixedClock) -> None:
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            trusted_proxies=("127.0.0.1/32",),
            ip_distinct_threshold=10,
            ip_fail_threshold=1000,
        )
    )
    async with client_for(svc, "127.0.0.1") as c:
        for i in range(10):
            assert (await login(c, f"list{i}", "leaked-pass-123", "192.0.2.44")).status_code == 401
        r = await login(c, "list10", "leaked-pass-123", "192.0.2.44")
        assert r.status_code == 429
        assert r.json()["error"]["retry_after"] == 86400
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_restriction_is_distinct_from_a_lock(web: httpx.AsyncClient, svc: Services) -> None:
    await make_account(web, "bad-actor")
    async with client_for(svc, "127.0.0.1") as session:
        await login(session, "bad-actor", PASSWORD, "203.0.113.9")
        auth = {"authorization": f"Bearer {TOKEN}"}
        r = await web.post(
            "/api/v1/admin/accounts/bad-actor/restrict", json={"reason": "fraud"}, headers=auth
        )
        assert r.status_code == 200
        assert (await session.get("/api/v1/me")).status_code == 401  # its sessions ended
    r = await login(web, "bad-actor", PASSWORD, "203.0.113.9")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "restricted"
    # a wrong password learns nothing about the restriction
    assert (await login(web, "bad-actor", "wrong password!", "203.0.113.9")).status_code == 401
    r = await web.post("/api/v1/admin/accounts/bad-actor/unrestrict", json={}, headers=auth)
    assert r.status_code == 200
    assert (await login(web, "bad-actor", PASSWORD, "203.0.113.9")).status_code == 200


async def test_operator_requires_the_second_step(web: httpx.AsyncClient, svc: Services) -> None:
    """Even with two-step off and from the owner's own browser, the flag makes the next login
    pass the second step; passing it clears the flag."""
    await make_account(web, "flagged")
    assert (await login(web, "flagged", PASSWORD, "203.0.113.9")).json()["status"] == "ok"
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = await web.post(
        "/api/v1/admin/accounts/flagged/require-two-step",
        json={"reason": "in a leaked list"},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["two_step_required"] is True
    body = (await login(web, "flagged", PASSWORD, "203.0.113.9")).json()
    assert body["status"] == "challenge"
    await svc.background.drain()
    assert isinstance(svc.notifier, MemoryNotifier)
    (message,) = [m for m in svc.notifier.sent if m.kind == "login_code"]
    code = re.findall(r"(?<!\d)\d{6}(?!\d)", message.body)[0]
    r = await web.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
        headers=xff("203.0.113.9"),
    )
    assert r.status_code == 200, r.text
    assert (await login(web, "flagged", PASSWORD, "203.0.113.9")).json()["status"] == "ok"
    async with svc.store.begin() as tx:
        events = await tx.events.for_account(1, types=["two_step_required"])
    assert events[0].details["by"] and events[0].reason == "in a leaked list"


async def test_operator_bans_api(web: httpx.AsyncClient, svc: Services) -> None:
    await make_account(web, "someone")
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert (await web.get("/api/v1/admin/bans")).status_code == 403
    assert (
        await web.get("/api/v1/admin/bans", headers={"authorization": "Bearer nope"})
    ).status_code == 403
    r = await web.post(
        "/api/v1/admin/bans",
        headers=auth,
        json={"kind": "cidr", "value": "198.51.100.0/24", "reason": "abuse"},
    )
    assert r.status_code == 201
    r = await login(web, "someone", PASSWORD, "198.51.100.200")
    assert r.status_code == 429
    assert (await login(web, "someone", PASSWORD, "203.0.113.20")).status_code == 200
    items = (await web.get("/api/v1/admin/bans", headers=auth)).json()["items"]
    assert [(b["kind"], b["value"], b["origin"]) for b in items] == [
        ("cidr", "198.51.100.0/24", "operator")
    ]
    r = await web.delete("/api/v1/admin/bans/cidr/198.51.100.0/24", headers=auth)
    assert r.status_code == 200
    assert (await login(web, "someone", PASSWORD, "198.51.100.200")).status_code == 200
    for bad in (
        {"kind": "ip", "value": "300.1.1.1"},
        {"kind": "planet", "value": "x"},
        {"kind": "ip", "value": "1.2.3.4", "seconds": -5},
    ):
        r = await web.post("/api/v1/admin/bans", headers=auth, json=bad)
        assert r.status_code == 422, bad
    r = await web.delete("/api/v1/admin/bans/ip/9.9.9.9", headers=auth)
    assert r.status_code == 404


async def test_network_ban_uses_geo(database_url: str, clock: FixedClock) -> None:
    geo = StaticGeoResolver(
        {"192.0.2.0/24": GeoInfo("US", "United States", None, "BADHOST", "192.0.2.0/24")}
    )
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            geo=geo,
            operator_token=TOKEN,
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    async with client_for(svc, "127.0.0.1") as c:
        r = await c.post(
            "/api/v1/admin/bans",
            headers={"authorization": f"Bearer {TOKEN}"},
            json={"kind": "network", "value": "badhost", "seconds": 60},
        )
        assert r.status_code == 201
        assert (await login(c, "x", "y" * 12, "192.0.2.9")).status_code == 429
        assert (await login(c, "x", "y" * 12, "203.0.113.9")).status_code == 401
        clock.advance(61)
        assert (await login(c, "x", "y" * 12, "192.0.2.9")).status_code == 401  # expired
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_allowlisted_source_is_never_blocked(database_url: str, clock: FixedClock) -> None:
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            allowlist=("192.0.2.0/24",),
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    async with client_for(svc, "127.0.0.1") as c:
        codes = {(await login(c, f"u{i}", "x" * 12, "192.0.2.5")).status_code for i in range(40)}
        assert codes == {401}
        async with svc.store.begin() as tx:
            assert await tx.bans.active(now=clock.now()) == []
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_monitor_mode_records_but_does_not_block(
    database_url: str, clock: FixedClock
) -> None:
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            defense_mode="monitor",
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    async with client_for(svc, "127.0.0.1") as c:
        codes = [(await login(c, f"m{i}", "x" * 12, "192.0.2.6")).status_code for i in range(25)]
        assert set(codes) == {401}
        async with svc.store.begin() as tx:
            assert await tx.bans.active(now=clock.now()) == []
            events = await tx.events.recent(limit=200)
        would = [e for e in events if e.type == "ban_added"]
        assert would and all(e.result == "monitor" for e in would)
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_load_shedding_with_503(database_url: str, clock: FixedClock) -> None:
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            hash_concurrency=1,
            hash_queue=1,
            argon2_time_cost=3,
            argon2_memory_kib=32768,
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    async with client_for(svc, "127.0.0.1") as c:
        results = await asyncio.gather(
            *[login(c, f"shed{i}", "x" * 12, f"192.0.2.{i + 1}") for i in range(8)]
        )
        codes = sorted(r.status_code for r in results)
        assert 503 in codes and 401 in codes
        shed = next(r for r in results if r.status_code == 503)
        assert shed.json()["error"]["code"] == "overloaded"
        assert shed.headers["retry-after"] == "1"
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_lock_page_in_both_languages(web: httpx.AsyncClient) -> None:
    page = await web.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    for _ in range(6):
        r = await web.post(
            "/login",
            headers={**xff("198.51.100.5"), "accept-language": "ja"},
            data={"login_id": "pagelock", "password": "x" * 12, "csrf_token": token.group(1)},
        )
    assert r.status_code == 429
    assert "一時的に制限" in r.text
    r = await web.post(
        "/login",
        headers={**xff("198.51.100.5"), "accept-language": "en"},
        data={"login_id": "pagelock", "password": "x" * 12, "csrf_token": token.group(1)},
    )
    assert "temporarily restricted" in r.text and r.headers["retry-after"] == "600"


async def test_subnet_failing_above_its_baseline_is_throttled_without_an_attack(
    web: httpx.AsyncClient, svc: Services
) -> None:
    """35 single tries from 35 addresses of one /24 (none reaches the per-IP limit) while the
    service is otherwise healthy: no global attack, but that subnet is throttled on its own."""
    await make_account(web, "regular")
    for i in range(120):  # healthy traffic keeps the global failure ratio low
        r = await login(web, "regular", PASSWORD, f"203.0.113.{i % 200 + 1}")
        assert r.status_code == 200
    for i in range(35):
        r = await login(web, f"probe{i}", "x" * 12, f"198.51.100.{i + 1}")
        assert r.status_code == 401
    detection = await svc.defender.tick()
    assert not detection.attack
    async with svc.store.begin() as tx:
        ban = await tx.bans.get(kind="cidr", value="198.51.100.0/24")
    assert ban is not None
    assert ban.reason == "cidr_failure_rate"
    assert ban.details["evidence"]["failures"] == 35
    # the owner's own browser (bound at the logins above) still logs in from that subnet ...
    assert (await login(web, "regular", PASSWORD, "198.51.100.200")).status_code == 200
    # ... a browser without its device cookie does not
    device = web.cookies.get("__Host-mamori_device")
    web.cookies.clear()
    assert (await login(web, "regular", PASSWORD, "198.51.100.200")).status_code == 429
    assert (await login(web, "regular", PASSWORD, "203.0.113.77")).status_code == 200
    assert device


async def test_ban_gate_answers_before_the_app_in_both_languages(
    web: httpx.AsyncClient, svc: Services
) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = await web.post(
        "/api/v1/admin/bans",
        headers=auth,
        json={"kind": "ip", "value": "192.0.2.99", "seconds": 120},
    )
    assert r.status_code == 201
    blocked = {**xff("192.0.2.99"), "accept-language": "ja"}
    # not even a malformed body gets past the gate: it never reaches parsing
    r = await web.post(
        LOGIN, content=b"{not json", headers={**blocked, "content-type": "application/json"}
    )
    assert r.status_code == 429
    body = r.json()["error"]
    assert body["code"] == "too_many_requests" and body["retry_after"] == 120
    assert "一時的" in body["message"]
    assert r.headers["retry-after"] == "120"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    page = await web.post(
        "/login", data={"login_id": "x"}, headers={**xff("192.0.2.99"), "accept-language": "en"}
    )
    assert page.status_code == 429
    assert "temporarily restricted" in page.text and page.headers["content-type"].startswith(
        "text/html"
    )
    # other routes stay usable from that address (the gate guards authentication only)
    assert (await web.get("/login", headers=xff("192.0.2.99"))).status_code == 200


@pytest.mark.parametrize("kind", ["network", "cidr"])
async def test_detector_subnet_and_network_bans_spare_the_owners_browser(
    database_url: str, clock: FixedClock, kind: str
) -> None:
    """A ban the detector put on a whole network or subnet (residential proxies share ISPs with
    real users) does not lock out an owner logging in from their own bound browser; a browser
    bound to another account, no cookie, a forged cookie, an operator's ban or a single-address
    ban still get 429."""
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode=TWO_STEP,
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    value = "kddi corporation" if kind == "network" else "203.0.113.0/24"
    async with client_for(svc, "127.0.0.1") as alice_browser, client_for(svc, "127.0.0.1") as other:
        await make_account(other, "bob")
        r = await signup(alice_browser, "alice")  # this browser becomes alice's known device
        assert r.status_code == 201
        assert (await login(alice_browser, "alice", PASSWORD, "203.0.113.10")).status_code == 200
        device = alice_browser.cookies.get("__Host-mamori_device")
        assert device
        async with svc.store.begin() as tx:
            await tx.bans.upsert(
                kind=kind,
                value=value,
                reason="stuffing",
                origin="rule",
                now=clock.now(),
                expires_at=clock.now() + timedelta(hours=1),
            )
        await svc.defender.bans.refresh(force=True)
        alice_browser.cookies.clear()
        own = {"cookie": f"__Host-mamori_device={device}", **xff("203.0.113.77")}
        body = {"login_id": "alice", "password": PASSWORD}
        assert (await alice_browser.post(LOGIN, json=body, headers=own)).status_code == 200
        alice_browser.cookies.clear()
        # the same browser for another account, no cookie, a forged cookie: still refused
        wrong = {"login_id": "bob", "password": PASSWORD}
        assert (await alice_browser.post(LOGIN, json=wrong, headers=own)).status_code == 429
        assert (await login(other, "alice", PASSWORD, "203.0.113.77")).status_code == 429
        forged = {"cookie": "__Host-mamori_device=x.y", **xff("203.0.113.77")}
        assert (await other.post(LOGIN, json=body, headers=forged)).status_code == 429
        # operator bans and single-address bans hold for everyone
        async with svc.store.begin() as tx:
            await tx.bans.upsert(
                kind="ip",
                value="203.0.113.77",
                reason="stuffing",
                origin="rule",
                now=clock.now(),
                expires_at=clock.now() + timedelta(hours=1),
            )
            await tx.bans.upsert(
                kind=kind,
                value=value,
                reason="manual",
                origin="operator",
                now=clock.now(),
                expires_at=clock.now() + timedelta(hours=1),
            )
        await svc.defender.bans.refresh(force=True)
        alice_browser.cookies.clear()
        assert (await alice_browser.post(LOGIN, json=body, headers=own)).status_code == 429
        other_ip = {**own, **xff("203.0.113.78")}
        alice_browser.cookies.clear()
        assert (await alice_browser.post(LOGIN, json=body, headers=other_ip)).status_code == 429
    await svc.background.drain()
    await svc.store.dispose()


async def test_banned_sources_wait_while_passwords_are_checked(
    web: httpx.AsyncClient, svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal is held while this process checks a password (the hash gets the CPU), then
    answered; with no check in flight, or once it has waited PARK_SECONDS, it goes out at once."""
    from mamori.web import gate

    await make_account(web, "busy")
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = await web.post(
        "/api/v1/admin/bans", headers=auth, json={"kind": "ip", "value": "192.0.2.66"}
    )
    assert r.status_code == 201
    assert (await login(web, "busy", PASSWORD, "192.0.2.66")).status_code == 429  # nothing held

    release = threading.Event()
    real_verify = svc.hasher.verify

    def held_verify(*, stored_hash: str | None, password: str) -> bool:
        release.wait(10)
        return real_verify(stored_hash=stored_hash, password=password)

    monkeypatch.setattr(svc.hasher, "verify", held_verify)
    legit = asyncio.create_task(login(web, "busy", PASSWORD, "203.0.113.50"))
    async with asyncio.timeout(5):
        while not svc.gate.in_flight:  # noqa: ASYNC110 — the login task gets there by itself
            await asyncio.sleep(0.01)
    refused = asyncio.create_task(login(web, "busy", PASSWORD, "192.0.2.66"))
    await asyncio.sleep(0.2)
    assert not refused.done()  # parked behind the password check
    release.set()
    assert (await legit).status_code == 200
    r = await refused
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"

    # the wait is bounded
    monkeypatch.setattr(gate, "PARK_SECONDS", 0.1)
    release.clear()
    legit = asyncio.create_task(login(web, "busy", PASSWORD, "203.0.113.50"))
    async with asyncio.timeout(5):
        while not svc.gate.in_flight:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    async with asyncio.timeout(2):
        assert (await login(web, "busy", PASSWORD, "192.0.2.66")).status_code == 429
    assert not legit.done()
    release.set()
    assert (await legit).status_code == 200
