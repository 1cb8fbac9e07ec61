"""Defense benchmarks: rejecting a banned source, a legitimate login under attack, counters.

    .venv/bin/python bench/defense.py [--seconds 10] [--json PATH] [--generator auto|wrk|python]

A measurement, not a timed test: every figure is printed next to a bound measured in the same run,
because the machines it runs on are shared and noisy, and it exits 0 whether or not a goal is met.

(a) Rejection throughput. A fresh SQLite database in a temporary folder, `mamori migrate`,
    `mamori bans add ip 192.0.2.1`, then `mamori serve --workers 1` (and afterwards
    `--workers 2`) with MAMORI_TRUSTED_PROXIES=127.0.0.1/32 (so X-Forwarded-For names the client),
    MAMORI_DETECTOR_INTERVAL_SECONDS=0 (no background detector) and MAMORI_DEV unset (no access
    log). A separate load generator drives `POST /api/v1/login` with `X-Forwarded-For: 192.0.2.1`
    over keep-alive connections (every answer must be 429; anything else is an error) and
    `GET /healthz` the same way (200 expected), alternating in `--rounds` rounds so that both see
    the same machine. healthz is the bound: the cheapest request the same stack answers.
    Goal: >= 2,000 rejections/s per worker. As a cross-check that survives a busy machine it also
    prints requests per CPU-second of the server's processes (what one worker would answer with a
    core to itself) and how many CPUs other processes used meanwhile.
    The generator is wrk when installed (`apt-get install -y wrk`), else `--processes` Python
    processes sending pre-built HTTP/1.1 requests from asyncio protocols (uvloop when present) and
    parsing only the status line and Content-Length. Its ceiling is measured against a stub server
    answering every request with a canned 429, and its CPU time per request is printed.
(b) A legitimate login under attack, on the `--workers 2` server of (a) (default argon2id,
    m=19456 KiB t=2 p=1): one account made with `mamori users add`; one client logs in over one
    keep-alive connection, sequentially, from X-Forwarded-For 198.51.100.7, keeping its device
    cookie (a recognized device; the server's security events are read back to confirm it), for
    `--seconds` idle and `--seconds` while the generator floods banned requests at full rate over
    the connections of (a) (`--attack-connections`), alternating in `--rounds` rounds; the flood
    starts 1 s before each measured stretch. Goal: p95 under attack <= 2x idle p95.
(c) Counter operations: `incr` on SQLCounters over SQLite (a migrated file in the temporary
    folder) and PostgreSQL (a fresh database `mamori_bench_<random>`, migrated with
    `mamori.store.migrate.upgrade`, dropped afterwards; admin URL from MAMORI_BENCH_PG), on
    RedisCounters (a unique key prefix, deleted afterwards; MAMORI_BENCH_REDIS) and on
    MemoryCounters as a reference: sequentially and from 8 concurrent tasks, at least
    `--counter-ops` operations and `--counter-seconds` seconds each. A backend that cannot be
    reached is reported as skipped.

Servers run in their own process group and are stopped (SIGTERM, then SIGKILL) whatever happens;
generator processes are terminated, then killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    CpuTimes,
    busy_cores,
    exit_on_sigterm,
    free_port,
    group_cpu,
    log_tail,
    machine_cpu_times,
    machine_info,
    mamori_command,
    percentile,
    stop_helper,
    stop_server,
)

T = TypeVar("T")

GOAL_REJECTIONS_PER_WORKER = 2000.0
GOAL_LATENCY_RATIO = 2.0
BANNED_IP = "192.0.2.1"
LEGIT_IP = "198.51.100.7"
LOGIN_PATH = "/api/v1/login"
HEALTH_PATH = "/healthz"
HOST = "127.0.0.1"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
LEGIT_LOGIN_ID = "benchlegit"
DEVICE_COOKIES = ("__Host-mamori_device", "mamori_device")
PG_ADMIN_URL = os.environ.get(
    "MAMORI_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MAMORI_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SPAWN_SLACK_SECONDS = 2.0  # time given to spawned generator processes to import and connect
SERVER_START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
RESULT_TIMEOUT = 60.0  # seconds after a generator's window for its answer
QUIET_OTHERS_CORES = 0.25  # CPUs other processes may use while the machine still counts as quiet
BUSY_GENERATOR_CORES = 0.8  # a generator using more than this may be what limits the rate


# --------------------------------------------------------------------------------------------------
# Machine


def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when it is installed (uvicorn[standard] brings it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --------------------------------------------------------------------------------------------------
# HTTP, by hand


@dataclass(frozen=True, slots=True)
class Target:
    """One kind of request the generator repeats, and the status every answer must have."""

    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    expected: int

    def raw(self, host: str) -> bytes:
        return http_request(self.method, self.path, host=host, headers=self.headers, body=self.body)


def http_request(
    method: str, path: str, *, host: str, headers: Sequence[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


ATTACK_HEADERS = (
    ("User-Agent", USER_AGENT),
    ("X-Forwarded-For", BANNED_IP),
)
REJECTION = Target(
    name="rejection",
    method="POST",
    path=LOGIN_PATH,
    headers=(*ATTACK_HEADERS, ("Content-Type", "application/json")),
    body=json.dumps({"login_id": "victim", "password": "correct horse battery"}).encode(),
    expected=429,
)
HEALTHZ = Target(
    name="healthz", method="GET", path=HEALTH_PATH, headers=ATTACK_HEADERS, body=b"", expected=200
)

# What the stub server answers: the size and shape of a real rejection.
STUB_BODY = json.dumps(
    {"error": {"code": "too_many_requests", "message": "x" * 150, "retry_after": 86400}}
).encode()
STUB_RESPONSE = (
    "HTTP/1.1 429 Too Many Requests\r\ndate: Sun, 22 Nov 2026 00:00:00 GMT\r\n"
    "retry-after: 86400\r\n"
    f"content-length: {len(STUB_BODY)}\r\ncontent-type: application/json\r\n"
    "content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src "
    "'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri "
    "'none'; object-src 'none'\r\nx-frame-options: DENY\r\nx-content-type-options: nosniff\r\n"
    "referrer-policy: no-referrer\r\ncross-origin-opener-policy: same-origin\r\n"
    "permissions-policy: camera=(), microphone=(), geolocation=()\r\ncache-control: no-store\r\n"
    "strict-transport-security: max-age=31536000\r\n\r\n"
).encode() + STUB_BODY


def _content_length(head: bytes) -> int | None:
    """Content-Length from a lower-cased header block, or None when absent or malformed."""
    i = head.find(b"\r\ncontent-length:")
    if i < 0:
        return None
    j = head.find(b"\r\n", i + 2)
    try:
        return int(head[i + 17 : j if j >= 0 else len(head)])
    except ValueError:
        return None


@dataclass(slots=True)
class ResponseHead:
    status: int
    headers: list[tuple[str, str]]


async def read_response(reader: asyncio.StreamReader) -> tuple[ResponseHead, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    length = next((int(v) for n, v in headers if n == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return ResponseHead(status, headers), body


def probe(port: int, target: Target) -> tuple[int, bytes]:
    """One request with http.client: (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(
            target.method,
            target.path,
            body=target.body if target.method == "POST" else None,
            headers=dict(target.headers),
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------------
# The load generator: wrk, or Python processes


@dataclass(frozen=True, slots=True)
class GenResult:
    tool: str
    connections: int
    ok: int  # answers with the expected status
    bad: int  # answers with another status
    bad_status: int  # one of those other statuses (0: none)
    socket_errors: int
    elapsed: float  # wall seconds the generator measured
    cpu: float  # the generator's CPU seconds
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def requests(self) -> int:
        return self.ok + self.bad

    @property
    def errors(self) -> int:
        return self.bad + self.socket_errors

    @property
    def cpu_us_per_request(self) -> float | None:
        return 1e6 * self.cpu / self.requests if self.requests else None


class Running(Protocol):
    """A generator run under way: it sends from `start_at` to `stop_at` (time.monotonic)."""

    start_at: float
    stop_at: float

    def wait(self) -> GenResult: ...

    def close(self) -> None: ...


WRK_SCRIPT = """\
wrk.method = "{method}"
wrk.body = [==[{body}]==]
{headers}
local expected = {expected}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; bad = 0; bad_status = 0 end
function response(status, headers, body)
  if status == expected then ok = ok + 1 else bad = bad + 1; bad_status = status end
end
function done(summary, latency, requests)
  local o, b, s = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("bad")
    if t:get("bad_status") ~= 0 then s = t:get("bad_status") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {{"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "bad_status": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, o, b, s, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(target: Target) -> str:
    headers = "\n".join(
        f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in target.headers
    )
    return WRK_SCRIPT.format(
        method=target.method,
        body=target.body.decode("ascii"),
        headers=headers,
        expected=target.expected,
    )


class WrkRun:
    def __init__(
        self,
        wrk: str,
        workdir: Path,
        target: Target,
        port: int,
        *,
        connections: int,
        threads: int,
        seconds: int,
    ) -> None:
        self.connections = connections
        script = workdir / f"wrk-{target.name}.lua"
        script.write_text(wrk_script(target))
        self._out = (workdir / "wrk.out").open("w+b")
        command = [
            wrk,
            "-t",
            str(min(threads, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{HOST}:{port}{target.path}",
        ]
        self.start_at = time.monotonic()
        self.stop_at = self.start_at + seconds
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT
        )
        self._rusage: Any = None

    def _reap(self, deadline: float) -> None:
        pid = self._process.pid
        while self._process.returncode is None:
            waited, status, usage = os.wait4(pid, os.WNOHANG)
            if waited == pid:
                self._process.returncode = os.waitstatus_to_exitcode(status)
                self._rusage = usage
                return
            if time.monotonic() > deadline:
                raise RuntimeError("wrk did not finish in time")
            time.sleep(0.05)

    def wait(self) -> GenResult:
        self._reap(self.stop_at + RESULT_TIMEOUT)
        self._out.seek(0)
        output = self._out.read().decode(errors="replace")
        line = next((x for x in output.splitlines() if x.startswith("WRK-RESULT ")), None)
        if self._process.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({self._process.returncode}):\n{output[-2000:]}")
        r = json.loads(line.removeprefix("WRK-RESULT "))
        cpu = self._rusage.ru_utime + self._rusage.ru_stime if self._rusage else 0.0
        return GenResult(
            tool="wrk",
            connections=self.connections,
            ok=r["ok"],
            bad=r["bad"],
            bad_status=r["bad_status"],
            socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
            elapsed=r["duration_us"] / 1e6,
            cpu=cpu,
            p50_ms=r["p50_us"] / 1000.0,
            p99_ms=r["p99_us"] / 1000.0,
        )

    def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._process.pid, 0)
            self._process.returncode = -9
        self._out.close()


class _Counts:
    __slots__ = ("bad", "bad_status", "errors", "ok")

    def __init__(self) -> None:
        self.ok = 0
        self.bad = 0
        self.bad_status = 0
        self.errors = 0


class LoadProtocol(asyncio.Protocol):
    """One keep-alive connection: send the request, read one answer (status line and
    Content-Length only), count it, send again, until `stop_at`."""

    def __init__(self, request: bytes, expected: int, counts: _Counts, stop_at: float) -> None:
        self.request = request
        self.expected = expected
        self.counts = counts
        self.stop_at = stop_at
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        answered = False
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buf[:end]).lower()
            length = _content_length(head)
            if length is None:  # not what the server sends: give this connection up
                self.counts.errors += 1
                self.close()
                return
            total = end + 4 + length
            if len(buf) < total:
                break
            status = int(head[9:12])
            del buf[:total]
            answered = True
            if time.monotonic() <= self.stop_at:
                if status == self.expected:
                    self.counts.ok += 1
                else:
                    self.counts.bad += 1
                    self.counts.bad_status = status
        if answered and time.monotonic() < self.stop_at:
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed and time.monotonic() < self.stop_at:
            self.counts.errors += 1
        self.closed = True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def _generate(
    port: int, request: bytes, expected: int, connections: int, start_at: float, stop_at: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    counts = _Counts()
    protocols: list[LoadProtocol] = []
    for _ in range(connections):
        try:
            _, proto = await loop.create_connection(
                lambda: LoadProtocol(request, expected, counts, stop_at), HOST, port
            )
        except OSError:
            counts.errors += 1
            continue
        protocols.append(proto)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    cpu0, t0 = time.process_time(), time.monotonic()
    for proto in protocols:
        proto.send()
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    cpu1, t1 = time.process_time(), time.monotonic()
    for proto in protocols:
        proto.close()
    return {
        "ok": counts.ok,
        "bad": counts.bad,
        "bad_status": counts.bad_status,
        "errors": counts.errors,
        "elapsed": t1 - t0,
        "cpu": cpu1 - cpu0,
    }


def generator_main(
    results: Connection,
    port: int,
    request: bytes,
    expected: int,
    connections: int,
    start_at: float,
    stop_at: float,
) -> None:
    """Entry point of one Python generator process: sends a dict of counts down `results`."""
    results.send(run_loop(_generate(port, request, expected, connections, start_at, stop_at)))
    results.close()


class PythonRun:
    def __init__(
        self, target: Target, port: int, *, connections: int, processes: int, seconds: float
    ) -> None:
        self.connections = connections
        context = multiprocessing.get_context("spawn")
        self.start_at = time.monotonic() + SPAWN_SLACK_SECONDS
        self.stop_at = self.start_at + seconds
        request = target.raw(f"{HOST}:{port}")
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._pipes: list[Connection] = []
        n = max(1, min(processes, connections))
        for i in range(n):
            share = connections // n + (1 if i < connections % n else 0)
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=generator_main,
                args=(
                    sending,
                    port,
                    request,
                    target.expected,
                    share,
                    self.start_at,
                    self.stop_at,
                ),
                name=f"defense-generator-{i}",
            )
            process.start()
            sending.close()  # so that recv() sees EOF if the process dies without an answer
            self._processes.append(process)
            self._pipes.append(receiving)

    def wait(self) -> GenResult:
        answers: list[dict[str, Any]] = []
        for pipe in self._pipes:
            if not pipe.poll(max(0.0, self.stop_at - time.monotonic()) + RESULT_TIMEOUT):
                raise RuntimeError("a generator process gave no result")
            try:
                answers.append(pipe.recv())
            except EOFError:
                raise RuntimeError("a generator process died without a result") from None
        bad_status = next((a["bad_status"] for a in answers if a["bad_status"]), 0)
        return GenResult(
            tool="python",
            connections=self.connections,
            ok=sum(a["ok"] for a in answers),
            bad=sum(a["bad"] for a in answers),
            bad_status=bad_status,
            socket_errors=sum(a["errors"] for a in answers),
            elapsed=statistics.fmean(a["elapsed"] for a in answers),
            cpu=sum(a["cpu"] for a in answers),
        )

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        for process in self._processes:
            stop_helper(process, timeout=STOP_TIMEOUT)


@dataclass(frozen=True, slots=True)
class Generator:
    tool: str  # "wrk" or "python"
    wrk: str | None
    workdir: Path
    threads: int
    processes: int

    def describe(self) -> str:
        if self.tool == "wrk":
            return f"wrk ({self.wrk}, {self.threads} thread(s); Lua response() checks each status)"
        return (
            f"Python ({self.processes} processes, asyncio protocols"
            f"{' on uvloop' if has_uvloop() else ''}; pre-built requests)"
        )

    def start(self, target: Target, port: int, *, connections: int, seconds: float) -> Running:
        if self.tool == "wrk":
            assert self.wrk is not None
            return WrkRun(
                self.wrk,
                self.workdir,
                target,
                port,
                connections=connections,
                threads=self.threads,
                seconds=max(1, round(seconds)),
            )
        return PythonRun(
            target, port, connections=connections, processes=self.processes, seconds=seconds
        )


def has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def find_wrk() -> str | None:
    return shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)


# --------------------------------------------------------------------------------------------------
# The stub server: the generator's ceiling


class StubProtocol(asyncio.Protocol):
    """Answers every complete request (headers + Content-Length body) with a canned response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        answers = 0
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            length = _content_length(bytes(buf[:end]).lower()) or 0
            total = end + 4 + length
            if len(buf) < total:
                break
            del buf[:total]
            answers += 1
        if answers and self.transport is not None:
            self.transport.write(self.response * answers)


async def _stub(port_out: Connection, response: bytes) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: StubProtocol(response), HOST, 0, backlog=1024)
    port_out.send(int(server.sockets[0].getsockname()[1]))
    port_out.close()
    await server.serve_forever()


def stub_main(port_out: Connection, response: bytes) -> None:
    run_loop(_stub(port_out, response))


@contextlib.contextmanager
def stub_server() -> Iterator[int]:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=stub_main, args=(sending, STUB_RESPONSE), name="defense-stub")
    process.start()
    sending.close()
    try:
        if not receiving.poll(30.0):
            raise RuntimeError("the stub server did not start")
        port = receiving.recv()
        assert isinstance(port, int)
        yield port
    finally:
        receiving.close()
        process.terminate()
        stop_helper(process, timeout=STOP_TIMEOUT)


