"""Login codes over real transports: a challenged login's code reaches a real SMTP server
(aiosmtpd on loopback) and a real HTTP sink for the SMS webhook, and the code from there
completes the login. In dev mode the outbox keeps a copy as well."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.notify.sms import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.conftest import PASSWORD, TEST_GEO, clean, client_for, make_settings, signup
from tests.test_notify import SECRET, CollectingHandler, HTTPSink, free_port

UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def smtp() -> Iterator[tuple[CollectingHandler, int]]:
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def sink() -> AsyncIterator[HTTPSink]:
    s = HTTPSink([200])
    await s.start()
    yield s
    await s.aclose()


@pytest.fixture
async def real_svc(
    database_url: str,
    clock: FixedClock,
    smtp: tuple[CollectingHandler, int],
    sink: HTTPSink,
) -> AsyncIterator[Services]:
    settings = make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_timeout_seconds=5.0,
        sms_webhook_url=sink.url,
        sms_webhook_secret=SECRET,
    )
    svc = await clean(build_services(settings, clock=clock, geo=TEST_GEO))
    yield svc
    await svc.background.drain()
    await svc.store.dispose()


def six_digits(text: str) -> str:
    found = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
    assert len(found) == 1, text
    return str(found[0])


async def challenged(svc: Services) -> tuple[httpx.AsyncClient, dict[str, object]]:
    home = client_for(svc)
    assert (await signup(home, "kenta")).status_code == 201
    r = await home.post("/api/v1/login", json={"login_id": "kenta", "password": PASSWORD})
    assert r.json()["status"] == "ok"
    await home.aclose()
    away = client_for(svc, ip="198.51.100.77")
    away.headers["user-agent"] = UA_FIREFOX
    r = await away.post("/api/v1/login", json={"login_id": "kenta", "password": PASSWORD})
    body = r.json()
    assert body["status"] == "challenge", body
    return away, body


async def test_email_code_over_smtp_completes_the_login(
    real_svc: Services, smtp: tuple[CollectingHandler, int]
) -> None:
    away, body = await challenged(real_svc)
    await real_svc.background.drain()
    handler = smtp[0]
    login_mails = [m.parsed() for m in handler.received if b"login_code" in m.content]
    assert len(login_mails) == 1
    mail = login_mails[0]
    assert mail["To"] == "kenta@example.com"
    assert mail["X-Mamori-Kind"] == "login_code"
    text = mail.get_content()
    assert "198.51.100.77" in text  # where the attempt came from
    code = six_digits(text)
    # the dev outbox kept the same message
    outbox = (await away.get("/api/v1/dev/outbox", params={"to": "kenta@example.com"})).json()
    assert any(item["kind"] == "login_code" for item in outbox["items"])
    r = await away.post(
        "/api/v1/login/challenge",
        json={"challenge_id": body["challenge_id"], "method": "email", "code": code},
    )
    assert r.status_code == 200, r.text
    assert (await away.get("/api/v1/me")).status_code == 200
    await away.aclose()


async def test_sms_code_through_the_webhook_completes_the_login(
    real_svc: Services, sink: HTTPSink
) -> None:
    async with real_svc.store.begin() as tx:
        await tx.accounts.set_phone(1, phone="+819012345678", verified_at=None)
    away, _ = await challenged(real_svc)
    async with real_svc.store.begin() as tx:
        await tx.accounts.set_phone(1, phone="+819012345678", verified_at=real_svc.clock.now())
    # a new login from that browser now offers SMS first
    r = await away.post("/api/v1/login", json={"login_id": "kenta", "password": PASSWORD})
    body = r.json()
    assert body["sent_to"] == "sms"
    await real_svc.background.drain()
    assert len(sink.requests) == 1
    request = sink.requests[0]
    payload = json.loads(request.body)
    assert payload["to"] == "+819012345678"
    assert payload["kind"] == "login_code_sms"
    assert verify_signature(
        SECRET,
        request.headers[TIMESTAMP_HEADER.lower()],
        request.body,
        request.headers[SIGNATURE_HEADER.lower()],
        now=real_svc.clock.now(),
    )
    r = await away.post(
        "/api/v1/login/challenge",
        json={
            "challenge_id": body["challenge_id"],
            "method": "sms",
            "code": six_digits(payload["body"]),
        },
    )
    assert r.status_code == 200, r.text
    await away.aclose()
