"""`mamori simulate` end to end: the shipped smoke scenario (a few hundred requests) against a
live `mamori serve` on loopback, then the simulator's accounting checked, exactly, against what
the server recorded: its security events (per attacker, per answer class), the sessions it
created for attackers, the hashes the attempts reached, and its HTTP metrics per status."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mamori.simulate import report
from mamori.simulate.browser import shared_client
from mamori.simulate.networks import load_catalog
from mamori.simulate.outcomes import LoginRecord
from mamori.simulate.population import generate
from mamori.simulate.runner import Runner, RunResult
from mamori.simulate.scenario import load_scenario
from mamori.simulate.seed import seed_mamori
from mamori.simulate.server import compressed_env
from mamori.simulate.targets import MamoriTarget
from tests.live_server import start_live_server

pytestmark = pytest.mark.slow

TOKEN = "simulate-e2e-operator-token-" + "t" * 12
LOCK_REASONS = {"locked", "lock_started", "device_locked", "device_lock_started"}
HASHED_FAILURES = {"wrong_password", "unknown_login_id", "restricted", "suspended"}


def metric_counts(text: str, route: str) -> Counter[str]:
    """mamori_http_requests_total for POST `route`, by status."""
    counts: Counter[str] = Counter()
    pattern = re.compile(r"^mamori_http_requests_total\{([^}]*)\} ([0-9.e+]+)$")
    for line in text.splitlines():
        m = pattern.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("route") == route and labels.get("method") == "POST":
            counts[labels["status"]] += int(float(m.group(2)))
    return counts


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    ip: str
    details: dict[str, Any]

    @property
    def completes_challenge(self) -> bool:
        return self.type == "login_success" and bool(self.details.get("challenge"))


def server_events(db: Path, since: datetime) -> list[Event]:
    """The server's login events since `since` (security_events, read straight from SQLite)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT type, reason, ip, details FROM security_events WHERE at >= ? "
            "AND type IN ('login_success', 'login_failure', 'login_challenged') ORDER BY id",
            (since.strftime("%Y-%m-%d %H:%M:%S.%f"),),
        ).fetchall()
    return [Event(t, reason, ip, json.loads(details or "{}")) for t, reason, ip, details in rows]


def event_class(e: Event) -> str:
    """The answer class an event stands for (password steps and second steps)."""
    if e.type == "login_success":
        return "second_step:ok" if e.completes_challenge else "password:ok"
    if e.type == "login_challenged":
        return "password:challenge:valid"
    if e.reason in LOCK_REASONS:
        return "password:temporarily_locked"
    if e.reason == "risk_denied":
        return "password:login_denied"
    if e.details.get("challenged"):
        return "password:challenge:invalid"
    if e.reason == "restricted":
        return "password:restricted"
    if e.reason in HASHED_FAILURES:
        return "password:invalid_credentials"
    return f"password:other:{e.reason}"


def record_class(r: LoginRecord) -> str | None:
    """The same class for a simulator record, None for answers the server keeps no event of
    (refused by the ban gate or its race twin in the flow; shed at the hash gate)."""
    if r.step == "second_step":
        return "second_step:ok" if r.cls == "ok" else None
    if r.cls == "challenge":
        return f"password:challenge:{'valid' if r.valid else 'invalid'}"
    if r.cls in ("too_many_requests", "overloaded"):
        return None
    return f"password:{r.cls}"