# --------------------------------------------------------------------------------------------------
# The Mamori server


def server_env(database: Path, port: int) -> dict[str, str]:
    """The benchmark's settings; every other MAMORI_* variable (MAMORI_DEV included) is dropped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "MAMORI_SECRET_KEY": secrets.token_urlsafe(48),
            "MAMORI_HTTP_HOST": HOST,
            "MAMORI_HTTP_PORT": str(port),
            "MAMORI_TRUSTED_PROXIES": "127.0.0.1/32",
            "MAMORI_DETECTOR_INTERVAL_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # extra server settings for experiments, e.g. MAMORI_BENCH_SERVER_ENV="MAMORI_HASH_QUEUE=8"
    for item in os.environ.get("MAMORI_BENCH_SERVER_ENV", "").split(","):
        key, sep, value = item.strip().partition("=")
        if sep and key.startswith("MAMORI_"):
            env[key] = value
    return env


def mamori(workdir: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        mamori_command(*args),
        cwd=workdir,
        env=env,
        input=stdin.encode() if stdin is not None else None,
        check=True,
        capture_output=True,
    )


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, workers: int, log: Path):
        self.process = process
        self.port = port
        self.workers = workers
        self.log = log

    def cpu(self) -> dict[int, float]:
        return group_cpu(self.process.pid)

    def log_errors(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return sum(1 for line in text.splitlines() if "ERROR" in line or "Traceback" in line)


def wait_until_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log_tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if probe(port, HEALTHZ)[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def running_server(workdir: Path, env: dict[str, str], workers: int) -> Iterator[Server]:
    port = free_port()
    env = {**env, "MAMORI_HTTP_PORT": str(port)}
    log = workdir / f"server-w{workers}.log"
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
        wait_until_ready(process, port, log)
        yield Server(process, port, workers, log)
    finally:
        stop_server(process, timeout=STOP_TIMEOUT)


# --------------------------------------------------------------------------------------------------
# (a) rejection throughput


@dataclass(frozen=True, slots=True)
class Phase:
    target: str
    gen: GenResult
    window: float  # wall seconds between the CPU samples
    server_cpu: float  # CPU seconds of the server's processes over the window
    server_cpu_by_pid: dict[int, float]
    machine_cores: float | None  # CPUs busy on the whole machine over the window

    @property
    def server_cores(self) -> float:
        return self.server_cpu / self.window if self.window > 0 else 0.0

    @property
    def others_cores(self) -> float | None:
        if self.machine_cores is None or self.window <= 0:
            return None
        return self.machine_cores - self.server_cores - self.gen.cpu / self.window


def measure(
    gen: Generator,
    port: int,
    server_cpu: Callable[[], dict[int, float]],
    target: Target,
    *,
    connections: int,
    seconds: float,
) -> Phase:
    """One generator run against `port`, with the server's CPU (`server_cpu`) sampled around it."""
    run = gen.start(target, port, connections=connections, seconds=seconds)
    try:
        sleep_until(run.start_at)
        cpu0, m0, t0 = server_cpu(), machine_cpu_times(), time.monotonic()
        sleep_until(run.stop_at)
        cpu1, m1, t1 = server_cpu(), machine_cpu_times(), time.monotonic()
        result = run.wait()
    finally:
        run.close()
    by_pid = {pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1}
    return Phase(
        target=target.name,
        gen=result,
        window=t1 - t0,
        server_cpu=sum(by_pid.values()),
        server_cpu_by_pid=by_pid,
        machine_cores=busy_cores(m0, m1, t1 - t0),
    )


