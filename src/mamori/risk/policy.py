"""From a risk assessment and the account's signals to a verdict: allow, step up, or deny.

`decide` applies these rules, first match wins:

    1. banned (the source is banned)                          -> deny      "banned"
    2. has history and score >= deny_threshold                -> deny      "risk_very_high"
    3. mode "off" and no operator requirement                 -> allow     "two_step_off"
    4. any of these                                           -> step_up, with every reason:
         force_two_step (the account is flagged)                   "two_step_required"
         mode "every_login", device not trusted                    "every_login"
         under_attack, client not a recognized device (*)          "under_attack"
         has history and level "high"                              "risk_high"
         has history, level "medium", not a recognized device (**) "risk_medium"
         mode "new_devices", has history, not a recognized device  "new_device"
    5. otherwise                                              -> allow     "risk_low" / "no_history"

A *trusted* device ("don't ask again on this browser") is a recognized device, so only the
operator's flag and a high score step it up.

``strict`` (stricter limits on the second step) is set on a step-up when "under_attack" or
"risk_high" is among its reasons.

Choices worth knowing:

- **No history, no challenge.** While the user has no login to compare with (``has_history``
  False) the score means nothing, so it is ignored: only a ban, the "under attack" state, an
  operator requirement or the "every login" mode challenge such a login.
- **"off" means off.** An account whose owner turned two-step verification off is never stepped
  up by risk or by the "under attack" state, only denied (a ban, a score past the deny
  threshold), unless an operator requires two-step (rule 4 then applies as for any mode).
- (*) **The "under attack" state spares recognized devices** (a device cookie bound to this
  account), like the lockout tiers do: a credential-stuffing wave cannot carry a victim's device
  cookie. ``RiskPolicy.challenge_recognized_under_attack`` challenges them too.
- (**) **"Medium" does not challenge a recognized device.** A known device's factor shrinks
  with the population (see `RiskPolicy`): in a small deployment, logins from the user's own
  browser can score "medium" and would otherwise be challenged every time. A new device is
  stepped up by the "new_devices" mode anyway; "high" still challenges a known device.
- The thresholds are on the score (a likelihood ratio), compared in log10. The defaults come from
  ``bench/risk_quality.py`` (see `RiskPolicy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mamori.errors import ConfigError
from mamori.risk.assessment import Assessment, RiskLevel

__all__ = ["Action", "Mode", "RiskPolicy", "Verdict", "decide"]

Mode = Literal["off", "new_devices", "every_login"]
Action = Literal["allow", "step_up", "deny"]


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """Score thresholds (likelihood ratios): low < medium <= score < high <= score; deny at or
    above ``deny_threshold``.

    Defaults from ``bench/risk_quality.py`` (5,000 synthetic users + 5,000 background, ~240,000
    logins in the tables, device cookie on, no known-device floor), pooled over history sizes
    1-40 (see docs/benchmarks.md):

    - ``medium_threshold`` 0.001: the score that 99% of the *targeted* attacker's logins
      (victim's country, network and browser family; no device cookie) reach is 0.0015, rounded
      down to a decade: 99.4% of targeted, 99.97% of naive and VPN attacker logins are at least
      medium, legitimate logins from a known device are below it (a known device multiplies the
      score by about (N+D+1)/T), and what reaches it is the legitimate logins from a new device
      (5.8% of them; the median user has none).
    - ``high_threshold`` 100: 0.3% of legitimate logins (the highest was 1,300) against 18% of
      the naive attacker's.
    - ``deny_threshold`` 10,000: nearly ten times the highest legitimate score; no attacker of
      the benchmark reached it either, so denial comes from bans in practice.

    The scale depends on the population: a known device's factor grows as T (logins in the
    history window) shrinks, so below some 20,000 logins legitimate logins from known devices
    approach 0.001; re-derive the thresholds from real data when there is some.
    """

    medium_threshold: float = 0.001
    high_threshold: float = 100.0
    deny_threshold: float = 10_000.0
    challenge_recognized_under_attack: bool = False

    def __post_init__(self) -> None:
        values = (self.medium_threshold, self.high_threshold, self.deny_threshold)
        if not all(math.isfinite(v) and v > 0 for v in values) or not (
            self.medium_threshold <= self.high_threshold <= self.deny_threshold
        ):
            raise ConfigError(
                [("risk_thresholds", "need 0 < medium <= high <= deny (finite likelihood ratios)")]
            )

    def level_of(self, log10_score: float) -> RiskLevel:
        """The level of a score given as its log10."""
        if log10_score >= math.log10(self.high_threshold):
            return "high"
        if log10_score >= math.log10(self.medium_threshold):
            return "medium"
        return "low"

    def denies(self, log10_score: float) -> bool:
        return log10_score >= math.log10(self.deny_threshold)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    strict: bool  # a step-up with stricter limits (fewer tries, shorter validity)
    reasons: tuple[str, ...]


def decide(
    assessment: Assessment,
    *,
    policy: RiskPolicy,
    mode: Mode,
    recognized_device: bool,
    under_attack: bool,
    banned: bool,
    has_history: bool,
    force_two_step: bool,
    trusted_device: bool = False,
) -> Verdict:
    """The verdict for one login whose password was right (rules in the module docstring)."""
    if banned:
        return Verdict("deny", False, ("banned",))
    if has_history and policy.denies(assessment.log10_score):
        return Verdict("deny", False, ("risk_very_high",))
    if mode == "off" and not force_two_step:
        return Verdict("allow", False, ("two_step_off",))
    attack = under_attack and (not recognized_device or policy.challenge_recognized_under_attack)
    high = has_history and assessment.level == "high"
    reasons: list[str] = []
    if force_two_step:
        reasons.append("two_step_required")
    if mode == "every_login" and not trusted_device:
        reasons.append("every_login")
    if attack:
        reasons.append("under_attack")
    if high:
        reasons.append("risk_high")
    if has_history and assessment.level == "medium" and not recognized_device:
        reasons.append("risk_medium")
    if mode == "new_devices" and has_history and not recognized_device:
        reasons.append("new_device")
    if reasons:
        return Verdict("step_up", attack or high, tuple(reasons))
    return Verdict("allow", False, ("risk_low",) if has_history else ("no_history",))
