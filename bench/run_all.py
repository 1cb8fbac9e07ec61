"""`make bench`: every benchmark in one go, and their figures written into docs/benchmarks.md.

    .venv/bin/python bench/run_all.py [--out bench-results] [--only NAME ...] [--no-docs]

Runs, one after the other (each prints its figures next to the bound it is compared to):

1. `login_throughput` — successful logins/s of `mamori serve --workers 2` against raw argon2id
   verifications/s with 2 processes (foundation issue; goal: ratio >= 0.85);
2. `defense` — (a) rejections/s per worker for a banned source against the same server's
   `/healthz` (goal >= 2,000/s per worker), (b) legitimate login p95 under a flood at the
   rejection capacity against idle p95 (goal <= 2x), (c) counter operations/s per backend;
3. `risk_latency` — the risk assessment's latency on 100,000 accounts and 1,000,000 history
   rows (goal p95 <= 3 ms);
4. `risk_quality` — the share of legitimate logins challenged at a fixed detection rate,
   against the reference (goal: a third of it);
5. `simulate` — the default attack scenarios against Mamori and the Django peer
   (bench/peers/, django-axes + django-otp), one comparison table.

Each benchmark's full output goes to `<out>/<name>.txt`; the section of docs/benchmarks.md
between the `make-bench` markers is then replaced by the machine, the date, each benchmark's
verdict lines and its full output. A benchmark that fails is reported as failed there (with
the tail of its output) and the others still run; the exit status is 0 unless one failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_info

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- make-bench:begin -->"
END = "<!-- make-bench:end -->"
# lines of a benchmark's report that carry its verdict
VERDICT = re.compile(r"GOAL (MET|MISSED)|ratio|p95|takeover|Takeover|\| *(mamori|peer)", re.I)


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    title: str
    argv: tuple[str, ...]


def benches(out: Path) -> list[Bench]:
    py = sys.executable
    return [
        Bench(
            "login_throughput",
            "Login throughput vs. the argon2 bound",
            (py, "bench/login_throughput.py", "--json", str(out / "login_throughput.json")),
        ),
        Bench(
            "defense",
            "Defenses: rejection throughput, login latency under attack, counters",
            (py, "bench/defense.py", "--json", str(out / "defense.json")),
        ),
        Bench("risk_latency", "Risk assessment latency", (py, "bench/risk_latency.py")),
        Bench(
            "risk_quality",
            "Risk quality: legitimate logins challenged",
            (py, "bench/risk_quality.py", "--no-latency"),
        ),
        Bench(
            "simulate",
            "Attack simulator: Mamori vs. Django + django-axes + django-otp",
            (py, "bench/simulate_compare.py", "--out", str(out / "simulate")),
        ),
    ]


@dataclass(slots=True)
class Ran:
    bench: Bench
    code: int
    seconds: float
    output: str


def run(bench: Bench, out: Path) -> Ran:
    print(f"\n=== {bench.name}: {' '.join(bench.argv[1:])}", flush=True)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        bench.argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        code = process.wait()
    output = "".join(lines)
    seconds = time.monotonic() - started
    (out / f"{bench.name}.txt").write_text(output)
    (out / f"{bench.name}.seconds").write_text(f"{seconds:.1f}\n")
    return Ran(bench, code, seconds, output)


def reuse(bench: Bench, out: Path) -> Ran:
    output = (out / f"{bench.name}.txt").read_text()
    timing = out / f"{bench.name}.seconds"
    seconds = float(timing.read_text()) if timing.is_file() else 0.0
    print(f"\n=== {bench.name}: reused {out / bench.name}.txt", flush=True)
    return Ran(bench, 0, seconds, output)


def section(results: list[Ran], machine: dict[str, object], total: float, out: Path) -> str:
    parts = [
        BEGIN,
        "## Latest `make bench` run",
        "",
        f"- **When:** {machine['date']}; all benchmarks took {total / 60:.1f} minutes.",
        f"- **Machine:** {machine['nproc']} CPUs ({machine['cpu_model']}), Python "
        f"{machine['python']}, {machine['platform']}; load average at the start "
        f"{machine['load_average']}.",
        "- **Reproduce:** `make bench` (this section is rewritten by `bench/run_all.py`; the "
        "sections after it interpret earlier runs).",
        "",
    ]
    for ran in results:
        parts.append(f"### {ran.bench.title} (`{ran.bench.name}`)")
        parts.append("")
        if ran.code != 0:
            parts.append(f"**Failed** (exit {ran.code}) after {ran.seconds:.0f} s; its last lines:")
            tail = ran.output.splitlines()[-15:]
            parts += ["", "```", *tail, "```", ""]
            continue
        if ran.bench.name == "simulate":
            table = _simulate_table(out / "simulate" / "compare.md")
            parts += [table, ""]
        verdicts = [ln.strip() for ln in ran.output.splitlines() if VERDICT.search(ln)]
        if verdicts and ran.bench.name != "simulate":
            parts += ["Verdict lines:", "", "```", *verdicts[:20], "```", ""]
        parts += [
            f"<details><summary>Full output ({ran.seconds:.0f} s)</summary>",
            "",
            "```",
            ran.output.rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
    parts.append(END)
    return "\n".join(parts)


def _simulate_table(compare: Path) -> str:
    if compare.is_file():
        # its headings go under this section's heading
        lines = compare.read_text().strip().splitlines()
        return "\n".join("###" + ln if ln.startswith("#") else ln for ln in lines)
    return "(no compare.md was written; see the full output)"


def write_docs(text: str) -> None:
    current = DOCS.read_text() if DOCS.is_file() else "# Benchmarks\n"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(head + text + tail)
        return
    # first run: after the introduction (the first heading's paragraph), before the rest
    lines = current.splitlines(keepends=True)
    cut = next(
        (i for i, ln in enumerate(lines) if i > 0 and ln.startswith("## ")),
        len(lines),
    )
    DOCS.write_text("".join(lines[:cut]) + text + "\n\n" + "".join(lines[cut:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--only", action="append", help="run only these benchmarks (by name)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--reuse",
        action="append",
        default=[],
        help="take this benchmark's output from an earlier run's <out>/<name>.txt",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    selected = [b for b in benches(out) if not args.only or b.name in args.only]
    if args.only and len(selected) != len(set(args.only)):
        known = ", ".join(b.name for b in benches(out))
        parser.error(f"--only takes among: {known}")
    machine = machine_info()
    saved = out / "machine.json"
    if args.reuse and len(args.reuse) == len(selected) and saved.is_file():
        machine = json.loads(saved.read_text())  # every figure is reused: that run's machine
    else:
        saved.write_text(json.dumps(machine))
    results = [
        reuse(bench, out) if bench.name in args.reuse else run(bench, out) for bench in selected
    ]
    total = sum(r.seconds for r in results)
    if not args.no_docs:
        write_docs(section(results, machine, total, out))
        print(f"\nwrote {DOCS.relative_to(ROOT)}", flush=True)
    failed = [r.bench.name for r in results if r.code != 0]
    print("\n=== summary")
    for r in results:
        status = "ok" if r.code == 0 else f"FAILED ({r.code})"
        print(f"  {r.bench.name:18} {status:10} {r.seconds:6.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
