"""Servers for a simulation: the compressed settings, a managed `mamori serve`, snapshots.

Time compression: a scenario is written in simulated seconds and runs `compress` (k) times
faster than real time. The server must then see every defense window k times shorter:
`compressed_env(k)` divides each duration setting by k (`MAMORI_LOCK_SECONDS=600` becomes
`600/k`, ...). Simulated time = real time x k in every report.

Not everything can be compressed. `compressed_env` also returns notes naming what stays at its
real length: settings counted in whole minutes or days (code validity, sessions, trusted
devices), and durations fixed in Mamori's code (the 24 h window of repeated locks, the hourly
per-source baselines, the once-a-second re-read of the "under attack" state, the hourly
password-reset limits). Loop intervals have a floor (`FLOOR_SECONDS`) so a high k does not
turn the detector and the ban cache into busy loops; the floor is noted when it applies.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from mamori.settings import Settings

# Durations in seconds that the compression divides (every Settings field ending in _seconds
# that is a defense, code or notice window; SMTP/webhook timeouts are left alone)
COMPRESSED = (
    "lock_window_seconds",
    "lock_seconds",
    "lock_max_seconds",
    "device_lock_seconds",
    "ip_fail_window_seconds",
    "ip_throttle_seconds",
    "ip_distinct_window_seconds",
    "ip_block_seconds",
    "source_block_seconds",
    "detector_bucket_seconds",
    "detector_interval_seconds",
    "under_attack_seconds",
    "ban_cache_seconds",
    "login_code_resend_seconds",
    "notice_interval_seconds",
)
LOOPS = ("detector_interval_seconds", "ban_cache_seconds")  # intervals of background loops
FLOOR_SECONDS = 0.05
UNCOMPRESSED_NOTES = (
    "second-step and email codes stay valid for whole minutes (login_code_minutes=10, "
    "strict 5): k times longer than in the scenario's time, which only helps a relaying "
    "attacker (who is well within either)",
    "sessions, trusted devices (90 days) and the risk history (183 days) keep their real "
    "lengths (whole minutes/days)",
    "repeated locks double within a fixed 24 h window, and source bans are capped at 7 days "
    "(both fixed in the code)",
    "per-source hourly baselines (networks) use real hours: a compressed run starts every "
    "network with no baseline",
    'each server process re-reads the shared "under attack" state at most once a real '
    "second, i.e. once every k simulated seconds",
    "password-reset limits count per real hour",
    "the server's own processing time (detector ticks, transactions under load, request "
    "latency) is real time and counts k times in simulated time: detection and block times "
    "are upper bounds, closer to real at a lower k",
)


def compressed_env(k: float, *, base: Settings | None = None) -> tuple[dict[str, str], list[str]]:
    """(MAMORI_* variables for a server running a scenario compressed k times, notes on what
    is not compressed). `base` supplies the uncompressed values (defaults: Settings())."""
    if not k > 0:
        raise ValueError("the compression factor must be positive")
    s = base or Settings()
    env: dict[str, str] = {}
    notes = list(UNCOMPRESSED_NOTES) if k != 1 else []
    for name in COMPRESSED:
        value = float(getattr(s, name))
        if value <= 0:  # 0 disables a loop: leave it so
            env["MAMORI_" + name.upper()] = repr(value)
            continue
        scaled = value / k
        if name in LOOPS and scaled < FLOOR_SECONDS:
            notes.append(
                f"{name} = {value:g} s would be {scaled:.4f} s; floored to {FLOOR_SECONDS} s "
                f"({FLOOR_SECONDS * k:g} simulated seconds)"
            )
            scaled = FLOOR_SECONDS
        env["MAMORI_" + name.upper()] = f"{scaled:.6g}"
    return env, notes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(
    db_path: Path,
    *,
    compress: float,
    admin_token: str,
    secret_key: str,
    workers: int = 2,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a Mamori a simulation starts itself: dev mode (the outbox), its own
    SQLite file, the simulator trusted as the proxy (X-Forwarded-For names the client), the
    operator token, the real argon2 parameters, and the compressed windows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    compressed, _ = compressed_env(compress)
    env.update(compressed)
    env.update(
        {
            "MAMORI_DEV": "1",
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
            "MAMORI_SECRET_KEY": secret_key,
            "MAMORI_TRUSTED_PROXIES": "127.0.0.1/32",
            "MAMORI_OPERATOR_TOKEN": admin_token,
            "MAMORI_WORKERS": str(workers),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def new_token() -> str:
    return secrets.token_urlsafe(36)


@dataclass
class ManagedServer:
    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    db_path: Path
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the server's process group, then SIGKILL."""
        stop_process_group(self.process, timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Stop a server started with `start_new_session=True` (the leader of its own process
    group): SIGTERM to the group, then SIGKILL, which also ends workers a supervisor that died
    left behind in it. Used by the simulator and the benchmarks for every server they start."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


class ServerFailed(RuntimeError):
    pass


def mamori_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mamori", *args]


def migrate(env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(  # noqa: S603 — our own interpreter and module
        mamori_command("migrate"), env=env, cwd=cwd, capture_output=True, timeout=120, check=False
    )
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode("utf-8", "replace")
        raise ServerFailed(f"mamori migrate exited with {done.returncode}:\n{out}")


def start_mamori(
    workdir: Path,
    *,
    env: dict[str, str],
    workers: int,
    name: str = "mamori",
    do_migrate: bool = True,
    timeout: float = 90.0,
) -> ManagedServer:
    """`mamori serve` on a free loopback port with `env`; waits for /healthz."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = Path(env["MAMORI_DATABASE_URL"].split("///", 1)[1])
    if do_migrate:
        migrate(env, workdir)
    for attempt in range(3):
        port = free_port()
        log_path = workdir / f"{name}-{attempt}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(  # noqa: S603 — our own interpreter and module
            mamori_command("serve", "--port", str(port), "--workers", str(workers)),
            env={**env, "MAMORI_HTTP_HOST": "127.0.0.1", "MAMORI_HTTP_PORT": str(port)},
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = ManagedServer(proc, f"http://127.0.0.1:{port}", port, db, log_path, log)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if client.get(server.base_url + "/healthz").status_code == 200:
                        return server
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        tail = server.log_tail()
        server.stop()
        if "address already in use" not in tail.lower():
            raise ServerFailed(f"mamori serve did not come up:\n{tail}")
    raise ServerFailed("could not find a free port for mamori serve")


def snapshot(db_path: Path, dest: Path) -> None:
    """A consistent copy of a SQLite database (the online backup API; WAL included)."""
    dest.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(db_path)) as src,
        contextlib.closing(sqlite3.connect(dest)) as dst,
    ):
        src.backup(dst)
