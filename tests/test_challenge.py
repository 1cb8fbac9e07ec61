"""Risk-based login through the API: when a login is challenged, the second step, and the
no-oracle property (right and wrong password look the same), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mamori.clock import FixedClock
from mamori.flows.defense import ATTACK_STATE
from mamori.flows.services import Services
from mamori.models import Message
from mamori.notify import MemoryNotifier
from mamori.store import tables as t
from tests.conftest import PASSWORD, client_for, signup

UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
WRONG = "not the password at all 123"


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: another address and user agent, no cookies."""
    async with client_for(services, ip="198.51.100.20") as c:
        c.headers["user-agent"] = UA_FIREFOX
        yield c


async def codes_sent(svc: Services, notifier: MemoryNotifier, kind: str) -> list[Message]:
    await svc.background.drain()
    return [m for m in notifier.sent if m.kind == kind]


def code_in(message: Message) -> str:
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found, "no code in the message"
    return found.group(1)


async def login(c: httpx.AsyncClient, login_id: str = "alice", password: str = PASSWORD) -> Any:
    return await c.post("/api/v1/login", json={"login_id": login_id, "password": password})


async def with_history(client: httpx.AsyncClient) -> None:
    """alice signs up (her browser is her first device) and logs in once from it."""
    assert (await signup(client)).status_code == 201
    r = await login(client)
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text


async def test_first_logins_are_not_challenged(client: httpx.AsyncClient) -> None:
    """No history yet: nothing to compare with; the signing-up browser is a known device."""
    await with_history(client)
    r = await login(client)
    assert r.json()["status"] == "ok"


