"""The legitimate population and its logins during a run. Pure: everything comes from the
caller's seeded `random.Random` and the address `Catalog`, so the same seed gives the same
people, devices, networks and login schedule.

A user has a login ID, an email address, a password of their own (a few share a popular one),
maybe a verified phone, 1-3 habitual devices (phone, laptop, tablet, each with its own browser
and user agent), a home network (mostly a Japanese ISP, chosen by subscriber share) and a mobile
carrier, and a login frequency (daily, weekly or monthly). A few travel during the run.

During a run the population logs in as a Poisson process (`LegitSpec.logins_per_minute`); each
login picks a user by frequency (a daily user is 30 times as likely as a monthly one) and a
behaviour: the usual login from a habitual device, a typo first, a forgotten password (two wrong
tries, then the reset), or a new phone. Travellers log in from abroad on their own devices.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import phonenumbers

from mamori.simulate.networks import Catalog, user_agent
from mamori.simulate.scenario import LegitSpec, PopulationSpec

FREQUENCIES = ("daily", "weekly", "monthly")
LOGINS_PER_DAY = {"daily": 1.0, "weekly": 1 / 7, "monthly": 1 / 30}
BEHAVIOURS = ("habitual", "typo", "forgot", "new_phone")

_GIVEN = (
    "haruto", "yuto", "sota", "yuki", "hayato", "haruki", "ryusei", "koki", "sora", "takumi",
    "riku", "kaito", "ren", "hinata", "yui", "aoi", "mei", "sakura", "rin", "hana", "mio",
    "yuna", "akari", "koharu", "emi", "kenji", "hiroshi", "takashi", "naoko", "keiko", "yumi",
    "tomoko", "akira", "daisuke", "shota", "mai", "ayaka", "nanami", "misaki", "kana",
)  # fmt: skip
_FAMILY = (
    "sato", "suzuki", "takahashi", "tanaka", "watanabe", "ito", "yamamoto", "nakamura",
    "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
    "kimura", "hayashi", "shimizu", "yamazaki", "mori", "abe", "ikeda", "hashimoto", "ishikawa",
    "ogawa", "fujita", "okada", "goto", "hasegawa", "murakami", "kondo", "ishii", "saito",
)  # fmt: skip
_WORDS = (
    "amber", "anchor", "apricot", "arrow", "autumn", "badger", "bamboo", "basil", "beacon",
    "birch", "blossom", "breeze", "bridge", "candle", "canyon", "cedar", "cherry", "cinnamon",
    "clover", "cobalt", "comet", "copper", "coral", "cricket", "crystal", "daisy", "delta",
    "desert", "dolphin", "dragon", "ember", "falcon", "fern", "fjord", "forest", "fossil",
    "garnet", "ginger", "glacier", "granite", "harbor", "hazel", "heron", "horizon", "indigo",
    "island", "ivory", "jasmine", "juniper", "kettle", "lagoon", "lantern", "lemon", "lilac",
    "lotus", "maple", "marble", "meadow", "meteor", "mint", "monsoon", "moss", "nectar",
    "nutmeg", "oasis", "olive", "orchid", "otter", "pebble", "pepper", "pine", "planet",
    "plum", "pumpkin", "quartz", "rain", "raven", "reef", "river", "saffron", "sage",
    "sapphire", "shadow", "silver", "sparrow", "spruce", "summit", "thunder", "tiger",
    "timber", "topaz", "tulip", "velvet", "violet", "walnut", "willow", "winter", "zephyr",
)  # fmt: skip
# Popular passwords that still pass Mamori's policy (length >= 12, not on the common lists):
# the ones a sprayer tries, and a few users really have.
POPULAR_PASSWORDS = (
    "sakura2024tokyo",
    "tokyotower2023!",
    "hanami-season-2024",
    "shinkansen2024",
    "fujisan-summit-2024",
)
DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True, slots=True)
class Device:
    key: str  # unique: "<login_id>#<n>"
    kind: str  # phone | laptop | tablet
    user_agent: str


@dataclass(frozen=True, slots=True)
class User:
    index: int
    login_id: str
    email: str
    password: str
    phone: str | None  # E.164; verified when the population is seeded
    language: str
    country: str
    home_network: str
    home_ip: str  # the household's fixed-line address (laptops, tablets, phones on Wi-Fi)
    mobile_network: str  # the phone's carrier ("" abroad: the phone uses the home network)
    devices: tuple[Device, ...]
    frequency: str  # daily | weekly | monthly
    traveler: bool = False
    travel_country: str = ""
    travel_network: str = ""
    travel_ip: str = ""  # the hotel's address during the run

    @property
    def weight(self) -> float:
        return LOGINS_PER_DAY[self.frequency]


@dataclass(frozen=True, slots=True)
class Population:
    users: tuple[User, ...]
    used_ips: frozenset[str]  # every address the population uses (attackers get others)

    def user(self, login_id: str) -> User | None:
        for u in self.users:
            if u.login_id == login_id:
                return u
        return None


def login_id_like(rng: random.Random, taken: set[str]) -> str:
    while True:
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        style = rng.random()
        if style < 0.4:
            base = f"{given}.{family}"
        elif style < 0.7:
            base = f"{family}_{given}"
        else:
            base = f"{given[0]}{family}"
        suffix = (
            str(rng.randrange(1, 100)) if rng.random() < 0.6 else str(rng.randrange(1970, 2010))
        )
        candidate = base + suffix
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def own_password(rng: random.Random) -> str:
    words = rng.sample(_WORDS, 3)
    sep = rng.choice("-._")
    return sep.join(words) + sep + str(rng.randrange(10, 100))


def typo_of(password: str, rng: random.Random) -> str:
    """A near miss: one character dropped, doubled or changed."""
    i = rng.randrange(len(password))
    roll = rng.random()
    if roll < 0.4 and len(password) > 1:
        return password[:i] + password[i + 1 :]
    if roll < 0.7:
        return password[:i] + password[i] + password[i:]
    c = "x" if password[i] != "x" else "y"
    return password[:i] + c + password[i + 1 :]


def _mobile_number(rng: random.Random, taken: set[str]) -> str:
    """A Japanese mobile number (080/090) that phonenumbers accepts, not yet given out."""
    while True:
        number = f"+81{rng.choice(('80', '90'))}{rng.randrange(10**8):08d}"
        if number not in taken and phonenumbers.is_valid_number(phonenumbers.parse(number)):
            taken.add(number)
            return number


def _pick_weighted(rng: random.Random, weights: tuple[float, ...]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def generate(spec: PopulationSpec, catalog: Catalog, *, used: set[str] | None = None) -> Population:
    """The population of `spec`, seeded by `spec.seed`."""
    rng = random.Random(spec.seed)
    used = set() if used is None else used
    taken: set[str] = set()
    phones: set[str] = set()
    users: list[User] = []
    for index in range(spec.users):
        login_id = login_id_like(rng, taken)
        in_japan = rng.random() < spec.japan_share
        if in_japan:
            home = catalog.pick_pool(rng, "home", country="JP")
            mobile = catalog.pick_pool(rng, "mobile", country="JP").name
        else:
            home = catalog.pick_pool(rng, "residential", exclude="JP")
            mobile = ""
        home_ip = catalog.address(rng, home, used=used)
        n_devices = _pick_weighted(rng, spec.devices) + 1
        first = "phone" if rng.random() < 0.55 else "laptop"
        kinds = [first]
        while len(kinds) < n_devices:
            kinds.append(
                "laptop"
                if "laptop" not in kinds
                else ("phone" if "phone" not in kinds else "tablet")
            )
        devices = tuple(
            Device(key=f"{login_id}#{n}", kind=kind, user_agent=user_agent(rng, kind))
            for n, kind in enumerate(kinds)
        )
        phone = None
        if in_japan and rng.random() < spec.phone_share:
            phone = _mobile_number(rng, phones)
        if rng.random() < spec.popular_password_share:
            password = rng.choice(POPULAR_PASSWORDS)
        else:
            password = own_password(rng)
        users.append(
            User(
                index=index,
                login_id=login_id,
                email=f"{login_id}@{rng.choice(DOMAINS)}",
                password=password,
                phone=phone,
                language="en" if rng.random() < spec.english_share else "ja",
                country=home.country,
                home_network=home.name,
                home_ip=home_ip,
                mobile_network=mobile,
                devices=devices,
                frequency=FREQUENCIES[_pick_weighted(rng, spec.frequency)],
            )
        )
    return Population(users=tuple(users), used_ips=frozenset(used))


def with_travellers(
    population: Population, spec: LegitSpec, catalog: Catalog, rng: random.Random
) -> Population:
    """Pick this run's travellers (`traveler_share`) and where they are: a consumer network
    abroad, one hotel address each."""
    used = set(population.used_ips)
    users = []
    for u in population.users:
        if rng.random() < spec.traveler_share:
            pool = catalog.pick_pool(rng, "residential", exclude=u.country)
            ip = catalog.address(rng, pool, used=used)
            u = dataclasses.replace(
                u,
                traveler=True,
                travel_country=pool.country,
                travel_network=pool.name,
                travel_ip=ip,
            )
        users.append(u)
    return Population(users=tuple(users), used_ips=frozenset(used))


@dataclass(frozen=True, slots=True)
class LegitLogin:
    """One planned legitimate login: who, when (simulated seconds), how, and from where."""

    at: float
    user: int  # index into the population
    behaviour: str  # habitual | typo | forgot | new_phone
    device: int  # index into the user's devices; -1 for a new phone
    ip: str
    user_type: str  # the friction table's row: the behaviour, or "traveler"


def plan_legit(
    population: Population,
    spec: LegitSpec,
    catalog: Catalog,
    rng: random.Random,
    *,
    duration: float,
    used: set[str],
) -> list[LegitLogin]:
    """The population's logins over `duration` simulated seconds."""
    plans: list[LegitLogin] = []
    if spec.logins_per_minute <= 0:
        return plans
    rate = spec.logins_per_minute / 60.0
    weights = [u.weight for u in population.users]
    t = rng.expovariate(rate)
    while t < duration:
        user = rng.choices(population.users, weights=weights)[0]
        roll = rng.random()
        if roll < spec.typo_rate:
            behaviour = "typo"
        elif roll < spec.typo_rate + spec.forgot_rate:
            behaviour = "forgot"
        elif roll < spec.typo_rate + spec.forgot_rate + spec.new_phone_rate:
            behaviour = "new_phone"
        else:
            behaviour = "habitual"
        device = -1 if behaviour == "new_phone" else rng.randrange(len(user.devices))
        kind = "phone" if device < 0 else user.devices[device].kind
        if user.traveler:
            ip = user.travel_ip
        elif kind == "phone" and user.mobile_network and rng.random() < spec.mobile_network_share:
            pool = next(p for p in catalog.of_kind("mobile") if p.name == user.mobile_network)
            ip = catalog.address(rng, pool, used=used)  # carrier-grade NAT: a new one each time
        else:
            ip = user.home_ip
        plans.append(
            LegitLogin(
                at=t,
                user=user.index,
                behaviour=behaviour,
                device=device,
                ip=ip,
                user_type="traveler" if user.traveler else behaviour,
            )
        )
        t += rng.expovariate(rate)
    return plans
