"""Credential stuffing from 1,000 distinct IPs (at most two tries each) over a few networks, mixed
with legitimate traffic, through the HTTP API on a fixed clock."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.geo import GeoInfo, StaticGeoResolver
from tests.conftest import PASSWORD, clean, client_for, make_services

GEO = StaticGeoResolver(
    {
        "10.1.0.0/16": GeoInfo("JP", "Japan", None, "RESIDENTIAL-A", "10.1.0.0/16"),
        "10.2.0.0/16": GeoInfo("TW", "Taiwan", None, "RESIDENTIAL-B", "10.2.0.0/16"),
        "10.3.0.0/16": GeoInfo("US", "United States", None, "HOSTING-C", "10.3.0.0/16"),
        "172.16.0.0/16": GeoInfo("JP", "Japan", None, "HOME-ISP", "172.16.0.0/16"),
    }
)
USERS = 40
ATTACK_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
)


def home_ip(i: int) -> str:
    return f"172.16.{i // 200}.{i % 200 + 1}"


async def post_login(
    c: httpx.AsyncClient, login_id: str, password: str, ip: str, ua: str | None = None
) -> httpx.Response:
    headers = {"x-forwarded-for": ip}
    if ua:
        headers["user-agent"] = ua
    return await c.post(
        "/api/v1/login", json={"login_id": login_id, "password": password}, headers=headers
    )


async def test_stuffing_from_residential_proxies(database_url: str, clock: FixedClock) -> None:
    svc: Services = await clean(
        make_services(
            database_url,
            clock=clock,
            geo=GEO,
            trusted_proxies=("127.0.0.1/32",),
            argon2_memory_kib=1024,
            detector_interval_seconds=0,
        )
    )
    rng = random.Random(7)
    users = [f"user{i:03d}" for i in range(USERS)]
    browsers: dict[str, httpx.AsyncClient] = {}
    for i, name in enumerate(users):
        c = client_for(svc, "127.0.0.1")
        await c.post(
            "/api/v1/signup",
            json={"login_id": name, "email": f"{name}@example.com", "password": PASSWORD},
            headers={"x-forwarded-for": home_ip(i)},
        )
        browsers[name] = c  # each user's own browser keeps its device cookie

    async def legit_minute() -> list[int]:
        codes = []
        for i, name in enumerate(rng.sample(users, 15)):
            if i < 2:  # a typo first, now and then
                codes.append(
                    (
                        await post_login(
                            browsers[name], name, "typo" + PASSWORD, home_ip(users.index(name))
                        )
                    ).status_code
                )
            codes.append(
                (
                    await post_login(browsers[name], name, PASSWORD, home_ip(users.index(name)))
                ).status_code
            )
        return codes

    # ten quiet minutes build the baseline
    for _ in range(10):
        assert set(await legit_minute()) <= {200, 401}
        clock.advance(60)
        detection = await svc.defender.tick()
        assert not detection.attack

    # the attack: a leaked list replayed through 1,000 residential-proxy IPs, 1-2 tries each
    leaked = [f"leaked{i:05d}" for i in range(1400)] + rng.sample(users, 10)
    rng.shuffle(leaked)
    proxies = [f"10.{1 + i % 3}.{(i // 3) % 40}.{i // 120 + 1}" for i in range(1000)]
    assert len(set(proxies)) == 1000
    attacker = client_for(svc, "127.0.0.1")
    attempts: dict[str, int] = {}
    legit_codes: list[int] = []
    statuses: list[int] = []
    for n, login_id in enumerate(leaked):
        ip = proxies[n % 1000]
        attempts[ip] = attempts.get(ip, 0) + 1
        r = await post_login(attacker, login_id, f"pw-{login_id}-2019", ip, ATTACK_UA)
        attacker.cookies.clear()
        statuses.append(r.status_code)
        if n % 100 == 99:
            legit_codes += await legit_minute()
        if n == 700:
            clock.advance(30)
            detection = await svc.defender.tick()
    assert max(attempts.values()) <= 2
    assert detection.attack, detection.signals
    assert any("failure_ratio" in r for r in detection.reasons)
    assert any("unknown login IDs" in r for r in detection.reasons)
    assert await svc.defender.under_attack()

    # the sources that carried it are blocked, the legitimate network is not
    async with svc.store.begin() as tx:
        bans = await tx.bans.active(now=clock.now())
        events = await tx.events.recent(limit=5000)
    banned = {(b.kind, b.value) for b in bans}
    assert {
        ("network", "RESIDENTIAL-A"),
        ("network", "RESIDENTIAL-B"),
        ("network", "HOSTING-C"),
    } <= banned
    assert not any(v == "HOME-ISP" or v.startswith("172.16.") for _, v in banned), [
        b for b in bans if b.value.startswith("172.16") or b.value == "HOME-ISP"
    ]
    assert all(b.reason.startswith(("stuffing_", "ip_")) and b.origin == "rule" for b in bans)
    started = [e for e in events if e.type == "attack_started"]
    assert len(started) == 1
    assert started[0].details["reasons"]
    assert started[0].details["signals"]["failure_ratio"] > 0.8
    # after the bans, the attack's later requests were refused before any lookup or hash
    assert statuses[-200:].count(429) == 200
    # legitimate users kept logging in throughout, from their recognized browsers
    assert legit_codes.count(200) == len(legit_codes) - legit_codes.count(401)
    assert legit_codes.count(200) >= 100
    r = await post_login(browsers[users[0]], users[0], PASSWORD, home_ip(0))
    assert r.status_code == 200

    # the "under attack" state makes unrecognized clients' locks stricter (3 tries, not 5)
    stranger = client_for(svc, "127.0.0.1")
    codes = [
        (await post_login(stranger, users[1], "wrong" + PASSWORD, "172.16.9.9")).status_code
        for _ in range(4)
    ]
    # (a stranger's browser is challenged, right password or not: the answer is the same)
    assert codes == [200, 200, 200, 429]
    # and it ends on its own once the attack has stopped
    clock.advance(timedelta(minutes=16))
    assert not (await svc.defender.tick()).attack
    assert not await svc.defender.under_attack()

    for c in [*browsers.values(), attacker, stranger]:
        await c.aclose()
    await svc.background.drain()  # notices still being written
    await svc.store.dispose()
