"""The account security center (sessions, events, history) and single-device mode, through the
ASGI app on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mamori.errors import NotAuthenticated
from mamori.flows import center, not_me
from mamori.flows.services import Services
from mamori.flows.sessions import resolve_session
from mamori.models import Message
from mamori.notify import MemoryNotifier
from tests.conftest import PASSWORD, client_for, signup

UA_FIREFOX_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0"
)
WRONG = "not the password at all 123"
SESSIONS = "/api/v1/me/sessions"
EVENTS = "/api/v1/me/events"
SINGLE = "/api/v1/me/single-device"


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: another address (US, GOOGLE in the test geo data), Firefox on a Mac."""
    async with client_for(services, ip="198.51.100.20") as c:
        c.headers["user-agent"] = UA_FIREFOX_MAC
        yield c


@pytest.fixture
async def third(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, ip="203.0.113.99") as c:
        yield c


async def login(c: httpx.AsyncClient, login_id: str = "alice", password: str = PASSWORD) -> Any:
    return await c.post("/api/v1/login", json={"login_id": login_id, "password": password})


async def alice_with_two_step_off(services: Services, client: httpx.AsyncClient) -> int:
    """alice signs up in `client` (a session); two-step "off" so other browsers log in directly."""
    r = await signup(client)
    assert r.status_code == 201, r.text
    account_id = int(r.json()["account"]["id"])
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_mode(account_id, "off")
    return account_id


async def logged_in(c: httpx.AsyncClient) -> None:
    r = await login(c)
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text


def cookie_of(c: httpx.AsyncClient) -> str:
    value = c.cookies.get("__Host-mamori_session")
    assert value
    return value


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])


# -- sessions -------------------------------------------------------------------------------


