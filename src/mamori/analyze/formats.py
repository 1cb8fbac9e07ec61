"""The login-log formats `mamori analyze` reads, and the normalized rows it works on.

Two formats, each as CSV (with a header line) or JSON lines (one object per line), optionally
gzip-compressed; which one is told by the first line (`sniff`):

**rba** — the RBA dataset of Wiefling et al. (`rba-dataset.csv`): an optional unnamed or "index"
column, then ``Login Timestamp, User ID, Round-Trip Time [ms], IP Address, Country, Region, City,
ASN, User Agent String, Browser Name and Version, OS Name and Version, Device Type, Login
Successful, Is Attack IP, Is Account Takeover``. Timestamps are UTC ("2020-02-03 12:43:30.772");
booleans "True"/"False". Region, City and the round-trip time are not used.

**mamori** — our own export, the columns of the ``security_events`` table that describe a login:

    column       meaning
    at           ISO 8601 time with offset ("2026-11-22T08:00:00.123456Z"; no offset = UTC)
    type         login_success | login_failure | login_challenged (other types are skipped)
    result       ok | fail | challenge (informative)
    reason       login_failure: unknown_login_id marks a login ID that does not exist
    login_id     the submitted login ID (case-folded key)
    ip           client address
    user_agent   the User-Agent header
    browser      family and major version, "Chrome 131"
    os           family and version, "iOS 17.5"
    device_type  desktop | mobile | tablet | bot | other
    country      ISO 3166 alpha-2, "" when unknown
    asn          AS number, empty when unknown
    as_name      AS name, "" when unknown
    attack_ip         optional label: true when the row comes from an attacker's address
    account_takeover  optional label: true when the row is an attacker's successful login

A ``login_challenged`` row is a login whose password was right and that was asked for a second
step: the password is confirmed, nobody is logged in, and (as in the service) it counts as a
failure for the detector.

Every row becomes one row of the normalized table ``ev`` (see `NORMALIZED`); `export_sql` writes
``ev`` back out in the mamori format, so any input converts to ours losslessly for what the
analysis uses.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from mamori.errors import InputError

__all__ = [
    "MAMORI_COLUMNS",
    "NORMALIZED",
    "RBA_COLUMNS",
    "FileType",
    "Format",
    "Source",
    "export_sql",
    "normalize_sql",
    "sniff",
]

Format = Literal["rba", "mamori"]
FileType = Literal["csv", "jsonl"]

RBA_COLUMNS: Final = (
    "Login Timestamp",
    "User ID",
    "Round-Trip Time [ms]",
    "IP Address",
    "Country",
    "Region",
    "City",
    "ASN",
    "User Agent String",
    "Browser Name and Version",
    "OS Name and Version",
    "Device Type",
    "Login Successful",
    "Is Attack IP",
    "Is Account Takeover",
)
RBA_REQUIRED: Final = ("Login Timestamp", "User ID", "IP Address", "Login Successful")
RBA_LABELS: Final = ("Is Attack IP", "Is Account Takeover")

MAMORI_COLUMNS: Final = (
    "at",
    "type",
    "result",
    "reason",
    "login_id",
    "ip",
    "user_agent",
    "browser",
    "os",
    "device_type",
    "country",
    "asn",
    "as_name",
)
MAMORI_REQUIRED: Final = ("at", "type", "login_id", "ip")
MAMORI_LABELS: Final = ("attack_ip", "account_takeover")
LOGIN_TYPES: Final = ("login_success", "login_failure", "login_challenged")

NORMALIZED: Final = """
    rid         BIGINT   the row's number (DuckDB's rowid of the stored row)
    ts          BIGINT   microseconds since the epoch, UTC
    bucket      BIGINT   ts // the detector's bucket length
    login_id    VARCHAR
    ip          VARCHAR
    subnet      VARCHAR  the /24 (IPv4) or /64 (IPv6), "" when ip is no address
    network     VARCHAR  the detector's network source: AS name, else "AS<number>", else ""
    rnet        VARCHAR  the risk model's network level: "AS<number>", else the AS name
    country, device_type   VARCHAR
    ua_h, browser_h, os_h  UBIGINT  hashes of the user agent, the browser (family and major
                         version) and the OS: the analysis only compares them
    ua_fail     VARCHAR  the user agent's first 200 characters, on failures only (the report)
    ok          BOOLEAN  the password was right (login_success, login_challenged)
    fail        BOOLEAN  a failure for the detector (login_failure, login_challenged)
    logged_in   BOOLEAN  a session was created (login_success)
    unknown     BOOLEAN  the login ID does not exist (mamori: reason unknown_login_id)
    attack_ip   BOOLEAN  label, NULL when the file has none
    ato         BOOLEAN  label, NULL when the file has none
