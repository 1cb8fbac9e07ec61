"""The simulator's pure parts: population generation, the legitimate login plan, campaign plans
(on a hand-built address catalog, so nothing depends on the geo data), and the real catalog."""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections import Counter

import phonenumbers
import pytest

from mamori.passwords import PasswordPolicy
from mamori.simulate.campaigns import plan
from mamori.simulate.networks import Catalog, Pool, attacker_agent, load_catalog, user_agent
from mamori.simulate.population import (
    POPULAR_PASSWORDS,
    Population,
    generate,
    plan_legit,
    typo_of,
    with_travellers,
)
from mamori.simulate.scenario import CampaignSpec, LegitSpec, PopulationSpec


def block(cidr: str) -> tuple[int, int]:
    net = ipaddress.ip_network(cidr)
    return int(net.network_address), net.num_addresses


CATALOG = Catalog(
    [
        Pool("BIG-JP-ISP", "JP", "home", 3, (block("10.1.0.0/16"),)),
        Pool("SMALL-JP-ISP", "JP", "home", 1, (block("10.2.0.0/16"),)),
        Pool("JP-CARRIER", "JP", "mobile", 1, (block("10.3.0.0/16"),)),
        Pool("US-CABLE", "US", "residential", 1, (block("10.4.0.0/16"),)),
        Pool("KR-TELECOM", "KR", "residential", 1, (block("10.5.0.0/16"),)),
        Pool("HOSTING", "", "datacenter", 1, (block("10.6.0.0/16"), block("10.7.0.0/24"))),
        Pool("EMPTY", "JP", "home", 100, ()),  # a pool the data had no block for: dropped
    ]
)


def pool_of(ip: str) -> str:
    second = ip.split(".")[1]
    return {
        "1": "BIG-JP-ISP",
        "2": "SMALL-JP-ISP",
        "3": "JP-CARRIER",
        "4": "US-CABLE",
        "5": "KR-TELECOM",
        "6": "HOSTING",
        "7": "HOSTING",
    }[second]


SPEC = PopulationSpec(users=2000, seed=5)


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(SPEC, CATALOG)


def test_same_seed_same_population_other_seed_other(population: Population) -> None:
    assert generate(SPEC, CATALOG) == population
    other = generate(dataclasses.replace(SPEC, seed=6), CATALOG)
    assert [u.login_id for u in other.users] != [u.login_id for u in population.users]


def test_identities_are_unique_and_acceptable(population: Population) -> None:
    users = population.users
    assert len(users) == 2000
    assert [u.index for u in users] == list(range(2000))
    assert len({u.login_id.casefold() for u in users}) == 2000
    assert len({u.email for u in users}) == 2000
    phones = [u.phone for u in users if u.phone]
    assert len(set(phones)) == len(phones)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert all(p.startswith(("+8180", "+8190")) for p in phones)
    policy = PasswordPolicy()
    for u in users[:300]:
        assert policy.check(u.password, login_id=u.login_id, email=u.email) == [], u
    for password in POPULAR_PASSWORDS:
        assert policy.check(password) == [], password
    # a few share a popular password (the sprayers' catch), the rest have their own
    shared = sum(u.password in POPULAR_PASSWORDS for u in users)
    assert 0 < shared < 0.03 * len(users)
    assert len({u.password for u in users}) > 0.95 * len(users)


def test_shares_follow_the_spec(population: Population) -> None:
    users = population.users
    n = len(users)
    devices = Counter(len(u.devices) for u in users)
    for k, share in zip((1, 2, 3), SPEC.devices, strict=True):
        assert abs(devices[k] / n - share) < 0.04, (k, devices)
    freq = Counter(u.frequency for u in users)
    for name, share in zip(("daily", "weekly", "monthly"), SPEC.frequency, strict=True):
        assert abs(freq[name] / n - share) < 0.04, freq
    japan = [u for u in users if u.country == "JP"]
    assert abs(len(japan) / n - SPEC.japan_share) < 0.02
    with_phone = sum(1 for u in japan if u.phone)
    assert abs(with_phone / len(japan) - SPEC.phone_share) < 0.04
    assert all(u.phone is None for u in users if u.country != "JP")
    assert abs(sum(u.language == "en" for u in users) / n - SPEC.english_share) < 0.02


