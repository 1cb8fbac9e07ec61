"""`mamori analyze`: offline analysis of a login log with planted attacks (RBA format)."""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from mamori.analyze import aggregate, db, detection, report, riskscan
from mamori.analyze.flags import Score
from mamori.analyze.formats import sniff
from mamori.analyze.progress import NullProgress
from mamori.analyze.run import Analysis, Options, analyze, export
from mamori.analyze.synthetic import RBA_HEADER, Plan, Truth, write_rba
from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import BucketStats, SourceStat, Window, detect
from mamori.errors import InputError
from mamori.flows.defense import source_orders
from mamori.risk.features import LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot, MemoryFrequencies
from mamori.risk.policy import RiskPolicy
from mamori.risk.scoring import score_login

# 4,000 logins over 12 hours from 300 accounts; 15 minutes of credential stuffing from 20
# addresses (600 tries, 5% of those on real accounts succeed); 3 targeted takeovers from abroad
PLAN = Plan(
    rows=4000,
    days=0.5,
    users=300,
    stuffing_share=0.15,
    stuffing_ips=20,
    stuffing_start_day=0.25,
    stuffing_hours=0.25,
    distributed_share=0.0,
    takeovers=3,
    hit_rate=0.05,
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    path = tmp_path_factory.mktemp("analyze") / "rba.csv"
    return path, write_rba(path, PLAN)


@pytest.fixture(scope="module")
def analysis(planted: tuple[Path, Truth]) -> Analysis:
    return analyze(planted[0], Options())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _us(text: str) -> int:
    when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return round(when.timestamp() * 1_000_000)


def _flags(rows: list[dict[str, str]], a: Analysis) -> list[bool]:
    """Which rows the bans cover, worked out here from the rows and the bans alone."""
    periods: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for b in a.bans:
        periods.setdefault((b.kind, b.value), []).append((b.lo, b.hi))

    def covered(key: tuple[str, str], ts: int) -> bool:
        return any(lo <= ts < hi for lo, hi in periods.get(key, []))

    out = []
    for r in rows:
        ts, ip = _us(r["Login Timestamp"]), r["IP Address"]
        out.append(
            covered(("ip", ip), ts)
            or covered(("cidr", ip.rsplit(".", 1)[0] + ".0/24"), ts)
            or covered(("network", "AS" + r["ASN"]), ts)
        )
    return out


def test_generated_file_is_in_the_rba_format(planted: tuple[Path, Truth]) -> None:
    path, truth = planted
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == RBA_HEADER
    assert len(rows) == PLAN.rows + 1
    assert {r[13] for r in rows[1:]} == {"True", "False"}
    times = [r[1] for r in rows[1:]]
    assert times == sorted(times)  # in time order, like rba-dataset.csv
    assert len(truth.stuffing_ips) == 20
    assert truth.attack_rows == 600
    assert truth.stuffing_hits and len(truth.targeted_ids) == 3
    # deterministic: the same plan writes the same file
    again = path.with_name("again.csv")
    write_rba(again, PLAN)
    assert again.read_bytes() == path.read_bytes()


def test_planted_stuffing_is_detected_and_its_sources_banned(
    analysis: Analysis, planted: tuple[Path, Truth]
) -> None:
    path, truth = planted
    a = analysis
    assert a.loaded.rows == PLAN.rows and a.loaded.labelled
    assert len(a.outcome.incidents) >= 1
    first = a.outcome.incidents[0]
    start = PLAN.start.timestamp() + PLAN.stuffing_start_day * 86400
    assert start - 120 <= first.start / 1e6 <= start + 300  # seen within minutes
    assert any(r.startswith("failure_ratio") for r in first.reasons)
    rows = _rows(path)
    flags = _flags(rows, a)
    assert sum(flags) == a.flagged
    flagged_ips = {r["IP Address"] for r, f in zip(rows, flags, strict=True) if f}
    assert flagged_ips >= set(truth.stuffing_ips)  # every planted address is banned
    # the rest: legitimate VPN users (and a targeted takeover) in a hosting network that was
    # banned as a whole while the stuffing came from it
    innocent = {
        ip
        for ip in flagged_ips - set(truth.stuffing_ips)
        if not any(
            b.kind == "network" and ip.startswith(("3.112.", "167.99.", "185.220.")) for b in a.bans
        )
    }
    assert not innocent
    scores = {s.name: s for s in a.scores}
    # only the stuffing is labelled "Is Attack IP" in this plan
    assert scores["attack IPs"] == Score("attack IPs", 20, len(flagged_ips) - 20, 0)
    labelled = [r["Is Attack IP"] == "True" for r in rows]
    assert scores["attack rows"] == Score(
        "attack rows",
        sum(f and t for f, t in zip(flags, labelled, strict=True)),
        sum(f and not t for f, t in zip(flags, labelled, strict=True)),
        sum(t and not f for f, t in zip(flags, labelled, strict=True)),
    )
    assert scores["attack rows"].recall == 1.0


def test_accounts_whose_password_was_confirmed(
    analysis: Analysis, planted: tuple[Path, Truth]
) -> None:
    path, truth = planted
    a = analysis
    rows = _rows(path)
    flags = _flags(rows, a)
    affected = {x.login_id for x in a.affected}
    assert affected == {
        r["User ID"]
        for r, f in zip(rows, flags, strict=True)
        if f and r["Login Successful"] == "True"
    }
    assert set(truth.stuffing_hits) <= affected
    assert all(x.incident == 1 for x in a.affected if x.login_id in truth.stuffing_hits)
    table = a.by_country()
    assert sum(n for _, n, _ in table) == len(a.affected)
    assert table[0][0] == "JP"  # the accounts' own country, not the attacker's
    scores = {s.name: s for s in a.scores}
    takeovers = scores["takeover rows (flagged sources only)"]
    hits = sum(r["Is Account Takeover"] == "True" for r in rows if r["User ID"] in affected)
    assert takeovers.tp == hits >= len(truth.stuffing_hits)
    assert takeovers.tp + takeovers.fn == truth.takeover_rows


def test_targeted_takeovers_are_scored_as_logins_from_a_new_country(
    analysis: Analysis, planted: tuple[Path, Truth]
) -> None:
    _, truth = planted
    risk = analysis.risk
    assert risk is not None
    new_country = [s for s in risk.scored if s.group == "new_country"]
    assert new_country
    # every planted targeted login is from a hosting network abroad: scored, never "low"
    targeted = {s.rid: s for s in new_country if "new_country" in s.reasons}
    assert len(targeted) >= len(truth.targeted_ids) - 1  # a victim may have had no history
    assert all(s.level in ("medium", "high") for s in targeted.values())
    assert sum(risk.counts["confirmed"].values()) == sum(x.confirmations for x in analysis.affected)


def test_report_has_precision_recall_and_the_table_by_country(
    analysis: Analysis, tmp_path: Path
) -> None:
    paths = report.write(analysis, tmp_path / "report.md", rows_per_second=123456.0)
    text = paths[0].read_text()
    assert "## Precision and recall against the file's labels" in text
    ips = next(s for s in analysis.scores if s.name == "attack IPs")
    assert f"| attack IPs | 20 | {ips.fp} | 0 | {ips.precision:.3f} | 1.000 |" in text
    assert "## Affected accounts by country" in text
    assert "| JP |" in text
    assert "### Incident 1:" in text
    assert "123,456 rows/s" in text
    assert "## Risk scoring" in text and "new country" in text
    with paths[1].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0].keys() == {
        "incident",
        "country",
        "accounts_password_confirmed",
        "accounts_logged_in",
    }
    total = sum(int(r["accounts_password_confirmed"]) for r in rows if r["incident"] == "all")
    assert total == len(analysis.affected)
    with paths[2].open(newline="") as f:
        accounts = list(csv.DictReader(f))
    assert {r["login_id"] for r in accounts} == {x.login_id for x in analysis.affected}


