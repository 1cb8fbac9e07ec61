"""The `mamori` command as an operator runs it, in a subprocess on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    e.update(
        {
            "MAMORI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "MAMORI_SECRET_KEY": "cli-test-secret-" + "y" * 32,
            "MAMORI_ARGON2_TIME_COST": "1",
            "MAMORI_ARGON2_MEMORY_KIB": "8192",
            "COLUMNS": "200",
        }
    )
    return e


def test_migrate_add_show_list(env: dict[str, str]) -> None:
    assert run(["migrate"], env).returncode == 0
    r = run(
        [
            "users",
            "add",
            "cli-user",
            "cli@example.com",
            "--phone",
            "+81 90 1234 5678",
            "--password-stdin",
        ],
        env,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert "created account 1" in r.stdout
    r = run(
        ["users", "add", "cli-user2", "cli2@example.com", "--password-stdin"],
        env,
        stdin="password1234\n",
    )
    assert r.returncode == 1
    assert "password_rejected" in r.stderr
    r = run(["users", "show", "CLI-USER"], env)
    assert r.returncode == 0
    assert "cli@example.com" in r.stdout
    assert "signup" in r.stdout
    r = run(["users", "list"], env)
    assert "1 accounts in all" in r.stdout
    assert "new_devices" in r.stdout
    assert run(["users", "show", "ghost"], env).returncode == 1
    r = run(["users", "require-two-step", "cli-user", "--reason", "leaked list"], env)
    assert r.returncode == 0, r.stderr
    r = run(["users", "show", "cli-user"], env)
    assert "required next login" in r.stdout
    assert "two_step_required" in r.stdout
    assert run(["users", "require-two-step", "cli-user", "--off"], env).returncode == 0
    assert "required next login" not in run(["users", "show", "cli-user"], env).stdout
    # the periodic jobs: a day of disuse is "dormant" here, warned at once, never twice
    jobs_env = {**env, "MAMORI_DORMANT_ENABLED": "1", "MAMORI_DORMANT_AFTER_DAYS": "1"}
    jobs_env["MAMORI_DORMANT_WARNING_DAYS"] = "1"
    r = run(["jobs", "run"], jobs_env)
    assert r.returncode == 0, r.stderr
    assert "dormant: 1 warned, 0 suspended" in r.stdout
    assert "dormant: 0 warned, 0 suspended" in run(["jobs", "run"], jobs_env).stdout


def test_check(env: dict[str, str]) -> None:
    r = run(["check"], env)
    assert r.returncode == 0
    assert "settings OK" in r.stdout
    env["MAMORI_SECRET_KEY"] = "short"
    env["MAMORI_TRUSTED_PROXIES"] = "nonsense"
    r = run(["check"], env)
    assert r.returncode == 1
    assert "secret_key" in r.stdout
    assert "trusted_proxies" in r.stdout
