"""The pure risk engine: features, frequency counters, the Freeman-style score, the decision.

(The purity of `mamori.risk` is checked by tests/test_defense_engine.py.)
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

import pytest

from mamori.errors import ConfigError
from mamori.risk.assessment import Assessment, RiskLevel
from mamori.risk.features import FEATURES, LEVELS, Feature, LoginFeatures, network_key
from mamori.risk.frequencies import FrequencySnapshot, MemoryFrequencies, UserKey
from mamori.risk.policy import Mode, RiskPolicy, Verdict, decide
from mamori.risk.scoring import ScoringConfig, score_login

POLICY = RiskPolicy()


def login(
    ip: str = "10.0.0.1",
    network: str = "AS100",
    country: str = "JP",
    ua: str = "UA-iphone",
    browser: str = "Mobile Safari 17",
    os: str = "iOS 17.5",
    device_type: str = "mobile",
    device_id: str | None = "dev-hana",
) -> LoginFeatures:
    return LoginFeatures(ip, network, country, ua, browser, os, device_type, device_id)


# ---- features ---------------------------------------------------------------------------------


def test_features_levels_and_builders() -> None:
    x = LoginFeatures.of(
        ip="203.0.113.9",
        network=network_key(asn=2516, as_name="KDDI", network="203.0.113.0/24"),
        country="JP",
        ua="Mozilla/5.0 ...",
        browser="Chrome",
        browser_version="131.0",
        os="Windows",
        os_version="10",
        device_type="desktop",
        device_id=None,
    )
    assert (x.network, x.browser, x.os) == ("AS2516", "Chrome 131", "Windows 10")
    assert [level for level, _ in x.values()] == list(LEVELS)
    assert [x.value(level) for level in LEVELS] == [v for _, v in x.values()]
    assert tuple(level for levels in FEATURES.values() for level in levels) == LEVELS
    assert network_key(asn=None, as_name="KDDI", network="203.0.113.0/24") == "KDDI"
    assert network_key(asn=None, network="203.0.113.0/24") == "203.0.113.0/24"
    bare = LoginFeatures.of(
        ip="",
        network="",
        country="",
        ua="",
        browser="Other",
        browser_version="",
        os="Other",
        os_version="",
        device_type="other",
        device_id="d",
    )
    assert (bare.browser, bare.os) == ("Other", "Other")


# ---- the hand-computed example ------------------------------------------------------------------
#
# Population (T = 4 logins, U = 2 users):
#   alice  A1, A1, A3 with A1 = (1.1.1.1, AS1, JP, UA-a, Chrome 131, Windows 10, desktop, d1)
#                          A3 = A1 with ip 1.1.1.2
#   bob    B1 = (2.2.2.2, AS2, US, UA-b, Mobile Safari 17, iOS 17.5, mobile, d2)
# Global counts G (distinct V): ip 1.1.1.1:2 1.1.1.2:1 2.2.2.2:1 (V=3); every other level has
# alice's value 3 times and bob's once (V=2). Alice: N = 3; distinct D: ip 2, all others 1.
# Smoothing: user p = c/(N+D+1) (unseen: 1/(N+D+1)); global p = G/(T+V+1) (unseen: 1/(T+V+1)).
#   alice's N+D+1: ip 6, others 5.     global T+V+1: ip 8, others 7.
# User prior: p(u|attack)/p(u|legit) = (1/U)/(N/T) = T/(U N) = 4/6 = 2/3.


def hand_population() -> MemoryFrequencies:
    a1 = LoginFeatures("1.1.1.1", "AS1", "JP", "UA-a", "Chrome 131", "Windows 10", "desktop", "d1")
    b1 = LoginFeatures(
        "2.2.2.2", "AS2", "US", "UA-b", "Mobile Safari 17", "iOS 17.5", "mobile", "d2"
    )
    frequencies = MemoryFrequencies()
    for features in (a1, a1, replace(a1, ip="1.1.1.2")):
        frequencies.add("alice", features)
    frequencies.add("bob", b1)
    return frequencies


A1 = LoginFeatures("1.1.1.1", "AS1", "JP", "UA-a", "Chrome 131", "Windows 10", "desktop", "d1")

HAND_CASES = [
    (
        # Alice again as A1.
        # ip:  P_u = .6*2/6 + .3*3/5 + .1*3/5 = 0.44 = 11/25
        #      P_g = .6*2/8 + .3*3/7 + .1*3/7 = 3/20 + 6/35 = 9/28   -> ratio 225/308
        # ua:  every level seen 3 times: P_u = w*3/5, P_g = w*3/7     -> ratio 5/7
        #      (the weights' sum cancels, 1.01 or 1)
        # device d1: 3/5 vs 3/7                                        -> ratio 5/7
        # S = 225/308 * 5/7 * 5/7 * 2/3 = 11250/45276 = 1875/7546 ~ 0.2485
        "familiar",
        A1,
        Fraction(1875, 7546),
        {"ip": Fraction(225, 308), "ua": Fraction(5, 7), "device": Fraction(5, 7)},
        (),
    ),
    (
        # A new address in her network: ip unseen (1/6 vs 1/8), network and country as above.
        # ip:  P_u = .6/6 + .3*3/5 + .1*3/5 = 17/50;  P_g = .6/8 + .4*3/7 = 69/280
        #      ratio = 69*50 / (280*17) = 345/476
        # S = 345/476 * 5/7 * 5/7 * 2/3 = 17250/69972 = 2875/11662 ~ 0.2465
        # (slightly *below* "familiar": 1.1.1.1 is half of all logins, so seeing it is weak
        # evidence. Novelty at some levels only has no floor; see the property test.)
        "new ip, same network",
        replace(A1, ip="1.1.1.3"),
        Fraction(2875, 11662),
        {"ip": Fraction(345, 476), "ua": Fraction(5, 7), "device": Fraction(5, 7)},
        ("new_ip",),
    ),
    (
        # Bob's phone from Korea, no device cookie: nothing alice has ever shown.
        # ip:  P_u = .6/6 + .3/5 + .1/5 = 9/50; P_g = .6/8 + .4/7 = 37/280 -> 185/252 < 4 -> 4
        # ua:  bob's values, G = 1 each: P_u = w/5, P_g = w/7 -> 5/7 < 4 -> 4
        # device None: 1/5 vs 1/7 -> 5/7 < 4 -> 4
        # S = 4 * 4 * 4 * 2/3 = 128/3 ~ 42.67
        "new everything",
        LoginFeatures(
            "9.9.9.9", "AS9", "KR", "UA-b", "Mobile Safari 17", "iOS 17.5", "mobile", None
        ),
        Fraction(128, 3),
        {"ip": Fraction(4), "ua": Fraction(4), "device": Fraction(4)},
        (
            "new_ip",
            "new_network",
            "new_country",
            "new_user_agent",
            "new_browser",
            "new_os",
            "new_device_type",
            "new_device",
        ),
    ),
]


@pytest.mark.parametrize(
    ("features", "expected", "factors", "reasons"),
    [case[1:] for case in HAND_CASES],
    ids=[case[0] for case in HAND_CASES],
)
def test_hand_computed_example(
    features: LoginFeatures,
    expected: Fraction,
    factors: dict[str, Fraction],
    reasons: tuple[str, ...],
) -> None:
    a = score_login(hand_population(), user="alice", features=features, policy=POLICY)
    assert a.score == pytest.approx(float(expected), rel=1e-9, abs=1e-12)
    assert a.log10_score == pytest.approx(math.log10(expected), abs=1e-9)
    for name, value in factors.items():
        assert a.factors[name] == pytest.approx(float(value), rel=1e-9)
    assert a.factors["user"] == pytest.approx(2 / 3, rel=1e-9)
    assert a.reasons == reasons
    assert a.history == 3


def test_weights_scale_cancels() -> None:
    """The published ua weights sum to 1.01; any common scale gives the same score."""
    f = hand_population()
    x = replace(A1, ua="UA-new", os="Linux")
    raw = ScoringConfig(ua_weights=(0.54, 0.27, 0.19, 0.01))
    scaled = ScoringConfig(ua_weights=(54.0, 27.0, 19.0, 1.0), ip_weights=(6.0, 3.0, 1.0))
    first = score_login(f, user="alice", features=x, policy=POLICY, config=raw)
    second = score_login(f, user="alice", features=x, policy=POLICY, config=scaled)
    assert first.log10_score == pytest.approx(second.log10_score, abs=1e-12)


# ---- table-driven scorer tests ------------------------------------------------------------------


def table_population() -> MemoryFrequencies:
    """hana: 10 logins on her iPhone at home (two addresses); 20 others on Windows Chrome."""
    f = MemoryFrequencies()
    for i in range(10):
        f.add("hana", login(ip="10.0.0.1" if i < 8 else "10.0.0.2"))
    for u in range(20):
        for i in range(5):
            f.add(
                f"u{u}",
                LoginFeatures(
                    f"10.{u}.1.{i % 2}",
                    "AS100" if u % 2 else "AS200",
                    "JP" if u < 17 else "US",
                    "UA-win-chrome",
                    "Chrome 131",
                    "Windows 10",
                    "desktop",
                    f"dev-{u}",
                ),
            )
    return f


LAPTOP = {
    "ua": "UA-win-chrome",
    "browser": "Chrome 131",
    "os": "Windows 10",
    "device_type": "desktop",
}
ALL_NEW = (
    "new_ip",
    "new_network",
    "new_country",
    "new_user_agent",
    "new_browser",
    "new_os",
    "new_device_type",
    "new_device",
)

# A population of 110 logins: a known device weighs ~0.09 here (about (N+D+1)/T), not ~1e-4 as
# in the benchmark's 240,000, so the table uses thresholds for this scale.
TABLE_POLICY = RiskPolicy(medium_threshold=0.01, high_threshold=20.0, deny_threshold=1e4)

SCORER_TABLE: list[tuple[str, LoginFeatures, tuple[str, ...], RiskLevel, dict[str, float]]] = [
    # (case, login, reasons, level, least factors)
    ("home, own phone", login(), (), "low", {}),
    ("new address at home", login(ip="10.0.0.9"), ("new_ip",), "low", {}),
    (
        "carrier network",
        login(ip="10.9.9.9", network="AS300"),
        ("new_ip", "new_network"),
        "low",
        {},
    ),
    ("cookies cleared", login(device_id=None), ("new_device",), "medium", {"device": 4.0}),
    (
        "new laptop at home",
        login(device_id="dev-new", **LAPTOP),
        ("new_user_agent", "new_browser", "new_os", "new_device_type", "new_device"),
        "medium",
        {"ua": 4.0, "device": 4.0},
    ),
    (
        "abroad, unknown everything",
        LoginFeatures(
            "198.51.100.1", "AS999", "BR", "UA-x", "Firefox 130", "Linux", "desktop", None
        ),
        ALL_NEW,
        "high",
        {"ip": 4.0, "ua": 4.0, "device": 4.0},
    ),
]


@pytest.mark.parametrize(
    ("features", "reasons", "level", "least"),
    [row[1:] for row in SCORER_TABLE],
    ids=[row[0] for row in SCORER_TABLE],
)
def test_scorer_table(
    features: LoginFeatures,
    reasons: tuple[str, ...],
    level: RiskLevel,
    least: dict[str, float],
) -> None:
    f = table_population()
    a = score_login(f, user="hana", features=features, policy=TABLE_POLICY)
    assert a.reasons == reasons
    assert a.level == level
    for name, bound in least.items():
        assert a.factors[name] >= bound
    assert a.score == pytest.approx(10**a.log10_score)
    assert a.score == pytest.approx(math.prod(a.factors.values()))


def test_known_device_weighs_tiny_and_floor_bounds_it() -> None:
    f = table_population()
    a = score_login(f, user="hana", features=login(), policy=POLICY)
    # d = 10/110 globally (+smoothing) over 10/12 for hana: about 0.11
    assert a.factors["device"] == pytest.approx((10 / (110 + 21 + 1)) / (10 / 12))
    floored = ScoringConfig(known_device_floor=0.5)
    b = score_login(f, user="hana", features=login(), policy=POLICY, config=floored)
    assert b.factors["device"] == 0.5
    # the floor never touches a new device
    c = score_login(f, user="hana", features=login(device_id=None), policy=POLICY, config=floored)
    assert c.factors["device"] == 4.0


def test_no_history_and_empty_population() -> None:
    empty = MemoryFrequencies()
    a = score_login(empty, user="nobody", features=login(), policy=POLICY)
    assert a.reasons == ("no_history",)
    assert a.history == 0
    assert math.isfinite(a.log10_score)
    f = table_population()
    b = score_login(f, user="newcomer", features=login(device_id=None), policy=POLICY)
    assert b.reasons == ("no_history",)
    assert all(v <= 1 for k, v in b.factors.items() if k != "user")  # no novelty floor at N=0


def test_without_device_feature_is_the_score_minus_the_device_factor() -> None:
    """bench/risk_quality.py derives the published model's score this way."""
    f = table_population()
    for features in (login(), login(device_id=None), login(ip="1.2.3.4", network="AS7")):
        with_device = score_login(f, user="hana", features=features, policy=POLICY)
        without = score_login(
            f, user="hana", features=features, policy=POLICY, config=ScoringConfig(use_device=False)
        )
        assert "device" not in without.factors
        assert "new_device" not in without.reasons
        assert without.log10_score == pytest.approx(
            with_device.log10_score - math.log10(with_device.factors["device"]), abs=1e-12
        )


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        ScoringConfig(novelty_factor=0.5)
    with pytest.raises(ConfigError):
        ScoringConfig(ip_weights=(0.0, 0.0, 0.0))
    with pytest.raises(ConfigError):
        ScoringConfig(known_device_floor=2.0)
    with pytest.raises(ConfigError):
        RiskPolicy(medium_threshold=10.0, high_threshold=1.0)
    with pytest.raises(ConfigError):
        RiskPolicy(medium_threshold=0.0)
    with pytest.raises(ConfigError):
        RiskPolicy(deny_threshold=math.inf)


