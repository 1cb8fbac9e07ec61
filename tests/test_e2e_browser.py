"""End to end in headless Chromium against a real `mamori serve` process.

Sign up (with the strength meter), verify the email with the code from the dev outbox, log out,
fail one login and pass the next, read the login history, switch the language, log out again,
and check the session cookie's attributes. Needs Debian's /usr/bin/chromium (never
`playwright install`): without it the test is skipped, or fails when CI=true.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.live_server import LiveServer, start_live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SESSION_COOKIE = "__Host-mamori_session"
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        if CI:
            pytest.fail(f"{CHROMIUM} is missing, and CI=true requires the browser tests to run")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium to run the browser tests)")
    return CHROMIUM


@pytest.fixture
def live_server(chromium_path: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()
        # Captured output is shown only when the test fails: that is the server log on failure.
        print(f"----- mamori serve log ({server.base_url}) -----\n{server.log()}")


@pytest.fixture
def browser(chromium_path: Path) -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    # A Japanese browser: the service should first answer in Japanese.
    ctx = browser.new_context(
        base_url=live_server.base_url, locale="ja-JP", viewport={"width": 1200, "height": 900}
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions (default 5 s)
    try:
        yield ctx
    finally:
        ctx.close()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def assert_session_cookie(ctx: BrowserContext) -> None:
    cookies = {c.get("name"): c for c in ctx.cookies()}
    assert SESSION_COOKIE in cookies, f"no session cookie among {sorted(map(str, cookies))}"
    cookie = cookies[SESSION_COOKIE]
    assert cookie.get("secure") is True
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Lax"
    assert cookie.get("path") == "/"
    assert cookie.get("domain") == "127.0.0.1"  # host-only, as __Host- demands
    assert cookie.get("value")


def code_from_outbox(ctx: BrowserContext, email: str, kind: str = "verify_email") -> str:
    """Open the dev outbox in a second tab and read the 6-digit code sent to `email`."""
    outbox = ctx.new_page()
    try:
        outbox.goto("/dev/outbox")
        message = outbox.locator(f'article.message[data-kind="{kind}"][data-to="{email}"]').first
        expect(message).to_be_visible()
        body = message.locator("pre").inner_text()
    finally:
        outbox.close()
    codes = re.findall(r"(?<!\d)\d{6}(?!\d)", body)
    assert len(codes) == 1, f"want one 6-digit code in the message to {email}: {body!r}"
    return str(codes[0])


def test_signup_verify_login_history_logout(
    context: BrowserContext, live_server: LiveServer, tmp_path: Path
) -> None:
    # Letters only, so the login ID (which the message repeats) cannot look like a code.
    login_id = "e2e_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    email = f"{login_id}@example.com"
    password = f"Lantern {secrets.token_hex(5)} under the maple moon"
    page = context.new_page()

    # Language: Japanese from Accept-Language, then English via the header link.
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("ログイン")
    page.click("#lang-en")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("#lang-ja")).to_be_visible()

    # Sign up, with the strength meter answering as the password is typed.
    page.click("#to-signup")
    expect(page.locator("h1")).to_have_text("Sign up")
    # strength.js is deferred: wait until it has run, or typing would go unnoticed.
    page.wait_for_load_state("load")
    page.fill("#login_id", login_id)
    page.fill("#email", email)
    expect(page.locator("#strength")).to_be_hidden()
    # One input event, so one (debounced) strength request: no stale answer can overtake it.
    page.fill("#password", password)
    expect(page.locator("#strength")).to_be_visible()
    expect(page.locator("#strength-label")).to_have_text(re.compile(r"^(Strong|Very strong)$"))
    expect(page.locator("#strength-bar")).to_have_class(re.compile(r"\bs[34]\b"))
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/verify-email$"))
    expect(page.locator("h1")).to_have_text("Verify your email address")
    assert_session_cookie(context)

    # Verify the email with the code from the dev outbox.
    page.fill("#code", code_from_outbox(context, email))
    page.click("#verify")
    expect(page).to_have_url(re.compile(r"/account\?verified=1$"))
    expect(page.locator("#account-login-id")).to_have_text(login_id)
    expect(page.locator("#email-status")).to_have_text("verified")
    expect(page.locator("#email-status")).to_have_class(re.compile(r"\bok\b"))

    # Log out; the account page is then closed.
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert SESSION_COOKIE not in {c.get("name") for c in context.cookies()}

    # A wrong password first: an error, still on /login, no session.
    page.fill("#login_id", login_id)
    page.fill("#password", password + "x")
    page.click("#submit")
    expect(page.locator("#errors")).to_contain_text("The login ID or password is incorrect.")
    assert path_of(page) == "/login"
    expect(page.locator("#login_id")).to_have_value(login_id)
    assert SESSION_COOKIE not in {c.get("name") for c in context.cookies()}

    # Then the right one.
    page.fill("#password", password)
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("#email-status")).to_have_text("verified")
    assert_session_cookie(context)

    # Login history: the failure and the success, both from 127.0.0.1.
    page.click("#nav-history")
    expect(page).to_have_url(re.compile(r"/account/history$"))
    expect(page.locator("h1")).to_have_text("Login history")
    rows = page.locator("#history tbody tr")
    expect(rows.first).to_be_visible()
    cells = [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in rows.all()]
    assert len(cells) >= 2, cells
    assert all(len(row) == 6 for row in cells), cells
    results = {(row[1], row[5]) for row in cells}
    assert ("Success", "127.0.0.1") in results, cells
    assert ("Failed", "127.0.0.1") in results, cells
    expect(page.locator("#history tbody tr.ok")).not_to_have_count(0)
    expect(page.locator("#history tbody tr.fail")).not_to_have_count(0)
    shot = tmp_path / "history.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5_000, f"the screenshot looks blank ({len(data)} bytes)"

    # Log out again: the session cookie is gone and /account sends us to the login page.
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert SESSION_COOKIE not in {c.get("name") for c in context.cookies()}
    page.goto("/account")
    assert path_of(page) == "/login"
    assert urlsplit(page.url).query == "next=/account"
    expect(page.locator("h1")).to_have_text("Log in")  # the language choice stuck


def test_new_browser_is_challenged_then_trusted(
    browser: Browser, context: BrowserContext, live_server: LiveServer
) -> None:
    """A new browser: challenged after the password, the code from the outbox, "don't ask
    again", and the next login from that browser goes straight through."""
    login_id = "e2e_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    email = f"{login_id}@example.com"
    password = f"Kettle {secrets.token_hex(5)} by the northern gate"
    # Her first browser signs up and logs in once: she has a login history.
    api = context.request
    r = api.post(
        "/api/v1/signup",
        data={"login_id": login_id, "email": email, "password": password, "language": "en"},
    )
    assert r.status == 201, r.text()
    r = api.post("/api/v1/login", data={"login_id": login_id, "password": password})
    assert r.json()["status"] == "ok", r.text()

    # A second browser (no cookies): the password is not enough.
    other = browser.new_context(base_url=live_server.base_url, locale="en-US")
    other.set_default_timeout(TIMEOUT_MS)
    try:
        page = other.new_page()
        page.goto("/login")
        page.fill("#login_id", login_id)
        page.fill("#password", password)
        page.click("#submit")
        expect(page).to_have_url(re.compile(r"/login/challenge$"))
        expect(page.locator("h1")).to_have_text("Confirm it's you")
        expect(page.locator("#challenge-intro")).to_contain_text("registered email address")
        expect(page.locator("#method-email")).to_be_checked()
        assert SESSION_COOKIE not in {c.get("name") for c in other.cookies()}

        # A wrong code first: an error, still on the challenge page.
        code = code_from_outbox(other, email, kind="login_code")
        page.fill("#code", f"{(int(code) + 1) % 1_000_000:06d}")
        page.click("#verify")
        expect(page.locator("#errors")).to_contain_text("The code is wrong or has expired.")
        assert path_of(page) == "/login/challenge"

        # The right code, with "don't ask again on this browser".
        page.fill("#code", code)
        page.check("#remember_device")
        page.click("#verify")
        expect(page).to_have_url(re.compile(r"/account$"))
        assert_session_cookie(other)

        # Log out and in again from this browser: no challenge this time.
        page.click("#logout")
        expect(page).to_have_url(re.compile(r"/login$"))
        page.fill("#login_id", login_id)
        page.fill("#password", password)
        page.click("#submit")
        expect(page).to_have_url(re.compile(r"/account$"))
        assert_session_cookie(other)
    finally:
        other.close()
