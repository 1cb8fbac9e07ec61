"""The report: `report.md` (tables), `results.json` (every number), PNG plots (matplotlib with
the Agg backend: attempts over time with the detection marks, legitimate friction by user
type). One run, or a suite (a combined report on top, one sub-report per scenario).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mamori.simulate.outcomes import (
    GOAL_CHALLENGED_SHARE,
    LEGIT_RESULTS,
    CampaignOutcome,
    FrictionRow,
    Goal,
    Outcomes,
    goals,
    legit_outcome,
)
from mamori.simulate.runner import RunResult
from mamori.simulate.server import compressed_env

ATTACK_CATEGORIES = (
    ("reached the hash", "#d62728"),
    ("banned source", "#7f7f7f"),
    ("locked", "#ff7f0e"),
    ("denied", "#9467bd"),
    ("shed (503)", "#bcbd22"),
    ("other", "#17becf"),
)
FRICTION_COLORS = {
    "ok": "#2ca02c",
    "challenged": "#1f77b4",
    "locked": "#ff7f0e",
    "blocked": "#7f7f7f",
    "denied": "#9467bd",
    "shed": "#bcbd22",
    "reset_required": "#8c564b",
    "failed": "#d62728",
}


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def _pct(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "—"


def _verdict(goal: Goal) -> str:
    if goal.met is None:
        return "reported"
    return "met" if goal.met else "**missed**"


def _category(cls: str, reached: bool) -> str:
    if reached:
        return "reached the hash"
    if cls == "too_many_requests":
        return "banned source"
    if cls in ("temporarily_locked", "locked"):
        return "locked"
    if cls == "login_denied":
        return "denied"
    if cls == "overloaded":
        return "shed (503)"
    return "other"


def _list(names: Sequence[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def _names(names: Sequence[str]) -> str:
    """ "3 (a, b, c)", or "0"."""
    return f"{len(names)} ({_list(names)})" if names else "0"


def _classes(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "—"


# ---- tables ---------------------------------------------------------------------------------


def goals_table(items: Iterable[Goal]) -> list[str]:
    lines = ["| goal | result | measured |", "|---|---|---|"]
    lines += [f"| {g.name} | {_verdict(g)} | {g.value} |" for g in items]
    return lines


def outcomes_section(
    rows: Sequence[tuple[str, CampaignOutcome]], *, with_scenario: bool
) -> list[str]:
    """The per-campaign outcome and answer tables, under their heading."""
    return [
        "## Outcomes per campaign",
        "",
        "Times are simulated seconds from the campaign's start.",
        "",
        *campaign_table(rows, with_scenario=with_scenario),
        "",
        *answers_table(rows),
        "",
    ]


def campaign_table(
    rows: Sequence[tuple[str, CampaignOutcome]], *, with_scenario: bool
) -> list[str]:
    head = "| scenario " if with_scenario else ""
    sep = "|---" if with_scenario else ""
    lines = [
        f"{head}| campaign | kind | attempts | valid pairs | accounts tried | takeovers | "
        "credentials confirmed | reached hash | refused early | shed | detected | first block | "
        "90% blocked | bans ip/cidr/net | owners notified |",
        f"{sep}|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for scenario, c in rows:
        prefix = f"| {scenario} " if with_scenario else ""
        bans = f"{c.bans.get('ip', 0)}/{c.bans.get('cidr', 0)}/{c.bans.get('network', 0)}"
        notified = (
            "n/a" if c.owners_notified is None else f"{c.owners_notified} of {c.accounts_tried}"
        )
        lines.append(
            f"{prefix}| {c.name} | {c.kind} | {c.attempts} | {c.valid_attempts} | "
            f"{c.accounts_tried} | {c.takeovers} | {c.confirmed} | "
            f"{c.reached_hash} ({_pct(c.reached_hash, c.attempts)}) | "
            f"{c.refused_early} ({_pct(c.refused_early, c.attempts)}) | {c.shed} | "
            f"{_s(c.detected_after)} | {_s(c.first_block_after)} | {_s(c.blocked90_after)} | "
            f"{bans} | {notified} |"
        )
    return lines


def answers_table(rows: Sequence[tuple[str, CampaignOutcome]]) -> list[str]:
    lines = [
        "| campaign | answers (all attempts) | answers to valid pairs | only valid pairs got | "
        "median ms valid / wrong |",
        "|---|---|---|---|---|",
    ]
    for _, c in rows:
        lat = (
            f"{c.latency_valid_ms if c.latency_valid_ms is not None else '—'} / "
            f"{c.latency_invalid_ms if c.latency_invalid_ms is not None else '—'}"
        )
        lines.append(
            f"| {c.name} | {_classes(c.classes)} | {_classes(c.valid_classes)} | "
            f"{', '.join(c.oracle_classes) or '—'} | {lat} |"
        )
    return lines


def friction_table(rows: Sequence[FrictionRow], title: str) -> list[str]:
    cols = [r for r in LEGIT_RESULTS if any(row.count(r) for row in rows)] or ["ok"]
    lines = [
        f"| {title} | logins | " + " | ".join(cols) + " | challenged share |",
        "|---|--:|" + "--:|" * len(cols) + "--:|",
    ]
    for row in rows:
        cells = " | ".join(str(row.count(c)) for c in cols)
        lines.append(f"| {row.key} | {row.logins} | {cells} | {row.share('challenged'):.2%} |")
    return lines


def merge_rows(rows: Iterable[FrictionRow]) -> list[FrictionRow]:
    counts: dict[str, Counter[str]] = {}
    logins: Counter[str] = Counter()
    for row in rows:
        counts.setdefault(row.key, Counter()).update(row.results)
        logins[row.key] += row.logins
    return [FrictionRow(k, logins[k], dict(counts[k])) for k in counts]


# ---- plots ----------------------------------------------------------------------------------


def plot_attempts(result: RunResult, path: Path) -> bool:
    """Attempts per time bin and campaign, by what stopped them, with the detection marks and
    the "under attack" periods shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = result.outcomes
    if out is None or not result.infos:
        return False
    n = len(result.infos)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.8 * n), squeeze=False)
    for ax, info, c in zip(axes[:, 0], result.infos, out.campaigns, strict=True):
        attempts = [a for a in result.attacks if a.campaign == info.name]
        span = max(info.end - info.start, 1.0)
        width = span / 40
        lo = info.start - 2 * width
        bins = [lo + i * width for i in range(45)]
        bottoms = [0.0] * len(bins)
        for cat, color in ATTACK_CATEGORIES:
            heights = [0.0] * len(bins)
            for a in attempts:
                if _category(a.cls, a.reached_hash) == cat:
                    i = min(len(bins) - 1, max(0, int((a.at - lo) // width)))
                    heights[i] += 1
            if any(heights):
                ax.bar(
                    [b / 60 for b in bins],
                    heights,
                    width=width / 60,
                    bottom=bottoms,
                    align="edge",
                    color=color,
                    label=cat,
                )
                bottoms = [x + h for x, h in zip(bottoms, heights, strict=True)]
        shade_from: float | None = None
        for t, attacked in result.attack_state:
            if attacked and shade_from is None:
                shade_from = t
            if not attacked and shade_from is not None:
                ax.axvspan(shade_from / 60, t / 60, color="#d62728", alpha=0.08)
                shade_from = None
        if shade_from is not None and result.attack_state:
            ax.axvspan(
                shade_from / 60, result.attack_state[-1][0] / 60, color="#d62728", alpha=0.08
            )
        marks = (
            (c.detected_after, "detected", "tab:blue", "--"),
            (c.first_block_after, "first block", "black", ":"),
            (c.blocked90_after, "90% blocked", "black", "-"),
        )
        for value, label, color, style in marks:
            if value is not None:
                ax.axvline((info.start + value) / 60, color=color, linestyle=style, label=label)
        ax.set_title(f"{info.name} ({info.kind})", fontsize=10)
        ax.set_ylabel("attempts / bin")
        ax.set_xlim(lo / 60, (lo + 45 * width) / 60)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("simulated minutes since the run's start (shaded: under attack)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_friction(rows: Sequence[FrictionRow], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.logins]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.6))
    lefts = [0.0] * len(rows)
    for result in LEGIT_RESULTS:
        shares = [r.share(result) for r in rows]
        if any(shares):
            ax.barh(
                [f"{r.key} ({r.logins})" for r in rows],
                shares,
                left=lefts,
                color=FRICTION_COLORS[result],
                label=result,
            )
            lefts = [x + s for x, s in zip(lefts, shares, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of legitimate logins")
    ax.set_title("Legitimate logins by user type: how they ended")
    ax.legend(fontsize=7, loc="lower right", ncol=4)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---- results.json ---------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def result_json(result: RunResult) -> dict[str, Any]:
    s = result.scenario
    return {
        "scenario": s.name,
        "description": s.run.description,
        "file": str(s.path) if s.path else None,
        "target": {"kind": result.target_kind, "url": result.base_url},
        "compress": result.compress,
        "simulated_seconds": s.run.duration,
        "real_seconds": round(result.real_seconds, 2),
        "population": result.population_size,
        "requests": len(result.records),
        "lag_simulated_seconds": result.lag_summary(),
        "spec": _jsonable(s),
        "outcomes": _jsonable(result.outcomes),
        "bans": _jsonable(result.bans),
        "incidents": _jsonable(result.incidents),
        "notes": result.notes,
    }


# ---- Markdown -------------------------------------------------------------------------------


def _facts(result: RunResult) -> list[str]:
    s = result.scenario
    lag = result.lag_summary()
    return [
        f"- Target: {result.target_kind} at {result.base_url}",
        f"- Population: {result.population_size} users; {len(result.legit)} legitimate logins, "
        f"{len(result.attacks)} attack attempts, {len(result.records)} login requests in all",
        f"- Time: {s.run.duration:g} simulated s in {result.real_seconds:.0f} real s "
        f"(compressed x{result.compress:g}); answers came after their planned moment by p50 "
        f"{lag['p50']:g} / p95 {lag['p95']:g} / max {lag['max']:g} simulated s",
    ]


def shortfalls(items: Iterable[Goal]) -> list[str]:
    return [f"- {g.name}: {g.value}" for g in items if g.met is False]


def scenario_markdown(result: RunResult, *, plots: dict[str, str]) -> str:
    out = result.outcomes
    assert out is not None
    s = result.scenario
    rows = [(s.name, c) for c in out.campaigns]
    lines = [f"# Simulation: {s.name}", ""]
    if s.run.description:
        lines += [s.run.description, ""]
    lines += [*_facts(result), "", "## Goals", "", *goals_table(out.goals), ""]
    missed = shortfalls(out.goals)
    if missed:
        lines += ["Where the target falls short in this run:", "", *missed, ""]
    if rows:
        lines += outcomes_section(rows, with_scenario=False)
    if "attempts" in plots:
        lines += [f"![attempts over time]({plots['attempts']})", ""]
    legit = out.legit
    lines += [
        "## Legitimate users",
        "",
        *friction_table(legit.by_type, "user type"),
        "",
        *friction_table([*legit.by_frequency, legit.total], "frequency"),
        "",
        f"- Users locked out by an attacker: {len(legit.users_locked_out_by_attacks)}. Locked "
        f"on a login ID an attacker had tried: {_names(legit.users_locked_by_attacker)}. "
        "Refused because their address or network was banned during the attack: "
        f"{_names(legit.users_blocked_by_attack)}.",
        f"- Users locked at all: {len(legit.users_locked)}; users refused for a banned "
        f"source at all: {len(legit.users_blocked)}",
        "",
    ]
    if "friction" in plots:
        lines += [f"![legitimate friction]({plots['friction']})", ""]
    if result.bans:
        kinds = Counter(f"{b.kind} ({b.reason})" for b in result.bans)
        lines += ["## Bans the server made", "", _classes(dict(kinds.most_common())), ""]
    if result.incidents:
        lines += [
            "## Incidents",
            "",
            *[
                f"- #{i.id}: opened at {i.opened:.0f} s, "
                + (f"closed at {i.closed:.0f} s" if i.closed is not None else "still open")
                for i in result.incidents
            ],
            "",
        ]
    notes = [*result.notes, *compressed_env(result.compress)[1]]
    if notes:
        lines += ["## Notes on this run", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def write_scenario(result: RunResult, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[str, str] = {}
    if plot_attempts(result, out / "attempts.png"):
        plots["attempts"] = "attempts.png"
    assert result.outcomes is not None
    if plot_friction(result.outcomes.legit.by_type, out / "friction.png"):
        plots["friction"] = "friction.png"
    (out / "report.md").write_text(scenario_markdown(result, plots=plots), encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(result_json(result), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return out / "report.md"


def suite_goals(results: Sequence[RunResult]) -> list[Goal]:
    """Per-campaign goals of every scenario, and the population's goals over all of them."""
    items: list[Goal] = []
    rows: list[FrictionRow] = []
    locked_by_attacker: list[str] = []
    for r in results:
        assert r.outcomes is not None
        for g in goals(r.outcomes.campaigns, r.outcomes.legit):
            if g.name.startswith(("under ", "no legitimate")):
                continue
            items.append(dataclasses.replace(g, name=f"{r.scenario.name} / {g.name}"))
        rows.append(r.outcomes.legit.total)
        locked_by_attacker += [
            f"{r.scenario.name}:{u}" for u in r.outcomes.legit.users_locked_out_by_attacks
        ]
    total = merge_rows(rows)[0] if rows else FrictionRow("all", 0, {})
    share = total.share("challenged")
    items.append(
        Goal(
            f"under {GOAL_CHALLENGED_SHARE:.0%} of legitimate logins challenged (all scenarios)",
            share < GOAL_CHALLENGED_SHARE if total.logins else None,
            f"{share:.2%} ({total.count('challenged')} of {total.logins})",
        )
    )
    items.append(
        Goal(
            "no legitimate user locked out by an attacker (all scenarios)",
            not locked_by_attacker,
            f"{len(locked_by_attacker)} users (locked on a login ID an attacker tried, or "
            "refused for a source banned during the attack)"
            + (f": {_list(locked_by_attacker)}" if locked_by_attacker else ""),
        )
    )
    return items


def suite_markdown(name: str, results: Sequence[RunResult], *, plots: dict[str, str]) -> str:
    rows = [(r.scenario.name, c) for r in results for c in (r.outcomes or _EMPTY).campaigns]
    items = suite_goals(results)
    by_type = merge_rows(row for r in results for row in (r.outcomes or _EMPTY).legit.by_type)
    by_freq = merge_rows(
        row
        for r in results
        for row in [*(r.outcomes or _EMPTY).legit.by_frequency, (r.outcomes or _EMPTY).legit.total]
    )
    first = results[0]
    lines = [
        f"# Simulation suite: {name}",
        "",
        f"- Target: {first.target_kind}; {len(results)} scenarios, each against a fresh server "
        f"seeded with the same population ({first.population_size} users)",
        f"- {sum(len(r.records) for r in results)} login requests in "
        f"{sum(r.real_seconds for r in results):.0f} real s",
        "",
        "## Goals",
        "",
        *goals_table(items),
        "",
    ]
    missed = shortfalls(items)
    lines += (
        ["Where the target falls short:", "", *missed, ""]
        if missed
        else ["Every goal that applies was met in this run.", ""]
    )
    lines += outcomes_section(rows, with_scenario=True)
    lines += [
        "## Legitimate users (all scenarios)",
        "",
        *friction_table(by_type, "user type"),
        "",
        *friction_table(by_freq, "frequency"),
        "",
    ]
    if "friction" in plots:
        lines += [f"![legitimate friction]({plots['friction']})", ""]
    lines += ["## Scenarios", ""]
    for r in results:
        lag = r.lag_summary()
        lines.append(
            f"- [{r.scenario.name}]({r.scenario.name}/report.md): {r.scenario.run.description} "
            f"(x{r.compress:g}, {r.scenario.run.duration:g} simulated s in {r.real_seconds:.0f} "
            f"real s, lag p95 {lag['p95']:g} s)"
        )
    notes = sorted({n for r in results for n in [*r.notes, *compressed_env(r.compress)[1]]})
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


_EMPTY = Outcomes(campaigns=(), legit=legit_outcome([], []))


def write_suite(name: str, results: Sequence[RunResult], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        write_scenario(r, out / r.scenario.name)
    plots: dict[str, str] = {}
    rows = merge_rows(row for r in results for row in (r.outcomes or _EMPTY).legit.by_type)
    if plot_friction(rows, out / "friction.png"):
        plots["friction"] = "friction.png"
    (out / "report.md").write_text(suite_markdown(name, results, plots=plots), encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(
            {"suite": name, "scenarios": [result_json(r) for r in results]},
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return out / "report.md"