def _essence(a: Analysis) -> tuple[object, ...]:
    risk = a.risk
    assert risk is not None
    return (
        a.loaded.rows,
        [(b.kind, b.value, b.lo, b.hi, b.reasons) for b in a.bans],
        a.flagged,
        a.affected,
        [(s.rid, s.group, s.level, round(s.log10_score, 9)) for s in risk.scored],
        a.scores,
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_our_format_round_trips(
    analysis: Analysis, planted: tuple[Path, Truth], tmp_path: Path, suffix: str
) -> None:
    ours = tmp_path / f"ours{suffix}"
    assert export(planted[0], ours) == PLAN.rows
    source = sniff(ours)
    assert source.format == "mamori" and source.labelled
    assert source.file_type == ("jsonl" if suffix == ".jsonl" else "csv")
    if suffix == ".jsonl":
        first = json.loads(ours.read_text().splitlines()[0])
        assert set(first) >= {"at", "type", "result", "login_id", "ip", "asn", "as_name"}
        assert first["at"].endswith("Z")
    again = analyze(ours, Options())
    assert _essence(again) == _essence(analysis)
    # and back again: exporting our own format gives the same file
    twice = tmp_path / f"twice{suffix}"
    export(ours, twice)
    assert twice.read_bytes() == ours.read_bytes()


def test_gzip_and_json_lines_of_the_rba_format(
    analysis: Analysis, planted: tuple[Path, Truth], tmp_path: Path
) -> None:
    lines = tmp_path / "rba.jsonl.gz"
    with planted[0].open(newline="") as f, gzip.open(lines, "wt") as out:
        for row in csv.DictReader(f):
            out.write(json.dumps(row) + "\n")
    source = sniff(lines)
    assert (source.format, source.file_type) == ("rba", "jsonl")
    assert _essence(analyze(lines, Options())) == _essence(analysis)


def test_events_of_our_format(tmp_path: Path) -> None:
    """Non-login events are skipped; unknown login IDs and challenged logins are counted as
    the service counts them."""
    path = tmp_path / "events.csv"
    header = (
        "at,type,result,reason,login_id,ip,user_agent,browser,os,device_type,country,asn,as_name"
    )
    lines = [
        "2026-03-01T00:00:00Z,login_success,ok,,alice,192.0.2.1,UA,Chrome 131,Windows 10,"
        "desktop,JP,2516,KDDI",
        "2026-03-01T09:00:01+09:00,login_failure,fail,unknown_login_id,nobody,2001:db8:1:2::5,"
        "UA,Chrome 131,Windows 10,desktop,JP,,",
        "2026-03-01T00:00:02Z,login_challenged,challenge,new_device,alice,198.51.100.7,UA2,"
        "Firefox 120,Linux,desktop,US,,Hoster",
        "2026-03-01T00:00:03Z,notice_sent,ok,,alice,,,,,,,,",
        "not a time,login_success,ok,,bob,192.0.2.2,UA,,,,,,",
    ]
    rows = list(csv.reader([header, *lines]))
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    source = sniff(path)
    assert source.format == "mamori" and not source.labelled
    con = db.connect(tmp_path, memory_limit="256MB", threads=1)
    loaded = db.load(con, source, bucket_us=60_000_000, progress=NullProgress())
    assert (loaded.read, loaded.rows, loaded.skipped_events, loaded.bad_time) == (5, 3, 1, 1)
    got = con.execute(
        "SELECT login_id, ts, subnet, network, rnet, ok, fail, logged_in, unknown FROM ev"
        " ORDER BY ts"
    ).fetchall()
    start = 1772323200000000  # 2026-03-01T00:00:00Z
    no = (False, False)
    assert got == [
        ("alice", start, "192.0.2.0/24", "KDDI", "AS2516", True, False, True, False),
        ("nobody", start + 1_000_000, "2001:db8:1:2::/64", "", "", False, True, False, True),
        ("alice", start + 2_000_000, "198.51.100.0/24", "Hoster", "Hoster", True, True, *no),
    ]
    con.close()


def test_files_that_are_not_login_logs(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as info:
        sniff(other)
    assert info.value.code == "analyze_format"
    with pytest.raises(InputError):
        sniff(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError):
        sniff(empty)
    with pytest.raises(InputError):
        sniff(other, format="mamori")


@pytest.fixture
def loaded(planted: tuple[Path, Truth], tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = db.connect(tmp_path, memory_limit="256MB", threads=2)
    db.load(con, sniff(planted[0]), bucket_us=60_000_000, progress=NullProgress())
    yield con
    con.close()


def test_replay_equals_the_detector_on_every_window(loaded: duckdb.DuckDBPyConnection) -> None:
    """Skipping quiet windows and reading only the sources the attack decision needs gives what
    `detect` and `source_orders` say when asked about every window with every source."""
    con = loaded
    policy = DefensePolicy()
    bucket_us = 60_000_000
    outcome = detection.replay(con, policy, bucket_us=bucket_us, progress=NullProgress())
    totals = aggregate.bucket_totals(con)
    windows = list(range(min(totals), max(totals) + 2))
    distinct = aggregate.prepare_windows(con, windows, bucket_us=bucket_us)
    sources: dict[int, list[SourceStat]] = {}
    for r in aggregate.window_sources(con, bucket_seconds=60.0):
        sources.setdefault(r.window, []).append(
            SourceStat(r.kind, r.value, r.attempts, r.failures, r.baseline)
        )
    zero = BucketStats()
    attacks, orders = [], []
    attacked: set[int] = set()  # buckets judged attacks are not baseline (as in the service)
    for w in windows:
        window = Window(
            current=totals.get(w - 1, zero) + totals.get(w, zero),
            buckets=2,
            history=[totals.get(x, zero) for x in range(w - 61, w - 1) if x not in attacked],
            sources=sources.get(w, []),
            distinct_ids=distinct[w][0],
            distinct_ips=distinct[w][1],
        )
        d = detect(window, policy)
        blocked = {(o.kind, o.value) for o in d.blocks}
        if d.attack:
            attacks.append(w)
            attacked.update((w - 1, w))
            orders += [("detector", o.kind, o.value, w) for o in d.blocks]
        orders += [
            ("relative", o.kind, o.value, w)
            for o in source_orders(window, policy)
            if (o.kind, o.value) not in blocked
        ]
    assert outcome.attack_windows == len(attacks) > 0
    got = sorted(
        (o.origin, o.order.kind, o.order.value, o.at // bucket_us - 1)
        for o in outcome.orders
        if o.origin != "ip_rule"
    )
    assert got == sorted(orders)
    assert outcome.evaluated < len(windows)  # the quiet ones were skipped


def test_risk_inputs_match_a_replay_in_time_order(
    planted: tuple[Path, Truth], tmp_path: Path
) -> None:
    """The counts DuckDB computes for each scored login are those `MemoryFrequencies` holds
    when the successful logins are replayed one by one. With 1 ms buckets the population's
    counts lag by nothing, except behind logins of the same millisecond (left out here)."""
    con = db.connect(tmp_path, memory_limit="256MB", threads=2)
    db.load(con, sniff(planted[0]), bucket_us=1000, progress=NullProgress())
    con.execute("CREATE TEMP TABLE flagged AS SELECT 0::BIGINT AS rid WHERE false")
    policy = RiskPolicy()
    scan = riskscan.scan(con, policy, progress=NullProgress())
    mine = {s.rid: s for s in scan.scored}
    rows = con.execute(
        "SELECT rid, bucket, login_id, ip, rnet, country, ua_h::VARCHAR, browser_h::VARCHAR,"
        " os_h::VARCHAR, device_type, logged_in FROM ev ORDER BY ts, rid"
    ).fetchall()
    con.close()
    memory = MemoryFrequencies()
    checked = 0
    last_bucket = None
    for rid, bucket, user, *values, logged_in in rows:
        features = LoginFeatures(*(str(v) for v in values))
        if rid in mine and bucket != last_bucket:
            snapshot = FrequencySnapshot.capture(memory, user=user, features=features)
            want = score_login(
                snapshot, user=user, features=features, policy=policy, config=riskscan.CONFIG
            )
            assert math.isclose(mine[rid].log10_score, want.log10_score, abs_tol=1e-9), rid
            assert mine[rid].reasons == want.reasons
            assert mine[rid].level == (want.level if want.history else "no_history")
            checked += 1
        if logged_in:
            memory.add(user, features)
            last_bucket = bucket
    assert checked > 0.95 * len(mine) > 1000


def test_cli_end_to_end(planted: tuple[Path, Truth], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env["COLUMNS"] = "200"
    out = tmp_path / "report.md"
    ours = tmp_path / "ours.jsonl"
    r = subprocess.run(
        [
            *(sys.executable, "-m", "mamori", "analyze", str(planted[0]), "--out", str(out)),
            *("--bucket-seconds", "60", "--export", str(ours)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "rows/s" in r.stdout
    assert "attack IPs" in r.stdout  # precision/recall printed
    assert "reading" in r.stderr  # the progress bar
    assert out.exists() and out.with_name("report.by-country.csv").exists()
    assert out.with_name("report.accounts.csv").exists()
    assert "## Affected accounts by country" in out.read_text()
    assert len(ours.read_text().splitlines()) == PLAN.rows
    # without --out the report goes to stdout
    r = subprocess.run(
        [sys.executable, "-m", "mamori", "analyze", str(ours), "--no-risk"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Login log analysis: `ours.jsonl`")
    assert "Not run (`--no-risk`)" in r.stdout
    bad = tmp_path / "bad.csv"
    shutil.copy(planted[0], bad)
    bad.write_text("a,b\n1,2\n")
    r = subprocess.run(
        [sys.executable, "-m", "mamori", "analyze", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 1 and "analyze_format" in r.stderr


def test_bucket_length_comes_from_the_option(planted: tuple[Path, Truth]) -> None:
    a = analyze(planted[0], Options(policy=replace(DefensePolicy(), bucket_seconds=30.0)))
    assert a.policy.bucket_seconds == 30.0
    assert a.outcome.incidents  # still found
