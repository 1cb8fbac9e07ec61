"""The simulator's accounting on hand-built answer logs: every outcome is counted exactly."""

from __future__ import annotations

from mamori.simulate.outcomes import (
    AttackRecord,
    BanRecord,
    CampaignInfo,
    IncidentRecord,
    LegitRecord,
    LoginRecord,
    MailRecord,
    blocked90,
    campaign_outcome,
    compute,
    legit_outcome,
    wrong_password_classes,
)

INFO = CampaignInfo(
    name="stuff",
    kind="stuffing",
    start=100.0,
    end=400.0,
    sources=("203.0.113.5", "203.0.113.6", "198.51.100.7"),
    networks=("HOSTING-A",),
)


def attack(
    at: float,
    cls: str,
    *,
    user: int = -1,
    valid: bool = False,
    ip: str = "203.0.113.5",
    hashed: bool | None = None,
    takeover: bool = False,
    latency: float = 0.05,
    login_id: str = "",
    campaign: str = "stuff",
) -> AttackRecord:
    reached = cls in ("challenge", "invalid_credentials", "ok", "otp_required")
    return AttackRecord(
        campaign=campaign,
        at=at,
        sent=at - 0.5,
        planned=at - 1.0,
        login_id=login_id or (f"user{user}" if user >= 0 else f"nobody{at}"),
        user=user,
        valid=valid,
        ip=ip,
        cls=cls,
        reached_hash=reached if hashed is None else hashed,
        refused_early=cls in ("too_many_requests", "temporarily_locked", "login_denied", "locked"),
        takeover=takeover,
        latency=latency,
    )


def login(cls: str, *, valid: bool, step: str = "password", actor: str = "legit") -> LoginRecord:
    return LoginRecord(
        actor=actor,
        step=step,
        at=1.0,
        ip="192.0.2.1",
        login_id="x",
        user=0,
        valid=valid,
        cls=cls,
        status=200,
        reached_hash=True,
        refused_early=False,
        session=False,
        latency=0.01,
    )


def outcome(attempts: list[AttackRecord], **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "wrong_classes": {"challenge", "invalid_credentials", "too_many_requests"},
        "bans": (),
        "incidents": (),
        "mails": (),
        "compress": 10.0,
    }
    args.update(kw)
    return campaign_outcome(INFO, attempts, **args)  # type: ignore[arg-type]


def test_same_answer_for_right_and_wrong_confirms_nothing() -> None:
    attempts = [attack(100 + i, "challenge") for i in range(20)]
    attempts += [attack(130 + i, "challenge", user=i, valid=True) for i in range(5)]
    attempts += [attack(140 + i, "too_many_requests", user=9, valid=True) for i in range(3)]
    c = outcome(attempts)
    assert (c.attempts, c.valid_attempts, c.accounts_tried) == (28, 8, 6)
    assert (c.confirmed, c.takeovers, c.oracle_classes) == (0, 0, ())
    assert c.classes == {"challenge": 25, "too_many_requests": 3}
    assert c.valid_classes == {"challenge": 5, "too_many_requests": 3}
    assert (c.reached_hash, c.refused_early) == (25, 3)
    assert abs(c.hash_share - 25 / 28) < 1e-12


def test_an_answer_only_right_passwords_get_confirms_them() -> None:
    # a peer answering "otp_required" only after a right password, 401 otherwise
    attempts = [attack(100 + i, "invalid_credentials") for i in range(10)]
    attempts += [attack(120, "otp_required", user=1, valid=True)]
    attempts += [attack(121, "otp_required", user=1, valid=True)]  # the same account twice
    attempts += [attack(122, "otp_required", user=2, valid=True)]
    attempts += [attack(123, "invalid_credentials", user=3, valid=True, hashed=True)]
    c = outcome(attempts, wrong_classes={"invalid_credentials"})
    assert c.confirmed == 2  # accounts, not attempts
    assert c.oracle_classes == ("otp_required",)
    assert c.takeovers == 0


def test_a_session_is_a_takeover_and_a_confirmation() -> None:
    attempts = [attack(100, "challenge"), attack(101, "ok", user=4, valid=True, takeover=True)]
    attempts += [attack(102, "ok", user=4, valid=True, takeover=True)]
    c = outcome(attempts)
    assert (c.takeovers, c.confirmed, c.oracle_classes) == (1, 1, ("ok",))


def test_wrong_password_classes_come_from_every_wrong_password() -> None:
    records = [
        login("invalid_credentials", valid=False),  # a legitimate typo
        login("challenge", valid=False, actor="stuff"),
        login("ok", valid=True),
        login("temporarily_locked", valid=False, actor="brute"),
        login("code_invalid", valid=True, step="second_step"),
    ]
    assert wrong_password_classes(records) == {
        "invalid_credentials",
        "challenge",
        "temporarily_locked",
    }