# ---- random populations: novelty never lowers risk; snapshots; counters --------------------------


def random_login(rng: random.Random, *, spread: int = 3) -> LoginFeatures:
    """Values from small pools, so that users share some and not others."""
    return LoginFeatures(
        ip=f"ip{rng.randrange(4 * spread)}",
        network=f"net{rng.randrange(2 * spread)}",
        country=f"c{rng.randrange(spread)}",
        ua=f"ua{rng.randrange(4 * spread)}",
        browser=f"b{rng.randrange(2 * spread)}",
        os=f"os{rng.randrange(spread)}",
        device_type=rng.choice(("desktop", "mobile", "tablet")),
        device_id=rng.choice((None, f"d{rng.randrange(3 * spread)}")),
    )


def random_history(rng: random.Random) -> list[tuple[UserKey, LoginFeatures]]:
    users = rng.randint(1, 6)
    return [
        (f"u{rng.randrange(users)}", random_login(rng, spread=rng.randint(1, 4)))
        for _ in range(rng.randint(1, 40))
    ]


def fresh(features: LoginFeatures, feature: Feature, tag: str) -> LoginFeatures:
    """The login with every level of one feature replaced by values nobody has shown."""
    if feature == "ip":
        return replace(features, ip=f"{tag}-ip", network=f"{tag}-net", country=f"{tag}-c")
    if feature == "ua":
        return replace(
            features, ua=f"{tag}-ua", browser=f"{tag}-b", os=f"{tag}-os", device_type=f"{tag}-t"
        )
    return replace(features, device_id=rng_free_device(tag))