def combine(phases: Sequence[Phase]) -> dict[str, Any]:
    """Sum rounds of one target into its figures."""
    ok = sum(p.gen.ok for p in phases)
    elapsed = sum(p.gen.elapsed for p in phases)
    window = sum(p.window for p in phases)
    server_cpu = sum(p.server_cpu for p in phases)
    gen_cpu = sum(p.gen.cpu for p in phases)
    requests = sum(p.gen.requests for p in phases)
    others = [p.others_cores for p in phases if p.others_cores is not None]
    by_pid: Counter[int] = Counter()
    for p in phases:
        by_pid.update(p.server_cpu_by_pid)
    return {
        "ok": ok,
        "errors": sum(p.gen.errors for p in phases),
        "bad_status": next((p.gen.bad_status for p in phases if p.gen.bad_status), 0),
        "socket_errors": sum(p.gen.socket_errors for p in phases),
        "seconds": elapsed,
        "per_s": ok / elapsed if elapsed else 0.0,
        "server_cores": server_cpu / window if window else 0.0,
        "per_server_cpu_s": ok / server_cpu if server_cpu else None,
        "server_cpu_split": [round(v / window, 2) for v in by_pid.values() if v > 0.05 * window]
        if window
        else [],
        "generator_cores": gen_cpu / window if window else 0.0,
        "generator_cpu_us": 1e6 * gen_cpu / requests if requests else None,
        "others_cores": statistics.fmean(others) if others else None,
        "rounds_per_s": [round(p.gen.rate, 1) for p in phases],
        "p50_ms": statistics.fmean(p.gen.p50_ms for p in phases if p.gen.p50_ms is not None)
        if any(p.gen.p50_ms is not None for p in phases)
        else None,
    }