def test_networks_are_weighted_real_pools(population: Population) -> None:
    users = population.users
    japan = [u for u in users if u.country == "JP"]
    homes = Counter(u.home_network for u in japan)
    assert set(homes) == {"BIG-JP-ISP", "SMALL-JP-ISP"}  # the empty pool is never used
    assert 2.4 < homes["BIG-JP-ISP"] / homes["SMALL-JP-ISP"] < 3.7  # weights 3:1
    assert all(pool_of(u.home_ip) == u.home_network for u in users)
    assert all(u.mobile_network == "JP-CARRIER" for u in japan)
    abroad = [u for u in users if u.country != "JP"]
    assert abroad and all(u.home_network in ("US-CABLE", "KR-TELECOM") for u in abroad)
    assert all(u.mobile_network == "" for u in abroad)
    ips = [u.home_ip for u in users]
    assert len(set(ips)) == len(ips)
    assert set(ips) == set(population.used_ips)


def test_devices_have_kinds_and_browsers(population: Population) -> None:
    for u in population.users:
        kinds = [d.kind for d in u.devices]
        assert len(set(kinds)) == len(kinds)
        assert kinds[0] in ("phone", "laptop")
        assert [d.key for d in u.devices] == [f"{u.login_id}#{i}" for i in range(len(kinds))]
        for d in u.devices:
            if d.kind == "phone":
                assert "iPhone" in d.user_agent or "Android" in d.user_agent
            elif d.kind == "laptop":
                assert "Windows" in d.user_agent or "Macintosh" in d.user_agent
            else:
                assert "iPad" in d.user_agent or "Android" in d.user_agent
    phones = [d.user_agent for u in population.users for d in u.devices if d.kind == "phone"]
    iphone = sum("iPhone" in ua for ua in phones) / len(phones)
    assert 0.58 < iphone < 0.72


def test_user_agents_are_current_browsers() -> None:
    rng = random.Random(1)
    agents = [user_agent(rng, "laptop") for _ in range(500)] + [
        attacker_agent(rng) for _ in range(500)
    ]
    assert all(ua.startswith("Mozilla/5.0 (") for ua in agents)
    assert any("Edg/" in ua for ua in agents) and any("Firefox/" in ua for ua in agents)
    assert all(
        any(v in ua for v in ("Chrome/129", "Chrome/130", "Chrome/131", "Version/1", "rv:132"))
        for ua in agents
    )


def test_typos_are_near_misses() -> None:
    rng = random.Random(3)
    for password in ("amber-lotus-quartz-42", "x", "sakura2024tokyo"):
        for _ in range(50):
            typo = typo_of(password, rng)
            assert typo != password
            assert abs(len(typo) - len(password)) <= 1


def test_travellers_are_abroad_with_one_hotel_address(population: Population) -> None:
    small = Population(population.users[:400], population.used_ips)
    spec = LegitSpec(traveler_share=0.25)
    moved = with_travellers(small, spec, CATALOG, random.Random(2))
    travellers = [u for u in moved.users if u.traveler]
    assert 70 < len(travellers) < 130
    for u in travellers:
        assert u.travel_country not in ("", u.country)
        assert pool_of(u.travel_ip) == u.travel_network
        assert u.travel_ip not in population.used_ips
    assert len({u.travel_ip for u in travellers}) == len(travellers)


