"""Start-up: settings from the environment (with the dev secret), and the Services they imply."""

from __future__ import annotations

import secrets
from pathlib import Path

from mamori.checks import check_settings
from mamori.clock import Clock, SystemClock
from mamori.errors import ConfigError
from mamori.flows.services import GeoResolver, Services
from mamori.geo import GeoIP2FastResolver
from mamori.notify.notifier import Notifier, build_notifier
from mamori.passwords import BreachedFile, HashParams, PasswordHasher, PasswordPolicy
from mamori.settings import Settings
from mamori.store import create_store

DEV_SECRET_FILE = Path("var/secret_key")


def load_settings() -> Settings:
    """Settings from the environment. In dev mode without a secret key, one is generated once
    and kept in ./var/secret_key so sessions and codes survive restarts."""
    settings = Settings.from_env()
    if settings.dev and not settings.secret_key:
        DEV_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        if not DEV_SECRET_FILE.exists():
            DEV_SECRET_FILE.write_text(secrets.token_urlsafe(48))
            DEV_SECRET_FILE.chmod(0o600)
        settings = settings.replace(secret_key=DEV_SECRET_FILE.read_text().strip())
    return settings


def validated(settings: Settings) -> Settings:
    problems = [p for p in check_settings(settings) if p.fatal]
    if problems:
        raise ConfigError([(p.code, p.message) for p in problems])
    return settings


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    geo: GeoResolver | None = None,
) -> Services:
    clock = clock or SystemClock()
    store = create_store(settings.database_url)
    hasher = PasswordHasher(
        params=HashParams(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
    )
    policy = PasswordPolicy(
        min_length=settings.password_min_length,
        max_length=settings.password_max_length,
        breached=BreachedFile(Path(settings.breached_file)) if settings.breached_file else None,
    )
    return Services(
        settings=settings,
        store=store,
        hasher=hasher,
        policy=policy,
        geo=geo
        or GeoIP2FastResolver(
            maxmind_country_db=Path(settings.maxmind_country_db)
            if settings.maxmind_country_db
            else None,
            maxmind_asn_db=Path(settings.maxmind_asn_db) if settings.maxmind_asn_db else None,
        ),
        notifier=notifier or build_notifier(settings, store=store, clock=clock),
        clock=clock,
    )
