"""The accounting: from what the simulator saw (every answer, the operator API's bans and
incidents, the outbox) to the outcomes of each campaign and the friction of the population.
Pure: records in, numbers out. Times are simulated seconds from the run's start.

Definitions (docs/simulate.md has the long form):
- takeover: an attacker got a session (the answer set one and `GET /me` then answered 200).
- credentials confirmed: a valid pair (the user's current password) whose answer class is one
  the server never gave to a wrong password anywhere in the run (attackers', legitimate users'
  and the runner's three probes' wrong passwords alike). Counted per account.
- reached the hash: the answer class proves the password was checked (target-specific:
  `Target.reached_hash`); refused early: banned, locked or denied before any hashing.
- detected: the first incident the detector opened from the campaign's start to 120 s after
  its end (operator API). First block: the first of the campaign's attempts refused because its
  source was banned (`too_many_requests`). Blocked (90%): the earliest moment from which at least
  90% of the campaign's attempts were refused that way.
- legitimate friction: each legitimate login (a whole flow: typo, reset, second step) ends
  `ok` (no second step), `challenged` (a second step, passed or not), `locked`, `blocked`,
  `denied`, `shed`, `reset_required` or `failed`. A user is "locked out by an attacker" when a
  login answered `temporarily_locked`/`locked` on a login ID some campaign had tried before, or
  was refused for a banned source (`blocked`) after the first campaign began: only attacks make
  bans in a run.
- owners notified: of the accounts a campaign tried, those that received a message caused by
  the campaign: one naming a campaign address (codes and notices by email carry the IP), or a
  text message (no IP in SMS) within `2 * compress` simulated seconds after a campaign attempt
  on that account was challenged, and not used by the owner.
"""

from __future__ import annotations

import ipaddress
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DETECTION_SLACK = 120.0  # simulated seconds after a campaign's end still credited to it
GOAL_CHALLENGED_SHARE = 0.02
GOAL_DETECT_SECONDS = 60.0
GOAL_HASH_SHARE = 0.10  # our reading of "a small share of the attack"
VOLUME_KINDS = ("brute_force", "spraying", "stuffing")
LOCK_CLASSES = ("temporarily_locked", "locked")
BAN_CLASS = "too_many_requests"
LEGIT_RESULTS = (
    "ok",
    "challenged",
    "locked",
    "blocked",
    "denied",
    "shed",
    "reset_required",
    "failed",
)


# ---- what the runner records ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """One request to a login endpoint: the password step or a second-step code."""

    actor: str  # "legit" or the campaign's name
    step: str  # "password" | "second_step"
    at: float
    ip: str
    login_id: str
    user: int  # the population's index, -1 for a login ID that does not exist
    valid: bool  # password step: the user's current password
    cls: str
    status: int
    reached_hash: bool
    refused_early: bool
    session: bool
    latency: float  # real seconds


@dataclass(frozen=True, slots=True)
class AttackRecord:
    """One attack attempt with its follow-ups (relayed or guessed codes) folded in."""

    campaign: str
    at: float  # when the answer came
    sent: float  # when the request was handed to the connection pool
    planned: float
    login_id: str
    user: int
    valid: bool
    ip: str
    cls: str  # the password step's answer
    reached_hash: bool
    refused_early: bool
    second_cls: str = ""  # the last second-step answer ("" when none was tried)
    takeover: bool = False
    latency: float = 0.0


@dataclass(frozen=True, slots=True)
class LegitRecord:
    at: float
    user: int
    login_id: str
    user_type: str  # habitual | typo | forgot | new_phone | traveler
    frequency: str
    result: str  # one of LEGIT_RESULTS
    requests: int
    ip: str


@dataclass(frozen=True, slots=True)
class BanRecord:
    kind: str  # ip | cidr | network
    value: str
    reason: str
    origin: str
    at: float  # created (server time -> simulated)


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    id: int
    opened: float
    closed: float | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailRecord:
    user: int
    at: float
    kind: str
    channel: str
    ips: tuple[str, ...]
    used_by_owner: bool = False


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    name: str
    kind: str
    start: float
    end: float
    sources: tuple[str, ...]
    networks: tuple[str, ...]  # AS names of the sources


