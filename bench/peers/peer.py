"""The Django peer: build its virtual environment, start and stop its server.

The peer (bench/peers/django_peer, see bench/peers/README.md) is a minimal Django project with
django.contrib.auth (argon2id at Mamori's parameters), django-axes and django-otp, served by
gunicorn. It runs in its own virtual environment, built from bench/peers/requirements.txt with
pip; this module needs only the standard library and httpx, so it runs with Mamori's Python.

    from bench.peers.peer import ensure_venv, start_peer, stop_peer
    proc = start_peer(port=8100, axes="tuned", database=Path("/tmp/peer.sqlite3"))
    ...  # POST http://127.0.0.1:8100/api/v1/login with X-Forwarded-For: <client>
    stop_peer(proc)

Manual use: `python bench/peers/peer.py serve --port 8100 --axes tuned` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx

from mamori.simulate.server import stop_process_group

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "django_peer"
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_VENV = HERE / ".venv"
STAMP_NAME = ".requirements-sha256"

AxesConfig = Literal["default", "tuned"]
AXES_CONFIGS: tuple[AxesConfig, ...] = ("default", "tuned")


class PeerError(RuntimeError):
    """The peer's environment could not be built or its server did not come up."""


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def requirements_digest() -> str:
    """What the venv was built from: the requirements file and the Python it runs on."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time (two test processes may want the venv at once)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(command: list[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise PeerError(f"{what} failed (exit {result.returncode}):\n{log_tail(log)}")


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """Create the peer's venv and pip-install requirements.txt into it, unless already done.

    A stamp file in the venv holds the digest of the requirements it was built from; a changed
    requirements file (or Python minor version) reinstalls. Returns the venv's directory.
    """
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = path / STAMP_NAME
    digest = requirements_digest()
    with _locked(path.parent / f"{path.name}.lock"):
        if stamp.is_file() and stamp.read_text().strip() == digest and venv_python(path).exists():
            return path
        log = path.parent / f"{path.name}-build.log"
        log.write_text("")
        if not venv_python(path).exists():
            _run_logged([sys.executable, "-m", "venv", "--clear", str(path)], log, "python -m venv")
        stamp.unlink(missing_ok=True)
        _run_logged(
            [
                str(venv_python(path)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            log,
            "pip install -r bench/peers/requirements.txt",
        )
        stamp.write_text(digest + "\n")
    return path


def peer_env(
    *, axes: AxesConfig, cooloff_seconds: int, database: Path, secret_key: str
) -> dict[str, str]:
    if axes not in AXES_CONFIGS:
        raise ValueError(f"axes must be one of {AXES_CONFIGS}, not {axes!r}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        DJANGO_SETTINGS_MODULE="peer_site.settings",
        PEER_AXES=axes,
        PEER_COOLOFF_SECONDS=str(cooloff_seconds),
        PEER_DATABASE=str(database),
        PEER_SECRET_KEY=secret_key,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def start_peer(
    *,
    port: int,
    workers: int = 2,
    axes: AxesConfig = "default",
    cooloff_seconds: int = 600,
    database: Path,
    users_file: Path | None = None,
    venv: Path = DEFAULT_VENV,
    log_file: Path | None = None,
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """Migrate `database`, seed `users_file` (JSON lines) into it, serve on 127.0.0.1:`port`.

    gunicorn (sync workers) runs in its own process group; this returns once /healthz answers
    200. An existing database is used as it is (users, sessions and axes' records included):
    pass a new path for a clean run. The server's output goes to `log_file` (default: next to
    the database, `<database>.log`).
    """
    venv = ensure_venv(venv)
    python = venv_python(venv)
    database = database.resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    log = log_file if log_file is not None else database.with_name(database.name + ".log")
    log.write_text("")
    env = peer_env(
        axes=axes,
        cooloff_seconds=cooloff_seconds,
        database=database,
        secret_key=secrets.token_urlsafe(50),
    )
    manage = [str(python), str(PROJECT / "manage.py")]

    def run(command: list[str], what: str) -> None:
        with log.open("ab") as out:
            result = subprocess.run(
                command, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if result.returncode != 0:
            raise PeerError(f"{what} failed (exit {result.returncode}):\n{log_tail(log)}")

    run([*manage, "migrate", "--noinput", "--verbosity", "0"], "manage.py migrate")
    if users_file is not None:
        run([*manage, "seed_users", str(users_file.resolve())], "manage.py seed_users")

    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "peer_site.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--graceful-timeout",
                "5",
            ],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_peer ends master and workers
        )
    try:
        _wait_healthy(proc, port=port, timeout=timeout, log=log)
    except BaseException:
        stop_peer(proc)
        raise
    return proc


def _wait_healthy(proc: subprocess.Popen[bytes], *, port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/healthz"
    while True:
        if proc.poll() is not None:
            raise PeerError(f"the peer exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise PeerError(f"the peer did not answer {url} in {timeout:g} s:\n{log_tail(log)}")
        time.sleep(0.1)


def stop_peer(proc: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM to the peer's process group (gunicorn's master and workers), then SIGKILL."""
    stop_process_group(proc, timeout=timeout)


def _serve(args: argparse.Namespace) -> int:
    database = args.database or Path(tempfile.mkdtemp(prefix="django-peer-")) / "peer.sqlite3"
    proc = start_peer(
        port=args.port,
        workers=args.workers,
        axes=args.axes,
        cooloff_seconds=args.cooloff_seconds,
        database=database,
        users_file=args.users,
    )
    print(
        f"Django peer (axes {args.axes}) on http://127.0.0.1:{args.port}/ "
        f"database {database}, log {database.with_name(database.name + '.log')}; Ctrl-C stops it",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_peer(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("venv", help="build bench/peers/.venv (if needed) and print its path")
    serve = commands.add_parser("serve", help="serve the peer until Ctrl-C")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--axes", choices=AXES_CONFIGS, default="default")
    serve.add_argument("--cooloff-seconds", type=int, default=600, help="tuned config only")
    serve.add_argument("--database", type=Path, help="SQLite file (default: a new temp file)")
    serve.add_argument("--users", type=Path, help="JSON lines of users to seed")
    args = parser.parse_args(argv)
    try:
        if args.command == "venv":
            print(ensure_venv())
            return 0
        return _serve(args)
    except PeerError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
