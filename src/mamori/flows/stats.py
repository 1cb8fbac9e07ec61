"""Attempt statistics for the detector, aggregated in-process and flushed to the shared Counters.

Per attempt the login flow adds a handful of increments (global attempts/failures/unknown IDs per
bucket, per-source attempts and failure tallies, hourly per-source failures for baselines). They
are summed here and written in one flush (every detector tick, or when the buffer grows), so the
login path pays no extra round trips for them. Lock and throttle counters are NOT buffered: they
are updated atomically in the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from mamori.store.counters import Counters

SOURCE_KINDS = ("ip", "subnet", "network", "ua")


BLOCK_GRAINS: tuple[tuple[int, float], ...] = (
    (60, 2 * 3600 + 60),
    (900, 2 * 86400),
    (7200, 8 * 86400),
)
"""(bucket seconds, time to keep) of the ban-refusal counts the console's live view reads."""


class StatsBuffer:
    def __init__(self, *, bucket_seconds: float, history_buckets: int, max_entries: int = 20_000):
        self.bucket_seconds = bucket_seconds
        self.keep = bucket_seconds * (history_buckets + 3)
        self.max_entries = max_entries
        self._incr: defaultdict[tuple[str, float], int] = defaultdict(int)
        self._tally: defaultdict[tuple[str, str, float, str], int] = defaultdict(int)

    def bucket(self, now: float) -> int:
        return int(now // self.bucket_seconds)

    def __len__(self) -> int:
        return len(self._incr) + len(self._tally)

    def add(self, key: str, *, ttl: float, amount: int = 1) -> None:
        self._incr[(key, ttl)] += amount

    def add_tally(self, key: str, member: str, *, ttl: float, distinct_key: str = "") -> None:
        """Count `member` in tally `key`; when `distinct_key` is given it is incremented each
        time a member appears in the tally for the first time (a distinct count)."""
        self._tally[(key, member[:200], ttl, distinct_key)] += 1

    def record_attempt(
        self, *, now: float, sources: dict[str, str], login_key: str, failed: bool, unknown: bool
    ) -> None:
        b = self.bucket(now)
        ttl = self.keep
        self.add(f"g:{b}:a", ttl=ttl)
        self.add_tally(f"t:{b}:id", login_key, ttl=ttl, distinct_key=f"g:{b}:ids")
        if failed:
            self.add(f"g:{b}:f", ttl=ttl)
            if unknown:
                self.add(f"g:{b}:u", ttl=ttl)
        else:
            self.add(f"g:{b}:s", ttl=ttl)
        hour = int(now // 3600)
        for kind, value in sources.items():
            if not value:
                continue
            if kind == "ip":
                self.add_tally(f"t:{b}:ip:a", value, ttl=ttl, distinct_key=f"g:{b}:ips")
            self.add(f"s:{b}:{kind}:{value}:a", ttl=ttl)
            if failed:
                self.add_tally(f"t:{b}:{kind}:f", value, ttl=ttl)
                if kind in ("subnet", "network"):
                    self.add(f"h:{hour}:{kind}:{value}", ttl=2 * 3600 + 60)

    def record_blocked(self, *, now: float) -> None:
        self.add(f"g:{self.bucket(now)}:b", ttl=self.keep)
        # for the console's chart: refusals per minute, quarter hour and two hours, kept as
        # long as the hour, day and week views look back
        for size, ttl in BLOCK_GRAINS:
            self.add(f"blk:{size}:{int(now // size)}", ttl=ttl)

    async def flush(
        self,
        counters: Counters,
        *,
        now: float,
        batch: Callable[[], AbstractAsyncContextManager[Counters]] | None = None,
        chunk: int = 200,
    ) -> int:
        """Write what was summed. `batch` opens one transaction and yields the counters running
        inside it: the writes then go `chunk` at a time (a transaction per write costs more than
        the write). Order, in every chunk: tallies sorted, then the counters they and the
        increments raise, sorted, so that two processes flushing at once on PostgreSQL take row
        locks in the same order (no deadlock)."""
        incr, tallies = self._incr, self._tally
        self._incr, self._tally = defaultdict(int), defaultdict(int)
        tally_items = sorted(tallies.items())
        incr_items = sorted(incr.items())

        async def write(
            c: Counters,
            part: list[tuple[tuple[str, str, float, str], int]],
            plain: list[tuple[tuple[str, float], int]],
        ) -> None:
            raised: defaultdict[tuple[str, float], int] = defaultdict(int)
            for (key, member, ttl, distinct_key), amount in part:
                count = await c.tally(key, member, ttl=ttl, now=now, amount=amount)
                if distinct_key and count == amount:
                    raised[(distinct_key, ttl)] += 1
            for (key, ttl), amount in plain:
                raised[(key, ttl)] += amount
            for (key, ttl), amount in sorted(raised.items()):
                await c.incr(key, ttl=ttl, now=now, amount=amount)

        chunk = max(1, chunk)
        parts = [tally_items[i : i + chunk] for i in range(0, len(tally_items), chunk)]
        plains = [incr_items[i : i + chunk] for i in range(0, len(incr_items), chunk)]
        for i in range(max(len(parts), len(plains))):
            part = parts[i] if i < len(parts) else []
            plain = plains[i] if i < len(plains) else []
            if batch is None:
                await write(counters, part, plain)
            else:
                async with batch() as inside:
                    await write(inside, part, plain)
        return len(incr) + len(tallies)
