"""Settings come from MAMORI_* variables (or a TOML file); bad values are reported with codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.checks import check_settings
from mamori.errors import ConfigError
from mamori.settings import Settings


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite+aiosqlite:///./var/mamori.db"
    assert (s.http_port, s.password_min_length, s.password_max_length) == (8000, 12, 128)
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (2, 19456, 1)
    assert (s.session_idle_minutes, s.session_absolute_hours, s.session_remember_days) == (
        30,
        12,
        30,
    )
    assert s.max_body_bytes == 65536
    assert s.trusted_proxies == ()


def test_env_parsing() -> None:
    s = Settings.from_env(
        {
            "MAMORI_HTTP_PORT": "9001",
            "MAMORI_DEV": "yes",
            "MAMORI_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.0/16",
            "UNRELATED": "x",
        }
    )
    assert s.http_port == 9001
    assert s.dev is True
    assert s.trusted_proxies == ("10.0.0.0/8", "192.168.0.0/16")


def test_bad_values_are_collected() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"MAMORI_HTTP_PORT": "eighty", "MAMORI_DEV": "maybe"})
    assert len(info.value.problems) == 2
    assert all(code == "bad_value" for code, _ in info.value.problems)


def test_toml_file(tmp_path: Path) -> None:
    cfg = tmp_path / "mamori.toml"
    cfg.write_text("[mamori]\nhttp_port = 9100\npassword_min_length = 14\n")
    s = Settings.from_env({"MAMORI_CONFIG": str(cfg), "MAMORI_HTTP_PORT": "9200"})
    assert s.http_port == 9200  # environment wins
    assert s.password_min_length == 14
    cfg.write_text("[mamori]\nnot_a_setting = 1\n")
    with pytest.raises(ConfigError):
        Settings.from_env({"MAMORI_CONFIG": str(cfg)})


def test_checks_report_codes(tmp_path: Path) -> None:
    s = Settings(
        secret_key="short",
        cookie_secure=False,
        trusted_proxies=("not-a-cidr",),
        password_min_length=4,
        breached_file=str(tmp_path / "missing.txt"),
    )
    codes = {p.code for p in check_settings(s)}
    assert {
        "secret_key",
        "cookie_secure",
        "trusted_proxies",
        "password_min_length",
        "breached_file",
    } <= codes
    good = Settings(secret_key="k" * 40)
    assert check_settings(good) == []
