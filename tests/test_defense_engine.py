"""The pure defense engines: lockout tiers, IP rules, the stuffing detector, and their purity."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mamori.defense.lockout import judge_attempt, lock_duration
from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import BucketStats, SourceStat, Window, detect
from mamori.defense.throttle import escalate, ip_rules, relative_rule

P = DefensePolicy()
SRC = Path(__file__).resolve().parents[1] / "src" / "mamori"
FORBIDDEN = {
    "mamori.store",
    "mamori.web",
    "mamori.notify",
    "mamori.flows",
    "time",
    "random",
    "asyncio",
    "datetime",
    "secrets",
    "os",
    "socket",
    "sqlalchemy",
    "redis",
    "httpx",
}


@pytest.mark.parametrize("package", ["defense", "risk"])
def test_pure_engines_import_no_io(package: str) -> None:
    for path in sorted((SRC / package).glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), (
                    f"{path.name} imports {name}"
                )


def test_lock_starts_after_threshold() -> None:
    for n in range(1, 6):
        v = judge_attempt(
            P, now=1000, attempts=n, lock_until=0, locks_in_window=0, recognized=False
        )
        assert v.allowed
    v = judge_attempt(P, now=1000, attempts=6, lock_until=0, locks_in_window=0, recognized=False)
    assert not v.allowed and v.new_lock and v.lock_until == 1000 + 600


def test_attempt_during_lock_extends_it_yahoo_rule() -> None:
    # locked at t=0 until 600; a try at 360 (6 minutes) extends to 960: 16 minutes in all
    v = judge_attempt(P, now=360, attempts=0, lock_until=600, locks_in_window=0, recognized=False)
    assert not v.allowed and v.extended and v.lock_until == 960
    off = DefensePolicy(lock_extend=False)
    v = judge_attempt(off, now=360, attempts=0, lock_until=600, locks_in_window=0, recognized=False)
    assert not v.allowed and not v.extended and v.lock_until == 600


@pytest.mark.parametrize(
    ("locks", "minutes"), [(1, 10), (2, 20), (3, 40), (8, 1280), (9, 1440), (20, 1440)]
)
def test_repeat_locks_double_capped_at_24h(locks: int, minutes: int) -> None:
    assert lock_duration(P, locks_in_window=locks) == minutes * 60


def test_recognized_device_has_its_own_threshold() -> None:
    assert judge_attempt(
        P, now=0, attempts=10, lock_until=0, locks_in_window=0, recognized=True
    ).allowed
    v = judge_attempt(P, now=0, attempts=11, lock_until=0, locks_in_window=0, recognized=True)
    assert not v.allowed and v.reason == "device_lock_started" and v.lock_until == 600


def test_under_attack_is_stricter_for_unrecognized() -> None:
    v = judge_attempt(
        P, now=0, attempts=4, lock_until=0, locks_in_window=0, recognized=False, under_attack=True
    )
    assert not v.allowed
    assert judge_attempt(
        P, now=0, attempts=4, lock_until=0, locks_in_window=0, recognized=True, under_attack=True
    ).allowed


def test_ip_rules() -> None:
    assert ip_rules(P, ip="1.2.3.4", failures=19, distinct_ids=99) == []
    (o,) = ip_rules(P, ip="1.2.3.4", failures=20, distinct_ids=5)
    assert (o.kind, o.value, o.seconds, o.reason) == ("ip", "1.2.3.4", 900, "ip_failures")
    (o,) = ip_rules(P, ip="1.2.3.4", failures=3, distinct_ids=100)
    assert (o.seconds, o.reason) == (86400, "ip_many_login_ids")
    assert len(ip_rules(P, ip="1.2.3.4", failures=5, distinct_ids=1, under_attack=True)) == 1


def test_relative_rule_and_escalation() -> None:
    assert (
        relative_rule(
            P, kind="subnet", value="x", failures_now=29, baseline_per_bucket=0, min_failures=30
        )
        is None
    )
    assert (
        relative_rule(
            P, kind="subnet", value="x", failures_now=40, baseline_per_bucket=5, min_failures=30
        )
        is None
    )  # 40 < 10 x 5
    assert (
        relative_rule(
            P, kind="subnet", value="x", failures_now=60, baseline_per_bucket=5, min_failures=30
        )
        is not None
    )
    assert escalate(3600, strikes=0, cap=7 * 86400) == 3600
    assert escalate(3600, strikes=3, cap=7 * 86400) == 8 * 3600
    assert escalate(3600, strikes=30, cap=7 * 86400) == 7 * 86400


NORMAL = [BucketStats(attempts=40, failures=6, unknown=1, successes=34)] * 60


def test_quiet_traffic_is_not_an_attack() -> None:
    w = Window(current=BucketStats(80, 12, 2, 68), buckets=2, history=NORMAL)
    d = detect(w, P)
    assert not d.attack and d.blocks == ()
    assert d.signals["failure_ratio"] == 0.15


def test_stuffing_from_residential_proxies_is_detected_by_global_signals() -> None:
    # 1,000 IPs, at most two tries each: no IP stands out, but the stream does
    sources = [SourceStat("ip", f"10.{i // 250}.{i % 250}.1", 1, 1) for i in range(50)]
    sources += [
        SourceStat("network", "RESIDENTIAL-ISP", 900, 890, baseline=2.0),
        SourceStat("subnet", "192.0.2.0/24", 40, 39),
        SourceStat("ua", "Mozilla/5.0 stuffer", 700, 690),
    ]
    w = Window(
        current=BucketStats(1000, 960, 620, 40),
        buckets=2,
        history=NORMAL,
        sources=sources,
        distinct_ips=1000,
        distinct_ids=990,
    )
    d = detect(w, P)
    assert d.attack
    assert any("failure_ratio" in r for r in d.reasons)
    assert any("unknown login IDs" in r for r in d.reasons)
    blocked = {(b.kind, b.value) for b in d.blocks}
    assert ("network", "RESIDENTIAL-ISP") in blocked
    assert ("cidr", "192.0.2.0/24") in blocked
    assert not any(b.kind == "ua" for b in d.blocks)  # user agents are never blocked
    assert not any(b.kind == "ip" for b in d.blocks)  # one try per IP: below the IP minimum


def test_busy_but_healthy_network_is_not_blocked() -> None:
    sources = [SourceStat("network", "BIG-ISP", 500, 300, baseline=40.0)]
    w = Window(current=BucketStats(1000, 900, 600, 100), buckets=2, history=NORMAL, sources=sources)
    d = detect(w, P)
    assert d.attack
    assert d.blocks == ()  # its failure ratio (0.6) is below the source minimum (0.8)


def test_a_spike_needs_a_high_failure_ratio() -> None:
    # a flash crowd of real users: many attempts, few failures
    w = Window(current=BucketStats(5000, 400, 50, 4600), buckets=2, history=NORMAL)
    assert not detect(w, P).attack


def test_high_baseline_failure_ratio_raises_the_bar() -> None:
    noisy = [BucketStats(attempts=40, failures=24, unknown=2, successes=16)] * 60
    w = Window(current=BucketStats(100, 70, 5, 30), buckets=2, history=noisy)
    d = detect(w, P)
    assert not d.attack  # 0.70 < 2 x 0.60 (capped at 0.95)
