"""Incidents on a replayed attack with known truth: the detector opens and closes the incident,
its two lists are exactly the planted valid pairs, the responses preview, run, are idempotent
and resume after a crash, and the report has the LINE table. Through the HTTP API, on SQLite
and PostgreSQL; the CLI against a file SQLite database."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mamori.clock import FixedClock
from mamori.flows import incident_actions, incidents, notices, operator
from mamori.flows.incident_report import csv_text, markdown
from mamori.flows.services import Services
from mamori.geo import GeoInfo, StaticGeoResolver
from mamori.models import ClientContext, EventType
from mamori.notify import MemoryNotifier
from mamori.store import tables as t
from tests.conftest import PASSWORD, clean, client_for, make_services

GEO = StaticGeoResolver(
    {
        "10.1.0.0/16": GeoInfo("JP", "Japan", None, "RESIDENTIAL-A", "10.1.0.0/16"),
        "10.2.0.0/16": GeoInfo("TW", "Taiwan", None, "RESIDENTIAL-B", "10.2.0.0/16"),
        "10.3.0.0/16": GeoInfo("US", "United States", None, "HOSTING-C", "10.3.0.0/16"),
        "192.0.2.0/24": GeoInfo("NL", "Netherlands", None, "VPS-D", "192.0.2.0/24"),
        "172.16.0.0/16": GeoInfo("JP", "Japan", None, "HOME-JP", "172.16.0.0/16"),
        "172.17.0.0/16": GeoInfo("TW", "Taiwan", None, "HOME-TW", "172.17.0.0/16"),
        "172.18.0.0/16": GeoInfo("TH", "Thailand", None, "HOME-TH", "172.18.0.0/16"),
    }
)
TOKEN = "incident-operator-token-" + "z" * 24
AUTH = {"authorization": f"Bearer {TOKEN}"}
ATTACK_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/118.0 Safari/537.36"
USERS = 40
HISTORY = range(30)  # users 0..29 log in before the attack; 30..39 never do
CHALLENGED = (3, 7, 12, 18, 25)  # right password from a new browser: challenged (confirmed)
LOGGED_IN = (30, 31, 32)  # no history: the right password logs straight in
RESTRICTED = 34  # restricted account: 403 only after the right password (confirmed)
ALLOWLISTED_VICTIM = 35  # logged into from an allowlisted IP marked by its own failures
LEGIT_NEW_BROWSER = 36  # logs in from home in a new browser during the attack: not affected
EARLY_TRAVELLER = 37  # logged in from an attack network before the incident: not affected
MARKED_IP = "192.0.2.10"  # allowlisted: never banned, marked by its failures


def name(i: int) -> str:
    return f"user{i:03d}"


def password(i: int) -> str:
    return f"{PASSWORD} no{i * 7919}"


def home_ip(i: int) -> str:
    net = 16 if i % 10 < 7 else 17 if i % 10 < 9 else 18
    return f"172.{net}.{i // 200}.{i % 200 + 1}"


def home_country(i: int) -> str:
    return "JP" if i % 10 < 7 else "TW" if i % 10 < 9 else "TH"


async def post_login(
    c: httpx.AsyncClient, login_id: str, pw: str, ip: str, ua: str | None = None
) -> httpx.Response:
    headers = {"x-forwarded-for": ip}
    if ua:
        headers["user-agent"] = ua
    return await c.post(
        "/api/v1/login", json={"login_id": login_id, "password": pw}, headers=headers
    )


async def replay(svc: Services, clock: FixedClock) -> dict[str, Any]:
    """Baseline, then the attack with planted valid pairs; returns the truth and the clients."""
    rng = random.Random(11)
    browsers: dict[int, httpx.AsyncClient] = {}
    for i in range(USERS):
        c = client_for(svc, "127.0.0.1")
        r = await c.post(
            "/api/v1/signup",
            json={"login_id": name(i), "email": f"{name(i)}@example.com", "password": password(i)},
            headers={"x-forwarded-for": home_ip(i)},
        )
        assert r.status_code in (200, 201), r.text
        browsers[i] = c
    await operator.restrict(
        svc,
        login_id=name(RESTRICTED),
        reason="abuse",
        actor=ClientContext(ip="127.0.0.1", user_agent="t"),
        by="test",
    )

    async def legit_minute() -> None:
        for n, i in enumerate(rng.sample(list(HISTORY), 12)):
            if n < 2:
                r = await post_login(browsers[i], name(i), "typo" + password(i), home_ip(i))
                assert r.status_code == 401
            r = await post_login(browsers[i], name(i), password(i), home_ip(i))
            assert r.status_code == 200, r.text

    # before the incident: the history users log in; one traveller from an attack network
    traveller = client_for(svc, "127.0.0.1")
    r = await post_login(traveller, name(EARLY_TRAVELLER), password(EARLY_TRAVELLER), "10.1.250.1")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    for i in HISTORY:
        r = await post_login(browsers[i], name(i), password(i), home_ip(i))
        assert r.status_code == 200, r.text
    for _ in range(10):
        await legit_minute()
        clock.advance(60)
        assert not (await svc.defender.tick()).attack
    async with svc.store.begin() as tx:
        assert await tx.incidents.current() is None

    # the attack: a leaked list through 450 proxy IPs in three networks, 1-2 tries each
    planted = {i: "challenge" for i in CHALLENGED} | {i: "ok" for i in LOGGED_IN}
    planted[RESTRICTED] = "restricted"
    leaked: list[tuple[str, str]] = [(f"leaked{n:05d}", f"pw-{n}-2019") for n in range(620)]
    leaked += [(name(i), "Summer2019!") for i in (1, 2, 5, 9)]  # wrong passwords, real IDs
    rng.shuffle(leaked)
    for k, i in enumerate(sorted(planted)):
        leaked.insert(40 + k * 70, (name(i), password(i)))
    proxies = [f"10.{1 + n % 3}.{(n // 3) % 50}.{n // 150 + 1}" for n in range(450)]
    attacker = client_for(svc, "127.0.0.1")
    first_ip: dict[str, str] = {}
    for n, (login_id, pw) in enumerate(leaked):
        ip = proxies[n % len(proxies)]
        r = await post_login(attacker, login_id, pw, ip, ATTACK_UA)
        attacker.cookies.clear()
        first_ip.setdefault(login_id, ip)
        if n % 150 == 149:
            await legit_minute()
        if login_id in {name(i) for i in planted}:
            i = int(login_id.removeprefix("user"))
            if planted[i] == "restricted":
                assert r.status_code == 403, r.text
            else:
                assert r.status_code == 200, r.text
                assert r.json()["status"] == planted[i], r.text
        else:
            assert r.status_code in (200, 401), r.text  # 200: a challenge (unknown IDs too)
    # an allowlisted address: four unknown IDs, then a valid pair (logs in: no history)
    lone = client_for(svc, "127.0.0.1")
    for n in range(4):
        r = await post_login(lone, f"guess{n}", "pw-guess-2019", MARKED_IP, ATTACK_UA)
        assert r.status_code == 200 and r.json()["status"] == "challenge"  # as for any ID
        lone.cookies.clear()
    r = await post_login(
        lone, name(ALLOWLISTED_VICTIM), password(ALLOWLISTED_VICTIM), MARKED_IP, ATTACK_UA
    )
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    # the owner of user000 mistypes four times at home, then gets it right (not an attacker)
    for _ in range(4):
        r = await post_login(browsers[0], name(0), "typo" + password(0), home_ip(0))
        assert r.status_code == 401
    r = await post_login(browsers[0], name(0), password(0), home_ip(0))
    assert r.status_code == 200

    clock.advance(30)
    detection = await svc.defender.tick()
    assert detection.attack, detection.signals

    # during the incident: the attack goes on (refused by the bans), a legitimate new browser
    for n in range(20):
        r = await post_login(attacker, f"late{n}", "pw-late", proxies[n], ATTACK_UA)
        assert r.status_code == 429
    fresh = client_for(svc, "127.0.0.1")
    r = await post_login(
        fresh, name(LEGIT_NEW_BROWSER), password(LEGIT_NEW_BROWSER), home_ip(LEGIT_NEW_BROWSER)
    )
    assert r.status_code == 200, r.text  # challenged (under attack): its own home network
    await legit_minute()

    confirmed = {*CHALLENGED, *LOGGED_IN, RESTRICTED, ALLOWLISTED_VICTIM}
    logged_in = {*LOGGED_IN, ALLOWLISTED_VICTIM}
    countries = {i: home_country(i) for i in CHALLENGED}  # their last login before
    for i in (*LOGGED_IN, RESTRICTED):  # no login before: the attack request's country
        countries[i] = {"1": "JP", "2": "TW", "3": "US"}[first_ip[name(i)].split(".")[1]]
    countries[ALLOWLISTED_VICTIM] = "NL"
    clients = [*browsers.values(), traveller, attacker, lone, fresh]
    return {
        "confirmed": confirmed,
        "logged_in": logged_in,
        "countries": countries,
        "clients": clients,
    }


async def account_ids(svc: Services, users: set[int]) -> dict[int, int]:
    """{user index: account id}"""
    out = {}
    async with svc.store.begin() as tx:
        for i in users:
            account = await tx.accounts.by_login_key(name(i))
            assert account is not None
            out[i] = account.id
    return out


async def count_events(svc: Services, type: str, account_id: int) -> int:
    async with svc.store.begin() as tx:
        return len(await tx.events.for_account(account_id, types=[type], limit=100))


async def test_incident_on_a_replayed_attack(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = MemoryNotifier()
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            notifier=notifier,
            geo=GEO,
            trusted_proxies=("127.0.0.1/32",),
            allowlist=(MARKED_IP + "/32",),
            argon2_memory_kib=1024,
            detector_interval_seconds=0,
            operator_token=TOKEN,
            public_url="https://mamori.example",
        )
    )
    truth = await replay(svc, clock)
    ids = await account_ids(svc, truth["confirmed"] | {0, LEGIT_NEW_BROWSER, EARLY_TRAVELLER})
    admin = client_for(svc, "127.0.0.1")
    admin.headers.update(AUTH)

    # the detector opened one incident
    r = await admin.get("/api/v1/admin/incidents")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["status"] for i in items] == ["open"]
    incident_id = items[0]["id"]
    async with client_for(svc) as anonymous:
        assert (await anonymous.get("/api/v1/admin/incidents")).status_code == 403

    # the two lists are exactly the planted truth
    r = await admin.get(f"/api/v1/admin/incidents/{incident_id}")
    assert r.status_code == 200, r.text
    shown = r.json()
    confirmed = {a["account_id"] for a in shown["password_confirmed"]}
    logged_in = {a["account_id"] for a in shown["logged_in"]}
    assert confirmed == {ids[i] for i in truth["confirmed"]}, shown["password_confirmed"]
    assert logged_in == {ids[i] for i in truth["logged_in"]}, shown["logged_in"]
    by_account = {a["account_id"]: a for a in shown["password_confirmed"]}
    assert {i: by_account[ids[i]]["country"] for i in truth["confirmed"]} == truth["countries"]
    assert "restricted" in by_account[ids[RESTRICTED]]["evidence"]
    assert "challenged" in by_account[ids[CHALLENGED[0]]]["evidence"]
    expected_table: dict[str, int] = {}
    for c in truth["countries"].values():
        expected_table[c] = expected_table.get(c, 0) + 1
    assert {row["country"]: row["accounts"] for row in shown["by_country"]} == expected_table
    kinds = {(s["kind"], s["value"]) for s in shown["sources"]}
    assert {("network", "RESIDENTIAL-A"), ("network", "RESIDENTIAL-B")} <= kinds
    assert ("network", "HOSTING-C") in kinds
    assert ("ip", MARKED_IP) in kinds
    assert not any(v.startswith("172.") or v.startswith("HOME") for _, v in kinds)
    marked = next(s for s in shown["sources"] if s["value"] == MARKED_IP)
    assert marked["why"] == "failures" and marked["failures"] == 4
    v = shown["volumes"]
    assert v["from_sources"] >= 630 and v["failures"] >= 620 and v["distinct_ips"] >= 450
    assert v["from_sources"] - v["failures_from_sources"] == len(truth["confirmed"])
    assert v["targeted_accounts"] == len(truth["confirmed"]) + 4  # and 4 wrong passwords
    assert shown["since"] < shown["opened_at"]

    # reset: previewed, then a crash after three accounts, then resumed
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/preview", json={"action": "reset"})
    assert r.status_code == 200, r.text
    total = len(truth["confirmed"])
    assert r.json() == {
        "action": "reset",
        "targets": total,
        "already_done": 0,
        "to_do": total,
        "resumable": 0,
    }
    real_reset = incident_actions.reset_account
    calls = 0

    async def crashing(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        done = await real_reset(*args, **kwargs)
        if calls == 4:
            raise RuntimeError("the process died")
        return done

    monkeypatch.setattr(incident_actions, "reset_account", crashing)
    with pytest.raises(RuntimeError):
        await incident_actions.respond(svc, incident_id, "reset", actor="test:crash")
    monkeypatch.undo()
    async with svc.store.begin() as tx:
        (action,) = await tx.incidents.actions(incident_id, kind="reset")
        assert action.status == "running" and action.total == total and action.done == 3
        flagged = [
            a.id
            for a in [await tx.accounts.get(ids[i]) for i in truth["confirmed"]]
            if a is not None and a.password_reset_required
        ]
    assert len(flagged) == 3  # the fourth account's work was rolled back with its mark
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/preview", json={"action": "reset"})
    assert r.json()["resumable"] == total - 3 and r.json()["to_do"] == 0
    r = await admin.post(
        f"/api/v1/admin/incidents/{incident_id}/respond",
        json={"action": "reset", "reason": "stuffing hits"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["done"] == total - 3 and r.json()["resumed"] == total - 3
    # idempotent: a second run does nothing new
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/respond", json={"action": "reset"})
    assert r.json()["done"] == 0 and r.json()["action_ids"] == []
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/preview", json={"action": "reset"})
    assert r.json()["already_done"] == total and r.json()["to_do"] == 0
    now = clock.now()
    async with svc.store.begin() as tx:
        for i in truth["confirmed"]:
            account = await tx.accounts.get(ids[i])
            assert account is not None
            assert account.password_reset_required and account.two_step_forced, i
            assert not await tx.sessions.active_for(account.id, now=now), i
        for i in (0, LEGIT_NEW_BROWSER, EARLY_TRAVELLER):
            other = await tx.accounts.get(ids[i])
            assert other is not None and not other.password_reset_required
    for i in truth["confirmed"]:  # each account reset exactly once
        assert await count_events(svc, EventType.PASSWORD_RESET_FORCED, ids[i]) == 1

    # block: every source not already banned for 30 days
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/preview", json={"action": "block"})
    block_preview = r.json()
    assert block_preview["targets"] == len(shown["sources"]) and block_preview["to_do"] > 0
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/respond", json={"action": "block"})
    assert r.json()["done"] == block_preview["to_do"] and r.json()["skipped"] == 1  # allowlisted
    async with svc.store.begin() as tx:
        bans = {(b.kind, b.value): b for b in await tx.bans.active(now=clock.now())}
    assert ("ip", MARKED_IP) not in bans
    net = bans[("network", "HOSTING-C")]
    assert net.origin == "operator" and net.expires_at is not None
    assert net.expires_at >= clock.now() + timedelta(days=29)
    r = await admin.post(f"/api/v1/admin/incidents/{incident_id}/respond", json={"action": "block"})
    assert r.json()["done"] == 0

    # notify: a crash right after a notice went out, then resumed: one notice each
    await svc.background.drain()
    before = len(notifier.sent)
    real_notify = notices.notify
    sent = 0

    async def notify_then_crash(*args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        result = await real_notify(*args, **kwargs)
        sent += 1
        if sent == 2:
            raise RuntimeError("the process died after sending")
        return result

    monkeypatch.setattr(notices, "notify", notify_then_crash)
    with pytest.raises(RuntimeError):
        await incident_actions.respond(svc, incident_id, "notify", actor="test:crash")
    monkeypatch.undo()
    r = await admin.post(
        f"/api/v1/admin/incidents/{incident_id}/respond", json={"action": "notify"}
    )
    assert r.json()["done"] == total - 1 and r.json()["resumed"] == total - 1
    r = await admin.post(
        f"/api/v1/admin/incidents/{incident_id}/respond", json={"action": "notify"}
    )
    assert r.json()["done"] == 0
    await svc.background.drain()
    mails = [m for m in notifier.sent[before:] if m.kind == "incident_response"]
    assert sorted(m.account_id or 0 for m in mails if m.channel == "email") == sorted(
        ids[i] for i in truth["confirmed"]
    )
    for m in mails:
        assert "https://mamori.example/verify-notice" in m.body
        assert PASSWORD not in m.body
    async with svc.store.begin() as tx:
        rows = await tx.conn.execute(
            select(t.notices.c.account_id, func.count())
            .where(t.notices.c.kind == "incident_response")
            .group_by(t.notices.c.account_id)
        )
        per_account = {int(a): int(n) for a, n in rows}
        audit = [e.action for e in await tx.audit.recent(limit=100)]
    assert per_account == {ids[i]: 1 for i in truth["confirmed"]}
    for kind in ("reset", "block", "notify"):
        assert f"incident.{kind}.start" in audit and f"incident.{kind}.done" in audit
    assert "incident.reset.resume" in audit and "incident.reset.noop" in audit

    # the attack stops; the state ends; the incident closes with the same lists
    clock.advance(timedelta(minutes=16))
    assert not (await svc.defender.tick()).attack
    analysis = await incidents.analyze(svc, incident_id)
    assert analysis.incident.status == "closed" and analysis.incident.closed_at == clock.now()
    assert {a.account_id for a in analysis.confirmed} == {ids[i] for i in truth["confirmed"]}
    assert {a.account_id for a in analysis.logged_in} == {ids[i] for i in truth["logged_in"]}

    # the report: Markdown with the by-country table, CSV with one row per account
    r = await admin.get(f"/api/v1/admin/incidents/{incident_id}/report", params={"format": "md"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert md == markdown(analysis)
    assert "### By country" in md
    for country, n in expected_table.items():
        assert f"| {country} | {n} |" in md
    assert f"| Total | {total} |" in md
    assert "| reset |" in md and "| notify |" in md and "| block |" in md
    r = await admin.get(f"/api/v1/admin/incidents/{incident_id}/report", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text == csv_text(analysis)
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert {int(row["account_id"]) for row in table} == {ids[i] for i in truth["confirmed"]}
    for row in table:
        assert row["reset_at"] and row["notified_at"]
        assert row["logged_in"] == ("yes" if int(row["account_id"]) in logged_in else "no")
    assert {int(row["account_id"]): row["country"] for row in table} == {
        ids[i]: c for i, c in truth["countries"].items()
    }

    # bad requests
    base = f"/api/v1/admin/incidents/{incident_id}"
    assert (await admin.get(f"{base}/report", params={"format": "pdf"})).status_code in (400, 422)
    r = await admin.post(f"{base}/preview", json={"action": "explode"})
    assert r.status_code in (400, 422)
    assert (await admin.get("/api/v1/admin/incidents/999")).status_code == 404
    r = await admin.post("/api/v1/admin/incidents/999/respond", json={"action": "block"})
    assert r.status_code == 404

    for c in [*truth["clients"], admin]:
        await c.aclose()
    await svc.background.drain()
    await svc.store.dispose()


# ---- the CLI --------------------------------------------------------------------------------


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def seed(url: str, clock: FixedClock) -> int:
    """One closed incident: a rule ban on an IP and a login from it."""
    svc = make_services(url, clock=clock, geo=GEO, trusted_proxies=("127.0.0.1/32",))
    c = client_for(svc, "127.0.0.1")
    r = await c.post(
        "/api/v1/signup",
        json={"login_id": "victim", "email": "victim@example.com", "password": PASSWORD},
        headers={"x-forwarded-for": "172.18.0.9"},
    )
    assert r.status_code in (200, 201), r.text
    await c.aclose()
    start = clock.now()
    attacker = svc.client(ip="10.3.0.7", user_agent=ATTACK_UA)
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("victim")
        assert account is not None
        incident_id, _ = await tx.incidents.open_unless_open(
            at=start, summary={"since": start.isoformat(), "reasons": ["test"]}
        )
        await tx.events.add(
            at=start,
            type=EventType.BAN_ADDED,
            client=ClientContext(ip="", user_agent="mamori-defense"),
            result="ok",
            reason="stuffing_ip",
            details={"kind": "ip", "value": "10.3.0.7", "origin": "rule"},
        )
        await tx.events.add(
            at=start + timedelta(seconds=5),
            type=EventType.LOGIN_SUCCESS,
            client=attacker,
            result="ok",
            account_id=account.id,
            login_id="victim",
        )
        await tx.incidents.close_open(at=start + timedelta(minutes=20))
    await svc.background.drain()
    await svc.store.dispose()
    return incident_id


async def test_cli_incidents(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "MAMORI_SECRET_KEY": "cli-test-secret-" + "y" * 32,
            "MAMORI_ARGON2_TIME_COST": "1",
            "MAMORI_ARGON2_MEMORY_KIB": "8192",
            "USER": "kenta",
            "COLUMNS": "200",
        }
    )
    env.pop("SUDO_USER", None)
    assert run(["migrate"], env).returncode == 0
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    incident_id = await seed(env["MAMORI_DATABASE_URL"], clock)

    r = run(["incidents", "list"], env)
    assert r.returncode == 0, r.stderr
    assert f"{incident_id}" in r.stdout and "closed" in r.stdout
    r = run(["incidents", "show", str(incident_id)], env)
    assert r.returncode == 0, r.stderr
    assert "victim" in r.stdout and "password confirmed: 1; logged in: 1" in r.stdout
    assert run(["incidents", "show", "999"], env).returncode == 1
    r = run(["incidents", "report", str(incident_id), "--format", "csv"], env)
    assert r.returncode == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["login_id"] == "victim" and row["country"] == "US" and row["logged_in"] == "yes"
    out = tmp_path / "report.md"
    r = run(["incidents", "report", str(incident_id), "--format", "md", "--out", str(out)], env)
    assert r.returncode == 0, r.stderr
    assert "| US | 1 |" in out.read_text(encoding="utf-8")
    assert run(["incidents", "report", str(incident_id), "--format", "pdf"], env).returncode == 2
    # respond: the preview, then a "no" leaves everything as it was
    r = run(["incidents", "respond", str(incident_id), "--action", "reset"], env, stdin="n\n")
    assert r.returncode == 1
    assert "reset: 1 targets, 0 already done, 1 to do" in r.stdout
    r = run(["incidents", "respond", str(incident_id), "--action", "reset", "--yes"], env)
    assert r.returncode == 0, r.stderr
    assert "1 done" in r.stdout
    r = run(["incidents", "respond", str(incident_id), "--action", "reset", "--yes"], env)
    assert r.returncode == 0 and "nothing to do" in r.stdout
    r = run(["incidents", "respond", str(incident_id), "--action", "explode", "--yes"], env)
    assert r.returncode == 1 and "invalid_action" in r.stderr
    svc = make_services(env["MAMORI_DATABASE_URL"], clock=clock)
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("victim")
        entries = await tx.audit.recent(limit=10)
    await svc.store.dispose()
    assert account is not None and account.password_reset_required
    assert {e.actor for e in entries} == {"cli:kenta"}
    assert "incident.reset.done" in {e.action for e in entries}