def test_detection_is_timed_from_the_first_request() -> None:
    attempts = [attack(110, "challenge"), attack(150, "challenge"), attack(300, "challenge")]
    incidents = [
        IncidentRecord(1, opened=50.0, closed=90.0),  # an earlier attack's
        IncidentRecord(2, opened=160.0, closed=None),
        IncidentRecord(3, opened=200.0, closed=None),
        IncidentRecord(4, opened=300 + 121.0, closed=None),  # too long after the last attempt
    ]
    c = outcome(attempts, incidents=incidents)
    assert c.detected_after == 160.0 - 109.5  # the first request was sent at 109.5
    assert outcome(attempts, incidents=incidents[:1]).detected_after is None


def test_block_times() -> None:
    classes = ["challenge"] * 5 + ["too_many_requests", "challenge"] + ["too_many_requests"] * 18
    attempts = [attack(100 + 10 * i, cls) for i, cls in enumerate(classes)]
    c = outcome(attempts)
    assert c.first_block_after == 150 - 99.5
    # from the 6th attempt on, 19 of 20 were refused (95%)
    assert c.blocked90_after == 150 - 99.5
    # a block that does not hold is not "blocked", nor one among the last few attempts
    leaky = [attack(100 + i, "too_many_requests" if i % 2 else "challenge") for i in range(40)]
    assert blocked90(leaky, 99.5) is None
    late = [attack(100 + i, "challenge") for i in range(36)]
    late += [attack(140 + i, "too_many_requests") for i in range(4)]
    assert blocked90(late, 99.5) is None
    assert blocked90([*late, attack(150, "too_many_requests")], 99.5) == 140 - 99.5
    assert blocked90([attack(100, "challenge")], 99.5) is None


def test_bans_on_the_campaigns_sources_in_its_window() -> None:
    attempts = [attack(100, "challenge"), attack(200, "too_many_requests")]
    bans = [
        BanRecord("ip", "203.0.113.5", "stuffing_ip", "rule", at=120.0),
        BanRecord("ip", "192.0.2.99", "stuffing_ip", "rule", at=120.0),  # not a source
        BanRecord("cidr", "198.51.100.0/24", "stuffing_subnet", "rule", at=130.0),
        BanRecord("cidr", "10.0.0.0/8", "stuffing_subnet", "rule", at=130.0),  # not a source
        BanRecord("network", "HOSTING-A", "stuffing_network", "rule", at=140.0),
        BanRecord("ip", "203.0.113.6", "ip_throttle", "rule", at=10.0),  # before the campaign
        BanRecord("network", "HOSTING-A", "stuffing_network", "rule", at=200 + 121.0),  # too late
    ]
    assert outcome(attempts, bans=bans).bans == {"ip": 1, "cidr": 1, "network": 1}


def test_owners_notified() -> None:
    attempts = [
        attack(110, "challenge", user=1, valid=True),
        attack(120, "challenge", user=2, valid=True),
        attack(130, "challenge", user=3, valid=False),
        attack(140, "challenge", user=4, valid=True),
        attack(150, "challenge"),
    ]
    mails = [
        # an email code naming the attacker's address
        MailRecord(1, at=111.0, kind="login_code", channel="email", ips=("203.0.113.5",)),
        # a text message (no address) right after the attacker's challenge
        MailRecord(2, at=125.0, kind="login_code_sms", channel="sms", ips=()),
        # a text long after (k=10: the window is 20 simulated seconds): the owner's own
        MailRecord(3, at=160.0, kind="login_code_sms", channel="sms", ips=()),
        # the owner's own login code, which the owner used
        MailRecord(4, at=141.0, kind="login_code", channel="sms", ips=(), used_by_owner=True),
        # a message to someone the campaign never tried
        MailRecord(7, at=111.0, kind="login_code", channel="email", ips=("203.0.113.5",)),
        # before the campaign
        MailRecord(1, at=50.0, kind="account_locked", channel="email", ips=("203.0.113.5",)),
    ]
    assert outcome(attempts, mails=mails).owners_notified == 2
    assert outcome(attempts, mails=None).owners_notified is None  # a target with no outbox


