"""Risk scoring of the logins the report needs, with the service's scorer (`score_login`).

What is scored — every login whose password was right (``ok``) and that is one of:

- **confirmed**: from a source the defenses flagged (the accounts of the incident report);
- **new country**: the account has earlier successful logins in the file, none from this country;
- **sample**: about `SAMPLE` other ones, picked by a hash of the row (the levels of ordinary
  logins, for scale).

Each is scored against the frequency tables of the successful logins (``logged_in``) before it,
as the service would have had them: the account's own counts (N, c, D: its logins, and per level
its logins with this value and its distinct values) exactly, from every earlier successful login
of the account; the population's (T logins, U accounts, G logins with this value and V distinct
values per level) as they stood at the start of the login's detector bucket (a lag of under one
bucket, which changes G/T by at most one bucket's logins). The logs carry no device cookie, so
the device feature is left out (``ScoringConfig(use_device=False)``, the published model), and
the service's window (183 days, 200 logins per account) is not applied: the history is the whole
file before the login.

The counts come from DuckDB (prefix sums per bucket, a join of the candidates with their
accounts' history); Python builds one `FrequencySnapshot` per scored login and calls the scorer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import duckdb

from mamori.analyze.progress import Progress
from mamori.risk.features import Level, LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot
from mamori.risk.policy import RiskPolicy
from mamori.risk.scoring import ScoringConfig, score_login

__all__ = ["GROUPS", "SAMPLE", "RiskScan", "ScoredLogin", "scan"]

SAMPLE: Final = 10_000
GROUPS: Final = ("confirmed", "new_country", "sample")
CONFIG: Final = ScoringConfig(use_device=False)

# risk level -> column of ev (user agent, browser and OS compared by their hashes)
LEVEL_COLUMNS: Final[tuple[tuple[Level, str], ...]] = (
    ("ip", "ip"),
    ("network", "rnet"),
    ("country", "country"),
    ("ua", "ua_h"),
    ("browser", "browser_h"),
    ("os", "os_h"),
    ("device_type", "device_type"),
)
COARSE: Final = LEVEL_COLUMNS[1:]  # levels with few values: counted per (value, bucket)


@dataclass(frozen=True, slots=True)
class ScoredLogin:
    rid: int
    group: str
    level: str
    log10_score: float
    reasons: tuple[str, ...]


@dataclass(slots=True)
class RiskScan:
    scored: list[ScoredLogin] = field(default_factory=list)
    ok_logins: int = 0  # logins with the right password in the file
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # group -> level -> logins

    def high(self) -> list[ScoredLogin]:
        return [s for s in self.scored if s.level == "high"]


def _candidates(con: duckdb.DuckDBPyConnection, *, sample_every: int) -> None:
    """Temp table ``cand``: the logins to score, with their group and level values."""
    levels = ", ".join(f"ev.{col} AS {name}" for name, col in LEVEL_COLUMNS)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cand_ids AS
        WITH pairs AS (
            SELECT login_id, country, min(ts) AS ts, arg_min(rid, ts) AS rid
            FROM ev WHERE ok GROUP BY login_id, country
        ), firsts AS (
            SELECT rid, ts > min(ts) OVER (PARTITION BY login_id) AS new FROM pairs
        ), ids AS (
            SELECT rid, 1 AS g FROM ev WHERE ok AND rid IN (SELECT rid FROM flagged)
            UNION ALL SELECT rid, 2 FROM firsts WHERE new
            UNION ALL SELECT rid, 3 FROM ev WHERE ok AND hash(rid, 'sample') % ? = 0
        )
        SELECT rid, min(g) AS g FROM ids GROUP BY rid
        """,
        [sample_every],
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cand AS
        SELECT ev.rid, ev.ts, ev.bucket, ev.login_id, {levels},
            ['confirmed', 'new_country', 'sample'][ids.g] AS grp
        FROM ev JOIN cand_ids ids ON ids.rid = ev.rid
        """  # noqa: S608 - our own column list
    )


def _user_counts(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``uc``: each candidate with N and per level c and D over its account's
    earlier successful logins (a join with the account's history: accounts are small)."""
    counts = ", ".join(
        f"count(h.rid) FILTER (h.{name} = c.{name}) AS c_{name}, "
        f"count(DISTINCT h.{name}) AS d_{name}"
        for name, _ in LEVEL_COLUMNS
    )
    levels = ", ".join(f"{col} AS {name}" for name, col in LEVEL_COLUMNS)
    cand_columns = ", ".join(f"c.{name}" for name, _ in LEVEL_COLUMNS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE uc AS
        WITH h AS (
            SELECT rid, ts, login_id, {levels} FROM ev
            WHERE logged_in AND login_id IN (SELECT login_id FROM cand)
        )
        SELECT c.rid, c.ts, c.bucket, c.grp, c.login_id, {cand_columns},
            count(h.rid) AS n, {counts}
        FROM cand c LEFT JOIN h ON h.login_id = c.login_id
            AND (h.ts < c.ts OR (h.ts = c.ts AND h.rid < c.rid))
        GROUP BY ALL
        """  # noqa: S608 - our own column list
    )


def _global_counts(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables ``gt`` (T, U per candidate bucket) and ``g_<level>`` (G and V per candidate):
    the population's counts at the start of the candidate's bucket (prefix sums per bucket).
    One scan of the successful logins feeds every count (grouping sets)."""
    sets = ", ".join(f"({col}, bucket)" for _, col in COARSE)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pop AS
        SELECT grouping_id({", ".join(col for _, col in COARSE)}, ip, login_id) AS gid,
            {", ".join(f"{col}::VARCHAR AS {name}" for name, col in COARSE)},
            ip, login_id, bucket, count(*) AS n, min(bucket) AS first
        FROM (SELECT * FROM ev WHERE logged_in)
        GROUP BY GROUPING SETS ({sets}, (ip), (login_id), (bucket))
        """  # noqa: S608 - our own column list
    )
    ids = {name: _gid(i) for i, (name, _) in enumerate(COARSE)}
    n = len(COARSE)
    ip_gid, user_gid, bucket_gid = _gid(n), _gid(n + 1), _gid_except(n)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE gt AS
        WITH steps AS (
            SELECT bucket, sum(n) OVER (ORDER BY bucket) AS t FROM pop WHERE gid = {bucket_gid}
        ), users AS (
            SELECT first AS bucket, count(*) AS n FROM pop WHERE gid = {user_gid} GROUP BY first
        ), usteps AS (
            SELECT bucket, sum(n) OVER (ORDER BY bucket) AS u FROM users
        ), cb AS (SELECT DISTINCT bucket FROM cand)
        SELECT cb.bucket, coalesce(s.t, 0) AS t, coalesce(us.u, 0) AS u
        FROM cb ASOF LEFT JOIN steps s ON cb.bucket > s.bucket
        ASOF LEFT JOIN usteps us ON cb.bucket > us.bucket
        """  # noqa: S608 - our own numbers
    )
    for name, _ in COARSE:
        _level_counts(
            con,
            name,
            per=f"SELECT {name} AS v, bucket, n FROM pop WHERE gid = {ids[name]}",  # noqa: S608
            firsts="SELECT v, min(bucket) AS first FROM ({per}) GROUP BY v",
            value=f"c.{name}::VARCHAR",
        )
    _level_counts(
        con,
        "ip",
        per=(
            "SELECT ip AS v, bucket, count(*) AS n FROM ev"
            " WHERE logged_in AND ip IN (SELECT ip FROM cand) GROUP BY ALL"
        ),
        firsts=f"SELECT ip AS v, first FROM pop WHERE gid = {ip_gid}",  # noqa: S608 - ours
        value="c.ip",
    )
    con.execute("DROP TABLE pop")


