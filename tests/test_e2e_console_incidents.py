"""End to end in headless Chromium: an incident in the operators' console against a real
`mamori serve` whose mail goes to an SMTP sink on loopback (aiosmtpd).

The accounts are created over HTTP on the live server. The incident itself is then written into
the live server's database through the store (a closed incident: a rule ban on an attack IP and
password-confirming logins from it, the shape `tests/test_incidents.py::seed` uses) rather than
by replaying an attack and waiting for the server's detector loop, which would make the test
slow and timing-dependent. In the browser: operator login with a TOTP code, the incident page,
the preview and run of "reset" and then "notify"; then each affected account's notice must be
in the SMTP sink and the database must say that each must reset its password.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, expect

from mamori.clock import FixedClock
from mamori.models import ClientContext, EventType
from mamori.otp import totp_at
from tests.conftest import make_services
from tests.live_server import LiveServer, free_port, server_env, start_live_server
from tests.test_e2e_browser import (  # noqa: F401 — fixtures
    TIMEOUT_MS,
    browser,
    chromium_path,
)
from tests.test_e2e_console import OP_PASSWORD, USER_PASSWORD, cli, csp_errors
from tests.test_notify import CollectingHandler

pytestmark = pytest.mark.browser

ATTACK_IP = "10.3.0.7"
VICTIMS = ("inc_victim_a", "inc_victim_b")
T = TypeVar("T")


def in_thread(coro: Coroutine[object, object, T]) -> T:
    """Run a coroutine on its own event loop, away from Playwright's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


