"""Quality of the risk score: attackers challenged vs. legitimate logins challenged, by history.

    .venv/bin/python bench/risk_quality.py [--users 5000] [--background 5000] [--seed 7]
        [--abroad 0.04] [--latency-users 100000] [--latency-rows 1000000] [--no-latency]

A measurement, not a timed test (stdlib only, deterministic for a seed, about 70 s on one core).

Population. ``--users`` measured users plus ``--background`` users whose whole history is
recorded first (so the global tables are not empty when the replay starts), over 180 days. 96%
live in JP, the rest (``--abroad``) in 14 other countries. Networks are made up: per country
fixed-line ISPs (Zipf-weighted; a household keeps its address, which changes on 3% of logins),
mobile carriers (CGNAT: each login gets a random address of a 3,000-address pool), offices (4
addresses, half of the users have one), public Wi-Fi and hosting/VPN networks. Each user has 1-3
devices (phone 70% first, then desktop or tablet; iPhone 65% of JP phones; Safari/Chrome/Edge/
Firefox/Samsung spreads per platform) used with decreasing weights; browsers update on their
release cadence (Chrome and Firefox every 4 weeks, Safari with iOS/macOS) with a per-device lag;
Chrome on Android sends the reduced "Android 10; K" UA. Noise a real service sees: 1.5% of logins
after the cookie was cleared, 8% of users replace a device, 1% of logins on a one-off borrowed
computer, 1.5% while travelling (a third of them abroad). Frequencies: daily, every 2-3 days,
weekly, fortnightly, monthly (15/20/25/20/20%); a user's logins stop after 41 (history 0-40).

Replay. All measured logins in time order: each is scored against the history before it (history
N = the user's earlier logins, scored when 1 <= N <= 40), then recorded. At each such login three
attackers try the same account at the same moment, scored but never recorded:
  naive     random country (uniform over 40), random network there, random browser/OS
  vpn       the victim's country, a hosting/VPN network there, random browser/OS
  targeted  the victim's country and network (the one the victim used most so far; a random
            address of it, possibly one the victim used: offices, CGNAT pools), the browser
            family the victim used most so far, at its current version, with a usual OS for it;
            no device cookie
plus, as an extra, a cookie thief (the device cookie and user agent of the victim's last login,
from a hosting network abroad), which is what ``ScoringConfig.known_device_floor`` is for.

Metric (Wiefling et al.): per history bucket and attacker, the threshold that challenges 99%
(99.5%) of that bucket's attacker logins; for each user the share of their legitimate logins in
the bucket at or above it; the median over users (the paper's figure) and, for reading, the
pooled mean. Every login is scored once, with the device cookie feature and no known-device
floor; the published model's score (WITHOUT the cookie) is that score minus the device factor's
log10, exactly what ``ScoringConfig(use_device=False)`` computes (tests/test_risk.py checks it),
and so is the score with any floor. Then: the floor's trade-off, the share of each kind of login
at or above a ladder of thresholds (pooled over history 1-40: what a deployment's single
threshold does), the default `RiskPolicy` evaluated, and the latency of `score_login` with
``--latency-users`` users and ``--latency-rows`` history rows in `MemoryFrequencies`.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from mamori.risk.features import LoginFeatures
from mamori.risk.frequencies import MemoryFrequencies
from mamori.risk.policy import RiskPolicy
from mamori.risk.scoring import ScoringConfig, score_login

DAYS: Final = 180
MAX_LOGINS: Final = 41
MAX_HISTORY: Final = 40
BUCKETS: Final = ((1, 1), (2, 3), (4, 7), (8, 11), (12, 19), (20, 29), (30, 40))
MODELS: Final = ("naive", "vpn", "targeted")
TPRS: Final = (0.99, 0.995)
# Wiefling et al., ACM TOPS 2022, targeted attacker, TPR 0.99, history 12 and 40; goal: a third.
REFERENCE: Final = {12: 0.28, 40: 0.07}

HOME_COUNTRIES: Final = (
    ("JP", 0.96),
    ("US", 0.005),
    ("KR", 0.004),
    ("TW", 0.004),
    ("CN", 0.004),
    ("VN", 0.003),
    ("PH", 0.003),
    ("TH", 0.003),
    ("GB", 0.002),
    ("DE", 0.002),
    ("FR", 0.002),
    ("AU", 0.002),
    ("SG", 0.002),
    ("IN", 0.002),
    ("BR", 0.002),
)
OTHER_COUNTRIES: Final = (
    "CA",
    "MX",
    "AR",
    "CL",
    "ES",
    "IT",
    "NL",
    "SE",
    "PL",
    "RU",
    "UA",
    "TR",
    "EG",
    "ZA",
    "NG",
    "KE",
    "IL",
    "AE",
    "SA",
    "ID",
    "MY",
    "NZ",
    "HK",
    "PK",
    "BD",
)
ALL_COUNTRIES: Final = tuple(c for c, _ in HOME_COUNTRIES) + tuple(OTHER_COUNTRIES)

# ---- networks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Net:
    name: str
    country: str
    kind: str  # isp | mobile | corp | public | hosting
    index: int
    size: int

    def ip(self, k: int) -> str:
        i = self.index
        return f"{11 + (i >> 8)}.{i & 255}.{(k >> 8) & 255}.{k & 255}"

    def random_ip(self, rng: random.Random) -> str:
        return self.ip(rng.randrange(self.size))


class World:
    """Every country's networks, by kind, with popularity weights."""

    def __init__(self, abroad: float = 0.04) -> None:
        # where users live: JP, or (``abroad``) one of the other home countries
        others = sum(w for c, w in HOME_COUNTRIES if c != "JP")
        self.home = tuple(
            (c, 1 - abroad if c == "JP" else abroad * w / others) for c, w in HOME_COUNTRIES
        )
        self.nets: dict[tuple[str, str], list[Net]] = defaultdict(list)
        self.weights: dict[tuple[str, str], list[float]] = {}
        index = 0
        for country in ALL_COUNTRIES:
            big = country == "JP"
            plan = {
                "isp": (12 if big else 5, 20_000),
                "mobile": (4 if big else 3, 3_000),
                "corp": (400 if big else 20, 4),
                "public": (30 if big else 5, 200),
                "hosting": (25 if big else 8, 500),
            }
            for kind, (count, size) in plan.items():
                for j in range(count):
                    name = f"AS{64512 + index} {country}-{kind}-{j}"
                    self.nets[country, kind].append(Net(name, country, kind, index, size))
                    index += 1
                # Zipf popularity: a few big ISPs and carriers, many small ones
                self.weights[country, kind] = [1.0 / (j + 1) for j in range(count)]

    def pick(self, rng: random.Random, country: str, kind: str) -> Net:
        return rng.choices(self.nets[country, kind], self.weights[country, kind])[0]


