"""Known-answer tests (RFC 4226, RFC 6238) and the TOTP/recovery-code rules, through mamori.otp."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from mamori.otp import (
    RECOVERY_ALPHABET,
    TotpDigest,
    TotpResult,
    code_matches,
    find_recovery_code,
    hash_code,
    hash_recovery_code,
    hotp,
    new_numeric_code,
    new_recovery_codes,
    new_totp_secret,
    normalize_otp,
    normalize_recovery_code,
    recovery_code_matches,
    totp_at,
    totp_step,
    totp_uri,
    verify_totp,
)


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii")


# RFC 6238 Appendix B: the seed is "12345678901234567890" repeated to the digest's size.
SEEDS: dict[TotpDigest, str] = {
    "sha1": b32(b"12345678901234567890"),
    "sha256": b32(b"12345678901234567890123456789012"),
    "sha512": b32(b"1234567890" * 6 + b"1234"),
}

RFC6238 = [
    # (time, step T, digest, 8-digit TOTP)
    (59, 0x1, "sha1", "94287082"),
    (59, 0x1, "sha256", "46119246"),
    (59, 0x1, "sha512", "90693936"),
    (1111111109, 0x23523EC, "sha1", "07081804"),
    (1111111109, 0x23523EC, "sha256", "68084774"),
    (1111111109, 0x23523EC, "sha512", "25091201"),
    (1111111111, 0x23523ED, "sha1", "14050471"),
    (1111111111, 0x23523ED, "sha256", "67062674"),
    (1111111111, 0x23523ED, "sha512", "99943326"),
    (1234567890, 0x273EF07, "sha1", "89005924"),
    (1234567890, 0x273EF07, "sha256", "91819424"),
    (1234567890, 0x273EF07, "sha512", "93441116"),
    (2000000000, 0x3F940AA, "sha1", "69279037"),
    (2000000000, 0x3F940AA, "sha256", "90698825"),
    (2000000000, 0x3F940AA, "sha512", "38618901"),
    (20000000000, 0x27BC86AA, "sha1", "65353130"),
    (20000000000, 0x27BC86AA, "sha256", "77737706"),
    (20000000000, 0x27BC86AA, "sha512", "47863826"),
]

# RFC 4226 Appendix D: secret "12345678901234567890", counters 0..9, 6 digits.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

SECRET = SEEDS["sha1"]
T0 = datetime(2026, 1, 1, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30 s step


def test_seed_sizes() -> None:
    sizes = {name: len(base64.b32decode(seed)) for name, seed in SEEDS.items()}
    assert sizes == {"sha1": 20, "sha256": 32, "sha512": 64}


# -- known answers -------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "step", "digest", "expected"), RFC6238)
def test_rfc6238_vectors(at: int, step: int, digest: TotpDigest, expected: str) -> None:
    secret = SEEDS[digest]
    assert totp_step(at) == step
    assert totp_at(secret=secret, at=at, digits=8, digest=digest) == expected
    when = datetime.fromtimestamp(at, UTC)
    assert totp_at(secret=secret, at=when, digits=8, digest=digest) == expected
    result = verify_totp(
        secret=secret, code=expected, at=at, last_step=None, window=0, digits=8, digest=digest
    )
    assert result == TotpResult(ok=True, step=step, replay=False)


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_rfc4226_vectors(counter: int, expected: str) -> None:
    assert hotp(secret=SECRET, counter=counter) == expected


def test_totp_is_hotp_of_the_time_step() -> None:
    # RFC 6238 section 4: TOTP = HOTP(K, T) with T = floor(t / 30)
    for at in (0, 29, 30, 59, 1111111109):
        assert totp_at(secret=SECRET, at=at) == hotp(secret=SECRET, counter=at // 30)


# -- secrets and provisioning ---------------------------------------------------------------


def test_new_totp_secret_is_160_bit_base32() -> None:
    secrets_ = {new_totp_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for secret in secrets_:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


def test_totp_uri_round_trips_through_pyotp() -> None:
    secret = new_totp_secret()
    uri = totp_uri(secret=secret, account_name="taro@example.jp", issuer="まもり Mamori")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={secret}" in uri
    assert "issuer=%E3%81%BE%E3%82%82%E3%82%8A%20Mamori" in uri
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == secret
    assert parsed.name == "taro@example.jp"
    assert parsed.issuer == "まもり Mamori"
    assert parsed.at(T0) == totp_at(secret=secret, at=T0)


def test_totp_uri_carries_non_default_parameters() -> None:
    uri = totp_uri(
        secret=SEEDS["sha256"], account_name="a", issuer="b", digits=8, digest="sha256", period=60
    )
    assert "algorithm=SHA256" in uri
    assert "digits=8" in uri
    assert "period=60" in uri


@pytest.mark.parametrize(("account", "issuer"), [("a:b", "Mamori"), ("a", "Ma:mori"), ("", "M")])
def test_totp_uri_refuses_bad_labels(account: str, issuer: str) -> None:
    with pytest.raises(ValueError, match="no ':'"):
        totp_uri(secret=SECRET, account_name=account, issuer=issuer)


def test_unsupported_digest_and_naive_time_refused() -> None:
    with pytest.raises(ValueError, match="digest"):
        totp_at(secret=SECRET, at=0, digest="md5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        totp_at(secret=SECRET, at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="window"):
        verify_totp(secret=SECRET, code="000000", at=T0, last_step=None, window=-1)


# -- verification: window, replay, malformed ------------------------------------------------


def code_at_offset(steps: int) -> str:
    return totp_at(secret=SECRET, at=T0 + timedelta(seconds=30 * steps))


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_either_side_is_accepted(offset: int) -> None:
    result = verify_totp(secret=SECRET, code=code_at_offset(offset), at=T0, last_step=None)
    assert result == TotpResult(ok=True, step=totp_step(T0) + offset)


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_two_steps_away_is_refused(offset: int) -> None:
    code = code_at_offset(offset)
    assert code not in {code_at_offset(o) for o in (-1, 0, 1)}  # no accidental collision
    result = verify_totp(secret=SECRET, code=code, at=T0, last_step=None)
    assert result == TotpResult(ok=False, step=None, replay=False)


def test_window_zero_accepts_only_the_current_step() -> None:
    assert verify_totp(secret=SECRET, code=code_at_offset(0), at=T0, last_step=None, window=0).ok
    late = verify_totp(secret=SECRET, code=code_at_offset(-1), at=T0, last_step=None, window=0)
    assert not late.ok


def test_datetime_and_unix_time_agree() -> None:
    code = code_at_offset(0)
    by_datetime = verify_totp(secret=SECRET, code=code, at=T0, last_step=None)
    by_float = verify_totp(secret=SECRET, code=code, at=T0.timestamp(), last_step=None)
    assert by_datetime == by_float
    assert by_datetime.ok


def test_replay_is_refused_and_flagged() -> None:
    code = code_at_offset(0)
    first = verify_totp(secret=SECRET, code=code, at=T0, last_step=None)
    assert first.ok
    assert first.step is not None
    last = first.step  # the caller persists this

    again = verify_totp(secret=SECRET, code=code, at=T0 + timedelta(seconds=5), last_step=last)
    assert again == TotpResult(ok=False, step=last, replay=True)

    # the code of an earlier step, still inside the window, is a replay too: its step is spent
    earlier = verify_totp(secret=SECRET, code=code_at_offset(-1), at=T0, last_step=last)
    assert earlier == TotpResult(ok=False, step=last - 1, replay=True)

    # a wrong code is wrong, not a replay
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert verify_totp(secret=SECRET, code=wrong, at=T0, last_step=last) == TotpResult(
        ok=False, step=None, replay=False
    )

    # the next step's code is fresh and moves the state forward
    later = T0 + timedelta(seconds=30)
    nxt = verify_totp(secret=SECRET, code=code_at_offset(1), at=later, last_step=last)
    assert nxt == TotpResult(ok=True, step=last + 1)


def test_a_code_valid_in_the_window_after_a_future_step_was_used_is_a_replay() -> None:
    # the app ran one step ahead; after that code is used, the current step's code is stale
    ahead = verify_totp(secret=SECRET, code=code_at_offset(1), at=T0, last_step=None)
    assert ahead.ok
    assert ahead.step is not None
    now = verify_totp(secret=SECRET, code=code_at_offset(0), at=T0, last_step=ahead.step)
    assert now.replay
    assert not now.ok


@pytest.mark.parametrize("fmt", ["{} {}", " {}{} ", "{}\u3000{}", "{}\t{}"])
def test_spaces_are_accepted(fmt: str) -> None:
    code = code_at_offset(0)
    spaced = fmt.format(code[:3], code[3:])
    assert verify_totp(secret=SECRET, code=spaced, at=T0, last_step=None).ok


def test_full_width_digits_are_accepted() -> None:
    code = code_at_offset(0)
    full_width = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in code)
    assert normalize_otp(full_width) == code
    assert verify_totp(secret=SECRET, code=full_width, at=T0, last_step=None).ok


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "-12345",
        "12-345",
        "١٢٣٤٥٦",  # Arabic-Indic digits are digits, but not ours
        "1" * 10_000,
        "\x00" * 6,
    ],
)
def test_malformed_codes_are_refused(bad: str) -> None:
    assert normalize_otp(bad) is None
    assert verify_totp(secret=SECRET, code=bad, at=T0, last_step=None) == TotpResult(
        ok=False, step=None, replay=False
    )


def test_eight_digit_codes_need_eight_digits() -> None:
    code8 = totp_at(secret=SECRET, at=T0, digits=8)
    assert verify_totp(secret=SECRET, code=code8, at=T0, last_step=None, digits=8).ok
    assert not verify_totp(secret=SECRET, code=code8[2:], at=T0, last_step=None, digits=8).ok


# -- recovery codes -------------------------------------------------------------------------

KEY = b"k" * 32
RECOVERY_RE = re.compile(rf"[{RECOVERY_ALPHABET}]{{5}}-[{RECOVERY_ALPHABET}]{{5}}")


def test_recovery_codes_shape() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert RECOVERY_RE.fullmatch(code), code
    assert len(new_recovery_codes(3)) == 3
    assert not set(RECOVERY_ALPHABET) & set("01ilo")
    with pytest.raises(ValueError, match="at least 1"):
        new_recovery_codes(0)


def test_recovery_codes_are_random() -> None:
    seen = {c for _ in range(20) for c in new_recovery_codes()}
    assert len(seen) == 200


@pytest.mark.parametrize(
    "typed",
    [
        "k7m2p-x9d4s",
        "K7M2P-X9D4S",
        "k7m2px9d4s",
        " k7m2p x9d4s ",
        "k7m2p - x9d4s",
        "ｋ７ｍ２ｐ－ｘ９ｄ４ｓ",  # full width, as an IME may produce
        "k7m2pーx9d4s",  # katakana long-vowel mark typed for the dash
    ],
)
def test_recovery_code_normalization(typed: str) -> None:
    assert normalize_recovery_code(typed) == "k7m2px9d4s"
    stored = hash_recovery_code(key=KEY, code="k7m2p-x9d4s")
    assert recovery_code_matches(key=KEY, code=typed, stored_hash=stored)


def test_recovery_code_hash_is_keyed_and_holds_no_clear_code() -> None:
    code = new_recovery_codes(1)[0]
    stored = hash_recovery_code(key=KEY, code=code)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert normalize_recovery_code(code) not in stored
    assert stored == hash_recovery_code(key=KEY, code=code)  # deterministic: indexable
    assert stored != hash_recovery_code(key=b"other" * 8, code=code)
    assert not recovery_code_matches(key=b"other" * 8, code=code, stored_hash=stored)
    # domain-separated from the numeric-code hashes under the same key
    assert stored != hash_code(key=KEY, purpose="", subject="", code=code)


def test_find_recovery_code() -> None:
    codes = new_recovery_codes()
    stored = [hash_recovery_code(key=KEY, code=c) for c in codes]
    assert find_recovery_code(key=KEY, code=codes[3].upper(), stored_hashes=stored) == stored[3]
    assert find_recovery_code(key=KEY, code="22222-22222", stored_hashes=stored) is None
    assert find_recovery_code(key=KEY, code="", stored_hashes=stored) is None
    assert find_recovery_code(key=KEY, code=codes[0], stored_hashes=[]) is None
    # single use is the caller's: once it drops the used hash, the code no longer matches
    remaining = [h for h in stored if h != stored[3]]
    assert find_recovery_code(key=KEY, code=codes[3], stored_hashes=remaining) is None


# -- numeric codes (existing) ---------------------------------------------------------------


def test_numeric_codes() -> None:
    code = new_numeric_code()
    assert re.fullmatch(r"\d{6}", code)
    stored = hash_code(key=KEY, purpose="login", subject="42", code=code)
    assert code_matches(key=KEY, purpose="login", subject="42", code=code, stored_hash=stored)
    assert not code_matches(key=KEY, purpose="login", subject="43", code=code, stored_hash=stored)
