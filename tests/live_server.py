"""A real `mamori serve` process for end-to-end tests: migrate, start, wait for /healthz, stop.

Used by the browser tests. The server runs with the same interpreter as the tests (the `mamori`
script next to `sys.executable`, or `python -m mamori`), on a free loopback port, with its own
SQLite file and secret key, in dev mode (so the dev outbox is on) and with cheap argon2.
Its output goes to a log file, which `LiveServer.log()` returns for failure reports.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

HOST = "127.0.0.1"


def mamori_command() -> list[str]:
    script = Path(sys.executable).with_name("mamori")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "mamori"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def server_env(workdir: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    # Start from the test environment without any MAMORI_* (or a MAMORI_CONFIG file) leaking in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DEV": "1",
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'e2e.db'}",
            "MAMORI_SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
            "MAMORI_HTTP_HOST": HOST,
            "MAMORI_HTTP_PORT": str(port),
            "MAMORI_ARGON2_TIME_COST": "1",
            "MAMORI_ARGON2_MEMORY_KIB": "8192",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class LiveServer:
    base_url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # start_new_session=True made the server the leader of its own process group
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class ServerFailed(RuntimeError):
    pass


def _migrate(env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run(
        [*mamori_command(), "migrate"],
        env=env,
        cwd=workdir,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode("utf-8", "replace")
        raise ServerFailed(f"mamori migrate exited with {done.returncode}:\n{out}")


def _wait_healthy(server: LiveServer, deadline: float) -> bool:
    """True once /healthz answers 200; False if the process died first (e.g. port taken)."""
    proc = server.process
    assert proc is not None
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if client.get(f"{server.base_url}/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise ServerFailed(f"/healthz did not answer within the time limit:\n{server.log()}")


def migrate_database(workdir: Path, *, extra_env: dict[str, str] | None = None) -> None:
    """Run `mamori migrate` once with the environment a server would get (say, before starting
    several servers on one shared database with `start_live_server(..., migrate=False)`)."""
    _migrate(server_env(workdir, 0, extra_env), workdir)


def start_live_server(
    workdir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 30.0,
    migrate: bool = True,
    name: str = "server",
) -> LiveServer:
    """Migrate a fresh database in `workdir` and serve it; the caller must call `stop()`.

    `migrate=False` serves a database that is already migrated; `name` prefixes the log file,
    so several servers can share one `workdir`."""
    deadline = time.monotonic() + timeout
    migrated = not migrate
    for attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        env = server_env(workdir, port, extra_env)
        if not migrated:
            _migrate(env, workdir)
            migrated = True
        log_path = workdir / f"{name}-{attempt}.log"
        log_file = log_path.open("wb")
        server = LiveServer(f"http://{HOST}:{port}", port, log_path, _log_file=log_file)
        try:
            server.process = subprocess.Popen(
                [*mamori_command(), "serve", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if _wait_healthy(server, deadline):
                return server
        except BaseException:
            server.stop()
            raise
        server.stop()
        if "address already in use" not in server.log().lower():
            raise ServerFailed(f"mamori serve exited early:\n{server.log()}")
    raise ServerFailed("could not find a free port for mamori serve")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


class RedisProcess:
    """A private redis-server on a fixed port, so it can be killed and restarted in place."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail("redis-server is not installed, and CI=true requires it")
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", HOST,
             "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise ServerFailed(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # SIGKILL: no goodbye to the clients
            self.proc.wait(timeout=10)
            self.proc = None
