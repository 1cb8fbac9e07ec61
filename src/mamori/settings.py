"""Frozen settings. The only module that reads the environment.

Every field `name` is read from the environment variable `MAMORI_<NAME>` (upper case), or from
the `[mamori]` table of a TOML file named by `MAMORI_CONFIG` (environment wins). Values are parsed
by the field's type: bool (1/0, true/false, yes/no, on/off), int, float, str, and tuple[str, ...]
(comma-separated). Parse failures are collected and raised together as one ConfigError.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamori.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Settings:
    # general
    dev: bool = False
    secret_key: str = ""
    default_language: str = "ja"
    public_url: str = ""
    # storage
    database_url: str = "sqlite+aiosqlite:///./var/mamori.db"
    redis_url: str = ""
    # http
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    workers: int = 1
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 65536
    cookie_secure: bool = True
    # passwords
    password_min_length: int = 12
    password_max_length: int = 128
    breached_file: str = ""
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    # sessions
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    session_remember_days: int = 30
    # one-time codes
    email_code_minutes: int = 30
    email_code_max_attempts: int = 5
    # geo
    maxmind_country_db: str = ""
    maxmind_asn_db: str = ""
    # mail
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Mamori <no-reply@mamori.localhost>"
    # SMS: POSTed as signed JSON to a gateway webhook when the URL is set (see notify/sms.py)
    sms_webhook_url: str = field(default="", repr=False)  # may carry a gateway token
    sms_webhook_secret: str = field(default="", repr=False)
    sms_sender_id: str = "Mamori"
    sms_webhook_timeout_seconds: float = 5.0
    # phone numbers without a country prefix are read in this region
    phone_default_region: str = "JP"
    # defenses (issue: attack defenses); durations in seconds unless named otherwise
    defense_mode: str = "enforce"  # or "monitor": record what would be blocked, block nothing
    allowlist: tuple[str, ...] = ()  # CIDRs never blocked (still monitored)
    lock_threshold: int = 5
    lock_window_seconds: float = 900.0
    lock_seconds: float = 600.0
    lock_extend: bool = True
    lock_max_seconds: float = 86400.0
    device_lock_threshold: int = 10
    device_lock_seconds: float = 600.0
    ip_fail_threshold: int = 20
    ip_fail_window_seconds: float = 600.0
    ip_throttle_seconds: float = 900.0
    ip_distinct_threshold: int = 100
    ip_distinct_window_seconds: float = 86400.0
    ip_block_seconds: float = 86400.0
    subnet_min_failures: int = 30
    network_min_failures: int = 100
    source_rate_factor: float = 10.0
    source_block_seconds: float = 3600.0
    detector_bucket_seconds: float = 60.0
    detector_history_buckets: int = 60
    detector_interval_seconds: float = 10.0  # 0 disables the background detector
    detector_min_failures: int = 30
    detector_failure_ratio: float = 0.5
    detector_unknown_share: float = 0.3
    detector_rate_factor: float = 5.0
    under_attack_seconds: float = 900.0
    ban_cache_seconds: float = 2.0
    hash_concurrency: int = 0  # 0: one per CPU core
    hash_queue: int = 64
    device_cookie_days: int = 400
    operator_token: str = field(default="", repr=False)  # static token for /api/v1/admin
    # risk-based login (issue: risk and two-step); thresholds are likelihood ratios
    risk_medium_threshold: float = 0.001
    risk_high_threshold: float = 100.0
    risk_deny_threshold: float = 10000.0
    risk_challenge_recognized_under_attack: bool = False
    risk_store: str = "auto"  # "sql" | "redis" | "auto" (redis when MAMORI_REDIS_URL is set)
    risk_history_days: int = 183  # logins older than this leave the frequency tables
    risk_history_max_logins: int = 200  # per account; the oldest leave first
    risk_prune_interval_seconds: float = 3600.0  # 0 disables the background pruning
    # two-step verification
    two_step_default_mode: str = "new_devices"  # for new accounts: off | new_devices | every_login
    two_step_required: str = "none"  # operator policy: none | all ("off" becomes new_devices)
    trusted_device_days: int = 90  # "don't ask again on this browser"
    login_code_minutes: int = 10
    login_code_max_attempts: int = 5
    login_code_strict_minutes: int = 5  # under attack or high risk
    login_code_strict_max_attempts: int = 3
    login_code_max_resends: int = 3
    login_code_resend_seconds: float = 30.0
    phone_code_minutes: int = 10
    totp_issuer: str = "Mamori"
    # notices (issue: notices, "this wasn't me", security center, reset)
    notice_interval_seconds: float = 3600.0  # per account and kind (security codes excepted)
    not_me_days: int = 7  # how long a "this wasn't me" link works
    support_contact: str = ""  # shown on "how we contact you" (a URL or an address)
    dkim_private_key_file: str = ""  # PEM; when set (with selector and domain) mail is signed
    dkim_selector: str = ""
    dkim_domain: str = ""
    password_reset_minutes: int = 15
    password_reset_max_attempts: int = 5
    password_reset_per_account_per_hour: int = 3
    password_reset_per_ip_per_hour: int = 20
    single_device_mode: str = "optional"  # off | optional (an account setting) | all
    # operations (issue: fraud monitoring)
    webhook_url: str = field(default="", repr=False)  # security events are POSTed here
    webhook_secret: str = field(default="", repr=False)  # HMAC-SHA256 key, >= 32 chars
    webhook_events: tuple[str, ...] = ()  # event types to send; empty: all
    webhook_interval_seconds: float = 5.0  # delivery loop cadence; 0 disables the loop
    log_format: str = "text"  # or "json": one JSON object per line
    metrics_token: str = field(default="", repr=False)  # when set, /metrics needs the bearer
    dormant_enabled: bool = False
    dormant_after_days: int = 1095  # no successful login for 3 years
    dormant_warning_days: int = 30  # the warning notice goes out this long before

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_path = env.get("MAMORI_CONFIG", "")
        if config_path:
            try:
                with Path(config_path).open("rb") as fh:
                    table = tomllib.load(fh).get("mamori", {})
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError([("config_file", f"cannot read {config_path}: {exc}")]) from exc
            values.update({str(k): v for k, v in table.items()})
        for f in dataclasses.fields(cls):
            key = "MAMORI_" + f.name.upper()
            if key in env:
                values[f.name] = env[key]
        values.update(overrides)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        problems: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for name, raw in values.items():
            f = known.get(name)
            if f is None:
                problems.append(("unknown_setting", f"unknown setting {name!r}"))
                continue
            try:
                kwargs[name] = _parse(str(f.type), raw)
            except ValueError as exc:
                problems.append(("bad_value", f"MAMORI_{name.upper()}: {exc}"))
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse(type_name: str, raw: Any) -> Any:
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected a boolean, got {raw!r}")
    if type_name == "int":
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if type_name == "float":
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {raw!r}") from None
    if type_name.startswith("tuple"):
        if isinstance(raw, (list, tuple)):
            return tuple(str(x).strip() for x in raw if str(x).strip())
        return tuple(p.strip() for p in str(raw).split(",") if p.strip())
    return str(raw)
