"""Outgoing security-event webhooks, delivered to a real HTTP sink on loopback, on SQLite and
PostgreSQL: queued in the event's transaction, signed, retried with backoff until the sink
recovers, given up after the last attempt, and never sent twice by concurrent senders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from mamori.checks import check_settings
from mamori.clock import FixedClock
from mamori.flows import webhooks
from mamori.flows.services import Services
from mamori.models import ClientContext, EventType
from mamori.notify.sms import verify_signature
from mamori.store.webhooks import Delivery
from tests.conftest import PASSWORD, clean, client_for, make_services, make_settings, signup
from tests.test_metrics import delta, parse
from tests.test_notify import HTTPSink

SECRET = "webhook-events-secret-" + "w" * 24
CLIENT = ClientContext(
    ip="203.0.113.7",
    user_agent="Mozilla/5.0 Chrome/131.0.0.0",
    browser="Chrome 131",
    os="Windows 10",
    device_type="desktop",
    country="JP",
    as_name="KDDI CORPORATION",
)

Factory = Callable[..., Awaitable[Services]]


@pytest.fixture
async def sink() -> AsyncIterator[Callable[[list[int | None]], Awaitable[HTTPSink]]]:
    sinks: list[HTTPSink] = []

    async def make(statuses: list[int | None]) -> HTTPSink:
        s = HTTPSink(statuses)
        await s.start()
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        await s.aclose()


@pytest.fixture
async def hooked(database_url: str, clock: FixedClock) -> AsyncIterator[Factory]:
    """Services with the webhook pointed at `url` (several may share one database)."""
    made: list[Services] = []

    async def make(url: str, **overrides: Any) -> Services:
        svc = make_services(
            database_url, clock=clock, webhook_url=url, webhook_secret=SECRET, **overrides
        )
        if not made:
            await clean(svc)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.background.drain()
        await svc.store.dispose()


async def add_event(svc: Services, type: str = EventType.LOGIN_FAILURE) -> int:
    async with svc.store.begin() as tx:
        return await tx.events.add(
            at=svc.clock.now(),
            type=type,
            client=CLIENT,
            result="fail",
            reason="wrong_password",
            login_id="alice",
            details={"risk": {"level": "low"}},
        )


async def deliveries(svc: Services, status: str | None = None) -> list[Delivery]:
    async with svc.store.begin() as tx:
        return await tx.webhooks.list(status=status)


async def test_events_are_queued_in_their_own_transaction(
    hooked: Factory, clock: FixedClock
) -> None:
    svc = await hooked("https://hooks.example.net/mamori?token=t0ken")
    with contextlib.suppress(RuntimeError):
        async with svc.store.begin() as tx:
            await tx.events.add(at=clock.now(), type=EventType.LOGIN_FAILURE, client=CLIENT)
            raise RuntimeError("roll back")
    assert await deliveries(svc) == []  # a rolled-back event is never sent

    event_id = await add_event(svc)
    [d] = await deliveries(svc)
    assert (d.event_id, d.event_type, d.status, d.attempts) == (
        event_id,
        "login_failure",
        "pending",
        0,
    )
    assert d.url == "https://hooks.example.net/mamori?token=t0ken"
    assert d.next_attempt_at == clock.now()
    assert json.loads(d.payload) == {
        "id": event_id,
        "type": "login_failure",
        "at": "2026-01-01T00:00:00Z",
        "result": "fail",
        "reason": "wrong_password",
        "account_id": None,
        "login_id": "alice",
        "ip": "203.0.113.7",
        "country": "JP",
        "asn": None,
        "as_name": "KDDI CORPORATION",
        "browser": "Chrome 131",
        "os": "Windows 10",
        "device_type": "desktop",
        "details": {"risk": {"level": "low"}},
    }
    assert "user_agent" not in d.payload and "Mozilla" not in d.payload


async def test_only_wanted_event_types_are_queued(hooked: Factory) -> None:
    svc = await hooked("https://hooks.example.net/", webhook_events=("login_success",))
    await add_event(svc, EventType.LOGIN_FAILURE)
    await add_event(svc, EventType.LOGIN_SUCCESS)
    assert [d.event_type for d in await deliveries(svc)] == ["login_success"]


async def test_nothing_is_queued_without_a_url(services: Services) -> None:
    await add_event(services)
    assert await deliveries(services) == []


async def test_api_events_are_delivered_signed(
    hooked: Factory, sink: Callable[[list[int | None]], Awaitable[HTTPSink]], clock: FixedClock
) -> None:
    s = await sink([200])
    svc = await hooked(s.url)
    before = parse(generate_latest().decode())
    async with client_for(svc) as c:
        assert (await signup(c)).status_code == 201
        r = await c.post("/api/v1/login", json={"login_id": "alice", "password": PASSWORD})
        assert r.status_code == 200
    await svc.background.drain()
    queued = await deliveries(svc, "pending")
    assert {"signup", "login_success"} <= {d.event_type for d in queued}

    result = await webhooks.deliver_due(svc)
    assert (result.claimed, result.delivered, result.retried) == (len(queued), len(queued), 0)
    assert len(s.requests) == len(queued)
    for req in s.requests:
        assert req.method == "POST" and req.path == "/sms?token=t0ken"
        assert req.headers["content-type"] == "application/json; charset=utf-8"
        ts = req.headers["x-mamori-timestamp"]
        assert ts == str(int(clock.now().timestamp()))
        assert verify_signature(
            SECRET, ts, req.body, req.headers["x-mamori-signature"], now=clock.now()
        )
        assert not verify_signature(
            SECRET, ts, req.body + b" ", req.headers["x-mamori-signature"], now=clock.now()
        )
        body = json.loads(req.body)
        assert req.headers["x-mamori-event"] == body["type"]
        assert body["login_id"] == "alice" and body["ip"] == "203.0.113.7"
        assert PASSWORD not in req.body.decode()
    by_id = {int(req.headers["x-mamori-delivery"]): json.loads(req.body) for req in s.requests}
    assert {d.id: d.event_id for d in queued} == {k: v["id"] for k, v in by_id.items()}
    assert await deliveries(svc, "pending") == []
    done = await deliveries(svc, "delivered")
    assert len(done) == len(queued) and all(d.delivered_at == clock.now() for d in done)
    after = parse(generate_latest().decode())
    assert delta(before, after, "mamori_webhook_deliveries_total", result="delivered") == len(
        queued
    )
    assert (await webhooks.deliver_due(svc)).claimed == 0  # nothing is sent twice


async def test_a_failing_sink_gets_it_after_it_recovers(
    hooked: Factory, sink: Callable[[list[int | None]], Awaitable[HTTPSink]], clock: FixedClock
) -> None:
    s = await sink([500, None, 503, 200])  # None: the connection drops unanswered
    svc = await hooked(s.url)
    await add_event(svc)
    rng = random.Random(7)
    start = clock.now()

    r = await webhooks.deliver_due(svc, rng=rng)
    assert (r.claimed, r.delivered, r.retried) == (1, 0, 1)
    [d] = await deliveries(svc)
    assert (d.status, d.attempts, d.last_error, d.locked_until) == ("pending", 1, "HTTP 500", None)
    assert timedelta(seconds=15) <= d.next_attempt_at - start <= timedelta(seconds=30)
    assert (await webhooks.deliver_due(svc, rng=rng)).claimed == 0  # not due yet

    waits = []
    for expected_error in ("RemoteProtocolError", "HTTP 503"):
        clock.set(d.next_attempt_at)
        r = await webhooks.deliver_due(svc, rng=rng)
        assert r.retried == 1
        previous, [d] = d, await deliveries(svc)
        assert d.last_error == expected_error
        waits.append(d.next_attempt_at - clock.now())
        assert d.attempts == previous.attempts + 1
    # exponential: 2nd wait in [30, 60] s, 3rd in [60, 120] s
    assert timedelta(seconds=30) <= waits[0] <= timedelta(seconds=60)
    assert timedelta(seconds=60) <= waits[1] <= timedelta(seconds=120)

    clock.set(d.next_attempt_at)
    r = await webhooks.deliver_due(svc, rng=rng)
    assert (r.claimed, r.delivered) == (1, 1)
    [d] = await deliveries(svc)
    assert (d.status, d.attempts, d.delivered_at) == ("delivered", 4, clock.now())
    # every attempt: the same delivery id and body, each signed at its own time
    assert len(s.requests) == 4
    assert len({req.headers["x-mamori-delivery"] for req in s.requests}) == 1
    assert len({req.body for req in s.requests}) == 1
    for req in s.requests:
        ts = int(req.headers["x-mamori-timestamp"])
        assert verify_signature(SECRET, ts, req.body, req.headers["x-mamori-signature"], now=ts)


async def test_given_up_after_the_last_attempt(
    hooked: Factory, sink: Callable[[list[int | None]], Awaitable[HTTPSink]], clock: FixedClock
) -> None:
    s = await sink([500])
    svc = await hooked(s.url)
    await add_event(svc)
    before = parse(generate_latest().decode())
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        r = await webhooks.deliver_due(svc)
        assert r.claimed == 1, attempt
        clock.advance(webhooks.BACKOFF_CAP + 1)
    assert r.dead == 1
    [d] = await deliveries(svc)
    assert (d.status, d.attempts, d.last_error) == ("dead", webhooks.MAX_ATTEMPTS, "HTTP 500")
    assert (await webhooks.deliver_due(svc)).claimed == 0
    assert len(s.requests) == webhooks.MAX_ATTEMPTS
    after = parse(generate_latest().decode())
    assert delta(before, after, "mamori_webhook_deliveries_total", result="dead") == 1
    n_retry = delta(before, after, "mamori_webhook_deliveries_total", result="retry")
    assert n_retry == webhooks.MAX_ATTEMPTS - 1
    # an operator gives it another round
    async with svc.store.begin() as tx:
        assert await tx.webhooks.retry(d.id, now=clock.now())
    assert (await webhooks.deliver_due(svc)).claimed == 1


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempts in range(1, 20):
        full = min(webhooks.BACKOFF_CAP, webhooks.BACKOFF_BASE * 2 ** (attempts - 1))
        waits = [webhooks.backoff(attempts, rng=rng) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
        assert len(set(waits)) > 1
    assert (
        sum(
            min(webhooks.BACKOFF_CAP, webhooks.BACKOFF_BASE * 2 ** (a - 1))
            for a in range(1, webhooks.MAX_ATTEMPTS)
        )
        >= 4 * 3600
    )  # hours of retries before a delivery is given up


async def test_concurrent_senders_never_send_a_row_twice(
    hooked: Factory, sink: Callable[[list[int | None]], Awaitable[HTTPSink]]
) -> None:
    s = await sink([200])
    a = await hooked(s.url)
    b = await hooked(s.url)  # another "process": its own engine and pool
    for _ in range(40):
        await add_event(a)

    async def sender(svc: Services) -> int:
        sent = 0
        while (r := await webhooks.deliver_due(svc, limit=3)).claimed:
            sent += r.delivered
        return sent

    counts = await asyncio.gather(sender(a), sender(b), sender(a), sender(b))
    assert sum(counts) == 40
    ids = [req.headers["x-mamori-delivery"] for req in s.requests]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert len(await deliveries(a, "delivered")) == 40


async def test_a_lease_keeps_other_senders_off_until_it_runs_out(
    hooked: Factory, sink: Callable[[list[int | None]], Awaitable[HTTPSink]], clock: FixedClock
) -> None:
    s = await sink([200])
    a = await hooked(s.url)
    b = await hooked(s.url)
    await add_event(a)
    now = clock.now()
    async with a.store.begin() as tx:  # a sender claims the row, then dies before sending
        [claimed] = await tx.webhooks.claim(now=now, lease_until=now + webhooks.LEASE, limit=10)
    assert claimed.attempts == 1
    assert (await webhooks.deliver_due(b)).claimed == 0
    clock.advance(webhooks.LEASE - timedelta(seconds=1))
    assert (await webhooks.deliver_due(b)).claimed == 0
    assert s.requests == []
    clock.advance(timedelta(seconds=2))  # the lease ran out: sent (at least once)
    r = await webhooks.deliver_due(b)
    assert (r.claimed, r.delivered) == (1, 1)
    [d] = await deliveries(b)
    assert (d.status, d.attempts) == ("delivered", 2)
    # the dead sender's late failure report no longer applies
    async with a.store.begin() as tx:
        assert not await tx.webhooks.mark_failed(
            d.id,
            lease_until=now + webhooks.LEASE,
            next_attempt_at=now,
            error="late",
            dead=False,
        )


async def test_the_app_delivers_in_the_background(
    database_url: str, sink: Callable[[list[int | None]], Awaitable[HTTPSink]]
) -> None:
    """The lifespan's delivery loop (real clock)."""
    from mamori.clock import SystemClock
    from mamori.web.app import create_app

    s = await sink([503, 200])
    svc = await clean(
        make_services(
            database_url,
            clock=SystemClock(),  # type: ignore[arg-type]
            webhook_url=s.url,
            webhook_secret=SECRET,
            webhook_interval_seconds=0.05,
        )
    )
    app = create_app(svc)
    try:
        async with app.router.lifespan_context(app):
            async with client_for(svc) as c:
                assert (await signup(c)).status_code == 201
            for _ in range(100):
                if s.requests:
                    break
                await asyncio.sleep(0.05)
    finally:
        await svc.store.dispose()
    assert s.requests and s.requests[0].headers["x-mamori-event"]


