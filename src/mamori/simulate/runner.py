"""The run: the population's logins and the campaigns' attempts, each at its simulated moment,
concurrently, on a clock running `compress` times faster than real time.

Every planned event is a task that sleeps until its moment (simulated seconds / k after the
start) and then acts through its own browser. Requests in flight are bounded by the shared
connection pool (`RunSpec.concurrency`); when the server (or this machine) is slower than the
schedule, requests wait and answers come late: every record is timed by its answer, and the
delay between an event's planned moment and its first answer is reported (`lag`).

Against Mamori with an operator token, a monitor polls `/api/v1/admin/bans` and `/defense`
every half real second (bans carry their creation time, so the poll interval does not blur
them); incidents are read at the end, and the outbox of every attacked account.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mamori.simulate import campaigns as campaign_plans
from mamori.simulate import outcomes
from mamori.simulate.browser import Browser
from mamori.simulate.campaigns import Attempt, CampaignPlan
from mamori.simulate.networks import Catalog, attacker_agent, user_agent
from mamori.simulate.outcomes import (
    AttackRecord,
    BanRecord,
    CampaignInfo,
    IncidentRecord,
    LegitRecord,
    LoginRecord,
    MailRecord,
    Outcomes,
)
from mamori.simulate.population import (
    LegitLogin,
    Population,
    User,
    plan_legit,
    typo_of,
    with_travellers,
)
from mamori.simulate.population import own_password as new_password
from mamori.simulate.scenario import Scenario
from mamori.simulate.seed import Seeded
from mamori.simulate.targets import Answer, MamoriTarget, PeerTarget, Target

Log = Callable[[str], None]


class SimClock:
    """Simulated seconds since the start = real seconds since the start x k."""

    def __init__(self, k: float) -> None:
        self.k = k
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.k

    def of_wall(self, ts: float) -> float:
        return (ts - self.wall0) * self.k

    async def until(self, t: float) -> None:
        delay = t / self.k - (time.monotonic() - self.t0)
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep(self, sim_seconds: float) -> None:
        if sim_seconds > 0:
            await asyncio.sleep(sim_seconds / self.k)


@dataclass
class RunResult:
    scenario: Scenario
    target_kind: str
    base_url: str
    compress: float
    infos: list[CampaignInfo]
    records: list[LoginRecord] = field(default_factory=list)
    attacks: list[AttackRecord] = field(default_factory=list)
    legit: list[LegitRecord] = field(default_factory=list)
    bans: list[BanRecord] = field(default_factory=list)
    incidents: list[IncidentRecord] = field(default_factory=list)
    mails: list[MailRecord] = field(default_factory=list)
    attack_state: list[tuple[float, bool]] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    real_seconds: float = 0.0
    population_size: int = 0
    outcomes: Outcomes | None = None

    def lag_summary(self) -> dict[str, float]:
        if not self.lag:
            return {"p50": 0.0, "p95": 0.0, "max": 0.0}
        ordered = sorted(self.lag)
        return {
            "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
            "max": round(ordered[-1], 2),
        }


def _iso(ts: str | None) -> float | None:
    return datetime.fromisoformat(ts).timestamp() if ts else None


LEGIT_RESULT = {
    "ok": "ok",
    "temporarily_locked": "locked",
    "locked": "locked",
    "too_many_requests": "blocked",
    "login_denied": "denied",
    "overloaded": "shed",
    "password_reset_required": "reset_required",
}


class Runner:
    def __init__(
        self,
        scenario: Scenario,
        target: Target,
        seeded: Seeded,
        catalog: Catalog,
        http: httpx.AsyncClient,
        *,
        log: Log | None = None,
    ) -> None:
        self.scenario = scenario
        self.target = target
        self.catalog = catalog
        self.http = http
        self.log = log or (lambda _m: None)
        run = scenario.run
        # the scenario's name joins the seed: scenarios sharing [run].seed still differ
        self.rng = random.Random(f"{run.seed}:{scenario.name}")
        used = set(seeded.population.used_ips)
        self.population: Population = with_travellers(
            seeded.population, scenario.legit, catalog, self.rng
        )
        used |= set(self.population.used_ips)
        self.users: tuple[User, ...] = self.population.users
        self.legit_plan: list[LegitLogin] = plan_legit(
            self.population, scenario.legit, catalog, self.rng, duration=run.duration, used=used
        )
        self.plans: list[CampaignPlan] = [
            campaign_plans.plan(
                spec,
                self.population,
                catalog,
                random.Random(f"{run.seed}:{scenario.name}:{i}"),
                used=used,
            )
            for i, spec in enumerate(scenario.campaigns)
        ]
        self.probes = self._plan_probes(random.Random(f"{run.seed}:{scenario.name}:probe"), used)
        self.passwords = [u.password for u in self.users]
        self.devices: dict[str, Browser] = {}
        base = getattr(target, "base_url", "")
        for u in self.users:
            for d in u.devices:
                self.devices[d.key] = Browser(
                    http,
                    base,
                    user_agent=d.user_agent,
                    ip=u.home_ip,
                    language=u.language,
                    cookies=seeded.cookies.get(d.key, {}),
                    name=d.key,
                )
        self.user_locks = [asyncio.Lock() for _ in self.users]
        self.attackers: dict[str, Browser] = {}
        self.result = RunResult(
            scenario=scenario,
            target_kind=target.kind,
            base_url=base,
            compress=run.compress,
            infos=[
                CampaignInfo(
                    name=p.spec.name,
                    kind=p.spec.kind,
                    start=p.spec.start,
                    end=p.spec.end,
                    sources=p.sources,
                    networks=tuple(sorted({catalog.where(ip)[1] for ip in p.sources} - {""})),
                )
                for p in self.plans
            ],
            population_size=len(self.users),
        )
        self.clock = SimClock(run.compress)

    # ---- recording ---------------------------------------------------------------------

    def record(
        self,
        actor: str,
        step: str,
        at: float,
        browser: Browser,
        login_id: str,
        user: int,
        valid: bool,
        answer: Answer,
    ) -> None:
        self.result.records.append(
            LoginRecord(
                actor=actor,
                step=step,
                at=at,
                ip=browser.ip,
                login_id=login_id,
                user=user,
                valid=valid,
                cls=answer.cls,
                status=answer.status,
                reached_hash=step == "password" and self.target.reached_hash(answer),
                refused_early=step == "password" and self.target.refused_early(answer),
                session=answer.session,
                latency=answer.elapsed,
            )
        )

    async def _login(
        self, actor: str, browser: Browser, login_id: str, password: str, user: int
    ) -> tuple[Answer, float]:
        """One password step: (the answer, the simulated moment it arrived). Records are
        timed by the answer: the server acted between the sending and then."""
        valid = user >= 0 and self.passwords[user] == password
        try:
            answer = await self.target.login(browser, login_id, password)
        except httpx.HTTPError as exc:
            answer = Answer(f"transport_error:{type(exc).__name__}", 0)
        at = self.clock.now()
        self.record(actor, "password", at, browser, login_id, user, valid, answer)
        return answer, at

    async def _second(
        self,
        actor: str,
        browser: Browser,
        first: Answer,
        login_id: str,
        user: int,
        code: str,
        remember: bool,
    ) -> Answer:
        try:
            answer = await self.target.second_step(browser, first, code=code, remember=remember)
        except httpx.HTTPError as exc:
            answer = Answer(f"transport_error:{type(exc).__name__}", 0)
        at = self.clock.now()
        self.record(actor, "second_step", at, browser, login_id, user, True, answer)
        return answer

    async def _code_for(
        self, user: User, first: Answer, *, since: float, ip: str, by: str
    ) -> str | None:
        if isinstance(self.target, MamoriTarget):
            return await self.target.login_code(
                first, email=user.email, phone=user.phone, since=since, ip=ip, by=by, wait=5.0
            )
        if isinstance(self.target, PeerTarget):
            return self.target.totp(user.login_id)
        return None

    # ---- the reference: what a wrong password gets -----------------------------------------

    def _plan_probes(self, rng: random.Random, used: set[str]) -> list[tuple[int, str, str]]:
        """Three wrong passwords from fresh browsers (a data center, a Japanese home line, a
        consumer network abroad) on accounts no campaign tries: what the server answers a wrong
        password, so that an answer only right passwords get can be told ("confirmed")."""
        tried = {v for p in self.plans for v in p.victims}
        spare = [u.index for u in self.users if u.index not in tried] or [0]
        pools = [
            self.catalog.pick_pool(rng, "datacenter"),
            self.catalog.pick_pool(rng, "home", country="JP"),
            self.catalog.pick_pool(rng, "residential", exclude="JP"),
        ]
        return [
            (rng.choice(spare), self.catalog.address(rng, pool, used=used), attacker_agent(rng))
            for pool in pools
        ]

    async def _probe(self, user: int, ip: str, agent: str) -> None:
        browser = Browser(self.http, self.result.base_url, user_agent=agent, ip=ip, name="probe")
        rng = random.Random(ip)
        u = self.users[user]
        await self._login("probe", browser, u.login_id, typo_of(self.passwords[user], rng), user)

    # ---- the population ------------------------------------------------------------------

    async def _legit(self, plan: LegitLogin) -> None:
        await self.clock.until(plan.at)
        user = self.users[plan.user]
        spec = self.scenario.legit
        rng = random.Random(f"{self.scenario.run.seed}:{plan.at}:{plan.user}")
        async with self.user_locks[plan.user]:
            start = self.clock.now()
            if plan.device >= 0:
                browser = self.devices[user.devices[plan.device].key]
                browser.ip = plan.ip
            else:
                browser = Browser(
                    self.http,
                    self.result.base_url,
                    user_agent=user_agent(rng, "phone"),
                    ip=plan.ip,
                    language=user.language,
                    name=f"{user.login_id}#new",
                )
            requests = 0
            if plan.behaviour in ("typo", "forgot"):
                for _ in range(1 if plan.behaviour == "typo" else 2):
                    wrong = typo_of(self.passwords[user.index], rng)
                    _, answered = await self._login(
                        "legit", browser, user.login_id, wrong, user.index
                    )
                    if requests == 0:
                        self.result.lag.append(max(0.0, answered - plan.at))
                    requests += 1
                    await self.clock.sleep(spec.think_seconds)
            if plan.behaviour == "forgot" and isinstance(self.target, MamoriTarget):
                fresh = new_password(rng)
                replies = await self.target.reset_password(
                    browser,
                    login_id=user.login_id,
                    email=user.email,
                    phone=user.phone,
                    new_password=fresh,
                )
                requests += len(replies)
                if replies and replies[-1].status == 200 and replies[-1].body.get("status") == "ok":
                    self.passwords[user.index] = fresh
                await self.clock.sleep(spec.think_seconds)
            result, n, answered = await self._log_in(browser, user)
            if requests == 0:
                self.result.lag.append(max(0.0, answered - plan.at))
            requests += n
            self.result.legit.append(
                LegitRecord(
                    at=start,
                    user=user.index,
                    login_id=user.login_id,
                    user_type=plan.user_type,
                    frequency=user.frequency,
                    result=result,
                    requests=requests,
                    ip=plan.ip,
                )
            )

    async def _log_in(self, browser: Browser, user: User) -> tuple[str, int, float]:
        """The user's login with the right password, the second step if asked: (result,
        requests, when the first answer came). A shed answer (503) is retried twice, a few
        seconds apart."""
        spec = self.scenario.legit
        requests = 0
        answer = Answer("none", 0)
        since = time.time()
        first_at = -1.0
        for _ in range(3):
            since = time.time()
            answer, answered = await self._login(
                "legit", browser, user.login_id, self.passwords[user.index], user.index
            )
            first_at = answered if first_at < 0 else first_at
            requests += 1
            if answer.cls != "overloaded":
                break
            await self.clock.sleep(3.0)
        if answer.second_step:
            await self.clock.sleep(spec.code_seconds)
            code = await self._code_for(user, answer, since=since, ip=browser.ip, by="legit")
            if code is None:
                return "failed", requests, first_at
            second = await self._second(
                "legit", browser, answer, user.login_id, user.index, code, spec.remember_device
            )
            requests += 1
            return ("challenged" if second.cls == "ok" else "failed"), requests, first_at
        return LEGIT_RESULT.get(answer.cls, "failed"), requests, first_at

    # ---- the campaigns ---------------------------------------------------------------------

    async def _attack(self, a: Attempt) -> None:
        await self.clock.until(a.at)
        sent = self.clock.now()
        browser = self.attackers.get(a.browser)
        if browser is None:
            browser = Browser(
                self.http, self.result.base_url, user_agent=a.user_agent, ip=a.ip, name=a.browser
            )
            self.attackers[a.browser] = browser
        browser.user_agent, browser.ip = a.user_agent, a.ip
        valid = a.victim >= 0 and self.passwords[a.victim] == a.password
        since = time.time()
        answer, answered = await self._login(a.campaign, browser, a.login_id, a.password, a.victim)
        self.result.lag.append(max(0.0, answered - a.at))
        takeover = False
        second = ""
        if answer.cls == "ok":
            takeover = await self._has_session(browser)
        elif answer.second_step and a.victim >= 0:
            victim = self.users[a.victim]
            if a.relay and a.falls and valid:
                await self.clock.sleep(a.relay_delay)
                code = await self._code_for(victim, answer, since=since, ip=a.ip, by=a.campaign)
                if code is not None:
                    reply = await self._second(
                        a.campaign, browser, answer, a.login_id, a.victim, code, True
                    )
                    second = reply.cls
                    takeover = reply.cls == "ok" and await self._has_session(browser)
            rng = random.Random(f"{a.campaign}:{a.at}")
            for _ in range(a.guess_codes if not takeover else 0):
                guess = f"{rng.randrange(10**6):06d}"
                reply = await self._second(
                    a.campaign, browser, answer, a.login_id, a.victim, guess, True
                )
                second = reply.cls
                if reply.cls == "ok":
                    takeover = await self._has_session(browser)
                    break
                if reply.cls != "code_invalid":
                    break
        self.result.attacks.append(
            AttackRecord(
                campaign=a.campaign,
                at=answered,
                sent=sent,
                planned=a.at,
                login_id=a.login_id,
                user=a.victim,
                valid=valid,
                ip=a.ip,
                cls=answer.cls,
                reached_hash=self.target.reached_hash(answer),
                refused_early=self.target.refused_early(answer),
                second_cls=second,
                takeover=takeover,
                latency=answer.elapsed,
            )
        )

    async def _has_session(self, browser: Browser) -> bool:
        try:
            return await self.target.me(browser)
        except httpx.HTTPError:
            return False

    # ---- the operator's view ----------------------------------------------------------------

    async def _poll(self, seen: set[tuple[str, str, float]]) -> None:
        if not isinstance(self.target, MamoriTarget):
            return
        bans = await self.target.admin("/bans")
        for b in (bans or {}).get("items", []):
            created = _iso(b.get("created_at")) or 0.0
            key = (str(b["kind"]), str(b["value"]), created)
            if key in seen or created < self.clock.wall0 - 1:
                continue
            seen.add(key)
            self.result.bans.append(
                BanRecord(
                    kind=key[0],
                    value=key[1],
                    reason=str(b.get("reason", "")),
                    origin=str(b.get("origin", "")),
                    at=self.clock.of_wall(created),
                )
            )
        state = await self.target.admin("/defense")
        if state is not None:
            self.result.attack_state.append((self.clock.now(), bool(state.get("under_attack"))))

    async def _monitor(self, stop: asyncio.Event) -> None:
        seen: set[tuple[str, str, float]] = set()
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await self._poll(seen)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        with contextlib.suppress(httpx.HTTPError):
            await self._poll(seen)

    async def _collect(self) -> None:
        if not isinstance(self.target, MamoriTarget):
            return
        incidents: Any = await self.target.admin("/incidents")
        for i in (incidents or {}).get("items", []):
            opened = _iso(i.get("opened_at"))
            if opened is None or opened < self.clock.wall0 - 1:
                continue
            closed = _iso(i.get("closed_at"))
            self.result.incidents.append(
                IncidentRecord(
                    id=int(i["id"]),
                    opened=self.clock.of_wall(opened),
                    closed=self.clock.of_wall(closed) if closed is not None else None,
                    reasons=tuple(str(r) for r in i.get("reasons", [])),
                )
            )
        tried = sorted({a.user for a in self.result.attacks if a.user >= 0})
        consumed = self.target.consumed
        for index in tried:
            u = self.users[index]
            for to in (u.email, u.phone):
                if not to:
                    continue
                for m in await self.target.mail(to):
                    if m.at.timestamp() < self.clock.wall0 - 1:
                        continue
                    self.result.mails.append(
                        MailRecord(
                            user=index,
                            at=self.clock.of_wall(m.at.timestamp()),
                            kind=m.kind,
                            channel=m.channel,
                            ips=tuple(sorted(m.ips())),
                            used_by_owner=consumed.get(m.id) == "legit",
                        )
                    )

    # ---- the whole run ------------------------------------------------------------------------

    async def run(self) -> RunResult:
        run = self.scenario.run
        n_attempts = sum(len(p.attempts) for p in self.plans)
        self.log(
            f"{self.scenario.name}: {len(self.legit_plan)} legitimate logins, {n_attempts} attack "
            f"attempts over {run.duration:g} simulated s ({run.duration / run.compress:.0f} real s "
            f"at x{run.compress:g})"
        )
        self.clock = SimClock(run.compress)
        stop = asyncio.Event()
        monitor = asyncio.create_task(self._monitor(stop))
        tasks = [asyncio.create_task(self._probe(*p)) for p in self.probes]
        tasks += [asyncio.create_task(self._legit(p)) for p in self.legit_plan]
        tasks += [asyncio.create_task(self._attack(a)) for p in self.plans for a in p.attempts]
        started = time.monotonic()
        try:
            await asyncio.gather(*tasks)
            await self.clock.until(run.duration)
        finally:
            for t in tasks:
                t.cancel()
            stop.set()
            await monitor
        self.result.real_seconds = time.monotonic() - started
        await self._collect()
        r = self.result
        r.records.sort(key=lambda x: x.at)
        r.attacks.sort(key=lambda x: x.at)
        r.legit.sort(key=lambda x: x.at)
        r.outcomes = outcomes.compute(
            r.infos,
            r.attacks,
            r.legit,
            r.records,
            bans=r.bans,
            incidents=r.incidents,
            mails=r.mails if self.target.has_outbox else None,
            compress=run.compress,
        )
        lag = r.lag_summary()
        if lag["p95"] > 30:
            r.notes.append(
                f"answers came late (p95 {lag['p95']:g} simulated s after their planned moment, "
                f"max {lag['max']:g} s): the server or this machine could not keep the schedule "
                "at this compression, so times in this run are stretched"
            )
        return r


@dataclass(frozen=True, slots=True)
class Throughput:
    logins: int  # successful
    seconds: float
    classes: dict[str, int]

    @property
    def rate(self) -> float:
        return self.logins / self.seconds if self.seconds else 0.0


async def measure_throughput(
    target: Target,
    logins: list[tuple[Browser, str, str]],
    *,
    seconds: float = 10.0,
    concurrency: int = 16,
) -> Throughput:
    """Successful logins per second: `concurrency` clients logging in back to back for
    `seconds`, each time with the next (browser, login ID, password) of `logins` (known devices
    with their cookies, so every login should succeed without a second step)."""
    classes: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    next_index = 0
    ok = 0

    async def worker() -> None:
        nonlocal next_index, ok
        while time.monotonic() < deadline:
            browser, login_id, password = logins[next_index % len(logins)]
            next_index += 1
            try:
                answer = await target.login(browser, login_id, password)
            except httpx.HTTPError as exc:
                answer = Answer(f"transport_error:{type(exc).__name__}", 0)
            classes[answer.cls] = classes.get(answer.cls, 0) + 1
            if answer.cls == "ok" and time.monotonic() <= deadline:
                ok += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Throughput(logins=ok, seconds=time.monotonic() - started, classes=classes)