# ---- devices and user agents -------------------------------------------------------------------

PLATFORM_BROWSERS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "iphone": (("Mobile Safari", 0.85), ("Chrome Mobile iOS", 0.15)),
    "android": (("Chrome Mobile", 0.85), ("Samsung Internet", 0.10), ("Firefox Mobile", 0.05)),
    "windows": (("Chrome", 0.65), ("Edge", 0.27), ("Firefox", 0.08)),
    "mac": (("Safari", 0.50), ("Chrome", 0.45), ("Firefox", 0.05)),
    "ipad": (("Mobile Safari", 1.0),),
    "android_tablet": (("Chrome Mobile", 1.0),),
}
PLATFORM_TYPE: Final = {
    "iphone": "mobile",
    "android": "mobile",
    "windows": "desktop",
    "mac": "desktop",
    "ipad": "tablet",
    "android_tablet": "tablet",
}
APPLE_RELEASES: Final = ((0, "17.4"), (35, "17.5"), (80, "17.6"), (120, "18.0"), (150, "18.1"))
SAMSUNG_MODELS: Final = ("SM-S911B", "SM-A546E", "SC-51D", "SCG19", "SM-G991B")


def apple_version(day: float, lag: int, stuck: bool) -> str:
    if stuck:
        return "16.7"
    version = "17.3"
    for start, name in APPLE_RELEASES:
        if day - lag >= start:
            version = name
    return version


