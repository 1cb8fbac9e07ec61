"""The foundation's API through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.notify import MemoryNotifier
from mamori.store import tables as t
from tests.conftest import PASSWORD, signup


async def test_signup_creates_account_and_session(client: httpx.AsyncClient) -> None:
    r = await signup(client, "Alice.Example", phone="090-1234-5678")
    assert r.status_code == 201, r.text
    account = r.json()["account"]
    assert account["login_id"] == "Alice.Example"
    assert account["email_verified"] is False
    assert account["phone"] == "+819012345678"
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["account"]["email"] == "Alice.Example@example.com"


async def test_login_id_is_case_insensitively_unique(client: httpx.AsyncClient) -> None:
    assert (await signup(client, "Bob")).status_code == 201
    client.cookies.clear()
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "ＢＯＢ", "email": "other@example.com", "password": PASSWORD},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "login_id_taken"


async def test_duplicate_email_rejected(client: httpx.AsyncClient) -> None:
    assert (await signup(client, "carol")).status_code == 201
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "carol2", "email": "CAROL@example.com", "password": PASSWORD},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "email_taken"


async def test_signup_rejects_weak_password_with_reasons(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "dave", "email": "dave@example.com", "password": "password1234"},
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "password_rejected"
    assert "common" in err["violations"]
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "dave", "email": "dave@example.com", "password": "x" * 129},
    )
    assert r.json()["error"]["violations"] == ["too_long"]
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "dave", "email": "dave@example.com", "password": "dave-lovely-garden-9"},
    )
    assert "contains_login_id" in r.json()["error"]["violations"]


async def test_invalid_phone_and_email(client: httpx.AsyncClient) -> None:
    r = await signup(client, "erin", phone="12345")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_phone"
    r = await client.post(
        "/api/v1/signup", json={"login_id": "erin", "email": "not-an-email", "password": PASSWORD}
    )
    assert r.json()["error"]["code"] == "invalid_email"


async def test_login_logout_and_me(client: httpx.AsyncClient) -> None:
    await signup(client, "frank")
    client.cookies.clear()
    assert (await client.get("/api/v1/me")).status_code == 401
    r = await client.post("/api/v1/login", json={"login_id": "FRANK", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert (await client.get("/api/v1/me")).status_code == 200
    old_cookie = client.cookies.get("__Host-mamori_session")
    assert (await client.post("/api/v1/logout", json={})).status_code == 200
    # the session is revoked server-side: replaying the old cookie fails
    client.cookies.set("__Host-mamori_session", old_cookie or "", domain="testserver")
    r = await client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


async def test_new_token_on_every_login(client: httpx.AsyncClient) -> None:
    await signup(client, "grace")
    first = client.cookies.get("__Host-mamori_session")
    await client.post("/api/v1/login", json={"login_id": "grace", "password": PASSWORD})
    second = client.cookies.get("__Host-mamori_session")
    assert first
    assert second
    assert first != second


async def test_wrong_password_and_unknown_id_answer_the_same(client: httpx.AsyncClient) -> None:
    await signup(client, "heidi")
    r = await client.post("/api/v1/login", json={"login_id": "heidi", "password": PASSWORD})
    assert r.json()["status"] == "ok"  # she has a login history now
    client.cookies.clear()
    wrong = await client.post("/api/v1/login", json={"login_id": "heidi", "password": "nope" * 4})
    client.cookies.clear()
    unknown = await client.post("/api/v1/login", json={"login_id": "nobody", "password": "x" * 16})
    assert wrong.status_code == unknown.status_code == 200
    w, u = wrong.json(), unknown.json()
    assert w["status"] == u["status"] == "challenge"
    assert {k: v for k, v in w.items() if k != "challenge_id"} == {
        k: v for k, v in u.items() if k != "challenge_id"
    }
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())


async def test_wrong_password_and_unknown_id_answer_the_same_with_two_step_off(
    services: Services, client: httpx.AsyncClient
) -> None:
    await signup(client, "heidi")
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_mode(1, "off")
    client.cookies.clear()
    wrong = await client.post("/api/v1/login", json={"login_id": "heidi", "password": "nope" * 4})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong.headers


async def test_login_history_records_success_and_failure(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client, "ivan")
    await client.post("/api/v1/login", json={"login_id": "ivan", "password": "wrong" * 4})
    await client.post("/api/v1/login", json={"login_id": "ivan", "password": PASSWORD})
    r = await client.get("/api/v1/me/login-history")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["result"] for i in items] == ["success", "failure"]
    top = items[0]
    assert top["ip"] == "203.0.113.7"
    assert top["country"] == "JP"
    assert top["network"] == "KDDI CORPORATION"
    assert top["browser"].startswith("Chrome")
    assert top["os"].startswith("Windows")
    assert top["device_type"] == "desktop"


async def test_failure_event_for_unknown_id_keeps_the_submitted_id(
    client: httpx.AsyncClient, services: Services
) -> None:
    await client.post("/api/v1/login", json={"login_id": " Mallory ", "password": "x" * 16})
    async with services.store.begin() as tx:
        events = await tx.events.recent(limit=5)
    failure = events[0]
    assert failure.type == "login_failure"
    assert failure.reason == "unknown_login_id"
    assert failure.account_id is None
    assert failure.login_id == "mallory"
    assert failure.ip == "203.0.113.7"


async def test_email_verification(
    client: httpx.AsyncClient, notifier: MemoryNotifier, services: Services
) -> None:
    await signup(client, "judy")
    message = notifier.sent[-1]
    assert message.kind == "verify_email"
    assert message.to == "judy@example.com"
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match
    code = match.group(1)
    # codes are stored hashed, never in clear
    async with services.store.begin() as tx:
        row = await tx.codes.current(account_id=1, purpose="verify_email")
    assert row is not None
    assert code not in row.code_hash
    wrong = "000000" if code != "000000" else "111111"
    r = await client.post("/api/v1/me/email/verify", json={"code": wrong})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "code_invalid"
    r = await client.post("/api/v1/me/email/verify", json={"code": code})
    assert r.status_code == 200
    assert (await client.get("/api/v1/me")).json()["account"]["email_verified"] is True


async def test_email_code_expires(
    client: httpx.AsyncClient, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signup(client, "ken")
    code = re.findall(r"\b\d{6}\b", notifier.sent[-1].body)[0]
    clock.advance(timedelta(minutes=31))
    r = await client.post("/api/v1/me/email/verify", json={"code": code})
    assert r.status_code in (400, 401)


async def test_email_code_attempt_limit(
    client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signup(client, "liam")
    code = re.findall(r"\b\d{6}\b", notifier.sent[-1].body)[0]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (
            await client.post("/api/v1/me/email/verify", json={"code": wrong})
        ).status_code == 400
    # the right code no longer works after 5 wrong tries; a resend issues a fresh one
    assert (await client.post("/api/v1/me/email/verify", json={"code": code})).status_code == 400
    r = await client.post("/api/v1/me/email/resend", json={})
    assert r.json()["sent"] is True
    fresh = re.findall(r"\b\d{6}\b", notifier.sent[-1].body)[0]
    assert (await client.post("/api/v1/me/email/verify", json={"code": fresh})).status_code == 200


async def test_password_change_signs_out_others(
    client: httpx.AsyncClient, services: Services, notifier: MemoryNotifier
) -> None:
    await signup(client, "mia")
    other = httpx.AsyncClient(transport=client._transport, base_url="https://testserver")
    r = await other.post("/api/v1/login", json={"login_id": "mia", "password": PASSWORD})
    assert r.status_code == 200
    new = "a brand new passphrase for her 42"
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": "wrong" * 4, "new_password": new, "sign_out_others": True},
    )
    assert r.status_code == 401
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": new, "sign_out_others": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["other_sessions_ended"] == 1
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await other.get("/api/v1/me")).status_code == 401
    await services.background.drain()  # messages go out after the response
    assert notifier.sent[-1].kind == "password_changed"
    assert PASSWORD not in notifier.sent[-1].body
    assert new not in notifier.sent[-1].body
    client.cookies.delete("__Host-mamori_session")  # her browser keeps its device cookie
    bad = await client.post("/api/v1/login", json={"login_id": "mia", "password": PASSWORD})
    assert bad.status_code == 401
    good = await client.post("/api/v1/login", json={"login_id": "mia", "password": new})
    assert good.status_code == 200
    await other.aclose()


async def test_idle_and_absolute_timeouts(client: httpx.AsyncClient, clock: FixedClock) -> None:
    await signup(client, "noah")
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/api/v1/me")).status_code == 200  # touches the session
    clock.advance(timedelta(minutes=29))
    assert (await client.get("/api/v1/me")).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert (await client.get("/api/v1/me")).status_code == 401  # idle
    client.cookies.clear()
    await client.post("/api/v1/login", json={"login_id": "noah", "password": PASSWORD})
    started = clock.now()
    for _ in range(30):
        clock.advance(timedelta(minutes=29))
        if (await client.get("/api/v1/me")).status_code != 200:
            break
    else:
        raise AssertionError("session outlived the absolute timeout")
    # kept alive by activity, it still ends at 12 hours
    assert timedelta(hours=12) <= clock.now() - started < timedelta(hours=12, minutes=29)


async def test_remember_me_extends_session(client: httpx.AsyncClient, clock: FixedClock) -> None:
    await signup(client, "olivia")
    client.cookies.clear()
    r = await client.post(
        "/api/v1/login", json={"login_id": "olivia", "password": PASSWORD, "remember": True}
    )
    assert "max-age=2592000" in r.headers["set-cookie"].lower()
    clock.advance(timedelta(days=20))
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_rehash_on_login_when_parameters_change(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client, "pat")
    from mamori.passwords import HashParams, PasswordHasher

    stronger = PasswordHasher(params=HashParams(time_cost=2, memory_cost_kib=8192, parallelism=1))
    object.__setattr__(services, "hasher", stronger)
    client.cookies.clear()
    assert (
        await client.post("/api/v1/login", json={"login_id": "pat", "password": PASSWORD})
    ).status_code == 200
    async with services.store.begin() as tx:
        account = await tx.accounts.by_login_key("pat")
        assert account is not None
        assert "t=2" in account.password_hash
        n = await tx.events.count(type="password_rehashed")
    assert n == 1


async def test_signup_failure_leaves_nothing_behind(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client, "quinn")
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "quinn", "email": "q2@example.com", "password": PASSWORD},
    )
    assert r.status_code == 422
    async with services.store.begin() as tx:
        accounts = (await tx.conn.execute(select(func.count()).select_from(t.accounts))).scalar()
        codes = (await tx.conn.execute(select(func.count()).select_from(t.codes))).scalar()
        signups = await tx.events.count(type="signup")
    assert (accounts, codes, signups) == (1, 1, 1)


async def test_healthz_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/signup",
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/me",
        "/api/v1/me/login-history",
        "/api/v1/me/password",
    ):
        assert path in spec["paths"], path


async def test_a_returning_browser_refreshes_last_seen_at_most_once_a_minute(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    """Like a session's last-seen time: a login within a minute of the last one, from the same
    browser and place, writes neither the device binding nor the account's last login."""
    assert (await signup(client, "rita")).status_code == 201

    async def seen() -> tuple[object, object, str]:
        async with services.store.begin() as tx:
            account = await tx.accounts.by_login_key("rita")
            assert account is not None
            devices = await tx.devices.for_account(account.id)
        assert len(devices) == 1
        return devices[0].last_seen_at, account.last_login_at, devices[0].last_ip

    async def login(ip: str | None = None) -> None:
        headers = {"x-forwarded-for": ip} if ip else {}
        r = await client.post(
            "/api/v1/login", json={"login_id": "rita", "password": PASSWORD}, headers=headers
        )
        assert r.status_code == 200, r.text

    t0 = clock.advance(61)  # the sign-up bound the browser a minute ago
    await login()
    assert await seen() == (t0, t0, "203.0.113.7")
    clock.advance(30)
    await login()
    assert await seen() == (t0, t0, "203.0.113.7")  # unchanged: nothing written
    t2 = clock.advance(31)
    await login()
    assert await seen() == (t2, t2, "203.0.113.7")
    # within the minute, but the browser changed (an update): the binding is refreshed
    t3 = clock.advance(10)
    client.headers["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0"
    await login()
    assert await seen() == (t3, t2, "203.0.113.7")
    async with services.store.begin() as tx:  # every login is still in the history
        assert await tx.events.count(type="login_success", login_id="rita") == 4
