"""Security notices over real transports: each kind, triggered through the real flows and API,
reaches a real SMTP server (aiosmtpd on loopback) and, for the kinds worth it, the SMS webhook;
every one is in the inbox. No notice holds a password, a session token or a login link; the
notice code in a mail is confirmed by /verify-notice, a forged one is not; notices of a kind are
emailed at most once an hour; and mail is DKIM-signed when a key is configured.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.flows import notices, operator, reset
from mamori.flows.services import Services
from mamori.models import ClientContext
from mamori.notify.catalog import NOTICE_KINDS, SMS_KINDS, render
from mamori.notify.notifier import SMTPNotifier
from mamori.otp import totp_at
from mamori.settings import Settings
from tests.conftest import PASSWORD, TEST_GEO, clean, client_for, make_settings, signup
from tests.test_factors import enroll_totp
from tests.test_notify import SECRET, CollectingHandler, HTTPSink, free_port

UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)
NEW_PASSWORD = "a completely different passphrase 2024"
PHONE = "+819012345678"
PUBLIC_URL = "https://mamori.example"
SECURITY = "/api/v1/me/security"
URL = re.compile(r"https?://[^\s)>\"'」）]+")
NOTICE_CODE = re.compile(r"\b[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}\b")
OPERATOR = ClientContext(ip="127.0.0.1", user_agent="mamori-cli")


# -- fixtures -------------------------------------------------------------------------------


class Mailbox(CollectingHandler):
    """The SMTP server's handler, with the port it listens on."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    handler = Mailbox(free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
async def sink() -> AsyncIterator[HTTPSink]:
    s = HTTPSink([200])
    await s.start()
    yield s
    await s.aclose()


def real_settings(database_url: str, smtp: Mailbox, sink: HTTPSink) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout_seconds=5.0,
        sms_webhook_url=sink.url,
        sms_webhook_secret=SECRET,
        public_url=PUBLIC_URL,
    )


@pytest.fixture
async def real_svc(
    database_url: str, clock: FixedClock, smtp: Mailbox, sink: HTTPSink
) -> AsyncIterator[Services]:
    svc = await clean(
        build_services(real_settings(database_url, smtp, sink), clock=clock, geo=TEST_GEO)
    )
    yield svc
    await svc.background.drain()
    await svc.store.dispose()


# -- what arrived ---------------------------------------------------------------------------


def mails(smtp: Mailbox, kind: str | None = None) -> list[EmailMessage]:
    parsed = [m.parsed() for m in smtp.received]
    return [m for m in parsed if kind is None or m["X-Mamori-Kind"] == kind]


def mail_text(mail: EmailMessage) -> str:
    return f"{mail['Subject']}\n{mail.get_content()}"


def sms_sent(sink: HTTPSink, kind: str | None = None) -> list[dict[str, Any]]:
    payloads = [json.loads(r.body) for r in sink.requests]
    return [p for p in payloads if kind is None or p["kind"] == kind]


def six_digits(text: str) -> str:
    found = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
    assert len(found) == 1, text
    return str(found[0])


def notice_code_of(text: str) -> str:
    found = NOTICE_CODE.findall(text)
    assert len(found) == 1, text
    return str(found[0])


def not_me_link(mail: EmailMessage) -> str:
    links = [u for u in URL.findall(mail.get_content()) if "/not-me/" in u]
    assert len(links) == 1, mail.get_content()
    return str(links[0])


def assert_clean(text: str, *, secrets: list[str], sms: bool = False) -> None:
    """No password, no session token or other cookie, and no link but "this wasn't me" and
    the verify-notice page (an SMS carries none at all)."""
    for secret in secrets:
        assert secret not in text, f"a secret leaked into a notice: {text!r}"
    for url in URL.findall(text):
        assert not sms, f"a link in an SMS: {text!r}"
        assert url.startswith(PUBLIC_URL + "/"), url
        assert "/not-me/" in url or url == PUBLIC_URL + "/verify-notice", url


def cookie_values(*clients: httpx.AsyncClient) -> list[str]:
    return [v for c in clients for v in c.cookies.values() if v]


# -- a browser's logins -----------------------------------------------------------------------


