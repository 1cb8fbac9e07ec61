"""Login throughput of `mamori serve --workers 2` against the argon2id bound.

    python bench/login_throughput.py [--seconds 10] [--rounds 3] [--warmup 3] [--connections 8]
                                     [--json PATH]

A measurement, not a timed test: it prints its figures next to their bound, because the machines
it runs on are shared and noisy, and exits 0 whether or not the goal is met.

1. The server: a fresh SQLite database in a temporary folder, `mamori migrate`, 1,000 accounts
   written straight into it (one password hashed once and its hash reused: verifying costs the same
   whichever account it belongs to; two-step verification off, since this measures password
   logins), then `mamori serve --workers 2` in its own process group.
2. A warm-up pass logs every account in once, as its owner's browser did before, and keeps the
   device cookie each got (`--cold` skips it: most measured logins are then first logins from a
   new device, with a new-device notice each).
3. `--rounds` rounds, each of two phases of `--seconds`, one after the other, so that both
   throughputs are measured under the same drift of this shared machine (the speed of one
   argon2id verification here wanders by 5-10% from one ten seconds to the next):
   - the bound: `--workers` processes (2) verify one argon2id hash in a loop with the default
     parameters (m=19 MiB, t=2, p=1), through `mamori.passwords.PasswordHasher`, while the
     server idles. Their summed verifications per second are the most logins per second the
     server could answer if nothing but the hash cost anything;
   - the logins: a separate client process speaking raw HTTP/1.1 with pre-built requests
     (keep-alive, `--connections` connections; httpx cost ~3 ms of the shared CPUs per login)
     posts successful logins for random accounts, each with its browser's device cookie, to
     `POST /api/v1/login`; after `--warmup` seconds it counts, for `--seconds`, the 200
     responses and the errors that complete in the window, and their latencies.

It prints logins/s over all rounds, the bound (the mean of the rounds'), their ratio (goal >= 0.85:
everything besides the hash costs under 15%) with a 95% interval from the spread of the rounds'
ratios (this VM's speed drifts by tens of percent within seconds) and each round's ratio,
p50/p95 latency, errors and
the machine. As a cross-check that survives a busy machine it also prints the CPU time the
server's process group spent per login, split into the hash and everything besides it, twice:
with the bound's CPU time per verification, and with the CPU time the server's own hashing
threads counted (`mamori_password_hash_cpu_seconds_total` on /metrics); and how many CPUs other
processes and the hypervisor took meanwhile. The server is stopped (SIGTERM to its process group,
then SIGKILL) whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from mamori.identifiers import normalize_login_id
from mamori.passwords import HashParams, PasswordHasher
from mamori.store import create_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    busy_cores,
    exit_on_sigterm,
    free_port,
    group_cpu,
    log_tail,
    machine_cpu_times,
    machine_info,
    mamori_command,
    percentile,
    stolen_cores,
    stop_helper,
    stop_server,
)
from bench.defense import ResponseHead, http_request, read_response

GOAL_RATIO = 0.85
LOGIN_PATH = "/api/v1/login"
DEVICE_COOKIE = "__Host-mamori_device"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
HELPER_START_TIMEOUT = 60.0  # for a spawned process to import and say "ready"
ROUND_SLACK_SECONDS = 0.2  # from a command to the helpers to the start of their window
METRICS_LEAD_SECONDS = 0.15  # /metrics is read this long before a login window opens
SERVER_START_TIMEOUT = 90.0
SERVER_STOP_TIMEOUT = 15.0
CLIENT_RESULT_TIMEOUT = 90.0  # seconds after the window for the client's last requests
QUIET_OTHERS_CORES = 0.15  # CPUs other processes may use while the machine still counts as quiet


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class BoundWorker:
    verifications: int
    elapsed: float  # wall seconds
    cpu: float  # CPU seconds of the process over the same loop

    @property
    def rate(self) -> float:
        return self.verifications / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ClientResult:
    ok: int
    errors: int
    error_kinds: dict[str, int]
    latencies_ms: list[float] = field(repr=False)
    window: float  # wall seconds actually measured
    cpu: float  # the client's CPU seconds over the window
    late_by: float  # > 0 if the client started after the measured window opened


# --------------------------------------------------------------------------------------------------
# Machine


# --------------------------------------------------------------------------------------------------
# The bound: raw argon2id verifications in separate processes


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def bound_worker_main(
    commands: Connection, stored_hash: str, password: str, params: HashParams
) -> None:
    """A bound process: for each (start_at, stop_at) it receives, verify `password` against
    `stored_hash` in a loop over that window and send back a BoundWorker; None ends it."""
    hasher = PasswordHasher(params=params)
    assert hasher.verify(stored_hash=stored_hash, password=password)
    commands.send("ready")
    while (window := commands.recv()) is not None:
        start_at, stop_at = window
        _sleep_until(start_at)
        count = 0
        cpu0 = time.process_time()
        t0 = now = time.monotonic()
        while now < stop_at:
            hasher.verify(stored_hash=stored_hash, password=password)
            count += 1
            now = time.monotonic()
        commands.send(
            BoundWorker(verifications=count, elapsed=now - t0, cpu=time.process_time() - cpu0)
        )


# --------------------------------------------------------------------------------------------------
# The client (a separate process)


def _split(base_url: str) -> tuple[str, int]:
    host, _, port = base_url.removeprefix("http://").partition(":")
    return host, int(port or 80)


def _login_request(host: str, port: int, body: bytes, cookie: str) -> bytes:
    headers = [("User-Agent", USER_AGENT), ("Content-Type", "application/json")]
    if cookie:
        headers.append(("Cookie", cookie))
    return http_request("POST", LOGIN_PATH, host=f"{host}:{port}", headers=headers, body=body)


def _device_cookie(head: ResponseHead) -> str:
    for name, value in head.headers:
        if name == "set-cookie" and value.startswith(DEVICE_COOKIE + "="):
            return value.split(";", 1)[0]
    return ""


async def warm_devices(
    base_url: str, login_ids: Sequence[str], password: str, *, connections: int
) -> list[str]:
    """Log every account in once, as its owner's browser did before: returns the device
    cookie ("name=value") each first login set, so that the measured logins are returning
    browsers (a first login is a new device, with a new-device notice; `--cold` measures those)."""
    host, port = _split(base_url)
    cookies = [""] * len(login_ids)
    todo = iter(range(len(login_ids)))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in todo:
                body = json.dumps({"login_id": login_ids[i], "password": password}).encode()
                writer.write(_login_request(host, port, body, ""))
                head, content = await read_response(reader)
                if head.status != 200 or b'"status":"ok"' not in content:
                    detail = f"HTTP {head.status} {content[:200]!r}"
                    raise RuntimeError(f"warm-up login failed: {detail}")
                cookies[i] = _device_cookie(head)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return cookies


async def drive_logins(
    base_url: str,
    login_ids: Sequence[str],
    password: str,
    *,
    connections: int,
    start_at: float,
    measure_from: float,
    stop_at: float,
    cookies: Sequence[str] | None = None,
) -> ClientResult:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    began = time.monotonic()
    late_by = max(0.0, began - measure_from)
    latencies: list[float] = []
    error_kinds: Counter[str] = Counter()
    ok = 0
    cpu_marks: dict[str, float] = {}
    host, port = _split(base_url)
    # Raw HTTP/1.1 over keep-alive connections with the requests built once, so that the client
    # spends as little as it can of the CPUs it shares with the server (httpx took ~3 ms a login).
    bodies = [
        json.dumps({"login_id": login_id, "password": password}).encode() for login_id in login_ids
    ]
    # Each account logs in from its own browser: the device cookie its first login set is sent
    # back afterwards (a client without cookies would be a new device, and get a new-device
    # notice, at every login).
    jar = list(cookies) if cookies is not None else [""] * len(login_ids)
    requests = [_login_request(host, port, body, c) for body, c in zip(bodies, jar, strict=True)]

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu_marks["from"] = time.process_time()
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        cpu_marks["to"] = time.process_time()

    async def user() -> None:
        nonlocal ok
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.monotonic() < stop_at:
            i = random.randrange(len(bodies))
            t0 = time.monotonic()
            kind = ""
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(requests[i])
                head, content = await read_response(reader)
                if not jar[i]:
                    jar[i] = _device_cookie(head)
                    if jar[i]:
                        requests[i] = _login_request(host, port, bodies[i], jar[i])
                if head.status != 200:
                    kind = f"HTTP {head.status}"
                elif b'"status":"ok"' not in content:
                    kind = "not logged in"
                if any(n == "connection" and v.lower() == "close" for n, v in head.headers):
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                kind = type(exc).__name__
                if writer is not None:
                    writer.close()
                reader = writer = None
            t1 = time.monotonic()
            if not measure_from <= t1 <= stop_at:  # warm-up, or finished after the window
                continue
            if kind:
                error_kinds[kind] += 1
            else:
                ok += 1
                latencies.append((t1 - t0) * 1000.0)
        if writer is not None:
            writer.close()

    await asyncio.gather(mark_cpu(), *(user() for _ in range(connections)))
    return ClientResult(
        ok=ok,
        errors=sum(error_kinds.values()),
        error_kinds=dict(error_kinds),
        latencies_ms=latencies,
        window=stop_at - max(measure_from, began),
        cpu=cpu_marks.get("to", 0.0) - cpu_marks.get("from", 0.0),
        late_by=late_by,
    )


def client_main(
    commands: Connection,
    base_url: str,
    login_ids: list[str],
    password: str,
    connections: int,
    cookies: list[str] | None = None,
) -> None:
    """The client process: for each (start_at, measure_from, stop_at) it receives, drive logins
    over new connections and send back a ClientResult; None ends it."""
    commands.send("ready")
    while (window := commands.recv()) is not None:
        start_at, measure_from, stop_at = window
        result = asyncio.run(
            drive_logins(
                base_url,
                login_ids,
                password,
                connections=connections,
                start_at=start_at,
                measure_from=measure_from,
                stop_at=stop_at,
                cookies=cookies,
            )
        )
        commands.send(result)


@contextlib.contextmanager
def helpers(
    target: Any, args_each: Sequence[tuple[Any, ...]], name: str
) -> Iterator[list[Connection]]:
    """Spawn one process per argument tuple running `target(pipe_end, *args)`; yield our pipe
    ends once every process said "ready". They are told to stop (then terminated, then killed)
    when the block ends."""
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes: list[multiprocessing.process.BaseProcess] = []
    try:
        for i, args in enumerate(args_each):
            ours, theirs = context.Pipe()
            process = context.Process(target=target, args=(theirs, *args), name=f"{name}-{i}")
            process.start()
            theirs.close()
            pipes.append(ours)
            processes.append(process)
        for pipe in pipes:
            if receive(pipe, HELPER_START_TIMEOUT) != "ready":
                raise RuntimeError(f"the {name} process did not start")
        yield pipes
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
            pipe.close()
        for helper in processes:
            stop_helper(helper, grace=5.0, timeout=SERVER_STOP_TIMEOUT)


def receive(pipe: Connection, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise RuntimeError("a helper process gave no answer")
    try:
        return pipe.recv()
    except EOFError:
        raise RuntimeError("a helper process died without an answer") from None


# --------------------------------------------------------------------------------------------------
# The server


def server_env(database: Path, port: int, params: HashParams) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "MAMORI_SECRET_KEY": secrets.token_urlsafe(48),
            "MAMORI_HTTP_HOST": "127.0.0.1",
            "MAMORI_HTTP_PORT": str(port),
            "MAMORI_DEV": "0",
            "MAMORI_COOKIE_SECURE": "1",
            "MAMORI_ARGON2_TIME_COST": str(params.time_cost),
            "MAMORI_ARGON2_MEMORY_KIB": str(params.memory_cost_kib),
            "MAMORI_ARGON2_PARALLELISM": str(params.parallelism),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # extra server settings for experiments, e.g. MAMORI_BENCH_SERVER_ENV="MAMORI_HASH_QUEUE=8"
    for item in os.environ.get("MAMORI_BENCH_SERVER_ENV", "").split(","):
        key, sep, value = item.strip().partition("=")
        if sep and key.startswith("MAMORI_"):
            env[key] = value
    return env


async def seed_accounts(database_url: str, count: int, password_hash: str) -> list[str]:
    """Write `count` accounts sharing one password hash; return their login IDs."""
    store = create_store(database_url)
    login_ids: list[str] = []
    now = datetime.now(UTC)
    try:
        async with store.begin() as tx:
            for i in range(count):
                login_id, key = normalize_login_id(f"bench{i:05d}")
                await tx.accounts.create(
                    login_id=login_id,
                    login_key=key,
                    email=f"{login_id}@example.com",
                    phone=None,
                    password_hash=password_hash,
                    language="en",
                    now=now,
                    # password logins are measured here; challenged logins are not sessions
                    two_step_mode="off",
                )
                login_ids.append(login_id)
    finally:
        await store.dispose()
    return login_ids


def wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}):\n{log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/healthz").status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def running_server(
    workdir: Path, env: dict[str, str], workers: int, base_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            mamori_command("serve", "--workers", str(workers)),
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that stop_server reaches workers
        )
    try:
        wait_until_ready(process, base_url, log)
        yield process
    finally:
        stop_server(process, timeout=SERVER_STOP_TIMEOUT)


# --------------------------------------------------------------------------------------------------
# Running and reporting


def hash_counters(base_url: str) -> tuple[float, float] | None:
    """(verifications, CPU seconds) the server's hashing threads have counted so far, from
    /metrics (summed over the workers), or None if it cannot be read."""
    try:
        text = httpx.get(f"{base_url}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return None
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("mamori_password_hashes_total", "mamori_password_hash_cpu_seconds_total"):
            found[name] = float(value)
    if len(found) != 2:
        return None
    return found["mamori_password_hashes_total"], found["mamori_password_hash_cpu_seconds_total"]


@dataclass(frozen=True, slots=True)
class Round:
    bound: list[BoundWorker]
    bound_machine_cores: float | None
    client: ClientResult
    server_cpu: float | None  # CPU seconds of the server's processes over the login window
    worker_cores: list[float]  # CPUs of its busiest processes (the workers) over the window
    login_machine_cores: float | None
    steal_cores: tuple[float | None, float | None]  # during the bound, during the logins
    server_hashes: tuple[float, float] | None  # (verifications, CPU s) counted in the server

    @property
    def bound_rate(self) -> float:
        return sum(w.rate for w in self.bound)

    @property
    def login_rate(self) -> float:
        return self.client.ok / self.client.window if self.client.window > 0 else 0.0


def login_round(
    client: Connection, server: subprocess.Popen[bytes], base_url: str, args: argparse.Namespace
) -> tuple[
    ClientResult,
    float | None,
    list[float],
    float | None,
    float | None,
    tuple[float, float] | None,
]:
    """One login phase: (client result, server CPU s, the busiest server processes' CPUs,
    machine cores, steal cores, hashes)."""
    start_at = time.monotonic() + ROUND_SLACK_SECONDS
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.seconds
    client.send((start_at, measure_from, stop_at))
    # /metrics is read just outside the window (its answer costs the server a little CPU)
    _sleep_until(measure_from - METRICS_LEAD_SECONDS)
    hashes0, m0 = hash_counters(base_url), time.monotonic()
    _sleep_until(measure_from)
    server_cpu0, machine0, t0 = group_cpu(server.pid), machine_cpu_times(), time.monotonic()
    _sleep_until(stop_at)
    server_cpu1, machine1, t1 = group_cpu(server.pid), machine_cpu_times(), time.monotonic()
    hashes1, m1 = hash_counters(base_url), time.monotonic()
    result = receive(client, CLIENT_RESULT_TIMEOUT)
    if not isinstance(result, ClientResult):
        raise RuntimeError(f"unexpected answer from the client process: {result!r}")
    # per process: the busiest ones are the workers (the supervisor idles)
    per_process = sorted(
        (cpu - server_cpu0.get(pid, 0.0) for pid, cpu in server_cpu1.items()), reverse=True
    )
    # CPU seconds over the login window (the samples are microseconds off its edges)
    scale = args.seconds / (t1 - t0) if t1 > t0 else 1.0
    server_cpu = sum(per_process) * scale if per_process else None
    # the hashing threads' count and CPU, scaled from the /metrics window to the login window
    hashes = (
        (
            (hashes1[0] - hashes0[0]) * args.seconds / (m1 - m0),
            (hashes1[1] - hashes0[1]) * args.seconds / (m1 - m0),
        )
        if hashes0 is not None and hashes1 is not None and m1 > m0
        else None
    )
    return (
        result,
        server_cpu,
        [round(cpu / (t1 - t0), 2) for cpu in per_process[: args.workers]],
        busy_cores(machine0, machine1, t1 - t0),
        stolen_cores(machine0, machine1, t1 - t0),
        hashes,
    )


def bound_round(
    workers: list[Connection], args: argparse.Namespace
) -> tuple[list[BoundWorker], float | None, float | None]:
    """One bound phase: every bound process verifies over the same window."""
    start_at = time.monotonic() + ROUND_SLACK_SECONDS
    for worker in workers:
        worker.send((start_at, start_at + args.seconds))
    _sleep_until(start_at)
    before = machine_cpu_times()
    _sleep_until(start_at + args.seconds)
    after = machine_cpu_times()
    results = [receive(worker, CLIENT_RESULT_TIMEOUT) for worker in workers]
    if not all(isinstance(r, BoundWorker) for r in results):
        raise RuntimeError(f"unexpected answer from a bound process: {results!r}")
    return (
        results,
        busy_cores(before, after, args.seconds),
        stolen_cores(before, after, args.seconds),
    )


def measured_round(
    workers: list[Connection],
    client: Connection,
    server: subprocess.Popen[bytes],
    base_url: str,
    args: argparse.Namespace,
) -> Round:
    bound, bound_cores, bound_steal = bound_round(workers, args)
    result, server_cpu, worker_cores, login_cores, login_steal, hashes = login_round(
        client, server, base_url, args
    )
    return Round(
        bound=bound,
        bound_machine_cores=bound_cores,
        client=result,
        server_cpu=server_cpu,
        worker_cores=worker_cores,
        login_machine_cores=login_cores,
        steal_cores=(bound_steal, login_steal),
        server_hashes=hashes,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    params = HashParams()
    if args.time_cost is not None or args.memory_kib is not None:
        params = HashParams(
            time_cost=args.time_cost or params.time_cost,
            memory_cost_kib=args.memory_kib or params.memory_cost_kib,
        )
    machine = machine_info()
    print(
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"{machine['date']}, load average {machine['load_average']}",
        flush=True,
    )
    print(
        f"argon2id: m={params.memory_cost_kib} KiB, t={params.time_cost}, p={params.parallelism}",
        flush=True,
    )
    password = "bench-" + secrets.token_urlsafe(16)
    stored_hash = PasswordHasher(params=params).hash(password)
    rounds: list[Round] = []
    server_log_errors = 0

    with tempfile.TemporaryDirectory(prefix="mamori-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = server_env(workdir / "bench.db", port, params)
        subprocess.run(
            mamori_command("migrate"), cwd=workdir, env=env, check=True, capture_output=True
        )
        t0 = time.monotonic()
        login_ids = asyncio.run(
            seed_accounts(env["MAMORI_DATABASE_URL"], args.accounts, stored_hash)
        )
        print(f"seeded {len(login_ids)} accounts in {time.monotonic() - t0:.1f} s", flush=True)
        base_url = f"http://127.0.0.1:{port}"
        with running_server(workdir, env, args.workers, base_url) as server:
            cookies = None
            if not args.cold:
                t0 = time.monotonic()
                cookies = asyncio.run(
                    warm_devices(base_url, login_ids, password, connections=args.connections)
                )
                print(
                    f"warm-up: every account logged in once from its browser "
                    f"({time.monotonic() - t0:.1f} s); measured logins are returning browsers",
                    flush=True,
                )
            print(
                f"server: mamori serve --workers {args.workers} on {base_url}; client: "
                f"{args.connections} connections, {args.warmup:g} s warm-up + {args.seconds:g} s; "
                f"{args.rounds} rounds of bound then logins (the server idles during the bound)",
                flush=True,
            )
            with (
                helpers(
                    bound_worker_main,
                    [(stored_hash, password, params)] * args.workers,
                    "bound",
                ) as workers,
                helpers(
                    client_main,
                    [(base_url, login_ids, password, args.connections, cookies)],
                    "client",
                ) as (client_pipe,),
            ):
                for i in range(args.rounds):
                    rounds.append(measured_round(workers, client_pipe, server, base_url, args))
                    done = rounds[-1]
                    print(
                        f"  round {i + 1:2d}: bound {done.bound_rate:5.1f}/s, logins "
                        f"{done.login_rate:5.1f}/s, ratio {done.login_rate / done.bound_rate:.3f}"
                        + (
                            f"; server {done.server_cpu / args.seconds:.2f} CPUs "
                            f"{done.worker_cores}"
                            + (
                                f", machine {done.login_machine_cores:.2f}"
                                if done.login_machine_cores is not None
                                else ""
                            )
                            if done.server_cpu is not None
                            else ""
                        ),
                        flush=True,
                    )
            log_lines = (workdir / "server.log").read_text(errors="replace").splitlines()
            server_log_errors = sum(1 for ln in log_lines if "ERROR" in ln or "Traceback" in ln)
            if server_log_errors:
                # the exception lines (last line of each traceback), for the reader
                kinds = Counter(
                    ln.strip()
                    for ln in log_lines
                    if re.match(r"^\w+(\.\w+)*(Error|Exception)\b", ln.strip())
                )
                for text, n in kinds.most_common(5):
                    print(f"  server log: {n} x {text[:160]}", flush=True)
    return summarize(args, machine, params, rounds, server_log_errors, len(login_ids))


def ratio_interval(ratio: float, round_ratios: Sequence[float]) -> tuple[float, float] | None:
    """An approximate 95% interval for the ratio: the machine's speed drifts from round to
    round, and the spread of the rounds' own ratios says how far the overall one could be off
    (normal approximation; None with fewer than 3 rounds)."""
    if len(round_ratios) < 3:
        return None
    half = 1.96 * statistics.stdev(round_ratios) / math.sqrt(len(round_ratios))
    return (ratio - half, ratio + half)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) == len(values) else None


def summarize(
    args: argparse.Namespace,
    machine: dict[str, Any],
    params: HashParams,
    rounds: list[Round],
    server_log_errors: int,
    accounts: int,
) -> dict[str, Any]:
    """Figures over all rounds: rates over the summed windows, CPU over the summed counts."""
    bound = _mean([r.bound_rate for r in rounds]) or 0.0  # rounds measure equal windows
    verifications = sum(w.verifications for r in rounds for w in r.bound)
    hash_cpu_ms = 1000.0 * sum(w.cpu for r in rounds for w in r.bound) / max(1, verifications)
    ok = sum(r.client.ok for r in rounds)
    window = sum(r.client.window for r in rounds)
    throughput = ok / window if window > 0 else 0.0
    ratio = throughput / bound if bound > 0 else 0.0
    round_ratios = [r.login_rate / r.bound_rate if r.bound_rate else 0.0 for r in rounds]
    latencies = [ms for r in rounds for ms in r.client.latencies_ms]
    error_kinds: Counter[str] = Counter()
    for r in rounds:
        error_kinds.update(r.client.error_kinds)
    server_cpus = [r.server_cpu for r in rounds]
    server_cpu = sum(c for c in server_cpus if c is not None) if None not in server_cpus else None
    server_cpu_ms = 1000.0 * server_cpu / ok if server_cpu is not None and ok else None
    seconds = args.seconds * len(rounds)
    server_cores = server_cpu / seconds if server_cpu is not None else None
    client_cpu = sum(r.client.cpu for r in rounds)
    client_cores = client_cpu / seconds
    bound_cores = sum(w.cpu / w.elapsed for r in rounds for w in r.bound if w.elapsed > 0) / len(
        rounds
    )
    bound_machine = _mean([r.bound_machine_cores for r in rounds])
    login_machine = _mean([r.login_machine_cores for r in rounds])
    others_bound = bound_machine - bound_cores if bound_machine is not None else None
    others_logins = (
        login_machine - server_cores - client_cores
        if login_machine is not None and server_cores is not None
        else None
    )
    counted = [r.server_hashes for r in rounds]
    in_server: dict[str, float] | None = None
    if None not in counted and ok:
        n = sum(c[0] for c in counted if c is not None)
        cpu = sum(c[1] for c in counted if c is not None)
        in_server = {
            "hashes_per_login": n / ok,
            "hash_cpu_ms_per_hash": 1000.0 * cpu / n if n else 0.0,
            "hash_cpu_ms_per_login": 1000.0 * cpu / ok,
        }
    cpu_ratio = hash_cpu_ms / server_cpu_ms if server_cpu_ms else None
    in_server_ratio = (
        in_server["hash_cpu_ms_per_login"] / server_cpu_ms
        if in_server is not None and server_cpu_ms
        else None
    )
    return {
        "machine": machine,
        "argon2": {
            "time_cost": params.time_cost,
            "memory_kib": params.memory_cost_kib,
            "parallelism": params.parallelism,
        },
        "settings": {
            "workers": args.workers,
            "connections": args.connections,
            "accounts": accounts,
            "warmup_s": args.warmup,
            "browsers": "new (first logins)" if args.cold else "returning",
            "seconds": args.seconds,
            "rounds": args.rounds,
        },
        "rounds": [
            {
                "bound_per_s": r.bound_rate,
                "bound_per_process": [round(w.rate, 2) for w in r.bound],
                "logins_per_s": r.login_rate,
                "ratio": r.login_rate / r.bound_rate if r.bound_rate else 0.0,
                "server_cpu_ms_per_login": (
                    1000.0 * r.server_cpu / r.client.ok
                    if r.server_cpu is not None and r.client.ok
                    else None
                ),
                "worker_cores": r.worker_cores,
                "steal_cores_bound": r.steal_cores[0],
                "steal_cores_logins": r.steal_cores[1],
            }
            for r in rounds
        ],
        "bound": {
            "verifications_per_s": bound,
            "per_process": [round(w.rate, 2) for r in rounds for w in r.bound],
            "cores": bound_cores,
            "hash_cpu_ms": hash_cpu_ms,
        },
        "logins": {
            "ok": ok,
            "per_s": throughput,
            "errors": sum(error_kinds.values()),
            "error_kinds": dict(error_kinds),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "window_s": window,
            "client_late_s": max(r.client.late_by for r in rounds),
            "server_log_errors": server_log_errors,
        },
        "cpu": {
            "server_cpu_ms_per_login": server_cpu_ms,
            "non_hash_cpu_ms_per_login": (
                server_cpu_ms - hash_cpu_ms if server_cpu_ms is not None else None
            ),
            "in_server": in_server,
            "server_cores": server_cores,
            "client_cpu_ms_per_login": 1000.0 * client_cpu / ok if ok else None,
            "client_cores": client_cores,
            "other_processes_cores_during_bound": others_bound,
            "other_processes_cores_during_logins": others_logins,
        },
        "ratio": ratio,
        "ratio_interval_95": ratio_interval(ratio, round_ratios),
        "round_ratios": round_ratios,
        "cpu_time_ratio": cpu_ratio,
        "in_server_cpu_time_ratio": in_server_ratio,
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
    }


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def report(result: dict[str, Any]) -> None:
    bound = result["bound"]
    logins = result["logins"]
    cpu = result["cpu"]
    settings = result["settings"]
    print()
    print(
        f"Login throughput vs. the argon2id bound ({settings['rounds']} rounds of "
        f"{settings['seconds']:g} s each, alternating)"
    )
    print(
        f"  bound    {bound['verifications_per_s']:7.1f} verifications/s "
        f"({settings['workers']} processes; per process and round {bound['per_process']}; "
        f"{bound['hash_cpu_ms']:.1f} ms CPU per verification)"
    )
    print(
        f"  logins   {logins['per_s']:7.1f} /s  ({settings['browsers']} browsers; "
        f"{logins['ok']} x 200 in "
        f"{logins['window_s']:.1f} s, {logins['errors']} errors"
        + (f" {logins['error_kinds']}" if logins["error_kinds"] else "")
        + ")"
    )
    print(f"  latency  p50 {fmt_ms(logins['p50_ms'])}, p95 {fmt_ms(logins['p95_ms'])}")
    others = [
        cpu["other_processes_cores_during_bound"],
        cpu["other_processes_cores_during_logins"],
    ]
    quiet = None not in others and max(others) <= QUIET_OTHERS_CORES
    verdict = "GOAL MET" if result["goal_met"] else "GOAL MISSED"
    per_round = ", ".join(f"{r:.3f}" for r in result["round_ratios"])
    print(
        f"  ratio    {result['ratio']:.3f}  (logins/s / bound; goal >= {GOAL_RATIO})  {verdict}"
        + ("" if quiet else "  (machine busy: unreliable, see below)")
    )
    interval = result["ratio_interval_95"]
    if interval is not None:
        low, high = interval
        print(
            f"           95% interval from the spread of the rounds: {low:.3f}-{high:.3f}"
            + (
                "  (the goal is inside it: more rounds would tell)"
                if low < GOAL_RATIO <= high
                else ""
            )
        )
    print(f"           per round: {per_round}")
    cpu_ratio = result["cpu_time_ratio"]
    if cpu["server_cpu_ms_per_login"] is not None and cpu_ratio is not None:
        print(
            f"  CPU      server {cpu['server_cpu_ms_per_login']:.1f} ms per login = hash "
            f"{bound['hash_cpu_ms']:.1f} ms (as in the bound) + "
            f"{cpu['non_hash_cpu_ms_per_login']:.1f} ms besides; "
            f"client {cpu['client_cpu_ms_per_login'] or 0:.1f} ms per login"
        )
        in_server = cpu["in_server"]
        if in_server is not None:
            print(
                f"           measured in the server: hash "
                f"{in_server['hash_cpu_ms_per_login']:.1f} ms per login "
                f"({in_server['hashes_per_login']:.2f} hashes of "
                f"{in_server['hash_cpu_ms_per_hash']:.1f} ms) + "
                f"{cpu['server_cpu_ms_per_login'] - in_server['hash_cpu_ms_per_login']:.1f} ms "
                "besides"
            )
        print(
            f"           CPU-time ratio (hash / server per login) {cpu_ratio:.3f}"
            + (
                f", {result['in_server_cpu_time_ratio']:.3f} with the server's own hash time"
                if result["in_server_cpu_time_ratio"] is not None
                else ""
            )
            + ": "
            + ("meets" if cpu_ratio >= GOAL_RATIO else "below")
            + " the goal"
        )
    if None not in others:
        steals = [(r["steal_cores_bound"], r["steal_cores_logins"]) for r in result["rounds"]]
        stolen = max((s for pair in steals for s in pair if s is not None), default=0.0)
        print(
            f"  machine  other processes used {others[0]:.2f} CPUs during the bound, "
            f"{others[1]:.2f} during the logins; hypervisor steal up to {stolen:.2f} CPUs"
        )
        if not quiet:
            print(
                "  warning: the machine was not quiet, so the two throughputs were measured under "
                "different loads (and the scheduler shares a busy CPU per thread, which favours "
                "the many-threaded server over the two bound processes): their ratio is "
                "unreliable; the CPU-time ratio is much less sensitive to that"
            )
    if logins["client_late_s"] > 0:
        print(f"  warning: the client started {logins['client_late_s']:.1f} s late")
    if logins["server_log_errors"]:
        print(f"  warning: {logins['server_log_errors']} error lines in the server log")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="measured seconds per phase and round (3)"
    )
    parser.add_argument("--rounds", type=int, default=20, help="rounds of bound then logins (20)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="client warm-up seconds per round (1)"
    )
    parser.add_argument("--connections", type=int, default=8, help="client connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="server workers = bound processes")
    parser.add_argument("--accounts", type=int, default=1000, help="accounts to create (1000)")
    parser.add_argument("--time-cost", type=int, default=None, help="argon2 t (default 2)")
    parser.add_argument("--memory-kib", type=int, default=None, help="argon2 m in KiB (19456)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up pass: most measured logins are an account's first (a new device, "
        "with its notice) instead of a returning browser's",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.connections < 1 or args.workers < 1:
        parser.error("need --seconds > 0, --warmup >= 0, --connections >= 1, --workers >= 1")
    if args.rounds < 1:
        parser.error("need --rounds >= 1")
    if args.accounts < 1:
        parser.error("need --accounts >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        result = run(args)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        detail = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc, subprocess.CalledProcessError) and exc.stderr
            else ""
        )
        print(f"benchmark failed: {exc}\n{detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    report(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"  figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
