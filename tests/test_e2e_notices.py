"""End to end in headless Chromium: the new-device notice and its "this wasn't me" link, and the
security center's "sign out everywhere else" (a real `mamori serve`, the dev outbox as the
mailbox)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.live_server import LiveServer
from tests.test_e2e_browser import (  # noqa: F401 — fixtures
    SESSION_COOKIE,
    TIMEOUT_MS,
    browser,
    chromium_path,
    live_server,
)

pytestmark = pytest.mark.browser


def new_login_id() -> str:
    return "e2e_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


@pytest.fixture
def two_browsers(
    browser: Browser,  # noqa: F811 — the fixture imported above
    live_server: LiveServer,  # noqa: F811
) -> Iterator[tuple[BrowserContext, ...]]:
    contexts = []
    for _ in range(2):
        ctx = browser.new_context(base_url=live_server.base_url, locale="en-US")
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(ctx)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield tuple(contexts)
    finally:
        for ctx in contexts:
            ctx.close()


def log_in(page: Page, login_id: str, password: str) -> None:
    page.goto("/login")
    page.fill("#login_id", login_id)
    page.fill("#password", password)
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/account$"))


def signed_in(page: Page) -> bool:
    page.goto("/account")
    return urlsplit(page.url).path == "/account"


def outbox_text(ctx: BrowserContext, email: str, kind: str) -> str:
    page = ctx.new_page()
    try:
        page.goto("/dev/outbox")
        message = page.locator(f'article.message[data-kind$="{kind}"][data-to="{email}"]').first
        expect(message).to_be_visible()
        return message.locator("pre").inner_text()
    finally:
        page.close()


def test_not_me_link_signs_the_new_browser_out(
    two_browsers: tuple[BrowserContext, BrowserContext],
    live_server: LiveServer,  # noqa: F811 — the fixture imported above
) -> None:
    a, b = two_browsers
    login_id, password = new_login_id(), f"Harbor {secrets.token_hex(5)} at low tide"
    email = f"{login_id}@example.com"
    r = a.request.post(
        "/api/v1/signup",
        data={"login_id": login_id, "email": email, "password": password, "language": "en"},
    )
    assert r.status == 201, r.text()
    page_a = a.new_page()
    assert signed_in(page_a)

    # Browser B logs in: a new device, so the owner gets a notice with a "this wasn't me" link.
    page_b = b.new_page()
    log_in(page_b, login_id, password)
    body = outbox_text(a, email, "new_device_login")
    assert password not in body
    links = re.findall(r"https?://\S+", body)
    not_me = [u for u in links if "/not-me/" in u]
    assert len(not_me) == 1, links
    assert all("/not-me/" in u or u.endswith("/verify-notice") for u in links), links
    code = re.search(r"\b[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}\b", body)
    assert code, body

    # The notice is genuine: the public page says so.
    page_a.goto("/verify-notice")
    page_a.fill("#notice-code", code.group(0))
    page_a.click("#verify-submit")
    expect(page_a.locator("#verify-result")).to_have_attribute("data-genuine", "1")
    page_a.fill("#notice-code", "K7QF-3MZP")  # a forged code
    page_a.click("#verify-submit")
    expect(page_a.locator("#verify-result")).to_have_attribute("data-genuine", "0")

    # The owner follows the link (no login asked), confirms: B is signed out, A is not.
    page_a.goto(not_me[0].replace(live_server.base_url, ""))
    expect(page_a.locator("#not-me-confirm")).to_be_visible()
    page_a.click("#not-me-confirm")
    expect(page_a.locator("#not-me-done")).to_be_visible()
    assert not signed_in(page_b)
    assert SESSION_COOKIE in {c.get("name") for c in a.cookies()}
    assert signed_in(page_a)
    # the link is single-use
    page_a.goto(not_me[0].replace(live_server.base_url, ""))
    expect(page_a.locator("#not-me-invalid")).to_be_visible()


def test_sign_out_everywhere_else(two_browsers: tuple[BrowserContext, BrowserContext]) -> None:
    a, b = two_browsers
    login_id, password = new_login_id(), f"Lighthouse {secrets.token_hex(5)} in the fog"
    r = a.request.post(
        "/api/v1/signup",
        data={
            "login_id": login_id,
            "email": f"{login_id}@example.com",
            "password": password,
            "language": "en",
        },
    )
    assert r.status == 201, r.text()
    page_b = b.new_page()
    log_in(page_b, login_id, password)
    page_a = a.new_page()
    page_a.goto("/account/sessions")
    expect(page_a.locator("#session-list tbody tr")).to_have_count(2)
    expect(page_a.locator("#current-session")).to_have_count(1)
    page_a.fill("#others-password", password)
    page_a.locator("#revoke-others button[type=submit]").click()
    expect(page_a.locator("#done")).to_be_visible()
    expect(page_a.locator("#session-list tbody tr")).to_have_count(1)
    assert not signed_in(page_b)
    assert signed_in(page_a)
