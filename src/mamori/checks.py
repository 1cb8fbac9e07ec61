"""Validate Settings: a list of problems with codes. Used at boot and by `mamori check`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mamori.models import EventType
from mamori.settings import Settings


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    fatal: bool = True


def check_settings(settings: Settings) -> list[Problem]:
    p: list[Problem] = []
    url = settings.database_url
    if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
        p.append(
            Problem(
                "database_url",
                "MAMORI_DATABASE_URL must be sqlite+aiosqlite:// or postgresql+asyncpg://",
            )
        )
    if settings.redis_url and not settings.redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        p.append(
            Problem("redis_url", "MAMORI_REDIS_URL must start with redis://, rediss:// or unix://")
        )
    if len(settings.secret_key) < 32:
        p.append(
            Problem(
                "secret_key",
                "MAMORI_SECRET_KEY must be at least 32 characters "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')",
            )
        )
    if not settings.cookie_secure and not settings.dev:
        p.append(
            Problem("cookie_secure", "MAMORI_COOKIE_SECURE=0 is only allowed with MAMORI_DEV=1")
        )
    if not settings.cookie_secure and settings.http_host not in ("127.0.0.1", "::1", "localhost"):
        p.append(
            Problem("cookie_secure", "insecure cookies are only allowed on a loopback address")
        )
    for cidr in settings.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            p.append(Problem("trusted_proxies", f"not an IP network: {cidr!r}"))
    if not 8 <= settings.password_min_length <= 64:
        p.append(Problem("password_min_length", "must be between 8 and 64"))
    if not settings.password_min_length <= settings.password_max_length <= 1024:
        p.append(Problem("password_max_length", "must be at least the minimum and at most 1024"))
    if settings.breached_file and not Path(settings.breached_file).is_file():
        p.append(Problem("breached_file", f"no such file: {settings.breached_file}"))
    for name in ("maxmind_country_db", "maxmind_asn_db"):
        value = getattr(settings, name)
        if value and not Path(value).is_file():
            p.append(Problem(name, f"no such file: {value}"))
    if settings.argon2_memory_kib < 7168 or settings.argon2_time_cost < 1:
        p.append(Problem("argon2", "argon2id below OWASP minimum (m>=7 MiB, t>=1)"))
    if settings.session_idle_minutes < 1 or settings.session_absolute_hours < 1:
        p.append(Problem("session_timeouts", "session timeouts must be positive"))
    if settings.max_body_bytes < 1024:
        p.append(Problem("max_body_bytes", "must be at least 1024"))
    if settings.default_language not in ("ja", "en"):
        p.append(Problem("default_language", "must be ja or en"))
    if settings.workers < 1:
        p.append(Problem("workers", "must be at least 1"))
    if settings.smtp_tls and settings.smtp_starttls:
        p.append(Problem("smtp_tls", "choose either MAMORI_SMTP_TLS or MAMORI_SMTP_STARTTLS"))
    if settings.sms_webhook_url:
        if not settings.sms_webhook_url.startswith(("https://", "http://")):
            p.append(Problem("sms_webhook_url", "MAMORI_SMS_WEBHOOK_URL must be http(s)://"))
        elif not settings.sms_webhook_url.startswith("https://") and not settings.dev:
            p.append(
                Problem(
                    "sms_webhook_url",
                    "MAMORI_SMS_WEBHOOK_URL should be https:// (SMS bodies hold codes)",
                    fatal=False,
                )
            )
        if len(settings.sms_webhook_secret) < 32:
            p.append(
                Problem(
                    "sms_webhook_secret",
                    "MAMORI_SMS_WEBHOOK_SECRET must be at least 32 characters when "
                    "MAMORI_SMS_WEBHOOK_URL is set",
                )
            )
    if settings.sms_webhook_timeout_seconds <= 0:
        p.append(Problem("sms_webhook_timeout_seconds", "must be positive"))
    if settings.defense_mode not in ("enforce", "monitor"):
        p.append(Problem("defense_mode", "MAMORI_DEFENSE_MODE must be enforce or monitor"))
    for cidr in settings.allowlist:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            p.append(Problem("allowlist", f"not an IP network: {cidr!r}"))
    if settings.lock_threshold < 1 or settings.device_lock_threshold < 1:
        p.append(Problem("lock_threshold", "lock thresholds must be at least 1"))
    if settings.detector_bucket_seconds <= 0 or settings.detector_history_buckets < 2:
        p.append(Problem("detector", "detector bucket must be > 0 s with >= 2 history buckets"))
    if settings.hash_queue < 0 or settings.hash_concurrency < 0:
        p.append(Problem("hash_concurrency", "hash concurrency and queue must be >= 0"))
    if settings.operator_token and len(settings.operator_token) < 32:
        p.append(Problem("operator_token", "MAMORI_OPERATOR_TOKEN must be at least 32 characters"))
    p += _two_step_problems(settings)
    p += _integration_problems(settings)
    return p


def _two_step_problems(s: Settings) -> list[Problem]:
    p: list[Problem] = []
    thresholds = (s.risk_medium_threshold, s.risk_high_threshold, s.risk_deny_threshold)
    if not all(x > 0 for x in thresholds) or not (
        s.risk_medium_threshold <= s.risk_high_threshold <= s.risk_deny_threshold
    ):
        p.append(Problem("risk_thresholds", "need 0 < medium <= high <= deny risk thresholds"))
    if s.risk_store not in ("auto", "sql", "redis"):
        p.append(Problem("risk_store", "MAMORI_RISK_STORE must be auto, sql or redis"))
    elif s.risk_store == "redis" and not s.redis_url:
        p.append(Problem("risk_store", "MAMORI_RISK_STORE=redis needs MAMORI_REDIS_URL"))
    if s.risk_history_days < 1 or s.risk_history_max_logins < 1:
        p.append(Problem("risk_history", "risk history days and max logins must be >= 1"))
    if s.two_step_default_mode not in ("off", "new_devices", "every_login"):
        p.append(Problem("two_step_default_mode", "must be off, new_devices or every_login"))
    if s.two_step_required not in ("none", "all"):
        p.append(Problem("two_step_required", "MAMORI_TWO_STEP_REQUIRED must be none or all"))
    minutes = (s.login_code_minutes, s.login_code_strict_minutes, s.phone_code_minutes)
    tries = (s.login_code_max_attempts, s.login_code_strict_max_attempts)
    if min(minutes) < 1 or min(tries) < 1 or s.login_code_max_resends < 0:
        p.append(Problem("login_code", "code minutes and tries must be >= 1, resends >= 0"))
    if s.trusted_device_days < 0:
        p.append(Problem("trusted_device_days", "must be >= 0"))
    return p + _notice_problems(s)


def _notice_problems(s: Settings) -> list[Problem]:
    p: list[Problem] = []
    if s.single_device_mode not in ("off", "optional", "all"):
        p.append(Problem("single_device_mode", "must be off, optional or all"))
    dkim = (s.dkim_private_key_file, s.dkim_selector, s.dkim_domain)
    if any(dkim) and not all(dkim):
        p.append(
            Problem("dkim", "set all of MAMORI_DKIM_PRIVATE_KEY_FILE, _SELECTOR and _DOMAIN")
        )
    elif s.dkim_private_key_file and not Path(s.dkim_private_key_file).is_file():
        p.append(Problem("dkim", f"no such file: {s.dkim_private_key_file}"))
    if s.notice_interval_seconds < 0 or s.not_me_days < 1:
        p.append(Problem("notices", "notice interval must be >= 0 s and not-me links >= 1 day"))
    resets = (
        s.password_reset_minutes,
        s.password_reset_max_attempts,
        s.password_reset_per_account_per_hour,
        s.password_reset_per_ip_per_hour,
    )
    if min(resets) < 1:
        p.append(Problem("password_reset", "reset minutes, tries and hourly limits must be >= 1"))
    return p


def _integration_problems(s: Settings) -> list[Problem]:
    """Outgoing webhooks, logs and /metrics (issue: fraud monitoring, item 7)."""
    p: list[Problem] = []
    if s.webhook_url:
        if not s.webhook_url.startswith(("https://", "http://")) or len(s.webhook_url) > 500:
            p.append(Problem("webhook_url", "MAMORI_WEBHOOK_URL must be http(s)://, <= 500 chars"))
        elif not s.webhook_url.startswith("https://") and not s.dev:
            p.append(
                Problem(
                    "webhook_url",
                    "MAMORI_WEBHOOK_URL should be https:// (events carry login IDs and IPs)",
                    fatal=False,
                )
            )
        if len(s.webhook_secret) < 32:
            p.append(
                Problem(
                    "webhook_secret",
                    "MAMORI_WEBHOOK_SECRET must be at least 32 characters when "
                    "MAMORI_WEBHOOK_URL is set",
                )
            )
    known = {e.value for e in EventType}
    unknown = [e for e in s.webhook_events if e not in known]
    if unknown:
        p.append(Problem("webhook_events", f"unknown event types: {', '.join(unknown)}"))
    if s.webhook_interval_seconds < 0:
        p.append(Problem("webhook_interval_seconds", "must be >= 0 (0: no delivery loop)"))
    if s.log_format not in ("text", "json"):
        p.append(Problem("log_format", "MAMORI_LOG_FORMAT must be text or json"))
    if s.metrics_token and len(s.metrics_token) < 32:
        p.append(Problem("metrics_token", "MAMORI_METRICS_TOKEN must be at least 32 characters"))
    return p