def rng_free_device(tag: str) -> str | None:
    """A new device: no cookie, or a cookie nobody has used (alternating)."""
    return None if int(tag) % 2 else f"{tag}-device"


def test_novelty_never_lowers_risk() -> None:
    """A feature whose value the user never showed, at any level, weighs at least 4 and at least
    its smoothed ratio; so replacing any feature of any login by a value new to the user never
    gives a score below 4 x the score of the login without that feature.

    (A value new at *some* levels only has no floor: a new address in a familiar network may
    score below a familiar address that half the population shares, as in the hand-computed
    example. The model is a likelihood ratio, and that is what it says.)
    """
    rng = random.Random(20240601)
    raw_config = ScoringConfig(novelty_factor=1.0)
    checked = 0
    for case in range(400):
        history = random_history(rng)
        f = MemoryFrequencies.from_logins(history)
        user = rng.choice(history)[0]
        base = random_login(rng, spread=rng.randint(1, 5))
        for feature in FEATURES:
            for candidate in (base, fresh(base, feature, str(case))):
                a = score_login(f, user=user, features=candidate, policy=POLICY)
                raw = score_login(
                    f, user=user, features=candidate, policy=POLICY, config=raw_config
                )
                novel = all(
                    value is None or f.user_count(user, level, value) == 0
                    for level, value in candidate.values()
                    if level in FEATURES[feature]
                )
                if not novel:
                    assert a.factors[feature] == raw.factors[feature]
                    continue
                checked += 1
                assert a.factors[feature] >= 4.0
                assert a.factors[feature] == max(4.0, raw.factors[feature])
                others = sum(math.log10(v) for k, v in a.factors.items() if k != feature)
                assert a.log10_score >= others + math.log10(4.0) - 1e-12
                assert a.log10_score >= raw.log10_score - 1e-12
    assert checked > 400