def by_ip(items: Iterable[tuple[str, str | None]]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for ip, cls in items:
        if cls is not None:
            out.setdefault(ip, Counter())[cls] += 1
    return out


async def run_smoke(tmp_path: Path) -> tuple[RunResult, Path, Counter[str], datetime]:
    scenario = load_scenario("smoke")
    env, _ = compressed_env(scenario.run.compress)
    server = start_live_server(
        tmp_path,
        extra_env={
            **env,
            "MAMORI_TRUSTED_PROXIES": "127.0.0.1/32",
            "MAMORI_OPERATOR_TOKEN": TOKEN,
        },
    )
    try:
        catalog = load_catalog()
        population = generate(scenario.population, catalog)
        async with shared_client(connections=scenario.run.concurrency) as http:
            target = MamoriTarget(http, server.base_url, admin_token=TOKEN)
            seeded = await seed_mamori(target, http, population, scenario.population)
            before = metric_counts((await http.get(server.base_url + "/metrics")).text, LOGIN)
            started = datetime.now(UTC)
            result = await Runner(scenario, target, seeded, catalog, http).run()
            after = metric_counts((await http.get(server.base_url + "/metrics")).text, LOGIN)
    except BaseException:
        print(server.log()[-5000:])
        raise
    finally:
        server.stop()
    return result, tmp_path / "e2e.db", after - before, started


LOGIN = "/api/v1/login"


async def test_smoke_scenario_accounting_matches_the_server(tmp_path: Path) -> None:
    result, db, statuses, started = await run_smoke(tmp_path)
    out = result.outcomes
    assert out is not None
    records = result.records
    assert 200 <= len(records) <= 800, len(records)
    assert not [r for r in records if r.cls.startswith("transport_error")]

    # every login request the simulator sent is in the server's metrics, by status
    sim_statuses = Counter(str(r.status) for r in records if r.step == "password")
    assert sim_statuses == statuses, (sim_statuses, statuses)

    # every answer that left an event matches the server's events, address by address
    events = server_events(db, started)
    server_by_ip = by_ip((e.ip, event_class(e)) for e in events)
    sim_by_ip = by_ip((r.ip, record_class(r)) for r in records)
    assert sim_by_ip == server_by_ip

    seen = {a.cls for a in result.attacks}
    assert "challenge" in seen and seen & {"temporarily_locked", "too_many_requests"}, seen

    # the attackers' view: per campaign, answer classes, hashes reached, sessions created
    attacker_ips = {a.ip for a in result.attacks}
    legit_ips = {r.ip for r in records if r.actor == "legit"}
    assert not attacker_ips & legit_ips
    for c in out.campaigns:
        ips = {a.ip for a in result.attacks if a.campaign == c.name}
        mine = [e for e in events if e.ip in ips]
        hashed = [
            e
            for e in mine
            if e.type == "login_challenged"
            or (e.type == "login_success" and not e.completes_challenge)
            or (e.type == "login_failure" and e.reason in HASHED_FAILURES)
        ]
        assert c.reached_hash == len(hashed), c.name
        sessions = [e for e in mine if e.type == "login_success"]
        sim_sessions = [r for r in records if r.actor == c.name and r.cls == "ok" and r.session]
        assert len(sessions) == len(sim_sessions), c.name
        taken = {a.user for a in result.attacks if a.campaign == c.name and a.takeover}
        assert c.takeovers == len(taken) == len({e.details["session_id"] for e in sessions})
        locked = [e for e in mine if e.type == "login_failure" and e.reason in LOCK_REASONS]
        assert c.classes.get("temporarily_locked", 0) == len(locked), c.name
        assert (
            sum(c.classes.values())
            == c.attempts
            == len([a for a in result.attacks if a.campaign == c.name])
        )

    # the outcomes the smoke scenario is there to show
    relay = next(c for c in out.campaigns if c.kind == "phishing_relay")
    relayed = [
        a for a in result.attacks if a.campaign == relay.name and a.valid and a.cls == "challenge"
    ]
    assert relayed  # the victims' passwords were still good when the relay tried them
    # a relayed code completes the login: reported, not hidden
    assert relay.takeovers == len({a.user for a in relayed})
    for c in out.campaigns:
        if c.kind != "phishing_relay":
            assert c.takeovers == 0, c
    stuffing = next(c for c in out.campaigns if c.kind == "stuffing")
    assert stuffing.confirmed == 0
    assert out.legit.total.logins == len(result.legit) > 0

    # and the report is written
    path = report.write_scenario(result, tmp_path / "report")
    text = path.read_text()
    assert "## Outcomes per campaign" in text and "stuffing" in text
    assert (tmp_path / "report" / "attempts.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report" / "results.json").read_text())["scenario"] == "smoke"


def test_metric_parser() -> None:
    text = (
        'mamori_http_requests_total{method="POST",route="/api/v1/login",status="401"} 3.0\n'
        'mamori_http_requests_total{method="POST",route="/api/v1/login",status="200"} 2.0\n'
        'mamori_http_requests_total{method="GET",route="/api/v1/me",status="200"} 7.0\n'
    )
    assert metric_counts(text, LOGIN) == Counter({"401": 3, "200": 2})


def test_live_server_accepts_extra_env() -> None:
    # the e2e test relies on it to pass the compressed settings
    import inspect

    from tests import live_server

    assert "extra_env" in inspect.signature(live_server.start_live_server).parameters
    assert httpx is not None
