"""Incidents: what an attack the detector caught did, read back from the security events.

The detector (`Defender.tick`) opens an incident when the "under attack" state starts and
closes it when the state ends. Everything else is derived, deterministically, from the events
of the incident's **window**: from `summary.since` (the start of the detector's window when it
fired: the attack's first requests, up to two buckets before `opened_at`) to `closed_at`, or
now while it is open.

**Attack sources**, each matched to events as an IP (exact), a CIDR (its range) or a network
(the AS name, case-insensitively):

- every ban the defenses applied in the window (`ban_added` events of origin `rule`: the
  detector's source blocks, the IP throttles and blocks, the relative-rate subnet/network
  rules; in monitor mode the bans it would have applied);
- every IP marked by its own failures in the window, by the detector's rule for an IP
  (`attack_ip_min_failures` failures at `attack_source_failure_ratio` or more of its
  attempts). Failures from a browser bound to the account (the owner's typos) do not count,
  as for the IP rules; "restricted" is not a failure (the password was right).

**The two lists** (LINE's 3,035 were the first):

- *password confirmed*: accounts with an event from an attack source in the window that
  proves the password was right, whatever happened next — a login, a challenge started for
  a right password, "restricted" (403 only after a right password), a challenge failed whose
  password was right, a forced reset reached by a login;
- *logged in*: accounts with a `login_success` from an attack source (a subset of the first).

**Country** of an affected account (the LINE table counted accounts by their owner's
country; we hold none): the country of the account's most recent successful login before the
window, else the country of its first confirming event from an attack source, else "??".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_network

from mamori.errors import NotFound
from mamori.flows.services import Services
from mamori.models import EventType
from mamori.netaddr import Network, parse_cidrs, parse_ip
from mamori.store import Tx
from mamori.store.incidents import AttemptStat, Confirmation, Incident, IncidentAction

UNKNOWN_COUNTRY = "??"
# how each confirming event is named in the lists
EVIDENCE: dict[str, str] = {
    EventType.LOGIN_SUCCESS: "logged_in",
    EventType.LOGIN_CHALLENGED: "challenged",
    EventType.LOGIN_FAILURE: "restricted",
    EventType.CHALLENGE_FAILED: "challenge_failed",
    EventType.PASSWORD_RESET_REQUESTED: "reset_required",
}


@dataclass(slots=True)
class Source:
    kind: str  # ip | cidr | network
    value: str
    why: str  # "ban:<reason>" (a defense's ban) or "failures" (its own failure volume)
    first_at: datetime | None
    attempts: int = 0
    failures: int = 0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Affected:
    account_id: int
    login_id: str
    logged_in: bool
    first_at: datetime  # the first confirming event from an attack source
    ip: str
    as_name: str
    event_country: str
    country: str  # for the report (see the module docstring)
    evidence: tuple[str, ...]  # logged_in, challenged, restricted, ...


@dataclass(frozen=True, slots=True)
class Volumes:
    attempts: int
    failures: int
    confirmations: int
    from_sources: int  # attempts from attack sources
    failures_from_sources: int
    ips_from_sources: int
    distinct_ips: int
    distinct_login_ids: int


@dataclass(frozen=True, slots=True)
class Analysis:
    incident: Incident
    since: datetime
    until: datetime
    sources: list[Source]
    volumes: Volumes
    confirmed: list[Affected]  # password confirmed (logged-in accounts included)
    actions: list[IncidentAction]
    done: list[tuple[str, str, datetime]] = field(default_factory=list)  # (kind, target, at)
    targeted_accounts: int = 0  # existing accounts attempted from attack sources
    top_targets: list[tuple[str, int, int]] = field(default_factory=list)  # (id, tries, fails)

    @property
    def logged_in(self) -> list[Affected]:
        return [a for a in self.confirmed if a.logged_in]

    def by_country(self) -> list[tuple[str, int]]:
        """The LINE table: affected accounts per country, most first."""
        counts: dict[str, int] = {}
        for a in self.confirmed:
            counts[a.country] = counts.get(a.country, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


class SourceSet:
    """Attack sources, matched against an event's IP and network."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self.ips: dict[str, Source] = {}
        self.networks: dict[str, Source] = {}
        self.cidrs: dict[int, dict[Network, Source]] = {}
        for s in sources:
            if s.kind == "ip":
                self.ips.setdefault(s.value, s)
            elif s.kind == "network":
                self.networks.setdefault(s.value.casefold(), s)
            elif s.kind == "cidr":
                try:
                    (net,) = parse_cidrs(s.value)
                except ValueError:
                    continue
                self.cidrs.setdefault(net.prefixlen, {}).setdefault(net, s)

    def match(self, ip: str, as_name: str) -> list[Source]:
        """Every source covering this IP / network (most specific first)."""
        found: list[Source] = []
        if ip in self.ips:
            found.append(self.ips[ip])
        address = parse_ip(ip) if self.cidrs and ip else None
        if address is not None:
            for plen in sorted(self.cidrs, reverse=True):
                net = _network(address, plen)
                hit = self.cidrs[plen].get(net) if net is not None else None
                if hit is not None:
                    found.append(hit)
        if as_name and as_name.casefold() in self.networks:
            found.append(self.networks[as_name.casefold()])
        return found


def _network(address: IPv4Address | IPv6Address, plen: int) -> Network | None:
    if plen > address.max_prefixlen:
        return None
    return ip_network((address, plen), strict=False)


