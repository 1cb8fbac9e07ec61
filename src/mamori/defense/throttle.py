"""Rules on sources: one IP's failures and spread over login IDs; subnets and networks against
their own recent baseline. Each rule that fires returns a BlockOrder with its reason."""

from __future__ import annotations

from dataclasses import dataclass

from mamori.defense.policy import DefensePolicy


@dataclass(frozen=True, slots=True)
class BlockOrder:
    kind: str  # "ip" | "cidr" | "network"
    value: str
    seconds: float
    reason: str
    evidence: dict[str, float]


def ip_rules(
    policy: DefensePolicy,
    *,
    ip: str,
    failures: int,
    distinct_ids: int,
    under_attack: bool = False,
) -> list[BlockOrder]:
    orders: list[BlockOrder] = []
    if distinct_ids >= policy.ip_distinct_threshold:
        orders.append(
            BlockOrder(
                "ip", ip, policy.ip_block, "ip_many_login_ids", {"distinct_login_ids": distinct_ids}
            )
        )
    threshold = policy.under_attack_ip_fail_threshold if under_attack else policy.ip_fail_threshold
    if failures >= threshold:
        orders.append(
            BlockOrder(
                "ip",
                ip,
                policy.ip_throttle,
                "ip_failures",
                {"failures": failures, "threshold": threshold},
            )
        )
    return orders


def relative_rule(
    policy: DefensePolicy,
    *,
    kind: str,
    value: str,
    failures_now: int,
    baseline_per_bucket: float,
    min_failures: int,
) -> BlockOrder | None:
    """A subnet or network failing far above its own baseline rate (per detector bucket)."""
    floor = max(baseline_per_bucket, 1.0)
    if failures_now >= min_failures and failures_now >= policy.source_rate_factor * floor:
        return BlockOrder(
            kind,
            value,
            policy.source_block,
            f"{kind}_failure_rate",
            {
                "failures": failures_now,
                "baseline": round(baseline_per_bucket, 2),
                "factor": policy.source_rate_factor,
            },
        )
    return None


def escalate(seconds: float, *, strikes: int, cap: float) -> float:
    """Decay the other way round: each repeat block of the same source lasts twice as long."""
    return float(min(seconds * (2 ** max(0, strikes)), cap))
