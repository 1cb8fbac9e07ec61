"""Second factors (TOTP, recovery codes, verified phone) and the security settings, through the
flows, the JSON API and the page, on SQLite and PostgreSQL.

Authenticated clients come from signing up through the API (sign-up returns a session), never
from logging in (a login from a new device may answer with a challenge)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mamori.clock import FixedClock
from mamori.flows import factors
from mamori.flows.services import Services
from mamori.models import Account, ClientContext, EventType
from mamori.notify import MemoryNotifier
from mamori.otp import totp_at
from mamori.secretbox import SecretBox, SecretBoxError, derive_key
from mamori.store import tables as t
from tests.conftest import PASSWORD, signup

API = "/api/v1/me/security"
CLIENT = ClientContext(ip="203.0.113.9", user_agent="test", browser="Firefox", os="Linux")


async def account_of(svc: Services, login_id: str = "alice") -> Account:
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key(login_id)
    assert account is not None
    return account


async def events_of(svc: Services, account_id: int, *types: str) -> list[Any]:
    async with svc.store.begin() as tx:
        return await tx.events.for_account(account_id, types=list(types), limit=100)


async def enroll_totp(client: httpx.AsyncClient, clock: FixedClock) -> str:
    r = await client.post(f"{API}/totp", json={})
    assert r.status_code == 200, r.text
    secret = str(r.json()["secret"])
    r = await client.post(
        f"{API}/totp/confirm", json={"code": totp_at(secret=secret, at=clock.now())}
    )
    assert r.status_code == 200, r.text
    clock.advance(30)  # the confirming code's step is used up; the next code is a new one
    return secret


def other(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- secret box -----------------------------------------------------------------------------


def test_secretbox_round_trip_and_refusals() -> None:
    box = SecretBox("k" * 40, purpose="totp")
    a = box.seal("JBSWY3DPEHPK3PXP", context="totp:1")
    b = box.seal("JBSWY3DPEHPK3PXP", context="totp:1")
    assert a.startswith("v1.")
    assert a != b  # a fresh nonce every time
    assert "JBSWY3DPEHPK3PXP" not in a
    assert box.open(a, context="totp:1") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretBoxError):
        box.open(a, context="totp:2")  # bound to its account
    with pytest.raises(SecretBoxError):
        SecretBox("k" * 40, purpose="other").open(a, context="totp:1")
    with pytest.raises(SecretBoxError):
        SecretBox("j" * 40, purpose="totp").open(a, context="totp:1")
    flipped = a[:-2] + ("A" if a[-2] != "A" else "B") + a[-1]
    for bad in (flipped, "v2." + a[3:], "v1.", "v1.!!!", "nonsense", "v1." + "A" * 5000):
        with pytest.raises(SecretBoxError):
            box.open(bad, context="totp:1")
    assert derive_key("s", purpose="a") != derive_key("s", purpose="b")
    assert "k" * 40 not in repr(box)


# -- authenticator app ----------------------------------------------------------------------


async def test_totp_enrollment_confirm_and_secret_at_rest(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    assert (await signup(client)).status_code == 201
    r = await client.post(f"{API}/totp", json={})
    assert r.status_code == 200
    body = r.json()
    secret = body["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert body["uri"].startswith("otpauth://totp/Mamori:alice?")
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]
    assert (await client.get(API)).json()["totp"] == {"enrolled": False, "pending": True}
    # the key is stored sealed, never in clear
    async with services.store.begin() as tx:
        row = (await tx.conn.execute(select(t.totp_factors))).one()
    assert secret not in row.secret_enc and row.secret_enc.startswith("v1.")
    assert row.confirmed_at is None
    # a wrong first code is refused, the right one confirms
    code = totp_at(secret=secret, at=clock.now())
    r = await client.post(f"{API}/totp/confirm", json={"code": other(code)})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "code_invalid"
    assert (await client.get(API)).json()["totp"]["enrolled"] is False
    r = await client.post(f"{API}/totp/confirm", json={"code": code})
    assert r.status_code == 200, r.text
    overview = (await client.get(API)).json()
    assert overview["totp"] == {"enrolled": True, "pending": False}
    assert overview["methods"] == ["totp", "email"]
    assert overview["reauth"] == "totp"
    # starting again while enrolled is a conflict, not a silent replacement
    r = await client.post(f"{API}/totp", json={})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "totp_already_enrolled"
    account = await account_of(services)
    results = [e.result for e in await events_of(services, account.id, EventType.TOTP_ENROLLED)]
    assert results == ["ok", "fail"]
    # the code that confirmed enrollment cannot also pass a login
    async with services.store.begin() as tx:
        ok, notice = await factors.check_totp(
            services, tx, account=account, code=code, client=CLIENT
        )
    assert not ok and notice is not None


async def test_totp_replay_refused_logged_and_owner_notified(
    client: httpx.AsyncClient, services: Services, clock: FixedClock, notifier: MemoryNotifier
) -> None:
    await signup(client)
    secret = await enroll_totp(client, clock)
    account = await account_of(services)
    code = totp_at(secret=secret, at=clock.now())
    async with services.store.begin() as tx:
        assert await factors.check_totp(
            services, tx, account=account, code=code, client=CLIENT
        ) == (True, None)
    async with services.store.begin() as tx:
        wrong = await factors.check_totp(
            services, tx, account=account, code=other(code), client=CLIENT
        )
        replay = await factors.check_totp(services, tx, account=account, code=code, client=CLIENT)
    assert wrong == (False, None)
    ok, notice = replay
    assert not ok and notice is not None
    assert notice.kind == "totp_replay" and notice.to == "alice@example.com"
    assert "Firefox" in notice.body and code not in notice.body
    replays = await events_of(services, account.id, EventType.TOTP_REPLAY)
    assert len(replays) == 1 and replays[0].ip == "203.0.113.9"
    # the same code a step later (still inside the ±1 window) is still a replay; a new code works
    clock.advance(30)
    async with services.store.begin() as tx:
        assert not (
            await factors.check_totp(services, tx, account=account, code=code, client=CLIENT)
        )[0]
        fresh = totp_at(secret=secret, at=clock.now())
        assert (await factors.check_totp(services, tx, account=account, code=fresh, client=CLIENT))[
            0
        ]
    # through the API: a replayed code re-authenticating a change is refused, and the owner told
    await client.post(f"{API}/mode", json={"mode": "every_login"})
    await services.background.drain()  # notices are delivered after the response
    before = len(notifier.sent)
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD, "code": fresh})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "code_invalid"
    await services.background.drain()
    assert [m.kind for m in notifier.sent[before:]] == ["totp_replay"]
    assert (await client.get(API)).json()["mode"] == "every_login"


async def test_one_code_used_concurrently_is_accepted_once(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    await signup(client)
    secret = await enroll_totp(client, clock)
    account = await account_of(services)
    code = totp_at(secret=secret, at=clock.now())

    async def use() -> bool:
        async with services.store.begin() as tx:
            ok, _ = await factors.check_totp(
                services, tx, account=account, code=code, client=CLIENT
            )
            await asyncio.sleep(0.01)  # hold the transaction open a moment
            return ok

    results = await asyncio.gather(*(use() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_remove_totp_needs_password_and_a_current_factor(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    await signup(client)
    secret = await enroll_totp(client, clock)
    code = totp_at(secret=secret, at=clock.now())
    r = await client.post(f"{API}/totp/remove", json={"code": code})
    assert r.status_code == 422 and r.json()["error"]["code"] == "password_required"
    r = await client.post(f"{API}/totp/remove", json={"password": "wrong" * 4, "code": code})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await client.post(f"{API}/totp/remove", json={"password": PASSWORD})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_invalid"
    r = await client.post(f"{API}/totp/remove", json={"password": PASSWORD, "code": other(code)})
    assert r.status_code == 400
    assert (await client.get(API)).json()["totp"]["enrolled"] is True
    r = await client.post(f"{API}/totp/remove", json={"password": PASSWORD, "code": code})
    assert r.status_code == 200, r.text
    assert (await client.get(API)).json()["totp"] == {"enrolled": False, "pending": False}
    account = await account_of(services)
    removed = await events_of(services, account.id, EventType.TOTP_REMOVED)
    assert [(e.result, e.reason) for e in removed] == [
        ("ok", ""),
        ("fail", "wrong_code"),
        ("fail", "wrong_code"),
        ("fail", "wrong_password"),
    ]
    assert (await client.post(f"{API}/totp/remove", json={"password": PASSWORD})).status_code == 404


# -- recovery codes -------------------------------------------------------------------------


async def test_recovery_codes_single_use_hashed_and_regeneration_invalidates(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client)
    r = await client.post(f"{API}/recovery-codes", json={"password": "wrong" * 4})
    assert r.status_code == 401
    r = await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    codes = r.json()["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    overview = (await client.get(API)).json()
    assert overview["recovery_codes"] == {"remaining": 10}
    assert overview["methods"] == ["email", "recovery"]
    async with services.store.begin() as tx:
        stored = [r.code_hash for r in await tx.conn.execute(select(t.recovery_codes))]
    assert len(stored) == 10
    for code in codes:
        plain = code.replace("-", "")
        assert all(code not in h and plain not in h for h in stored)
    account = await account_of(services)
    async with services.store.begin() as tx:
        assert await factors.use_recovery_code(
            services, tx, account=account, code=codes[0].upper(), client=CLIENT
        )
        assert not await factors.use_recovery_code(
            services, tx, account=account, code=codes[0], client=CLIENT
        )
        assert not await factors.use_recovery_code(
            services, tx, account=account, code="abcde-fghjk", client=CLIENT
        )
    used = await events_of(services, account.id, EventType.RECOVERY_CODE_USED)
    assert len(used) == 1 and used[0].details == {"remaining": 9}
    assert (await client.get(API)).json()["recovery_codes"] == {"remaining": 9}
    # a new set: every old code stops working
    r = await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})
    fresh = r.json()["codes"]
    assert not set(fresh) & set(codes)
    async with services.store.begin() as tx:
        assert not await factors.use_recovery_code(
            services, tx, account=account, code=codes[1], client=CLIENT
        )
        assert await factors.use_recovery_code(
            services, tx, account=account, code=fresh[1], client=CLIENT
        )
    generated = await events_of(services, account.id, EventType.RECOVERY_CODES_GENERATED)
    assert [e.result for e in generated] == ["ok", "ok", "fail"]


async def test_recovery_code_used_concurrently_is_accepted_once(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client)
    codes = (await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})).json()[
        "codes"
    ]
    account = await account_of(services)

    async def use() -> bool:
        async with services.store.begin() as tx:
            ok = await factors.use_recovery_code(
                services, tx, account=account, code=codes[3], client=CLIENT
            )
            await asyncio.sleep(0.01)
            return ok

    assert sorted(await asyncio.gather(use(), use(), use())) == [False, False, True]


# -- phone ----------------------------------------------------------------------------------


def sms_code(notifier: MemoryNotifier) -> str:
    message = notifier.sent[-1]
    assert message.channel == "sms" and message.kind == "phone_code_sms"
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match
    return match.group(1)


async def test_phone_verified_by_sms_code(
    client: httpx.AsyncClient, services: Services, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signup(client)
    r = await client.post(f"{API}/phone", json={"phone": "090-1234-5678"})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "code_sent", "phone": "+819012345678"}
    assert notifier.sent[-1].to == "+819012345678"
    code = sms_code(notifier)
    async with services.store.begin() as tx:
        row = (
            await tx.conn.execute(select(t.codes).where(t.codes.c.purpose == "verify_phone"))
        ).one()
    assert code not in row.code_hash and row.target == "+819012345678"
    # a second send right away is refused (SMS costs money and annoys)
    r = await client.post(f"{API}/phone", json={"phone": "090-1234-5678"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "resend_limited"
    assert "retry-after" in r.headers
    overview = (await client.get(API)).json()
    assert overview["phone"] == {"number": None, "verified": False, "pending": "+819012345678"}
    r = await client.post(f"{API}/phone/confirm", json={"code": other(code)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_invalid"
    r = await client.post(f"{API}/phone/confirm", json={"code": code})
    assert r.status_code == 200, r.text
    overview = (await client.get(API)).json()
    assert overview["phone"]["number"] == "+819012345678"
    assert overview["phone"]["verified"] is True
    assert overview["methods"] == ["sms", "email"]
    # the code is single use, and a verified number must be removed before another is added
    assert (await client.post(f"{API}/phone/confirm", json={"code": code})).status_code == 400
    clock.advance(60)
    r = await client.post(f"{API}/phone", json={"phone": "+14155550123"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "phone_already_verified"
    account = await account_of(services)
    verified = await events_of(services, account.id, EventType.PHONE_VERIFIED)
    assert [e.result for e in verified] == ["fail", "ok", "fail"]
    sent = await events_of(services, account.id, EventType.PHONE_CODE_SENT)
    assert len(sent) == 1 and "5678" in sent[0].details["phone"]
    assert "1234" not in sent[0].details["phone"]
    # removing a verified phone: password (no other factor enrolled, so the password alone)
    r = await client.post(f"{API}/phone/remove", json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "password_required"
    r = await client.post(f"{API}/phone/remove", json={"password": PASSWORD})
    assert r.status_code == 200
    assert (await client.get(API)).json()["phone"]["verified"] is False
    assert len(await events_of(services, account.id, EventType.PHONE_REMOVED)) == 1


async def test_phone_code_expires_and_attempts_are_limited(
    client: httpx.AsyncClient, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signup(client)
    await client.post(f"{API}/phone", json={"phone": "+14155550123"})
    code = sms_code(notifier)
    clock.advance(timedelta(minutes=11))
    assert (await client.post(f"{API}/phone/confirm", json={"code": code})).status_code == 400
    await client.post(f"{API}/phone", json={"phone": "+14155550123"})
    code = sms_code(notifier)
    for _ in range(5):
        r = await client.post(f"{API}/phone/confirm", json={"code": other(code)})
        assert r.status_code == 400
    assert (await client.post(f"{API}/phone/confirm", json={"code": code})).status_code == 400
    r = await client.post(f"{API}/phone", json={"phone": "12345"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_phone"


# -- two-step mode --------------------------------------------------------------------------


async def test_lowering_the_mode_needs_password_and_factor(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    await signup(client)
    assert (await client.get(API)).json()["mode"] == "new_devices"
    # raising needs nothing more
    r = await client.post(f"{API}/mode", json={"mode": "every_login"})
    assert r.status_code == 200 and r.json()["mode"] == "every_login"
    # lowering without any factor enrolled: the password alone
    r = await client.post(f"{API}/mode", json={"mode": "new_devices"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "password_required"
    r = await client.post(f"{API}/mode", json={"mode": "new_devices", "password": "nope" * 4})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await client.post(f"{API}/mode", json={"mode": "new_devices", "password": PASSWORD})
    assert r.status_code == 200
    # with an authenticator: password + its code (a recovery code also works)
    secret = await enroll_totp(client, clock)
    codes = (await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})).json()[
        "codes"
    ]
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_invalid"
    code = totp_at(secret=secret, at=clock.now())
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD, "code": code})
    assert r.status_code == 200
    await client.post(f"{API}/mode", json={"mode": "every_login"})
    r = await client.post(
        f"{API}/mode", json={"mode": "off", "password": PASSWORD, "code": codes[0]}
    )
    assert r.status_code == 200
    assert (await client.get(API)).json()["recovery_codes"]["remaining"] == 9
    r = await client.post(f"{API}/mode", json={"mode": "paranoid"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_mode"
    account = await account_of(services)
    changes = await events_of(services, account.id, EventType.TWO_STEP_MODE_CHANGED)
    ok = [(e.details["from"], e.details["to"]) for e in changes if e.result == "ok"]
    assert ok[::-1] == [
        ("new_devices", "every_login"),
        ("every_login", "new_devices"),
        ("new_devices", "off"),
        ("off", "every_login"),
        ("every_login", "off"),
    ]


async def test_recovery_code_is_the_factor_without_an_authenticator(
    client: httpx.AsyncClient,
) -> None:
    await signup(client)
    await client.post(f"{API}/mode", json={"mode": "every_login"})
    codes = (await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})).json()[
        "codes"
    ]
    assert (await client.get(API)).json()["reauth"] == "recovery"
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD})
    assert r.status_code == 400
    r = await client.post(
        f"{API}/mode", json={"mode": "off", "password": PASSWORD, "code": "123456"}
    )
    assert r.status_code == 400
    r = await client.post(
        f"{API}/mode", json={"mode": "off", "password": PASSWORD, "code": codes[5]}
    )
    assert r.status_code == 200


async def test_reauthentication_attempts_are_limited(client: httpx.AsyncClient) -> None:
    await signup(client)
    await client.post(f"{API}/mode", json={"mode": "every_login"})
    statuses = [
        (
            await client.post(f"{API}/mode", json={"mode": "off", "password": f"wrong-{i}" * 3})
        ).status_code
        for i in range(factors.REAUTH_LIMIT + 1)
    ]
    assert statuses[:-1] == [401] * factors.REAUTH_LIMIT
    assert statuses[-1] == 429
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD})
    assert r.status_code == 429  # even the right password waits now


# -- devices --------------------------------------------------------------------------------


async def test_devices_listed_untrusted_and_forgotten(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client)
    devices = (await client.get(API)).json()["devices"]
    assert len(devices) == 1
    device = devices[0]
    assert device["current"] is True and device["trusted"] is False
    assert device["browser"].startswith("Chrome") and device["country"] == "JP"
    account = await account_of(services)
    async with services.store.begin() as tx:
        until = await factors.trust_device(
            services, tx, account=account, device_id=device["id"], client=CLIENT
        )
        assert (
            await factors.trust_device(services, tx, account=account, device_id=9999, client=CLIENT)
            is None
        )
    assert until is not None
    device = (await client.get(API)).json()["devices"][0]
    assert device["trusted"] is True and device["trusted_until"] == until.isoformat()
    r = await client.post(f"{API}/devices/{device['id']}/untrust", json={})
    assert r.status_code == 200
    assert (await client.get(API)).json()["devices"][0]["trusted"] is False
    r = await client.post(f"{API}/devices/{device['id']}/forget")
    assert r.status_code == 415  # the API's CSRF guard: JSON only
    r = await client.post(f"{API}/devices/{device['id']}/forget", json={})
    assert r.status_code == 200
    assert (await client.get(API)).json()["devices"] == []
    r = await client.post(f"{API}/devices/{device['id']}/forget", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    trusted = await events_of(services, account.id, EventType.DEVICE_TRUSTED)
    assert [e.result for e in trusted] == ["revoked", "ok"]
    assert len(await events_of(services, account.id, EventType.DEVICE_FORGOTTEN)) == 1


async def test_another_accounts_device_is_not_found(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client, "bob")
    bob_device = (await client.get(API)).json()["devices"][0]["id"]
    client.cookies.clear()
    await signup(client, "carol")
    for action in ("forget", "untrust"):
        r = await client.post(f"{API}/devices/{bob_device}/{action}", json={})
        assert r.status_code == 404
    bob = await account_of(services, "bob")
    async with services.store.begin() as tx:
        assert len(await tx.devices.for_account(bob.id)) == 1


# -- login methods --------------------------------------------------------------------------


async def test_login_methods_in_order(
    client: httpx.AsyncClient, services: Services, notifier: MemoryNotifier, clock: FixedClock
) -> None:
    await signup(client)
    async with services.store.begin() as tx:
        assert await factors.login_methods(tx, await account_of(services)) == ["email"]
    await enroll_totp(client, clock)
    await client.post(f"{API}/phone", json={"phone": "+14155550123"})
    await client.post(f"{API}/phone/confirm", json={"code": sms_code(notifier)})
    await client.post(f"{API}/recovery-codes", json={"password": PASSWORD})
    account = await account_of(services)
    async with services.store.begin() as tx:
        methods = await factors.login_methods(tx, account)
    assert methods == ["totp", "sms", "email", "recovery"]


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/mode", {"mode": 3}),
        ("/mode", {"mode": "off", "extra": 1}),
        ("/mode", {}),
        ("/totp/confirm", {"code": None}),
        ("/totp/confirm", {"code": "1" * 65}),
        ("/totp", {"unexpected": True}),
        ("/totp/remove", {"password": ["x"]}),
        ("/recovery-codes", {}),
        ("/phone", {"phone": "x" * 65}),
        ("/phone", {"phone": "\u0000\ud7ff"}),
        ("/phone/confirm", {"code": 123456}),
        ("/devices/abc/forget", {}),
        ("/devices/0/forget", {}),
        ("/devices/99999999999999999999/untrust", {}),
    ],
)
async def test_bad_input_gets_a_4xx_json_error(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    await signup(client)
    r = await client.post(API + path, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] and error["message"]


async def test_malformed_requests_and_no_session(client: httpx.AsyncClient) -> None:
    r = await client.get(API)
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    await signup(client)
    r = await client.post(
        f"{API}/mode", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = await client.post(f"{API}/mode", data={"mode": "off"})
    assert r.status_code == 415
    r = await client.post(
        f"{API}/mode", json={"mode": "every_login"}, headers={"sec-fetch-site": "cross-site"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert (await client.post(f"{API}/totp/confirm", json={"code": "123456"})).status_code == 404
    assert (await client.post(f"{API}/phone/remove", json={})).status_code == 404


async def test_off_refused_for_a_flagged_account(
    client: httpx.AsyncClient, services: Services
) -> None:
    await signup(client)
    account = await account_of(services)
    async with services.store.begin() as tx:
        await tx.accounts.set_two_step_forced(account.id, True)
    r = await client.post(f"{API}/mode", json={"mode": "off", "password": PASSWORD})
    assert r.status_code == 422 and r.json()["error"]["code"] == "two_step_required"
    assert (await client.get(API)).json()["forced"] is True


# -- the page -------------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_security_page_with_forms_and_csrf(
    client: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    r = await client.get("/account/security", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    await signup(client)
    page = await client.get("/account/security", headers={"accept-language": "ja"})
    assert page.status_code == 200
    assert "セキュリティ設定" in page.text and 'id="totp-start"' in page.text
    en = await client.get("/account/security", headers={"accept-language": "en"})
    assert "Security settings" in en.text and "Two-step verification" in en.text
    assert 'href="/account/security"' in (await client.get("/account")).text
    token = csrf_of(page.text)
    client.headers["accept-language"] = "en"
    # no token, no change
    r = await client.post(
        "/account/security/totp", data={"csrf_token": "forged" * 5}, follow_redirects=False
    )
    assert r.status_code == 403
    r = await client.post(
        "/account/security/totp", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await client.get("/account/security", headers={"accept-language": "en"})
    assert '<div class="qr" id="totp-qr"><svg' in page.text
    key = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', page.text)
    assert key
    secret = key.group(1).replace(" ", "")
    # the inline SVG needs no change to the Content-Security-Policy
    assert "style=" not in page.text.split('id="totp-qr">')[1].split("</svg>")[0]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    r = await client.post(
        "/account/security/totp/confirm",
        data={"csrf_token": token, "code": other(totp_at(secret=secret, at=clock.now()))},
        follow_redirects=False,
    )
    assert r.status_code == 400 and "The code is wrong" in r.text
    r = await client.post(
        "/account/security/totp/confirm",
        data={"csrf_token": token, "code": totp_at(secret=secret, at=clock.now())},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/account/security?done=totp_enrolled#totp"
    page = await client.get(r.headers["location"], headers={"accept-language": "en"})
    assert "Your authenticator app is set up." in page.text and 'id="totp-remove"' in page.text
    # new recovery codes are shown once, straight from the POST
    r = await client.post(
        "/account/security/recovery-codes",
        data={"csrf_token": token, "password": PASSWORD},
        headers={"accept-language": "en"},
    )
    assert r.status_code == 200
    shown = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", r.text)
    assert len(shown) == 10
    assert r.headers["cache-control"] == "no-store"
    page = await client.get("/account/security", headers={"accept-language": "en"})
    assert not any(code in page.text for code in shown)
    assert "Unused codes: 10" in page.text
    # lowering the mode through the form: the password and a code are asked for
    r = await client.post(
        "/account/security/mode",
        data={"csrf_token": token, "mode": "off", "password": PASSWORD},
        headers={"accept-language": "en"},
        follow_redirects=False,
    )
    assert r.status_code == 400
    clock.advance(30)
    r = await client.post(
        "/account/security/mode",
        data={
            "csrf_token": token,
            "mode": "off",
            "password": PASSWORD,
            "code": totp_at(secret=secret, at=clock.now()),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (await client.get(API)).json()["mode"] == "off"
    # devices: forget this browser through the form
    device_id = (await client.get(API)).json()["devices"][0]["id"]
    r = await client.post(
        f"/account/security/devices/{device_id}/forget",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (await client.get(API)).json()["devices"] == []


async def test_security_page_phone_forms(
    client: httpx.AsyncClient, notifier: MemoryNotifier
) -> None:
    await signup(client)
    token = csrf_of((await client.get("/account/security")).text)
    r = await client.post(
        "/account/security/phone",
        data={"csrf_token": token, "phone": "090-1234-5678"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await client.get("/account/security", headers={"accept-language": "en"})
    assert "We sent a code by SMS to +819012345678" in page.text
    r = await client.post(
        "/account/security/phone/confirm",
        data={"csrf_token": token, "code": sms_code(notifier)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await client.get("/account/security", headers={"accept-language": "en"})
    assert 'id="phone-remove"' in page.text
    r = await client.post(
        "/account/security/phone/remove",
        data={"csrf_token": token, "password": "wrong" * 4},
        headers={"accept-language": "en"},
    )
    assert r.status_code == 401 and "incorrect" in r.text
