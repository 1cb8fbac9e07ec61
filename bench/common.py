"""Helpers shared by the benchmarks: machine facts, CPU accounting, server processes."""

from __future__ import annotations

import multiprocessing.process
import os
import platform
import socket
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mamori.simulate.server import stop_process_group


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Jiffies from the `cpu` line of /proc/stat."""

    busy: int
    steal: int
    total: int


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def machine_cpu_times() -> CpuTimes | None:
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    # cpu user nice system idle iowait irq softirq steal [guest guest_nice (already in user)]
    values = [int(v) for v in first[1:9]]
    idle = values[3] + values[4]
    return CpuTimes(busy=sum(values) - idle - values[7], steal=values[7], total=sum(values))


def busy_cores(before: CpuTimes | None, after: CpuTimes | None, seconds: float) -> float | None:
    """CPUs' worth of work (all processes, steal excluded) done between two /proc/stat samples."""
    if before is None or after is None or seconds <= 0:
        return None
    return (after.busy - before.busy) / os.sysconf("SC_CLK_TCK") / seconds


def stolen_cores(before: CpuTimes | None, after: CpuTimes | None, seconds: float) -> float | None:
    """CPUs' worth of time the hypervisor ran other guests instead of this machine."""
    if before is None or after is None or seconds <= 0:
        return None
    return (after.steal - before.steal) / os.sysconf("SC_CLK_TCK") / seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def mamori_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mamori", *args]


def percentile(values: Sequence[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def stop_server(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM to the server's process group (uvicorn's supervisor and workers), then SIGKILL."""
    stop_process_group(process, timeout=timeout)


def stop_helper(
    process: multiprocessing.process.BaseProcess, *, grace: float = 2.0, timeout: float = 15.0
) -> None:
    """Wait `grace` seconds for a helper process to end, then SIGTERM it, then SIGKILL it."""
    process.join(timeout=grace)
    if process.is_alive():
        process.terminate()
        process.join(timeout=timeout)
    if process.is_alive():
        process.kill()
        process.join()


def exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the server


def group_cpu(pgid: int) -> dict[int, float]:
    """User + system CPU seconds of each live process in process group `pgid` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        # utime stime ...
        rest = stat[stat.rindex(")") + 2 :].split()
        if int(rest[2]) == pgid:
            found[int(entry)] = (int(rest[11]) + int(rest[12])) / ticks
    return found


def group_cpu_seconds(pgid: int) -> float | None:
    """Their sum, or None when the group has no live process."""
    per_process = group_cpu(pgid)
    return sum(per_process.values()) if per_process else None