# ---- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignOutcome:
    name: str
    kind: str
    attempts: int
    valid_attempts: int
    accounts_tried: int  # existing accounts whose login ID the campaign tried
    takeovers: int  # accounts the attacker got a session on
    confirmed: int  # accounts whose valid password the answers confirmed
    oracle_classes: tuple[str, ...]  # answer classes only valid pairs received
    classes: dict[str, int]  # the password step's answer classes
    valid_classes: dict[str, int]
    reached_hash: int
    refused_early: int
    shed: int
    detected_after: float | None  # simulated seconds from the campaign's start
    first_block_after: float | None
    blocked90_after: float | None
    bans: dict[str, int]  # bans on the campaign's sources, by kind
    owners_notified: int | None  # None: the target has no outbox to tell
    latency_valid_ms: float | None  # median answer time, valid pairs
    latency_invalid_ms: float | None  # median answer time, wrong pairs

    @property
    def hash_share(self) -> float:
        return self.reached_hash / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class FrictionRow:
    key: str
    logins: int
    results: dict[str, int]

    def count(self, result: str) -> int:
        return self.results.get(result, 0)

    def share(self, result: str) -> float:
        return self.count(result) / self.logins if self.logins else 0.0


@dataclass(frozen=True, slots=True)
class LegitOutcome:
    total: FrictionRow
    by_type: tuple[FrictionRow, ...]
    by_frequency: tuple[FrictionRow, ...]
    users_locked_by_attacker: tuple[str, ...]  # a lock on a login ID an attacker had tried
    users_blocked_by_attack: tuple[str, ...]  # refused for a banned source once attacks began
    users_locked: tuple[str, ...]
    users_blocked: tuple[str, ...]

    @property
    def users_locked_out_by_attacks(self) -> tuple[str, ...]:
        return tuple(sorted({*self.users_locked_by_attacker, *self.users_blocked_by_attack}))


@dataclass(frozen=True, slots=True)
class Goal:
    name: str
    met: bool | None  # None: not applicable to this run
    value: str


@dataclass(frozen=True, slots=True)
class Outcomes:
    campaigns: tuple[CampaignOutcome, ...]
    legit: LegitOutcome
    goals: tuple[Goal, ...] = field(default=())


def _median_ms(values: Sequence[float]) -> float | None:
    return round(statistics.median(values) * 1000, 1) if values else None


def wrong_password_classes(records: Iterable[LoginRecord]) -> set[str]:
    """Every answer class the server gave to a wrong password (or unknown login ID)."""
    return {r.cls for r in records if r.step == "password" and not r.valid}


def _source_match(ban: BanRecord, sources: set[str], networks: set[str]) -> bool:
    if ban.kind == "ip":
        return ban.value in sources
    if ban.kind == "network":
        return ban.value in networks
    if ban.kind == "cidr":
        try:
            net = ipaddress.ip_network(ban.value, strict=False)
        except ValueError:
            return False
        return any(ipaddress.ip_address(s) in net for s in sources)
    return False


def blocked90(attempts: Sequence[AttackRecord], start: float) -> float | None:
    """Simulated seconds from `start` to the earliest attempt from which on at least 90% of the
    campaign's attempts were refused for a banned source; None if never (a refusal among the
    last few attempts, fewer than max(5, 5%) of them, does not count as a block)."""
    ordered = sorted(attempts, key=lambda a: a.at)
    n = len(ordered)
    least = max(5, round(0.05 * n))
    refused_after = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        refused_after[i] = refused_after[i + 1] + (ordered[i].cls == BAN_CLASS)
    for i, a in enumerate(ordered):
        if n - i < least:
            break
        if a.cls == BAN_CLASS and refused_after[i] >= 0.9 * (n - i):
            return max(0.0, a.at - start)
    return None


