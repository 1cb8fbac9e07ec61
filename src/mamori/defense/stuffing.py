"""Credential-stuffing detection over the global stream of login attempts.

The shell sums the last window of buckets (attempts, failures, failures on unknown login IDs,
successes), the earlier buckets as history, and the busiest sources (IP, /24 or /64 subnet, AS
network, user agent) with their own baselines. `detect` compares the window with the history:

- failure ratio, against both an absolute floor and twice the historical ratio;
- failures per bucket, against `rate_factor` times the historical rate;
- the share of failures on login IDs that do not exist (leaked lists are full of them);
- user-agent concentration (one client string carrying most failures);
- login IDs per source IP (many IDs from few addresses).

An attack needs enough failures and a high failure ratio, plus at least one of the spike, unknown
share or concentration signals. That still catches a run that uses each IP once or twice
(residential proxies): the global signals fire even when no single IP stands out. During an attack
the sources that carry it — IPs, subnets and networks whose own failure ratio is high and whose
volume is above their minimum (networks also above their own baseline) — are returned to block.
User agents are never blocked (trivially changed, shared by real users); they only raise the
signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mamori.defense.policy import DefensePolicy
from mamori.defense.throttle import BlockOrder


@dataclass(frozen=True, slots=True)
class BucketStats:
    attempts: int = 0
    failures: int = 0
    unknown: int = 0
    successes: int = 0

    def __add__(self, other: BucketStats) -> BucketStats:
        return BucketStats(
            self.attempts + other.attempts,
            self.failures + other.failures,
            self.unknown + other.unknown,
            self.successes + other.successes,
        )


@dataclass(frozen=True, slots=True)
class SourceStat:
    kind: str  # "ip" | "subnet" | "network" | "ua"
    value: str
    attempts: int
    failures: int
    baseline: float = 0.0  # this source's failures per bucket before the window


@dataclass(frozen=True, slots=True)
class Window:
    current: BucketStats  # summed over the window
    buckets: int  # how many buckets the window spans
    history: Sequence[BucketStats]  # earlier buckets, one entry each
    sources: Sequence[SourceStat] = ()
    distinct_ips: int = 0
    distinct_ids: int = 0


@dataclass(frozen=True, slots=True)
class Detection:
    attack: bool
    reasons: tuple[str, ...]
    signals: dict[str, float]
    blocks: tuple[BlockOrder, ...] = field(default=())


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def detect(window: Window, policy: DefensePolicy) -> Detection:
    cur = window.current
    hist_total = sum(window.history, BucketStats())
    n_hist = len(window.history)
    fail_ratio = _ratio(cur.failures, cur.attempts)
    base_ratio = _ratio(hist_total.failures, hist_total.attempts) if hist_total.attempts else 0.0
    per_bucket = _ratio(cur.failures, max(window.buckets, 1))
    base_rate = _ratio(hist_total.failures, n_hist) if n_hist else 0.0
    unknown_share = _ratio(cur.unknown, cur.failures)
    ua_failures = [s.failures for s in window.sources if s.kind == "ua"]
    ua_share = _ratio(max(ua_failures, default=0), cur.failures)
    ids_per_ip = _ratio(window.distinct_ids, window.distinct_ips)
    signals = {
        "attempts": float(cur.attempts),
        "failures": float(cur.failures),
        "failure_ratio": round(fail_ratio, 4),
        "baseline_failure_ratio": round(base_ratio, 4),
        "failures_per_bucket": round(per_bucket, 2),
        "baseline_failures_per_bucket": round(base_rate, 2),
        "unknown_share": round(unknown_share, 4),
        "ua_concentration": round(ua_share, 4),
        "login_ids_per_ip": round(ids_per_ip, 2),
    }
    ratio_floor = max(policy.failure_ratio, min(0.95, 2 * base_ratio))
    enough = cur.failures >= policy.min_failures
    ratio_high = fail_ratio >= ratio_floor
    spike = per_bucket >= policy.rate_factor * max(base_rate, 1.0)
    unknown_high = unknown_share >= policy.unknown_share
    concentrated = ua_share >= policy.ua_concentration
    reasons: list[str] = []
    if enough and ratio_high:
        reasons.append(f"failure_ratio {fail_ratio:.2f} >= {ratio_floor:.2f}")
        if spike:
            reasons.append(
                f"failures/bucket {per_bucket:.1f} >= {policy.rate_factor:g}x "
                f"baseline {base_rate:.1f}"
            )
        if unknown_high:
            reasons.append(f"unknown login IDs {unknown_share:.0%} of failures")
        if concentrated:
            reasons.append(f"one user agent carries {ua_share:.0%} of failures")
    attack = enough and ratio_high and (spike or unknown_high or concentrated)
    if not attack:
        return Detection(False, (), signals)
    return Detection(True, tuple(reasons), signals, tuple(_sources_to_block(window, policy)))


def _sources_to_block(window: Window, policy: DefensePolicy) -> list[BlockOrder]:
    orders: list[BlockOrder] = []
    minimum = {
        "ip": policy.attack_ip_min_failures,
        "subnet": policy.attack_subnet_min_failures,
        "network": policy.attack_network_min_failures,
    }
    for s in window.sources:
        if s.kind not in minimum or s.failures < minimum[s.kind]:
            continue
        ratio = _ratio(s.failures, s.attempts)
        if ratio < policy.attack_source_failure_ratio:
            continue
        if s.kind == "network":
            # a whole network only when it is far above its own normal failure volume
            per_bucket = _ratio(s.failures, max(window.buckets, 1))
            if per_bucket < policy.source_rate_factor * max(s.baseline, 1.0):
                continue
        kind = "cidr" if s.kind == "subnet" else s.kind
        orders.append(
            BlockOrder(
                kind,
                s.value,
                policy.source_block,
                f"stuffing_{s.kind}",
                {
                    "failures": s.failures,
                    "attempts": s.attempts,
                    "failure_ratio": round(ratio, 3),
                    "baseline": round(s.baseline, 2),
                },
            )
        )
    return orders
