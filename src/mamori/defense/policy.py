"""The thresholds every defense decision uses, built from Settings by the shell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DefensePolicy:
    # per-account lock (unrecognized clients), counted per normalized submitted login ID
    lock_threshold: int = 5
    lock_window: float = 15 * 60
    lock_duration: float = 10 * 60
    lock_extend: bool = True  # an attempt during the lock extends it (Yahoo! JAPAN)
    lock_max: float = 24 * 3600
    lock_repeat_window: float = 24 * 3600  # repeated locks within this double the duration
    # recognized devices (device cookie bound to the account) have their own counter
    device_lock_threshold: int = 10
    device_lock_window: float = 15 * 60
    device_lock_duration: float = 10 * 60
    # one IP
    ip_fail_threshold: int = 20
    ip_fail_window: float = 10 * 60
    ip_throttle: float = 15 * 60
    ip_distinct_threshold: int = 100
    ip_distinct_window: float = 24 * 3600
    ip_block: float = 24 * 3600
    # subnets (/24, /64) and networks (AS) relative to their own baseline
    subnet_min_failures: int = 30
    network_min_failures: int = 100
    source_rate_factor: float = 10.0
    source_block: float = 60 * 60
    source_block_max: float = 7 * 24 * 3600
    # credential-stuffing detector over the global stream
    bucket_seconds: float = 60.0
    history_buckets: int = 60
    min_failures: int = 30
    failure_ratio: float = 0.5
    unknown_share: float = 0.3
    rate_factor: float = 5.0
    ua_concentration: float = 0.5
    attack_ip_min_failures: int = 3
    attack_subnet_min_failures: int = 5
    attack_network_min_failures: int = 20
    attack_source_failure_ratio: float = 0.8
    under_attack: float = 15 * 60
    # stricter answers to unrecognized clients while under attack
    under_attack_lock_threshold: int = 3
    under_attack_ip_fail_threshold: int = 5
    # enforce, or only record what would have been blocked
    monitor_only: bool = False