def test_settings_checks() -> None:
    def codes(**overrides: Any) -> set[str]:
        return {p.code for p in check_settings(make_settings("sqlite+aiosqlite:///x", **overrides))}

    assert "webhook_url" in codes(webhook_url="ftp://x", webhook_secret=SECRET)
    assert "webhook_url" not in codes(webhook_url="https://x.example/h", webhook_secret=SECRET)
    assert "webhook_secret" in codes(webhook_url="https://x.example/h", webhook_secret="short")
    assert "webhook_secret" not in codes(webhook_secret="short")  # no URL: not needed
    warn = [
        p
        for p in check_settings(
            make_settings(
                "sqlite+aiosqlite:///x", dev=False, webhook_url="http://x/", webhook_secret=SECRET
            )
        )
        if p.code == "webhook_url"
    ]
    assert warn and not warn[0].fatal
    assert "webhook_events" in codes(webhook_events=("login_success", "no_such_event"))
    assert "webhook_events" not in codes(webhook_events=("login_success", "ban_added"))
    assert "webhook_interval_seconds" in codes(webhook_interval_seconds=-1)
    assert "log_format" in codes(log_format="xml")
    assert "metrics_token" in codes(metrics_token="short")
    assert "metrics_token" not in codes(metrics_token="t" * 32)


async def test_transport_errors_do_not_leak_the_url(
    hooked: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    svc = await hooked("http://127.0.0.1:9/hook?token=s3cret-token")  # discard port: refused
    await add_event(svc)
    transport = httpx.MockTransport(lambda request: httpx.Response(599))
    async with httpx.AsyncClient(transport=transport) as client:
        r = await webhooks.deliver_due(svc, client=client)
    assert r.retried == 1
    r2 = await webhooks.deliver_due(svc)  # not due yet
    assert r2.claimed == 0
    svc.clock.advance(webhooks.BACKOFF_CAP)  # type: ignore[attr-defined]
    await webhooks.deliver_due(svc)
    [d] = await deliveries(svc)
    assert d.last_error in ("ConnectError", "ConnectTimeout")
    assert "s3cret" not in caplog.text
