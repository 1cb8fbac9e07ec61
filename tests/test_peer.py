"""The Django peer (bench/peers): real gunicorn servers, real HTTP, both django-axes configs.

The first run builds bench/peers/.venv from PyPI (Django, django-axes, django-otp, argon2-cffi,
gunicorn), which takes a minute or so; later runs reuse it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from bench.peers.peer import AxesConfig, ensure_venv, start_peer, stop_peer

from tests.live_server import free_port

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
WRONG = "not the password"
TUNED_COOLOFF_SECONDS = 5
TOTP_SECRETS = {"otp-user": pyotp.random_base32(), "otp-inline": pyotp.random_base32()}
PLAIN_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
# django-axes 8.3's own defaults (axes/conf.py), which the "default" config leaves in force.
DEFAULT_FAILURE_LIMIT = 3
TUNED_FAILURE_LIMIT = 5
LOCK_STATUS = 429  # AXES_HTTP_RESPONSE_CODE's default


@pytest.fixture(scope="module")
def peer_venv() -> Path:
    return ensure_venv()


def write_users(path: Path) -> Path:
    lines = [
        {"login_id": u, "email": f"{u}@example.com", "password": PASSWORD} for u in PLAIN_USERS
    ]
    lines += [
        {"login_id": u, "email": f"{u}@example.com", "password": PASSWORD, "totp_secret": secret}
        for u, secret in TOTP_SECRETS.items()
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def serve(tmp: Path, axes: AxesConfig) -> Iterator[str]:
    port = free_port()
    proc = start_peer(
        port=port,
        workers=2,
        axes=axes,
        cooloff_seconds=TUNED_COOLOFF_SECONDS,
        database=tmp / "peer.sqlite3",
        users_file=write_users(tmp / "users.jsonl"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_peer(proc)


@pytest.fixture(scope="module")
def default_peer(peer_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("peer-default"), "default")


@pytest.fixture(scope="module")
def tuned_peer(peer_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("peer-tuned"), "tuned")


def client(base_url: str, ip: str) -> httpx.Client:
    """One browser: its own cookie jar, its address given by X-Forwarded-For from 127.0.0.1."""
    return httpx.Client(base_url=base_url, headers={"X-Forwarded-For": ip}, timeout=30.0)


def login(c: httpx.Client, login_id: str, password: str, otp: str | None = None) -> httpx.Response:
    body = {"login_id": login_id, "password": password}
    if otp is not None:
        body["otp"] = otp
    return c.post("/api/v1/login", json=body)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def wrong_code(secret: str) -> str:
    """A six-digit code that no step in the device's tolerance window accepts."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + 30 * k) for k in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)


def test_right_password_logs_in_and_me_and_logout_work(default_peer: str) -> None:
    with client(default_peer, "198.51.100.1") as c:
        assert c.get("/api/v1/me").status_code == 401
        r = login(c, "alice", PASSWORD)
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}
        assert "sessionid" in r.cookies
        me = c.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json() == {"login_id": "alice"}
        assert c.post("/api/v1/logout").status_code == 200
        assert c.get("/api/v1/me").status_code == 401


def test_wrong_password_and_unknown_user_are_401(default_peer: str) -> None:
    with client(default_peer, "198.51.100.2") as c:
        r = login(c, "alice", WRONG)
        assert r.status_code == 401
        assert error_code(r) == "invalid_credentials"
        r = login(c, "nobody-here", PASSWORD)
        assert r.status_code == 401
        assert error_code(r) == "invalid_credentials"
        assert c.get("/api/v1/me").status_code == 401
    with client(default_peer, "198.51.100.2") as c:
        assert c.get("/healthz").status_code == 200
        bad = c.post("/api/v1/login", content=b"not json")
        assert bad.status_code == 422


def test_default_axes_counts_each_forwarded_address_apart(default_peer: str) -> None:
    # Two failures from each of two addresses: 4 in all, past the limit of 3 had they been
    # counted together; each address alone is still below it.
    for ip in ("198.51.100.3", "198.51.100.4"):
        with client(default_peer, ip) as c:
            for _ in range(DEFAULT_FAILURE_LIMIT - 1):
                assert login(c, "bob", WRONG).status_code == 401
    for ip in ("198.51.100.3", "198.51.100.4"):
        with client(default_peer, ip) as c:
            assert login(c, "bob", PASSWORD).status_code == 200


