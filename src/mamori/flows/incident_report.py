"""The incident report: JSON (API, `show`), Markdown and CSV. Pure: an `Analysis` in, text out.

Markdown: period, detection, volumes, sources, targeted login IDs, the affected accounts by
country (the LINE table) and the actions taken with their times. CSV: one row per affected
account (id, login ID, country, password confirmed / logged in, how, where from, and when each
response reached it). Cells that a spreadsheet would run as a formula are quoted with `'`.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from mamori.flows.incidents import Affected, Analysis, Source

TOP_SOURCES = 20
CSV_FIELDS = (
    "account_id",
    "login_id",
    "country",
    "password_confirmed",
    "logged_in",
    "evidence",
    "first_seen",
    "ip",
    "network",
    "event_country",
    "reset_at",
    "notified_at",
)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def _affected_json(a: Affected) -> dict[str, Any]:
    return {
        "account_id": a.account_id,
        "login_id": a.login_id,
        "logged_in": a.logged_in,
        "first_at": a.first_at.isoformat(),
        "ip": a.ip,
        "network": a.as_name,
        "event_country": a.event_country,
        "country": a.country,
        "evidence": list(a.evidence),
    }


def _source_json(s: Source) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "value": s.value,
        "why": s.why,
        "first_at": _iso(s.first_at),
        "attempts": s.attempts,
        "failures": s.failures,
    }


def top_sources(a: Analysis, n: int = TOP_SOURCES) -> list[Source]:
    return sorted(a.sources, key=lambda s: (-s.failures, -s.attempts, s.kind, s.value))[:n]


def timeline(a: Analysis) -> list[tuple[datetime, str]]:
    """What happened when: the window, bans, detection, first confirmation, actions, close."""
    inc = a.incident
    items: list[tuple[datetime, str]] = [(a.since, "window starts (the detector's window)")]
    items.append((inc.opened_at, "attack detected; incident opened"))
    bans = [s for s in a.sources if s.first_at is not None]
    if bans:
        first = min(bans, key=lambda s: s.first_at or a.since)
        items.append((first.first_at or a.since, f"first source banned ({first.key})"))
        items.append(
            (max(s.first_at or a.since for s in bans), f"{len(bans)} sources banned by then")
        )
    if a.confirmed:
        first_hit = min(a.confirmed, key=lambda x: x.first_at)
        items.append((first_hit.first_at, "first password confirmed from an attack source"))
    for act in a.actions:
        items.append((act.created_at, f"{act.kind} started by {act.actor} ({act.total} targets)"))
        if act.finished_at:
            items.append((act.finished_at, f"{act.kind} finished ({act.done}/{act.total} done)"))
    if inc.closed_at:
        items.append((inc.closed_at, "attack over; incident closed"))
    return sorted(items, key=lambda x: x[0])


def summary_json(a: Analysis) -> dict[str, Any]:
    inc = a.incident
    return {
        "id": inc.id,
        "status": inc.status,
        "opened_at": inc.opened_at.isoformat(),
        "closed_at": _iso(inc.closed_at),
        "since": a.since.isoformat(),
        "until": a.until.isoformat(),
        "reasons": list(inc.summary.get("reasons", [])),
        "signals": inc.summary.get("signals", {}),
    }


def to_json(a: Analysis) -> dict[str, Any]:
    v = a.volumes
    return {
        **summary_json(a),
        "volumes": {
            "attempts": v.attempts,
            "failures": v.failures,
            "confirmations": v.confirmations,
            "from_sources": v.from_sources,
            "failures_from_sources": v.failures_from_sources,
            "ips_from_sources": v.ips_from_sources,
            "distinct_ips": v.distinct_ips,
            "distinct_login_ids": v.distinct_login_ids,
            "targeted_accounts": a.targeted_accounts,
        },
        "sources": [_source_json(s) for s in a.sources],
        "top_targets": [
            {"login_id": login_id, "attempts": n, "failures": f} for login_id, n, f in a.top_targets
        ],
        "password_confirmed": [_affected_json(x) for x in a.confirmed],
        "logged_in": [_affected_json(x) for x in a.logged_in],
        "by_country": [{"country": c, "accounts": n} for c, n in a.by_country()],
        "actions": [
            {
                "id": act.id,
                "kind": act.kind,
                "status": act.status,
                "actor": act.actor,
                "created_at": act.created_at.isoformat(),
                "finished_at": _iso(act.finished_at),
                "total": act.total,
                "done": act.done,
                "params": act.params,
            }
            for act in a.actions
        ],
        "timeline": [{"at": at.isoformat(), "what": what} for at, what in timeline(a)],
    }


def _md(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def markdown(a: Analysis) -> str:
    inc, v = a.incident, a.volumes
    minutes = max(0, round((a.until - a.since).total_seconds() / 60))
    out = [f"# Incident {inc.id}: credential stuffing", ""]
    out += _table(
        ("", ""),
        [
            ("Status", inc.status),
            ("Period", f"{_when(a.since)} – {_when(a.until)} ({minutes} min)"),
            ("Detected", _when(inc.opened_at)),
            ("Closed", _when(inc.closed_at)),
            ("Detection", "; ".join(str(r) for r in inc.summary.get("reasons", [])) or "—"),
        ],
    )
    out += ["", "## Volumes", ""]
    out += _table(
        (
            "",
            "Attempts",
            "Failures",
            "Right passwords",
            "Distinct IPs",
            "Distinct login IDs",
            "Accounts targeted",
        ),
        [
            (
                "All traffic",
                v.attempts,
                v.failures,
                v.confirmations,
                v.distinct_ips,
                v.distinct_login_ids,
                "",
            ),
            (
                "From attack sources",
                v.from_sources,
                v.failures_from_sources,
                v.from_sources - v.failures_from_sources,
                v.ips_from_sources,
                "",
                a.targeted_accounts,
            ),
        ],
    )
    shown = top_sources(a)
    out += ["", f"## Sources ({len(a.sources)} in all; top {len(shown)} by failures)", ""]
    out += _table(
        ("Kind", "Source", "Why", "Banned at", "Attempts", "Failures"),
        [(s.kind, s.value, s.why, _when(s.first_at), s.attempts, s.failures) for s in shown],
    )
    out += ["", "## Most targeted accounts (from attack sources)", ""]
    out += _table(("Login ID", "Attempts", "Failures"), list(a.top_targets))
    out += [
        "",
        "## Affected accounts",
        "",
        f"- Password confirmed from attack sources: **{len(a.confirmed)}**",
        f"- Logged in from attack sources: **{len(a.logged_in)}**",
        "",
        "### By country",
        "",
    ]
    out += _table(("Country", "Accounts"), [*a.by_country(), ("Total", len(a.confirmed))])
    out += [
        "",
        "Country: of the account's last login before the incident, else of the attack request.",
        "",
        "## Actions taken",
        "",
    ]
    out += _table(
        ("Action", "By", "Started", "Finished", "Done", "Status"),
        [
            (
                act.kind,
                act.actor,
                _when(act.created_at),
                _when(act.finished_at),
                f"{act.done}/{act.total}",
                act.status,
            )
            for act in a.actions
        ],
    )
    out += ["", "## Timeline", ""]
    out += _table(("Time", "What"), [(_when(at), what) for at, what in timeline(a)])
    return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(a: Analysis) -> str:
    """One row per affected account, with when each response reached it."""
    reached: dict[tuple[str, str], datetime] = {}
    for kind, target, at in a.done:
        reached.setdefault((kind, target), at)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for x in a.confirmed:
        target = str(x.account_id)
        writer.writerow(
            [
                _cell(c)
                for c in (
                    x.account_id,
                    x.login_id,
                    x.country,
                    "yes",
                    "yes" if x.logged_in else "no",
                    " ".join(x.evidence),
                    x.first_at.isoformat(),
                    x.ip,
                    x.as_name,
                    x.event_country,
                    _iso(reached.get(("reset", target))),
                    _iso(reached.get(("notify", target))),
                )
            ]
        )
    return buf.getvalue()
