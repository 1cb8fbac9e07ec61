""" "This wasn't me" and "Yes, it was me", end to end on real SMTP: the link in a new-device
notice signs out exactly that browser (its cookie gets 401, the first browser stays signed in),
forces a password reset and the second step at the next login, works once and expires; the
same answers from the security inbox (page and API), and "was me" marks the notice."""

from __future__ import annotations

from datetime import timedelta

import httpx

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.models import Account, EventType
from tests import test_notices
from tests.conftest import PASSWORD, client_for, signup
from tests.test_notices import (
    PUBLIC_URL,
    UA_FIREFOX,
    UA_SAFARI,
    Mailbox,
    assert_clean,
    browser,
    cookie_values,
    login,
    mail_text,
    mails,
    not_me_link,
    notice_code_of,
)

# the real SMTP server, SMS sink and services of test_notices, as fixtures here
smtp, sink, real_svc = test_notices.smtp, test_notices.sink, test_notices.real_svc

SESSION = "__Host-mamori_session"
CSRF = "__Host-mamori_csrf"


async def account_of(svc: Services) -> Account:
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("kenta")
    assert account is not None
    return account


async def owner_and_intruder(
    svc: Services, smtp: Mailbox, clock: FixedClock
) -> tuple[httpx.AsyncClient, httpx.AsyncClient, str]:
    """kenta signs up and logs in at home; then a new browser logs in (challenged, completed
    with the emailed code). Returns both browsers and the link from the new-device notice."""
    home = client_for(svc)
    home.headers["accept-language"] = "en"
    assert (await signup(home, "kenta", language="en")).status_code == 201
    clock.advance(60)
    await login(svc, smtp, home)
    away = browser(svc, "198.51.100.77", UA_FIREFOX)
    await login(svc, smtp, away)
    assert (await away.get("/api/v1/me")).status_code == 200
    await svc.background.drain()
    (mail,) = mails(smtp, "new_device_login")
    assert "198.51.100.77" in mail.get_content()
    return home, away, not_me_link(mail).removeprefix(PUBLIC_URL)


