"""Whole simulations: scenarios (or a suite) against a Mamori the simulator starts itself, or
against a server already running.

Managed Mamori: the population is seeded once on a fresh server (real argon2 parameters,
compressed windows, dev outbox, the simulator as trusted proxy, an operator token), the database
is snapshotted, and every scenario then runs against a fresh server started on its own copy of
that snapshot with the scenario's compression, so no scenario inherits another's locks, bans or
"under attack" state.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from mamori.simulate import population as population_mod
from mamori.simulate import report
from mamori.simulate.browser import Browser, shared_client
from mamori.simulate.networks import Catalog, load_catalog
from mamori.simulate.population import Population
from mamori.simulate.runner import Runner, RunResult, Throughput, measure_throughput
from mamori.simulate.scenario import PopulationSpec, Scenario, Suite, scenarios_of
from mamori.simulate.seed import Seeded, seed_mamori
from mamori.simulate.server import (
    ManagedServer,
    new_token,
    server_env,
    snapshot,
    start_mamori,
)
from mamori.simulate.targets import MamoriTarget, PeerTarget, Target

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass
class SeedSnapshot:
    spec: PopulationSpec
    seeded: Seeded
    db: Path
    secret_key: str
    admin_token: str


class ManagedMamori:
    """Seeds populations and starts one fresh Mamori per scenario (see the module docstring)."""

    def __init__(
        self, workdir: Path, *, log: Log = _quiet, extra_env: dict[str, str] | None = None
    ):
        self.workdir = workdir
        self.log = log
        self.secret_key = new_token()
        self.admin_token = new_token()
        self.extra_env = extra_env or {}
        self.snapshots: dict[PopulationSpec, SeedSnapshot] = {}
        self.catalog: Catalog = load_catalog()

    def env(self, db: Path, *, compress: float, workers: int) -> dict[str, str]:
        return server_env(
            db,
            compress=compress,
            admin_token=self.admin_token,
            secret_key=self.secret_key,
            workers=workers,
            extra=self.extra_env,
        )

    async def seed(self, scenario: Scenario) -> SeedSnapshot:
        spec = scenario.population
        if spec in self.snapshots:
            return self.snapshots[spec]
        n = len(self.snapshots)
        db = self.workdir / f"seed-{n}.db"
        _remove_db(db)
        population = population_mod.generate(spec, self.catalog)
        env = self.env(db, compress=scenario.run.compress, workers=scenario.run.workers)
        server = start_mamori(self.workdir, env=env, workers=scenario.run.workers, name=f"seed-{n}")
        try:
            self.log(f"seeding {spec.users} users on {server.base_url} ...")
            async with shared_client(connections=32) as http:
                target = MamoriTarget(http, server.base_url, admin_token=self.admin_token)
                last = [0.0]

                def progress(done: int, total: int) -> None:
                    if time.monotonic() - last[0] > 5 or done == total:
                        last[0] = time.monotonic()
                        self.log(f"  seeded {done}/{total}")

                seeded = await seed_mamori(target, http, population, spec, progress=progress)
            self.log(
                f"seeded {spec.users} users ({seeded.requests} requests, {seeded.challenges} "
                f"second steps) in {seeded.seconds:.0f} s"
            )
        finally:
            server.stop()
        snap = db.with_suffix(".snapshot.db")
        snapshot(db, snap)
        result = SeedSnapshot(spec, seeded, snap, self.secret_key, self.admin_token)
        self.snapshots[spec] = result
        return result

    def start(self, scenario: Scenario, snap: SeedSnapshot) -> ManagedServer:
        db = self.workdir / f"{scenario.name}.db"
        _remove_db(db)
        shutil.copyfile(snap.db, db)
        env = self.env(db, compress=scenario.run.compress, workers=scenario.run.workers)
        return start_mamori(
            self.workdir,
            env=env,
            workers=scenario.run.workers,
            name=scenario.name,
            do_migrate=False,
        )

    async def run(self, scenario: Scenario) -> RunResult:
        snap = await self.seed(scenario)
        server = self.start(scenario, snap)
        try:
            async with shared_client(connections=scenario.run.concurrency) as http:
                target = MamoriTarget(http, server.base_url, admin_token=self.admin_token)
                runner = Runner(scenario, target, snap.seeded, self.catalog, http, log=self.log)
                return await runner.run()
        finally:
            server.stop()

    async def throughput(
        self, scenario: Scenario, *, seconds: float = 10.0, concurrency: int = 16
    ) -> Throughput:
        """Successful logins per second from known devices, on a fresh copy of the seed."""
        snap = await self.seed(scenario)
        server = self.start(scenario, snap)
        try:
            async with shared_client(connections=concurrency) as http:
                target = MamoriTarget(http, server.base_url)
                logins = known_device_logins(snap.seeded, http, server.base_url)
                return await measure_throughput(
                    target, logins, seconds=seconds, concurrency=concurrency
                )
        finally:
            server.stop()


def _remove_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def known_device_logins(
    seeded: Seeded, http: httpx.AsyncClient, base_url: str
) -> list[tuple[Browser, str, str]]:
    """(browser with its cookies, login ID, password) for every habitual device."""
    out = []
    for u in seeded.population.users:
        for d in u.devices:
            browser = Browser(
                http,
                base_url,
                user_agent=d.user_agent,
                ip=u.home_ip,
                cookies=seeded.cookies.get(d.key, {}),
                name=d.key,
            )
            out.append((browser, u.login_id, u.password))
    return out


async def run_managed(
    loaded: Scenario | Suite,
    out: Path,
    *,
    workdir: Path | None = None,
    log: Log = _quiet,
) -> tuple[list[RunResult], Path]:
    """Every scenario against its own fresh managed Mamori; the report in `out`."""
    temp = None
    if workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="mamori-simulate-")
        workdir = Path(temp.name)
    try:
        managed = ManagedMamori(workdir, log=log)
        results = []
        for scenario in scenarios_of(loaded):
            results.append(await managed.run(scenario))
        path = write(loaded, results, out)
        return results, path
    finally:
        if temp is not None:
            temp.cleanup()


def write(loaded: Scenario | Suite, results: Sequence[RunResult], out: Path) -> Path:
    if isinstance(loaded, Suite):
        return report.write_suite(loaded.name, results, out)
    return report.write_scenario(results[0], out)


async def run_against(
    scenario: Scenario,
    *,
    base_url: str,
    kind: str,
    admin_token: str = "",
    log: Log = _quiet,
) -> RunResult:
    """One scenario against a server already running. Mamori: it must be fresh (the population
    signs up) and started with the scenario's compressed settings (`mamori simulate --env`).
    The peer: seeded beforehand from `mamori simulate --write-users`."""
    catalog = load_catalog()
    population: Population = population_mod.generate(scenario.population, catalog)
    async with shared_client(connections=scenario.run.concurrency) as http:
        target: Target
        if kind == "mamori":
            mamori = MamoriTarget(http, base_url, admin_token=admin_token)
            if not await mamori.healthy():
                raise RuntimeError(f"no Mamori answers at {base_url}/healthz")
            log(f"seeding {scenario.population.users} users on {base_url} ...")
            seeded = await seed_mamori(mamori, http, population, scenario.population)
            target = mamori
        else:
            from mamori.simulate.seed import peer_users

            _, secrets = peer_users(population, seed=scenario.population.seed)
            target = PeerTarget(http, base_url, totp_secrets=secrets)
            if not await target.healthy():
                raise RuntimeError(f"no peer answers at {base_url}/healthz")
            seeded = Seeded(population=population)
        return await Runner(scenario, target, seeded, catalog, http, log=log).run()
