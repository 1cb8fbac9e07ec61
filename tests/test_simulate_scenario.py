"""Scenario files, the compressed server settings and the simulated browser's cookie jar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest

from mamori.settings import Settings
from mamori.simulate.browser import Reply, parse_set_cookie
from mamori.simulate.scenario import (
    KINDS,
    SCENARIO_DIR,
    ScenarioError,
    Suite,
    load,
    load_scenario,
    scenarios_of,
)
from mamori.simulate.server import FLOOR_SECONDS, compressed_env
from mamori.simulate.targets import MamoriTarget, PeerTarget, classify_mamori, classify_peer


def test_every_shipped_scenario_loads() -> None:
    files = sorted(SCENARIO_DIR.glob("*.toml"))
    assert {f.stem for f in files} >= {"default", "smoke", "population"}
    for f in files:
        scenarios_of(load(f))
    default = load("default")
    assert isinstance(default, Suite)
    kinds = {c.kind for s in default.scenarios for c in s.campaigns}
    assert kinds == set(KINDS)  # one scenario per campaign kind
    # every default scenario shares the population (seeded once)
    assert len({s.population for s in default.scenarios}) == 1
    smoke = load_scenario("smoke")
    assert smoke.population.users <= 50 and smoke.run.duration / smoke.run.compress < 20


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = """
[run]
compress = 10
duration = 600
[population]
users = 20
[legit]
logins_per_minute = 5
"""


def test_extends_merges_tables_and_replaces_campaigns(tmp_path: Path) -> None:
    write(tmp_path, "base.toml", BASE + '[[campaign]]\nname="a"\nkind="stuffing"\nstart=0\n'
          "duration=10\n")  # fmt: skip
    child = write(
        tmp_path,
        "child.toml",
        'extends = "base.toml"\n[run]\nname = "child"\nduration = 900\n'
        '[[campaign]]\nname = "b"\nkind = "spraying"\nstart = 100\nduration = 200\n',
    )
    s = load_scenario(child)
    assert (s.name, s.run.compress, s.run.duration) == ("child", 10.0, 900.0)
    assert s.population.users == 20 and s.legit.logins_per_minute == 5.0
    assert [c.name for c in s.campaigns] == ["b"]
    assert s.campaigns[0].end == 300.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE.replace("[run]", "[run]\nspeed = 2"), "unknown key 'speed'"),
        (BASE.replace("users = 20", "users = 'many'"), "population].users: expected an integer"),
        (BASE.replace("compress = 10", "compress = 0"), "run.compress: must be positive"),
        (BASE + "[extra]\n", "unknown table 'extra'"),
        (
            BASE + '[[campaign]]\nname="x"\nkind="ddos"\nstart=0\nduration=10\n',
            "expected 'brute_force' | ",
        ),
        (BASE + '[[campaign]]\nname="x"\nkind="stuffing"\nstart=0\n', "missing key 'duration'"),
        (
            BASE + '[[campaign]]\nname="x"\nkind="stuffing"\nstart=500\nduration=200\n',
            "ends at 700 s, after the run's duration (600 s)",
        ),
        (
            BASE + '[[campaign]]\nname="x"\nkind="stuffing"\nstart=0\nduration=10\n'
            "valid_share=1.5\n",
            "valid_share: must be between 0 and 1",
        ),
        (
            BASE + '[[campaign]]\nname="x"\nkind="stuffing"\nstart=0\nduration=10\nattempts=10\n'
            "sources=2\nattempts_per_source=1\n",
            "cannot carry 10 attempts",
        ),
        (
            BASE + '[[campaign]]\nname="x"\nkind="targeted"\nstart=0\nduration=10\nvictims=50\n',
            "more victims (50) than users (20)",
        ),
        (BASE.replace("[population]", "[population]\ndevices = [1, 1]"), "population.devices"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_suites_and_loops(tmp_path: Path) -> None:
    write(tmp_path, "one.toml", BASE.replace("[run]", '[run]\nname = "one"'))
    suite = write(tmp_path, "suite.toml", '[suite]\nname = "s"\nscenarios = ["one.toml"]\n')
    loaded = load(suite)
    assert isinstance(loaded, Suite) and [s.name for s in loaded.scenarios] == ["one"]
    with pytest.raises(ScenarioError, match="a suite, where one scenario was expected"):
        load_scenario(suite)
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    loop = write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="loops back"):
        load(loop)
    with pytest.raises(ScenarioError, match="no such scenario"):
        load(tmp_path / "missing.toml")


def test_compressed_env_divides_every_window() -> None:
    s = Settings()
    env, notes = compressed_env(60)
    assert float(env["MAMORI_LOCK_SECONDS"]) == s.lock_seconds / 60
    assert float(env["MAMORI_LOCK_WINDOW_SECONDS"]) == s.lock_window_seconds / 60
    assert float(env["MAMORI_DETECTOR_BUCKET_SECONDS"]) == s.detector_bucket_seconds / 60
    assert float(env["MAMORI_UNDER_ATTACK_SECONDS"]) == s.under_attack_seconds / 60
    assert float(env["MAMORI_SOURCE_BLOCK_SECONDS"]) == s.source_block_seconds / 60
    # loops have a floor, and the report says so
    assert float(env["MAMORI_BAN_CACHE_SECONDS"]) == FLOOR_SECONDS
    assert any("ban_cache_seconds" in n for n in notes)
    assert any("login_code_minutes" in n for n in notes)
    # every variable is a real setting, and the server accepts the values
    parsed = Settings.from_env(env)
    assert parsed.lock_seconds == pytest.approx(10.0)
    same, none = compressed_env(1)
    assert float(same["MAMORI_LOCK_SECONDS"]) == s.lock_seconds and none == []
    with pytest.raises(ValueError, match="positive"):
        compressed_env(0)


def test_set_cookie_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_set_cookie("__Host-mamori_device=abc; Path=/; Secure; HttpOnly", now=now) == (
        "__Host-mamori_device",
        "abc",
    )
    assert parse_set_cookie('sessionid="x y"; Max-Age=1209600; Path=/', now=now) == (
        "sessionid",
        "x y",
    )
    assert parse_set_cookie("s=; Max-Age=0; Path=/", now=now) == ("s", None)
    gone = "s=1; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
    assert parse_set_cookie(gone, now=now) == ("s", None)
    later = "s=1; expires=Fri, 01 Jan 2027 00:00:00 GMT; Path=/"
    assert parse_set_cookie(later, now=now) == ("s", "1")


def reply(status: int, body: dict[str, object], cookies: tuple[str, ...] = ()) -> Reply:
    return Reply(status, body, httpx.Headers(), 0.01, cookies)


async def test_answer_classes() -> None:
    async with httpx.AsyncClient() as http:
        check_classes(http)


def check_classes(http: httpx.AsyncClient) -> None:
    mamori = MamoriTarget(http, "http://127.0.0.1:1")
    peer = PeerTarget(http, "http://127.0.0.1:1")
    challenge = classify_mamori(
        reply(
            200,
            {
                "status": "challenge",
                "challenge_id": "c1",
                "methods": ["sms", "email"],
                "sent_to": "sms",
                "expires_in": 600,
            },
        )
    )
    assert (challenge.cls, challenge.challenge_id, challenge.methods) == (
        "challenge",
        "c1",
        ("sms", "email"),
    )
    assert challenge.second_step and mamori.reached_hash(challenge)
    ok = classify_mamori(reply(200, {"status": "ok"}, ("__Host-mamori_session",)))
    assert ok.cls == "ok" and ok.session and mamori.reached_hash(ok)
    for status, code, hashed, early in [
        (401, "invalid_credentials", True, False),
        (429, "too_many_requests", False, True),
        (429, "temporarily_locked", False, True),
        (403, "login_denied", False, True),
        (403, "restricted", True, False),
        (503, "overloaded", False, False),
    ]:
        a = classify_mamori(reply(status, {"error": {"code": code, "message": "m"}}))
        assert (a.cls, mamori.reached_hash(a), mamori.refused_early(a)) == (code, hashed, early)
    assert classify_mamori(reply(500, {})).cls == "http_500"
    otp = classify_peer(reply(200, {"status": "otp_required"}, ("sessionid",)))
    assert otp.cls == "otp_required" and otp.second_step and peer.reached_hash(otp)
    assert classify_peer(reply(200, {"status": "ok"}, ("sessionid",))).session
    locked = classify_peer(reply(429, {"error": {"code": "locked", "message": "m"}}))
    assert locked.cls == "locked" and peer.refused_early(locked) and not peer.reached_hash(locked)
    wrong = classify_peer(reply(401, {"error": {"code": "invalid_credentials"}}))
    assert wrong.cls == "invalid_credentials" and peer.reached_hash(wrong)
    throttled = classify_peer(reply(429, {"error": {"code": "otp_throttled"}}))
    assert throttled.cls == "otp_throttled"
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    peer.totp_secrets["alice"] = secret
    assert peer.totp("alice") == pyotp.TOTP(secret).now()
    assert peer.totp("bob") is None
