"""The aggregations the detectors read, computed by DuckDB over table ``ev``.

Everything the live service counts per request (`mamori.flows.stats.StatsBuffer`) is counted
here per time bucket, vectorized; Python receives only the aggregates:

- `bucket_totals`: attempts, failures, failures on unknown login IDs and successes per bucket
  (the detector's global counters ``g:{bucket}:a|f|u|s``).
- `window_sources`: for the windows the detector is asked about, each source's attempts and
  failures over the window's two buckets, with the live service's top-50-per-bucket rule
  (``t:{bucket}:{kind}:f`` tallies), and each subnet's and network's failures in the hour before
  (its baseline, ``h:{hour}:{kind}:{value}``), plus distinct login IDs and IPs per bucket.
- `ip_rule_runs` and `lock_hits`: per failure of a busy IP or login ID, its failures in the
  trailing window (the ``ipf:``, ``ipids:`` and ``id:`` counters), as window functions; runs
  of failures that meet a threshold are returned as one row each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import duckdb

from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import BucketStats

__all__ = [
    "TOP_PER_BUCKET",
    "IpRun",
    "LockHit",
    "SourceRow",
    "bucket_totals",
    "ip_rule_runs",
    "lock_hits",
    "prepare_windows",
    "set_attack_spans",
    "window_sources",
]

TOP_PER_BUCKET: Final = 50  # the live window reads the 50 busiest sources per kind and bucket
HOUR_US: Final = 3_600_000_000


def bucket_totals(con: duckdb.DuckDBPyConnection) -> dict[int, BucketStats]:
    rows = con.execute(
        """
        SELECT bucket, count(*), count(*) FILTER (fail), count(*) FILTER (fail AND unknown),
               count(*) FILTER (NOT fail)
        FROM ev GROUP BY bucket
        """
    ).fetchall()
    return {int(b): BucketStats(int(a), int(f), int(u), int(s)) for b, a, f, u, s in rows}


@dataclass(frozen=True, slots=True)
class SourceRow:
    window: int  # the window's last bucket
    kind: str  # ip | subnet | network | ua
    value: str
    attempts: int
    failures: int
    baseline: float  # failures per bucket in the hour before (subnets and networks)


def prepare_windows(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[int],
    *,
    bucket_us: int,
) -> dict[int, tuple[int, int]]:
    """Build temp table ``win`` (every source of each window, see the module docstring) for
    the windows ending at ``windows``; returns distinct (login IDs, IPs) per window (the sum of
    the per-bucket counts of its two buckets, as the live service sums them)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE wins AS SELECT DISTINCT unnest(?::BIGINT[]) AS w",
        [list(windows)],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE need AS "
        "SELECT DISTINCT b FROM (SELECT w AS b FROM wins UNION ALL SELECT w - 1 FROM wins)"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE src AS
        WITH r AS (
            SELECT bucket, ip, subnet, network, ua_h, fail, login_id FROM ev
            WHERE bucket IN (SELECT b FROM need)
        )
        SELECT bucket, 'ip' AS kind, ip AS value, count(*) AS a, count(*) FILTER (fail) AS f
            FROM r WHERE ip <> '' GROUP BY ALL
        UNION ALL
        SELECT bucket, 'subnet', subnet, count(*), count(*) FILTER (fail)
            FROM r WHERE subnet <> '' GROUP BY ALL
        UNION ALL
        SELECT bucket, 'network', network, count(*), count(*) FILTER (fail)
            FROM r WHERE network <> '' GROUP BY ALL
        UNION ALL
        SELECT bucket, 'ua', ua_h::VARCHAR, count(*), count(*) FILTER (fail)
            FROM r GROUP BY ALL
        """,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE win AS
        WITH ranked AS (
            SELECT *, f > 0 AND row_number() OVER (
                PARTITION BY bucket, kind ORDER BY f DESC, value) <= ? AS top
            FROM src
        ), pairs AS (
            SELECT bucket AS w, kind, value, a, f, top FROM ranked
            UNION ALL SELECT bucket + 1, kind, value, a, f, top FROM ranked
        )
        SELECT w, kind, value, sum(a)::BIGINT AS a,
               sum(CASE WHEN top THEN f ELSE 0 END)::BIGINT AS f
        FROM pairs WHERE w IN (SELECT w FROM wins)
        GROUP BY ALL HAVING bool_or(top)
        """,
        [TOP_PER_BUCKET],
    )
    # each subnet's and network's failures in the clock hour before the window's end
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE win_hour AS
        SELECT w, ((w + 1) * ?::BIGINT - 1) // ? - 1 AS hr FROM wins
        """,
        [bucket_us, HOUR_US],
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE hourly AS
        WITH r AS (
            SELECT ts // ? AS hr, subnet, network FROM ev
            WHERE fail AND ts // ? IN (SELECT hr FROM win_hour)
        )
        SELECT hr, 'subnet' AS kind, subnet AS value, count(*) AS f FROM r
            WHERE subnet <> '' GROUP BY ALL
        UNION ALL
        SELECT hr, 'network', network, count(*) FROM r WHERE network <> '' GROUP BY ALL
        """,
        [HOUR_US, HOUR_US],
    )
    rows = con.execute(
        """
        WITH d AS (
            SELECT bucket, count(DISTINCT login_id) AS ids, count(DISTINCT ip) AS ips
            FROM ev WHERE bucket IN (SELECT b FROM need) GROUP BY bucket
        )
        SELECT wins.w, coalesce(sum(d.ids), 0), coalesce(sum(d.ips), 0)
        FROM wins LEFT JOIN d ON d.bucket IN (wins.w - 1, wins.w) GROUP BY wins.w
        """
    ).fetchall()
    return {int(w): (int(ids), int(ips)) for w, ids, ips in rows}


