"""One-time codes: generated from `secrets`, stored as keyed HMACs, compared in constant time.

Three kinds live here, all pure (time is a parameter, randomness comes from `secrets`):

- numeric codes sent by email/SMS: `new_numeric_code`, `hash_code`, `code_matches`;
- authenticator apps (TOTP, RFC 6238, on pyotp): `new_totp_secret`, `totp_uri`, `verify_totp`
  (returns a `TotpResult`; the caller persists `result.step` as the account's last used step,
  so a code is never accepted twice), plus `totp_at`, `totp_step` and `hotp` (RFC 4226);
- recovery codes: `new_recovery_codes` (shown once), `hash_recovery_code` (the only thing
  stored), `recovery_code_matches` / `find_recovery_code`. Marking a code used is the caller's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyotp

TotpDigest = Literal["sha1", "sha256", "sha512"]

_DIGESTS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
_MAX_INPUT = 64  # longer "codes" are refused before any normalization work
# no 0/o, 1/l/i, u/v: easy to read aloud and to type from paper
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstwxyz"
RECOVERY_GROUPS = (5, 5)
_RECOVERY_LEN = sum(RECOVERY_GROUPS)
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"
_RECOVERY_PURPOSE = b"mamori-recovery\x00"


# -- numeric codes (email / SMS) ------------------------------------------------------------


def new_numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(*, key: bytes, purpose: str, subject: str, code: str) -> str:
    """HMAC-SHA256 of the code bound to its purpose and subject (an account or challenge id)."""
    msg = f"{purpose}\x00{subject}\x00{code.strip()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def code_matches(*, key: bytes, purpose: str, subject: str, code: str, stored_hash: str) -> bool:
    candidate = hash_code(key=key, purpose=purpose, subject=subject, code=code)
    return hmac.compare_digest(candidate, stored_hash)


# -- TOTP / HOTP ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TotpResult:
    """The outcome of `verify_totp`.

    ok      the code is right and fresh: persist `step` as the account's last used step.
    step    the time step the code matched (also set on a replay, for the log), else None.
    replay  the code is right but its step is not after `last_step`: a second use, refused.
            Log it and tell the owner; someone else may have the code.
    """

    ok: bool
    step: int | None
    replay: bool = False


def new_totp_secret() -> str:
    """A fresh 160-bit TOTP key, base32 without padding (32 characters), as apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def _digest(name: str) -> Callable[..., Any]:
    try:
        return _DIGESTS[name]
    except KeyError:
        raise ValueError(f"unsupported TOTP digest {name!r}") from None


def _totp(secret: str, digits: int, digest: str, period: int) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=digits, digest=_digest(digest), interval=period)


def _timestamp(at: datetime | float) -> float:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous: pass a timezone-aware one")
        return at.timestamp()
    return float(at)


def totp_step(at: datetime | float, *, period: int = 30) -> int:
    """The RFC 6238 time step (counter) at `at`."""
    ts = _timestamp(at)
    if ts < 0:
        raise ValueError("time before the Unix epoch")
    return int(ts) // period


def totp_uri(
    *,
    secret: str,
    account_name: str,
    issuer: str,
    digits: int = 6,
    digest: TotpDigest = "sha1",
    period: int = 30,
) -> str:
    """The otpauth:// provisioning URI (Key Uri Format) to show as a QR code next to the key."""
    for label, value in (("account_name", account_name), ("issuer", issuer)):
        if not value or ":" in value:
            raise ValueError(f"{label} must be non-empty and contain no ':'")
    return _totp(secret, digits, digest, period).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def totp_at(
    *,
    secret: str,
    at: datetime | float,
    digits: int = 6,
    digest: TotpDigest = "sha1",
    period: int = 30,
) -> str:
    """The TOTP code at `at` (what the authenticator app shows then)."""
    return _totp(secret, digits, digest, period).generate_otp(totp_step(at, period=period))