async def test_the_link_signs_out_that_browser_and_forces_a_reset(
    real_svc: Services, smtp: Mailbox, clock: FixedClock
) -> None:
    svc = real_svc
    home, away, link = await owner_and_intruder(svc, smtp, clock)
    # the owner opens the link on a phone, not logged in: the page changes nothing yet
    phone = client_for(svc, ip="203.0.113.80")
    phone.headers["accept-language"] = "en"
    page = await phone.get(link)
    assert page.status_code == 200
    assert "198.51.100.77" in page.text and 'id="not-me-confirm"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (await away.get("/api/v1/me")).status_code == 200
    assert not (await account_of(svc)).password_reset_required
    # the button (a CSRF-checked form)
    assert (await phone.post(link, data={"csrf_token": "forged"})).status_code == 403
    r = await phone.post(link, data={"csrf_token": phone.cookies[CSRF]})
    assert r.status_code == 200, r.text
    assert "That device was signed out" in r.text
    # that browser is out, the owner's first browser is not
    assert (await away.get("/api/v1/me")).status_code == 401
    assert (await home.get("/api/v1/me")).status_code == 200
    account = await account_of(svc)
    assert account.password_reset_required and account.two_step_forced
    # single use
    assert (await phone.post(link, data={"csrf_token": phone.cookies[CSRF]})).status_code == 404
    assert (await phone.get(link)).status_code == 404
    # recorded, and confirmed in the inbox and by email
    async with svc.store.begin() as tx:
        events = await tx.events.for_account(account.id, types=[EventType.NOT_ME_REPORTED])
    assert len(events) == 1 and events[0].details["via"] == "link"
    await svc.background.drain()
    (done,) = mails(smtp, "not_me_done")
    assert_clean(mail_text(done), secrets=[PASSWORD, *cookie_values(home, away, phone)])
    r = await phone.post("/api/v1/notices/verify", json={"code": notice_code_of(mail_text(done))})
    assert r.json()["genuine"] and r.json()["kind"] == "not_me_done"
    items = (await home.get("/api/v1/me/notices")).json()["items"]
    assert [i["kind"] for i in items][:2] == ["not_me_done", "new_device_login"]
    assert items[1]["feedback"] == "not_me" and items[1]["answerable"] is False
    # the intruder's browser, with the password, now meets the second step (and cannot pass it)
    r = await away.post("/api/v1/login", json={"login_id": "kenta", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["status"] == "challenge"
    for c in (home, away, phone):
        await c.aclose()


async def test_the_link_expires(real_svc: Services, smtp: Mailbox, clock: FixedClock) -> None:
    svc = real_svc
    home, away, link = await owner_and_intruder(svc, smtp, clock)
    days = svc.settings.not_me_days
    anon = client_for(svc, ip="203.0.113.80")
    clock.advance(timedelta(days=days) - timedelta(minutes=2))
    assert (await anon.get(link)).status_code == 200  # still valid, just
    clock.advance(timedelta(minutes=3))
    assert (await anon.get(link)).status_code == 404
    r = await anon.post(link, data={"csrf_token": anon.cookies[CSRF]})
    assert r.status_code == 404
    assert not (await account_of(svc)).password_reset_required
    # a token that never existed looks the same
    assert (await anon.get("/not-me/" + "x" * 32)).status_code == 404
    for c in (home, away, anon):
        await c.aclose()


async def test_answers_from_the_inbox(real_svc: Services, smtp: Mailbox, clock: FixedClock) -> None:
    svc = real_svc
    home, away, link = await owner_and_intruder(svc, smtp, clock)
    third = browser(svc, "198.51.100.78", UA_SAFARI)
    await login(svc, smtp, third)
    await svc.background.drain()
    items = (await home.get("/api/v1/me/notices")).json()["items"]
    third_notice, away_notice = [i for i in items if i["kind"] == "new_device_login"]
    assert third_notice["params"]["ip"] == "198.51.100.78"
    # "Yes, it was me" (API): marked, and that browser is no longer treated as new
    r = await home.post(f"/api/v1/me/notices/{third_notice['id']}/was-me", json={})
    assert r.status_code == 200, r.text
    assert r.json()["notice"]["feedback"] == "was_me"
    r = await home.post(f"/api/v1/me/notices/{third_notice['id']}/was-me", json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "already_answered"
    third.cookies.delete(SESSION)
    r = await third.post("/api/v1/login", json={"login_id": "kenta", "password": PASSWORD})
    assert r.json()["status"] == "ok", r.text
    # "This wasn't me" (page form): the other browser is signed out
    page = await home.get("/account/inbox")
    assert f'id="not-me-{away_notice["id"]}"' in page.text
    assert f'id="not-me-{third_notice["id"]}"' not in page.text  # answered
    r = await home.post(
        f"/account/inbox/{away_notice['id']}/not-me", data={"csrf_token": home.cookies[CSRF]}
    )
    assert r.status_code == 303 and "done=not_me" in r.headers["location"]
    assert "That device was signed out" in (await home.get(r.headers["location"])).text
    assert (await away.get("/api/v1/me")).status_code == 401
    assert (await home.get("/api/v1/me")).status_code == 200
    account = await account_of(svc)
    assert account.password_reset_required and account.two_step_forced
    # answered: the emailed link for it no longer works, and the API says so too
    assert (await third.get(link)).status_code == 404
    r = await home.post(f"/api/v1/me/notices/{away_notice['id']}/not-me", json={})
    assert r.status_code == 422
    # another account's notice is not found
    async with client_for(svc, ip="203.0.113.90") as other:
        assert (await signup(other, "mika")).status_code == 201
        r = await other.post(f"/api/v1/me/notices/{third_notice['id']}/not-me", json={})
        assert r.status_code == 404
    for c in (home, away, third):
        await c.aclose()
