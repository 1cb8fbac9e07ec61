"""The operators' console (/admin) over ASGI, on SQLite and PostgreSQL: operator login with
password + TOTP (wrong code, replay, rate limit), roles, re-authentication for destructive
actions, the audit log, the live view's SVG chart, account search, and scoped API tokens."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.errors import Conflict, InputError, PasswordRejected
from mamori.flows import live, operator_tokens, operators
from mamori.flows.services import Services
from mamori.otp import totp_at
from mamori.store import console as console_store
from mamori.store.audit import AuditEntry
from mamori.web.charts import Series, line_chart, nice_ceiling
from mamori.web.security import CSP
from tests.conftest import PASSWORD, clean, client_for, make_services, make_settings

TOKEN = "operator-token-" + "q" * 32
OP_PASSWORD = "operator passphrase for the console 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def svc(database_url: str, clock: FixedClock) -> AsyncIterator[Services]:
    s = await clean(
        make_services(
            database_url,
            clock=clock,
            two_step_default_mode="off",
            operator_token=TOKEN,
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    yield s
    await s.background.drain()
    await s.store.dispose()


@pytest.fixture
async def web(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(svc, "127.0.0.1") as c:
        yield c


async def new_operator(svc: Services, name: str = "root", role: str = "admin") -> str:
    created = await operators.create_operator(
        svc, name=name, password=OP_PASSWORD, role=role, by="test"
    )
    assert created.totp_uri.startswith("otpauth://totp/")
    return created.totp_secret


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return html.unescape(found.group(1))


async def console_login(
    c: httpx.AsyncClient,
    clock: FixedClock,
    secret: str,
    *,
    name: str = "root",
    password: str = OP_PASSWORD,
    code: str | None = None,
) -> httpx.Response:
    page = await c.get("/admin/login")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    form = {
        "csrf_token": csrf_of(page),
        "name": name,
        "password": password,
        "code": code if code is not None else totp_at(secret=secret, at=clock.now()),
    }
    return await c.post("/admin/login", data=form)


@asynccontextmanager
async def operator_client(
    svc: Services, clock: FixedClock, name: str = "root", role: str = "admin"
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A new operator, and a client holding its console session."""
    secret = await new_operator(svc, name, role)
    async with client_for(svc, "127.0.0.1") as c:
        r = await console_login(c, clock, secret, name=name)
        assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
        yield c, secret


async def post_form(c: httpx.AsyncClient, url: str, page_url: str, **fields: str) -> httpx.Response:
    page = await c.get(page_url)
    assert page.status_code == 200, page.text
    return await c.post(url, data={"csrf_token": csrf_of(page), **fields})


async def audit(svc: Services) -> list[AuditEntry]:
    async with svc.store.begin() as tx:
        return list(reversed(await tx.audit.recent(limit=200)))


async def make_account(c: httpx.AsyncClient, login_id: str, ip: str = "203.0.113.7") -> int:
    r = await c.post(
        "/api/v1/signup",
        json={"login_id": login_id, "email": f"{login_id}@example.com", "password": PASSWORD},
        headers={"x-forwarded-for": ip},
    )
    assert r.status_code == 201, r.text
    c.cookies.clear()
    return int(r.json()["account"]["id"])


async def api_login(c: httpx.AsyncClient, login_id: str, password: str, ip: str) -> int:
    r = await c.post(
        "/api/v1/login",
        json={"login_id": login_id, "password": password},
        headers={"x-forwarded-for": ip},
    )
    c.cookies.clear()
    return r.status_code


# -- login ---------------------------------------------------------------------------------------


