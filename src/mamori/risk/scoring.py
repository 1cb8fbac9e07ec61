"""Freeman et al. (NDSS 2016) risk score, in the form the RBA literature uses (Wiefling et al.).

For user u and login x with features k (ip, ua, device):

    S_u(x) = prod_k  p(x^k) / p(x^k | u, legit)   *   p(u | attack) / p(u | legit)

computed as a sum of log10-ratios (no underflow), with:

- **User prior.** p(u | attack) = 1/U (an attacker picks any user), p(u | legit) = N/T (u's share
  of all logins). N, T and U count as at least 1, so a user without logins (or an empty
  population) has a finite score.
- **Hierarchies, linear interpolation.** Each feature is a hierarchy of levels (see
  `mamori.risk.features`); both its probabilities are mixtures over the levels with the same
  weights: p(x^k | u) = sum_l w_l * p_l(x_l | u) and p(x^k) = sum_l w_l * p_l(x_l). Weights are
  ip 0.6/0.3/0.1 and ua 0.54/0.27/0.19/0.01 as published; the latter sum to 1.01 and are divided
  by their sum, which changes nothing: the same scale multiplies numerator and denominator.
- **Additive smoothing at each level.** For the user, p_l = c/(N+M) for a value seen c times in
  u's N logins and 1/(N+M) for an unseen one, with M = D+1, D being the number of distinct values
  u has shown at that level: one slot is reserved for "a value not seen yet", and the more varied
  the user, the less any single value weighs. (We read the source's "number of distinct values
  of the lower levels + 1" as this level's own distinct values + 1.) The global p_l uses the same
  rule over all logins: G/(T+V+1) for a value seen G times, 1/(T+V+1) for an unseen one, so a
  value nobody has shown never divides by zero.
- **Novelty never lowers risk.** When the user has history (N >= 1) and has shown the value at
  *no* level of a feature (a new device; a new IP, network and country), the feature's ratio is
  at least 4: p(x^k | u) counts as at most p(x^k)/4. The ratio is max(smoothed ratio, 4), so the
  floor only ever raises the score. With N = 0 nothing is compared and no floor applies
  (reasons ("no_history",)); `decide` ignores such scores anyway.
- **The device cookie** is a one-level feature. Its global frequency is its share of all logins,
  G/(T+V+1): a device is used by one user (or a household), so for a known device the ratio is
  about (N+D+1)/(T+V+1), tiny in any real population: a recognized device is strong evidence of
  the user. A login without a cookie (``device_id=None``) or with a cookie the user never used
  is novel, so its ratio is exactly 4 in practice (its global share is ~1/T).
  ``ScoringConfig.known_device_floor`` bounds how far a known device can lower the score, so
  that a stolen cookie cannot cancel a foreign network; it is 0 (none) by default, because in
  ``bench/risk_quality.py`` any floor that catches cookie thieves also raises the legitimate
  known-device logins of users with short histories past the single medium threshold.
  ``use_device=False`` drops the feature (the published model, for comparison).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

from mamori.errors import ConfigError
from mamori.risk.assessment import Assessment
from mamori.risk.features import FEATURES, Feature, Level, LoginFeatures
from mamori.risk.frequencies import FrequencyView, UserKey
from mamori.risk.policy import RiskPolicy

__all__ = ["DEFAULT_SCORING", "REASONS", "ScoringConfig", "score_login"]

REASONS: Final[dict[Level, str]] = {
    "ip": "new_ip",
    "network": "new_network",
    "country": "new_country",
    "ua": "new_user_agent",
    "browser": "new_browser",
    "os": "new_os",
    "device_type": "new_device_type",
    "device": "new_device",
}
"""The reason given when the user has never shown a login's value at a level."""


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    ip_weights: tuple[float, float, float] = (0.6, 0.3, 0.1)
    ua_weights: tuple[float, float, float, float] = (0.54, 0.27, 0.19, 0.01)
    novelty_factor: float = 4.0  # least ratio of a feature whose value is new at every level
    use_device: bool = True  # include the device cookie feature
    known_device_floor: float = 0.0  # least ratio of a device the user has used (0: none)

    def __post_init__(self) -> None:
        weights = (*self.ip_weights, *self.ua_weights)
        if (
            len(self.ip_weights) != len(FEATURES["ip"])
            or len(self.ua_weights) != len(FEATURES["ua"])
            or not all(math.isfinite(w) and w >= 0 for w in weights)
            or sum(self.ip_weights) <= 0
            or sum(self.ua_weights) <= 0
            or not self.novelty_factor >= 1
            or not 0 <= self.known_device_floor <= 1
        ):
            raise ConfigError(
                [("risk_scoring", "weights >= 0 per level, novelty >= 1, 0 <= device floor <= 1")]
            )

    def weights(self, feature: Feature) -> tuple[float, ...]:
        """The feature's interpolation weights, normalized to sum to 1."""
        if feature == "ip":
            return _normalized(self.ip_weights)
        if feature == "ua":
            return _normalized(self.ua_weights)
        return (1.0,)


