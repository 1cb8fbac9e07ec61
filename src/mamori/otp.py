"""One-time codes: generated from `secrets`, stored as keyed HMACs, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(*, key: bytes, purpose: str, subject: str, code: str) -> str:
    """HMAC-SHA256 of the code bound to its purpose and subject (an account or challenge id)."""
    msg = f"{purpose}\x00{subject}\x00{code.strip()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def code_matches(*, key: bytes, purpose: str, subject: str, code: str, stored_hash: str) -> bool:
    candidate = hash_code(key=key, purpose=purpose, subject=subject, code=code)
    return hmac.compare_digest(candidate, stored_hash)