async def test_login_needs_password_and_a_fresh_totp_code(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    secret = await new_operator(svc)
    assert (await web.get("/admin", follow_redirects=False)).headers["location"] == "/admin/login"

    wrong_code = "000000" if totp_at(secret=secret, at=clock.now()) != "000000" else "111111"
    r = await console_login(web, clock, secret, code=wrong_code)
    assert r.status_code == 401
    assert (
        "The operator name, password or code is incorrect." in r.text
        or "正しくありません" in r.text
    )
    r = await console_login(web, clock, secret, password="not the password at all")
    assert r.status_code == 401
    r = await console_login(web, clock, secret, name="nobody")
    assert r.status_code == 401
    assert not any(name.endswith("mamori_admin") for name in web.cookies)

    r = await console_login(web, clock, secret)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-mamori_admin=")
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    page = await web.get("/admin")
    assert page.status_code == 200 and 'id="live-chart"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == CSP

    # the same code again (another browser, same 30 s step): a replay, refused
    async with client_for(svc, "127.0.0.1") as other:
        r = await console_login(other, clock, secret)
        assert r.status_code == 401
    clock.advance(30)
    async with client_for(svc, "127.0.0.1") as other:
        assert (await console_login(other, clock, secret)).status_code == 303

    entries = [(e.action, e.reason, e.details.get("result")) for e in await audit(svc)]
    assert ("operator.login", "wrong_code", "fail") in entries
    assert ("operator.login", "wrong_password", "fail") in entries
    assert ("operator.login", "unknown_operator", "fail") in entries
    assert ("operator.login", "replay", "fail") in entries
    assert entries.count(("operator.login", "", "ok")) == 2
    assert "operator passphrase" not in str(entries)


async def test_login_is_rate_limited_per_name(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    secret = await new_operator(svc)
    for _ in range(5):
        r = await console_login(web, clock, secret, password="wrong password entirely")
        assert r.status_code == 401
    r = await console_login(web, clock, secret)  # right, but too many tries for this name
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    clock.advance(timedelta(minutes=16))
    assert (await console_login(web, clock, secret)).status_code == 303


async def test_session_idle_and_absolute_timeouts_and_logout(
    svc: Services, clock: FixedClock
) -> None:
    async with operator_client(svc, clock) as (c, secret):
        clock.advance(timedelta(minutes=29))
        assert (await c.get("/admin")).status_code == 200
        clock.advance(timedelta(minutes=31))
        r = await c.get("/admin/accounts")
        assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    clock.advance(30)
    c = client_for(svc, "127.0.0.1")
    async with c:
        assert (await console_login(c, clock, secret)).status_code == 303
        for _ in range(17):  # active all along, yet 8 hours is the end
            clock.advance(timedelta(minutes=29))
            await c.get("/admin/audit")
        assert (await c.get("/admin/audit")).status_code == 303
    clock.advance(30)
    c = client_for(svc, "127.0.0.1")
    async with c:
        assert (await console_login(c, clock, secret)).status_code == 303
        r = await post_form(c, "/admin/logout", "/admin/audit")
        assert r.status_code == 303
        assert (await c.get("/admin")).headers["location"] == "/admin/login"
    assert [e.action for e in await audit(svc)][-1] == "operator.logout"


async def test_console_forms_need_the_session_csrf_token(svc: Services, clock: FixedClock) -> None:
    async with operator_client(svc, clock) as (c, _):
        r = await c.post(
            "/admin/bans", data={"csrf_token": "x" * 64, "kind": "ip", "value": "192.0.2.1"}
        )
        assert r.status_code == 403
        r = await c.post(
            "/admin/bans",
            data={
                "csrf_token": csrf_of(await c.get("/admin/bans")),
                "kind": "ip",
                "value": "1.2.3.4",
            },
            headers={"sec-fetch-site": "cross-site"},
        )
        assert r.status_code == 403
    async with svc.store.begin() as tx:
        assert await tx.bans.active(now=svc.clock.now()) == []


# -- roles, re-authentication, audit ---------------------------------------------------------------


async def test_analyst_can_look_but_not_act(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    account_id = await make_account(web, "alice")
    async with operator_client(svc, clock, "watcher", "analyst") as (c, _):
        for url in ("/admin", "/admin/accounts?q=alice", f"/admin/accounts/{account_id}",
                    "/admin/bans", "/admin/audit", "/admin/tokens"):  # fmt: skip
            r = await c.get(url)
            assert r.status_code == 200, url
        page = await c.get(f"/admin/accounts/{account_id}")
        assert 'id="actions"' not in page.text and "alice@example.com" in page.text
        for action in ("restrict", "unlock", "force-reset", "require-two-step"):
            r = await post_form(
                c,
                f"/admin/accounts/{account_id}/{action}",
                f"/admin/accounts/{account_id}",
                reason="just looking",
            )
            assert r.status_code == 403, action
        r = await post_form(c, "/admin/bans", "/admin/bans", kind="ip", value="192.0.2.9")
        assert r.status_code == 403
    async with svc.store.begin() as tx:
        account = await tx.accounts.get(account_id)
        assert account is not None and not account.restricted
        assert not account.password_reset_required
        assert await tx.bans.active(now=clock.now()) == []
    assert all(not e.action.startswith(("account.", "ban.")) for e in await audit(svc))


async def test_destructive_action_needs_recent_reauthentication(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    account_id = await make_account(web, "bob")
    page_url = f"/admin/accounts/{account_id}"
    async with operator_client(svc, clock) as (c, secret):
        clock.advance(timedelta(minutes=6))
        r = await post_form(c, f"{page_url}/force-reset", page_url, reason="leaked")
        assert r.status_code == 403 and 'action="/admin/reauth"' in r.text
        assert f'name="next" value="{page_url}"' in r.text
        async with svc.store.begin() as tx:
            account = await tx.accounts.get(account_id)
        assert account is not None and not account.password_reset_required
        # not destructive: no re-authentication needed
        r = await post_form(c, f"{page_url}/unlock", page_url)
        assert r.status_code == 303

        # a wrong code does not re-authenticate
        form = await c.get(f"/admin/reauth?next={page_url}")
        r = await c.post(
            "/admin/reauth",
            data={"csrf_token": csrf_of(form), "password": OP_PASSWORD, "code": "12345x",
                  "next": page_url},
        )  # fmt: skip
        assert r.status_code == 401
        r = await c.post(
            "/admin/reauth",
            data={"csrf_token": csrf_of(form), "password": OP_PASSWORD,
                  "code": totp_at(secret=secret, at=clock.now()), "next": page_url},
        )  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == page_url
        r = await post_form(c, f"{page_url}/force-reset", page_url, reason="leaked")
        assert r.status_code == 303 and r.headers["location"] == f"{page_url}?done=force-reset"
        clock.advance(timedelta(minutes=5, seconds=1))
        r = await post_form(c, f"{page_url}/restrict", page_url, reason="fraud")
        assert r.status_code == 403
    async with svc.store.begin() as tx:
        account = await tx.accounts.get(account_id)
    assert account is not None and account.password_reset_required and not account.restricted
    actions = [e.action for e in await audit(svc)]
    assert actions.count("account.force_reset") == 1 and "operator.reauth" in actions


async def test_every_action_lands_in_the_audit_log(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    account_id = await make_account(web, "carol")
    page_url = f"/admin/accounts/{account_id}"
    async with operator_client(svc, clock) as (c, _):
        r = await post_form(c, f"{page_url}/restrict", page_url, reason="")
        assert r.status_code == 422  # a reason is required
        steps = [
            ("unlock", {}),
            ("require-two-step", {"reason": "suspicious login"}),
            ("require-two-step", {"required": "off"}),
            ("restrict", {"reason": "confirmed fraud"}),
            ("unrestrict", {}),
            ("force-reset", {"reason": "password in a leak"}),
        ]
        for action, fields in steps:
            r = await post_form(c, f"{page_url}/{action}", page_url, **fields)
            assert r.status_code == 303, (action, r.text[:300])
            assert r.headers["location"] == f"{page_url}?done={action}"
        r = await post_form(
            c, "/admin/bans", "/admin/bans", kind="ip", value="192.0.2.77", reason="scanner",
            minutes="30",
        )  # fmt: skip
        assert r.status_code == 303
        assert "192.0.2.77" in (await c.get("/admin/bans")).text
        r = await post_form(c, "/admin/bans/remove", "/admin/bans", kind="ip", value="192.0.2.77")
        assert r.status_code == 303
        page = await c.get(page_url)
        assert "confirmed fraud" in page.text  # the account's audit entries
        log = await c.get("/admin/audit?actor=operator:root")
        assert log.status_code == 200 and "account.force_reset" in log.text
    got = [
        (e.actor, e.action, e.target, e.reason)
        for e in await audit(svc)
        if not e.action.startswith("operator.")
    ]
    assert got == [
        ("operator:root", "account.unlock", "carol", ""),
        ("operator:root", "account.require_two_step", "carol", "suspicious login"),
        ("operator:root", "account.require_two_step", "carol", ""),
        ("operator:root", "account.restrict", "carol", "confirmed fraud"),
        ("operator:root", "account.unrestrict", "carol", ""),
        ("operator:root", "account.force_reset", "carol", "password in a leak"),
        ("operator:root", "ban.add", "ip:192.0.2.77", "scanner"),
        ("operator:root", "ban.remove", "ip:192.0.2.77", ""),
    ]
    entries = await audit(svc)
    assert all(e.at is not None for e in entries)
    assert entries[0].action == "operator.create" and entries[0].actor == "test"


# -- live view, search ----------------------------------------------------------------------------


def series_points(page: str, key: str) -> list[tuple[float, float]]:
    found = re.search(rf'<path class="series" data-series="{key}" d="M([^"]+)"', page)
    assert found, f"no {key} series"
    return [
        (float(x), float(y))
        for x, y in (p.split() for p in found.group(1).replace("L", ",").split(","))
    ]


async def test_live_view_draws_the_series(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    await make_account(web, "dave")
    clock.advance(timedelta(minutes=3))
    assert await api_login(web, "dave", PASSWORD, "203.0.113.7") == 200
    for i in range(4):
        assert await api_login(web, "dave", f"wrong password {i}!", "198.51.100.9") == 401
    assert await api_login(web, "nobody-here", "whatever it is 1", "198.51.100.9") == 401
    clock.advance(timedelta(minutes=2))
    view = await live.live_view(svc, range_name="hour")
    assert view.totals["success"] == 1 and view.totals["failure"] == 5
    assert view.totals["attempts"] == 6
    assert view.counts["failure"][-3] == 5 and view.counts["success"][-3] == 1
    assert [r.value for r in view.top["ip"]][:2] == ["198.51.100.9", "203.0.113.7"]
    assert view.top["subnet"][0].value == "198.51.100.0/24" and view.top["subnet"][0].failures == 5
    assert view.top["login_id"][0].value == "dave" and view.top["login_id"][0].failures == 4
    assert {r.value for r in view.top["country"]} == {"US", "JP"}

    async with operator_client(svc, clock) as (c, _):
        page = (await c.get("/admin")).text
        for key in live.SERIES:
            assert f'data-series="{key}"' in page
        failure = series_points(page, "failure")
        assert len(failure) == 60
        base = failure[0][1]
        assert failure[-3][1] < base  # the spike three minutes ago is drawn above the axis
        assert all(y == base for _, y in failure[:-3])
        assert min(y for _, y in series_points(page, "success")) < base
        assert "198.51.100.9" in page and "198.51.100.0/24" in page and "GOOGLE" in page
        assert 'id="under-attack"' not in page
        for name in ("day", "week"):
            r = await c.get(f"/admin?range={name}")
            assert r.status_code == 200
            assert len(series_points(r.text, "attempts")) == {"day": 96, "week": 84}[name]
        en = await c.get("/admin?lang=en")
        assert "Logins in the last hour, per minute" in en.text
        ja = await c.get("/admin?lang=ja")
        assert "直近1時間のログイン" in ja.text


async def test_live_view_is_quick_on_a_busy_hour(
    svc: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 login events in the last hour: the hour view (one GROUP BY for the chart, one per
    top list) stays well under a second on either database."""
    import time

    from mamori.store import tables as t

    now = clock.now()
    rows = [
        {
            "at": now - timedelta(seconds=(20_000 - i) * 3500 / 20_000),  # in time order
            "type": "login_failure" if i % 5 else "login_success",
            "result": "fail" if i % 5 else "ok",
            "reason": "locked" if i % 7 == 0 else "wrong_password",
            "login_id": f"user{i % 3000}",
            "ip": f"198.51.{i % 200}.{i % 250}",
            "country": "US" if i % 3 else "JP",
            "as_name": f"NET{i % 40}",
            "details": "{}",
        }
        for i in range(20_000)
    ]
    async with svc.store.begin() as tx:
        await tx.conn.execute(t.security_events.insert(), rows)
    started = time.perf_counter()
    view = await live.live_view(svc, range_name="hour")
    elapsed = time.perf_counter() - started
    assert view.totals["attempts"] == 20_000
    assert view.top["ip"] and view.top["subnet"] and view.top["as_name"]
    assert elapsed < 1.0, f"live view took {elapsed * 1000:.0f} ms"
    assert view.sample == 1 and view.top_events == console_store.TOP_SAMPLE
    assert view.totals["block"] == len([i for i in range(20_000) if i % 5 and i % 7 == 0])
    # a period with more events than one query should read: every k-th, scaled
    monkeypatch.setattr(console_store, "SCAN_CAP", 5000)
    sampled = await live.live_view(svc, range_name="hour")
    assert sampled.sample == 4
    assert abs(sampled.totals["attempts"] - 20_000) <= 8
    assert abs(sampled.totals["success"] - 4000) < 400


async def test_account_search_by_login_id_email_and_ip(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    erin = await make_account(web, "erin_x", ip="203.0.113.21")
    await make_account(web, "erika", ip="203.0.113.22")
    await make_account(web, "frank", ip="203.0.113.23")
    assert await api_login(web, "frank", PASSWORD, "198.51.100.50") == 200
    async with operator_client(svc, clock, "looker", "analyst") as (c, _):

        async def found(q: str) -> list[str]:
            r = await c.get("/admin/accounts", params={"q": q})
            assert r.status_code == 200
            return re.findall(r'class="account-link">([^<]+)<', r.text)

        assert await found("eri") == ["erika", "erin_x"]
        assert await found("ERIN_") == ["erin_x"]
        assert await found("erin%") == []  # LIKE wildcards are literal
        assert await found("e_in") == []
        assert await found("frank@example.com") == ["frank"]
        assert await found("frank@EXAMPLE.com") == ["frank"]
        assert await found("198.51.100.50") == ["frank"]
        assert await found("203.0.113.21") == ["erin_x"]
        assert await found("192.0.2.1") == []
        page = await c.get(f"/admin/accounts/{erin}")
        assert page.status_code == 200 and "erin_x@example.com" in page.text
        assert 'id="events"' in page.text and 'id="devices"' in page.text
        assert 'id="risk-history"' in page.text and 'id="notices"' in page.text
        assert (await c.get("/admin/accounts/999999")).status_code == 404


# -- API tokens -----------------------------------------------------------------------------------


async def test_scoped_api_tokens_and_revocation(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    reader, _ = await operator_tokens.create_token(svc, name="grafana", scopes=("read",), by="t")
    writer, rec = await operator_tokens.create_token(
        svc, name="soar", scopes=("read", "write"), by="t"
    )
    assert rec.scopes == ("read", "write") and writer.startswith("mmr_")

    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    ban = {"kind": "ip", "value": "192.0.2.5", "reason": "api"}
    assert (await web.get("/api/v1/admin/bans", headers=bearer(reader))).status_code == 200
    r = await web.post("/api/v1/admin/bans", json=ban, headers=bearer(reader))
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    r = await web.post("/api/v1/admin/bans", json=ban, headers=bearer(writer))
    assert r.status_code == 201
    assert (
        await web.get("/api/v1/admin/bans", headers=bearer("mmr_" + "x" * 43))
    ).status_code == 403

    # the static token still works, for both
    assert (await web.get("/api/v1/admin/bans", headers=bearer(TOKEN))).status_code == 200
    r = await web.delete("/api/v1/admin/bans/ip/192.0.2.5", headers=bearer(TOKEN))
    assert r.status_code == 200

    await operator_tokens.revoke_token(svc, name="soar", by="t")
    assert (await web.get("/api/v1/admin/bans", headers=bearer(writer))).status_code == 403
    assert (await web.get("/api/v1/admin/bans", headers=bearer(reader))).status_code == 200

    # revoking from the console: admin and re-authentication
    async with operator_client(svc, clock) as (c, _):
        page = await c.get("/admin/tokens")
        assert "grafana" in page.text and reader not in page.text
        r = await post_form(c, "/admin/tokens/revoke", "/admin/tokens", name="grafana")
        assert r.status_code == 303
    assert (await web.get("/api/v1/admin/bans", headers=bearer(reader))).status_code == 403

    got = [(e.actor, e.action, e.target) for e in await audit(svc)]
    assert ("t", "token.create", "grafana") in got
    assert ("token:soar", "ban.add", "ip:192.0.2.5") in got
    assert ("token", "ban.remove", "ip:192.0.2.5") in got
    assert ("t", "token.revoke", "soar") in got
    assert ("operator:root", "token.revoke", "grafana") in got
    assert all(
        writer not in str(e.details) and reader not in str(e.details) for e in await audit(svc)
    )


# -- the chart itself ------------------------------------------------------------------------------


def test_line_chart_is_plain_svg() -> None:
    from datetime import UTC, datetime

    starts = [datetime(2026, 1, 1, 12, i, tzinfo=UTC) for i in range(10)]
    svg = line_chart(
        series=[
            Series("attempts", "試行 <all>", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "#5b6475", area=True),
            Series("failure", "Failures", [0] * 10, "#b42318"),
        ],
        starts=starts,
        title="Logins & more",
        y_label="per minute",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert (
        "style=" not in svg
        and "<script" not in svg
        and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "試行 &lt;all&gt;" in svg and "Logins &amp; more" in svg
    assert "12:00" in svg and 'class="area"' in svg
    assert nice_ceiling(9) == 10 and nice_ceiling(0.3) == 0.5 and nice_ceiling(0) == 1
    assert nice_ceiling(1234) == 2000 and nice_ceiling(2.4) == 2.5
    with pytest.raises(ValueError, match="one value per start"):
        line_chart(series=[Series("a", "a", [1], "#000000")], starts=starts, title="", y_label="")


# -- operators' lifecycle and the CLI ------------------------------------------------------------


async def test_disabled_operator_is_signed_out_and_cannot_log_in(
    svc: Services, clock: FixedClock
) -> None:
    async with operator_client(svc, clock, "temp", "analyst") as (c, secret):
        assert (await c.get("/admin")).status_code == 200
        assert await operators.disable_operator(svc, name="temp", by="cli:boss") == 1
        assert (await c.get("/admin")).headers["location"] == "/admin/login"
        clock.advance(30)
        assert (await console_login(c, clock, secret, name="temp")).status_code == 401
    assert [e.action for e in await audit(svc)][-2:] == ["operator.disable", "operator.login"]
    with pytest.raises(InputError):
        await operators.create_operator(svc, name="x", password=OP_PASSWORD, role="admin", by="t")
    with pytest.raises(PasswordRejected):
        await operators.create_operator(svc, name="weak", password="password", role="admin", by="t")
    with pytest.raises(Conflict):
        await operators.create_operator(
            svc, name="TEMP", password=OP_PASSWORD, role="admin", by="t"
        )


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_admin_cli_creates_operators_and_tokens(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATABASE_URL": url,
            "MAMORI_SECRET_KEY": make_settings(url).secret_key,
            "MAMORI_ARGON2_TIME_COST": "1",
            "MAMORI_ARGON2_MEMORY_KIB": "8192",
            "COLUMNS": "200",
        }
    )
    assert run_cli(env, "migrate").returncode == 0
    r = run_cli(env, "admin", "create", "Root", "--password-stdin", stdin=OP_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    secret = re.search(r"TOTP secret: ([A-Z2-7]{32})\n", r.stdout)
    assert secret and "otpauth://totp/Mamori%20console:root?secret=" in r.stdout
    r = run_cli(env, "admin", "create", "viewer", "--role", "nobody", "--password-stdin",
                stdin=OP_PASSWORD + "\n")  # fmt: skip
    assert r.returncode == 1 and "invalid_role" in r.stderr
    r = run_cli(env, "admin", "create", "root", "--password-stdin", stdin=OP_PASSWORD + "\n")
    assert r.returncode == 1 and "operator_exists" in r.stderr
    r = run_cli(env, "admin", "token", "create", "ci", "--scopes", "read,write")
    assert r.returncode == 0, r.stderr
    found = re.search(r"^token: (mmr_[A-Za-z0-9_-]{43})$", r.stdout, re.M)
    assert found
    token = found.group(1)
    r = run_cli(env, "admin", "token", "create", "bad", "--scopes", "admin")
    assert r.returncode == 1 and "invalid_scopes" in r.stderr
    listed = run_cli(env, "admin", "token", "list")
    assert "ci" in listed.stdout and "read,write" in listed.stdout and token not in listed.stdout

    svc = make_services(url, clock=clock)
    try:
        async with client_for(svc) as web:
            auth = {"authorization": f"Bearer {token}"}
            assert (await web.get("/api/v1/admin/bans", headers=auth)).status_code == 200
            assert run_cli(env, "admin", "token", "revoke", "ci").returncode == 0
            assert (await web.get("/api/v1/admin/bans", headers=auth)).status_code == 403
            # the operator made by the CLI logs in to the console
            page = await console_login(web, clock, secret.group(1))
            assert page.status_code == 303
        assert run_cli(env, "admin", "token", "revoke", "ci").returncode == 1  # already gone
        assert run_cli(env, "admin", "disable", "root").returncode == 0
        listed = run_cli(env, "admin", "list")
        assert "root" in listed.stdout and "disabled" in listed.stdout
        async with svc.store.begin() as tx:
            actions = [(e.actor.split(":")[0], e.action) for e in await tx.audit.recent()]
        assert ("cli", "operator.create") in actions and ("cli", "token.revoke") in actions
        assert ("cli", "operator.disable") in actions
    finally:
        await svc.store.dispose()


async def test_blocks_stay_in_the_day_and_week_views(
    svc: Services, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    """Requests refused by a ban are not events; their per-bucket counts outlive the detector's
    one-hour window, so the day and week charts still show them hours later."""
    r = await web.post(
        "/api/v1/admin/bans",
        headers={"authorization": f"Bearer {TOKEN}"},
        json={"kind": "ip", "value": "198.51.100.99", "reason": "test"},
    )
    assert r.status_code == 201, r.text
    for _ in range(7):
        r = await web.post(
            "/api/v1/login",
            json={"login_id": "someone", "password": "x" * 12},
            headers={"x-forwarded-for": "198.51.100.99"},
        )
        assert r.status_code == 429
    await svc.defender.tick()  # flushes the stats buffer
    assert (await live.live_view(svc, range_name="hour")).totals["block"] == 7
    clock.advance(timedelta(hours=3))
    assert (await live.live_view(svc, range_name="hour")).totals["block"] == 0
    assert (await live.live_view(svc, range_name="day")).totals["block"] == 7
    assert (await live.live_view(svc, range_name="week")).totals["block"] == 7