def test_timing_medians_compare_right_and_wrong_passwords() -> None:
    attempts = [attack(100 + i, "challenge", latency=0.10 + i / 1000) for i in range(5)]
    attempts += [attack(110, "challenge", user=1, valid=True, latency=0.2)]
    attempts += [attack(111, "too_many_requests", user=2, valid=True, latency=0.001)]
    c = outcome(attempts)
    assert c.latency_valid_ms == 200.0  # the refused one reached no hash: left out
    assert c.latency_invalid_ms == 102.0


def legit(at: float, result: str, *, who: str = "alice", kind: str = "habitual") -> LegitRecord:
    freq = "daily" if who < "m" else "monthly"
    return LegitRecord(at, 0, who, kind, freq, result, 1, "192.0.2.10")


def test_legitimate_friction_and_locks_caused_by_attackers() -> None:
    records = [
        legit(10, "ok"),
        legit(20, "ok", who="bob", kind="typo"),
        legit(30, "challenged", who="carol", kind="new_phone"),
        legit(40, "locked", who="dave"),  # dave's ID was tried at 35: the attacker locked him
        legit(50, "locked", who="erin"),  # tried only later: not the attacker's doing
        legit(60, "blocked", who="zoe", kind="traveler"),
        legit(70, "ok", who="zoe", kind="traveler"),
    ]
    attempts = [
        attack(35, "temporarily_locked", login_id="DAVE"),
        attack(55, "challenge", login_id="erin"),
    ]
    out = legit_outcome(records, attempts)
    assert out.total.logins == 7
    assert out.total.results == {"ok": 3, "challenged": 1, "locked": 2, "blocked": 1}
    assert abs(out.total.share("challenged") - 1 / 7) < 1e-12
    assert out.users_locked_by_attacker == ("dave",)
    assert out.users_blocked_by_attack == ("zoe",)  # refused for a ban once attacks began
    assert out.users_locked_out_by_attacks == ("dave", "zoe")
    assert out.users_locked == ("dave", "erin")
    assert out.users_blocked == ("zoe",)
    # a ban that refused a user before any attack is not an attacker's doing
    early = legit_outcome(records, [attack(65, "challenge", login_id="x")])
    assert early.users_blocked_by_attack == () and early.users_locked_by_attacker == ()
    assert [r.key for r in out.by_type] == ["habitual", "typo", "new_phone", "traveler"]
    assert {r.key: r.logins for r in out.by_type} == {
        "habitual": 3,
        "typo": 1,
        "new_phone": 1,
        "traveler": 2,
    }
    assert {r.key: r.logins for r in out.by_frequency} == {"daily": 5, "monthly": 2}


def test_goals_are_judged_not_assumed() -> None:
    relay = CampaignInfo("relay", "phishing_relay", 0.0, 100.0, ("192.0.2.50",), ())
    infos = [INFO, relay]
    attacks = [
        attack(110, "challenge", user=1, valid=True),
        attack(115, "challenge"),
        *[attack(120 + i, "too_many_requests") for i in range(8)],
        attack(10, "ok", user=2, valid=True, takeover=True, campaign="relay", ip="192.0.2.50"),
    ]
    legit_records = [legit(i, "ok") for i in range(99)] + [legit(200, "challenged")]
    records = [login("challenge", valid=False, actor="stuff")]
    incidents = [IncidentRecord(1, opened=140.0, closed=None)]
    out = compute(infos, attacks, legit_records, records, incidents=incidents, compress=10)
    goals = {g.name: g for g in out.goals}
    assert goals["stuff: zero account takeovers"].met is True
    relay_goal = next(g for g in out.goals if g.name.startswith("relay: account takeovers"))
    assert relay_goal.met is None and relay_goal.value == "1 of 1"  # reported, not judged
    assert goals["stuff: zero credentials confirmed to the attacker"].met is True
    assert goals["under 2% of legitimate logins challenged"].met is True  # 1 of 100
    locked_out = goals["no legitimate user locked out by an attacker"]
    assert locked_out.met is True
    assert locked_out.value.startswith("0 users (0 locked on a login ID")
    detect = goals["stuff: detected and its sources blocked within 60 s"]
    assert detect.met is True, detect  # detected 30.5 s, 90% blocked from 10.5 s
    assert detect.value == "detected 30 s, first block 10 s, 90% blocked 10 s"
    hash_goal = goals["stuff: attacker requests reaching the hash at most 10%"]
    assert hash_goal.met is False and hash_goal.value == "20.0% (2 of 10)"
    # 2 of 100 challenged: the goal is "under 2%"
    out = compute(infos, attacks, [*legit_records[1:], legit(300, "challenged")], records)
    goals = {g.name: g for g in out.goals}
    assert goals["under 2% of legitimate logins challenged"].met is False
    assert goals["stuff: detected and its sources blocked within 60 s"].met is False
