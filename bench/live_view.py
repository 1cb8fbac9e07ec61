"""The console's live view on a busy database: time to build the hour, day and week views.

A credential-stuffing hour (`--hour-events`, default 100,000 login events, most of them
failures from many addresses) on top of a quieter week (`--week-events`). Each view is one
GROUP BY for the chart and one per top list (`store/console.py`). Prints the median of a few
runs per view next to the goal (the hour view <= 200 ms).

    .venv/bin/python bench/live_view.py [--database-url URL] [--hour-events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_info
from mamori.boot import build_services
from mamori.clock import FixedClock
from mamori.flows import live
from mamori.notify import MemoryNotifier
from mamori.settings import Settings
from mamori.store import migrate, tables

GOAL_MS = 200.0


def events(
    rng: random.Random, n: int, *, start: datetime, seconds: float, attack: bool
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    # events are appended as they happen: ids follow time
    for at in sorted(start + timedelta(seconds=rng.random() * seconds) for _ in range(n)):
        failed = rng.random() < (0.97 if attack else 0.1)
        a, b, c = rng.randrange(1, 223), rng.randrange(256), rng.randrange(256)
        ip = f"{a}.{b}.{c}.{rng.randrange(256)}" if attack else f"10.{a % 40}.{b}.{c}"
        rows.append(
            {
                "at": at,
                "type": "login_failure" if failed else "login_success",
                "result": "fail" if failed else "ok",
                "reason": "wrong_password" if failed else "",
                "login_id": f"user{rng.randrange(200_000 if attack else 20_000)}",
                "ip": ip,
                "country": rng.choice(["JP", "JP", "JP", "US", "TW", "TH", "VN"]),
                "as_name": f"AS-NET-{rng.randrange(500 if attack else 40)}",
                "details": "{}",
            }
        )
    return rows


async def run(args: argparse.Namespace, url: str) -> None:
    if True:
        clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        settings = Settings.from_mapping(
            {"secret_key": "bench-" + "k" * 40, "database_url": url, "dev": True}
        )
        svc = build_services(settings, clock=clock, notifier=MemoryNotifier())
        rng = random.Random(7)
        now = clock.now()
        batches = [
            (args.week_events, now - timedelta(days=7), 7 * 86400 - 3600, False),
            (args.hour_events, now - timedelta(seconds=3500), 3500, True),
        ]
        async with svc.store.begin() as tx:
            await tx.conn.execute(tables.security_events.delete())
        for n, start, seconds, attack in batches:
            rows = events(rng, n, start=start, seconds=seconds, attack=attack)
            for i in range(0, n, 20_000):
                async with svc.store.begin() as tx:
                    await tx.conn.execute(tables.security_events.insert(), rows[i : i + 20_000])
        print(f"machine: {machine_info()}")
        print(f"database: {svc.store.dialect}; events: {args.hour_events:,} in the last hour, "
              f"{args.week_events:,} over the week")  # fmt: skip
        for name in ("hour", "day", "week"):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                view = await live.live_view(svc, range_name=name)
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            ratio = f"  (goal <= {GOAL_MS:.0f} ms: ratio {median / GOAL_MS:.2f})"
            note = ratio if name == "hour" else ""
            print(f"{name:5s} view: median {median:7.1f} ms over {args.runs} runs, "
                  f"{view.totals['attempts']:,} attempts{note}")  # fmt: skip
        if svc.store.dialect == "postgresql":
            async with svc.store.begin() as tx:
                await tx.conn.execute(tables.security_events.delete())
        await svc.store.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--hour-events", type=int, default=100_000)
    parser.add_argument("--week-events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = arguments.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'live.db'}"
        migrate.upgrade(database)  # (Alembic runs its own event loop)
        asyncio.run(run(arguments, database))