@pytest.fixture
def sink() -> Iterator[tuple[CollectingHandler, int]]:
    handler, port = CollectingHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def incident_server(
    chromium_path: Path,  # noqa: F811 — the fixture imported above
    tmp_path: Path,
    sink: tuple[CollectingHandler, int],
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    extra = {
        "MAMORI_SECRET_KEY": secrets.token_urlsafe(36),
        "MAMORI_SMTP_HOST": "127.0.0.1",
        "MAMORI_SMTP_PORT": str(sink[1]),
        "MAMORI_MAIL_FROM": "Mamori <no-reply@mamori.test>",
    }
    server = start_live_server(tmp_path, extra_env=extra)
    try:
        yield server, server_env(tmp_path, server.port, extra)
    finally:
        server.stop()
        print(f"----- mamori serve log ({server.base_url}) -----\n{server.log()}")


def signup(base_url: str, login_id: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.post(
            "/api/v1/signup",
            json={"login_id": login_id, "email": f"{login_id}@example.com",
                  "password": USER_PASSWORD},
        )  # fmt: skip
        assert r.status_code == 201, r.text


async def open_incident(env: dict[str, str]) -> int:
    """A closed incident half an hour ago: a rule ban on ATTACK_IP and a login from it into
    each victim (written in the live server's database, with its secret key)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    svc = make_services(
        env["MAMORI_DATABASE_URL"], clock=FixedClock(start), secret_key=env["MAMORI_SECRET_KEY"]
    )
    attacker = ClientContext(ip=ATTACK_IP, user_agent="Mozilla/5.0 attack")
    try:
        async with svc.store.begin() as tx:
            incident_id, _ = await tx.incidents.open_unless_open(
                at=start, summary={"since": start.isoformat(), "reasons": ["e2e"]}
            )
            await tx.events.add(
                at=start,
                type=EventType.BAN_ADDED,
                client=ClientContext(ip="", user_agent="mamori-defense"),
                result="ok",
                reason="stuffing_ip",
                details={"kind": "ip", "value": ATTACK_IP, "origin": "rule"},
            )
            for n, login_id in enumerate(VICTIMS):
                account = await tx.accounts.by_login_key(login_id)
                assert account is not None
                await tx.events.add(
                    at=start + timedelta(seconds=5 + n),
                    type=EventType.LOGIN_SUCCESS,
                    client=attacker,
                    result="ok",
                    account_id=account.id,
                    login_id=login_id,
                )
            await tx.incidents.close_open(at=start + timedelta(minutes=20))
    finally:
        await svc.store.dispose()
    return incident_id


async def must_reset(env: dict[str, str]) -> dict[str, bool]:
    svc = make_services(
        env["MAMORI_DATABASE_URL"],
        clock=FixedClock(datetime.now(UTC)),
        secret_key=env["MAMORI_SECRET_KEY"],
    )
    out = {}
    try:
        async with svc.store.begin() as tx:
            for login_id in VICTIMS:
                account = await tx.accounts.by_login_key(login_id)
                assert account is not None
                out[login_id] = account.password_reset_required
    finally:
        await svc.store.dispose()
    return out


def incident_mail(sink: CollectingHandler) -> dict[str, str]:
    """{recipient: subject} of the incident notices in the sink."""
    found = {}
    for got in sink.received:
        mail = got.parsed()
        if mail["X-Mamori-Kind"] == "incident_response":
            for to in got.rcpt_tos:
                found[to] = str(mail["Subject"])
    return found


def test_incident_response_in_chromium(
    browser: Browser,  # noqa: F811 — the fixture imported above
    incident_server: tuple[LiveServer, dict[str, str]],
    sink: tuple[CollectingHandler, int],
) -> None:
    server, env = incident_server
    handler = sink[0]
    made = cli(env, "admin", "create", "root", "--role", "admin", "--password-stdin",
               stdin=OP_PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    match = re.search(r"TOTP secret: ([A-Z2-7]{32})", made.stdout)
    assert match, made.stdout
    secret = match.group(1)
    for login_id in VICTIMS:
        signup(server.base_url, login_id)
    incident_id = in_thread(open_incident(env))
    assert in_thread(must_reset(env)) == {v: False for v in VICTIMS}

    ctx = browser.new_context(
        base_url=server.base_url, locale="en-US", viewport={"width": 1280, "height": 1000}
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page = ctx.new_page()
        errors = csp_errors(page)
        page.goto("/admin/login")
        page.fill("#name", "root")
        page.fill("#password", OP_PASSWORD)
        page.fill("#code", totp_at(secret=secret, at=datetime.now(UTC)))
        page.click("#submit")
        expect(page).to_have_url(re.compile(r"/admin$"))

        page.click("#nav-incidents")
        page.click(f"a.incident-link[href='/admin/incidents/{incident_id}']")
        expect(page.locator("#incident-title")).to_contain_text(f"#{incident_id}")
        expect(page.locator("#confirmed-count")).to_have_text(str(len(VICTIMS)))
        expect(page.locator("#logged-in-count")).to_have_text(str(len(VICTIMS)))
        expect(page.locator("#sources")).to_contain_text(ATTACK_IP)
        for login_id in VICTIMS:
            expect(page.locator("#confirmed")).to_contain_text(login_id)

        for action in ("reset", "notify"):
            page.select_option("#preview-action", action)
            page.click("#preview-submit")
            expect(page.locator("#preview")).to_have_attribute("data-action", action)
            expect(page.locator("#preview-todo")).to_have_text(f"{len(VICTIMS)} to do")
            page.fill("#respond-reason", f"e2e: {action} after the stuffing")
            page.click("#respond-submit")
            expect(page).to_have_url(re.compile(rf"/admin/incidents/{incident_id}\?done={action}$"))
            expect(page.locator("#done")).to_be_visible()
            row = page.locator(f'#actions-taken tr[data-kind="{action}"]')
            expect(row).to_contain_text(f"{len(VICTIMS)}/{len(VICTIMS)}")
        assert errors == [], errors
    finally:
        ctx.close()

    wanted = {f"{v}@example.com" for v in VICTIMS}
    deadline = time.monotonic() + 15
    while set(incident_mail(handler)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(incident_mail(handler)) == wanted, (handler.received, server.log())
    assert in_thread(must_reset(env)) == {v: True for v in VICTIMS}
