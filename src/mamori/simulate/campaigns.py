"""Attack campaigns -> timed login attempts. Pure: the caller's seeded `random.Random`, the
population and the address `Catalog` decide everything.

Kinds (`CampaignSpec.kind`):
- `brute_force`: guesses on a few accounts (usually one), from a few sources; the right password
  may sit somewhere in the list (`real_password_at`), to see whether the lock stops it first.
- `spraying`: a few popular passwords (that pass Mamori's policy) tried on every known login ID
  (the population's, plus some that do not exist), one password round after another.
- `stuffing`: a leaked list replayed: `valid_share` current pairs, `reused_share` real accounts
  with a password they no longer use, the rest login IDs that do not exist here.
- `low_and_slow`: the same list, at a rate meant to stay under the thresholds.
- `targeted`: an attacker who has the victim's password (`knows_password`) and logs in from
  the victim's own network and country with the victim's browser (not the victim's cookies).
- `phishing_relay`: a phishing page that got the password and relays the one-time code the
  victim receives (`relay_delay` after the challenge; `victim_falls_share` type it in).

Sources: `datacenter` (hosting networks anywhere), `residential` (consumer networks; a
`japan_share` of them Japanese home and mobile lines, as rented residential proxies are), or
`victim_network` (addresses in the victim's own network). `attempts_per_source = 1` rotates the
address on every attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mamori.simulate.networks import Catalog, Pool, attacker_agent
from mamori.simulate.population import (
    POPULAR_PASSWORDS,
    Population,
    User,
    login_id_like,
    own_password,
    typo_of,
)
from mamori.simulate.scenario import CampaignSpec

_GUESSES = (
    "password1234", "qwerty123456", "123456789abc", "iloveyou1234", "password!234",
    "abc123456789", "tokyo1234567", "welcome12345", "letmein12345", "passw0rd2024",
    "sakura123456", "dragon123456", "monkey123456", "baseball1234", "superman1234",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # simulated seconds from the run's start
    campaign: str
    login_id: str
    password: str
    victim: int  # the population's user index, or -1 for a login ID that does not exist
    ip: str
    user_agent: str
    browser: str  # the attacker browser (cookie jar) sending it
    relay: bool = False  # phishing relay: on a challenge, relay the victim's code
    relay_delay: float = 0.0
    falls: bool = False  # the victim types the code into the phishing page
    guess_codes: int = 0


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    spec: CampaignSpec
    attempts: tuple[Attempt, ...]
    sources: tuple[str, ...]  # every address the campaign sends from
    victims: tuple[int, ...]  # users whose login ID the campaign tries (existing accounts)


def _times(rng: random.Random, spec: CampaignSpec, n: int) -> list[float]:
    """`n` moments spread evenly over the campaign with jitter, in order."""
    return sorted(spec.start + spec.duration * (i + rng.random()) / n for i in range(n))


def _source_pool(
    rng: random.Random, catalog: Catalog, spec: CampaignSpec, victim: User | None
) -> Pool:
    if spec.source_kind == "victim_network" and victim is not None:
        pools = [p for p in catalog.pools if p.name == victim.home_network]
        return pools[0]
    if spec.source_kind == "residential":
        if rng.random() < spec.japan_share:
            kind = "home" if rng.random() < 0.6 else "mobile"
            return catalog.pick_pool(rng, kind, country="JP")
        return catalog.pick_pool(rng, "residential", exclude="JP")
    return catalog.pick_pool(rng, "datacenter")


def _sources(
    rng: random.Random,
    catalog: Catalog,
    spec: CampaignSpec,
    used: set[str],
    victim: User | None = None,
) -> list[str]:
    n = spec.sources
    if spec.attempts_per_source:
        n = min(n, -(-spec.attempts // spec.attempts_per_source))
    if spec.source_kind == "datacenter":
        # a rented server or two hosts many addresses: a few networks, not one each
        pools = [catalog.pick_pool(rng, "datacenter") for _ in range(max(1, min(n, 3)))]
        return [catalog.address(rng, pools[i % len(pools)], used=used) for i in range(n)]
    return [
        catalog.address(rng, _source_pool(rng, catalog, spec, victim), used=used) for _ in range(n)
    ]


def _source_index(spec: CampaignSpec, i: int, n_sources: int) -> int:
    if spec.attempts_per_source:
        return min(i // spec.attempts_per_source, n_sources - 1)
    return i % n_sources


def _agent(rng: random.Random, spec: CampaignSpec, fixed: str) -> str:
    return fixed if spec.user_agents in ("single", "victim") else attacker_agent(rng)


def _pairs_stuffing(
    rng: random.Random, spec: CampaignSpec, population: Population
) -> list[tuple[str, str, int]]:
    users = list(population.users)
    n = spec.attempts
    n_valid = min(round(n * spec.valid_share), len(users))
    n_reused = min(round(n * spec.reused_share), len(users))
    chosen = rng.sample(users, min(len(users), n_valid + n_reused))
    valid, reused = chosen[:n_valid], chosen[n_valid:]
    taken = {u.login_id for u in users}
    pairs = [(u.login_id, u.password, u.index) for u in valid]
    pairs += [(u.login_id, own_password(rng), u.index) for u in reused]
    while len(pairs) < n:
        pairs.append((login_id_like(rng, taken), own_password(rng), -1))
    rng.shuffle(pairs)
    return pairs


def _pairs_spraying(
    rng: random.Random, spec: CampaignSpec, population: Population
) -> list[tuple[str, str, int]]:
    accounts = [(u.login_id, u.index) for u in population.users]
    taken = {u.login_id for u in population.users}
    accounts += [(login_id_like(rng, taken), -1) for _ in range(max(1, len(accounts) // 5))]
    rng.shuffle(accounts)
    pairs = [
        (login_id, password, index)
        for password in POPULAR_PASSWORDS[: spec.passwords]
        for login_id, index in accounts
    ]
    return pairs[: spec.attempts]


def _guesses(rng: random.Random, user: User, n: int, real_at: float) -> list[str]:
    family = user.login_id.split(".")[-1].split("_")[0].rstrip("0123456789")
    pool = list(_GUESSES) + [f"{family}{y}!" for y in range(1970, 2010)]
    pool += [typo_of(user.password, rng) for _ in range(3)]
    guesses = [rng.choice(pool) for _ in range(n)]
    guesses = [g if g != user.password else g + "x" for g in guesses]
    if real_at >= 0:
        guesses[min(n - 1, int(real_at * (n - 1)))] = user.password
    return guesses


def plan(
    spec: CampaignSpec,
    population: Population,
    catalog: Catalog,
    rng: random.Random,
    *,
    used: set[str],
) -> CampaignPlan:
    """The attempts of one campaign. `used` holds the addresses already given out (the
    population's and other campaigns'); the campaign's own join it."""
    users = population.users
    attempts: list[Attempt] = []
    sources: list[str] = []
    if spec.kind in ("stuffing", "low_and_slow", "spraying"):
        pairs = (
            _pairs_spraying(rng, spec, population)
            if spec.kind == "spraying"
            else _pairs_stuffing(rng, spec, population)
        )
        sources = _sources(rng, catalog, spec, used)
        fixed = attacker_agent(rng)
        for i, (at, (login_id, password, victim)) in enumerate(
            zip(_times(rng, spec, len(pairs)), pairs, strict=True)
        ):
            s = _source_index(spec, i, len(sources))
            attempts.append(
                Attempt(
                    at=at,
                    campaign=spec.name,
                    login_id=login_id,
                    password=password,
                    victim=victim,
                    ip=sources[s],
                    user_agent=_agent(rng, spec, fixed),
                    browser=f"{spec.name}:{sources[s] if spec.keep_cookies else i}",
                    guess_codes=spec.guess_codes,
                )
            )
    else:
        victims = rng.sample(list(users), spec.victims)
        per_victim = [spec.attempts // spec.victims] * spec.victims
        for i in range(spec.attempts % spec.victims):
            per_victim[i] += 1
        times = _times(rng, spec, spec.attempts)
        k = 0
        for person, n in zip(victims, per_victim, strict=True):
            if n == 0:
                continue
            own = _sources(rng, catalog, spec, used, person)
            sources += own
            fixed = person.devices[0].user_agent if spec.user_agents == "victim" else ""
            fixed = fixed or attacker_agent(rng)
            if spec.kind == "brute_force":
                passwords = _guesses(rng, person, n, spec.real_password_at)
            elif spec.kind == "targeted" and not spec.knows_password:
                passwords = _guesses(rng, person, n, -1.0)
            else:
                passwords = [person.password] * n
            for j in range(n):
                s = _source_index(spec, j, len(own))
                attempts.append(
                    Attempt(
                        at=times[k],
                        campaign=spec.name,
                        login_id=person.login_id,
                        password=passwords[j],
                        victim=person.index,
                        ip=own[s],
                        user_agent=_agent(rng, spec, fixed),
                        browser=f"{spec.name}:{own[s] if spec.keep_cookies else k}",
                        relay=spec.kind == "phishing_relay",
                        relay_delay=spec.relay_delay,
                        falls=spec.kind == "phishing_relay"
                        and rng.random() < spec.victim_falls_share,
                        guess_codes=spec.guess_codes,
                    )
                )
                k += 1
        attempts.sort(key=lambda a: a.at)
    victims_tried = tuple(sorted({a.victim for a in attempts if a.victim >= 0}))
    return CampaignPlan(
        spec=spec,
        attempts=tuple(attempts),
        sources=tuple(dict.fromkeys(sources)),
        victims=victims_tried,
    )
