"""`mamori serve`: uvicorn, one process, or N worker processes that each own a listening socket.

With `--workers N > 1` uvicorn's own supervisor shares ONE listening socket between its workers,
and whichever worker wakes first accepts every connection that is waiting; long-lived keep-alive
connections then stay on it (measured: one worker at 1.2 CPUs, the other idle). Here each worker
binds its own socket with SO_REUSEPORT, so the kernel spreads new connections across the
workers. The supervisor forwards SIGTERM/SIGINT to the workers and exits when they have stopped;
if a worker dies, the others are stopped and serve exits with an error.

Metrics with N workers: before starting them, serve points `PROMETHEUS_MULTIPROC_DIR` at a fresh
temporary directory (removed on exit; a directory you set yourself is used as is — empty it
before each start), so `/metrics`, whichever worker answers it, sums every worker's values.
Logging (`MAMORI_LOG_FORMAT`) is set up in the supervisor and in each worker (`mamori.logs`).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.process import BaseProcess
from typing import Any

from mamori.logs import configure_logging, uvicorn_log_config
from mamori.metrics import MULTIPROC_ENV

APP = "mamori.web.asgi:app_from_env"


def _uvicorn_options(*, dev: bool, log_format: str = "text") -> dict[str, Any]:
    from mamori.web.protocol import OneSendHttpToolsProtocol

    return {
        "factory": True,
        "http": OneSendHttpToolsProtocol,  # a response's head and body in one send
        "log_config": uvicorn_log_config(log_format),
        "proxy_headers": False,
        "server_header": False,
        "access_log": dev,
        "log_level": "info",
    }


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, dev: bool, log_format: str = "text") -> None:
    import uvicorn

    configure_logging(log_format)
    sock = _listen(host, port)
    config = uvicorn.Config(APP, **_uvicorn_options(dev=dev, log_format=log_format))
    uvicorn.Server(config).run(sockets=[sock])


def serve(*, host: str, port: int, workers: int, dev: bool, log_format: str = "text") -> int:
    import uvicorn

    configure_logging(log_format)
    if workers <= 1:
        uvicorn.run(APP, host=host, port=port, **_uvicorn_options(dev=dev, log_format=log_format))
        return 0
    _listen(host, port).close()  # fail fast (port taken, bad address) before forking anything
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="mamori-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir  # inherited by the workers
    try:
        return _supervise(host, port, workers, dev, log_format)
    finally:
        if own_dir is not None:
            del os.environ[MULTIPROC_ENV]
            shutil.rmtree(own_dir, ignore_errors=True)


def _supervise(host: str, port: int, workers: int, dev: bool, log_format: str) -> int:
    ctx = multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = [
        ctx.Process(target=_worker, args=(host, port, dev, log_format), name=f"mamori-worker-{i}")
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    code = 0
    while any(p.is_alive() for p in procs):
        for p in procs:
            if not p.is_alive() and p.exitcode not in (0, None) and not stopping:
                print(f"mamori: {p.name} exited with {p.exitcode}; stopping", file=sys.stderr)
                code = 1
                stop(signal.SIGTERM, None)
        time.sleep(0.2)
    for p in procs:
        p.join(timeout=10)
    return code