async def login(
    svc: Services,
    smtp: Mailbox,
    c: httpx.AsyncClient,
    *,
    login_id: str = "kenta",
    password: str = PASSWORD,
    secret: str | None = None,
    recovery: str | None = None,
) -> httpx.Response:
    """Log in; answer a challenge with the emailed code (or the authenticator / a recovery
    code when given). Returns the last response."""
    r = await c.post("/api/v1/login", json={"login_id": login_id, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    if body["status"] != "challenge":
        return r
    if recovery is not None:
        method, code = "recovery", recovery
    elif secret is not None:
        method, code = "totp", totp_at(secret=secret, at=svc.clock.now())
    else:
        await svc.background.drain()
        method, code = "email", six_digits(mail_text(mails(smtp, "login_code")[-1]))
    r = await c.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": method, "code": code},
    )
    assert r.status_code == 200, r.text
    return r


def browser(svc: Services, ip: str, ua: str) -> httpx.AsyncClient:
    c = client_for(svc, ip=ip)
    c.headers["user-agent"] = ua
    return c


# -- every kind, through the real flows -------------------------------------------------------


async def test_every_notice_kind_goes_out_clean_and_verifiable(
    real_svc: Services, smtp: Mailbox, sink: HTTPSink, clock: FixedClock
) -> None:
    svc = real_svc
    home = client_for(svc)
    assert (await signup(home, "kenta", language="en")).status_code == 201
    clock.advance(60)  # (a browser is "new" at a login in the moment it was first seen)
    await login(svc, smtp, home)  # no history yet: straight in; now the account has history

    # the known browser from another country: a new-location notice
    clock.advance(60)
    travel = client_for(svc, ip="198.51.100.5")
    travel.cookies = home.cookies
    await login(svc, smtp, travel)
    # a new browser: challenged (login_code_sent, inbox only), then a new-device notice
    away = browser(svc, "198.51.100.77", UA_FIREFOX)
    await login(svc, smtp, away)

    # a phone: the SMS code from the webhook confirms it
    r = await home.post(f"{SECURITY}/phone", json={"phone": PHONE})
    assert r.status_code == 200, r.text
    await svc.background.drain()
    r = await home.post(
        f"{SECURITY}/phone/confirm",
        json={"code": six_digits(sms_sent(sink, "phone_code_sms")[-1]["body"])},
    )
    assert r.status_code == 200, r.text
    # the password changed (email and SMS), two-step raised (email and SMS)
    r = await home.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "sign_out_others": False},
    )
    assert r.status_code == 200, r.text
    r = await home.post(f"{SECURITY}/mode", json={"mode": "every_login"})
    assert r.status_code == 200, r.text
    # an authenticator, new recovery codes
    secret = await enroll_totp(home, clock)
    r = await home.post(f"{SECURITY}/recovery-codes", json={"password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    codes = r.json()["codes"]
    # a third browser gets in with a recovery code
    third = browser(svc, "198.51.100.78", UA_SAFARI)
    await login(svc, smtp, third, password=NEW_PASSWORD, recovery=codes[0])
    # lowering the mode with an authenticator code, then the same code again: a replay
    code = totp_at(secret=secret, at=clock.now())
    r = await home.post(
        f"{SECURITY}/mode", json={"mode": "new_devices", "password": NEW_PASSWORD, "code": code}
    )
    assert r.status_code == 200, r.text
    r = await home.post(
        f"{SECURITY}/mode", json={"mode": "off", "password": NEW_PASSWORD, "code": code}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_invalid"
    # the authenticator removed (a fresh code), then the phone (a recovery code: email and SMS)
    clock.advance(30)
    r = await home.post(
        f"{SECURITY}/totp/remove",
        json={"password": NEW_PASSWORD, "code": totp_at(secret=secret, at=clock.now())},
    )
    assert r.status_code == 200, r.text
    r = await home.post(
        f"{SECURITY}/phone/remove", json={"password": NEW_PASSWORD, "code": codes[1]}
    )
    assert r.status_code == 200, r.text
    # a stranger guesses until the login ID is locked
    thief = browser(svc, "198.51.100.200", UA_SAFARI)
    for _ in range(20):
        r = await thief.post("/api/v1/login", json={"login_id": "kenta", "password": "guess" * 4})
        if r.status_code == 429:
            break
    assert r.status_code == 429, r.text
    # the inbox of the owner (before anything ends the session)
    await svc.background.drain()
    inbox = (await home.get("/api/v1/me/notices", params={"limit": 100})).json()
    # the kinds other flows own: a reset, an email change, a reset forced by an operator
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("kenta")
    assert account is not None
    await notices.notify(svc, account=account, kind="password_reset", channels=("email", "sms"))
    changed = {"old_email": "k***@example.com", "new_email": "n***@example.com"}
    await notices.notify(svc, account=account, kind="email_changed", params=changed)
    await notices.notify(svc, account=account, kind="email_changed_new", params=changed)
    # and the dormant-account job's two
    await notices.notify(svc, account=account, kind="dormant_warning", params={"days": 30})
    await notices.notify(svc, account=account, kind="account_suspended")
    # "this wasn't me" from the new-device mail, then the operator's actions
    link = not_me_link(mails(smtp, "new_device_login")[0])
    page = await third.get(link.removeprefix(PUBLIC_URL))
    assert page.status_code == 200
    r = await third.post(
        link.removeprefix(PUBLIC_URL), data={"csrf_token": third.cookies["__Host-mamori_csrf"]}
    )
    assert r.status_code == 200, r.text
    await reset.force_reset(svc, login_id="kenta", reason="test", actor=OPERATOR, by="test")
    await operator.restrict(svc, login_id="kenta", reason="test", actor=OPERATOR, by="test")
    await svc.background.drain()

    # every kind went out by email, except the inbox-only one
    emailed = {m["X-Mamori-Kind"] for m in mails(smtp)}
    assert set(NOTICE_KINDS) - {"login_code_sent"} <= emailed, set(NOTICE_KINDS) - emailed
    assert "login_code_sent" not in emailed
    in_inbox = {item["kind"] for item in inbox["items"]}
    assert {"login_code_sent", "new_device_login", "new_location_login", "totp_replay"} <= in_inbox
    # by SMS: the kinds worth one, while the phone was verified (and to the number removed)
    texted = {p["kind"] for p in sms_sent(sink)}
    assert {"password_changed_sms", "two_step_changed_sms", "phone_removed_sms"} <= texted
    assert all(p["to"] == PHONE for p in sms_sent(sink))

    # nothing secret, no login link, and a notice code in every one
    secrets = [PASSWORD, NEW_PASSWORD, secret, *codes, *cookie_values(home, away, travel, third)]
    login_codes = [six_digits(mail_text(m)) for m in mails(smtp, "login_code")]
    for mail in mails(smtp):
        text = mail_text(mail)
        if mail["X-Mamori-Kind"] in NOTICE_KINDS:
            assert_clean(text, secrets=secrets + login_codes)
            notice_code_of(text)
            assert f"{PUBLIC_URL}/verify-notice" in text
        else:
            assert_clean(text, secrets=secrets)
    for payload in sms_sent(sink):
        if payload["kind"] != "phone_code_sms":
            assert_clean(payload["body"], secrets=secrets + login_codes, sms=True)
            notice_code_of(payload["body"])
    assert_clean(json.dumps(inbox, ensure_ascii=False), secrets=secrets + login_codes)

    # the codes in the mails are genuine; a forged one is not
    anon = client_for(svc, ip="203.0.113.50")
    for mail in mails(smtp):
        kind = mail["X-Mamori-Kind"]
        if kind in NOTICE_KINDS:
            r = await anon.post(
                "/api/v1/notices/verify", json={"code": notice_code_of(mail_text(mail))}
            )
            assert r.json()["genuine"] is True, kind
            assert r.json()["kind"] == kind
            assert set(r.json()) == {"genuine", "kind", "sent_at"}  # nothing about the account
    r = await anon.post("/api/v1/notices/verify", json={"code": "ABCD-EFGH"})
    assert r.json() == {"genuine": False, "kind": None, "sent_at": None}
    for c in (home, away, travel, third, thief, anon):
        await c.aclose()


async def test_verify_notice_page_and_rate_limit(real_svc: Services, smtp: Mailbox) -> None:
    svc = real_svc
    home = client_for(svc)
    assert (await signup(home, "kenta", language="ja")).status_code == 201
    r = await home.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "sign_out_others": True},
    )
    assert r.status_code == 200
    await svc.background.drain()
    (mail,) = mails(smtp, "password_changed")
    assert mail["Subject"] == "【Mamori】パスワードが変更されました"
    code = notice_code_of(mail.get_content())

    anon = client_for(svc, ip="198.51.100.9")
    page = await anon.get("/verify-notice")
    assert page.status_code == 200 and 'name="code"' in page.text
    csrf = anon.cookies["__Host-mamori_csrf"]
    # genuine: written with spaces and in lower case, as people type it
    r = await anon.post(
        "/verify-notice", data={"csrf_token": csrf, "code": code.lower().replace("-", " ")}
    )
    assert r.status_code == 200
    assert 'data-genuine="1"' in r.text and "パスワードが変更されました" in r.text
    assert "kenta" not in r.text  # never the account
    r = await anon.post("/verify-notice", data={"csrf_token": csrf, "code": "ZZZZ-ZZZZ"})
    assert 'data-genuine="0"' in r.text
    r = await anon.post("/verify-notice", data={"code": code})  # no CSRF token
    assert r.status_code == 403
    # 30 checks an hour from one address (the two above counted), then 429
    for _ in range(28):
        r = await anon.post("/api/v1/notices/verify", json={"code": "ZZZZ-ZZZZ"})
        assert r.status_code == 200
    r = await anon.post("/api/v1/notices/verify", json={"code": code})
    assert r.status_code == 429 and r.headers["retry-after"] == "3600"
    r = await anon.post("/verify-notice", data={"csrf_token": csrf, "code": code})
    assert r.status_code == 429
    # another address is not limited
    other = client_for(svc, ip="198.51.100.10")
    assert (await other.post("/api/v1/notices/verify", json={"code": code})).json()["genuine"]
    # the public pages are linked from the login page
    login_page = (await other.get("/login")).text
    assert 'href="/verify-notice"' in login_page and 'href="/how-we-contact-you"' in login_page
    for c in (home, anon, other):
        await c.aclose()


async def test_how_we_contact_you_shows_the_settings(database_url: str, clock: FixedClock) -> None:
    svc = await clean(
        build_services(
            make_settings(
                database_url,
                mail_from="まもり <security@mamori.example>",
                sms_sender_id="MAMORI",
                support_contact="https://help.mamori.example/",
            ),
            clock=clock,
            geo=TEST_GEO,
        )
    )
    async with client_for(svc) as c:
        r = await c.get("/how-we-contact-you", params={"lang": "en"})
        assert r.status_code == 200
        for text in ("security@mamori.example", "MAMORI", "https://help.mamori.example/"):
            assert text in r.text
        assert "never send links that log you in" in r.text
        r = await c.get("/how-we-contact-you", params={"lang": "ja"})
        assert "ログイン用のリンクを送ることはありません" in r.text
    await svc.store.dispose()


async def test_one_email_per_kind_an_hour_inbox_always(
    real_svc: Services, smtp: Mailbox, clock: FixedClock
) -> None:
    svc = real_svc
    home = client_for(svc)
    assert (await signup(home, "kenta")).status_code == 201
    passwords = [PASSWORD, NEW_PASSWORD, "yet another long passphrase 99", "and a fourth one 4444"]

    async def change(i: int) -> None:
        r = await home.post(
            "/api/v1/me/password",
            json={
                "current_password": passwords[i],
                "new_password": passwords[i + 1],
                "sign_out_others": False,
            },
        )
        assert r.status_code == 200, r.text
        await svc.background.drain()

    await change(0)
    clock.advance(1500)  # (sessions idle out after 30 minutes)
    await change(1)  # within the hour: the inbox has it, no second email
    assert len(mails(smtp, "password_changed")) == 1
    inbox = (await home.get("/api/v1/me/notices")).json()
    assert [i["kind"] for i in inbox["items"]] == ["password_changed", "password_changed"]
    assert inbox["items"][0]["channels"] == ["inbox"]
    assert inbox["items"][1]["channels"] == ["email", "inbox"]
    clock.advance(1500)
    assert (await home.get("/api/v1/me")).status_code == 200
    clock.advance(601)
    await change(2)  # the hour is over: email again
    assert len(mails(smtp, "password_changed")) == 2
    # another kind is counted on its own
    r = await home.post(f"{SECURITY}/mode", json={"mode": "every_login"})
    assert r.status_code == 200
    await svc.background.drain()
    assert len(mails(smtp, "two_step_changed")) == 1
    await home.aclose()


# -- the inbox --------------------------------------------------------------------------------


async def test_inbox_page_and_api(real_svc: Services, smtp: Mailbox, clock: FixedClock) -> None:
    svc = real_svc
    home = client_for(svc)
    home.headers["accept-language"] = "en"  # the pages and the API speak the browser's language
    assert (await signup(home, "kenta", language="en")).status_code == 201
    clock.advance(60)  # (a browser is "new" at a login in the moment it was first seen)
    await login(svc, smtp, home)
    away = browser(svc, "198.51.100.77", UA_FIREFOX)
    await login(svc, smtp, away)
    await svc.background.drain()

    r = await home.get("/api/v1/me/notices")
    body = r.json()
    assert body["unread"] == 2 and body["next_before"] is None
    device, code_sent = body["items"]
    assert device["kind"] == "new_device_login" and device["answerable"] is True
    assert device["title"] == "New sign-in to your account"
    assert device["params"]["ip"] == "198.51.100.77" and device["genuine"] is True
    assert code_sent["kind"] == "login_code_sent" and code_sent["answerable"] is False
    assert code_sent["channels"] == ["inbox"]
    # pages back
    r = await home.get("/api/v1/me/notices", params={"limit": 1})
    assert r.json()["next_before"] == device["id"]
    r = await home.get("/api/v1/me/notices", params={"before": device["id"]})
    assert [i["id"] for i in r.json()["items"]] == [code_sent["id"]]
    # mark one read, then the page marks the rest
    r = await home.post("/api/v1/me/notices/read", json={"id": code_sent["id"]})
    assert r.json() == {"marked": 1, "unread": 1}
    page = await home.get("/account/inbox")
    assert page.status_code == 200
    assert "New sign-in to your account" in page.text
    assert f'action="/account/inbox/{device["id"]}/not-me"' in page.text
    assert f'action="/account/inbox/{device["id"]}/was-me"' in page.text
    assert "198.51.100.77" in page.text
    assert (await home.get("/api/v1/me/notices")).json()["unread"] == 0
    # the nav carries the badge (and its script for pages that do not know the count)
    assert 'id="inbox-unread"' in page.text and "/static/inbox_badge.js" in page.text
    assert (await home.get("/static/inbox_badge.js")).status_code == 200
    # "Yes, it was me" from the page
    csrf = home.cookies["__Host-mamori_csrf"]
    r = await home.post(f"/account/inbox/{device['id']}/was-me", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/account/inbox?done=was_me")
    page = await home.get(r.headers["location"])
    assert "Confirmed: it was you" in page.text
    r = await home.post(f"/account/inbox/{device['id']}/not-me", data={"csrf_token": csrf})
    assert r.status_code == 422  # already answered
    # someone else's notice, or none, is not found; the API needs a session
    assert (await away.post("/api/v1/me/notices/999999/was-me", json={})).status_code == 404
    async with client_for(svc) as anon:
        assert (await anon.get("/api/v1/me/notices")).status_code == 401
        r = await anon.get("/account/inbox")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for c in (home, away):
        await c.aclose()


# -- texts and DKIM ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_text_has_its_code_and_no_other_link(language: str) -> None:
    params = {
        "login_id": "kenta",
        "time": "2025-01-01 09:00 UTC",
        "browser": "Firefox 133",
        "os": "Linux",
        "location": "JP",
        "network": "KDDI",
        "ip": "203.0.113.7",
        "notice_code": "K7QF-3MZP",
        "verify_url": f"{PUBLIC_URL}/verify-notice",
        "reported_time": "2025-01-01 08:55 UTC",
        "phone": "+81*****5678",
        "mode": "new_devices",
        "remaining": 9,
        "minutes": 10,
        "old_email": "k***@example.com",
        "new_email": "n***@example.com",
        "days": 30,
    }
    for kind in NOTICE_KINDS:
        for link in ("", f"{PUBLIC_URL}/not-me/tok"):
            message = render(
                f"notice_{kind}",
                language=language,
                channel="email",
                to="kenta@example.com",
                account_id=1,
                not_me_url=link,
                **params,
            )
            assert message.kind == kind
            assert message.subject.startswith("【Mamori】" if language == "ja" else "[Mamori] ")
            assert "K7QF-3MZP" in message.body and f"{PUBLIC_URL}/verify-notice" in message.body
            assert ("/not-me/" in message.body) is bool(link)
            assert "{" not in message.body and "}" not in message.body
            assert_clean(message.body, secrets=[])
            assert " ? " not in message.body and "(?)" not in message.body  # nothing missing
    for kind in SMS_KINDS:
        message = render(
            f"notice_{kind}_sms",
            language=language,
            channel="sms",
            to="+819012345678",
            account_id=1,
            not_me_url=f"{PUBLIC_URL}/not-me/tok",
            **params,
        )
        assert message.kind == f"{kind}_sms" and message.subject == ""
        assert "K7QF-3MZP" in message.body and len(message.body) <= 140
        assert_clean(message.body, secrets=[], sms=True)


def test_two_step_notice_names_the_mode_and_a_missing_detail_is_harmless() -> None:
    message = render(
        "notice_two_step_changed",
        language="en",
        channel="email",
        to="kenta@example.com",
        account_id=1,
        mode="every_login",
    )
    assert 'now set to "ask at every login"' in message.body
    assert "Notice code: ?" in message.body  # a caller's omission renders as "?", not a crash


def _rsa_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


async def test_mail_is_dkim_signed_when_a_key_is_set(smtp: Mailbox, tmp_path: Path) -> None:
    private, public = _rsa_key()
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(private)
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout_seconds=5.0,
        mail_from="まもり Mamori <no-reply@mamori.example>",
        dkim_private_key_file=str(key_file),
        dkim_selector="mail2025",
        dkim_domain="mamori.example",
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name.startswith(b"mail2025._domainkey.mamori.example")
        return record

    message = render(
        "notice_password_changed",
        language="ja",
        channel="email",
        to="kenta@example.com",
        account_id=1,
        login_id="kenta",
        notice_code="K7QF-3MZP",
        verify_url=f"{PUBLIC_URL}/verify-notice",
    )
    await SMTPNotifier(settings).send(message)
    (got,) = smtp.received
    assert got.mail_from == "no-reply@mamori.example" and got.rcpt_tos == ["kenta@example.com"]
    assert got.content.startswith(b"DKIM-Signature:")
    assert dkim.verify(got.content, dnsfunc=dns)
    signature = got.parsed()["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", ""))
    assert signed is not None
    assert {"from", "to", "subject", "date", "message-id"} <= set(
        signed.group(1).lower().split(":")
    )
    assert "d=mamori.example" in signature and "s=mail2025" in signature
    assert got.parsed()["Subject"] == "【Mamori】パスワードが変更されました"
    # a changed signed header fails the check
    tampered = got.content.replace(b"To: kenta@example.com", b"To: kenji@example.com")
    assert tampered != got.content and not dkim.verify(tampered, dnsfunc=dns)
    # without a key, mail goes unsigned
    plain = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port)
    notifier = SMTPNotifier(plain)
    assert notifier.dkim_key is None
    assert not notifier.signed(notifier.build(message)).startswith(b"DKIM-Signature:")


def test_an_unreadable_dkim_key_is_a_config_error(tmp_path: Path) -> None:
    from mamori.errors import ConfigError

    settings = Settings(
        dkim_private_key_file=str(tmp_path / "missing.pem"),
        dkim_selector="s",
        dkim_domain="mamori.example",
    )
    with pytest.raises(ConfigError):
        SMTPNotifier(settings)


def test_a_kind_without_its_own_text_still_goes_out_safely() -> None:
    for channel, kind in (("email", "notice_something_new"), ("sms", "notice_something_new_sms")):
        message = render(
            kind,
            language="en",
            channel=channel,
            to="kenta@example.com",
            account_id=1,
            notice_code="K7QF-3MZP",
            verify_url=f"{PUBLIC_URL}/verify-notice",
            not_me_url=f"{PUBLIC_URL}/not-me/tok",
        )
        assert "K7QF-3MZP" in message.body
        assert_clean(message.body, secrets=[], sms=channel == "sms")
