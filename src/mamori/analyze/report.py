"""The analysis as an incident report: Markdown, and CSV of the affected accounts by country
(LINE's table: accounts whose password the attackers confirmed, per country) and one by one."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mamori.analyze.flags import Score
from mamori.analyze.riskscan import GROUPS, SAMPLE
from mamori.analyze.run import Analysis

__all__ = ["accounts_csv", "by_country_csv", "markdown", "write"]

DETAILED_INCIDENTS = 20
TOP_BANS = 25
LEVELS = ("low", "medium", "high", "no_history")

Emit = Callable[[str], None]


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    return f"{secs} s"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _country(code: str) -> str:
    return code or "unknown"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(a: Analysis, *, rows_per_second: float | None = None) -> str:
    out: list[str] = []
    w = out.append
    t, ld, p = a.totals, a.loaded, a.policy
    w(f"# Login log analysis: `{_cell(a.source.path.name)}`\n")
    kind = "CSV" if a.source.file_type == "csv" else "JSON lines"
    w(f"- **File**: {a.source.format} format, {kind}; {ld.read:,} rows read, {ld.rows:,} logins")
    if ld.skipped_events or ld.bad_time:
        w(
            f"  (skipped: {ld.skipped_events:,} events that are no login, "
            f"{ld.bad_time:,} rows whose time could not be read)"
        )
    if ld.rows:
        w(
            f"- **Period**: {_when(ld.start_us)} to {_when(ld.end_us)} UTC "
            f"({_span((ld.end_us - ld.start_us) / 1e6)})"
        )
    w(
        f"- **Detector**: buckets of {p.bucket_seconds:g} s, windows of 2 buckets, history of "
        f"{p.history_buckets} buckets; asked about {a.outcome.evaluated:,} windows"
    )
    if rows_per_second is not None:
        w(f"- **Analysis**: {a.elapsed:.1f} s, {rows_per_second:,.0f} rows/s")
    w("")
    w("## Summary\n")
    w("| attempts | failures | password confirmed | logged in | login IDs | IPs |")
    w("|---:|---:|---:|---:|---:|---:|")
    w(
        f"| {t.attempts:,} | {t.failures:,} ({_pct(t.failures, t.attempts)}) | {t.confirmed:,} "
        f"| {t.logged_in:,} | ~{t.accounts:,} | ~{t.ips:,} |\n"
    )
    kinds = Counter(b.kind for b in a.bans)
    confirmed = len(a.affected)
    logged = sum(x.logged_in for x in a.affected)
    w(f"- **Incidents** (credential stuffing detected): {len(a.outcome.incidents)}")
    w(
        f"- **Sources banned**: {len(a.bans):,} (IP {kinds['ip']:,}, CIDR {kinds['cidr']:,}, "
        f"network {kinds['network']:,}); rows from them while banned or as evidence: "
        f"{a.flagged:,} ({_pct(a.flagged, ld.rows)} of the logins)"
    )
    w(
        f"- **Accounts whose password was confirmed from attack sources**: {confirmed:,} "
        f"(logged in: {logged:,})"
    )
    w(f"- **Login IDs that would have been locked**: {len(a.outcome.locks):,}\n")
    w("## Affected accounts by country\n")
    w(
        "Accounts whose password was confirmed (a successful login) from a banned source, by "
        "the country the account usually logs in from (its other successful logins; "
        '"unknown" when it has none).\n'
    )
    _country_table(w, a.by_country())
    if a.scores:
        _scores(w, a.scores)
    _incidents(w, a)
    _bans(w, a)
    _risk(w, a)
    _method(w, a)
    return "\n".join(out) + "\n"


def _country_table(w: Emit, rows: list[tuple[str, int, int]]) -> None:
    w("| country | password confirmed | logged in |")
    w("|---|---:|---:|")
    for country, n, logged in rows:
        w(f"| {_cell(_country(country))} | {n:,} | {logged:,} |")
    w(f"| **total** | **{sum(r[1] for r in rows):,}** | **{sum(r[2] for r in rows):,}** |\n")


def _scores(w: Emit, scores: list[Score]) -> None:
    w("## Precision and recall against the file's labels\n")
    w("| flags | true positives | false positives | missed | precision | recall |")
    w("|---|---:|---:|---:|---:|---:|")
    for s in scores:
        w(
            f"| {s.name} | {s.tp:,} | {s.fp:,} | {s.fn:,} | {_ratio(s.precision)} "
            f"| {_ratio(s.recall)} |"
        )
    w("")
    w(
        "- *attack rows*: rows from banned sources (while banned, or the evidence that got them "
        "banned) vs. `Is Attack IP`; *attack IPs*: addresses with at least one such row vs. "
        "addresses with a labelled row.\n"
        '- *takeover rows*: successful logins from banned sources or rated "high" by the risk '
        "scorer vs. `Is Account Takeover`; *(flagged sources only)* without the scorer; "
        "*taken-over accounts*: the same per account.\n"
    )


def _incidents(w: Emit, a: Analysis) -> None:
    incidents = a.outcome.incidents
    w("## Incidents\n")
    if not incidents:
        w("The detector found no credential-stuffing attack.\n")
        return
    w(
        "An incident is a run of detector windows under attack, each within the "
        f'{a.policy.under_attack / 60:g}-minute "under attack" period of the one before (when '
        "the service opens and closes its incident). Its *sources* are those banned during it; "
        "their activity is what they did while banned and as evidence.\n"
    )
    per_incident: dict[int, Counter[str]] = {}
    for b, number in zip(a.bans, a.ban_incidents, strict=True):
        per_incident.setdefault(number, Counter())[b.kind] += 1
    if len(incidents) > DETAILED_INCIDENTS:
        w("| # | start (UTC) | end | windows | banned sources | accounts confirmed |")
        w("|---:|---|---|---:|---:|---:|")
        confirmed = Counter(x.incident for x in a.affected)
        for n, inc in enumerate(incidents, 1):
            w(
                f"| {n} | {_when(inc.start)} | {_when(inc.end)} | {inc.windows} "
                f"| {sum(per_incident.get(n, Counter()).values()):,} | {confirmed[n]:,} |"
            )
        w(f"\nThe first {DETAILED_INCIDENTS} in detail:\n")
    for n, inc in enumerate(incidents[:DETAILED_INCIDENTS], 1):
        act = a.activity[n - 1]
        kinds = per_incident.get(n, Counter())
        w(
            f"### Incident {n}: {_when(inc.start)} to {_when(inc.end)} UTC "
            f"({_span((inc.end - inc.start) / 1e6)}, {inc.windows} attack windows)\n"
        )
        w(f"- **Detected**: {'; '.join(inc.reasons)}")
        peak = inc.peak
        w(
            f"- **Peak window**: {peak.get('failures', 0):,.0f} failures of "
            f"{peak.get('attempts', 0):,.0f} attempts (ratio {peak.get('failure_ratio', 0):.2f}), "
            f"{peak.get('login_ids_per_ip', 0):.1f} login IDs per IP"
        )
        w(
            f"- **Sources banned**: IP {kinds['ip']:,}, CIDR {kinds['cidr']:,}, "
            f"network {kinds['network']:,}"
        )
        if act.attempts:
            w(
                f"- **Their activity**: {_when(act.first)} to {_when(act.last)} UTC, "
                f"{act.attempts:,} attempts, {act.failures:,} failures, {act.confirmed:,} "
                f"passwords confirmed, {act.login_ids:,} login IDs tried from {act.ips:,} IPs"
            )
            w(
                "- **Failures by country**: "
                + ", ".join(f"{_country(c)} {k:,}" for c, k in act.countries)
            )
            agents = ", ".join(
                f"`{_cell(u)[:80]}` {_pct(k, act.failures)}"
                for u, k in act.user_agents
                if k >= act.failures / 100
            )
            w(f"- **Top user agents of the failures**: {agents}")
        rows = a.by_country(n)
        w(f"- **Accounts whose password was confirmed**: {sum(r[1] for r in rows):,}\n")
        if rows:
            _country_table(w, rows)


def _bans(w: Emit, a: Analysis) -> None:
    w("## Bans\n")
    if not a.bans:
        w("No source would have been banned.\n")
        return
    reasons = Counter(r for b in a.bans for r in b.reasons)
    w(
        "Reasons (a source may have several): "
        + ", ".join(f"{r} {n:,}" for r, n in reasons.most_common())
    )
    w(f"\nThe {min(TOP_BANS, len(a.bans))} bans covering most rows:\n")
    w("| kind | value | reasons | from (UTC) | to | attempts | failures | confirmed | incident |")
    w("|---|---|---|---|---|---:|---:|---:|---:|")
    order = sorted(range(len(a.bans)), key=lambda i: (-a.coverage[i].attempts, a.bans[i].lo))
    for i in order[:TOP_BANS]:
        b, c = a.bans[i], a.coverage[i]
        w(
            f"| {b.kind} | {_cell(b.value)} | {', '.join(b.reasons)} | {_when(b.lo)} "
            f"| {_when(b.hi)} | {c.attempts:,} | {c.failures:,} | {c.successes:,} "
            f"| {a.ban_incidents[i] or '-'} |"
        )
    w("")


def _risk(w: Emit, a: Analysis) -> None:
    w("## Risk scoring\n")
    risk = a.risk
    if risk is None:
        w("Not run (`--no-risk`).\n")
        return
    w(
        f"Scored with the service's scorer (`mamori.risk.scoring.score_login`, the device "
        f"feature left out: the logs carry no device cookie), {len(risk.scored):,} of the "
        f"{risk.ok_logins:,} logins with the right password:\n\n"
        "- **confirmed**: every one from a banned source;\n"
        "- **new country**: every first one of an account from a country, when the account had "
        "logged in before;\n"
        f"- **sample**: about {SAMPLE:,} of the others, picked by a hash of the row.\n\n"
        "Each against the successful logins before it: the account's own counts exactly, the "
        "population's as they stood at the start of its detector bucket. The whole file before "
        "the login is the history (the service keeps 183 days and 200 logins per account). "
        'Logins of accounts with no earlier successful login are "no_history" (the service '
        "ignores their score).\n"
    )
    w("| group | scored | " + " | ".join(LEVELS) + " |")
    w("|---|---:|" + "---:|" * len(LEVELS))
    for group in GROUPS:
        counts = risk.counts.get(group, Counter())
        total = sum(counts.values())
        cells = " | ".join(f"{counts[level]:,} ({_pct(counts[level], total)})" for level in LEVELS)
        w(f"| {group.replace('_', ' ')} | {total:,} | {cells} |")
    w(
        '\nA login rated "high" is an account-takeover candidate; "medium" is what a new '
        "browser scores in most populations (the service challenges it unless the device is "
        "known).\n"
    )


def _method(w: Emit, a: Analysis) -> None:
    w("## Method\n")
    w(
        "- The credential-stuffing detector (`mamori.defense.stuffing.detect`) and the "
        "relative subnet/network rules ran once per bucket over the last two buckets, in time "
        "order, with the live service's inputs (totals, the history before, the 50 busiest "
        "sources per bucket and kind, hourly baselines), aggregated by DuckDB; windows with too "
        "few failures for any rule to fire were skipped (exact).\n"
        "- The IP rules (`ip_rules`) and the per-login-ID lock (`judge_attempt`) ran on trailing "
        'window counts; the lower "under attack" thresholds applied during the detector\'s '
        "attack periods. The logs carry no device cookies: every client counts as unrecognized.\n"
        "- A ban flags the rows of its source from the start of its evidence until it would "
        "have run out after its last renewal; the live service would have refused them.\n"
    )
    if a.source.format == "rba":
        w(
            "- The RBA format does not say whether a login ID exists, so the detector's "
            "unknown-login-ID signal is 0.\n"
        )


def by_country_csv(a: Analysis) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["incident", "country", "accounts_password_confirmed", "accounts_logged_in"])
    for country, n, logged in a.by_country():
        out.writerow(["all", _country(country), n, logged])
    for number in range(1, len(a.outcome.incidents) + 1):
        for country, n, logged in a.by_country(number):
            out.writerow([number, _country(country), n, logged])
    for country, n, logged in a.by_country(0):
        out.writerow(["none", _country(country), n, logged])
    return buf.getvalue()


def accounts_csv(a: Analysis) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(
        [
            "login_id",
            "country",
            "first_confirmed_utc",
            "confirmations",
            "logged_in",
            "source_ips",
            "incident",
        ]
    )
    for x in a.affected:
        out.writerow(
            [
                x.login_id,
                _country(x.country),
                _when(x.first),
                x.confirmations,
                "yes" if x.logged_in else "no",
                " ".join(x.sources),
                x.incident or "none",
            ]
        )
    return buf.getvalue()


def write(a: Analysis, out: Path, *, rows_per_second: float | None = None) -> list[Path]:
    """Write ``out`` (Markdown) and, beside it, ``<stem>.by-country.csv`` and
    ``<stem>.accounts.csv``; returns the three paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    paths = [out, Path(f"{stem}.by-country.csv"), Path(f"{stem}.accounts.csv")]
    paths[0].write_text(markdown(a, rows_per_second=rows_per_second), encoding="utf-8")
    paths[1].write_text(by_country_csv(a), encoding="utf-8")
    paths[2].write_text(accounts_csv(a), encoding="utf-8")
    return paths
