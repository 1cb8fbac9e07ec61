"""`analyze`: the whole analysis of one file, stage by stage (see the package docstring)."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mamori.analyze import db, flags, riskscan
from mamori.analyze.detection import Outcome, replay
from mamori.analyze.formats import Source, export_sql, sniff
from mamori.analyze.progress import NullProgress, Progress
from mamori.defense.policy import DefensePolicy
from mamori.risk.policy import RiskPolicy

__all__ = ["Analysis", "Options", "Totals", "analyze", "export"]


@dataclass(frozen=True, slots=True)
class Options:
    format: str = "auto"  # auto | rba | mamori
    policy: DefensePolicy = field(default_factory=DefensePolicy)
    risk_policy: RiskPolicy = field(default_factory=RiskPolicy)
    risk: bool = True  # score the logins the report needs (riskscan)
    memory_limit: str = "512MB"  # DuckDB's; it spills past it
    threads: int = 0  # 0: the CPUs this process may use
    workdir: Path | None = None  # scratch folder for DuckDB's spill files (default: a temp dir)


@dataclass(frozen=True, slots=True)
class Totals:
    attempts: int
    failures: int  # failures for the detector (challenged logins included)
    confirmed: int  # password right
    logged_in: int
    accounts: int  # distinct login IDs
    ips: int


@dataclass(slots=True)
class Analysis:
    source: Source
    loaded: db.Loaded
    policy: DefensePolicy
    totals: Totals
    outcome: Outcome
    bans: list[flags.Ban]
    coverage: list[flags.Coverage]
    flagged: int
    ban_incidents: list[int]  # per ban, its incident (1-based; 0: none)
    activity: list[flags.Activity]  # per incident
    affected: list[flags.Affected]
    risk: riskscan.RiskScan | None
    scores: list[flags.Score]  # empty when the file has no labels
    seconds: dict[str, float]  # per stage

    @property
    def elapsed(self) -> float:
        return sum(self.seconds.values())

    def by_country(self, incident: int | None = None) -> list[tuple[str, int, int]]:
        """(country, accounts whose password was confirmed, of them logged in), most first;
        for one incident (1-based) or all."""
        confirmed: Counter[str] = Counter()
        logged: Counter[str] = Counter()
        for a in self.affected:
            if incident is not None and a.incident != incident:
                continue
            confirmed[a.country] += 1
            logged[a.country] += a.logged_in
        return [
            (c, n, logged[c]) for c, n in sorted(confirmed.items(), key=lambda x: (-x[1], x[0]))
        ]


def _threads(requested: int) -> int:
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def analyze(path: Path, options: Options, *, progress: Progress | None = None) -> Analysis:
    """Read ``path`` and run the defenses and the risk scorer over it (see the package doc)."""
    progress = progress or NullProgress()
    source = sniff(path, format=options.format)
    with tempfile.TemporaryDirectory(prefix="mamori-analyze-", dir=options.workdir) as scratch:
        con = db.connect(
            Path(scratch), memory_limit=options.memory_limit, threads=_threads(options.threads)
        )
        try:
            return _analyze(con, source, options, progress)
        finally:
            con.close()


def _analyze(
    con: duckdb.DuckDBPyConnection, source: Source, options: Options, progress: Progress
) -> Analysis:
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    policy = options.policy
    bucket_us = max(1, round(policy.bucket_seconds * 1e6))
    loaded = db.load(con, source, bucket_us=bucket_us, progress=progress)
    lap("read")
    totals = _totals(con)
    outcome = replay(con, policy, bucket_us=bucket_us, progress=progress)
    lap("detect")
    progress.begin("flagging")
    bans = flags.bans_of(outcome.orders)
    margin = int(policy.under_attack * 1e6)
    ban_incidents = [flags.incident_of(b, outcome.incidents, margin=margin) for b in bans]
    coverage = flags.flag_rows(con, bans, incidents=ban_incidents)
    row = con.execute("SELECT count(*) FROM flagged").fetchone()
    flagged = int(row[0]) if row else 0
    affected = flags.affected_accounts(con)
    activity = flags.incident_activity(con, len(outcome.incidents))
    progress.end()
    lap("flag")
    risk = riskscan.scan(con, options.risk_policy, progress=progress) if options.risk else None
    lap("score")
    scores: list[flags.Score] = []
    if loaded.labelled:
        high = [s.rid for s in risk.high()] if risk else []
        scores = flags.label_scores(con, high_risk=high)
    lap("compare")
    return Analysis(
        source=source,
        loaded=loaded,
        policy=policy,
        totals=totals,
        outcome=outcome,
        bans=bans,
        coverage=coverage,
        flagged=flagged,
        ban_incidents=ban_incidents,
        activity=activity,
        affected=affected,
        risk=risk,
        scores=scores,
        seconds=seconds,
    )


def _totals(con: duckdb.DuckDBPyConnection) -> Totals:
    row = con.execute(
        "SELECT count(*), count(*) FILTER (fail), count(*) FILTER (ok),"
        " count(*) FILTER (logged_in), approx_count_distinct(login_id),"
        " approx_count_distinct(ip) FROM ev"
    ).fetchone()
    assert row is not None
    return Totals(*(int(x) for x in row))


def export(path: Path, target: Path, *, format: str = "auto", memory_limit: str = "512MB") -> int:
    """Write the login rows of ``path`` to ``target`` in the mamori format (JSON lines when
    ``target`` ends in .jsonl/.ndjson/.json, else CSV); returns the rows written."""
    source = sniff(path, format=format)
    with tempfile.TemporaryDirectory(prefix="mamori-export-") as scratch:
        con = db.connect(Path(scratch), memory_limit=memory_limit, threads=_threads(0))
        try:
            db.open_input(con, source)
            json_out = target.suffix.lower() in (".jsonl", ".ndjson", ".json")
            options = "FORMAT json" if json_out else "HEADER"
            quoted = str(target).replace("'", "''")
            row = con.execute(
                f"COPY ({export_sql(source, relation='raw_input')}) TO '{quoted}' ({options})"
            ).fetchone()
            return int(row[0]) if row else 0
        finally:
            con.close()