def rejection_throughput(
    gen: Generator, server: Server, *, connections: int, seconds: float, rounds: int
) -> dict[str, Any]:
    for target in (REJECTION, HEALTHZ):  # both answer as expected, or nothing is worth measuring
        status, body = probe(server.port, target)
        if status != target.expected:
            raise RuntimeError(
                f"{target.method} {target.path} answered {status}, not {target.expected}: "
                f"{body[:300]!r}"
            )
    for target in (REJECTION, HEALTHZ):  # warm-up, not counted
        measure(gen, server.port, server.cpu, target, connections=connections, seconds=1)
    per_round = seconds / rounds
    phases: dict[str, list[Phase]] = {REJECTION.name: [], HEALTHZ.name: []}
    for _ in range(rounds):
        for target in (REJECTION, HEALTHZ):
            phases[target.name].append(
                measure(
                    gen,
                    server.port,
                    server.cpu,
                    target,
                    connections=connections,
                    seconds=per_round,
                )
            )
    rejection = combine(phases[REJECTION.name])
    healthz = combine(phases[HEALTHZ.name])
    w = server.workers
    for figures in (rejection, healthz):
        figures["per_worker_s"] = figures["per_s"] / w
    ratio = rejection["per_s"] / healthz["per_s"] if healthz["per_s"] else 0.0
    cpu_ratio = (
        rejection["per_server_cpu_s"] / healthz["per_server_cpu_s"]
        if rejection["per_server_cpu_s"] and healthz["per_server_cpu_s"]
        else None
    )
    return {
        "workers": w,
        "connections": connections,
        "rejection": rejection,
        "healthz": healthz,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "goal_met": rejection["per_worker_s"] >= GOAL_REJECTIONS_PER_WORKER,
        "goal_met_per_cpu_s": (rejection["per_server_cpu_s"] or 0.0) >= GOAL_REJECTIONS_PER_WORKER,
        "server_log_errors": server.log_errors(),
    }