def test_legit_plan(population: Population) -> None:
    spec = LegitSpec(logins_per_minute=30, typo_rate=0.1, forgot_rate=0.05, new_phone_rate=0.05)
    moved = with_travellers(population, LegitSpec(traveler_share=0.1), CATALOG, random.Random(4))
    used = set(moved.used_ips)
    before = set(used)
    plans = plan_legit(moved, spec, CATALOG, random.Random(9), duration=3600, used=used)
    assert 1650 < len(plans) < 1950  # Poisson: 30/min for an hour
    times = [p.at for p in plans]
    assert times == sorted(times) and times[0] >= 0 and times[-1] < 3600
    behaviours = Counter(p.behaviour for p in plans)
    assert abs(behaviours["typo"] / len(plans) - 0.1) < 0.03
    assert abs(behaviours["forgot"] / len(plans) - 0.05) < 0.02
    assert abs(behaviours["new_phone"] / len(plans) - 0.05) < 0.02
    users = moved.users
    for p in plans:
        u = users[p.user]
        assert (p.device == -1) == (p.behaviour == "new_phone")
        if u.traveler:
            assert p.ip == u.travel_ip and p.user_type == "traveler"
        else:
            assert p.user_type == p.behaviour
            if p.ip != u.home_ip:  # a phone on its carrier: a fresh address each time
                assert pool_of(p.ip) == u.mobile_network and p.ip not in before
    # a daily user logs in about 30 times as often as a monthly one
    per_user = Counter(p.user for p in plans)
    by_freq: dict[str, list[int]] = {}
    for u in users:
        by_freq.setdefault(u.frequency, []).append(per_user[u.index])
    daily = sum(by_freq["daily"]) / len(by_freq["daily"])
    monthly = sum(by_freq["monthly"]) / len(by_freq["monthly"])
    assert 15 < daily / monthly < 60
    assert plan_legit(moved, LegitSpec(logins_per_minute=0), CATALOG, random.Random(1),
                      duration=600, used=set()) == []  # fmt: skip


# ---- campaigns ---------------------------------------------------------------------------


def campaign(**kw: object) -> CampaignSpec:
    base: dict[str, object] = {"name": "c", "kind": "stuffing", "start": 100.0, "duration": 200.0}
    return CampaignSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_stuffing_list(population: Population) -> None:
    spec = campaign(attempts=1000, valid_share=0.03, reused_share=0.07, sources=10)
    used = set(population.used_ips)
    p = plan(spec, population, CATALOG, random.Random(1), used=used)
    attempts = p.attempts
    assert len(attempts) == 1000
    by_id = {u.login_id: u for u in population.users}
    valid = [a for a in attempts if a.victim >= 0 and a.password == by_id[a.login_id].password]
    reused = [a for a in attempts if a.victim >= 0 and a.password != by_id[a.login_id].password]
    unknown = [a for a in attempts if a.victim < 0]
    assert (len(valid), len(reused), len(unknown)) == (30, 70, 900)
    assert all(a.login_id not in by_id for a in unknown)
    assert len({a.login_id for a in valid + reused}) == 100  # each real account once
    assert sorted({a.victim for a in valid + reused}) == list(p.victims)
    times = [a.at for a in attempts]
    assert times == sorted(times) and times[0] >= 100 and times[-1] <= 300
    assert len(p.sources) == 10 and set(p.sources) == {a.ip for a in attempts}
    assert not set(p.sources) & population.used_ips
    assert all(pool_of(ip) == "HOSTING" for ip in p.sources)
    assert Counter(a.ip for a in attempts).most_common(1)[0][1] == 100  # spread evenly
    assert len({a.user_agent for a in attempts}) > 5  # rotated
    assert all(a.browser == f"c:{a.ip}" for a in attempts)  # one browser per source


def test_residential_rotation(population: Population) -> None:
    spec = campaign(
        attempts=500,
        sources=500,
        attempts_per_source=1,
        source_kind="residential",
        japan_share=0.6,
        keep_cookies=False,
    )
    p = plan(spec, population, CATALOG, random.Random(2), used=set(population.used_ips))
    ips = [a.ip for a in p.attempts]
    assert len(set(ips)) == 500  # one attempt per address
    pools = Counter(pool_of(ip) for ip in ips)
    japanese = pools["BIG-JP-ISP"] + pools["SMALL-JP-ISP"] + pools["JP-CARRIER"]
    assert 0.53 < japanese / 500 < 0.67
    assert pools["HOSTING"] == 0
    assert len({a.browser for a in p.attempts}) == 500  # a fresh browser each time


