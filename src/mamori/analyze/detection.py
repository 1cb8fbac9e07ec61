"""Replays the service's defenses over the aggregates, in time order, with the pure engines.

The live service runs the credential-stuffing detector every few seconds over the last two
buckets (`mamori.flows.defense.Defender.tick`). Here it runs once per bucket ``w`` over buckets
``w-1`` and ``w``, as at the end of bucket ``w``, with the same inputs: the window's totals, the 60
buckets before as history, the window's busiest sources with their hourly baselines, distinct login
IDs and IPs. It is asked only about windows with enough failures for any of its rules to fire
(``min(min_failures, subnet_min_failures, network_min_failures)``: below that `detect` and
`source_orders` return nothing whatever the sources), and it first sees only the sources its attack
decision reads (the busiest user agent; subnets and networks past their minimum); windows it finds
under attack are asked again with every source, for the sources to block. The result is what the
same calls on every window would give.

Then the per-IP rules (`ip_rules`: failures in 10 minutes, login IDs in 24 hours, with the lower
"under attack" threshold during attacks) and the per-login-ID lock (`judge_attempt`), from window
counts that DuckDB computes over every failure of the busy IPs and login IDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from mamori.analyze import aggregate
from mamori.analyze.progress import Progress
from mamori.defense.lockout import judge_attempt
from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import BucketStats, Detection, SourceStat, Window, detect
from mamori.defense.throttle import BlockOrder, ip_rules
from mamori.flows.defense import source_orders

__all__ = ["Incident", "Outcome", "TimedOrder", "replay"]

_ZERO = BucketStats()


@dataclass(frozen=True, slots=True)
class TimedOrder:
    """A ban the service would have applied: first at ``at`` (µs), on evidence since
    ``since``, renewed last at ``until`` (it runs out the ban's length after that)."""

    at: int
    since: int
    until: int
    origin: str  # "detector" (attack sources), "relative" (subnet/network rate), "ip_rule"
    order: BlockOrder


@dataclass(slots=True)
class Incident:
    """One attack as the detector saw it: consecutive attack windows, each within the "under
    attack" period of the one before."""

    start: int  # µs: the start of the first attack window
    end: int  # µs: the end of the last attack window
    windows: int  # attack windows
    reasons: tuple[str, ...]  # of the first detection
    signals: dict[str, float]  # of the first detection
    peak: dict[str, float] = field(default_factory=dict)  # the window with most failures


@dataclass(slots=True)
class Outcome:
    evaluated: int  # windows the detector was asked about
    attack_windows: int
    incidents: list[Incident]
    orders: list[TimedOrder]
    attack_spans: list[tuple[int, int]]  # "under attack" periods, µs, merged
    locks: list[tuple[str, int]]  # (login ID, µs) of each lock the first time it started


def _window(
    w: int,
    totals: dict[int, BucketStats],
    policy: DefensePolicy,
    sources: Sequence[SourceStat],
    distinct: tuple[int, int],
    attacked: set[int],
) -> Window:
    # buckets already judged to be an attack are not baseline (as in flows/window.py)
    past = range(w - 1 - policy.history_buckets, w - 1)
    return Window(
        current=totals.get(w - 1, _ZERO) + totals.get(w, _ZERO),
        buckets=2,
        history=[totals.get(x, _ZERO) for x in past if x not in attacked],
        sources=sources,
        distinct_ids=distinct[0],
        distinct_ips=distinct[1],
    )


def _by_window(rows: Sequence[aggregate.SourceRow]) -> dict[int, list[SourceStat]]:
    out: dict[int, list[SourceStat]] = {}
    for r in rows:
        out.setdefault(r.window, []).append(
            SourceStat(r.kind, r.value, r.attempts, r.failures, r.baseline)
        )
    return out


def replay(
    con: duckdb.DuckDBPyConnection,
    policy: DefensePolicy,
    *,
    bucket_us: int,
    progress: Progress,
) -> Outcome:
    progress.begin("detecting")
    totals = aggregate.bucket_totals(con)
    floor = min(policy.min_failures, policy.subnet_min_failures, policy.network_min_failures)
    candidates = sorted({b for b in totals} | {b + 1 for b in totals})
    windows = [
        w
        for w in candidates
        if totals.get(w - 1, _ZERO).failures + totals.get(w, _ZERO).failures >= floor
    ]
    progress.advance(0.1)
    detections: dict[int, Detection] = {}
    orders: list[TimedOrder] = []
    if windows:
        distinct = aggregate.prepare_windows(con, windows, bucket_us=bucket_us)
        bucket_seconds = bucket_us / 1e6
        light = _by_window(
            aggregate.window_sources(
                con, bucket_seconds=bucket_seconds, kinds=("ua",), top_ua_only=True
            )
            + aggregate.window_sources(
                con,
                bucket_seconds=bucket_seconds,
                kinds=("subnet", "network"),
                min_failures=min(policy.subnet_min_failures, policy.network_min_failures),
            )
        )
        # in time order: each window's baseline leaves out the buckets judged attacks before it
        attacked: set[int] = set()
        attacks: list[int] = []
        for w in windows:
            window = _window(w, totals, policy, light.get(w, []), distinct[w], attacked)
            if detect(window, policy).attack:
                attacks.append(w)
                attacked.update((w - 1, w))
        full = _by_window(
            aggregate.window_sources(con, bucket_seconds=bucket_seconds, windows=attacks)
        )
        for i, w in enumerate(windows):
            if i % 1024 == 0:
                progress.advance(0.3 + 0.4 * i / len(windows))
            at = (w + 1) * bucket_us
            blocked: set[tuple[str, str]] = set()
            if w in full:
                window = _window(w, totals, policy, full[w], distinct[w], attacked)
                detection = detect(window, policy)
                detections[w] = detection
                for order in detection.blocks:
                    blocked.add((order.kind, order.value))
                    orders.append(TimedOrder(at, w * bucket_us - bucket_us, at, "detector", order))
            else:
                window = _window(w, totals, policy, light.get(w, []), distinct[w], attacked)
            for order in source_orders(window, policy):
                if (order.kind, order.value) not in blocked:
                    orders.append(TimedOrder(at, w * bucket_us - bucket_us, at, "relative", order))
    incidents, spans = _incidents(detections, policy, bucket_us=bucket_us)
    aggregate.set_attack_spans(con, spans)
    progress.advance(0.75)
    for run in aggregate.ip_rule_runs(con, policy):
        for order in ip_rules(
            policy,
            ip=run.ip,
            failures=run.failures,
            distinct_ids=run.distinct_ids,
            under_attack=run.under_attack,
        ):
            wanted = "ip_failures" if run.rule == "failures" else "ip_many_login_ids"
            if order.reason == wanted:
                orders.append(TimedOrder(run.first, run.evidence, run.last, "ip_rule", order))
    progress.advance(0.9)
    locks: list[tuple[str, int]] = []
    for hit in aggregate.lock_hits(con, policy):
        verdict = judge_attempt(
            policy,
            now=hit.ts / 1e6,
            attempts=hit.attempts,
            lock_until=0.0,
            locks_in_window=0,
            recognized=False,  # the logs carry no device cookie
            under_attack=any(lo <= hit.ts < hi for lo, hi in spans),
        )
        if verdict.new_lock:
            locks.append((hit.login_id, hit.ts))
    progress.end()
    orders.sort(key=lambda o: (o.at, o.order.kind, o.order.value))
    return Outcome(
        evaluated=len(windows),
        attack_windows=len(detections),
        incidents=incidents,
        orders=orders,
        attack_spans=spans,
        locks=locks,
    )


def _incidents(
    detections: dict[int, Detection], policy: DefensePolicy, *, bucket_us: int
) -> tuple[list[Incident], list[tuple[int, int]]]:
    """Group attack windows into incidents the way the service keeps its "under attack" state
    (each detection holds it for ``policy.under_attack`` seconds); the spans are those states."""
    hold = int(policy.under_attack * 1e6)
    incidents: list[Incident] = []
    spans: list[tuple[int, int]] = []
    peak_failures = -1.0
    for w in sorted(detections):
        d = detections[w]
        at = (w + 1) * bucket_us
        if spans and at <= spans[-1][1]:
            spans[-1] = (spans[-1][0], at + hold)
            current = incidents[-1]
            current.end = at
            current.windows += 1
        else:
            spans.append((at, at + hold))
            current = Incident(
                start=(w - 1) * bucket_us,
                end=at,
                windows=1,
                reasons=d.reasons,
                signals=dict(d.signals),
            )
            incidents.append(current)
            peak_failures = -1.0
        if d.signals.get("failures", 0.0) > peak_failures:
            peak_failures = d.signals.get("failures", 0.0)
            current.peak = dict(d.signals)
    return incidents, spans
