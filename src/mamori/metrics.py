"""Prometheus metrics: the metric objects, and the few functions that move them.

Where they move (one place each):

- `count_events`        every committed `security_events` row (`Store.begin` calls it after
                        COMMIT with the events the transaction added): login outcomes,
                        challenges, locks, bans, attacks, notices, and events by type
- `observe_request`     every HTTP response (`web/observability.ObservabilityMiddleware`)
- `count_blocked`       a request the ban gate refused before routing (the same middleware)
- `set_under_attack`    each detector tick (`web/app.detector_loop`)
- `count_webhook`       each webhook delivery attempt (`flows/webhooks.deliver_due`)
- `count_hash`          each password hash or verification (`flows/hashgate.HashGate.run`), with
                        the CPU time its thread spent: capacity planning, and the benchmark's
                        split of a login's CPU into the hash and everything else

Label values come from fixed vocabularies (outcomes, event types, channels, route *templates*,
HTTP methods and statuses), never from a request's data: no login ID, IP, address, user agent or
raw path is ever a label value. Anything outside a vocabulary is counted as "other".

Several worker processes (`mamori serve --workers N`): `serve` points
`PROMETHEUS_MULTIPROC_DIR` at a fresh temporary directory before the workers start, so every
worker writes its values there and `/metrics` (answered by any worker) adds them up with
prometheus_client's `MultiProcessCollector`. Gauges take the maximum over the live workers (they
all read the same shared state). With one process, the default registry is exposed as is (with
the process and Python collectors).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LOGIN_OUTCOMES = (
    "ok",
    "challenge",
    "invalid",
    "locked",
    "blocked",
    "denied",
    "restricted",
    "reset_required",
)
CHALLENGE_RESULTS = ("started", "passed", "failed", "exhausted")
LOCK_SCOPES = ("login_id", "device")
BAN_KINDS = ("ip", "cidr", "network")
BAN_ORIGINS = ("rule", "operator")
CHANNELS = ("email", "sms")
WEBHOOK_RESULTS = ("delivered", "retry", "dead")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LOGIN_ROUTES = frozenset({("POST", "/api/v1/login"), ("POST", "/login")})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

LOGINS = Counter(
    "mamori_logins",
    "Password logins by outcome (what the client was answered; 'challenge' also when the "
    "password was wrong, as the client cannot tell).",
    ["outcome"],
)
CHALLENGES = Counter(
    "mamori_challenges",
    "Second-step challenges: started, passed (a session followed), failed (a wrong code), "
    "exhausted (the last try failed).",
    ["result"],
)
LOCKS = Counter("mamori_locks", "Temporary login locks started, by what was locked.", ["scope"])
BANS = Counter(
    "mamori_bans_added",
    "Bans added or renewed; mode 'monitor' when the defenses only record.",
    ["kind", "origin", "mode"],
)
ATTACKS = Counter("mamori_attacks_started", "Credential-stuffing attacks the detector opened.")
UNDER_ATTACK = Gauge(
    "mamori_under_attack",
    "1 while the detector's 'under attack' state holds, else 0.",
    multiprocess_mode="livemax",
)
NOTICES = Counter(
    "mamori_notices_sent",
    "Security notices by kind and channel: every notice is an inbox entry; email and SMS are "
    "counted when handed to delivery (delivery failures are logged by the notifier).",
    ["kind", "channel"],
)
NOTICES_SUPPRESSED = Counter(
    "mamori_notices_suppressed",
    "Notices that went to the inbox only: email/SMS held back by the per-account hourly "
    "limit, or a kind that is inbox-only.",
    ["kind"],
)
EVENTS = Counter("mamori_security_events", "Committed security events by type.", ["type"])
BLOCKED = Counter(
    "mamori_requests_blocked",
    "Requests from banned sources refused by the ban gate, by route.",
    ["route"],
)
WEBHOOKS = Counter(
    "mamori_webhook_deliveries",
    "Webhook delivery attempts: delivered (2xx), retry (failed, will be retried), dead "
    "(failed for the last time).",
    ["result"],
)
WEBHOOK_PENDING = Gauge(
    "mamori_webhook_pending",
    "Webhook deliveries waiting (as of the last delivery round).",
    multiprocess_mode="livemax",
)
HASHES = Counter(
    "mamori_password_hashes", "Password hashes and verifications run (argon2id, any outcome)."
)
HASH_CPU = Counter(
    "mamori_password_hash_cpu_seconds",
    "CPU time the hashing threads spent on password hashes and verifications.",
)
REQUEST_SECONDS = Histogram(
    "mamori_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS = Counter(
    "mamori_http_requests",
    "HTTP responses by route template, method and status code.",
    ["route", "method", "status"],
)


def _name(value: object, allowed: Iterable[str] | None = None) -> str:
    """A label value from a vocabulary: `value` when it is a short lower-case name (and in
    `allowed` when given), else "other"."""
    text = str(value)
    if allowed is not None:
        return text if text in allowed else "other"
    return text if _NAME.fullmatch(text) else "other"


def _login_outcome(reason: str, details: Mapping[str, Any]) -> str:
    if details.get("challenged"):
        return "challenge"  # a wrong password or unknown ID answered with a challenge
    if reason in ("locked", "lock_started", "device_locked", "device_lock_started"):
        return "locked"
    if reason == "risk_denied":
        return "denied"
    if reason == "restricted":
        return "restricted"
    return "invalid"


def count_event(
    type: str, *, result: str = "", reason: str = "", details: Mapping[str, Any] | None = None
) -> None:
    """Count one committed security event."""
    d = details or {}
    EVENTS.labels(_name(type)).inc()
    if type == "login_success":
        if d.get("challenge"):
            CHALLENGES.labels("passed").inc()
        else:
            LOGINS.labels("ok").inc()
    elif type == "login_failure":
        if "method" in d:  # after a passed second step (restricted)
            CHALLENGES.labels("passed").inc()
        else:
            outcome = _login_outcome(reason, d)
            LOGINS.labels(outcome).inc()
            if outcome == "challenge":
                CHALLENGES.labels("started").inc()
    elif type == "login_challenged":
        LOGINS.labels("challenge").inc()
        CHALLENGES.labels("started").inc()
    elif type == "challenge_failed":
        CHALLENGES.labels("exhausted" if reason == "too_many" else "failed").inc()
    elif type == "password_reset_requested" and reason == "forced":
        LOGINS.labels("reset_required").inc()
    elif type == "account_locked":
        LOCKS.labels("device" if reason.startswith("device") else "login_id").inc()
    elif type == "ban_added":
        BANS.labels(
            _name(d.get("kind", ""), BAN_KINDS),
            _name(d.get("origin", "rule"), BAN_ORIGINS),
            "monitor" if result == "monitor" else "enforce",
        ).inc()
    elif type == "attack_started":
        ATTACKS.inc()
    elif type in ("notice_sent", "notice_suppressed"):
        kind = _name(reason)
        NOTICES.labels(kind, "inbox").inc()
        if type == "notice_sent":
            for channel in d.get("channels", ()):
                NOTICES.labels(kind, _name(channel, CHANNELS)).inc()
        else:
            NOTICES_SUPPRESSED.labels(kind).inc()


def count_events(events: Iterable[tuple[str, str, str, Mapping[str, Any]]]) -> None:
    """Count committed events given as (type, result, reason, details)."""
    for type, result, reason, details in events:
        count_event(type, result=result, reason=reason, details=details)


def route_label(route: str | None) -> str:
    return route if route else "unmatched"


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    m = method if method in METHODS else "other"
    REQUEST_SECONDS.labels(route, m).observe(seconds)
    REQUESTS.labels(route, m, str(status) if 100 <= status <= 599 else "other").inc()


def count_blocked(*, method: str, route: str) -> None:
    """A request the ban gate refused (route: one of the gated paths, a fixed set)."""
    BLOCKED.labels(route).inc()
    if (method, route) in LOGIN_ROUTES:
        LOGINS.labels("blocked").inc()


def count_hash(cpu_seconds: float) -> None:
    HASHES.inc()
    HASH_CPU.inc(max(0.0, cpu_seconds))


def set_under_attack(value: bool) -> None:
    UNDER_ATTACK.set(1 if value else 0)


def count_webhook(result: str, n: int = 1) -> None:
    if n:
        WEBHOOKS.labels(_name(result, WEBHOOK_RESULTS)).inc(n)


def set_webhook_pending(count: int) -> None:
    WEBHOOK_PENDING.set(count)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, summed over the worker processes when several
    share a multiprocess directory. Returns (body, content type)."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
