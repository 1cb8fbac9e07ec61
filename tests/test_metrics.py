"""/metrics scraped through the ASGI app and parsed with prometheus_client's text parser, on
SQLite and PostgreSQL; the bearer token; no personal data in label values; several processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from mamori import metrics
from mamori.clock import FixedClock
from mamori.flows import operator
from mamori.flows.defense import ATTACK_STATE
from mamori.flows.services import Services
from mamori.models import ClientContext, EventType
from mamori.web.app import create_app, detector_loop
from tests.conftest import PASSWORD, UA_CHROME, clean, client_for, make_services, signup

WRONG = "not the password at all 123"
TOKEN = "metrics-token-" + "m" * 32
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(c: httpx.AsyncClient, token: str | None = None) -> Samples:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    r = await c.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


async def login(c: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await c.post("/api/v1/login", json={"login_id": "alice", "password": password})


async def test_login_outcomes_locks_bans_and_latency(
    services: Services, client: httpx.AsyncClient
) -> None:
    before = await scrape(client)
    assert (await signup(client)).status_code == 201
    assert (await login(client)).json()["status"] == "ok"
    assert (await login(client, WRONG)).status_code == 401
    # a new browser: challenged (right or wrong password alike) until the lock
    async with client_for(services, ip="198.51.100.40") as other:
        answers = [(await login(other, WRONG)).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    # a banned source is refused by the gate, before routing
    await operator.add_ban(
        services,
        kind="ip",
        value="198.51.100.99",
        reason="test",
        seconds=600,
        actor=ClientContext(ip="127.0.0.1", user_agent="test"),
        by="test",
    )
    async with client_for(services, ip="198.51.100.99") as banned:
        assert (await login(banned)).status_code == 429
    assert (await client.get("/no/such/alice-203.0.113.7")).status_code == 404
    await services.background.drain()
    after = await scrape(client)

    outcomes = {
        o: delta(before, after, "mamori_logins_total", outcome=o)
        for o in (
            "ok",
            "invalid",
            "challenge",
            "locked",
            "blocked",
            "denied",
            "restricted",
            "reset_required",
        )
    }
    assert outcomes == {
        "ok": 1,
        "invalid": 1,
        "challenge": 5,
        "locked": 1,
        "blocked": 1,
        "denied": 0,
        "restricted": 0,
        "reset_required": 0,
    }
    assert delta(before, after, "mamori_challenges_total", result="started") == 5
    assert delta(before, after, "mamori_locks_total", scope="login_id") == 1
    assert delta(before, after, "mamori_requests_blocked_total", route="/api/v1/login") == 1
    assert (
        delta(
            before, after, "mamori_bans_added_total", kind="ip", origin="operator", mode="enforce"
        )
        == 1
    )
    assert delta(before, after, "mamori_security_events_total", type="signup") == 1
    assert delta(before, after, "mamori_security_events_total", type="login_success") == 1
    assert delta(before, after, "mamori_security_events_total", type="account_locked") == 1
    # latency by route template and method: 9 login requests, each in the histogram
    login_route = {"route": "/api/v1/login", "method": "POST"}
    assert delta(before, after, "mamori_http_request_duration_seconds_count", **login_route) == 9
    assert (
        delta(
            before, after, "mamori_http_request_duration_seconds_bucket", **login_route, le="+Inf"
        )
        == 9
    )
    assert delta(before, after, "mamori_http_requests_total", **login_route, status="429") == 2
    assert (
        delta(
            before,
            after,
            "mamori_http_requests_total",
            route="unmatched",
            method="GET",
            status="404",
        )
        == 1
    )
    # notices went out (the lock notice to alice: email and inbox)
    assert (
        delta(before, after, "mamori_notices_sent_total", kind="account_locked", channel="email")
        == 1
    )


async def test_no_personal_data_in_label_values(
    services: Services, client: httpx.AsyncClient
) -> None:
    assert (await signup(client)).status_code == 201
    assert (await login(client, WRONG)).status_code == 401
    await client.get("/api/v1/alice/203.0.113.7?email=alice@example.com")
    await services.background.drain()
    r = await client.get("/metrics")
    secrets = ("alice", "203.0.113", "example.com", "Chrome", "Windows", "KDDI", PASSWORD, WRONG)
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            for label_value in sample.labels.values():
                assert not any(s.lower() in label_value.lower() for s in secrets), sample
    assert not any(s in r.text for s in secrets)


async def test_metrics_token_is_required_when_set(database_url: str) -> None:
    svc = await clean(make_services(database_url, clock=FixedClock(), metrics_token=TOKEN))
    try:
        async with client_for(svc) as c:
            r = await c.get("/metrics")
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "mamori_" not in r.text
            for wrong in ("Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN):
                assert (
                    await c.get("/metrics", headers={"authorization": wrong})
                ).status_code == 401
            samples = await scrape(c, TOKEN)
            assert any(name == "mamori_http_requests_total" for name, _ in samples)
    finally:
        await svc.store.dispose()


async def test_events_are_counted_only_when_committed(services: Services) -> None:
    before = parse(generate_latest().decode())
    with contextlib.suppress(RuntimeError):
        async with services.store.begin() as tx:
            await tx.events.add(
                at=services.clock.now(),
                type=EventType.ATTACK_STARTED,
                client=ClientContext(ip="", user_agent=""),
                result="detected",
            )
            raise RuntimeError("roll back")
    mid = parse(generate_latest().decode())
    assert delta(before, mid, "mamori_attacks_started_total") == 0
    async with services.store.begin() as tx:
        await tx.events.add(
            at=services.clock.now(),
            type=EventType.ATTACK_STARTED,
            client=ClientContext(ip="", user_agent=""),
            result="detected",
        )
    after = parse(generate_latest().decode())
    assert delta(before, after, "mamori_attacks_started_total") == 1
    assert delta(before, after, "mamori_security_events_total", type="attack_started") == 1


def test_event_mapping_uses_fixed_vocabularies() -> None:
    before = parse(generate_latest().decode())
    metrics.count_event("notice_sent", reason="new_device", details={"channels": ["email", "sms"]})
    metrics.count_event("notice_suppressed", reason="new_device", details={"channels": []})
    metrics.count_event("notice_sent", reason="Alice@Example.com", details={"channels": ["x"]})
    metrics.count_event("login_success", result="ok", details={"method": "totp", "challenge": True})
    metrics.count_event("challenge_failed", result="fail", reason="code_invalid")
    metrics.count_event("challenge_failed", result="fail", reason="too_many")
    metrics.count_event("ban_added", result="monitor", details={"kind": "cidr", "origin": "rule"})
    metrics.count_event("ban_added", result="ok", details={"kind": "weird", "origin": "alice"})
    metrics.count_event("Login Success 203.0.113.7")
    after = parse(generate_latest().decode())
    n = "mamori_notices_sent_total"
    assert delta(before, after, n, kind="new_device", channel="email") == 1
    assert delta(before, after, n, kind="new_device", channel="sms") == 1
    assert delta(before, after, n, kind="new_device", channel="inbox") == 2
    assert delta(before, after, "mamori_notices_suppressed_total", kind="new_device") == 1
    assert delta(before, after, n, kind="other", channel="other") == 1
    assert delta(before, after, "mamori_challenges_total", result="passed") == 1
    assert delta(before, after, "mamori_challenges_total", result="failed") == 1
    assert delta(before, after, "mamori_challenges_total", result="exhausted") == 1
    b = "mamori_bans_added_total"
    assert delta(before, after, b, kind="cidr", origin="rule", mode="monitor") == 1
    assert delta(before, after, b, kind="other", origin="other", mode="enforce") == 1
    assert delta(before, after, "mamori_security_events_total", type="other") == 1


async def test_detector_loop_sets_the_under_attack_gauge(
    services: Services, clock: FixedClock
) -> None:
    async def one_tick() -> float:
        task = asyncio.create_task(detector_loop(services, 0.01))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return value(parse(generate_latest().decode()), "mamori_under_attack")

    assert await one_tick() == 0
    now = clock.now().timestamp()
    await services.defender.counters.raise_until(ATTACK_STATE, until=now + 900, now=now)
    clock.advance(2)  # past the one-second cache of the state
    assert await one_tick() == 1
    clock.advance(901)
    assert await one_tick() == 0


def _run_worker(env: Mapping[str, str], code: str) -> str:
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_worker_processes_are_summed(tmp_path: Path) -> None:
    """What `serve --workers N` sets up: every worker writes to PROMETHEUS_MULTIPROC_DIR and
    /metrics (any worker) adds them up."""
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    worker = """
        from mamori import metrics
        metrics.count_event("login_success", result="ok", details={"method": "password"})
        metrics.observe_request(route="/api/v1/login", method="POST", status=200, seconds=0.02)
        metrics.set_under_attack(False)
    """
    _run_worker(env, worker)
    _run_worker(env, worker)
    text = _run_worker(env, "from mamori import metrics; print(metrics.exposition()[0].decode())")
    samples = parse(text)
    assert value(samples, "mamori_logins_total", outcome="ok") == 2
    route = {"route": "/api/v1/login", "method": "POST"}
    assert value(samples, "mamori_http_request_duration_seconds_count", **route) == 2
    assert value(samples, "mamori_http_request_duration_seconds_bucket", **route, le="0.025") == 2
    # the same files, read from here
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
    assert (
        value(parse(generate_latest(registry).decode()), "mamori_logins_total", outcome="ok") == 2
    )


async def test_metrics_route_is_in_the_app_without_auth_by_default(services: Services) -> None:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://testserver", headers={"user-agent": UA_CHROME}
    ) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {
        "mamori_logins",
        "mamori_challenges",
        "mamori_locks",
        "mamori_bans_added",
        "mamori_under_attack",
        "mamori_notices_sent",
        "mamori_webhook_deliveries",
        "mamori_http_request_duration_seconds",
    } <= names


@pytest.mark.parametrize("route", ["/api/v1/login", "/login"])
def test_count_blocked_counts_login_routes_as_login_outcomes(route: str) -> None:
    before = parse(generate_latest().decode())
    metrics.count_blocked(method="POST", route=route)
    metrics.count_blocked(method="POST", route="/api/v1/signup")
    after = parse(generate_latest().decode())
    assert delta(before, after, "mamori_logins_total", outcome="blocked") == 1
    assert delta(before, after, "mamori_requests_blocked_total", route="/api/v1/signup") == 1