def window_of(svc: Services, incident: Incident) -> tuple[datetime, datetime]:
    since = incident.opened_at
    raw = incident.summary.get("since")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            since = min(since, datetime.fromisoformat(raw))
    return since, incident.closed_at or svc.clock.now()


def marked_ips(svc: Services, stats: Sequence[AttemptStat]) -> dict[str, tuple[int, int]]:
    """IPs whose own failures mark them: {ip: (attempts, failures)} (owner typos excluded)."""
    p = svc.defender.policy
    per_ip: dict[str, list[int]] = {}
    for s in stats:
        acc = per_ip.setdefault(s.ip, [0, 0])
        counted = s.failures - s.recognized_failures
        acc[0] += counted + s.confirmations
        acc[1] += counted
    return {
        ip: (attempts, failures)
        for ip, (attempts, failures) in per_ip.items()
        if ip
        and failures >= p.attack_ip_min_failures
        and failures >= p.attack_source_failure_ratio * attempts
    }


async def find_sources(
    svc: Services, tx: Tx, *, since: datetime, until: datetime, stats: Sequence[AttemptStat]
) -> list[Source]:
    sources: dict[str, Source] = {}
    for ban in await tx.incidents.source_bans(since=since, until=until):
        if ban.origin != "rule":
            continue
        s = Source(ban.kind, ban.value, f"ban:{ban.reason}", ban.at)
        sources.setdefault(s.key, s)
    for ip in sorted(marked_ips(svc, stats)):
        s = Source("ip", ip, "failures", None)
        sources.setdefault(s.key, s)
    return list(sources.values())


def _volumes(stats: Sequence[AttemptStat], matcher: SourceSet, ids: int) -> Volumes:
    from_sources = failures_from_sources = 0
    ips: set[str] = set()
    for s in stats:
        hits = matcher.match(s.ip, s.as_name)
        for src in hits:
            src.attempts += s.attempts
            src.failures += s.failures
        if hits:
            from_sources += s.attempts
            failures_from_sources += s.failures
            ips.add(s.ip)
    return Volumes(
        attempts=sum(s.attempts for s in stats),
        failures=sum(s.failures for s in stats),
        confirmations=sum(s.confirmations for s in stats),
        from_sources=from_sources,
        failures_from_sources=failures_from_sources,
        ips_from_sources=len(ips),
        distinct_ips=len({s.ip for s in stats}),
        distinct_login_ids=ids,
    )


def _targeted(
    rows: Sequence[tuple[str, str, str, int, int]], matcher: SourceSet, *, top: int = 20
) -> tuple[int, list[tuple[str, int, int]]]:
    """Existing accounts attempted from attack sources: how many, and the most attempted
    (login ID, attempts, failures)."""
    per_id: dict[str, list[int]] = {}
    for login_id, ip, as_name, attempts, failures in rows:
        if matcher.match(ip, as_name):
            acc = per_id.setdefault(login_id, [0, 0])
            acc[0] += attempts
            acc[1] += failures
    ranked = sorted(per_id.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    return len(per_id), [(login_id, n, f) for login_id, (n, f) in ranked[:top]]


async def _affected(
    tx: Tx, events: Sequence[Confirmation], matcher: SourceSet, *, since: datetime
) -> list[Affected]:
    first: dict[int, Confirmation] = {}
    evidence: dict[int, set[str]] = {}
    for e in events:
        if not matcher.match(e.ip, e.as_name):
            continue
        first.setdefault(e.account_id, e)
        evidence.setdefault(e.account_id, set()).add(EVIDENCE.get(e.type, e.type))
    homes = await tx.incidents.last_login_countries(list(first), before=since)
    out = []
    for account_id in sorted(first):
        e = first[account_id]
        account = await tx.accounts.get(account_id)
        out.append(
            Affected(
                account_id=account_id,
                login_id=account.login_id if account else e.login_id,
                logged_in="logged_in" in evidence[account_id],
                first_at=e.at,
                ip=e.ip,
                as_name=e.as_name,
                event_country=e.country,
                country=homes.get(account_id) or e.country or UNKNOWN_COUNTRY,
                evidence=tuple(sorted(evidence[account_id])),
            )
        )
    return out


async def analyze(svc: Services, incident_id: int) -> Analysis:
    """The incident with its sources, volumes, the two lists and the actions taken."""
    async with svc.store.begin(offload=True) as tx:
        incident = await tx.incidents.get(incident_id)
        if incident is None:
            raise NotFound("incident", str(incident_id))
        since, until = window_of(svc, incident)
        stats = await tx.incidents.attempt_stats(since=since, until=until)
        sources = await find_sources(svc, tx, since=since, until=until, stats=stats)
        matcher = SourceSet(sources)
        ids = await tx.incidents.distinct_login_ids(since=since, until=until)
        volumes = _volumes(stats, matcher, ids)
        events = await tx.incidents.confirmations(since=since, until=until)
        confirmed = await _affected(tx, events, matcher, since=since)
        actions = await tx.incidents.actions(incident_id)
        done = await tx.incidents.done_items(incident_id)
        targeted, top = _targeted(
            await tx.incidents.account_attempts(since=since, until=until), matcher
        )
    return Analysis(
        incident=incident,
        since=since,
        until=until,
        sources=sources,
        volumes=volumes,
        confirmed=confirmed,
        actions=actions,
        done=done,
        targeted_accounts=targeted,
        top_targets=top,
    )


async def list_incidents(
    svc: Services, *, limit: int = 50, before_id: int | None = None
) -> list[Incident]:
    async with svc.store.begin() as tx:
        return await tx.incidents.recent(limit=limit, before_id=before_id)