def test_brute_force_and_the_right_password(population: Population) -> None:
    spec = campaign(
        kind="brute_force", attempts=50, victims=1, sources=2, real_password_at=0.9,
        user_agents="single",
    )  # fmt: skip
    p = plan(spec, population, CATALOG, random.Random(3), used=set(population.used_ips))
    victim = population.users[p.victims[0]]
    assert {a.login_id for a in p.attempts} == {victim.login_id}
    right = [i for i, a in enumerate(p.attempts) if a.password == victim.password]
    assert right == [int(0.9 * 49)]
    assert len({a.user_agent for a in p.attempts}) == 1
    assert len({a.ip for a in p.attempts}) == 2
    never = plan(
        dataclasses.replace(spec, real_password_at=-1.0), population, CATALOG,
        random.Random(3), used=set(population.used_ips),
    )  # fmt: skip
    assert all(a.password != population.users[a.victim].password for a in never.attempts)


def test_spraying_tries_each_password_across_accounts(population: Population) -> None:
    small = Population(population.users[:100], population.used_ips)
    spec = campaign(kind="spraying", attempts=1000, passwords=2, sources=4)
    p = plan(spec, small, CATALOG, random.Random(4), used=set(small.used_ips))
    accounts = 100 + 100 // 5
    assert len(p.attempts) == 2 * accounts  # capped by what there is to try
    first = [a.password for a in p.attempts[:accounts]]
    assert set(first) == {POPULAR_PASSWORDS[0]}
    assert {a.password for a in p.attempts[accounts:]} == {POPULAR_PASSWORDS[1]}


def test_targeted_uses_the_victims_network_and_browser(population: Population) -> None:
    spec = campaign(
        kind="targeted", attempts=6, victims=3, sources=1, source_kind="victim_network",
        user_agents="victim",
    )  # fmt: skip
    p = plan(spec, population, CATALOG, random.Random(5), used=set(population.used_ips))
    for a in p.attempts:
        victim = population.users[a.victim]
        assert a.password == victim.password
        assert pool_of(a.ip) == victim.home_network
        assert a.ip != victim.home_ip
        assert a.user_agent == victim.devices[0].user_agent
    assert Counter(a.victim for a in p.attempts) == Counter(dict.fromkeys(p.victims, 2))


def test_phishing_relay_flags(population: Population) -> None:
    spec = campaign(
        kind="phishing_relay", attempts=200, victims=200, sources=200, attempts_per_source=1,
        source_kind="residential", japan_share=1.0, relay_delay=30, victim_falls_share=0.5,
    )  # fmt: skip
    p = plan(spec, population, CATALOG, random.Random(6), used=set(population.used_ips))
    assert all(a.relay and a.relay_delay == 30 for a in p.attempts)
    assert 70 < sum(a.falls for a in p.attempts) < 130
    assert all(a.password == population.users[a.victim].password for a in p.attempts)


def test_real_catalog_addresses_resolve_to_their_pool() -> None:
    from mamori.geo import GeoIP2FastResolver

    catalog = load_catalog()
    kinds = Counter(p.kind for p in catalog.pools)
    assert kinds["home"] >= 10 and kinds["mobile"] >= 4
    assert kinds["residential"] >= 8 and kinds["datacenter"] >= 6
    resolver = GeoIP2FastResolver()
    rng = random.Random(7)
    used: set[str] = set()
    for pool in catalog.pools:
        for _ in range(3):
            ip = catalog.address(rng, pool, used=used)
            info = resolver.lookup(ip)
            assert info.as_name == pool.name, (pool.name, ip, info)
            if pool.country:
                assert info.country == pool.country, (pool.name, ip, info)
            else:
                assert info.country
            assert catalog.where(ip) == (info.country, info.as_name)
