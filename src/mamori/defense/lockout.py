"""Temporary locks: per login ID for unrecognized clients, per device for recognized ones.

An attempt is *reserved* before the password is checked: the shell increments the attempt
counter atomically, then asks `judge_attempt`. A reservation past the threshold is refused without
hashing, so concurrent requests cannot slip past the limit. A successful login clears the counter.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.defense.policy import DefensePolicy


@dataclass(frozen=True, slots=True)
class AttemptVerdict:
    allowed: bool
    lock_until: float  # 0.0 when no lock applies
    new_lock: bool  # this attempt started a lock (count it toward repeat doubling)
    extended: bool  # this attempt extended a running lock
    reason: str  # "", "locked", "lock_started", "device_locked", "device_lock_started"


def lock_duration(policy: DefensePolicy, *, locks_in_window: int) -> float:
    """10 min for the first lock, doubled for each repeat within 24 h, capped at 24 h."""
    n = max(1, locks_in_window)
    return float(min(policy.lock_duration * (2 ** (n - 1)), policy.lock_max))


def judge_attempt(
    policy: DefensePolicy,
    *,
    now: float,
    attempts: int,
    lock_until: float,
    locks_in_window: int,
    recognized: bool,
    under_attack: bool = False,
) -> AttemptVerdict:
    """`attempts` already includes this one; `lock_until` is the current deadline (0 = none);
    `locks_in_window` counts earlier locks of this key within the repeat window."""
    if recognized:
        threshold = policy.device_lock_threshold
        if lock_until > now:
            return AttemptVerdict(False, lock_until, False, False, "device_locked")
        if attempts > threshold:
            return AttemptVerdict(
                False, now + policy.device_lock_duration, True, False, "device_lock_started"
            )
        return AttemptVerdict(True, 0.0, False, False, "")
    threshold = policy.under_attack_lock_threshold if under_attack else policy.lock_threshold
    if lock_until > now:
        if policy.lock_extend:
            return AttemptVerdict(
                False, max(lock_until, now + policy.lock_duration), False, True, "locked"
            )
        return AttemptVerdict(False, lock_until, False, False, "locked")
    if attempts > threshold:
        duration = lock_duration(policy, locks_in_window=locks_in_window + 1)
        return AttemptVerdict(False, now + duration, True, False, "lock_started")
    return AttemptVerdict(True, 0.0, False, False, "")