def _gid(i: int) -> int:
    """grouping_id of the set that groups by the i-th column of the grouping_id call only
    (and bucket, which is not in the call): every other bit is set."""
    total = len(COARSE) + 2
    return ((1 << total) - 1) & ~(1 << (total - 1 - i))


def _gid_except(_n: int) -> int:
    """grouping_id of the (bucket) set: none of the listed columns is grouped."""
    return (1 << (len(COARSE) + 2)) - 1


def _level_counts(
    con: duckdb.DuckDBPyConnection, name: str, *, per: str, firsts: str, value: str
) -> None:
    """Temp table ``g_<name>``: per candidate, G (logins with its value) and V (distinct
    values), both before the candidate's bucket."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_{name} AS
        WITH per AS ({per}), cum AS (
            SELECT v, bucket, sum(n) OVER (PARTITION BY v ORDER BY bucket) AS g FROM per
        ), firsts AS ({firsts.format(per="SELECT * FROM per")}), vsteps AS (
            SELECT first AS bucket, sum(count(*)) OVER (ORDER BY first) AS v
            FROM firsts GROUP BY first
        ), cv AS (SELECT c.rid, c.bucket, {value} AS v FROM cand c)
        SELECT cv.rid, coalesce(cum.g, 0) AS g, coalesce(vs.v, 0) AS vd
        FROM cv ASOF LEFT JOIN cum ON cv.v = cum.v AND cv.bucket > cum.bucket
        ASOF LEFT JOIN vsteps vs ON cv.bucket > vs.bucket
        """  # noqa: S608 - our own SQL
    )


