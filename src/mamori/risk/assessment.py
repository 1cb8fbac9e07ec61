"""What the scorer says about one login: the score, its level, and what was new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Assessment", "RiskLevel"]

RiskLevel = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """The risk of one login.

    ``score`` is the likelihood ratio p(attack | login) / p(legit | login) up to the constant
    prior odds (1 = as likely an attacker as the user; the thresholds live in `RiskPolicy`);
    ``log10_score`` is its decimal log, computed first (the model is a sum of log-ratios).
    ``reasons`` names each level whose value the user has never shown ("new_ip", "new_network",
    "new_country", "new_user_agent", "new_browser", "new_os", "new_device_type", "new_device"),
    or is ("no_history",) when the user has no login to compare with. ``factors`` holds each
    feature's ratio ("ip", "ua", "device") and the user prior ("user"): their product is the
    score. ``history`` is N, the user's logins the score compared against.
    """

    score: float
    log10_score: float
    level: RiskLevel
    reasons: tuple[str, ...]
    factors: dict[str, float]
    history: int = 0