def campaign_outcome(
    info: CampaignInfo,
    attempts: Sequence[AttackRecord],
    *,
    wrong_classes: set[str],
    bans: Sequence[BanRecord],
    incidents: Sequence[IncidentRecord],
    mails: Sequence[MailRecord] | None,
    compress: float,
) -> CampaignOutcome:
    # the attack starts with its first request (it may have been scheduled earlier and sent
    # late when the server was slow)
    start = min((a.sent for a in attempts), default=info.start)
    classes = Counter(a.cls for a in attempts)
    valid = [a for a in attempts if a.valid]
    valid_classes = Counter(a.cls for a in valid)
    oracle = sorted(set(valid_classes) - wrong_classes)
    confirmed = {a.user for a in valid if a.cls in oracle or a.takeover}
    takeovers = {a.user for a in attempts if a.takeover}
    tried = {a.user for a in attempts if a.user >= 0}
    last = max((a.at for a in attempts), default=info.end)
    detected = [i.opened - start for i in incidents if start <= i.opened <= last + DETECTION_SLACK]
    first_block = [a.at - start for a in attempts if a.cls == BAN_CLASS]
    sources, networks = set(info.sources), set(info.networks)
    ban_kinds: Counter[str] = Counter(
        b.kind
        for b in bans
        if start <= b.at <= last + DETECTION_SLACK and _source_match(b, sources, networks)
    )
    challenged_at: dict[int, list[float]] = defaultdict(list)
    for a in attempts:
        if a.cls in ("challenge", "otp_required") and a.user >= 0:
            challenged_at[a.user].append(a.at)
    window = 2 * compress
    notified = set()
    for m in mails or ():
        if m.user not in tried or m.at < start or m.used_by_owner:
            continue
        if set(m.ips) & sources or (
            not m.ips and any(0 <= m.at - t <= window for t in challenged_at.get(m.user, ()))
        ):
            notified.add(m.user)
    return CampaignOutcome(
        name=info.name,
        kind=info.kind,
        attempts=len(attempts),
        valid_attempts=len(valid),
        accounts_tried=len(tried),
        takeovers=len(takeovers),
        confirmed=len(confirmed),
        oracle_classes=tuple(oracle),
        classes=dict(classes.most_common()),
        valid_classes=dict(valid_classes.most_common()),
        reached_hash=sum(a.reached_hash for a in attempts),
        refused_early=sum(a.refused_early for a in attempts),
        shed=classes.get("overloaded", 0),
        detected_after=min(detected) if detected else None,
        first_block_after=max(0.0, min(first_block)) if first_block else None,
        blocked90_after=blocked90(attempts, start),
        bans=dict(ban_kinds),
        owners_notified=len(notified) if mails is not None else None,
        latency_valid_ms=_median_ms([a.latency for a in valid if a.reached_hash]),
        latency_invalid_ms=_median_ms(
            [a.latency for a in attempts if not a.valid and a.reached_hash]
        ),
    )


def _row(key: str, records: Sequence[LegitRecord]) -> FrictionRow:
    results = Counter(r.result for r in records)
    return FrictionRow(key, len(records), {k: results[k] for k in LEGIT_RESULTS if results[k]})


def legit_outcome(legit: Sequence[LegitRecord], attempts: Sequence[AttackRecord]) -> LegitOutcome:
    first_tried: dict[str, float] = {}
    for a in attempts:
        key = a.login_id.casefold()
        first_tried[key] = min(first_tried.get(key, a.at), a.at)
    locked = [r for r in legit if r.result == "locked"]
    by_attacker = sorted(
        {r.login_id for r in locked if first_tried.get(r.login_id.casefold(), 1e18) <= r.at}
    )
    attacks_began = min((a.sent for a in attempts), default=1e18)
    blocked_by_attack = sorted(
        {r.login_id for r in legit if r.result == "blocked" and r.at >= attacks_began}
    )
    types: dict[str, list[LegitRecord]] = defaultdict(list)
    freqs: dict[str, list[LegitRecord]] = defaultdict(list)
    for r in legit:
        types[r.user_type].append(r)
        freqs[r.frequency].append(r)
    type_order = ("habitual", "typo", "forgot", "new_phone", "traveler")
    return LegitOutcome(
        total=_row("all", legit),
        by_type=tuple(_row(k, types[k]) for k in type_order if k in types),
        by_frequency=tuple(_row(k, freqs[k]) for k in ("daily", "weekly", "monthly") if k in freqs),
        users_locked_by_attacker=tuple(by_attacker),
        users_blocked_by_attack=tuple(blocked_by_attack),
        users_locked=tuple(sorted({r.login_id for r in locked})),
        users_blocked=tuple(sorted({r.login_id for r in legit if r.result == "blocked"})),
    )