async def test_new_browser_with_no_history_is_not_challenged(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    assert (await signup(client)).status_code == 201
    r = await login(browser)
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_new_device_is_challenged_and_the_email_code_completes_it(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    r = await login(browser)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "challenge"
    assert body["methods"] == ["email"]
    assert body["sent_to"] == "email"
    assert body["expires_in"] == 600
    assert "session" not in str(r.cookies)
    (message,) = await codes_sent(services, notifier, "login_code")
    assert message.to == "alice@example.com"
    assert "パスワード" in message.body  # the account's language: says the password is known
    code = code_in(message)
    r = await browser.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    assert (await browser.get("/api/v1/me")).status_code == 200
    # the decision is on the login event
    async with services.store.begin() as tx:
        events = await tx.events.for_account(1, limit=10)
    success = next(e for e in events if e.type == "login_success")
    assert success.details["method"] == "email"
    assert success.details["risk"]["action"] == "step_up"
    assert "new_device" in success.details["risk"]["why"]
    assert success.details["risk"]["level"] in ("low", "medium", "high")
    challenged = next(e for e in events if e.type == "login_challenged")
    assert challenged.details["sent_to"] == "email"


async def test_code_is_single_use(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    code = code_in((await codes_sent(services, notifier, "login_code"))[0])
    payload = {"challenge_id": body["challenge_id"], "method": "email", "code": code}
    assert (await browser.post("/api/v1/login/challenge", json=payload)).status_code == 200
    again = await browser.post("/api/v1/login/challenge", json=payload)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "challenge_failed"


async def test_code_expires_after_ten_minutes(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    code = code_in((await codes_sent(services, notifier, "login_code"))[0])
    clock.advance(timedelta(minutes=10, seconds=1))
    r = await browser.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "challenge_failed"


async def test_five_wrong_codes_end_the_challenge(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    code = code_in((await codes_sent(services, notifier, "login_code"))[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    payload = {"challenge_id": body["challenge_id"], "method": "email", "code": wrong}
    answers = [await browser.post("/api/v1/login/challenge", json=payload) for _ in range(5)]
    assert [a.json()["error"]["code"] for a in answers] == ["code_invalid"] * 4 + [
        "challenge_failed"
    ]
    right = {**payload, "code": code}
    r = await browser.post("/api/v1/login/challenge", json=right)
    assert r.json()["error"]["code"] == "challenge_failed"


async def test_codes_are_stored_hashed(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    code = code_in((await codes_sent(services, notifier, "login_code"))[0])
    async with services.store.begin() as tx:
        row = (await tx.conn.execute(select(t.challenges))).one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert body["challenge_id"] not in row.token_hash


async def test_resend_is_limited_and_replaces_the_code(
    services: Services,
    notifier: MemoryNotifier,
    clock: FixedClock,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    first = code_in((await codes_sent(services, notifier, "login_code"))[0])
    resend = {"challenge_id": body["challenge_id"], "method": "email"}
    too_soon = await browser.post("/api/v1/login/challenge/resend", json=resend)
    assert too_soon.status_code == 429
    assert too_soon.json()["error"]["code"] == "resend_limited"
    for _ in range(3):
        clock.advance(31)
        r = await browser.post("/api/v1/login/challenge/resend", json=resend)
        assert r.status_code == 200, r.text
    clock.advance(31)
    r = await browser.post("/api/v1/login/challenge/resend", json=resend)
    assert r.status_code == 429
    sent = await codes_sent(services, notifier, "login_code")
    assert len(sent) == 4
    latest = code_in(sent[-1])
    old = {"challenge_id": body["challenge_id"], "method": "email", "code": first}
    if first != latest:
        r = await browser.post("/api/v1/login/challenge", json=old)
        assert r.json()["error"]["code"] == "code_invalid"
    r = await browser.post("/api/v1/login/challenge", json={**old, "code": latest})
    assert r.status_code == 200, r.text


async def test_dont_ask_again_trusts_the_browser(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_mode(1, "every_login")
    # every login is challenged, the first browser too
    r = await login(client)
    assert r.json()["status"] == "challenge"
    body = (await login(browser)).json()
    assert body["status"] == "challenge"
    code = code_in((await codes_sent(services, notifier, "login_code"))[-1])
    r = await browser.post(
        "/api/v1/login/challenge",
        json={
            "challenge_id": body["challenge_id"],
            "method": "email",
            "code": code,
            "remember_device": True,
        },
    )
    assert r.status_code == 200, r.text
    assert (await login(browser)).json()["status"] == "ok"
    assert (await login(client)).json()["status"] == "challenge"
    async with services.store.begin() as tx:
        devices = await tx.devices.for_account(1)
    trusted = [d for d in devices if d.trusted_until is not None]
    assert len(trusted) == 1
    assert trusted[0].trusted_until == services.clock.now() + timedelta(days=90)


async def test_without_dont_ask_again_the_browser_is_asked_again(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    code = code_in((await codes_sent(services, notifier, "login_code"))[-1])
    payload = {"challenge_id": body["challenge_id"], "method": "email", "code": code}
    assert (await browser.post("/api/v1/login/challenge", json=payload)).status_code == 200
    assert (await login(browser)).json()["status"] == "challenge"
    assert (await login(client)).json()["status"] == "ok"


# ---- no credential oracle ----------------------------------------------------------------


def shape(r: httpx.Response) -> tuple[int, list[str], list[str], str | None, int, list[str]]:
    body = r.json()
    cookies = sorted(c.split("=", 1)[0] for c in r.headers.get_list("set-cookie"))
    return (
        r.status_code,
        sorted(body),
        body["methods"],
        body["sent_to"],
        body["expires_in"],
        cookies,
    )


async def test_right_and_wrong_password_get_the_same_challenge(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
) -> None:
    await with_history(client)
    async with (
        client_for(services, ip="198.51.100.30") as right_c,
        client_for(services, ip="198.51.100.31") as wrong_c,
        client_for(services, ip="198.51.100.32") as nobody_c,
    ):
        right = await login(right_c)
        wrong = await login(wrong_c, password=WRONG)
        nobody = await login(nobody_c, login_id="nobody-here", password=WRONG)
        assert shape(right) == shape(wrong) == shape(nobody)
        assert right.json()["status"] == "challenge"
        assert len(right.json()["challenge_id"]) == len(wrong.json()["challenge_id"])
        # only the right password made a code go out
        assert len(await codes_sent(services, notifier, "login_code")) == 1
        # the resend answers are the same (too soon for both)
        for c, r in ((right_c, right), (wrong_c, wrong)):
            a = await c.post(
                "/api/v1/login/challenge/resend",
                json={"challenge_id": r.json()["challenge_id"], "method": "email"},
            )
            assert (a.status_code, a.json()["error"]["code"]) == (429, "resend_limited")
        # every code fails the same way for the wrong password, and it ends the same way
        for c, r in ((wrong_c, wrong), (nobody_c, nobody)):
            answers = []
            for guess in ("000000", "123456", "999999", "111111", "222222"):
                a = await c.post(
                    "/api/v1/login/challenge",
                    json={
                        "challenge_id": r.json()["challenge_id"],
                        "method": "email",
                        "code": guess,
                    },
                )
                answers.append((a.status_code, a.json()["error"]["code"]))
            assert answers == [(400, "code_invalid")] * 4 + [(401, "challenge_failed")]


async def test_lockout_answers_do_not_depend_on_the_password(
    services: Services, client: httpx.AsyncClient
) -> None:
    """Challenged logins count as failures until completed, so the lock arrives after the same
    number of attempts whether some passwords were right or not."""
    await with_history(client)
    async with client_for(services, ip="198.51.100.40") as c:
        answers = [
            (await login(c, password=PASSWORD if i % 2 else WRONG)).status_code for i in range(6)
        ]
    assert answers == [200] * 5 + [429]


async def test_unknown_method_and_bad_input_are_4xx(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await with_history(client)
    body = (await login(browser)).json()
    cases: list[dict[str, Any]] = [
        {"challenge_id": body["challenge_id"], "method": "carrier-pigeon", "code": "1"},
        {"challenge_id": body["challenge_id"], "method": "sms", "code": "123456"},
        {"challenge_id": "", "method": "email", "code": "123456"},
        {"challenge_id": body["challenge_id"], "method": "email", "code": 123456},
        {"challenge_id": body["challenge_id"], "method": "email"},
        {"challenge_id": "x" * 500, "method": "email", "code": "1"},
    ]
    for case in cases:
        r = await browser.post("/api/v1/login/challenge", json=case)
        assert 400 <= r.status_code < 500, (case, r.status_code)
        assert "error" in r.json() and "code" in r.json()["error"]
    r = await browser.post(
        "/api/v1/login/challenge", json={"challenge_id": "nope", "method": "email", "code": "1"}
    )
    assert r.json()["error"]["code"] == "challenge_failed"


async def test_mode_off_is_never_challenged(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await with_history(client)
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_mode(1, "off")
    assert (await login(browser)).json()["status"] == "ok"


async def test_operator_flag_requires_the_second_step_once(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
) -> None:
    await with_history(client)
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_forced(1, True)
    body = (await login(client)).json()
    assert body["status"] == "challenge"
    code = code_in((await codes_sent(services, notifier, "login_code"))[-1])
    r = await client.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
    )
    assert r.status_code == 200
    assert (await login(client)).json()["status"] == "ok"


async def test_restricted_account_is_revealed_only_after_the_second_step(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    async with services.store.begin() as tx:
        await tx.accounts.set_restriction(1, restricted_at=services.clock.now(), reason="fraud")
    body = (await login(browser)).json()
    assert body["status"] == "challenge"
    code = code_in((await codes_sent(services, notifier, "login_code"))[-1])
    r = await browser.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "restricted"


async def test_verified_phone_gets_the_code_by_sms(
    services: Services,
    notifier: MemoryNotifier,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    await with_history(client)
    async with services.store.begin() as tx:
        await tx.accounts.set_phone(1, phone="+819012345678", verified_at=services.clock.now())
    body = (await login(browser)).json()
    assert body["methods"] == ["sms", "email"]
    assert body["sent_to"] == "sms"
    (sms,) = await codes_sent(services, notifier, "login_code_sms")
    assert sms.channel == "sms" and sms.to == "+819012345678"
    r = await browser.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "sms", "code": code_in(sms)},
    )
    assert r.status_code == 200, r.text


async def test_under_attack_challenges_accounts_without_history(
    services: Services, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    assert (await signup(client)).status_code == 201
    now = services.clock.now().timestamp()
    await services.defender.counters.raise_until(ATTACK_STATE, until=now + 900, now=now)
    r = await login(browser)
    assert r.json()["status"] == "challenge"
    # the signing-up browser (a known device) is spared
    assert (await login(client)).json()["status"] == "ok"
