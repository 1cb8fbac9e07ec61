"""Risk assessment latency on SQLite: gather (one snapshot query) + score + decide.

100,000 accounts and 1,000,000 successful logins of history in the frequency tables; the tables
are bulk-loaded from the same counters `MemoryFrequencies` keeps (what `RiskCounts.record` would
have written login by login). Prints p50/p95/p99 next to the goal (p95 <= 3 ms), excluding the
password hash, plus the cost of recording one login.

    .venv/bin/python bench/risk_latency.py [--users 100000] [--logins 1000000] [--samples 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_info
from mamori.risk.features import LoginFeatures
from mamori.risk.frequencies import MemoryFrequencies
from mamori.risk.policy import RiskPolicy, decide
from mamori.risk.scoring import score_login
from mamori.store import migrate, tables
from mamori.store.risk_counts import GLOBAL, SEP
from mamori.store.sql import create_store

BROWSERS = ["Chrome 131", "Safari 17", "Firefox 132", "Edge 131"]
OSES = ["Windows 10", "Mac OS X 14", "iOS 17.5", "Android 14"]


def habits(rng: random.Random, user: int) -> list[LoginFeatures]:
    isp = rng.randrange(40)
    return [
        LoginFeatures(
            ip=f"10.{isp}.{rng.randrange(256)}.{rng.randrange(256)}",
            network=f"AS{64500 + isp}",
            country="JP" if rng.random() < 0.95 else rng.choice(["US", "TW", "KR"]),
            ua=f"UA-{rng.randrange(300)}",
            browser=rng.choice(BROWSERS),
            os=rng.choice(OSES),
            device_type=rng.choice(["desktop", "mobile"]),
            device_id=f"dev-{user}-{d}",
        )
        for d in range(rng.randint(1, 3))
    ]


def rows_of(memory: MemoryFrequencies) -> list[dict[str, object]]:
    state = cast(
        tuple[
            int,
            dict[tuple[str, str], int],
            dict[str, int],
            dict[int, tuple[int, dict[tuple[str, str], int], dict[str, int]]],
        ],
        memory.state(),
    )
    logins, global_counts, global_distinct, users = state
    out: list[dict[str, object]] = [
        {"scope": GLOBAL, "key": "n", "count": logins},
        {"scope": GLOBAL, "key": "users", "count": len(users)},
    ]
    out += [
        {"scope": GLOBAL, "key": f"c{SEP}{lv}{SEP}{v}", "count": n}
        for (lv, v), n in global_counts.items()
    ]
    out += [
        {"scope": GLOBAL, "key": f"d{SEP}{lv}", "count": n} for lv, n in global_distinct.items()
    ]
    for user, (n, counts, distinct) in users.items():
        scope = f"u{user}"
        out.append({"scope": scope, "key": "n", "count": n})
        out += [
            {"scope": scope, "key": f"c{SEP}{lv}{SEP}{v}", "count": c}
            for (lv, v), c in counts.items()
        ]
        out += [{"scope": scope, "key": f"d{SEP}{lv}", "count": c} for lv, c in distinct.items()]
    return out


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(5)
    print(machine_info())
    started = time.perf_counter()
    memory = MemoryFrequencies()
    user_habits: dict[int, list[LoginFeatures]] = {}
    per_user = args.logins // args.users
    for user in range(1, args.users + 1):
        user_habits[user] = habits(rng, user)
        for _ in range(per_user):
            memory.add(user, rng.choice(user_habits[user]))
    rows = rows_of(memory)
    print(
        f"built {args.logins:,} logins of {args.users:,} users -> {len(rows):,} counter rows "
        f"in {time.perf_counter() - started:.0f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/risk.db"
        await asyncio.to_thread(migrate.upgrade, url)
        store = create_store(url)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        async with store.begin() as tx:
            accounts = [
                {
                    "id": u,
                    "login_id": f"u{u}",
                    "login_key": f"u{u}",
                    "email": f"u{u}@example.com",
                    "email_key": f"u{u}@example.com",
                    "password_hash": "x",
                    "language": "ja",
                    "created_at": now,
                    "password_changed_at": now,
                }
                for u in range(1, args.users + 1)
            ]
            for i in range(0, len(accounts), 20_000):
                await tx.conn.execute(insert(tables.accounts), accounts[i : i + 20_000])
            for i in range(0, len(rows), 50_000):
                await tx.conn.execute(insert(tables.risk_counts), rows[i : i + 50_000])
        print(f"loaded into SQLite in {time.perf_counter() - t0:.0f} s")
        policy = RiskPolicy()
        times: list[float] = []
        for i in range(args.samples):
            user = rng.randrange(1, args.users + 1)
            features = (
                rng.choice(user_habits[user]) if i % 2 else habits(rng, 10**9 + i)[0]
            )  # half habitual, half a stranger's
            t = time.perf_counter()
            async with store.begin() as tx:
                snap = await tx.risk.snapshot(user, features)
            assessment = score_login(snap, user=user, features=features, policy=policy)
            decide(
                assessment,
                policy=policy,
                mode="new_devices",
                recognized_device=False,
                under_attack=False,
                banned=False,
                has_history=snap.own_logins > 0,
                force_two_step=False,
            )
            times.append(time.perf_counter() - t)
        record: list[float] = []
        for _ in range(500):
            user = rng.randrange(1, args.users + 1)
            t = time.perf_counter()
            async with store.begin() as tx:
                await tx.risk.record(user, rng.choice(user_habits[user]))
            record.append(time.perf_counter() - t)
        await store.dispose()
    q = statistics.quantiles(times, n=100)
    p95 = q[94] * 1000
    print(f"\nassessment (gather + score + decide), {args.samples:,} samples:")
    print(
        f"  p50 {q[49] * 1000:.2f} ms   p95 {p95:.2f} ms   p99 {q[98] * 1000:.2f} ms   "
        f"(goal p95 <= 3 ms: {'GOAL MET' if p95 <= 3 else 'GOAL MISSED'})"
    )
    r = statistics.quantiles(record, n=100)
    print(f"recording one login: p50 {r[49] * 1000:.2f} ms  p95 {r[94] * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--logins", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=3_000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