def scan(
    con: duckdb.DuckDBPyConnection,
    policy: RiskPolicy,
    *,
    progress: Progress,
) -> RiskScan:
    """Score the candidates (see the module docstring). Needs temp table ``flagged`` (rid)."""
    progress.begin("scoring")
    row = con.execute("SELECT count(*) FROM ev WHERE ok").fetchone()
    ok_logins = int(row[0]) if row else 0
    result = RiskScan(ok_logins=ok_logins, counts={g: Counter() for g in GROUPS})
    _candidates(con, sample_every=max(1, ok_logins // SAMPLE))
    progress.advance(0.1)
    _user_counts(con)
    progress.advance(0.3)
    _global_counts(con)
    progress.advance(0.5)
    total = max(1, int((con.execute("SELECT count(*) FROM cand").fetchone() or (1,))[0]))
    names = [name for name, _ in LEVEL_COLUMNS]
    # the small per-candidate tables into dicts: one wide join of them costs DuckDB hundreds
    # of MiB of hash tables
    population = {
        int(b): (int(t), int(u)) for b, t, u in con.execute("SELECT * FROM gt").fetchall()
    }
    per_level = [
        {int(rid): (int(g), int(v)) for rid, g, v in con.execute(f"SELECT * FROM g_{n}").fetchall()}  # noqa: S608
        for n in names
    ]
    counts = ", ".join(f"c_{n}, d_{n}" for n in names)
    cursor = con.execute(
        f"""
        SELECT rid, bucket, grp, login_id, {", ".join(names)}, n, {counts}
        FROM uc ORDER BY ts, rid
        """,  # noqa: S608 - our own column names
    )
    k = len(names)
    done = 0
    while batch := cursor.fetchmany(10_000):
        for r in batch:
            rid, bucket, user = int(r[0]), int(r[1]), str(r[3])
            values = [str(v) for v in r[4 : 4 + k]]
            n = int(r[4 + k])
            c = r[5 + k : 5 + 3 * k]
            t, u = population[bucket]
            keys = list(zip(names, values, strict=True))
            snapshot = FrequencySnapshot(
                user=user,
                logins=t,
                users=u,
                own_logins=n,
                global_counts={key: per_level[i][rid][0] for i, key in enumerate(keys)},
                global_distincts={name: per_level[i][rid][1] for i, name in enumerate(names)},
                user_counts={key: int(c[2 * i]) for i, key in enumerate(keys)},
                user_distincts={name: int(c[2 * i + 1]) for i, name in enumerate(names)},
            )
            features = LoginFeatures(*values)
            assessment = score_login(
                snapshot, user=user, features=features, policy=policy, config=CONFIG
            )
            group = str(r[2])
            level = assessment.level if n > 0 else "no_history"
            result.counts[group][level] += 1
            result.scored.append(
                ScoredLogin(rid, group, level, assessment.log10_score, assessment.reasons)
            )
        done += len(batch)
        progress.advance(0.5 + 0.5 * done / total)
    progress.end()
    return result