def chrome_major(day: float, lag: int) -> int:
    return 124 + int((day - lag + 280) // 28) - 10


@dataclass(slots=True)
class Device:
    platform: str
    browser: str
    lag: int  # days this device lags behind each release
    stuck: bool  # an old Apple device that no longer updates
    android: int  # Android version (Samsung Internet and Firefox show it)
    model: str
    cookie: str | None
    weight: float

    def client(self, day: float) -> tuple[str, str, str, str]:
        """(user agent, "browser major", "os version", device type) on ``day``."""
        return client_of(
            self.platform, self.browser, day, self.lag, self.stuck, self.android, self.model
        )


def client_of(
    plat: str, browser: str, day: float, lag: int, stuck: bool, android: int, model: str
) -> tuple[str, str, str, str]:
    kind = PLATFORM_TYPE[plat]
    cv = chrome_major(day, lag)
    if plat in ("iphone", "ipad"):
        ios = apple_version(day, lag, stuck)
        os_label = f"iOS {ios}"
        tag = "iPhone; CPU iPhone OS" if plat == "iphone" else "iPad; CPU OS"
        head = f"Mozilla/5.0 ({tag} {ios.replace('.', '_')} like Mac OS X) AppleWebKit/605.1.15"
        if browser == "Chrome Mobile iOS":
            ua = f"{head} (KHTML, like Gecko) CriOS/{cv}.0.0.0 Mobile/15E148 Safari/604.1"
            return ua, f"{browser} {cv}", os_label, kind
        ua = f"{head} (KHTML, like Gecko) Version/{ios} Mobile/15E148 Safari/604.1"
        return ua, f"{browser} {ios.split('.')[0]}", os_label, kind
    if plat in ("android", "android_tablet"):
        mobile = " Mobile" if plat == "android" else ""
        if browser == "Chrome Mobile":
            ua = (
                f"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
                f" Chrome/{cv}.0.0.0{mobile} Safari/537.36"
            )
            return ua, f"{browser} {cv}", "Android 10", kind
        if browser == "Samsung Internet":
            sv = 24 + int((day - lag + 900) // 90) - 10
            ua = (
                f"Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML,"
                f" like Gecko) SamsungBrowser/{sv}.0 Chrome/{cv - 4}.0.0.0{mobile} Safari/537.36"
            )
            return ua, f"{browser} {sv}", f"Android {android}", kind
        fv = cv + 1
        ua = f"Mozilla/5.0 (Android {android}; Mobile; rv:{fv}.0) Gecko/{fv}.0 Firefox/{fv}.0"
        return ua, f"{browser} {fv}", f"Android {android}", kind
    if plat == "windows":
        head = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
        os_label = "Windows 10"
    else:
        head = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
        os_label = "Mac OS X 10.15"
    if browser == "Firefox":
        fv = cv + 1
        ua = f"{head[:-1]}; rv:{fv}.0) Gecko/20100101 Firefox/{fv}.0"
        return ua, f"{browser} {fv}", os_label, kind
    if browser == "Safari":
        safari = apple_version(day, lag, stuck)
        ua = f"{head} AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{safari} Safari/605.1.15"
        return ua, f"{browser} {safari.split('.')[0]}", os_label, kind
    ua = f"{head} AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{cv}.0.0.0 Safari/537.36"
    if browser == "Edge":
        ua += f" Edg/{cv}.0.0.0"
    return ua, f"{browser} {cv}", os_label, kind


def choose(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


def random_platform(rng: random.Random, kind: str, country: str) -> str:
    if kind == "phone":
        return "iphone" if rng.random() < (0.65 if country == "JP" else 0.45) else "android"
    if kind == "desktop":
        return "windows" if rng.random() < 0.75 else "mac"
    return "ipad" if rng.random() < 0.75 else "android_tablet"


class Ids:
    """Made-up device cookie hashes."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> str:
        self.next += 1
        return f"dev{self.next:09d}"


def new_device(rng: random.Random, ids: Ids, kind: str, country: str, weight: float) -> Device:
    plat = random_platform(rng, kind, country)
    return Device(
        platform=plat,
        browser=choose(rng, PLATFORM_BROWSERS[plat]),
        lag=rng.choice((0, 0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 60)),
        stuck=rng.random() < 0.08,
        android=rng.choice((12, 13, 14, 14, 15)),
        model=rng.choice(SAMSUNG_MODELS),
        cookie=ids(),
        weight=weight,
    )


# ---- users -------------------------------------------------------------------------------------

FREQUENCIES: Final = ((1.0, 0.15), (2.5, 0.20), (7.0, 0.25), (14.0, 0.20), (30.0, 0.20))


@dataclass(slots=True)
class User:
    key: int
    country: str
    isp: Net
    carrier: Net
    office: Net | None
    home_ip: str
    devices: list[Device]
    logins: list[tuple[float, LoginFeatures]] = field(default_factory=list)


def make_user(
    rng: random.Random,
    world: World,
    ids: Ids,
    key: int,
    *,
    days: float = DAYS,
    max_logins: int = MAX_LOGINS,
) -> User:
    country = choose(rng, world.home)
    isp = world.pick(rng, country, "isp")
    first = "phone" if rng.random() < 0.70 else "desktop"
    devices = [new_device(rng, ids, first, country, 1.0)]
    for weight in (0.5, 0.3)[: rng.choices((0, 1, 2), (0.45, 0.35, 0.20))[0]]:
        kind = rng.choice(("desktop", "tablet", "phone")) if first == "phone" else "phone"
        devices.append(new_device(rng, ids, kind, country, weight * rng.uniform(0.5, 1.5)))
    user = User(
        key=key,
        country=country,
        isp=isp,
        carrier=world.pick(rng, country, "mobile"),
        office=world.pick(rng, country, "corp") if rng.random() < 0.5 else None,
        home_ip=isp.random_ip(rng),
        devices=devices,
    )
    simulate_logins(rng, world, ids, user, days=days, max_logins=max_logins)
    return user


def where(rng: random.Random, world: World, user: User, kind: str) -> tuple[Net, str]:
    """The network and address of one login from a device of ``kind``."""
    r = rng.random()
    if r < 0.015:  # travelling: a hotel or café at home, or abroad
        if rng.random() < 1 / 3:
            country = rng.choice([c for c in ALL_COUNTRIES if c != user.country])
            net = world.pick(rng, country, rng.choice(("public", "isp", "mobile")))
        else:
            net = world.pick(rng, user.country, rng.choice(("public", "isp")))
        return net, net.random_ip(rng)
    r = rng.random()
    if kind == "mobile":
        plan = ((0.55, "mobile"), (0.90, "home"), (0.95, "office"), (1.0, "public"))
    elif kind == "desktop":
        plan = ((0.0, "mobile"), (0.75, "home"), (0.97, "office"), (1.0, "public"))
    else:
        plan = ((0.0, "mobile"), (0.92, "home"), (0.92, "office"), (1.0, "public"))
    place = next(p for limit, p in plan if r < limit)
    if place == "office" and user.office is None:
        place = "home"
    if place == "mobile":
        return user.carrier, user.carrier.random_ip(rng)
    if place == "home":
        if rng.random() < 0.03:  # the ISP hands out a new address
            user.home_ip = user.isp.random_ip(rng)
        return user.isp, user.home_ip
    if place == "office":
        assert user.office is not None
        return user.office, user.office.random_ip(rng)
    net = world.pick(rng, user.country, "public")
    return net, net.random_ip(rng)


def simulate_logins(
    rng: random.Random, world: World, ids: Ids, user: User, *, days: float, max_logins: int
) -> None:
    gap = rng.choices([g for g, _ in FREQUENCIES], [w for _, w in FREQUENCIES])[0]
    replace_day = rng.uniform(0, min(days, DAYS)) if rng.random() < 0.08 else math.inf
    day = rng.uniform(0, gap)
    while day < days and len(user.logins) < max_logins:
        if day >= replace_day:  # a new phone or computer replaces one device
            old = rng.randrange(len(user.devices))
            kind = {"mobile": "phone", "desktop": "desktop", "tablet": "tablet"}[
                PLATFORM_TYPE[user.devices[old].platform]
            ]
            user.devices[old] = new_device(rng, ids, kind, user.country, user.devices[old].weight)
            replace_day = math.inf
        if rng.random() < 0.01:  # a borrowed or shared computer, once
            device = new_device(rng, ids, "desktop", user.country, 0.0)
        else:
            device = rng.choices(user.devices, [d.weight for d in user.devices])[0]
            if rng.random() < 0.015:  # cookies cleared
                device.cookie = ids()
        ua, browser, os_label, kind = device.client(day)
        net, ip = where(rng, world, user, kind)
        user.logins.append(
            (
                day,
                LoginFeatures(
                    ip, net.name, net.country, ua, browser, os_label, kind, device.cookie
                ),
            )
        )
        day += gap * rng.uniform(0.3, 1.7)


# ---- attackers ---------------------------------------------------------------------------------


def random_client(rng: random.Random, day: float) -> tuple[str, str, str, str]:
    kind = rng.choice(("phone", "phone", "desktop", "desktop", "tablet"))
    plat = random_platform(rng, kind, rng.choice(ALL_COUNTRIES))
    return client_of(
        plat,
        choose(rng, PLATFORM_BROWSERS[plat]),
        day,
        rng.randrange(15),
        rng.random() < 0.05,
        rng.choice((12, 13, 14, 15)),
        rng.choice(SAMSUNG_MODELS),
    )


def family_of(browser: str) -> str:
    """ "Mobile Safari 17" -> "Mobile Safari"."""
    return browser.rsplit(" ", 1)[0]


USUAL_PLATFORM: Final = {
    "Mobile Safari": (("iphone", 0.9), ("ipad", 0.1)),
    "Chrome Mobile iOS": (("iphone", 1.0),),
    "Chrome Mobile": (("android", 0.95), ("android_tablet", 0.05)),
    "Samsung Internet": (("android", 1.0),),
    "Firefox Mobile": (("android", 1.0),),
    "Chrome": (("windows", 0.75), ("mac", 0.25)),
    "Edge": (("windows", 1.0),),
    "Firefox": (("windows", 0.8), ("mac", 0.2)),
    "Safari": (("mac", 1.0),),
}


def attack(
    rng: random.Random,
    world: World,
    model: str,
    *,
    country: str,
    day: float,
    main_net: Net,
    main_family: str,
) -> LoginFeatures:
    """One attacker login on a victim living in ``country``, whose most used network and
    browser family so far are ``main_net`` and ``main_family``."""
    if model == "naive":
        net = world.pick(
            rng, rng.choice(ALL_COUNTRIES), rng.choice(("hosting", "hosting", "isp", "mobile"))
        )
        ua, browser, os_label, kind = random_client(rng, day)
    elif model == "vpn":
        net = world.pick(rng, country, "hosting")
        ua, browser, os_label, kind = random_client(rng, day)
    else:
        net = main_net
        plat = choose(rng, USUAL_PLATFORM[main_family])
        ua, browser, os_label, kind = client_of(
            plat, main_family, day, 0, False, rng.choice((13, 14, 15)), rng.choice(SAMSUNG_MODELS)
        )
    return LoginFeatures(
        net.random_ip(rng), net.name, net.country, ua, browser, os_label, kind, None
    )


def cookie_thief(
    rng: random.Random, world: World, *, country: str, stolen: LoginFeatures
) -> LoginFeatures:
    """The browser of the victim's last login, cookie and user agent, used from abroad."""
    abroad = rng.choice([c for c in ALL_COUNTRIES if c != country])
    net = world.pick(rng, abroad, "hosting")
    return replace(stolen, ip=net.random_ip(rng), network=net.name, country=abroad)


# ---- the replay --------------------------------------------------------------------------------

SCORING: Final = ScoringConfig(known_device_floor=0.0)
DEFAULT_FLOOR: Final = ScoringConfig().known_device_floor
FLOORS: Final = (0.0, 1e-4, 1e-3, 1e-2)
KINDS: Final = ("legit", *MODELS, "thief")

# One scored login: (user, log10 score without the device feature, log10 of the device ratio,
# whether the device was new to the user). The score without the device cookie (the published
# model) is the first float; with it, their sum. A device floor f changes only known devices:
# base + max(device, log10 f). (tests/test_risk.py checks that use_device=False scores the same.)
Rec = tuple[int, float, float, bool]


def log10_score(rec: Rec, floor: float | None) -> float:
    """The record's log10 score without the cookie (floor None) or with it and that floor."""
    _, base, device, new = rec
    if floor is None:
        return base
    if new or floor <= 0:
        return base + device
    return base + max(device, math.log10(floor))


@dataclass(slots=True)
class Replay:
    records: dict[str, dict[int, list[Rec]]]  # kind -> history size -> records
    legit_logins: int
    table_logins: int

    def get(self, kind: str, lo: int, hi: int) -> list[Rec]:
        out: list[Rec] = []
        for n in range(lo, hi + 1):
            out.extend(self.records[kind].get(n, ()))
        return out


def replay(seed: int, n_users: int, n_background: int, abroad: float) -> Replay:
    rng = random.Random(seed)
    world = World(abroad)
    ids = Ids()
    background = [make_user(rng, world, ids, -1 - i) for i in range(n_background)]
    users = [make_user(rng, world, ids, i) for i in range(n_users)]
    frequencies = MemoryFrequencies()
    for user in background:
        for _, features in user.logins:
            frequencies.add(user.key, features)
    events = sorted((day, user.key, i) for user in users for i, (day, _) in enumerate(user.logins))
    records: dict[str, dict[int, list[Rec]]] = {kind: defaultdict(list) for kind in KINDS}
    policy = RiskPolicy()
    networks: dict[int, Counter[str]] = defaultdict(Counter)
    families: dict[int, Counter[str]] = defaultdict(Counter)
    last: dict[int, LoginFeatures] = {}
    nets_by_name = {net.name: net for nets in world.nets.values() for net in nets}
    attack_rng = random.Random(seed + 1)
    for day, key, i in events:
        user = users[key]
        features = user.logins[i][1]
        n = frequencies.user_logins(key)
        if 1 <= n <= MAX_HISTORY:
            main_net = nets_by_name[networks[key].most_common(1)[0][0]]
            main_family = families[key].most_common(1)[0][0]
            tries = [("legit", features)]
            tries += [
                (
                    m,
                    attack(
                        attack_rng,
                        world,
                        m,
                        country=user.country,
                        day=day,
                        main_net=main_net,
                        main_family=main_family,
                    ),
                )
                for m in MODELS
            ]
            tries.append(
                ("thief", cookie_thief(attack_rng, world, country=user.country, stolen=last[key]))
            )
            for kind, tried in tries:
                a = score_login(
                    frequencies, user=key, features=tried, policy=policy, config=SCORING
                )
                device = math.log10(a.factors["device"])
                records[kind][n].append(
                    (key, a.log10_score - device, device, "new_device" in a.reasons)
                )
        frequencies.add(key, features)
        networks[key][features.network] += 1
        families[key][family_of(features.browser)] += 1
        last[key] = features
    return Replay(records, len(events), frequencies.global_logins())


# ---- metrics -----------------------------------------------------------------------------------


def threshold_for(scores: Sequence[float], tpr: float) -> float:
    """The highest threshold t (an observed score) with share(scores >= t) >= tpr."""
    ordered = sorted(scores)
    return ordered[math.floor((1 - tpr) * len(ordered))]


def challenged(legit: Sequence[Rec], floor: float | None, threshold: float) -> tuple[float, float]:
    """(median over users of their share of logins >= threshold, pooled share)."""
    per_user: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    hits = 0
    for rec in legit:
        cell = per_user[rec[0]]
        cell[1] += 1
        if log10_score(rec, floor) >= threshold:
            cell[0] += 1
            hits += 1
    if not legit:
        return math.nan, math.nan
    return statistics.median(c / t for c, t in per_user.values()), hits / len(legit)


def share_at_least(recs: Sequence[Rec], floor: float | None, threshold: float) -> float:
    if not recs:
        return math.nan
    return sum(log10_score(r, floor) >= threshold for r in recs) / len(recs)


def bucket_threshold(
    run: Replay, model: str, lo: int, hi: int, floor: float | None, tpr: float
) -> float:
    return threshold_for([log10_score(r, floor) for r in run.get(model, lo, hi)], tpr)


def label(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def print_quality(run: Replay, name: str, floor: float | None) -> None:
    print(f"\n== {name}: median per-user share of legitimate logins challenged (pooled mean) ==")
    head = "history  users  logins"
    for model in MODELS:
        head += f" | {model + ' TPR .99':>15} {'TPR .995':>15}"
    print(head)
    for lo, hi in BUCKETS:
        legit = run.get("legit", lo, hi)
        row = f"{label(lo, hi):>7} {len({r[0] for r in legit}):>6} {len(legit):>7}"
        for model in MODELS:
            row += " |"
            for tpr in TPRS:
                median, mean = challenged(
                    legit, floor, bucket_threshold(run, model, lo, hi, floor, tpr)
                )
                row += f" {median:7.3f} ({mean:5.3f})"
        print(row)
    print(
        "  thresholds (log10 score) at TPR .99, naive / vpn / targeted: "
        + ";  ".join(
            label(lo, hi)
            + ": "
            + " / ".join(f"{bucket_threshold(run, m, lo, hi, floor, 0.99):.1f}" for m in MODELS)
            for lo, hi in BUCKETS
        )
    )


def print_floors(run: Replay) -> None:
    print("\n== the known-device floor: targeted TPR .99 per bucket, and a cookie thief ==")
    print(
        "(the thief has the cookie and user agent of the victim's last login, from a hosting"
        " network abroad;\n its share challenged is at the pooled targeted TPR .99 threshold)"
    )
    print("floor    median 12-19 (mean)   median 30-40 (mean)   thief challenged")
    thieves = run.get("thief", 1, MAX_HISTORY)
    for floor in FLOORS:
        cells = ""
        for lo, hi in ((12, 19), (30, 40)):
            median, mean = challenged(
                run.get("legit", lo, hi),
                floor,
                bucket_threshold(run, "targeted", lo, hi, floor, 0.99),
            )
            cells += f"   {median:10.3f} ({mean:5.3f})"
        pooled = bucket_threshold(run, "targeted", 1, MAX_HISTORY, floor, 0.99)
        mark = "  <- default" if floor == DEFAULT_FLOOR else ""
        print(f"{floor:<7g}{cells}   {share_at_least(thieves, floor, pooled):14.3f}{mark}")


def print_ladder(run: Replay, floor: float) -> None:
    print(
        f"\n== share of logins at or above a threshold (history 1-40, cookie on, floor {floor:g})"
        " =="
    )
    legit = run.get("legit", 1, MAX_HISTORY)
    attacks = {kind: run.get(kind, 1, MAX_HISTORY) for kind in (*MODELS, "thief")}
    print("threshold   legit median (mean)" + "".join(f"{k:>10}" for k in attacks))
    for k in range(-8, 13):
        threshold = k / 2
        median, mean = challenged(legit, floor, threshold)
        cells = "".join(f"{share_at_least(a, floor, threshold):10.4f}" for a in attacks.values())
        print(f"{10**threshold:>9.3g}   {median:6.3f} ({mean:6.4f}){cells}")
    for model in MODELS:
        pooled = bucket_threshold(run, model, 1, MAX_HISTORY, floor, 0.99)
        print(f"  pooled TPR .99 threshold, {model}: {10**pooled:.3g}")
    scores = sorted(log10_score(r, floor) for r in legit)
    print(
        f"  legitimate scores: 99th percentile {10 ** scores[int(0.99 * len(scores))]:.3g},"
        f" 99.9th {10 ** scores[int(0.999 * len(scores))]:.3g}, highest {10 ** scores[-1]:.3g}"
    )


def print_defaults(run: Replay, policy: RiskPolicy, floor: float) -> None:
    levels = {
        "medium": math.log10(policy.medium_threshold),
        "high": math.log10(policy.high_threshold),
        "deny": math.log10(policy.deny_threshold),
    }
    print(
        f"\n== the default RiskPolicy (medium {policy.medium_threshold:g}, high "
        f"{policy.high_threshold:g}, deny {policy.deny_threshold:g}; cookie on, floor {floor:g})"
        " =="
    )
    print("legitimate logins at or above each level, median per user (pooled mean):")
    print("history " + "".join(f"{k:>18}" for k in levels))
    for lo, hi in BUCKETS:
        legit = run.get("legit", lo, hi)
        cells = ""
        for value in levels.values():
            median, mean = challenged(legit, floor, value)
            cells += f"{median:10.3f} ({mean:5.3f})"
        print(f"{label(lo, hi):>7} {cells}")
    print("attacker logins at or above each level (history 1-40):")
    for kind in (*MODELS, "thief"):
        recs = run.get(kind, 1, MAX_HISTORY)
        cells = "  ".join(f"{k} {share_at_least(recs, floor, v):.4f}" for k, v in levels.items())
        print(f"  {kind:<9} {cells}")


def interpret(run: Replay) -> None:
    print("\n== interpretation ==")
    goal = {k: v / 3 for k, v in REFERENCE.items()}
    found: dict[str, list[float]] = {}
    for name, floor in (("without cookie", None), ("with cookie", DEFAULT_FLOOR)):
        found[name] = []
        parts = []
        for lo, hi in ((12, 19), (30, 40)):
            median, mean = challenged(
                run.get("legit", lo, hi),
                floor,
                bucket_threshold(run, "targeted", lo, hi, floor, 0.99),
            )
            found[name].append(median)
            parts.append(f"history {lo}-{hi}: {median:.3f} (mean {mean:.3f})")
        print(f"targeted, TPR .99, {name}: " + "; ".join(parts))
    print(
        f"reference (Wiefling et al. 2022, no cookie): {REFERENCE[12]} at 12 -> {REFERENCE[40]}"
        f" at 40; goal with the cookie, a third: <= {goal[12]:.3f} -> <= {goal[40]:.3f}"
    )
    met = found["with cookie"][0] <= goal[12] and found["with cookie"][1] <= goal[40]
    print(f"goal {'MET' if met else 'MISSED'} (medians, buckets 12-19 and 30-40)")
    print(INTERPRETATION)


INTERPRETATION: Final = """\
- Without the cookie (the published model) TPR .99 against the VPN and targeted attackers costs
  nearly every legitimate login. Their lowest-scoring 1% are attacks on users who live abroad
  (4% of this population): p(x) is the login population's frequency, so a country few users log
  in from looks like strong evidence of the user, and an attacker who picks the victim's country
  inherits it. With --abroad 0 the VPN attacker becomes separable (median 0.88 -> 0.64 from
  history 12 to 40) but the targeted one does not (median 1.0): on a mobile carrier's CGNAT pool
  with the victim's browser at its current version (iPhone/Safari dominates in JP) the attacker
  often sends the victim's exact user agent from the victim's kind of address. This population
  is harder than the reference's, so compare the with-cookie figures to the reference, not ours.
- With the cookie, a known device multiplies the score by ~(N+D+1)/T and a new one by 4: the
  score separates known from new devices, and what stays challenged is essentially the
  legitimate logins from a new device (cleared cookies, a new or borrowed device: a few percent
  of logins here), which is why the median user is challenged on none of theirs.
- Without a floor a stolen device cookie (with its user agent) passes as the user from anywhere,
  as with any "remember this browser". A floor of 0.001 catches about half of such thieves at
  the per-bucket thresholds (floor table) for one more point of legitimate challenges, but with
  a single threshold (what a deployment has) it challenges most logins of users with under 8
  logins, whose prior T/(U N) is large; hence no floor by default."""


# ---- latency -----------------------------------------------------------------------------------


def latency(seed: int, n_users: int, n_rows: int) -> None:
    rng = random.Random(seed + 2)
    world = World()
    ids = Ids()
    frequencies = MemoryFrequencies()
    per_user = max(1, n_rows // n_users)
    started = time.perf_counter()
    targets: list[tuple[int, LoginFeatures]] = []
    rows = 0
    for key in range(n_users):
        user = make_user(rng, world, ids, key, days=math.inf, max_logins=per_user + 1)
        for _, features in user.logins[:per_user]:
            frequencies.add(key, features)
            rows += 1
        targets.append((key, user.logins[per_user][1]))
        if key % 2 == 0:
            main = max(user.devices, key=lambda d: d.weight)
            tried = attack(
                rng,
                world,
                "targeted",
                country=user.country,
                day=100.0,
                main_net=user.isp,
                main_family=main.browser,
            )
            targets.append((key, tried))
    built = time.perf_counter() - started
    policy = RiskPolicy()
    rng.shuffle(targets)
    timings: list[int] = []
    for key, features in targets[:100_000]:
        t0 = time.perf_counter_ns()
        score_login(frequencies, user=key, features=features, policy=policy)
        timings.append(time.perf_counter_ns() - t0)
    timings.sort()
    t0 = time.perf_counter_ns()
    for key, features in targets[:50_000]:
        frequencies.add(key, features)
    add_us = (time.perf_counter_ns() - t0) / 50_000 / 1000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def at(q: float) -> float:
        return timings[min(len(timings) - 1, int(q * len(timings)))] / 1000

    print(
        f"\n== latency: {n_users:,} users, {rows:,} history rows in MemoryFrequencies "
        f"(built in {built:.0f} s; peak RSS of the whole run {rss:,.0f} MiB) =="
    )
    print(
        f"score_login: p50 {at(0.5):.1f} µs, p95 {at(0.95):.1f} µs, p99 {at(0.99):.1f} µs over"
        f" {len(timings):,} assessments (half next logins, half targeted attacks);"
        f" add: {add_us:.1f} µs per login"
    )


# ---- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Risk-scoring quality benchmark")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--background", type=int, default=5000)
    parser.add_argument("--abroad", type=float, default=0.04, help="share living outside JP")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-users", type=int, default=100_000)
    parser.add_argument("--latency-rows", type=int, default=1_000_000)
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"risk_quality: seed {args.seed}, {args.users:,} users + {args.background:,} background,"
        f" {args.abroad:.0%} abroad; Python {platform.python_version()} {platform.machine()}"
    )
    started = time.perf_counter()
    run = replay(args.seed, args.users, args.background, args.abroad)
    print(
        f"replayed {run.legit_logins:,} legitimate logins, each with 3 attackers and a cookie"
        f" thief ({run.table_logins:,} logins in the tables at the end) in"
        f" {time.perf_counter() - started:.0f} s"
    )
    print_quality(run, "WITHOUT the device cookie (the published model)", None)
    print_quality(run, f"WITH the device cookie (floor {DEFAULT_FLOOR:g})", DEFAULT_FLOOR)
    print_floors(run)
    print_ladder(run, DEFAULT_FLOOR)
    print_defaults(run, RiskPolicy(), DEFAULT_FLOOR)
    interpret(run)
    if not args.no_latency:
        del run
        gc.collect()
        latency(args.seed, args.latency_users, args.latency_rows)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
