"""End to end in headless Chromium: the operators' console against a real `mamori serve`.

The first operator is created with the CLI (`mamori admin create --password-stdin`, the same
environment as the server), a few logins give the live view something to draw, then the browser
logs in with the password and a TOTP code, sees the live chart (a screenshot that must not be
blank, and path data in the SVG), searches an account, forces its password reset, and finds the
action in the audit log. No page may break the Content-Security-Policy.
"""

from __future__ import annotations

import re
import secrets
import string
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from mamori.otp import totp_at
from tests.live_server import LiveServer, mamori_command, server_env, start_live_server
from tests.test_e2e_browser import (  # noqa: F401 — fixtures
    TIMEOUT_MS,
    browser,
    chromium_path,
)

pytestmark = pytest.mark.browser

OP_PASSWORD = "console operator passphrase 2026"
USER_PASSWORD = "Harbor lanterns under a quiet moon 7"


@pytest.fixture
def console_server(
    chromium_path: Path,  # noqa: F811 — the fixture imported above
    tmp_path: Path,
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A live server, and the environment the CLI needs to work on its database (the same
    database and secret key: the operator's TOTP key is sealed with it)."""
    extra = {"MAMORI_SECRET_KEY": secrets.token_urlsafe(36)}
    server = start_live_server(tmp_path, extra_env=extra)
    try:
        yield server, server_env(tmp_path, server.port, extra)
    finally:
        server.stop()
        print(f"----- mamori serve log ({server.base_url}) -----\n{server.log()}")


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mamori_command(), *args],
        input=stdin,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_colors(png: bytes, *, limit: int = 64) -> int:
    """How many distinct colors an 8-bit RGB(A) PNG shows (up to `limit`): decoded here with
    zlib, so the test needs no imaging library."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    colors: set[bytes] = set()
    for y in range(height):
        start = y * (stride + 1)
        filter_type, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                up_left = prev[i - channels] if i >= channels else 0
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[i] = (line[i] + pred) & 0xFF
        if y % 4 == 0:
            for x in range(0, stride, channels * 3):
                colors.add(bytes(line[x : x + 3]))
                if len(colors) >= limit:
                    return len(colors)
        prev = line
    return len(colors)


def traffic(base_url: str) -> str:
    """An account, its login, and some failed logins: something for the chart to show."""
    login_id = "e2e_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.post(
            "/api/v1/signup",
            json={"login_id": login_id, "email": f"{login_id}@example.com",
                  "password": USER_PASSWORD},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/login", json={"login_id": login_id, "password": USER_PASSWORD})
        assert r.status_code == 200, r.text
    for i in range(3):
        with httpx.Client(base_url=base_url, timeout=10) as c:
            r = c.post(
                "/api/v1/login", json={"login_id": f"nobody{i}", "password": "not it at all 1"}
            )
            assert r.status_code in (200, 401), r.text  # (a challenge, or a plain refusal)
    return login_id


def csp_errors(page: Page) -> list[str]:
    found: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            found.append(msg.text)

    page.on("console", on_console)
    return found


def test_operator_console_in_chromium(
    browser: Browser,  # noqa: F811 — the fixture imported above
    console_server: tuple[LiveServer, dict[str, str]],
) -> None:
    server, env = console_server
    made = cli(env, "admin", "create", "root", "--role", "admin", "--password-stdin",
               stdin=OP_PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    match = re.search(r"TOTP secret: ([A-Z2-7]{32})", made.stdout)
    assert match, made.stdout
    secret = match.group(1)
    assert "otpauth://totp/" in made.stdout
    listed = cli(env, "admin", "list")
    assert listed.returncode == 0 and "root" in listed.stdout and "admin" in listed.stdout
    login_id = traffic(server.base_url)

    ctx = browser.new_context(
        base_url=server.base_url, locale="en-US", viewport={"width": 1280, "height": 1000}
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page = ctx.new_page()
        errors = csp_errors(page)
        page.goto("/admin")
        expect(page).to_have_url(re.compile(r"/admin/login$"))
        expect(page.locator("h1")).to_have_text("Console login")
        page.fill("#name", "root")
        page.fill("#password", OP_PASSWORD)
        page.fill("#code", totp_at(secret=secret, at=datetime.now(UTC)))
        page.click("#submit")
        expect(page).to_have_url(re.compile(r"/admin$"))
        cookies = {c.get("name"): c for c in ctx.cookies()}
        admin_cookie = cookies["__Host-mamori_admin"]
        assert admin_cookie.get("httpOnly") is True and admin_cookie.get("secure") is True
        assert admin_cookie.get("sameSite") == "Strict"

        # the live view: a chart with the logins just made, drawn on the server
        chart = page.locator("svg#live-chart")
        expect(chart).to_be_visible()
        expect(page.locator("#operator-name")).to_contain_text("root")
        paths = page.eval_on_selector_all(
            "svg#live-chart path.series",
            "els => els.map(e => [e.dataset.series, e.getAttribute('d')])",
        )
        series = dict(paths)
        assert set(series) == {"attempts", "success", "failure", "challenge", "block"}
        assert all(d.startswith("M") and d.count("L") == 59 for d in series.values())
        ys = {float(p.split()[1]) for p in series["attempts"][1:].split("L")}
        assert len(ys) > 1, "the attempts line is flat: no login was drawn"
        png = chart.screenshot()
        assert len(png) > 5000, f"chart screenshot is only {len(png)} bytes"
        assert png_colors(png) >= 4, "the chart screenshot is blank"
        full = page.screenshot(full_page=True)
        assert len(full) > 20000
        expect(page.locator("#top-ip")).to_contain_text("127.0.0.1")

        # an account: search, open, force a password reset (the login was a re-authentication)
        page.click("#nav-accounts")
        page.fill("#q", login_id)
        page.click("#search")
        page.click(f"a.account-link:has-text('{login_id}')")
        expect(page.locator("#account-login-id")).to_contain_text(login_id)
        expect(page.locator("#events")).to_contain_text("127.0.0.1")
        page.fill("#reset-reason", "e2e: password seen in a leak")
        page.click("#act-force-reset")
        expect(page.locator("#done")).to_be_visible()
        expect(page.locator("#account-login-id")).to_contain_text("reset required")

        page.click("#nav-audit")
        row = page.locator('#audit tr[data-action="account.force_reset"]')
        expect(row).to_contain_text("operator:root")
        expect(row).to_contain_text("e2e: password seen in a leak")

        # Japanese, then out
        page.goto("/admin?lang=ja")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        expect(page.locator("h1").first).to_have_text("ログインの状況")
        page.click("#admin-logout")
        expect(page).to_have_url(re.compile(r"/admin/login$"))
        page.goto("/admin/accounts")
        expect(page).to_have_url(re.compile(r"/admin/login$"))
        assert errors == [], errors
    finally:
        ctx.close()