def test_snapshot_scores_like_the_view() -> None:
    rng = random.Random(7)
    for _ in range(100):
        history = random_history(rng)
        f = MemoryFrequencies.from_logins(history)
        user = rng.choice(history)[0]
        x = random_login(rng)
        snapshot = FrequencySnapshot.capture(f, user=user, features=x)
        assert score_login(snapshot, user=user, features=x, policy=POLICY) == score_login(
            f, user=user, features=x, policy=POLICY
        )
    with pytest.raises(KeyError):
        snapshot.user_logins("someone else")


def test_incremental_add_equals_recomputation() -> None:
    rng = random.Random(11)
    for _ in range(50):
        history = random_history(rng)
        incremental = MemoryFrequencies()
        for user, features in history:
            incremental.add(user, features)
            # the counters after each add are those of the history so far
        shuffled = history[:]
        rng.shuffle(shuffled)
        assert incremental.state() == MemoryFrequencies.from_logins(shuffled).state()
        # distinct counters agree with the counts
        for user in {u for u, _ in history}:
            for level in LEVELS:
                shown = {x.value(level) for u, x in history if u == user} - {None}
                assert incremental.user_distinct(user, level) == len(shown)
        for level in LEVELS:
            shown = {x.value(level) for _, x in history} - {None}
            assert incremental.global_distinct(level) == len(shown)
        assert incremental.global_logins() == len(history)
        assert incremental.user_total() == len({u for u, _ in history})