def window_sources(
    con: duckdb.DuckDBPyConnection,
    *,
    bucket_seconds: float,
    windows: Sequence[int] | None = None,
    kinds: Sequence[str] = ("ip", "subnet", "network", "ua"),
    min_failures: int = 0,
    top_ua_only: bool = False,
) -> list[SourceRow]:
    """Rows of ``win`` with their baselines: for ``windows`` (all when None), of ``kinds``,
    with at least ``min_failures``; with ``top_ua_only`` only each window's busiest user
    agent (all the detector's signals read of user agents)."""
    per_hour = 3600.0 / bucket_seconds
    where = ["win.kind IN (SELECT unnest(?::VARCHAR[]))", "win.f >= ?"]
    params: list[object] = [list(kinds), min_failures]
    if windows is not None:
        where.append("win.w IN (SELECT unnest(?::BIGINT[]))")
        params.append(list(windows))
    qualify = (
        "QUALIFY win.kind <> 'ua' OR row_number() OVER (PARTITION BY win.w, win.kind "
        "ORDER BY win.f DESC, win.value) = 1"
        if top_ua_only
        else ""
    )
    rows = con.execute(
        f"""
        SELECT win.w, win.kind, win.value, greatest(win.a, win.f), win.f, coalesce(h.f, 0)
        FROM win JOIN win_hour USING (w)
        LEFT JOIN hourly h ON h.hr = win_hour.hr AND h.kind = win.kind AND h.value = win.value
        WHERE {" AND ".join(where)}
        {qualify}
        ORDER BY win.w, win.kind, win.f DESC, win.value
        """,  # noqa: S608 - fixed fragments, values as parameters
        params,
    ).fetchall()
    return [
        SourceRow(int(w), str(k), str(v), int(a), int(f), float(h) / per_hour)
        for w, k, v, a, f, h in rows
    ]


@dataclass(frozen=True, slots=True)
class IpRun:
    """A run of an IP's failures that each met an IP rule, no two further apart than the
    rule's ban: the live service would have kept the IP banned from ``first`` to ``last``."""

    rule: str  # "failures" | "login_ids"
    ip: str
    first: int  # microseconds
    last: int
    hits: int  # failures in the run
    failures: int  # the most failures in one trailing ip_fail_window
    distinct_ids: int  # the most login IDs first tried within one trailing ip_distinct_window
    under_attack: bool  # the run's first failure came during an attack (the lower threshold)
    evidence: int  # µs: the earliest failure counted toward the run's first hit