"""


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    format: Format
    file_type: FileType
    columns: tuple[str, ...]

    @property
    def labelled(self) -> bool:
        labels = RBA_LABELS if self.format == "rba" else MAMORI_LABELS
        return any(c in self.columns for c in labels)


def _first_line(path: Path) -> str:
    with path.open("rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        line = f.readline(1 << 20)
    return line.decode("utf-8-sig", errors="replace").strip()


def sniff(path: Path, *, format: str = "auto") -> Source:
    """Tell the file type (CSV or JSON lines) and format (rba or mamori) from the first line."""
    if not path.is_file():
        raise InputError(f"no such file: {path}", code="analyze_no_file", field="file")
    line = _first_line(path)
    if not line:
        raise InputError(f"{path} is empty", code="analyze_empty", field="file")
    file_type: FileType
    if line.startswith("{"):
        file_type = "jsonl"
        try:
            first = json.loads(line)
        except ValueError:
            raise InputError(
                f"{path}: the first line is not a JSON object", code="analyze_format", field="file"
            ) from None
        if not isinstance(first, dict):
            raise InputError(f"{path}: not JSON lines", code="analyze_format", field="file")
        columns = tuple(str(k) for k in first)
    else:
        file_type = "csv"
        columns = tuple(c.strip() for c in next(csv.reader(io.StringIO(line))))
    if format == "auto":
        if all(c in columns for c in RBA_REQUIRED):
            format = "rba"
        elif all(c in columns for c in MAMORI_REQUIRED):
            format = "mamori"
        else:
            raise InputError(
                f"{path}: neither the RBA format nor ours (columns: {', '.join(columns[:20])})",
                code="analyze_format",
                field="format",
            )
    if format not in ("rba", "mamori"):
        raise InputError(f"unknown format {format!r}", code="analyze_format", field="format")
    required = RBA_REQUIRED if format == "rba" else MAMORI_REQUIRED
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(
            f"{path}: missing columns for the {format} format: {', '.join(missing)}",
            code="analyze_format",
            field="format",
        )
    fmt: Format = "rba" if format == "rba" else "mamori"
    return Source(path=path, format=fmt, file_type=file_type, columns=columns)


def _col(source: Source, name: str) -> str:
    """A quoted column reference, or NULL when the file lacks the column."""
    if name not in source.columns:
        return "NULL"
    return '"' + name.replace('"', '""') + '"'


def _text(source: Source, name: str) -> str:
    return f"coalesce({_col(source, name)}, '')"


def _bool(source: Source, name: str) -> str:
    return f"TRY_CAST(trim({_col(source, name)}) AS BOOLEAN)"


def _browser_label(text: str) -> str:
    """ "Chrome 79.0.3945.130" -> "Chrome 79" (family and major version, as the service keeps
    it): the last word cut at its first dot. String functions, not a regular expression: this
    runs on every row."""
    last = f"strpos(reverse({text}), ' ')"
    return (
        f"CASE WHEN {last} > 1 THEN left({text}, length({text}) - {last}) || ' ' || "
        f"split_part(right({text}, {last} - 1), '.', 1) ELSE {text} END"
    )


def normalize_sql(source: Source, *, relation: str, text: bool = False) -> str:
    """SELECT turning the rows of ``relation`` (all columns VARCHAR) into stored rows (the
    columns of `NORMALIZED` that are stored, see `mamori.analyze.db`), plus ``keep`` (false
    for an event that is no login: the caller drops it). With ``text``, also ``ua``,
    ``browser`` and ``os`` as text (for `export_sql`)."""
    if source.format == "rba":
        asn = f"TRY_CAST(trim({_col(source, 'ASN')}) AS BIGINT)"
        ok = f"coalesce({_bool(source, 'Login Successful')}, false)"
        ua = _text(source, "User Agent String")
        browser = _browser_label(_text(source, "Browser Name and Version"))
        os = _text(source, "OS Name and Version")
        body = f"""
            epoch_us(TRY_CAST(trim({_col(source, "Login Timestamp")}) AS TIMESTAMP)) AS ts,
            {_text(source, "User ID")} AS login_id,
            {_text(source, "IP Address")} AS ip,
            coalesce('AS' || {asn}::VARCHAR, '') AS network,
            NULL::VARCHAR AS rnet,
            {_text(source, "Country")} AS country,
            lower({_text(source, "Device Type")}) AS device_type,
            {ok} AS ok,
            NOT {ok} AS fail,
            {ok} AS logged_in,
            false AS unknown,
            {_bool(source, "Is Attack IP")} AS attack_ip,
            {_bool(source, "Is Account Takeover")} AS ato,
            true AS keep"""
    else:
        asn = f"TRY_CAST(trim({_col(source, 'asn')}) AS BIGINT)"
        as_name = _text(source, "as_name")
        kind = f"lower({_text(source, 'type')})"
        ua = _text(source, "user_agent")
        browser = _text(source, "browser")
        os = _text(source, "os")
        body = f"""
            epoch_us(TRY_CAST(trim({_col(source, "at")}) AS TIMESTAMPTZ)) AS ts,
            {_text(source, "login_id")} AS login_id,
            {_text(source, "ip")} AS ip,
            coalesce(nullif({as_name}, ''), 'AS' || {asn}::VARCHAR, '') AS network,
            coalesce('AS' || {asn}::VARCHAR, {as_name}) AS rnet,
            {_text(source, "country")} AS country,
            lower({_text(source, "device_type")}) AS device_type,
            {kind} IN ('login_success', 'login_challenged') AS ok,
            {kind} IN ('login_failure', 'login_challenged') AS fail,
            {kind} = 'login_success' AS logged_in,
            {kind} = 'login_failure' AND {_text(source, "reason")} = 'unknown_login_id'
                AS unknown,
            {_bool(source, "attack_ip")} AS attack_ip,
            {_bool(source, "account_takeover")} AS ato,
            {kind} IN {tuple(LOGIN_TYPES)!r} AS keep"""
    texts = ", ua_raw AS ua, browser_raw AS browser, os_raw AS os" if text else ""
    return f"""
        SELECT * EXCLUDE (ua_raw, browser_raw, os_raw), NULL::VARCHAR AS s6,
            hash(ua_raw) AS ua_h, hash(browser_raw) AS browser_h, hash(os_raw) AS os_h,
            CASE WHEN fail THEN left(ua_raw, 200) END AS ua_fail {texts}
        FROM (
            SELECT {body}, {ua} AS ua_raw, {browser} AS browser_raw, {os} AS os_raw
            FROM {relation}
        )
    """  # noqa: S608 - column names are our constants, quoted


def export_sql(source: Source, *, relation: str) -> str:
    """SELECT writing the rows of ``relation`` (the raw input) in the mamori format, in file
    order: through `normalize_sql`, so exactly what the analysis reads."""
    labels = (
        ", CASE WHEN attack_ip IS NULL THEN NULL WHEN attack_ip THEN 'true' ELSE 'false' END"
        " AS attack_ip, CASE WHEN ato IS NULL THEN NULL WHEN ato THEN 'true' ELSE 'false' END"
        " AS account_takeover"
        if source.labelled
        else ""
    )
    return f"""
        SELECT strftime(make_timestamp(ts), '%Y-%m-%dT%H:%M:%S.%fZ') AS at,
            CASE WHEN logged_in THEN 'login_success' WHEN ok THEN 'login_challenged'
                 ELSE 'login_failure' END AS type,
            CASE WHEN logged_in THEN 'ok' WHEN ok THEN 'challenge' ELSE 'fail' END AS result,
            CASE WHEN unknown THEN 'unknown_login_id' WHEN NOT ok THEN 'wrong_password'
                 ELSE '' END AS reason,
            login_id, ip, ua AS user_agent, browser, os, device_type, country,
            TRY_CAST(CASE WHEN r LIKE 'AS%' THEN substr(r, 3) END AS BIGINT) AS asn,
            CASE WHEN network = r AND TRY_CAST(CASE WHEN r LIKE 'AS%' THEN substr(r, 3) END
                      AS BIGINT) IS NOT NULL THEN '' ELSE network END AS as_name
            {labels}
        FROM (
            SELECT *, coalesce(rnet, network) AS r
            FROM ({normalize_sql(source, relation=relation, text=True)})
        ) WHERE keep
    """  # noqa: S608 - our own SQL