def test_remove_is_the_inverse_of_add() -> None:
    rng = random.Random(13)
    for _ in range(50):
        history = random_history(rng)
        f = MemoryFrequencies.from_logins(history)
        kept = history[:]
        rng.shuffle(kept)
        dropped = kept[: rng.randint(0, len(kept))]
        kept = kept[len(dropped) :]
        for user, features in dropped:
            f.remove(user, features)
        assert f.state() == MemoryFrequencies.from_logins(kept).state()
    f = hand_population()
    before = f.state()
    with pytest.raises(KeyError):
        f.remove("alice", replace(A1, ip="7.7.7.7"))
    assert f.state() == before


# ---- the decision -------------------------------------------------------------------------------


def assessment(log10_score: float) -> Assessment:
    return Assessment(
        score=10**log10_score,
        log10_score=log10_score,
        level=POLICY.level_of(log10_score),
        reasons=(),
        factors={},
        history=5,
    )


LOW, MEDIUM, HIGH, VERY_HIGH = -4.0, 0.0, 2.5, 5.0
Row = tuple[str, float, Mode, bool, bool, bool, bool, bool, Verdict]
# (case, log10 score, mode, recognized, under_attack, banned, has_history, force) -> verdict
DECISIONS: list[Row] = [
    ("banned", LOW, "new_devices", True, False, True, True, False,
     Verdict("deny", False, ("banned",))),
    ("banned, mode off, no history", LOW, "off", True, False, True, False, False,
     Verdict("deny", False, ("banned",))),
    ("very high", VERY_HIGH, "new_devices", True, False, False, True, False,
     Verdict("deny", False, ("risk_very_high",))),
    ("very high, mode off", VERY_HIGH, "off", True, False, False, True, False,
     Verdict("deny", False, ("risk_very_high",))),
    ("very high without history is ignored", VERY_HIGH, "new_devices", False, False, False,
     False, False, Verdict("allow", False, ("no_history",))),
    ("low, recognized", LOW, "new_devices", True, False, False, True, False,
     Verdict("allow", False, ("risk_low",))),
    ("low, new device", LOW, "new_devices", False, False, False, True, False,
     Verdict("step_up", False, ("new_device",))),
    ("medium, recognized (small populations)", MEDIUM, "new_devices", True, False, False, True,
     False, Verdict("allow", False, ("risk_low",))),
    ("medium, new device", MEDIUM, "new_devices", False, False, False, True, False,
     Verdict("step_up", False, ("risk_medium", "new_device"))),
    ("high, recognized", HIGH, "new_devices", True, False, False, True, False,
     Verdict("step_up", True, ("risk_high",))),
    ("every login, low", LOW, "every_login", True, False, False, True, False,
     Verdict("step_up", False, ("every_login",))),
    ("every login, high", HIGH, "every_login", True, False, False, True, False,
     Verdict("step_up", True, ("every_login", "risk_high"))),
    ("every login, no history", LOW, "every_login", False, False, False, False, False,
     Verdict("step_up", False, ("every_login",))),
    ("off, high", HIGH, "off", False, False, False, True, False,
     Verdict("allow", False, ("two_step_off",))),
    ("off, under attack", LOW, "off", False, True, False, True, False,
     Verdict("allow", False, ("two_step_off",))),
    ("off, operator requires two-step", LOW, "off", True, False, False, True, True,
     Verdict("step_up", False, ("two_step_required",))),
    ("operator requires two-step, no history", LOW, "new_devices", True, False, False, False,
     True, Verdict("step_up", False, ("two_step_required",))),
    ("under attack, new device", LOW, "new_devices", False, True, False, True, False,
     Verdict("step_up", True, ("under_attack", "new_device"))),
    ("under attack spares a recognized device", LOW, "new_devices", True, True, False, True,
     False, Verdict("allow", False, ("risk_low",))),
    ("under attack, no history", LOW, "new_devices", False, True, False, False, False,
     Verdict("step_up", True, ("under_attack",))),
    ("no history, new device", LOW, "new_devices", False, False, False, False, False,
     Verdict("allow", False, ("no_history",))),
    ("no history, high score", HIGH, "new_devices", False, False, False, False, False,
     Verdict("allow", False, ("no_history",))),
]  # fmt: skip