async def test_sessions_listed_with_device_info_and_the_current_one_marked(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    items = (await client.get(SESSIONS)).json()["items"]
    assert len(items) == 2
    mine = next(s for s in items if s["current"])
    other = next(s for s in items if not s["current"])
    assert (mine["browser"], mine["os"], mine["device_type"]) == (
        "Chrome 131",
        "Windows 10",
        "desktop",
    )
    assert (mine["country"], mine["network"]) == ("JP", "KDDI CORPORATION")
    assert mine["ip"] == "203.0.113.7"
    assert (other["browser"], other["os"]) == ("Firefox 133", "Mac OS X 14.5")
    assert (other["country"], other["network"], other["ip"]) == ("US", "GOOGLE", "198.51.100.20")
    for s in items:
        assert {"id", "created_at", "last_active_at", "device_id", "remember"} <= set(s)
        assert s["device_id"] is not None
    # seen from the other browser, the other one is current
    theirs = (await browser.get(SESSIONS)).json()["items"]
    assert next(s for s in theirs if s["current"])["id"] == other["id"]


async def test_a_session_whose_device_was_forgotten_is_still_described(
    services: Services, client: httpx.AsyncClient
) -> None:
    account_id = await alice_with_two_step_off(services, client)
    async with services.store.begin() as tx:
        (device,) = await tx.devices.for_account(account_id)
        await tx.devices.forget(device_id=device.id, account_id=account_id)
    (item,) = (await client.get(SESSIONS)).json()["items"]
    assert item["current"] and item["browser"] == "Chrome 131" and item["country"] == "JP"


async def test_revoking_one_session_ends_only_that_one(
    services: Services,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    third: httpx.AsyncClient,
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    await logged_in(third)
    items = (await client.get(SESSIONS)).json()["items"]
    theirs = next(s for s in items if s["ip"] == "198.51.100.20")
    r = await client.post(f"{SESSIONS}/{theirs['id']}/revoke", json={})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await browser.get("/api/v1/me")
    assert r.status_code == 401 and error_of(r) == "not_authenticated"
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await third.get("/api/v1/me")).status_code == 200
    assert len((await client.get(SESSIONS)).json()["items"]) == 2
    # again: it is gone
    r = await client.post(f"{SESSIONS}/{theirs['id']}/revoke", json={})
    assert r.status_code == 404 and error_of(r) == "not_found"
    # the current session: use logout
    current = (await client.get("/api/v1/me")).json()["session"]["id"]
    r = await client.post(f"{SESSIONS}/{current}/revoke", json={})
    assert r.status_code == 422 and error_of(r) == "current_session"
    # the event is recorded
    events = (await client.get(EVENTS)).json()["items"]
    revoked = next(e for e in events if e["type"] == "session_revoked")
    assert revoked["result"] == "ok" and revoked["label_key"] == "ev_session_revoked"


async def test_another_accounts_session_is_not_found(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    assert (await signup(browser, "bob")).status_code == 201
    bobs = (await browser.get("/api/v1/me")).json()["session"]["id"]
    r = await client.post(f"{SESSIONS}/{bobs}/revoke", json={})
    assert r.status_code == 404 and error_of(r) == "not_found"
    assert (await browser.get("/api/v1/me")).status_code == 200


async def test_sign_out_everywhere_else_needs_the_password_and_keeps_this_one(
    services: Services,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    third: httpx.AsyncClient,
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    await logged_in(third)
    r = await client.post(f"{SESSIONS}/revoke-others", json={"password": WRONG})
    assert r.status_code == 401 and error_of(r) == "invalid_credentials"
    assert (await browser.get("/api/v1/me")).status_code == 200
    r = await client.post(f"{SESSIONS}/revoke-others", json={"password": ""})
    assert r.status_code == 422 and error_of(r) == "password_required"
    r = await client.post(f"{SESSIONS}/revoke-others", json={})
    assert r.status_code == 422
    r = await client.post(f"{SESSIONS}/revoke-others", json={"password": PASSWORD})
    assert r.status_code == 200 and r.json() == {"status": "ok", "sessions_ended": 2}
    assert (await browser.get("/api/v1/me")).status_code == 401
    assert (await third.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 200
    (item,) = (await client.get(SESSIONS)).json()["items"]
    assert item["current"]
    events = (await client.get(EVENTS)).json()["items"]
    revoked = [e for e in events if e["type"] == "sessions_revoked"]
    assert [e["result"] for e in revoked] == ["ok", "fail"]


async def test_sign_out_everywhere_else_attempts_are_limited(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    for _ in range(10):
        r = await client.post(f"{SESSIONS}/revoke-others", json={"password": WRONG})
        assert r.status_code == 401
    r = await client.post(f"{SESSIONS}/revoke-others", json={"password": PASSWORD})
    assert r.status_code == 429 and error_of(r) == "too_many_requests"
    assert int(r.headers["retry-after"]) > 0
    assert (await browser.get("/api/v1/me")).status_code == 200


# -- events and history ---------------------------------------------------------------------


async def test_events_list_with_notice_ids_for_was_this_you(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)  # a new device: a notice with "this wasn't me"
    r = await client.get(EVENTS, headers={"accept-language": "en"})
    assert r.status_code == 200
    items = r.json()["items"]
    types = [e["type"] for e in items]
    assert types[-1] == "signup" and "login_success" in types
    assert "notice_sent" not in types and "email_code_sent" not in types
    login_event = next(e for e in items if e["type"] == "login_success")
    assert login_event["label_key"] == "ev_login_success" and login_event["label"] == "Login"
    assert login_event["browser"].startswith("Firefox")
    assert (login_event["country"], login_event["ip"]) == ("US", "198.51.100.20")
    assert login_event["notice_id"] is not None
    assert login_event["feedback"] == "" and login_event["answerable"] is True
    assert login_event["risk_level"] in ("low", "medium", "high")
    assert login_event["method"] == "password"
    signup_event = next(e for e in items if e["type"] == "signup")
    assert signup_event["notice_id"] is None and signup_event["answerable"] is False
    ja = (await client.get(EVENTS, headers={"accept-language": "ja"})).json()["items"]
    assert next(e for e in ja if e["type"] == "login_success")["label"] == "ログイン"
    # "yes, it was me" (the inbox endpoint's flow): answered, no longer offered
    auth = await resolve_session(services, cookie_of(client))
    await not_me.confirm_was_me(
        services,
        auth=auth,
        notice_id=login_event["notice_id"],
        client=services.client(ip="203.0.113.7", user_agent=""),
    )
    items = (await client.get(EVENTS)).json()["items"]
    answered = next(e for e in items if e["id"] == login_event["id"])
    assert answered["feedback"] == "was_me" and answered["answerable"] is False
    assert items[0]["type"] == "was_me_confirmed"
    # paging
    page = (await client.get(EVENTS, params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_before"] == page["items"][0]["id"]
    older = (await client.get(EVENTS, params={"limit": 1, "before": page["next_before"]})).json()
    assert older["items"][0]["id"] < page["items"][0]["id"]


async def test_not_me_answered_from_the_center_shows_in_events(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    login_event = next(
        e for e in (await client.get(EVENTS)).json()["items"] if e["type"] == "login_success"
    )
    auth = await resolve_session(services, cookie_of(client))
    await not_me.report_from_center(
        services,
        auth=auth,
        notice_id=login_event["notice_id"],
        client=services.client(ip="203.0.113.7", user_agent=""),
    )
    assert (await browser.get("/api/v1/me")).status_code == 401  # that device is signed out
    items = (await client.get(EVENTS)).json()["items"]
    assert next(e for e in items if e["id"] == login_event["id"])["feedback"] == "not_me"
    assert any(e["type"] == "not_me_reported" for e in items)
    # the password page recommends signing the others out (and the box is ticked)
    page = await client.get("/account/password", headers={"accept-language": "en"})
    assert 'id="after-not-me"' in page.text
    assert re.search(r'name="sign_out_others" checked', page.text)


async def test_history_has_risk_method_and_notice(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    assert (await login(browser, password=WRONG)).status_code == 401
    items = (await client.get("/api/v1/me/login-history")).json()["items"]
    failure, success = items[0], items[1]
    assert failure["result"] == "failure" and success["result"] == "success"
    assert success["risk_level"] in ("low", "medium", "high")
    assert success["risk_action"] == "allow"
    assert success["method"] == "password" and success["challenged"] is False
    assert success["notice_id"] is not None and success["feedback"] == ""
    assert failure["notice_id"] is None and failure["challenged"] is False
    assert {"risk_level", "risk_action", "method"} <= set(failure)
    page = await client.get("/account/history", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert '<span class="risk">Risk: ' in page.text
    assert '<span class="method">Method: Password</span>' in page.text
    assert 'href="/account/events"' in page.text


async def test_history_of_a_challenged_login(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    assert (await signup(client)).status_code == 201
    await logged_in(client)  # a history: the next new browser is asked for the second step
    r = await login(browser)
    body = r.json()
    assert body["status"] == "challenge", body
    await services.background.drain()
    message: Message = next(m for m in notifier.sent if m.kind == "login_code")
    code = re.search(r"\b(\d{6})\b", message.body)
    assert code
    r = await browser.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code.group(1)},
    )
    assert r.status_code == 200, r.text
    latest = (await client.get("/api/v1/me/login-history")).json()["items"][0]
    assert latest["result"] == "success" and latest["method"] == "email"
    assert latest["challenged"] is True and latest["risk_action"] == "step_up"


# -- single-device mode ---------------------------------------------------------------------


async def test_single_device_applies_by_service_mode_and_account_setting(
    services: Services, client: httpx.AsyncClient
) -> None:
    account_id = await alice_with_two_step_off(services, client)
    async with services.store.begin() as tx:
        account = await tx.accounts.get(account_id)
    assert account is not None and not account.single_device
    on = dataclasses.replace(account, single_device=True)

    def with_mode(mode: str) -> Services:
        return dataclasses.replace(
            services, settings=dataclasses.replace(services.settings, single_device_mode=mode)
        )

    assert not center.single_device_applies(with_mode("optional"), account)
    assert center.single_device_applies(with_mode("optional"), on)
    assert center.single_device_applies(with_mode("all"), account)
    assert not center.single_device_applies(with_mode("off"), on)
    assert not center.single_device_applies(with_mode("nonsense"), on)


async def test_single_device_setting_through_the_api(
    services: Services, client: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    state = (await client.get(SINGLE)).json()
    assert state == {
        "mode": "optional",
        "setting_available": True,
        "on": False,
        "applies": False,
        "other_sessions": 0,
    }
    r = await client.post("/api/v1/me/security/single-device", json={"on": True})
    assert r.status_code == 200 and r.json() == {"status": "ok", "single_device": True}
    assert (await client.get(SINGLE)).json()["applies"] is True
    r = await client.post("/api/v1/me/security/single-device", json={"on": "yes"})
    assert r.status_code == 422
    events = (await client.get(EVENTS)).json()["items"]
    assert events[0]["type"] == "single_device_changed"


@pytest.mark.parametrize("mode", ["off", "all"])
async def test_single_device_setting_only_when_optional(services: Services, mode: str) -> None:
    svc = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, single_device_mode=mode)
    )
    async with client_for(svc) as c:
        assert (await signup(c)).status_code == 201
        r = await c.post("/api/v1/me/security/single-device", json={"on": True})
        assert r.status_code == 422 and error_of(r) == "single_device_not_optional"
        page = await c.get("/account/security", headers={"accept-language": "en"})
        assert ('id="single-device-form"' in page.text) is False
        assert ("every account is used on one device" in page.text) is (mode == "all")


async def test_single_device_confirm_ends_the_other_sessions(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    assert (
        await client.post("/api/v1/me/security/single-device", json={"on": True})
    ).status_code == 200
    await logged_in(browser)  # the new device
    state = (await browser.get(SINGLE)).json()
    assert state["applies"] is True and state["other_sessions"] == 1
    # the older session cannot push the new one out through the prompt
    r = await client.post(f"{SINGLE}/confirm", json={})
    assert r.status_code == 422 and error_of(r) == "single_device_not_newest"
    r = await browser.post(f"{SINGLE}/confirm", json={})
    assert r.status_code == 200 and r.json() == {"status": "ok", "sessions_ended": 1}
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await browser.get("/api/v1/me")).status_code == 200
    assert (await browser.get(SINGLE)).json()["other_sessions"] == 0
    events = (await browser.get(EVENTS)).json()["items"]
    ended = next(e for e in events if e["type"] == "sessions_revoked")
    assert ended["reason"] == "single_device"


async def test_single_device_cancel_ends_this_session_only(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await client.post("/api/v1/me/security/single-device", json={"on": True})
    await logged_in(browser)
    token = cookie_of(browser)
    r = await browser.post(f"{SINGLE}/cancel", json={})
    assert r.status_code == 200 and r.json()["signed_out"] is True
    assert "__Host-mamori_session=" in r.headers["set-cookie"]
    # the server ended it: the old cookie no longer works
    assert "__Host-mamori_session" not in browser.cookies
    browser.cookies.set("__Host-mamori_session", token, domain="testserver", path="/")
    r = await browser.get("/api/v1/me")
    assert r.status_code == 401
    with pytest.raises(NotAuthenticated):
        await resolve_session(services, token)
    assert (await client.get("/api/v1/me")).status_code == 200
    assert (await client.get(SINGLE)).json()["other_sessions"] == 0


async def test_single_device_confirm_refused_when_the_mode_does_not_apply(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    r = await browser.post(f"{SINGLE}/confirm", json={})
    assert r.status_code == 422 and error_of(r) == "single_device_off"
    assert (await client.get("/api/v1/me")).status_code == 200
    # the prompt page is not shown either
    r = await browser.get("/account/single-device", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"


# -- bad input ------------------------------------------------------------------------------


async def test_bad_input_gets_a_4xx_json_error(
    services: Services, client: httpx.AsyncClient
) -> None:
    r = await client.get(SESSIONS)
    assert r.status_code == 401 and error_of(r) == "not_authenticated"
    assert (await client.post(f"{SINGLE}/confirm", json={})).status_code == 401
    await alice_with_two_step_off(services, client)
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{SESSIONS}/abc/revoke", {}),
        ("POST", f"{SESSIONS}/0/revoke", {}),
        ("POST", f"{SESSIONS}/-5/revoke", {}),
        ("POST", f"{SESSIONS}/{2**64}/revoke", {}),
        ("POST", f"{SESSIONS}/{2**63 - 1}/revoke", {}),
        ("POST", f"{SESSIONS}/1/revoke", {"json": {"x": 1}}),
        ("POST", f"{SESSIONS}/revoke-others", {"json": {"password": 123}}),
        ("POST", f"{SESSIONS}/revoke-others", {"json": {"password": "x" * 5000}}),
        ("POST", f"{SESSIONS}/revoke-others", {"json": ["password"]}),
        ("POST", f"{SESSIONS}/revoke-others", {"json": {"password": PASSWORD, "x": 1}}),
        ("POST", f"{SESSIONS}/revoke-others", {"data": {"password": PASSWORD}}),
        (
            "POST",
            f"{SESSIONS}/revoke-others",
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
        ),
        (
            "POST",
            f"{SESSIONS}/revoke-others",
            {"content": b'{"password": "\xff"}', "headers": {"content-type": "application/json"}},
        ),
        ("GET", EVENTS, {"params": {"limit": 0}}),
        ("GET", EVENTS, {"params": {"limit": 1000}}),
        ("GET", EVENTS, {"params": {"limit": "x"}}),
        ("GET", EVENTS, {"params": {"before": -1}}),
        ("GET", EVENTS, {"params": {"before": 2**64}}),
        ("GET", "/api/v1/me/login-history", {"params": {"before": 2**64}}),
        ("POST", "/api/v1/me/security/single-device", {"json": {"on": 1}}),
        ("POST", "/api/v1/me/security/single-device", {"json": {}}),
        ("POST", "/api/v1/me/security/single-device", {"json": None}),
        ("POST", f"{SINGLE}/confirm", {"json": {"extra": True}}),
        ("POST", f"{SINGLE}/cancel", {"data": {"a": "b"}}),
        ("POST", SESSIONS, {"json": {}}),
    ]
    for method, url, kwargs in cases:
        r = await client.request(method, url, **kwargs)
        assert 400 <= r.status_code < 500, (url, kwargs, r.status_code, r.text)
        assert error_of(r), (url, kwargs)
    # cross-site requests are refused before anything happens
    r = await client.post(
        f"{SESSIONS}/revoke-others",
        json={"password": PASSWORD},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403 and error_of(r) == "csrf_failed"
    assert (await client.get("/api/v1/me")).status_code == 200


# -- pages ----------------------------------------------------------------------------------


async def test_sessions_page_sign_out_everywhere_else_with_csrf(
    services: Services,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    third: httpx.AsyncClient,
) -> None:
    r = await client.get("/account/sessions", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    await logged_in(third)
    client.headers["accept-language"] = "en"
    page = await client.get("/account/sessions")
    assert page.status_code == 200
    assert "Sessions and devices" in page.text and 'id="current-session"' in page.text
    assert "GOOGLE" in page.text and 'id="revoke-others"' in page.text
    assert 'href="/account/sessions"' in (await client.get("/account")).text
    ja = await client.get("/account/sessions", headers={"accept-language": "ja"})
    assert "ほかのすべての端末からログアウト" in ja.text
    token = csrf_of(page.text)
    # a forged token changes nothing
    r = await client.post(
        "/account/sessions/revoke-others",
        data={"csrf_token": "forged" * 5, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert (await browser.get("/api/v1/me")).status_code == 200
    # sign out one session from its button
    third_id = next(
        s["id"] for s in (await client.get(SESSIONS)).json()["items"] if s["ip"] == "203.0.113.99"
    )
    assert f'id="revoke-{third_id}"' in page.text
    r = await client.post(
        f"/account/sessions/{third_id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert (
        r.status_code == 303 and r.headers["location"] == "/account/sessions?done=session_revoked"
    )
    assert (await third.get("/api/v1/me")).status_code == 401
    # a wrong password: the page again, with the error
    r = await client.post(
        "/account/sessions/revoke-others",
        data={"csrf_token": token, "password": WRONG},
        follow_redirects=False,
    )
    assert r.status_code == 401 and 'id="errors"' in r.text
    assert (await browser.get("/api/v1/me")).status_code == 200
    r = await client.post(
        "/account/sessions/revoke-others",
        data={"csrf_token": token, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/sessions?done=others_revoked"
    assert (await browser.get("/api/v1/me")).status_code == 401
    page = await client.get(r.headers["location"])
    assert "You were signed out everywhere else." in page.text and 'id="no-others"' in page.text


async def test_events_page_offers_was_this_you_forms(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    r = await client.get("/account/events", follow_redirects=False)
    assert r.status_code == 303
    await alice_with_two_step_off(services, client)
    await logged_in(browser)
    notice_id = next(
        e["notice_id"]
        for e in (await client.get(EVENTS)).json()["items"]
        if e["type"] == "login_success"
    )
    page = await client.get("/account/events", headers={"accept-language": "en"})
    assert page.status_code == 200 and "Security events" in page.text
    token = csrf_of(page.text)
    for answer in ("not-me", "was-me"):
        form = re.search(
            rf'<form method="post" action="/account/inbox/{notice_id}/{answer}" class="inline">'
            rf'\s*<input type="hidden" name="csrf_token" value="([^"]+)">',
            page.text,
        )
        assert form and form.group(1) == token
    assert "Was this you?" in page.text and "Login" in page.text
    ja = await client.get("/account/events", headers={"accept-language": "ja"})
    assert "いいえ、心当たりがない" in ja.text


async def test_single_device_page_and_forms(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await alice_with_two_step_off(services, client)
    token = csrf_of((await client.get("/account/security")).text)
    r = await client.post(
        "/account/security/single-device",
        data={"csrf_token": token, "on": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/account/security?done=single_device#single-device"
    page = await client.get(r.headers["location"], headers={"accept-language": "en"})
    assert "Setting saved." in page.text and 'id="single-device-on"\n      checked' in page.text
    await logged_in(browser)
    page = await browser.get("/account/single-device", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "your other device (1 sessions) will be signed out" in page.text
    assert 'id="sd-confirm"' in page.text and 'id="sd-cancel"' in page.text
    ja = await browser.get("/account/single-device", headers={"accept-language": "ja"})
    assert "続けますか？" in ja.text
    b_token = csrf_of(page.text)
    r = await browser.post(
        "/account/single-device/confirm", data={"csrf_token": "x" * 30}, follow_redirects=False
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200
    r = await browser.post(
        "/account/single-device/confirm", data={"csrf_token": b_token}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/sessions?done=single_device"
    assert (await client.get("/api/v1/me")).status_code == 401
    # nothing left to confirm: the prompt page sends the owner on
    r = await browser.get("/account/single-device", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    # cancel from a third login signs that one out and keeps the browser
    async with client_for(services, ip="203.0.113.50") as c:
        await logged_in(c)
        c_token = csrf_of((await c.get("/account/single-device")).text)
        r = await c.post(
            "/account/single-device/cancel", data={"csrf_token": c_token}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await c.get("/api/v1/me")).status_code == 401
    assert (await browser.get("/api/v1/me")).status_code == 200
