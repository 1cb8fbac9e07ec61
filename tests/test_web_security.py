"""Cookie attributes, security headers, CSRF, client IP resolution, pages in two languages."""

from __future__ import annotations

import re

import httpx

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.web.app import create_app
from tests.conftest import PASSWORD, make_services, signup


def cookie_attrs(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {"name": name, "value": value}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v.lower() if v else "true"
    return attrs


async def test_session_cookie_attributes(client: httpx.AsyncClient) -> None:
    r = await signup(client, "tom")
    cookies = [cookie_attrs(v) for k, v in r.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c["name"] == "__Host-mamori_session")
    assert session["secure"] == "true"
    assert session["httponly"] == "true"
    assert session["samesite"] == "lax"
    assert session["path"] == "/"
    assert "domain" not in session
    assert "max-age" not in session  # a browser-session cookie unless "keep me signed in"
    assert len(session["value"]) >= 43  # 256 bits, base64url


async def test_session_token_is_stored_hashed(
    client: httpx.AsyncClient, services: Services
) -> None:
    r = await signup(client, "uma")
    token = client.cookies.get("__Host-mamori_session")
    assert token
    assert r.status_code == 201
    from sqlalchemy import select

    from mamori.store import tables as t

    async with services.store.begin() as tx:
        stored = (await tx.conn.execute(select(t.sessions.c.token_hash))).scalars().all()
    assert token not in stored
    assert len(stored) == 1
    assert len(stored[0]) == 64


async def test_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/v1/me", "/healthz"):
        r = await client.get(path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_form_post_without_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    r = await client.post(
        "/login", data={"login_id": "x", "password": "y"}, headers={"accept": "text/html"}
    )
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]


async def test_form_login_with_csrf_token(client: httpx.AsyncClient) -> None:
    await signup(client, "vera")
    client.cookies.delete("__Host-mamori_session")
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = await client.post(
        "/login",
        data={"login_id": "vera", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/account"
    account = await client.get("/account")
    assert "vera" in account.text


async def test_cross_site_requests_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/login",
        json={"login_id": "x", "password": "y"},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    r = await client.post(
        "/api/v1/login",
        json={"login_id": "x", "password": "y"},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403


async def test_spoofed_forwarded_for_is_ignored(
    client: httpx.AsyncClient, services: Services
) -> None:
    await client.post(
        "/api/v1/login",
        json={"login_id": "nobody", "password": "x" * 12},
        headers={"x-forwarded-for": "198.51.100.9"},
    )
    async with services.store.begin() as tx:
        event = (await tx.events.recent(limit=1))[0]
    assert event.ip == "203.0.113.7"  # the peer, not the header


async def test_forwarded_for_from_trusted_proxy(services: Services, clock: FixedClock) -> None:
    svc = make_services(
        services.settings.database_url, clock=clock, trusted_proxies=("10.0.0.0/8",)
    )
    transport = httpx.ASGITransport(app=create_app(svc), client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        await c.post(
            "/api/v1/login",
            json={"login_id": "nobody", "password": "x" * 12},
            headers={"x-forwarded-for": "6.6.6.6, 198.51.100.9, 10.0.0.5"},
        )
    async with services.store.begin() as tx:
        event = (await tx.events.recent(limit=1))[0]
    assert event.ip == "198.51.100.9"
    assert event.country == "US"
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()


async def test_pages_in_japanese_and_english(client: httpx.AsyncClient) -> None:
    ja = await client.get("/login", headers={"accept-language": "ja"})
    en = await client.get("/login", headers={"accept-language": "en"})
    assert "<h1>ログイン</h1>" in ja.text
    assert 'lang="ja"' in ja.text
    assert "<h1>Log in</h1>" in en.text
    switched = await client.get("/lang/en?next=/signup", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/signup"
    assert "mamori_lang=en" in switched.headers["set-cookie"]
    evil = await client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert evil.headers["location"] == "/"


async def test_account_pages_require_login(client: httpx.AsyncClient) -> None:
    for path in ("/account", "/account/history", "/account/password", "/verify-email"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")


async def test_dev_outbox_lists_messages(client: httpx.AsyncClient) -> None:
    page = await client.get("/dev/outbox")
    assert page.status_code == 200
