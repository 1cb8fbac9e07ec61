"""Start-up: settings from the environment (with the dev secret), and the Services they imply."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import redis.asyncio as aioredis

from mamori.checks import check_settings
from mamori.clock import Clock, SystemClock
from mamori.errors import ConfigError
from mamori.flows.bancache import BanCache
from mamori.flows.defense import Defender, policy_from
from mamori.flows.hashgate import HashGate
from mamori.flows.risk_store import build_risk_store
from mamori.flows.services import GeoResolver, Services
from mamori.flows.webhooks import target_from
from mamori.geo import GeoIP2FastResolver
from mamori.netaddr import parse_cidrs
from mamori.notify.notifier import Notifier, build_notifier
from mamori.passwords import BreachedFile, HashParams, PasswordHasher, PasswordPolicy
from mamori.risk.policy import RiskPolicy
from mamori.settings import Settings
from mamori.store import Store, create_store
from mamori.store.counters import Counters
from mamori.store.counters_failover import FailoverCounters
from mamori.store.counters_redis import RedisCounters
from mamori.store.counters_sql import SQLCounters

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
    counters: Counters | None = None,
) -> Services:
    clock = clock or SystemClock()
    store = create_store(settings.database_url, webhook=target_from(settings))
    counters = counters or build_counters(settings, store=store)
    defender = Defender(
        policy=policy_from(settings),
        counters=counters,
        store=store,
        clock=clock,
        bans=BanCache(
            store, clock, ttl=settings.ban_cache_seconds, allowlist=parse_cidrs(settings.allowlist)
        ),
    )
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
        defender=defender,
        # one hash at a time per core across all worker processes of this host
        gate=HashGate(
            slots=settings.hash_concurrency or max(1, (os.cpu_count() or 1) // settings.workers),
            queue=settings.hash_queue,
        ),
        risk=build_risk_store(settings, store, _redis_client(settings)),
        risk_policy=RiskPolicy(
            medium_threshold=settings.risk_medium_threshold,
            high_threshold=settings.risk_high_threshold,
            deny_threshold=settings.risk_deny_threshold,
            challenge_recognized_under_attack=settings.risk_challenge_recognized_under_attack,
        ),
    )


def _redis_client(settings: Settings) -> aioredis.Redis | None:
    """A client for the risk tables when they live in Redis (connections are made lazily)."""
    if not settings.redis_url or settings.risk_store == "sql":
        return None
    return aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
    )


def build_counters(settings: Settings, *, store: Store) -> Counters:
    """SQL counters on the service database; Redis in front of them when MAMORI_REDIS_URL is set
    (falling back to SQL while Redis is unreachable)."""
    sql = SQLCounters(store.engine)
    if not settings.redis_url:
        return sql
    return FailoverCounters(RedisCounters.from_url(settings.redis_url), sql)