def set_attack_spans(con: duckdb.DuckDBPyConnection, spans: Sequence[tuple[int, int]]) -> None:
    """Table ``spans``: the detector's "under attack" periods, [lo, hi) in microseconds, not
    overlapping (the rules below use their lower thresholds inside them)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE spans AS SELECT unnest(?::BIGINT[]) AS lo,"
        " unnest(?::BIGINT[]) AS hi",
        [[s for s, _ in spans], [e for _, e in spans]],
    )


def ip_rule_runs(con: duckdb.DuckDBPyConnection, policy: DefensePolicy) -> list[IpRun]:
    """The runs of failures at which IPs met `mamori.defense.throttle.ip_rules` thresholds."""
    low = min(policy.ip_fail_threshold, policy.under_attack_ip_fail_threshold)
    rows = con.execute(
        """
        WITH busy AS (
            SELECT ip FROM ev WHERE fail AND ip <> '' GROUP BY ip
            HAVING count(*) >= $low OR count(DISTINCT login_id) >= $distinct
        ), f AS (
            SELECT ip, ts,
                row_number() OVER (PARTITION BY ip, login_id ORDER BY ts) = 1 AS first_id
            FROM ev WHERE fail AND ip IN (SELECT ip FROM busy)
        ), counted AS (
            SELECT ip, ts,
                count(*) OVER (PARTITION BY ip ORDER BY ts
                    RANGE BETWEEN $fail_window PRECEDING AND CURRENT ROW) AS failures,
                sum(first_id::INT) OVER (PARTITION BY ip ORDER BY ts
                    RANGE BETWEEN $distinct_window PRECEDING AND CURRENT ROW) AS ids,
                min(ts) OVER (PARTITION BY ip ORDER BY ts
                    RANGE BETWEEN $fail_window PRECEDING AND CURRENT ROW) AS fail_from,
                min(ts) FILTER (first_id) OVER (PARTITION BY ip ORDER BY ts
                    RANGE BETWEEN $distinct_window PRECEDING AND CURRENT ROW) AS ids_from
            FROM f
        ), marked AS (
            SELECT counted.*, spans.lo IS NOT NULL AS attack
            FROM counted LEFT JOIN spans ON counted.ts >= spans.lo AND counted.ts < spans.hi
        ), hits AS (
            SELECT 'failures' AS rule, ip, ts, failures, ids, attack, $throttle AS gap,
                fail_from AS evidence
            FROM marked WHERE failures >= $high OR (attack AND failures >= $under)
            UNION ALL
            SELECT 'login_ids', ip, ts, failures, ids, attack, $block, ids_from
            FROM marked WHERE ids >= $distinct
        ), runs AS (
            SELECT *, sum(CASE WHEN ts - prev <= gap THEN 0 ELSE 1 END) OVER (
                PARTITION BY rule, ip ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run
            FROM (SELECT *, lag(ts) OVER (PARTITION BY rule, ip ORDER BY ts) AS prev FROM hits)
        )
        SELECT rule, ip, min(ts), max(ts), count(*), max(failures), max(ids)::BIGINT,
               arg_min(attack, ts), min(evidence)
        FROM runs GROUP BY rule, ip, run ORDER BY min(ts), ip, rule
        """,
        {
            "low": low,
            "distinct": policy.ip_distinct_threshold,
            "fail_window": int(policy.ip_fail_window * 1e6),
            "distinct_window": int(policy.ip_distinct_window * 1e6),
            "high": policy.ip_fail_threshold,
            "under": policy.under_attack_ip_fail_threshold,
            "throttle": int(policy.ip_throttle * 1e6),
            "block": int(policy.ip_block * 1e6),
        },
    ).fetchall()
    return [
        IpRun(str(r), str(ip), int(a), int(b), int(n), int(f), int(d), bool(u), int(e))
        for r, ip, a, b, n, f, d, u, e in rows
    ]


@dataclass(frozen=True, slots=True)
class LockHit:
    login_id: str
    ts: int
    attempts: int  # failures in the trailing lock_window, this one included


def lock_hits(con: duckdb.DuckDBPyConnection, policy: DefensePolicy) -> list[LockHit]:
    """For each login ID, its first failure past a lock threshold (the lower "under attack"
    one inside table ``spans``, see `set_attack_spans`): the attempt that starts a lock."""
    rows = con.execute(
        """
        WITH busy AS (
            SELECT login_id FROM ev WHERE fail GROUP BY login_id HAVING count(*) > $low
        ), counted AS (
            SELECT login_id, ts,
                count(*) OVER (PARTITION BY login_id ORDER BY ts
                    RANGE BETWEEN $window PRECEDING AND CURRENT ROW) AS n
            FROM ev WHERE fail AND login_id IN (SELECT login_id FROM busy)
        )
        SELECT login_id, ts, n
        FROM counted LEFT JOIN spans ON counted.ts >= spans.lo AND counted.ts < spans.hi
        WHERE n > $high OR (spans.lo IS NOT NULL AND n > $under)
        QUALIFY row_number() OVER (PARTITION BY login_id ORDER BY ts) = 1
        ORDER BY ts
        """,
        {
            "low": min(policy.lock_threshold, policy.under_attack_lock_threshold),
            "window": int(policy.lock_window * 1e6),
            "high": policy.lock_threshold,
            "under": policy.under_attack_lock_threshold,
        },
    ).fetchall()
    return [LockHit(str(i), int(ts), int(n)) for i, ts, n in rows]
