"""From the bans the replay would have applied to the rows they cover, and what that means.

A ban on a source covers the rows from that source (the IP; the /24 or /64 for a CIDR ban; the AS
network for a network ban) from the start of the evidence that triggered it (the detector's
window; the rule's trailing window) until the ban would have run out after its last renewal. Those
rows are **flagged**: the attack as the analysis sees it. Renewals while a ban runs extend it; a
source that comes back after its ban ran out is flagged again once it trips a rule again. (The
service doubles the length of a repeat ban; here each ban keeps its own length, so rows such a
source sends in the doubled part, before it trips a rule again, are not flagged.)

Against the file's labels: precision and recall of the flagged rows and of the flagged IPs
(`Is Attack IP`), and of the account-takeover candidates (`Is Account Takeover`): successful logins
from flagged sources, and successful logins the risk scorer rates "high".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from mamori.analyze.detection import Incident, TimedOrder

__all__ = [
    "Activity",
    "Affected",
    "Ban",
    "Coverage",
    "Score",
    "affected_accounts",
    "bans_of",
    "flag_rows",
    "incident_activity",
    "incident_of",
    "label_scores",
]

_COLUMN = {"ip": "ip", "cidr": "subnet", "network": "network"}


@dataclass(frozen=True, slots=True)
class Ban:
    kind: str  # ip | cidr | network
    value: str
    lo: int  # µs, evidence start
    first: int  # µs, the first order
    hi: int  # µs, when the last renewal runs out
    reasons: tuple[str, ...]
    origins: tuple[str, ...]
    orders: int  # orders (renewals) merged into it


def bans_of(orders: Sequence[TimedOrder]) -> list[Ban]:
    """Merge the orders per source into non-overlapping periods."""
    per: dict[tuple[str, str], list[TimedOrder]] = {}
    for o in orders:
        per.setdefault((o.order.kind, o.order.value), []).append(o)
    bans: list[Ban] = []
    for (kind, value), items in per.items():
        items.sort(key=lambda o: o.since)
        current: list[TimedOrder] = []
        hi = -1
        for o in items:
            end = o.until + int(o.order.seconds * 1e6)
            if current and o.since <= hi:
                current.append(o)
                hi = max(hi, end)
                continue
            if current:
                bans.append(_ban(kind, value, current, hi))
            current, hi = [o], end
        if current:
            bans.append(_ban(kind, value, current, hi))
    bans.sort(key=lambda b: (b.lo, b.kind, b.value))
    return bans


def _ban(kind: str, value: str, items: list[TimedOrder], hi: int) -> Ban:
    return Ban(
        kind=kind,
        value=value,
        lo=min(o.since for o in items),
        first=min(o.at for o in items),
        hi=hi,
        reasons=tuple(sorted({o.order.reason for o in items})),
        origins=tuple(sorted({o.origin for o in items})),
        orders=len(items),
    )


@dataclass(frozen=True, slots=True)
class Coverage:
    attempts: int
    failures: int
    successes: int  # password confirmed


def incident_of(ban: Ban, incidents: Sequence[Incident], *, margin: int) -> int:
    """The incident (1-based; 0 for none) the ban belongs to: the first whose detector period,
    extended by ``margin`` µs each side, overlaps the ban's evidence and ban period (a source
    the IP rules ban later in the same attack belongs to it too)."""
    for number, incident in enumerate(incidents, 1):
        if ban.lo <= incident.end + margin and incident.start - margin <= ban.hi:
            return number
    return 0


def flag_rows(
    con: duckdb.DuckDBPyConnection,
    bans: Sequence[Ban],
    *,
    incidents: Sequence[int],
) -> list[Coverage]:
    """Temp table ``flagged`` (rid, inc): the rows some ban covers, with the incident of the
    first such ban that belongs to one (0: none); ``incidents[i]`` is ban i's incident.
    Returns what each ban covers."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE bans AS SELECT unnest(?::VARCHAR[]) AS kind,"
        " unnest(?::VARCHAR[]) AS value, unnest(?::BIGINT[]) AS lo, unnest(?::BIGINT[]) AS hi,"
        " unnest(?::BIGINT[]) AS i, unnest(?::BIGINT[]) AS inc",
        [
            [b.kind for b in bans],
            [b.value for b in bans],
            [b.lo for b in bans],
            [b.hi for b in bans],
            list(range(len(bans))),
            list(incidents),
        ],
    )
    parts = [
        f"SELECT ev.rid, b.i, b.inc, ev.fail, ev.ok FROM ev JOIN bans b ON b.kind = '{kind}'"  # noqa: S608 - ours
        f" AND ev.{column} = b.value AND ev.ts >= b.lo AND ev.ts < b.hi"
        for kind, column in _COLUMN.items()
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE covered AS {' UNION ALL '.join(parts)}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE flagged AS SELECT rid,"
        " coalesce(min(inc) FILTER (inc > 0), 0) AS inc FROM covered GROUP BY rid"
    )
    per = {
        int(i): Coverage(int(a), int(f), int(s))
        for i, a, f, s in con.execute(
            "SELECT i, count(*), count(*) FILTER (fail), count(*) FILTER (ok) FROM covered"
            " GROUP BY i"
        ).fetchall()
    }
    con.execute("DROP TABLE covered")
    return [per.get(i, Coverage(0, 0, 0)) for i in range(len(bans))]


