"""The same attack scenarios against Mamori and a typical Django stack, in one table.

    .venv/bin/python bench/simulate_compare.py [--suite default] [--out var/simulate]
        [--scenario NAME ...] [--throughput-seconds 10] [--skip-peer] [--peer-axes default,tuned]

A measurement, not a timed test: it exits 0 whether or not a goal is met.

1. Mamori: `mamori serve --workers 2` on a fresh SQLite file, the real argon2id parameters,
   dev mode (the outbox stands for the users' mailboxes and phones), the simulator trusted as the
   proxy (127.0.0.1/32), an operator token, and every defense window divided by the scenario's
   compression. The population (`scenarios/population.toml`) signs up and builds its login
   history once; every scenario of the suite then runs against a fresh server on a copy of that
   database (`mamori.simulate.session.ManagedMamori`).
2. The Django peer (bench/peers/, django-axes + django-otp, argon2id at the same parameters),
   with axes' `default` and `tuned` configurations: for every scenario a fresh database seeded
   with the same population (users with a phone in Mamori have a TOTP device there), axes'
   cool-off divided by the compression. Skipped, and said so, when bench/peers is missing or its
   environment cannot be built.
3. Login throughput: for `--throughput-seconds`, 16 clients log in back to back with known
   credentials from known devices (Mamori: the habitual devices with their cookies; the peer:
   users without a second factor), same driver for both.

It writes `<out>/mamori/`, `<out>/peer-<axes>/` (each a full simulation report) and
`<out>/compare.md` + `compare.json`, and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import exit_on_sigterm, free_port, machine_info
from mamori.simulate import report
from mamori.simulate.browser import Browser, shared_client
from mamori.simulate.networks import Catalog, load_catalog
from mamori.simulate.outcomes import GOAL_CHALLENGED_SHARE, FrictionRow
from mamori.simulate.population import generate
from mamori.simulate.runner import Runner, RunResult, Throughput, measure_throughput
from mamori.simulate.scenario import Scenario, load, scenarios_of
from mamori.simulate.seed import Seeded, peer_users
from mamori.simulate.session import ManagedMamori
from mamori.simulate.targets import PeerTarget

PEER_COOLOFF = 600  # the peer's own default cool-off (s), divided by the compression


@dataclasses.dataclass
class TargetRun:
    name: str
    results: list[RunResult]
    throughput: Throughput | None
    report: Path | None = None
    skipped: str = ""


def log(message: str) -> None:
    print(message, flush=True)


# ---- Mamori --------------------------------------------------------------------------------


async def run_mamori(
    scenarios: list[Scenario], suite: str, out: Path, work: Path, seconds: float
) -> TargetRun:
    (work / "mamori").mkdir(parents=True, exist_ok=True)
    managed = ManagedMamori(work / "mamori", log=log)
    results = [await managed.run(s) for s in scenarios]
    path = report.write_suite(suite, results, out / "mamori")
    log(f"Mamori: login throughput for {seconds:g} s ...")
    tp = await managed.throughput(scenarios[0], seconds=seconds)
    return TargetRun("Mamori", results, tp, path)


# ---- the peer ------------------------------------------------------------------------------


async def run_peer(
    axes: str,
    scenarios: list[Scenario],
    suite: str,
    out: Path,
    work: Path,
    seconds: float,
    catalog: Catalog,
) -> TargetRun:
    from bench.peers.peer import start_peer, stop_peer

    results = []
    for s in scenarios:
        population = generate(s.population, catalog)
        text, secrets = peer_users(population, seed=s.population.seed)
        folder = work / f"peer-{axes}"
        folder.mkdir(parents=True, exist_ok=True)
        users = folder / "users.jsonl"
        users.write_text(text, encoding="utf-8")
        port = free_port()
        log(f"peer ({axes}): {s.name}: starting on port {port} ...")
        proc = start_peer(
            port=port,
            workers=s.run.workers,
            axes=axes,  # type: ignore[arg-type]
            cooloff_seconds=max(1, round(PEER_COOLOFF / s.run.compress)),
            database=folder / f"{s.name}.sqlite3",
            users_file=users,
        )
        try:
            async with shared_client(connections=s.run.concurrency) as http:
                target = PeerTarget(http, f"http://127.0.0.1:{port}", totp_secrets=secrets)
                runner = Runner(s, target, Seeded(population=population), catalog, http, log=log)
                results.append(await runner.run())
        finally:
            stop_peer(proc)
    path = report.write_suite(suite, results, out / f"peer-{axes}")
    tp = await peer_throughput(axes, scenarios[0], work, seconds, catalog)
    return TargetRun(f"Django + axes ({axes})", results, tp, path)


async def peer_throughput(
    axes: str, scenario: Scenario, work: Path, seconds: float, catalog: Catalog
) -> Throughput:
    from bench.peers.peer import start_peer, stop_peer

    population = generate(scenario.population, catalog)
    text, _ = peer_users(population, seed=scenario.population.seed)
    folder = work / f"peer-{axes}-throughput"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.jsonl").write_text(text, encoding="utf-8")
    port = free_port()
    log(f"peer ({axes}): login throughput for {seconds:g} s ...")
    proc = start_peer(
        port=port,
        workers=scenario.run.workers,
        axes=axes,  # type: ignore[arg-type]
        cooloff_seconds=PEER_COOLOFF,
        database=folder / "peer.sqlite3",
        users_file=folder / "users.jsonl",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with shared_client(connections=16) as http:
            target = PeerTarget(http, base)
            logins = [
                (
                    Browser(http, base, user_agent=u.devices[0].user_agent, ip=u.home_ip),
                    u.login_id,
                    u.password,
                )
                for u in population.users
                if not u.phone  # no second factor on the peer
            ]
            return await measure_throughput(target, logins, seconds=seconds, concurrency=16)
    finally:
        stop_peer(proc)


# ---- the table -----------------------------------------------------------------------------


def summary(run: TargetRun) -> dict[str, Any]:
    campaigns = [c for r in run.results if r.outcomes for c in r.outcomes.campaigns]
    legit = report.merge_rows(r.outcomes.legit.total for r in run.results if r.outcomes)
    total = legit[0] if legit else FrictionRow("all", 0, {})
    locked_by_attacker = sum(
        len(r.outcomes.legit.users_locked_out_by_attacks) for r in run.results if r.outcomes
    )
    blocked = sum(len(r.outcomes.legit.users_blocked) for r in run.results if r.outcomes)
    attempts = sum(c.attempts for c in campaigns)
    return {
        "target": run.name,
        "takeovers": sum(c.takeovers for c in campaigns if c.kind != "phishing_relay"),
        "relay_takeovers": sum(c.takeovers for c in campaigns if c.kind == "phishing_relay"),
        "relay_victims": sum(c.accounts_tried for c in campaigns if c.kind == "phishing_relay"),
        "confirmed": sum(c.confirmed for c in campaigns if c.kind != "phishing_relay"),
        "confirmed_stuffing": sum(
            c.confirmed for c in campaigns if c.kind in ("stuffing", "low_and_slow")
        ),
        "legit_logins": total.logins,
        "legit_challenged": total.count("challenged"),
        "legit_locked": total.count("locked"),
        "legit_blocked": total.count("blocked"),
        "users_locked_by_attacker": locked_by_attacker,
        "users_blocked": blocked,
        "attack_attempts": attempts,
        "reached_hash": sum(c.reached_hash for c in campaigns),
        "logins_per_second": round(run.throughput.rate, 1) if run.throughput else None,
        "report": str(run.report) if run.report else None,
    }


def table(runs: list[TargetRun]) -> list[str]:
    lines = [
        "| target | account takeovers (relay excluded) | relay takeovers | credentials "
        "confirmed (relay excluded) | legitimate logins challenged | legitimate logins "
        "locked / blocked | users locked out by an attacker | attacker requests reaching the "
        "hash | login throughput (logins/s) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        if run.skipped:
            lines.append(f"| {run.name} | skipped: {run.skipped} |||||||")
            continue
        s = summary(run)
        share = s["legit_challenged"] / s["legit_logins"] if s["legit_logins"] else 0.0
        hashed = s["reached_hash"] / s["attack_attempts"] if s["attack_attempts"] else 0.0
        lines.append(
            f"| {s['target']} | {s['takeovers']} | {s['relay_takeovers']} of "
            f"{s['relay_victims']} | {s['confirmed']} | {share:.2%} "
            f"({s['legit_challenged']} of {s['legit_logins']}) | {s['legit_locked']} / "
            f"{s['legit_blocked']} | {s['users_locked_by_attacker']} | {hashed:.1%} "
            f"({s['reached_hash']} of {s['attack_attempts']}) | "
            f"{s['logins_per_second'] if s['logins_per_second'] is not None else '—'} |"
        )
    return lines


def per_scenario(runs: list[TargetRun]) -> list[str]:
    done = [r for r in runs if not r.skipped]
    if not done:
        return []
    names = [r.name for r in done]
    lines = [
        "| scenario / campaign | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    rows: dict[str, list[str]] = {}
    for i, run in enumerate(done):
        for r in run.results:
            for c in r.outcomes.campaigns if r.outcomes else ():
                cell = f"takeovers {c.takeovers}, confirmed {c.confirmed}, hash {c.hash_share:.0%}"
                rows.setdefault(f"{r.scenario.name} / {c.name}", [""] * len(done))[i] = cell
    lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
    return lines


def markdown(runs: list[TargetRun], suite: str, seconds: float, started: float) -> str:
    info = machine_info()
    lines = [
        f"# Attack simulation: Mamori and a Django peer ({suite} suite)",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"{info['date']}; load average at the end {info['load_average']}; "
        f"{time.monotonic() - started:.0f} s in all.",
        "",
        *table(runs),
        "",
        "Legitimate logins challenged: a second step was asked (a new device, a code-protected "
        f"account); Mamori's goal is under {GOAL_CHALLENGED_SHARE:.0%}. Login throughput: "
        f"successful logins per second from known devices, 16 clients, {seconds:g} s.",
        "",
        "## Per scenario",
        "",
        *per_scenario(runs),
        "",
        "## Reports",
        "",
    ]
    for run in runs:
        if run.report is not None:
            lines.append(f"- {run.name}: {run.report}")
        elif run.skipped:
            lines.append(f"- {run.name}: skipped ({run.skipped})")
    return "\n".join(lines) + "\n"


# ---- main ----------------------------------------------------------------------------------


def peer_problem() -> str:
    """Why the peer cannot run here ("" when it can)."""
    try:
        from bench.peers.peer import ensure_venv
    except ImportError as exc:
        return f"bench/peers is not available ({exc})"
    try:
        ensure_venv()
    except Exception as exc:  # any failure to build it means: skip, and say why
        return f"the peer's environment could not be built: {str(exc).splitlines()[0]}"
    return ""


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    loaded = load(args.suite)
    scenarios = list(scenarios_of(loaded))
    if args.scenario:
        scenarios = [s for s in scenarios if s.name in args.scenario]
        if not scenarios:
            log(f"no scenario named {args.scenario} in {args.suite}")
            return 2
    suite = loaded.name
    out = Path(args.out)
    catalog = load_catalog()
    runs: list[TargetRun] = []
    with tempfile.TemporaryDirectory(prefix="mamori-simulate-compare-") as tmp:
        work = Path(tmp)
        runs.append(await run_mamori(scenarios, suite, out, work, args.throughput_seconds))
        problem = "--skip-peer" if args.skip_peer else peer_problem()
        for axes in [a.strip() for a in args.peer_axes.split(",") if a.strip()]:
            name = f"Django + axes ({axes})"
            if problem:
                runs.append(TargetRun(name, [], None, skipped=problem))
                continue
            try:
                runs.append(
                    await run_peer(
                        axes, scenarios, suite, out, work, args.throughput_seconds, catalog
                    )
                )
            except Exception as exc:  # report the peer's failure, keep Mamori's
                runs.append(TargetRun(name, [], None, skipped=f"failed: {exc}"))
    if problem:
        log(f"The peer part was SKIPPED: {problem}")
    text = markdown(runs, suite, args.throughput_seconds, started)
    (out / "compare.md").write_text(text, encoding="utf-8")
    (out / "compare.json").write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "suite": suite,
                "targets": [
                    {"name": r.name, "skipped": r.skipped} if r.skipped else summary(r)
                    for r in runs
                ],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(text)
    log(f"wrote {out / 'compare.md'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="default", help="a suite or scenario file, or a name")
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--out", default="var/simulate")
    parser.add_argument("--throughput-seconds", type=float, default=10.0)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-axes", default="default,tuned")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