@pytest.mark.parametrize("row", DECISIONS, ids=[row[0] for row in DECISIONS])
def test_decision_table(row: Row) -> None:
    _, score, mode, recognized, attack, banned, history, force, expected = row
    verdict = decide(
        assessment(score),
        policy=POLICY,
        mode=mode,
        recognized_device=recognized,
        under_attack=attack,
        banned=banned,
        has_history=history,
        force_two_step=force,
    )
    assert verdict == expected


def test_under_attack_can_challenge_recognized_devices() -> None:
    policy = RiskPolicy(challenge_recognized_under_attack=True)
    verdict = decide(
        assessment(LOW),
        policy=policy,
        mode="new_devices",
        recognized_device=True,
        under_attack=True,
        banned=False,
        has_history=True,
        force_two_step=False,
    )
    assert verdict == Verdict("step_up", True, ("under_attack",))


TRUSTED: list[tuple[str, float, Mode, bool, Verdict]] = [
    ("every login, trusted", LOW, "every_login", False, Verdict("allow", False, ("risk_low",))),
    ("medium, trusted", MEDIUM, "every_login", False, Verdict("allow", False, ("risk_low",))),
    ("high, trusted", HIGH, "new_devices", False, Verdict("step_up", True, ("risk_high",))),
    ("flagged, trusted", LOW, "new_devices", True,
     Verdict("step_up", False, ("two_step_required",))),
    ("very high, trusted", VERY_HIGH, "new_devices", False,
     Verdict("deny", False, ("risk_very_high",))),
]  # fmt: skip


@pytest.mark.parametrize("row", TRUSTED, ids=[row[0] for row in TRUSTED])
def test_trusted_device_skips_all_but_high_risk_and_the_flag(
    row: tuple[str, float, Mode, bool, Verdict],
) -> None:
    _, score, mode, force, expected = row
    verdict = decide(
        assessment(score),
        policy=POLICY,
        mode=mode,
        recognized_device=True,
        under_attack=True,
        banned=False,
        has_history=True,
        force_two_step=force,
        trusted_device=True,
    )
    assert verdict == expected


def test_levels_at_the_thresholds() -> None:
    policy = RiskPolicy(medium_threshold=1.0, high_threshold=100.0, deny_threshold=1e6)
    assert policy.level_of(-1e-9) == "low"
    assert policy.level_of(0.0) == "medium"
    assert policy.level_of(2.0) == "high"
    assert not policy.denies(5.999)
    assert policy.denies(6.0)
    assert (POLICY.level_of(LOW), POLICY.level_of(MEDIUM), POLICY.level_of(HIGH)) == (
        "low",
        "medium",
        "high",
    )