@dataclass(frozen=True, slots=True)
class Score:
    """Flags against labels."""

    name: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def label_scores(con: duckdb.DuckDBPyConnection, *, high_risk: Sequence[int]) -> list[Score]:
    """Precision and recall of the flags against the labels (rows without a label are left
    out). ``high_risk``: rows the risk scorer rated "high"."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE risky AS SELECT unnest(?::BIGINT[]) AS rid", [list(high_risk)]
    )
    rows = con.execute(
        """
        WITH r AS (
            SELECT ev.ip, ev.login_id, ev.ok, ev.attack_ip, ev.ato,
                f.rid IS NOT NULL AS flagged, k.rid IS NOT NULL AS risky
            FROM ev LEFT JOIN flagged f ON f.rid = ev.rid LEFT JOIN risky k ON k.rid = ev.rid
            WHERE f.rid IS NOT NULL OR k.rid IS NOT NULL OR ev.attack_ip OR ev.ato
        ), ips AS (
            SELECT bool_or(flagged) AS flagged, bool_or(attack_ip) AS attack FROM r
            WHERE attack_ip IS NOT NULL GROUP BY ip
        ), takeover AS (
            SELECT ok AND (flagged OR risky) AS cand, ok AND flagged AS confirmed, ato, login_id
            FROM r WHERE ato IS NOT NULL
        ), accounts AS (
            SELECT bool_or(cand) AS cand, bool_or(ato) AS ato FROM takeover GROUP BY login_id
        )
        SELECT 'attack rows', count(*) FILTER (flagged AND attack_ip),
            count(*) FILTER (flagged AND NOT attack_ip), count(*) FILTER (NOT flagged AND attack_ip)
            FROM r WHERE attack_ip IS NOT NULL
        UNION ALL
        SELECT 'attack IPs', count(*) FILTER (flagged AND attack),
            count(*) FILTER (flagged AND NOT attack), count(*) FILTER (NOT flagged AND attack)
            FROM ips
        UNION ALL
        SELECT 'takeover rows', count(*) FILTER (cand AND ato),
            count(*) FILTER (cand AND NOT ato), count(*) FILTER (NOT cand AND ato)
            FROM takeover
        UNION ALL
        SELECT 'takeover rows (flagged sources only)', count(*) FILTER (confirmed AND ato),
            count(*) FILTER (confirmed AND NOT ato), count(*) FILTER (NOT confirmed AND ato)
            FROM takeover
        UNION ALL
        SELECT 'taken-over accounts', count(*) FILTER (cand AND ato),
            count(*) FILTER (cand AND NOT ato), count(*) FILTER (NOT cand AND ato)
            FROM accounts
        """
    ).fetchall()
    return [Score(str(n), int(tp), int(fp), int(fn)) for n, tp, fp, fn in rows]


@dataclass(frozen=True, slots=True)
class Affected:
    """An account whose password was confirmed from a flagged source."""

    login_id: str
    country: str  # the account's usual country (its other successful logins), "" if none
    first: int  # µs, the first confirmation
    confirmations: int
    logged_in: bool  # a session was created (not only confirmed: a challenged login)
    sources: tuple[str, ...]  # up to 3 source IPs
    incident: int  # the incident of the ban that flagged its first confirmation (0: none)


def affected_accounts(con: duckdb.DuckDBPyConnection) -> list[Affected]:
    """Accounts whose password was confirmed (a successful or challenged login) from a flagged
    source, with the country they usually log in from, as in LINE's table by country, and the
    incident of their first confirmation."""
    rows = con.execute(
        """
        WITH hit AS (
            SELECT ev.login_id, ev.ts, ev.ip, ev.logged_in, f.inc FROM ev
            JOIN flagged f ON f.rid = ev.rid WHERE ev.ok
        ), own AS (
            SELECT ev.login_id, ev.country, count(*) AS n FROM ev
            WHERE ev.ok AND ev.country <> '' AND ev.login_id IN (SELECT login_id FROM hit)
              AND ev.rid NOT IN (SELECT rid FROM flagged)
            GROUP BY ALL
        ), home AS (
            SELECT login_id, arg_max(country, n) AS country FROM own GROUP BY login_id
        )
        SELECT hit.login_id, coalesce(home.country, ''), min(hit.ts), count(*),
            bool_or(hit.logged_in), list(DISTINCT hit.ip ORDER BY hit.ip)[1:3],
            arg_min(hit.inc, hit.ts)
        FROM hit LEFT JOIN home USING (login_id)
        GROUP BY hit.login_id, home.country ORDER BY min(hit.ts), hit.login_id
        """
    ).fetchall()
    return [
        Affected(
            login_id=str(login_id),
            country=str(country),
            first=int(first),
            confirmations=int(n),
            logged_in=bool(logged_in),
            sources=tuple(str(x) for x in ips),
            incident=int(inc),
        )
        for login_id, country, first, n, logged_in, ips, inc in rows
    ]


@dataclass(frozen=True, slots=True)
class Activity:
    """What the sources banned during one incident did (the rows their bans cover)."""

    attempts: int
    failures: int
    confirmed: int
    login_ids: int
    ips: int
    first: int  # µs
    last: int
    countries: tuple[tuple[str, int], ...]  # most failures first
    user_agents: tuple[tuple[str, int], ...]  # most failures first


def incident_activity(con: duckdb.DuckDBPyConnection, incidents: int) -> list[Activity]:
    """One `Activity` per incident (1-based numbers 1..incidents)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE inc_rows AS SELECT f.inc, ev.ts, ev.login_id, ev.ip,"
        " ev.fail, ev.ok, ev.country, ev.ua_fail FROM ev JOIN flagged f ON f.rid = ev.rid"
        " WHERE f.inc > 0"
    )
    totals = {
        int(r[0]): r[1:]
        for r in con.execute(
            "SELECT inc, count(*), count(*) FILTER (fail), count(*) FILTER (ok),"
            " count(DISTINCT login_id), count(DISTINCT ip), min(ts), max(ts)"
            " FROM inc_rows GROUP BY inc"
        ).fetchall()
    }
    tops: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for column in ("country", "ua_fail"):
        for inc, value, n in con.execute(
            f"SELECT inc, {column}, count(*) FROM inc_rows WHERE fail GROUP BY inc, {column}"  # noqa: S608
            f" QUALIFY row_number() OVER (PARTITION BY inc ORDER BY count(*) DESC, {column})"
            " <= 5 ORDER BY inc, 3 DESC, 2"
        ).fetchall():
            tops.setdefault((int(inc), column), []).append((str(value), int(n)))
    con.execute("DROP TABLE inc_rows")
    out = []
    for number in range(1, incidents + 1):
        attempts, failures, confirmed, ids, ips, first, last = (
            int(x or 0) for x in totals.get(number, (0, 0, 0, 0, 0, 0, 0))
        )
        out.append(
            Activity(
                attempts=attempts,
                failures=failures,
                confirmed=confirmed,
                login_ids=ids,
                ips=ips,
                first=first,
                last=last,
                countries=tuple(tops.get((number, "country"), [])),
                user_agents=tuple(tops.get((number, "ua_fail"), [])),
            )
        )
    return out
