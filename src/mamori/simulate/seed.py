"""Bring the population to a server before a run.

Mamori, over HTTP, as the people would: each user signs up on their first device, verifies the
email address with the code from the outbox, verifies the phone (users who have one), then logs
in `history_logins` times from every habitual device so the risk engine knows them. A device
beyond the sign-up browser meets a challenge the first time; the user completes it with the
emailed (or texted) code and ticks "don't ask again", as one does on one's own device.

The peer is seeded from a JSON-lines file before it starts (`peer_users`): login ID, email,
password, and a TOTP secret for the users who have a second factor (those with a phone).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from mamori.simulate.browser import Browser
from mamori.simulate.population import Population, User
from mamori.simulate.scenario import PopulationSpec
from mamori.simulate.targets import MamoriTarget


class SeedError(RuntimeError):
    pass


@dataclass
class Seeded:
    """The population as the server knows it: each device's cookies after the warm-up."""

    population: Population
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)  # device key -> jar
    requests: int = 0
    challenges: int = 0
    seconds: float = 0.0


async def _seed_user(
    target: MamoriTarget,
    http: httpx.AsyncClient,
    user: User,
    spec: PopulationSpec,
    seeded: Seeded,
) -> None:
    def browser(n: int) -> Browser:
        return Browser(
            http,
            target.base_url,
            user_agent=user.devices[n].user_agent,
            ip=user.home_ip,
            language=user.language,
            name=user.devices[n].key,
        )

    first = browser(0)
    since = time.time()
    r = await target.signup(
        first,
        login_id=user.login_id,
        email=user.email,
        password=user.password,
        language=user.language,
    )
    seeded.requests += 1
    if r.status != 201:
        raise SeedError(
            f"sign-up of {user.login_id} answered {r.status} {r.error_code()}: the population "
            "needs a fresh database (and the dev outbox: MAMORI_DEV=1)"
        )
    if not await target.verify_email(first, email=user.email, since=since):
        raise SeedError(f"could not verify the email address of {user.login_id}")
    seeded.requests += 2
    if user.phone:
        problem = await target.add_phone(first, phone=user.phone, since=time.time())
        if problem:
            raise SeedError(f"could not verify the phone of {user.login_id}: {problem}")
    browsers = [first] + [browser(n) for n in range(1, len(user.devices))]
    for n, b in enumerate(browsers):
        for _ in range(spec.history_logins):
            since = time.time()
            answer = await target.login(b, user.login_id, user.password)
            seeded.requests += 1
            if answer.cls == "challenge":
                seeded.challenges += 1
                code = await target.login_code(
                    answer, email=user.email, phone=user.phone, since=since, ip=b.ip
                )
                if code is None:
                    raise SeedError(f"no login code arrived for {user.login_id}")
                answer = await target.second_step(b, answer, code=code, remember=True)
                seeded.requests += 1
            if answer.cls != "ok":
                raise SeedError(
                    f"warm-up login of {user.login_id} on device {n} answered {answer.cls}"
                )
        seeded.cookies[user.devices[n].key] = dict(b.cookies)


async def seed_mamori(
    target: MamoriTarget,
    http: httpx.AsyncClient,
    population: Population,
    spec: PopulationSpec,
    *,
    concurrency: int = 12,
    progress: Callable[[int, int], None] | None = None,
) -> Seeded:
    started = time.monotonic()
    seeded = Seeded(population=population)
    semaphore = asyncio.Semaphore(concurrency)
    done = 0

    async def one(user: User) -> None:
        nonlocal done
        async with semaphore:
            await _seed_user(target, http, user, spec, seeded)
        done += 1
        if progress is not None:
            progress(done, len(population.users))

    await asyncio.gather(*(one(u) for u in population.users))
    seeded.seconds = time.monotonic() - started
    return seeded


def totp_secret(login_id: str, seed: int) -> str:
    """A stable TOTP secret for a peer user (base32, 160 bits)."""
    digest = hashlib.sha256(f"{seed}:{login_id}".encode()).digest()[:20]
    return base64.b32encode(digest).decode().rstrip("=")


def peer_users(population: Population, *, seed: int) -> tuple[str, dict[str, str]]:
    """(JSON lines for the peer's users file, login ID -> TOTP secret). Users with a phone in
    the population have the peer's second factor (TOTP) instead."""
    lines = []
    secrets: dict[str, str] = {}
    for u in population.users:
        row: dict[str, str] = {"login_id": u.login_id, "email": u.email, "password": u.password}
        if u.phone:
            secrets[u.login_id] = row["totp_secret"] = totp_secret(u.login_id, seed)
        lines.append(json.dumps(row))
    return "\n".join(lines) + "\n", secrets