def hotp(*, secret: str, counter: int, digits: int = 6, digest: TotpDigest = "sha1") -> str:
    """The RFC 4226 HOTP code for `counter`."""
    return pyotp.HOTP(secret, digits=digits, digest=_digest(digest)).at(counter)


def normalize_otp(code: str, *, digits: int = 6) -> str | None:
    """The code as ASCII digits, or None if it is not `digits` digits.

    Spaces are dropped ("123 456") and full-width digits/spaces from a Japanese IME become ASCII.
    """
    if len(code) > _MAX_INPUT:
        return None
    text = "".join(unicodedata.normalize("NFKC", code).split())
    if len(text) != digits or not (text.isascii() and text.isdigit()):
        return None
    return text


def verify_totp(
    *,
    secret: str,
    code: str,
    at: datetime | float,
    last_step: int | None,
    window: int = 1,
    digits: int = 6,
    digest: TotpDigest = "sha1",
    period: int = 30,
) -> TotpResult:
    """Check a TOTP code at `at`, accepting `window` steps either side (clock drift).

    Every candidate in the window is compared (constant time, no early exit). A match at a step
    greater than `last_step` wins (the earliest such); a match only at steps <= `last_step` is a
    replay. Nothing is written: on `ok`, the caller stores `result.step` as the new `last_step`.
    """
    if window < 0:
        raise ValueError("window cannot be negative")
    totp = _totp(secret, digits, digest, period)
    now_step = totp_step(at, period=period)
    given = normalize_otp(code, digits=digits)
    # a malformed code is still compared (against an impossible value) to keep the work alike
    probe = (given or "x" * digits).encode("ascii")
    fresh: int | None = None
    replayed: int | None = None
    for step in range(max(0, now_step - window), now_step + window + 1):
        expected = totp.generate_otp(step).encode("ascii")
        if hmac.compare_digest(probe, expected) and given is not None:
            if last_step is None or step > last_step:
                if fresh is None:
                    fresh = step
            elif replayed is None:
                replayed = step
    if fresh is not None:
        return TotpResult(ok=True, step=fresh)
    if replayed is not None:
        return TotpResult(ok=False, step=replayed, replay=True)
    return TotpResult(ok=False, step=None)


# -- recovery codes -------------------------------------------------------------------------


def new_recovery_codes(n: int = 10) -> list[str]:
    """`n` distinct codes like "k7m2p-x9d4s" (~48.6 bits each). Show once; store only hashes."""
    if n < 1:
        raise ValueError("n must be at least 1")
    codes: list[str] = []
    while len(codes) < n:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_RECOVERY_LEN))
        groups, i = [], 0
        for size in RECOVERY_GROUPS:
            groups.append(raw[i : i + size])
            i += size
        code = "-".join(groups)
        if code not in codes:
            codes.append(code)
    return codes


def normalize_recovery_code(code: str) -> str:
    """Lower case, NFKC-folded, without spaces or dashes: "K7M2P - X9D4S" -> "k7m2px9d4s"."""
    if len(code) > _MAX_INPUT:
        return ""
    text = unicodedata.normalize("NFKC", code).lower()
    return "".join(ch for ch in text if not ch.isspace() and ch not in _DASHES)


def hash_recovery_code(*, key: bytes, code: str) -> str:
    """HMAC-SHA256 (hex) over the normalized code, domain-separated from the other code hashes."""
    return hmac.new(
        key, _RECOVERY_PURPOSE + normalize_recovery_code(code).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def recovery_code_matches(*, key: bytes, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_recovery_code(key=key, code=code), stored_hash)


def find_recovery_code(*, key: bytes, code: str, stored_hashes: Iterable[str]) -> str | None:
    """The stored hash that `code` matches (for the caller to mark used), or None.

    Compares against every hash (no early exit).
    """
    candidate = hash_recovery_code(key=key, code=code)
    found: str | None = None
    for stored in stored_hashes:
        if hmac.compare_digest(candidate, stored) and found is None:
            found = stored
    return found