def _fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


def goals(campaigns: Sequence[CampaignOutcome], legit: LegitOutcome) -> tuple[Goal, ...]:
    """The issue's goals, judged on what was measured."""
    out: list[Goal] = []
    for c in campaigns:
        if c.kind == "phishing_relay":
            out.append(
                Goal(
                    f"{c.name}: account takeovers (a relayed code; not expected to be stopped "
                    "by a code-based second step)",
                    None,
                    f"{c.takeovers} of {c.accounts_tried}",
                )
            )
        else:
            out.append(
                Goal(f"{c.name}: zero account takeovers", c.takeovers == 0, str(c.takeovers))
            )
    for c in campaigns:
        if c.kind in ("stuffing", "low_and_slow"):
            out.append(
                Goal(
                    f"{c.name}: zero credentials confirmed to the attacker",
                    c.confirmed == 0,
                    f"{c.confirmed} of {c.valid_attempts} valid pairs tried",
                )
            )
    total = legit.total
    challenged = total.share("challenged")
    out.append(
        Goal(
            f"under {GOAL_CHALLENGED_SHARE:.0%} of legitimate logins challenged",
            challenged < GOAL_CHALLENGED_SHARE if total.logins else None,
            f"{challenged:.2%} ({total.count('challenged')} of {total.logins})",
        )
    )
    out_by = legit.users_locked_out_by_attacks
    out.append(
        Goal(
            "no legitimate user locked out by an attacker",
            not out_by,
            f"{len(out_by)} users ({len(legit.users_locked_by_attacker)} locked on a login ID "
            f"an attacker tried, {len(legit.users_blocked_by_attack)} refused for a source "
            "banned during the attack)",
        )
    )
    for c in campaigns:
        if c.kind == "stuffing":
            met = (
                c.detected_after is not None
                and c.detected_after <= GOAL_DETECT_SECONDS
                and c.blocked90_after is not None
                and c.blocked90_after <= GOAL_DETECT_SECONDS
            )
            out.append(
                Goal(
                    f"{c.name}: detected and its sources blocked within "
                    f"{GOAL_DETECT_SECONDS:.0f} s",
                    met,
                    f"detected {_fmt_s(c.detected_after)}, first block "
                    f"{_fmt_s(c.first_block_after)}, 90% blocked {_fmt_s(c.blocked90_after)}",
                )
            )
    for c in campaigns:
        if c.kind in VOLUME_KINDS:
            out.append(
                Goal(
                    f"{c.name}: attacker requests reaching the hash at most {GOAL_HASH_SHARE:.0%}",
                    c.hash_share <= GOAL_HASH_SHARE,
                    f"{c.hash_share:.1%} ({c.reached_hash} of {c.attempts})",
                )
            )
    return tuple(out)


def compute(
    infos: Sequence[CampaignInfo],
    attacks: Sequence[AttackRecord],
    legit: Sequence[LegitRecord],
    records: Sequence[LoginRecord],
    *,
    bans: Sequence[BanRecord] = (),
    incidents: Sequence[IncidentRecord] = (),
    mails: Sequence[MailRecord] | None = (),
    compress: float = 1.0,
) -> Outcomes:
    wrong = wrong_password_classes(records)
    by_campaign: dict[str, list[AttackRecord]] = defaultdict(list)
    for a in attacks:
        by_campaign[a.campaign].append(a)
    campaigns = tuple(
        campaign_outcome(
            info,
            by_campaign.get(info.name, []),
            wrong_classes=wrong,
            bans=bans,
            incidents=incidents,
            mails=mails,
            compress=compress,
        )
        for info in infos
    )
    legit_out = legit_outcome(legit, attacks)
    return Outcomes(campaigns=campaigns, legit=legit_out, goals=goals(campaigns, legit_out))
