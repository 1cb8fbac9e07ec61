"""The DuckDB side: an in-process database, the one streaming pass that loads the file.

The input is read once, in parallel, by DuckDB's CSV or JSON reader, and its rows, normalized
(the columns the analysis uses; the user agent as a hash), go into table ``ev``. DuckDB's memory
limit bounds what it keeps in memory: table blocks, joins, sorts and aggregations past it are
written to a scratch folder, so the size of the file does not decide the memory used. Every
later step is a query over ``ev``; the rows never pass through Python.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mamori.analyze.formats import Source, normalize_sql
from mamori.analyze.progress import Progress
from mamori.netaddr import subnet_of

__all__ = ["Loaded", "connect", "load", "open_input", "run"]


def connect(workdir: Path, *, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(workdir / "spill")])
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = true")  # query_progress() needs it
    con.execute("SET enable_progress_bar_print = false")
    # the /24 of an IPv4 address; IPv6 rows carry their /64 in s6 (see _fill_ipv6_subnets)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO sn(ip, s6) AS coalesce(s6, CASE WHEN ip = '' OR"
        " ip = '0.0.0.0' OR NOT contains(ip, '.') THEN '' ELSE"
        " left(ip, length(ip) - strpos(reverse(ip), '.')) || '.0/24' END)"
    )
    return con


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
    *,
    progress: Progress | None = None,
) -> duckdb.DuckDBPyConnection:
    """Execute one statement; while it runs, report DuckDB's own progress estimate."""
    if progress is None:
        return con.execute(sql, params)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            percent = con.query_progress()
            if percent >= 0:
                progress.advance(min(percent, 100.0) / 100.0)

    watcher = threading.Thread(target=poll, name="mamori-analyze-progress", daemon=True)
    watcher.start()
    try:
        return con.execute(sql, params)
    finally:
        done.set()
        watcher.join()


def open_input(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """View ``raw_input``: the file as DuckDB streams it, every column as text."""
    path = str(source.path)
    with source.path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if source.file_type == "csv":
        raw = con.read_csv(
            path, header=True, all_varchar=True, compression="gzip" if gzipped else "none"
        )
    else:
        raw = con.read_json(
            path,
            format="newline_delimited",
            columns=dict.fromkeys(source.columns, "VARCHAR"),
            compression="gzip" if gzipped else "none",
        )
    raw.create_view("raw_input", replace=True)


@dataclass(frozen=True, slots=True)
class Loaded:
    read: int  # rows in the file
    rows: int  # login rows kept
    skipped_events: int  # mamori format: events that are not logins
    bad_time: int  # rows whose time could not be read
    start_us: int
    end_us: int
    labelled: bool  # some row carries the attack labels


def load(
    con: duckdb.DuckDBPyConnection, source: Source, *, bucket_us: int, progress: Progress
) -> Loaded:
    """Read the file into table ``logins`` and define view ``ev`` over it (the columns of
    `mamori.analyze.formats.NORMALIZED`; ``bucket`` = ts // bucket_us)."""
    open_input(con, source)
    select = normalize_sql(source, relation="raw_input")
    progress.begin("reading")
    create = f"CREATE OR REPLACE TABLE logins AS SELECT *, ts // {int(bucket_us)} AS bucket"
    run(con, f"{create} FROM ({select})", progress=progress)
    con.execute("DROP VIEW raw_input")
    progress.end()
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (NOT keep), count(*) FILTER (keep AND ts IS NULL)"
        " FROM logins"
    ).fetchone()
    assert counts is not None
    read, skipped, bad = (int(x) for x in counts)
    if skipped or bad:
        con.execute("DELETE FROM logins WHERE NOT keep OR ts IS NULL")
    _fill_ipv6_subnets(con)
    con.execute(
        """
        CREATE OR REPLACE VIEW ev AS SELECT rowid AS rid, ts, bucket, login_id, ip,
            sn(ip, s6) AS subnet, network, coalesce(rnet, network) AS rnet, country,
            device_type, ua_h, browser_h, os_h, ua_fail, ok, fail, logged_in, unknown,
            attack_ip, ato
        FROM logins
        """
    )
    row = con.execute(
        "SELECT count(*), min(ts), max(ts), bool_or(attack_ip IS NOT NULL OR ato IS NOT NULL)"
        " FROM logins"
    ).fetchone()
    assert row is not None
    return Loaded(
        read=read,
        rows=int(row[0]),
        skipped_events=skipped,
        bad_time=bad,
        start_us=int(row[1] or 0),
        end_us=int(row[2] or 0),
        labelled=bool(row[3]),
    )


def _fill_ipv6_subnets(con: duckdb.DuckDBPyConnection) -> None:
    """The /64 of each IPv6 address, by `mamori.netaddr.subnet_of` (the service's own rule)."""
    found = con.execute("SELECT DISTINCT ip FROM logins WHERE contains(ip, ':')").fetchall()
    ips = [str(r[0]) for r in found]
    if not ips:
        return
    subnets = []
    for ip in ips:
        try:
            subnets.append(subnet_of(ip))
        except ValueError:
            subnets.append("")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE v6 AS SELECT unnest(?::VARCHAR[]) AS ip,"
        " unnest(?::VARCHAR[]) AS subnet",
        [ips, subnets],
    )
    con.execute("UPDATE logins SET s6 = v6.subnet FROM v6 WHERE logins.ip = v6.ip")
    con.execute("DROP TABLE v6")
