"""Changing the account's email address (flows/email_change.py, web/email_pages.py): the
password again, a code to the new address, notices to both addresses; SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from mamori.clock import FixedClock
from mamori.flows.email_change import NEW_ADDRESS_KIND, mask_email
from mamori.flows.services import Services
from mamori.models import Message
from mamori.notify import MemoryNotifier
from tests.conftest import PASSWORD, client_for, signup

EMAIL = "/api/v1/me/email"
CONFIRM = "/api/v1/me/email/confirm"
OLD = "alice@example.com"
NEW = "alice.new@example.org"
WRONG = "not the password at all 123"
URL = re.compile(r"https?://\S+")


async def signed_up(client: httpx.AsyncClient, login_id: str = "alice") -> None:
    r = await signup(client, login_id)
    assert r.status_code == 201, r.text


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def sent(services: Services, notifier: MemoryNotifier, kind: str, to: str) -> list[Message]:
    await services.background.drain()
    return [m for m in notifier.sent if m.kind == kind and m.to == to]


async def code_sent(services: Services, notifier: MemoryNotifier, to: str = NEW) -> str:
    messages = await sent(services, notifier, "change_email_code", to)
    assert messages, [(m.kind, m.to) for m in notifier.sent]
    match = re.search(r"\b(\d{6})\b", messages[-1].body)
    assert match, messages[-1].body
    return match.group(1)


async def start(client: httpx.AsyncClient, new_email: str = NEW) -> httpx.Response:
    return await client.post(EMAIL, json={"new_email": new_email, "password": PASSWORD})


async def test_wrong_password_is_refused(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    r = await client.post(EMAIL, json={"new_email": NEW, "password": WRONG})
    assert r.status_code == 401 and error_of(r) == "invalid_credentials"
    assert await sent(services, notifier, "change_email_code", NEW) == []
    me = (await client.get("/api/v1/me")).json()["account"]
    assert me["email"] == OLD


async def test_an_address_another_account_has_is_refused(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    async with client_for(services) as bob:
        await signed_up(bob, "bob")
    for taken in ("bob@example.com", "Bob@EXAMPLE.com"):
        r = await start(client, taken)
        assert r.status_code == 422 and error_of(r) == "email_taken", r.text
    assert [m for m in notifier.sent if m.kind == "change_email_code"] == []


async def test_right_code_changes_the_address_and_both_addresses_are_told(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    r = await start(client, "  Alice.New@EXAMPLE.org ")
    assert r.status_code == 202 and r.json() == {"status": "code_sent"}, r.text
    code = await code_sent(services, notifier, "Alice.New@example.org")  # domain case-folded
    assert await sent(services, notifier, "change_email_code", OLD) == []
    # nothing changes before the code comes back
    assert (await client.get("/api/v1/me")).json()["account"]["email"] == OLD

    r = await client.post(CONFIRM, json={"code": code})
    assert r.status_code == 200 and r.json() == {"status": "ok", "email": "Alice.New@example.org"}
    me = (await client.get("/api/v1/me")).json()["account"]
    assert me["email"] == "Alice.New@example.org" and me["email_verified"] is True
    # the code is single-use
    r = await client.post(CONFIRM, json={"code": code})
    assert r.status_code == 400 and error_of(r) == "code_invalid"

    # the OLD address got the notice: no code, no link but the verify-notice page
    (old_notice,) = await sent(services, notifier, "email_changed", OLD)
    assert code not in old_notice.body and code not in old_notice.subject
    links = URL.findall(old_notice.body)
    assert links and all(link.endswith("/verify-notice") for link in links), links
    # the new address got its own notice (a different kind: one per kind and hour)
    (new_notice,) = await sent(services, notifier, NEW_ADDRESS_KIND, "Alice.New@example.org")
    assert code not in new_notice.body
    assert all(link.endswith("/verify-notice") for link in URL.findall(new_notice.body))
    # both are in the inbox, with the masked addresses; the event records them masked
    inbox = (await client.get("/api/v1/me/notices", params={"limit": 20})).json()["items"]
    assert {"email_changed", NEW_ADDRESS_KIND} <= {item["kind"] for item in inbox}
    async with services.store.begin() as tx:
        account = await tx.accounts.by_login_key("alice")
        assert account is not None
        events = await tx.events.for_account(account.id, types=["email_changed"], limit=5)
    (event,) = events
    assert event.result == "ok"
    assert event.details == {"old_email": "a***@example.com", "new_email": "A***@example.org"}

    # login still works (the login ID and password did not change)
    await client.post("/api/v1/logout", json={})
    r = await client.post("/api/v1/login", json={"login_id": "alice", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text


async def test_five_wrong_codes_end_the_change(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    assert (await start(client)).status_code == 202
    code = await code_sent(services, notifier)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        r = await client.post(CONFIRM, json={"code": wrong})
        assert r.status_code == 400 and error_of(r) == "code_invalid"
    r = await client.post(CONFIRM, json={"code": code})  # the right one, too late
    assert r.status_code == 400 and error_of(r) == "code_invalid"
    assert (await client.get("/api/v1/me")).json()["account"]["email"] == OLD
    assert await sent(services, notifier, "email_changed", OLD) == []


async def test_the_code_expires(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signed_up(client)
    assert (await start(client)).status_code == 202
    code = await code_sent(services, notifier)
    for _ in range(2):  # the session stays active (idle limit 30 min), the code does not
        clock.advance(16 * 60)
        assert (await client.get("/api/v1/me")).status_code == 200
    r = await client.post(CONFIRM, json={"code": code})
    assert r.status_code == 400 and error_of(r) == "code_invalid"


async def test_resends_are_limited_and_replace_the_code(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signed_up(client)
    assert (await start(client)).status_code == 202
    first = await code_sent(services, notifier)
    r = await start(client)  # at once: too soon
    assert r.status_code == 429 and error_of(r) == "resend_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 31
    for _ in range(4):  # 30 s apart: up to 5 an hour
        clock.advance(31)
        assert (await start(client)).status_code == 202
    clock.advance(31)
    r = await start(client)
    assert r.status_code == 429 and error_of(r) == "resend_limited"
    assert int(r.headers["retry-after"]) > 60
    assert len(await sent(services, notifier, "change_email_code", NEW)) == 5
    last = await code_sent(services, notifier)
    if first != last:  # the earlier code was replaced
        r = await client.post(CONFIRM, json={"code": first})
        assert r.status_code == 400
    r = await client.post(CONFIRM, json={"code": last})
    assert r.status_code == 200, r.text


async def test_an_address_taken_meanwhile_is_refused_at_confirm(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    assert (await start(client, "carol@example.com")).status_code == 202
    code = await code_sent(services, notifier, "carol@example.com")
    async with client_for(services) as carol:
        await signed_up(carol, "carol")
    r = await client.post(CONFIRM, json={"code": code})
    assert r.status_code == 422 and error_of(r) == "email_taken", r.text
    assert (await client.get("/api/v1/me")).json()["account"]["email"] == OLD
    assert await sent(services, notifier, "email_changed", OLD) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"new_email": NEW}, 422, None),
        ({"new_email": NEW, "password": PASSWORD, "extra": 1}, 422, None),
        ({"new_email": 5, "password": PASSWORD}, 422, None),
        ({"new_email": "not an address", "password": PASSWORD}, 422, "invalid_email"),
        ({"new_email": "x" * 400 + "@example.com", "password": PASSWORD}, 422, None),
        ({"new_email": OLD, "password": PASSWORD}, 422, "email_unchanged"),
        ({"new_email": NEW, "password": ""}, 422, "password_required"),
    ],
)
async def test_bad_input_gets_the_json_error_shape(
    client: httpx.AsyncClient, body: dict[str, object], status: int, code: str | None
) -> None:
    await signed_up(client)
    r = await client.post(EMAIL, json=body)
    assert r.status_code == status, r.text
    got = error_of(r)
    assert code is None or got == code


async def test_bad_requests_to_confirm_and_without_a_session(
    services: Services, client: httpx.AsyncClient
) -> None:
    await signed_up(client)
    r = await client.post(CONFIRM, json={"code": "123456"})  # nothing pending
    assert r.status_code == 400 and error_of(r) == "code_invalid"
    r = await client.post(CONFIRM, json={"code": 123456})
    assert r.status_code == 422
    error_of(r)
    r = await client.post(CONFIRM, content=b"code=123456", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and error_of(r) == "unsupported_media_type"
    r = await client.post(
        EMAIL,
        json={"new_email": NEW, "password": PASSWORD},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403
    error_of(r)
    async with client_for(services) as stranger:
        r = await stranger.post(EMAIL, json={"new_email": NEW, "password": PASSWORD})
        assert r.status_code == 401 and error_of(r) == "not_authenticated"


async def test_the_page_changes_the_address_with_csrf(
    services: Services, client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signed_up(client)
    account = await client.get("/account")
    assert 'href="/account/email"' in account.text
    page = await client.get("/account/email")
    assert page.status_code == 200 and 'id="email-change-form"' in page.text
    token = csrf_of(page.text)
    # a forged token is refused, and nothing is sent
    r = await client.post(
        "/account/email", data={"csrf_token": "forged" * 5, "new_email": NEW, "password": PASSWORD}
    )
    assert r.status_code == 403
    assert await sent(services, notifier, "change_email_code", NEW) == []
    # a wrong password: the form again, with the error
    r = await client.post(
        "/account/email", data={"csrf_token": token, "new_email": NEW, "password": WRONG}
    )
    assert r.status_code == 401 and 'id="errors"' in r.text and 'value="' + NEW in r.text
    r = await client.post(
        "/account/email", data={"csrf_token": token, "new_email": NEW, "password": PASSWORD}
    )
    assert r.status_code == 200 and 'id="email-confirm-form"' in r.text and NEW in r.text
    code = await code_sent(services, notifier)
    # the page remembers the pending change
    again = await client.get("/account/email")
    assert 'id="email-confirm-form"' in again.text
    assert 'id="email-change-form"' in (await client.get("/account/email?restart=1")).text
    r = await client.post("/account/email/confirm", data={"csrf_token": "forged" * 5, "code": code})
    assert r.status_code == 403
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = await client.post("/account/email/confirm", data={"csrf_token": token, "code": wrong})
    assert r.status_code == 400 and 'id="errors"' in r.text
    r = await client.post(
        "/account/email/confirm", data={"csrf_token": token, "code": code}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/account?email_changed=1"
    home = await client.get(r.headers["location"])
    assert NEW in home.text and 'id="email-changed"' in home.text
    assert await sent(services, notifier, "email_changed", OLD)


async def test_the_page_asks_for_a_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/account/email", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/email"


def test_mask_email() -> None:
    assert mask_email("alice@example.com") == "a***@example.com"
    assert mask_email("x@example.com") == "x***@example.com"
    assert mask_email("nonsense") == "***"
