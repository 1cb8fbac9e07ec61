"""Gather the detector's window from the shared counters: the global buckets of the last window
and of the history before it, and the busiest sources with their own hourly baselines.

Buckets the detector judged to be under attack (`g:<bucket>:atk`, set by `Defender.tick`) are
left out of the history: a sustained attack must not become its own baseline (otherwise a
campaign lasting hours raises the failure-ratio floor to 0.95 and the "under attack" state
lapses while it is still going on)."""

from __future__ import annotations

from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import BucketStats, SourceStat, Window
from mamori.flows.stats import SOURCE_KINDS
from mamori.store.counters import Counters


async def read_window(counters: Counters, p: DefensePolicy, *, now: float) -> Window:
    b = int(now // p.bucket_seconds)
    window_buckets = [b - 1, b]
    history = list(range(b - 1 - p.history_buckets, b - 1))
    fields = ("a", "f", "u", "s")
    keys = [f"g:{x}:{f}" for x in history + window_buckets for f in fields]
    keys += [f"g:{x}:{f}" for x in window_buckets for f in ("ids", "ips")]
    keys += [f"g:{x}:atk" for x in history]
    values = await counters.get_many(keys, now=now)
    per_bucket = [
        BucketStats(*values[i * 4 : (i + 1) * 4]) for i in range(len(history) + len(window_buckets))
    ]
    attacked = values[len(values) - len(history) :]
    hist_stats = [s for s, atk in zip(per_bucket[: len(history)], attacked, strict=True) if not atk]
    current = sum(per_bucket[len(history) :], BucketStats())
    tail = values[len(keys) - len(history) - 4 : len(keys) - len(history)]
    distinct_ids, distinct_ips = tail[0] + tail[2], tail[1] + tail[3]
    sources = await _top_sources(counters, p, window_buckets, now)
    return Window(
        current=current,
        buckets=len(window_buckets),
        history=hist_stats,
        sources=sources,
        distinct_ips=distinct_ips,
        distinct_ids=distinct_ids,
    )


async def _top_sources(
    counters: Counters, p: DefensePolicy, buckets: list[int], now: float
) -> list[SourceStat]:
    failures: dict[tuple[str, str], int] = {}
    for kind in SOURCE_KINDS:
        for x in buckets:
            for member, count in await counters.top(f"t:{x}:{kind}:f", n=50, now=now):
                failures[(kind, member)] = failures.get((kind, member), 0) + count
    if not failures:
        return []
    items = list(failures.items())
    keys = [f"s:{x}:{kind}:{value}:a" for (kind, value), _ in items for x in buckets]
    hour = int(now // 3600)
    keys += [f"h:{hour - 1}:{kind}:{value}" for (kind, value), _ in items]
    values = await counters.get_many(keys, now=now)
    n = len(buckets)
    per_hour_buckets = 3600 / p.bucket_seconds
    out: list[SourceStat] = []
    for i, ((kind, value), fails) in enumerate(items):
        attempts = sum(values[i * n : (i + 1) * n])
        last_hour = values[len(items) * n + i]
        out.append(
            SourceStat(
                kind, value, max(attempts, fails), fails, baseline=last_hour / per_hour_buckets
            )
        )
    return out