@functools.lru_cache(maxsize=64)
def _normalized(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(w / total for w in weights)


DEFAULT_SCORING: Final = ScoringConfig()


def _slices() -> dict[Feature, slice]:
    """Each feature's slice of `LoginFeatures.values` (in `LEVELS` order: FEATURES flattened)."""
    out: dict[Feature, slice] = {}
    start = 0
    for feature, levels in FEATURES.items():
        out[feature] = slice(start, start + len(levels))
        start += len(levels)
    return out


_SLICES: Final = _slices()


def _feature_ratio(
    view: FrequencyView,
    *,
    user: UserKey,
    pairs: tuple[tuple[Level, str | None], ...],
    weights: tuple[float, ...],
    n: int,
    t: int,
    new: list[Level],
) -> tuple[float, bool]:
    """(p(x^k) / p(x^k | u), whether the user has shown the value at no level)."""
    p_global = p_user = 0.0
    unseen = 0
    for (level, value), weight in zip(pairs, weights, strict=True):
        c = g = 0
        if value is not None:
            c = view.user_count(user, level, value)
            g = view.global_count(level, value)
        if c == 0:
            unseen += 1
            new.append(level)
        p_user += weight * max(c, 1) / (n + view.user_distinct(user, level) + 1)
        p_global += weight * max(g, 1) / (t + view.global_distinct(level) + 1)
    return p_global / p_user, unseen == len(pairs)


def score_login(
    view: FrequencyView,
    *,
    user: UserKey,
    features: LoginFeatures,
    policy: RiskPolicy,
    config: ScoringConfig = DEFAULT_SCORING,
) -> Assessment:
    """Score one login of ``user`` against the counts in ``view`` (its history excludes it)."""
    n = view.user_logins(user)
    t = view.global_logins()
    users = view.user_total()
    factors: dict[str, float] = {}
    new: list[Level] = []
    log10_score = 0.0
    values = features.values()
    for feature in FEATURES:
        if feature == "device" and not config.use_device:
            continue
        ratio, novel = _feature_ratio(
            view,
            user=user,
            pairs=values[_SLICES[feature]],
            weights=config.weights(feature),
            n=n,
            t=t,
            new=new,
        )
        if n > 0 and novel:
            ratio = max(ratio, config.novelty_factor)
        elif feature == "device" and n > 0:
            ratio = max(ratio, config.known_device_floor)
        factors[feature] = ratio
        log10_score += math.log10(ratio)
    prior = max(t, 1) / (max(users, 1) * max(n, 1))
    factors["user"] = prior
    log10_score += math.log10(prior)
    reasons = tuple(REASONS[level] for level in new) if n > 0 else ("no_history",)
    return Assessment(
        score=10.0**log10_score if log10_score < 300 else math.inf,
        log10_score=log10_score,
        level=policy.level_of(log10_score),
        reasons=reasons,
        factors=factors,
        history=n,
    )