def test_default_axes_locks_the_address_after_the_documented_limit(default_peer: str) -> None:
    attacker = "203.0.113.50"
    with client(default_peer, attacker) as c:
        statuses = [login(c, "carol", WRONG).status_code for _ in range(DEFAULT_FAILURE_LIMIT)]
        # The failure that reaches the limit is already answered with the lockout.
        assert statuses == [401] * (DEFAULT_FAILURE_LIMIT - 1) + [LOCK_STATUS]
        locked = login(c, "carol", PASSWORD)
        assert locked.status_code == LOCK_STATUS
        assert error_code(locked) == "locked"
        assert "Contact an admin" in locked.json()["error"]["message"]  # no cool-off by default
        # The lock is on the address (AXES_LOCKOUT_PARAMETERS ["ip_address"]): every account.
        assert login(c, "dave", PASSWORD).status_code == LOCK_STATUS
        assert c.get("/api/v1/me").status_code == 401
    with client(default_peer, "203.0.113.51") as c:
        assert login(c, "carol", PASSWORD).status_code == 200
        assert c.get("/api/v1/me").json() == {"login_id": "carol"}


def test_tuned_axes_locks_username_and_address_together(tuned_peer: str) -> None:
    with client(tuned_peer, "192.0.2.10") as c:
        statuses = [login(c, "alice", WRONG).status_code for _ in range(TUNED_FAILURE_LIMIT)]
        assert statuses == [401] * (TUNED_FAILURE_LIMIT - 1) + [LOCK_STATUS]
        locked = login(c, "alice", PASSWORD)
        assert locked.status_code == LOCK_STATUS
        assert error_code(locked) == "locked"
        assert "try again later" in locked.json()["error"]["message"]
        # Another account from the same address is not locked.
        assert login(c, "bob", PASSWORD).status_code == 200
    # The same account from another address is not locked either.
    with client(tuned_peer, "192.0.2.11") as c:
        assert login(c, "alice", PASSWORD).status_code == 200
        assert c.get("/api/v1/me").json() == {"login_id": "alice"}


def test_tuned_axes_lock_ends_after_the_cooloff(tuned_peer: str) -> None:
    with client(tuned_peer, "192.0.2.20") as c:
        for _ in range(TUNED_FAILURE_LIMIT):
            login(c, "carol", WRONG)
        assert login(c, "carol", PASSWORD).status_code == LOCK_STATUS
        # A try during the lock restarts the cool-off (axes' default
        # AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so wait from the last one.
        time.sleep(TUNED_COOLOFF_SECONDS + 1)
        assert login(c, "carol", PASSWORD).status_code == 200


def test_tuned_axes_success_resets_the_count(tuned_peer: str) -> None:
    with client(tuned_peer, "192.0.2.30") as c:
        for _ in range(TUNED_FAILURE_LIMIT - 1):
            assert login(c, "dave", WRONG).status_code == 401
        assert login(c, "dave", PASSWORD).status_code == 200  # AXES_RESET_ON_SUCCESS
        for _ in range(TUNED_FAILURE_LIMIT - 1):
            assert login(c, "dave", WRONG).status_code == 401
        assert login(c, "dave", PASSWORD).status_code == 200


def test_totp_user_logs_in_in_two_steps(tuned_peer: str) -> None:
    secret = TOTP_SECRETS["otp-user"]
    with client(tuned_peer, "192.0.2.40") as c:
        assert login(c, "otp-user", WRONG).status_code == 401
        r = login(c, "otp-user", PASSWORD)
        assert r.status_code == 200
        assert r.json() == {"status": "otp_required"}
        me = c.get("/api/v1/me")
        assert me.status_code == 401
        assert error_code(me) == "otp_required"

        wrong = c.post("/api/v1/login/otp", json={"otp": wrong_code(secret)})
        assert wrong.status_code == 401
        assert error_code(wrong) == "invalid_otp"
        # django-otp's throttle: after one wrong code the device refuses any code for 1 s.
        throttled = c.post("/api/v1/login/otp", json={"otp": pyotp.TOTP(secret).now()})
        assert throttled.status_code == 429
        assert error_code(throttled) == "otp_throttled"
        assert c.get("/api/v1/me").status_code == 401

        time.sleep(1.2)
        right = c.post("/api/v1/login/otp", json={"otp": pyotp.TOTP(secret).now()})
        assert right.status_code == 200
        assert right.json() == {"status": "ok"}
        assert c.get("/api/v1/me").json() == {"login_id": "otp-user"}


def test_totp_code_in_the_login_body(tuned_peer: str) -> None:
    secret = TOTP_SECRETS["otp-inline"]
    with client(tuned_peer, "192.0.2.41") as c:
        r = login(c, "otp-inline", PASSWORD, otp=wrong_code(secret))
        assert r.status_code == 401
        assert error_code(r) == "invalid_otp"
        assert c.get("/api/v1/me").status_code == 401
        time.sleep(1.2)
        r = login(c, "otp-inline", PASSWORD, otp=pyotp.TOTP(secret).now())
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}
        assert c.get("/api/v1/me").json() == {"login_id": "otp-inline"}


def test_otp_step_needs_a_password_session(tuned_peer: str) -> None:
    with client(tuned_peer, "192.0.2.42") as c:
        r = c.post("/api/v1/login/otp", json={"otp": "123456"})
        assert r.status_code == 401
        assert error_code(r) == "not_authenticated"
