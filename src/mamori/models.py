"""Frozen domain records, shared by flows, store and web."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    SIGNUP = "signup"
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 — an event name
    PASSWORD_REHASHED = "password_rehashed"  # noqa: S105 — an event name
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CODE_SENT = "email_code_sent"
    EMAIL_CODE_FAILED = "email_code_failed"
    EMAIL_CHANGED = "email_changed"
    SESSIONS_REVOKED = "sessions_revoked"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    ACCOUNT_RESTRICTED = "account_restricted"
    ACCOUNT_UNRESTRICTED = "account_unrestricted"
    BAN_ADDED = "ban_added"
    BAN_REMOVED = "ban_removed"
    ATTACK_STARTED = "attack_started"
    REQUEST_BLOCKED = "request_blocked"
    LOGIN_CHALLENGED = "login_challenged"
    CHALLENGE_FAILED = "challenge_failed"
    CHALLENGE_CODE_SENT = "challenge_code_sent"
    DEVICE_TRUSTED = "device_trusted"
    DEVICE_FORGOTTEN = "device_forgotten"
    TWO_STEP_MODE_CHANGED = "two_step_mode_changed"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_REMOVED = "totp_removed"
    TOTP_REPLAY = "totp_replay"
    RECOVERY_CODES_GENERATED = "recovery_codes_generated"
    RECOVERY_CODE_USED = "recovery_code_used"
    PHONE_CODE_SENT = "phone_code_sent"
    PHONE_VERIFIED = "phone_verified"
    PHONE_REMOVED = "phone_removed"
    TWO_STEP_REQUIRED = "two_step_required"
    NOTICE_SENT = "notice_sent"
    NOTICE_SUPPRESSED = "notice_suppressed"
    NOT_ME_REPORTED = "not_me_reported"
    WAS_ME_CONFIRMED = "was_me_confirmed"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 — an event name
    PASSWORD_RESET = "password_reset"  # noqa: S105 — an event name
    PASSWORD_RESET_FORCED = "password_reset_forced"  # noqa: S105 — an event name
    SINGLE_DEVICE_CHANGED = "single_device_changed"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_REACTIVATED = "account_reactivated"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login_id: str
    email: str
    email_verified_at: datetime | None
    phone: str | None
    password_hash: str = field(repr=False)
    language: str
    created_at: datetime
    password_changed_at: datetime
    restricted_at: datetime | None = None
    restricted_reason: str = ""
    two_step_mode: str = "new_devices"  # "off" | "new_devices" | "every_login"
    two_step_forced: bool = False  # flagged by an operator: the second step is required
    phone_verified_at: datetime | None = None
    password_reset_required: bool = False  # forced reset: the next login goes through a reset
    single_device: bool = False  # a new device that completes login signs the others out
    last_login_at: datetime | None = None
    dormant_warned_at: datetime | None = None
    suspended_at: datetime | None = None  # dormant: suspended until the owner reactivates

    @property
    def phone_verified(self) -> bool:
        return self.phone is not None and self.phone_verified_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def restricted(self) -> bool:
        return self.restricted_at is not None


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    account_id: int
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    remember: bool
    ip: str
    user_agent: str
    revoked_at: datetime | None = None
    device_id: int | None = None

    def active_at(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and now < self.idle_expires_at
            and now < self.absolute_expires_at
        )


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Who is asking, as far as the request tells: resolved by web/, enriched by flows/."""

    ip: str
    user_agent: str
    browser: str = ""
    os: str = ""
    device_type: str = ""
    country: str = ""
    asn: int | None = None
    as_name: str = ""


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    id: int
    at: datetime
    type: str
    result: str
    reason: str
    account_id: int | None
    login_id: str
    ip: str
    user_agent: str
    browser: str
    os: str
    device_type: str
    country: str
    asn: int | None
    as_name: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A message for a person: email or SMS. Bodies may hold codes: never log them."""

    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str = field(repr=False)
    kind: str
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    at: datetime
    channel: str
    to: str
    subject: str
    body: str
    kind: str
    account_id: int | None


@dataclass(frozen=True, slots=True)
class Ban:
    id: int
    kind: str  # "ip" | "cidr" | "network"
    value: str
    reason: str
    origin: str  # "rule" | "operator"
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    strikes: int
    details: dict[str, Any]

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    device_hash: str
    account_id: int
    created_at: datetime
    last_seen_at: datetime
    last_ip: str
    browser: str
    os: str
    device_type: str
    country: str
    as_name: str
    trusted_until: datetime | None = None
    ask_again: bool = False  # bound after a second step without "don't ask again"
    user_agent: str = ""

    @property
    def known(self) -> bool:
        """A device the risk policy treats as the user's own (not a new device)."""
        return not self.ask_again

    def trusted_at(self, now: datetime) -> bool:
        return self.trusted_until is not None and self.trusted_until > now
