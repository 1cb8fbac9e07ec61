"""SQLAlchemy Core tables: the one schema for SQLite and PostgreSQL (migrations mirror it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from mamori.models import ClientContext

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC, returned timezone-aware UTC, on both databases."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UTCDateTime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login_id", String(64), nullable=False),
    Column("login_key", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("email_verified_at", UTCDateTime(), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("language", String(8), nullable=False, server_default="ja"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_changed_at", UTCDateTime(), nullable=False),
    Column("restricted_at", UTCDateTime(), nullable=True),
    Column("restricted_reason", String(255), nullable=False, server_default=""),
    # two-step verification: "off" | "new_devices" | "every_login"
    Column("two_step_mode", String(16), nullable=False, server_default="new_devices"),
    Column("two_step_forced", Boolean(), nullable=False, server_default="0"),  # operator flag
    Column("phone_verified_at", UTCDateTime(), nullable=True),
    # a forced reset (after "this wasn't me" or by an operator): the next login resets it
    Column("password_reset_required", Boolean(), nullable=False, server_default="0"),
    # single-device mode: a new device that completes login signs the others out
    Column("single_device", Boolean(), nullable=False, server_default="0"),
    # dormant accounts (issue: fraud monitoring): last successful login, warning, suspension
    Column("last_login_at", UTCDateTime(), nullable=True),
    Column("dormant_warned_at", UTCDateTime(), nullable=True),
    Column("suspended_at", UTCDateTime(), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("idle_expires_at", UTCDateTime(), nullable=False),
    Column("absolute_expires_at", UTCDateTime(), nullable=False),
    Column("remember", Boolean(), nullable=False, server_default="0"),
    Column("ip", String(45), nullable=False, server_default=""),
    Column("user_agent", String(512), nullable=False, server_default=""),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoke_reason", String(32), nullable=False, server_default=""),
    Column("device_id", Id, nullable=True),  # the browser it was created on (devices.id)
    Index("ix_sessions_account_id", "account_id"),
)

security_events = Table(
    "security_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("type", String(40), nullable=False),
    Column("result", String(20), nullable=False, server_default=""),
    Column("reason", String(64), nullable=False, server_default=""),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    Column("login_id", String(128), nullable=False, server_default=""),
    Column("ip", String(45), nullable=False, server_default=""),
    Column("user_agent", String(512), nullable=False, server_default=""),
    Column("browser", String(64), nullable=False, server_default=""),
    Column("os", String(64), nullable=False, server_default=""),
    Column("device_type", String(16), nullable=False, server_default=""),
    Column("country", String(2), nullable=False, server_default=""),
    Column("asn", BigInteger(), nullable=True),
    Column("as_name", String(128), nullable=False, server_default=""),
    Column("details", Text(), nullable=False, server_default="{}"),
    Index("ix_security_events_account_id_at", "account_id", "at"),
    Index("ix_security_events_at", "at"),
    Index("ix_security_events_ip_at", "ip", "at"),
)

codes = Table(
    "codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("target", String(254), nullable=False, server_default=""),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("consumed_at", UTCDateTime(), nullable=True),
    Index("ix_codes_account_id_purpose", "account_id", "purpose"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(255), nullable=False, server_default=""),
    Column("body", Text(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("account_id", Id, nullable=True),
)

# ---- hot counters (SQLCounters); epoch-second floats, judged against the caller's clock ----

counters = Table(
    "counters",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("count", BigInteger(), nullable=False),
    Column("expires_at", Float(), nullable=False),
    Index("ix_counters_expires_at", "expires_at"),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("until", Float(), nullable=False),
)

counter_members = Table(
    "counter_members",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("member", String(200), primary_key=True),
    Column("seen_at", Float(), nullable=False),
)

tallies = Table(
    "tallies",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("member", String(200), primary_key=True),
    Column("count", BigInteger(), nullable=False),
    Column("expires_at", Float(), nullable=False),
    Index("ix_tallies_key_count", "key", "count"),
    Index("ix_tallies_expires_at", "expires_at"),
)

# ---- defenses: durable bans and recognized devices ----

bans = Table(
    "bans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # ip | cidr | network
    Column("value", String(128), nullable=False),
    Column("reason", String(255), nullable=False, server_default=""),
    Column("origin", String(16), nullable=False),  # rule | operator
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),  # None: until lifted
    Column("strikes", Integer(), nullable=False, server_default="1"),
    Column("details", Text(), nullable=False, server_default="{}"),
    UniqueConstraint("kind", "value", name="uq_bans_kind_value"),
    Index("ix_bans_expires_at", "expires_at"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("device_hash", String(64), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("last_ip", String(45), nullable=False, server_default=""),
    Column("user_agent", String(512), nullable=False, server_default=""),
    Column("browser", String(64), nullable=False, server_default=""),
    Column("os", String(64), nullable=False, server_default=""),
    Column("device_type", String(16), nullable=False, server_default=""),
    Column("country", String(2), nullable=False, server_default=""),
    Column("as_name", String(128), nullable=False, server_default=""),
    Column("trusted_until", UTCDateTime(), nullable=True),  # "don't ask again on this browser"
    # bound after a second step without "don't ask again": still a new device to the risk policy
    Column("ask_again", Boolean(), nullable=False, server_default="0"),
    UniqueConstraint("device_hash", "account_id", name="uq_devices_device_hash_account_id"),
    Index("ix_devices_account_id", "account_id"),
)

# ---- risk model frequency tables (mirror of risk.frequencies.MemoryFrequencies) ----
# scope "g" (all users) or "u<account id>"; key "n" (logins), "users" (global), or
# "c\x1f<level>\x1f<value>" (logins showing a value) and "d\x1f<level>" (distinct values)

risk_counts = Table(
    "risk_counts",
    metadata,
    Column("scope", String(24), primary_key=True),
    Column("key", String(600), primary_key=True),
    Column("count", BigInteger(), nullable=False),
)

# ---- two-step verification ----

totp_factors = Table(
    "totp_factors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("secret_enc", Text(), nullable=False),  # AES-GCM under a key from the secret key
    Column("created_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime(), nullable=True),  # None: enrollment not confirmed yet
    Column("last_step", BigInteger(), nullable=True),  # last accepted time step (no replay)
    UniqueConstraint("account_id", name="uq_totp_factors_account_id"),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Index("ix_recovery_codes_account_id", "account_id"),
)

challenges = Table(
    "challenges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # of the public challenge_id
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("login_key", String(128), nullable=False),
    Column("password_ok", Boolean(), nullable=False),
    Column("device_hash", String(64), nullable=False),  # the browser to bind at completion
    Column("remember", Boolean(), nullable=False, server_default="0"),
    Column("strict", Boolean(), nullable=False, server_default="0"),
    Column("methods", String(64), nullable=False),  # comma-separated
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("max_attempts", Integer(), nullable=False),
    Column("resends", Integer(), nullable=False, server_default="0"),
    Column("last_sent_at", UTCDateTime(), nullable=True),
    Column("code_hash", String(64), nullable=False, server_default=""),
    Column("code_channel", String(8), nullable=False, server_default=""),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("ended_reason", String(16), nullable=False, server_default=""),
    Column("ip", String(45), nullable=False, server_default=""),
    Column("decision", Text(), nullable=False, server_default="{}"),
    Index("ix_challenges_expires_at", "expires_at"),
)

# ---- risk model history: the logins the frequency tables count (pruned by age and cap) ----

risk_history = Table(
    "risk_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("ip", String(45), nullable=False, server_default=""),
    Column("network", String(128), nullable=False, server_default=""),
    Column("country", String(2), nullable=False, server_default=""),
    Column("ua", String(512), nullable=False, server_default=""),
    Column("browser", String(64), nullable=False, server_default=""),
    Column("os", String(64), nullable=False, server_default=""),
    Column("device_type", String(16), nullable=False, server_default=""),
    Column("device_id", String(64), nullable=True),
    Index("ix_risk_history_account_id_at", "account_id", "at"),
    Index("ix_risk_history_at", "at"),
)

# ---- notices: the in-app security inbox, notice codes, "this wasn't me" ----

notices = Table(
    "notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),  # of the notice code
    Column("created_at", UTCDateTime(), nullable=False),
    Column("channels", String(32), nullable=False, server_default=""),  # "email,sms,inbox"
    Column("params", Text(), nullable=False, server_default="{}"),  # what it said (no secrets)
    Column("event_id", Id, nullable=True),  # the security event it is about
    Column("device_id", Id, nullable=True),  # the device it is about (new-device logins)
    Column("session_id", Id, nullable=True),  # the session it is about
    Column("read_at", UTCDateTime(), nullable=True),
    # "this wasn't me": a one-time token (hash) that can only tighten security
    Column("action_hash", String(64), nullable=True, unique=True),
    Column("action_expires_at", UTCDateTime(), nullable=True),
    Column("feedback", String(16), nullable=False, server_default=""),  # not_me | was_me
    Column("feedback_at", UTCDateTime(), nullable=True),
    Index("ix_notices_account_id_created_at", "account_id", "created_at"),
)

risk_flags = Table(
    "risk_flags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # device | network | ip
    Column("value", String(128), nullable=False),
    Column("reason", String(32), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "kind", "value", name="uq_risk_flags_account_id_kind_value"),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # the link's token
    Column("code_hash", String(64), nullable=False),  # the 6-digit code, bound to the token
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("verified_at", UTCDateTime(), nullable=True),  # code or link accepted
    Column("used_at", UTCDateTime(), nullable=True),  # password set
    Column("ip", String(45), nullable=False, server_default=""),
    Index("ix_password_resets_account_id", "account_id"),
)

# ---- operations (issue: fraud monitoring): webhooks, operators, audit, incidents ----

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=True),  # security_events.id
    Column("event_type", String(40), nullable=False),
    Column("url", String(500), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),  # delivered | dead
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),  # a sender's lease
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_error", String(255), nullable=False, server_default=""),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # admin | analyst
    Column("totp_secret_enc", Text(), nullable=False, server_default=""),
    Column("totp_last_step", BigInteger(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("operator_id", Id, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("reauth_at", UTCDateTime(), nullable=False),  # last password + TOTP entry
    Column("revoked_at", UTCDateTime(), nullable=True),
)

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(255), nullable=False),  # comma-separated
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),  # "operator:<name>", "token:<name>", "cli:<user>"
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False, server_default=""),
    Column("reason", Text(), nullable=False, server_default=""),
    Column("details", Text(), nullable=False, server_default="{}"),
    Index("ix_audit_log_at", "at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("status", String(16), nullable=False, server_default="open"),  # open | closed
    Column("summary", Text(), nullable=False, server_default="{}"),  # signals, reasons, volumes
)

incident_actions = Table(
    "incident_actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="running"),  # running | done
    Column("actor", String(80), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("params", Text(), nullable=False, server_default="{}"),
    Column("total", Integer(), nullable=False, server_default="0"),
    Index("ix_incident_actions_incident_id", "incident_id"),
)

incident_action_items = Table(
    "incident_action_items",
    metadata,
    Column(
        "action_id", Id, ForeignKey("incident_actions.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("target", String(128), primary_key=True),  # an account id, or a source
    Column("done_at", UTCDateTime(), nullable=True),
)


def client_columns(client: ClientContext) -> dict[str, str]:
    """What an event and a device binding keep of the client, cut to their columns' sizes."""
    return {
        "user_agent": client.user_agent[:512],
        "browser": client.browser[:64],
        "os": client.os[:64],
        "device_type": client.device_type[:16],
        "country": client.country[:2],
        "as_name": client.as_name[:128],
    }
