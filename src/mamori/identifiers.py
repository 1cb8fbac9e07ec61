"""Login IDs, email addresses and phone numbers: validation and normalization.

A login ID is NFKC-normalized and trimmed for display, and case-folded into the `login_key`
that makes it unique case-insensitively. It may use letters and digits of any script and
`. _ - @ +`, 3 to 64 characters. Control characters are never accepted.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from mamori.errors import InputError

LOGIN_ID_MIN = 3
LOGIN_ID_MAX = 64
_LOGIN_EXTRA = set("._-@+")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,252}\.[^@\s.]{2,63}$")


def has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def normalize_login_id(raw: str) -> tuple[str, str]:
    """(display form, unique key), or InputError(code=invalid_login_id)."""
    if has_control(raw):
        raise InputError(
            "login ID contains control characters", code="invalid_login_id", field="login_id"
        )
    display = unicodedata.normalize("NFKC", raw).strip()
    if not LOGIN_ID_MIN <= len(display) <= LOGIN_ID_MAX:
        raise InputError(
            f"login ID must be {LOGIN_ID_MIN} to {LOGIN_ID_MAX} characters",
            code="invalid_login_id",
            field="login_id",
        )
    if not all(ch.isalnum() or ch in _LOGIN_EXTRA for ch in display):
        raise InputError(
            "login ID may contain letters, digits and . _ - @ + only",
            code="invalid_login_id",
            field="login_id",
        )
    return display, login_key(display)


def login_key(raw: str) -> str:
    """The case-insensitive key of a submitted login ID (also for IDs that fail validation)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).strip().casefold())


def printable(text: str) -> str:
    """The text with control and unassigned characters replaced, for storing what was submitted."""
    return "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch
                   for ch in text)


def normalize_email(raw: str) -> str:
    email = unicodedata.normalize("NFKC", raw).strip()
    if has_control(email) or len(email) > 254 or not _EMAIL.match(email):
        raise InputError("not a valid email address", code="invalid_email", field="email")
    local, domain = email.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InputError("not a valid email domain", code="invalid_email", field="email") from None
    return f"{local}@{domain}"


def normalize_phone(raw: str, *, default_region: str) -> str:
    """E.164 form (+81901234567), or InputError(code=invalid_phone)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InputError("not a valid phone number", code="invalid_phone", field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InputError("not a valid phone number", code="invalid_phone", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
