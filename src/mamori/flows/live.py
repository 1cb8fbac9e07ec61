"""The console's live view: login activity per time bucket over the last hour, day or week, the
failure ratio against its baseline, the top sources and targets, active bans, and whether the
detector says the service is under attack.

- **Series** come from `security_events` (one GROUP BY, `store/console.py`), in 1-minute buckets
  for the hour, 15-minute for the day and 2-hour for the week; the chart shows events per
  minute (a bucket's count divided by its minutes). Requests refused by a ban never reach the
  login flow, so they are not events: the stats buffer counts them per minute, quarter hour and
  two hours (kept 2 h, 2 days, 8 days: `stats.BLOCK_GRAINS`), and those counts are "blocks".
- **Failure ratio vs baseline**: the detector's own window and history from the shared counters,
  judged by the same pure `detect` (so the console says what the detector sees).
- **Top** IPs, /24 (/64) subnets, networks, countries and login IDs by failed logins among
  the latest login events of the period (at most 10,000: during an attack, the current one).
- A period with more events than one query should read is sampled (`store/console.py`);
  the view then says its counts are estimates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mamori.defense.stuffing import detect
from mamori.flows.services import Services
from mamori.flows.stats import BLOCK_GRAINS
from mamori.flows.window import read_window
from mamori.models import Ban
from mamori.store.console import CLASSES, Activity, TopLists, TopRow

# range -> (length in seconds, bucket in seconds)
RANGES: dict[str, tuple[int, int]] = {
    "hour": (3600, 60),
    "day": (86400, 900),
    "week": (7 * 86400, 7200),
}
SERIES = ("attempts", "success", "failure", "challenge", "block")
TOP_LIMIT = 10


@dataclass(frozen=True, slots=True)
class LiveView:
    range: str
    bucket_seconds: int
    starts: list[datetime]  # the start of each bucket, oldest first
    counts: dict[str, list[int]]  # SERIES -> events per bucket
    totals: dict[str, int]
    top: dict[str, list[TopRow]]  # DIMENSIONS -> rows
    top_events: int  # the latest login events of the period the top lists are drawn from
    sample: int  # 1: exact counts; k: every k-th event read, counts scaled (a busy period)
    bans: list[Ban]
    under_attack: bool
    reasons: tuple[str, ...]
    failure_ratio: float  # the detector's current window
    baseline_ratio: float  # the detector's history before it
    period_failure_ratio: float  # failures / attempts over the whole period
    now: datetime

    @property
    def per_minute(self) -> dict[str, list[float]]:
        minutes = self.bucket_seconds / 60
        return {k: [v / minutes for v in vs] for k, vs in self.counts.items()}


async def live_view(svc: Services, *, range_name: str = "hour") -> LiveView:
    if range_name not in RANGES:
        range_name = "hour"
    length, bucket = RANGES[range_name]
    now = svc.clock.now()
    ts = now.timestamp()
    last = int(ts // bucket)
    n = length // bucket
    first = last - n + 1
    since = datetime.fromtimestamp(first * bucket, UTC)
    until = now + timedelta(seconds=1)
    counts = {k: [0] * n for k in SERIES}

    async def read_activity() -> Activity:
        async with svc.store.begin(offload=True) as tx:
            return await tx.console.activity(
                since=since, until=until, group_seconds=60 if bucket < 3600 else 3600
            )

    async def read_top() -> tuple[TopLists, list[Ban]]:
        async with svc.store.begin(offload=True) as tx:
            top = await tx.console.top(since=since, until=until, limit=TOP_LIMIT)
            return top, await tx.bans.active(now=now)

    # two read-only transactions side by side (each on its own connection)
    activity, (top, bans) = await asyncio.gather(read_activity(), read_top())
    for start, by_class in activity.groups.items():
        i = start // bucket - first
        if 0 <= i < n:
            for cls, count in by_class.items():
                counts[cls][i] += count
    await _add_refusals(svc, counts["block"], first=first, bucket=bucket, now=ts)
    for i in range(n):
        counts["attempts"][i] = sum(counts[c][i] for c in CLASSES)
    totals = {k: sum(v) for k, v in counts.items()}
    defender = svc.defender
    window = await read_window(defender.counters, defender.policy, now=ts)
    detection = detect(window, defender.policy)
    under_attack = await defender.under_attack()
    reasons = detection.reasons
    if not reasons and defender.last_detection is not None and under_attack:
        reasons = defender.last_detection.reasons
    failed = totals["failure"] + totals["block"]
    return LiveView(
        range=range_name,
        bucket_seconds=bucket,
        starts=[datetime.fromtimestamp((first + i) * bucket, UTC) for i in range(n)],
        counts=counts,
        totals=totals,
        top=top.lists,
        top_events=top.events,
        sample=activity.sample,
        bans=bans,
        under_attack=under_attack,
        reasons=tuple(reasons),
        failure_ratio=float(detection.signals.get("failure_ratio", 0.0)),
        baseline_ratio=float(detection.signals.get("baseline_failure_ratio", 0.0)),
        period_failure_ratio=failed / totals["attempts"] if totals["attempts"] else 0.0,
        now=now,
    )


async def _add_refusals(
    svc: Services, blocks: list[int], *, first: int, bucket: int, now: float
) -> None:
    """Add the ban refusals to the view's buckets: from the long-lived per-bucket counts when the
    view's bucket is one of their grains, else from the detector's own buckets (an hour)."""
    if bucket in dict(BLOCK_GRAINS):
        keys = [f"blk:{bucket}:{first + i}" for i in range(len(blocks))]
        values = await svc.defender.counters.get_many(keys, now=now)
        for i, v in enumerate(values):
            blocks[i] += v
        return
    p = svc.defender.policy
    size = p.bucket_seconds
    keep = size * (p.history_buckets + 3)
    start = max(first * bucket, now - keep)
    detector_buckets = list(range(int(start // size), int(now // size) + 1))
    if not detector_buckets:
        return
    values = await svc.defender.counters.get_many([f"g:{b}:b" for b in detector_buckets], now=now)
    for b, v in zip(detector_buckets, values, strict=True):
        i = int(b * size // bucket) - first
        if v and 0 <= i < len(blocks):
            blocks[i] += v
