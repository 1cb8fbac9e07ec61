"""Small secrets encrypted at rest (AES-256-GCM), e.g. TOTP keys, which must be read back.

    box = SecretBox(settings.secret_key, purpose="totp")
    token = box.seal(secret, context="account:42")   # "v1.<base64url(nonce | ciphertext | tag)>"
    secret = box.open(token, context="account:42")   # SecretBoxError when anything is off

- The key is derived from the service's secret key with HKDF-SHA256, with the purpose in the
  `info` label: each purpose gets its own key, unrelated to the other keys derived from the same
  secret (session tokens, code HMACs, device cookies).
- Every seal draws a fresh random 96-bit nonce from `secrets` (never a counter: several processes
  seal with the same key).
- `context` is authenticated (AES-GCM associated data) but not stored: a value sealed for one
  account does not open for another, so ciphertexts cannot be swapped between rows.
- The text format is versioned ("v1."), so the algorithm or key derivation can change later
  while old values still open.

Plaintexts and keys are never logged; error messages say what failed, never with what.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_INFO = b"mamori/secretbox/v1\x00"
_SALT = b"mamori-secretbox"
_MAX_TOKEN = 4096  # sealed values are small; longer input is refused before decoding


class SecretBoxError(ValueError):
    """A sealed value cannot be opened: malformed, another key or purpose, or tampered with."""


def derive_key(secret_key: str, *, purpose: str) -> bytes:
    """The 256-bit AES key for `purpose`, derived from the service secret with HKDF-SHA256."""
    if not secret_key:
        raise ValueError("an empty secret key cannot protect anything")
    if not purpose or "\x00" in purpose:
        raise ValueError("purpose must be a non-empty label without NUL")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_SALT,
        info=_KEY_INFO + purpose.encode("utf-8"),
    )
    return hkdf.derive(secret_key.encode("utf-8"))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


class SecretBox:
    """Seals and opens small text secrets for one purpose (see the module docstring)."""

    __slots__ = ("_aead",)

    def __init__(self, secret_key: str, *, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret_key, purpose=purpose))

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{VERSION}.{_b64encode(nonce + sealed)}"

    def open(self, token: str, *, context: str = "") -> str:
        if len(token) > _MAX_TOKEN:
            raise SecretBoxError("sealed value too long")
        version, dot, body = token.partition(".")
        if not dot or version != VERSION:
            raise SecretBoxError("unknown sealed value format")
        try:
            raw = _b64decode(body)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SecretBoxError("sealed value is not valid base64") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretBoxError("sealed value too short")
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            raise SecretBoxError(
                "sealed value does not open (wrong key, context or data)"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretBoxError("sealed value is not text") from None