def generator_ceiling(gen: Generator, *, connections: int, seconds: float) -> dict[str, Any]:
    """The generator against a stub that answers at once: the most it can send."""
    with stub_server() as port:
        # the stub's own CPU is not of interest: `dict` samples nothing
        phase = measure(gen, port, dict, REJECTION, connections=connections, seconds=seconds)
    cpu_us = phase.gen.cpu_us_per_request
    return {
        "per_s": phase.gen.rate,
        "errors": phase.gen.errors,
        "generator_cores": phase.gen.cpu / phase.window if phase.window else 0.0,
        "generator_cpu_us": cpu_us,
        "per_core": 1e6 / cpu_us if cpu_us else None,
        "connections": connections,
    }


# --------------------------------------------------------------------------------------------------
# (b) a legitimate login under attack


@dataclass(slots=True)
class LegitClient:
    port: int
    login_id: str
    password: str
    cookie: str = ""  # "name=value" of the device cookie, once the server has set one
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def login(self) -> int:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        body = json.dumps({"login_id": self.login_id, "password": self.password}).encode()
        headers = [
            ("User-Agent", USER_AGENT),
            ("X-Forwarded-For", LEGIT_IP),
            ("Content-Type", "application/json"),
        ]
        if self.cookie:
            headers.append(("Cookie", self.cookie))
        self.writer.write(
            http_request("POST", LOGIN_PATH, host=f"{HOST}:{self.port}", headers=headers, body=body)
        )
        try:
            head, _ = await read_response(self.reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer.close()
            return 0
        for name, value in head.headers:
            if name == "set-cookie":
                pair = value.split(";", 1)[0].strip()
                if pair.split("=", 1)[0] in DEVICE_COOKIES:
                    self.cookie = pair
        if any(n == "connection" and v.lower() == "close" for n, v in head.headers):
            self.writer.close()
        return head.status

    async def run(self, seconds: float) -> tuple[list[float], dict[str, int]]:
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status = await self.login()
            elapsed = (time.perf_counter() - t0) * 1000.0
            if status == 200:
                latencies.append(elapsed)
            else:
                errors[f"HTTP {status}" if status else "connection lost"] += 1
        return latencies, dict(errors)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass(slots=True)
class LegitSide:
    """Sums of one side (idle or under attack) of (b) over its rounds."""

    latencies: list[float]
    errors: Counter[str]
    window: float = 0.0
    server_cpu: float = 0.0
    machine_busy: float = 0.0  # CPU-seconds of the whole machine, when /proc/stat is readable
    gen_cpu: float = 0.0

    def add(
        self,
        latencies: list[float],
        errors: dict[str, int],
        samples: tuple[dict[int, float], CpuTimes | None, float],
        after: tuple[dict[int, float], CpuTimes | None, float],
    ) -> None:
        self.latencies += latencies
        self.errors.update(errors)
        (cpu0, m0, t0), (cpu1, m1, t1) = samples, after
        self.window += t1 - t0
        self.server_cpu += sum(cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1)
        busy = busy_cores(m0, m1, t1 - t0)
        self.machine_busy += (busy or 0.0) * (t1 - t0)

    def figures(self) -> dict[str, Any]:
        w = self.window
        others = (self.machine_busy - self.server_cpu - self.gen_cpu) / w if w else None
        return {
            "logins": len(self.latencies),
            "errors": dict(self.errors),
            "p50_ms": percentile(self.latencies, 50),
            "p95_ms": percentile(self.latencies, 95),
            "max_ms": max(self.latencies) if self.latencies else None,
            "server_cores": self.server_cpu / w if w else None,
            "others_cores": others if self.machine_busy else None,
        }


def sample(server: Server) -> tuple[dict[int, float], CpuTimes | None, float]:
    return server.cpu(), machine_cpu_times(), time.monotonic()


def legit_under_attack(
    gen: Generator,
    server: Server,
    password: str,
    *,
    connections: int,
    seconds: float,
    rounds: int,
) -> dict[str, Any]:
    """Sequential logins of one recognized device, idle and under a flood, in alternating
    rounds of `seconds / rounds` each, so that both sides see the same machine."""
    client = LegitClient(server.port, LEGIT_LOGIN_ID, password)
    per_round = seconds / rounds
    idle = LegitSide([], Counter())
    attack = LegitSide([], Counter())
    floods: list[GenResult] = []

    async def warm_up() -> None:
        for _ in range(3):  # the first one gets the device cookie, then the device is recognized
            status = await client.login()
            if status != 200:
                raise RuntimeError(f"the legitimate login answered {status}")
        if not client.cookie:
            raise RuntimeError("the server set no device cookie")

    async def session() -> None:
        try:
            await warm_up()
            for _ in range(rounds):
                before = sample(server)
                idle.add(*await client.run(per_round), before, sample(server))
                run = gen.start(
                    REJECTION, server.port, connections=connections, seconds=per_round + 2
                )
                try:
                    # let the flood reach full rate first
                    await asyncio.sleep(max(0.0, run.start_at + 1.0 - time.monotonic()))
                    before = sample(server)
                    attack.add(*await client.run(per_round), before, sample(server))
                    flood = await asyncio.to_thread(run.wait)
                finally:
                    run.close()
                floods.append(flood)
                attack.gen_cpu += flood.cpu * min(1.0, per_round / flood.elapsed)
        finally:
            client.close()

    asyncio.run(session())
    result: dict[str, Any] = {"idle": idle.figures(), "attack": attack.figures()}
    flood_seconds = sum(f.elapsed for f in floods)
    result["attack"].update(
        {
            "flood_rejections_per_s": sum(f.ok for f in floods) / flood_seconds
            if flood_seconds
            else 0.0,
            "flood_errors": sum(f.errors for f in floods),
            "flood_bad_status": next((f.bad_status for f in floods if f.bad_status), 0),
            "flood_connections": connections,
        }
    )
    idle_p95, attack_p95 = result["idle"]["p95_ms"], result["attack"]["p95_ms"]
    ratio = attack_p95 / idle_p95 if idle_p95 and attack_p95 else None
    result["ratio_p95"] = ratio
    result["goal_met"] = ratio is not None and ratio <= GOAL_LATENCY_RATIO
    result["rounds"] = rounds
    return result


def recognized_logins(database: Path) -> str:
    """How many of the legitimate client's successful logins the server recorded as coming from
    a recognized device (read from its security events; "unknown" if that cannot be read)."""
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            rows = db.execute(
                "SELECT details FROM security_events WHERE type = 'login_success' AND ip = ?",
                (LEGIT_IP,),
            ).fetchall()
        flags = [json.loads(d).get("defense", {}).get("recognized_device") for (d,) in rows]
    except (sqlite3.Error, ValueError, AttributeError):
        return "unknown"
    return f"{sum(1 for f in flags if f)} of {len(flags)}"


# --------------------------------------------------------------------------------------------------
# (c) counters


class Incr(Protocol):
    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int: ...


async def incr_rate(counters: Incr, *, ops: int, seconds: float, tasks: int) -> dict[str, Any]:
    """incr at least `ops` times and for at least `seconds`, from `tasks` concurrent tasks."""
    keys = [f"bench:{i}" for i in range(256)]
    for i in range(20):  # connections opened, statements compiled
        await counters.incr(keys[i], ttl=600.0, now=time.time())
    done = 0
    t0 = time.perf_counter()

    async def worker() -> None:
        nonlocal done
        while done < ops or time.perf_counter() - t0 < seconds:
            done += 1
            await counters.incr(keys[done % 256], ttl=600.0, now=time.time())

    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - t0
    return {"ops": done, "seconds": elapsed, "per_s": done / elapsed}


async def counters_pair(counters: Incr, *, ops: int, seconds: float) -> dict[str, Any]:
    return {
        "sequential": await incr_rate(counters, ops=ops, seconds=seconds, tasks=1),
        "concurrent8": await incr_rate(counters, ops=ops, seconds=seconds, tasks=8),
    }


async def bench_memory(ops: int, seconds: float, _workdir: Path) -> dict[str, Any]:
    from mamori.store.counters_memory import MemoryCounters

    return await counters_pair(MemoryCounters(), ops=ops, seconds=seconds)


async def bench_sqlite(ops: int, seconds: float, workdir: Path) -> dict[str, Any]:
    from mamori.store import migrate
    from mamori.store.counters_sql import SQLCounters
    from mamori.store.engine import create_engine

    url = f"sqlite+aiosqlite:///{workdir / 'counters.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        return await counters_pair(SQLCounters(engine), ops=ops, seconds=seconds)
    finally:
        await engine.dispose()


async def bench_postgresql(ops: int, seconds: float, _workdir: Path) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from mamori.store import migrate
    from mamori.store.counters_sql import SQLCounters
    from mamori.store.engine import create_engine

    name = f"mamori_bench_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        try:
            figures = await counters_pair(SQLCounters(engine), ops=ops, seconds=seconds)
        finally:
            await engine.dispose()
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    figures["database"] = name + " (dropped)"
    return figures


async def bench_redis(ops: int, seconds: float, _workdir: Path) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from mamori.store.counters_redis import RedisCounters

    prefix = f"mamori-bench-{secrets.token_hex(4)}:"
    counters = RedisCounters.from_url(REDIS_URL, prefix=prefix)
    cleaner = aioredis.Redis.from_url(REDIS_URL)
    try:
        figures = await counters_pair(counters, ops=ops, seconds=seconds)
    finally:
        await counters.close()
        try:
            names = [name async for name in cleaner.scan_iter(match=prefix + "*", count=1000)]
            for i in range(0, len(names), 500):
                await cleaner.delete(*names[i : i + 500])
        finally:
            await cleaner.aclose()
    figures["keys_deleted"] = len(names)
    return figures


COUNTER_BACKENDS: dict[str, Callable[[int, float, Path], Coroutine[Any, Any, dict[str, Any]]]] = {
    "memory": bench_memory,
    "sqlite": bench_sqlite,
    "postgresql": bench_postgresql,
    "redis": bench_redis,
}


def counter_ops(workdir: Path, *, ops: int, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, bench in COUNTER_BACKENDS.items():
        try:
            results[name] = asyncio.run(bench(ops, seconds, workdir))
        except Exception as exc:  # a backend that is not running is reported, not fatal
            results[name] = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    return results


# --------------------------------------------------------------------------------------------------
# Running


def run(args: argparse.Namespace) -> dict[str, Any]:
    machine = machine_info()
    print(
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"{machine['date']}, load average {machine['load_average']}",
        flush=True,
    )
    result: dict[str, Any] = {
        "machine": machine,
        "settings": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "connections_per_worker": args.connections,
            "attack_connections": args.attack_connections or 2 * args.connections,
            "counter_ops": args.counter_ops,
            "counter_seconds": args.counter_seconds,
            "parts": args.parts,
        },
    }
    with tempfile.TemporaryDirectory(prefix="mamori-defense-") as tmp:
        workdir = Path(tmp)
        wrk = find_wrk()
        if args.generator == "wrk" and wrk is None:
            raise RuntimeError("--generator wrk, but wrk is not installed (apt-get install wrk)")
        tool = "python" if args.generator == "python" or wrk is None else "wrk"
        gen = Generator(tool=tool, wrk=wrk, workdir=workdir, threads=1, processes=args.processes)
        result["generator"] = gen.describe()
        if "a" in args.parts or "b" in args.parts:
            print(f"generator: {gen.describe()}", flush=True)
            result["generator_ceiling"] = generator_ceiling(
                gen, connections=2 * args.connections, seconds=3
            )
            print(
                f"generator ceiling against a stub: {result['generator_ceiling']['per_s']:,.0f}"
                " requests/s",
                flush=True,
            )
            env = server_env(workdir / "bench.db", 0)
            mamori(workdir, env, "migrate")
            mamori(workdir, env, "bans", "add", "ip", BANNED_IP, "--reason", "bench")
            password = "Bench-" + secrets.token_urlsafe(18)
            mamori(
                workdir,
                env,
                "users",
                "add",
                LEGIT_LOGIN_ID,
                f"{LEGIT_LOGIN_ID}@example.com",
                "--password-stdin",
                stdin=password + "\n",
            )
            if "a" in args.parts:
                with running_server(workdir, env, 1) as server:
                    print("(a) workers=1 ...", flush=True)
                    result["rejection_w1"] = rejection_throughput(
                        gen,
                        server,
                        connections=args.connections,
                        seconds=args.seconds,
                        rounds=args.rounds,
                    )
            with running_server(workdir, env, 2) as server:
                if "a" in args.parts:
                    print("(a) workers=2 ...", flush=True)
                    result["rejection_w2"] = rejection_throughput(
                        gen,
                        server,
                        connections=2 * args.connections,
                        seconds=args.seconds,
                        rounds=args.rounds,
                    )
                if "b" in args.parts:
                    print("(b) legitimate login, idle then under attack ...", flush=True)
                    result["legit"] = legit_under_attack(
                        gen,
                        server,
                        password,
                        connections=args.attack_connections or 2 * args.connections,
                        seconds=args.seconds,
                        rounds=args.rounds,
                    )
                    result["legit"]["server_log_errors"] = server.log_errors()
                    result["legit"]["recognized"] = recognized_logins(workdir / "bench.db")
        if "c" in args.parts:
            print("(c) counters ...", flush=True)
            result["counters"] = counter_ops(
                workdir, ops=args.counter_ops, seconds=args.counter_seconds
            )
    return result


# --------------------------------------------------------------------------------------------------
# Reporting


def _n(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _verdict(met: bool) -> str:
    return "GOAL MET" if met else "GOAL MISSED"


def report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print()
    print(
        f"Defense benchmark  {m['date']}  {m['nproc']} CPUs ({m['cpu_model']})  "
        f"Python {m['python']}  load average at start {m['load_average']}"
    )
    print(f"generator: {result['generator']}")
    ceiling = result.get("generator_ceiling")
    if ceiling:
        print(
            f"generator ceiling: {_n(ceiling['per_s'])} requests/s against a stub server "
            f"({ceiling['connections']} connections; generator {ceiling['generator_cores']:.2f} "
            f"CPUs, {_n(ceiling['generator_cpu_us'], 1)} us CPU per request = "
            f"~{_n(ceiling['per_core'])} requests/s per core)"
        )
    for key in ("rejection_w1", "rejection_w2"):
        r = result.get(key)
        if not r:
            continue
        rej, hz = r["rejection"], r["healthz"]
        w = r["workers"]
        print()
        print(
            f"(a) rejection throughput, --workers {w}, {r['connections']} keep-alive connections, "
            f"{rej['seconds']:.0f} s each, rounds alternating"
        )
        print(f"    {'':30} {'rejections (429)':>18} {'healthz (bound)':>18} {'ratio':>7}")
        print(
            f"    {'requests/s per worker':30} {_n(rej['per_worker_s']):>18} "
            f"{_n(hz['per_worker_s']):>18} {r['ratio']:>7.2f}"
        )
        print(f"    {'requests/s, all workers':30} {_n(rej['per_s']):>18} {_n(hz['per_s']):>18}")
        print(
            f"    {'per server CPU-second':30} {_n(rej['per_server_cpu_s']):>18} "
            f"{_n(hz['per_server_cpu_s']):>18} "
            f"{(r['cpu_ratio'] or 0.0):>7.2f}"
        )
        print(
            f"    {'server CPUs used':30} {rej['server_cores']:>18.2f} {hz['server_cores']:>18.2f}"
        )
        print(
            f"    {'generator CPUs / us per req':30} "
            f"{rej['generator_cores']:>9.2f} / {_n(rej['generator_cpu_us'], 1):>5} "
            f"{hz['generator_cores']:>9.2f} / {_n(hz['generator_cpu_us'], 1):>5}"
        )
        if w > 1:
            print(
                f"    {'server CPUs by process':30} {rej['server_cpu_split']!s:>18} "
                f"{hz['server_cpu_split']!s:>18}"
            )
        print(
            f"    {'other processes, CPUs':30} {_n(rej['others_cores'], 2):>18} "
            f"{_n(hz['others_cores'], 2):>18}"
        )
        print(
            f"    {'per round, requests/s':30} "
            f"{rej['rounds_per_s']!s:>18} {hz['rounds_per_s']!s:>18}"
        )
        print(
            f"    {'errors':30} {rej['errors']:>18} {hz['errors']:>18}"
            + (
                f"  (e.g. HTTP {rej['bad_status'] or hz['bad_status']})"
                if rej["bad_status"] or hz["bad_status"]
                else ""
            )
        )
        print(
            f"    goal >= {GOAL_REJECTIONS_PER_WORKER:,.0f} rejections/s per worker: "
            f"{_n(rej['per_worker_s'])}  {_verdict(r['goal_met'])}   (per server CPU-second: "
            f"{_n(rej['per_server_cpu_s'])}  {_verdict(r['goal_met_per_cpu_s'])})"
        )
        others = [x for x in (rej["others_cores"], hz["others_cores"]) if x is not None]
        if others and max(others) > QUIET_OTHERS_CORES:
            print(
                "    warning: the machine was not quiet; rates are what this server got of it, "
                "the per-CPU-second figures are steadier"
            )
        if max(rej["generator_cores"], hz["generator_cores"]) > BUSY_GENERATOR_CORES:
            print("    warning: the generator used most of a CPU: it may have been the limit")
        if r["server_log_errors"]:
            print(f"    warning: {r['server_log_errors']} error lines in the server log")
    legit = result.get("legit")
    if legit:
        idle, attack = legit["idle"], legit["attack"]
        print()
        print(
            "(b) legitimate login (recognized device, sequential, keep-alive), --workers 2, "
            f"argon2id m=19456 t=2; idle and under attack alternating in {legit['rounds']} rounds"
        )
        print(
            f"    {'':16} {'p50':>9} {'p95':>9} {'max':>9} {'logins':>7} {'errors':>7} "
            f"{'server CPUs':>12} {'others':>7}"
        )
        for label, f in (("idle", idle), ("under attack", attack)):
            print(
                f"    {label:16} {_n(f['p50_ms']):>6} ms {_n(f['p95_ms']):>6} ms "
                f"{_n(f['max_ms']):>6} ms {f['logins']:>7} {sum(f['errors'].values()):>7} "
                f"{_n(f['server_cores'], 2):>12} {_n(f['others_cores'], 2):>7}"
            )
        print(
            f"    the attack: {_n(attack['flood_rejections_per_s'])} rejections/s over "
            f"{attack['flood_connections']} connections, {attack['flood_errors']} errors"
            + (f" (e.g. HTTP {attack['flood_bad_status']})" if attack["flood_bad_status"] else "")
            + f"; logins from a recognized device: {legit['recognized']}"
        )
        ratio = legit["ratio_p95"]
        print(
            f"    p95 under attack / idle p95: {_n(ratio, 2)}  (goal <= {GOAL_LATENCY_RATIO:g})  "
            f"{_verdict(legit['goal_met'])}"
        )
        if legit["server_log_errors"]:
            print(f"    warning: {legit['server_log_errors']} error lines in the server log")
    counters = result.get("counters")
    if counters:
        print()
        print("(c) counter incr operations/s")
        print(f"    {'backend':22} {'sequential':>12} {'8 concurrent':>14}")
        for name, label in (
            ("memory", "MemoryCounters (ref.)"),
            ("sqlite", "SQLCounters SQLite"),
            ("postgresql", "SQLCounters PostgreSQL"),
            ("redis", "RedisCounters"),
        ):
            c = counters.get(name, {})
            if "skipped" in c:
                print(f"    {label:22} skipped: {c['skipped']}")
                continue
            seq, conc = c["sequential"], c["concurrent8"]
            print(
                f"    {label:22} {_n(seq['per_s']):>12} {_n(conc['per_s']):>14}   "
                f"({seq['ops']:,} / {conc['ops']:,} ops)"
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per figure (10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds in (a) and (b) (2)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="generator connections per worker (16)"
    )
    parser.add_argument(
        "--attack-connections",
        type=int,
        default=None,
        help="flood connections in (b) (default: those of (a) at --workers 2)",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk when installed, else Python (auto)",
    )
    parser.add_argument("--processes", type=int, default=2, help="Python generator processes (2)")
    parser.add_argument(
        "--counter-ops", type=int, default=2000, help="minimum incr operations per figure (2000)"
    )
    parser.add_argument(
        "--counter-seconds", type=float, default=1.0, help="minimum seconds per counter figure (1)"
    )
    parser.add_argument("--parts", default="abc", help="which parts to run: any of a, b, c (abc)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.seconds < 2 or args.rounds < 1 or args.connections < 1 or args.processes < 1:
        parser.error("need --seconds >= 2, --rounds >= 1, --connections >= 1, --processes >= 1")
    if args.seconds / args.rounds < 1:
        parser.error("need --seconds / --rounds >= 1")
    if args.attack_connections is not None and args.attack_connections < 1:
        parser.error("need --attack-connections >= 1")
    if args.counter_ops < 1 or args.counter_seconds < 0:
        parser.error("need --counter-ops >= 1 and --counter-seconds >= 0")
    if not set(args.parts) <= set("abc") or not args.parts:
        parser.error("--parts takes letters among a, b, c")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.monotonic()
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
    result["wall_seconds"] = time.monotonic() - started
    report(result)
    print(f"\n(total {result['wall_seconds']:.0f} s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
