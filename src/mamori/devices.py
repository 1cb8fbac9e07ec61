"""What the client is: user-agent parsing and the signed device cookie.

:func:`parse_user_agent` turns a User-Agent header into a :class:`ClientInfo`
(browser, OS, device type) with ``ua-parser`` 1.x and its bundled regexes, using
the fastest resolver installed (the Rust ``ua-parser-rs`` one when present). The
parser is built lazily on first use, once per process (~0.2 s: call
:func:`warm_up` at boot to keep that out of a request); results are kept in an
LRU cache of 10,000 entries.

A User-Agent is whatever the client chose to send: it is a *signal* (a new
browser or OS for this account), never an identity.

Known limits of the header itself: Windows 11 sends "Windows NT 10.0" (so shows as
"Windows 10"), iPadOS Safari asks for the desktop site by default (so shows as
"Mac OS X", desktop), and Chrome freezes minor versions to 0.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Final, Literal

import ua_parser
from itsdangerous import BadSignature, Signer
from ua_parser import OS, Device, Domain, Resolver

__all__ = [
    "MAX_USER_AGENT_LENGTH",
    "ClientInfo",
    "DeviceType",
    "device_hash_from_cookie",
    "new_device_cookie",
    "parse_user_agent",
    "warm_up",
]

MAX_USER_AGENT_LENGTH: Final = 512
"""User agents are cut to this many characters before parsing (and caching)."""

_CACHE_SIZE: Final = 10_000

DeviceType = Literal["desktop", "mobile", "tablet", "bot", "other"]

_DESKTOP_OS: Final = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Mac OS",
        "Linux",
        "Chrome OS",
        "Ubuntu",
        "Kubuntu",
        "Xubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "SUSE",
        "openSUSE",
        "Mint",
        "Gentoo",
        "Arch Linux",
        "Slackware",
        "Mandriva",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)
_MOBILE_OS: Final = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "Windows Mobile",
        "BlackBerry OS",
        "KaiOS",
        "Firefox OS",
        "Symbian OS",
        "Symbian^3",
        "Symbian^3 Anna",
        "Symbian^3 Belle",
        "Nokia Series 40",
        "Nokia Series 30 Plus",
    }
)
_TABLET_DEVICES: Final = frozenset({"iPad", "Generic Tablet", "Kindle"})
_MOBILE_DEVICES: Final = frozenset(
    {"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"}
)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The browser, OS and kind of device a User-Agent claims.

    Families are ua-parser's names ("Chrome", "Mobile Safari", "Windows", "iOS");
    "Other" when unrecognised. Versions are "" when absent.
    """

    browser: str = "Other"
    browser_version: str = ""  # major.minor
    os: str = "Other"
    os_version: str = ""  # major[.minor]
    device_type: DeviceType = "other"

    @property
    def browser_label(self) -> str:
        """Browser family and major version, e.g. "Chrome 131"."""
        major = self.browser_version.partition(".")[0]
        return f"{self.browser} {major}" if major else self.browser

    @property
    def os_label(self) -> str:
        """OS family and version, e.g. "Windows 10", "iOS 17.5"."""
        return f"{self.os} {self.os_version}" if self.os_version else self.os


UNKNOWN_CLIENT: Final = ClientInfo()


# ---- the parser: built once per process ---------------------------------------------

_resolver_lock = threading.Lock()
_resolver: Resolver | None = None


def _get_resolver() -> Resolver:
    global _resolver
    if _resolver is None:
        with _resolver_lock:
            if _resolver is None:
                # Same choice as ua_parser's own default parser, without its cache
                # (we cache the finished ClientInfo instead). The Rust resolver
                # compiles its regexes itself, so it wants the lazy matchers.
                if ua_parser.RegexResolver is not None:
                    _resolver = ua_parser.RegexResolver(ua_parser.load_lazy_builtins())
                else:
                    _resolver = ua_parser.BestAvailableResolver(ua_parser.load_builtins())
    return _resolver


_WARM_UP_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)


def warm_up() -> None:
    """Build the parser now, and run it once per common shape, instead of in a request.

    The Rust engine compiles its regexes on first use, which makes the first few
    parses cost ~0.5 ms each.
    """
    resolver = _get_resolver()
    for ua in _WARM_UP_AGENTS:
        resolver(ua, Domain.ALL)


def _version(*parts: str | None) -> str:
    """Join the leading non-empty version parts with dots."""
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out)


def _device_type(ua: str, os: OS | None, device: Device | None) -> DeviceType:
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    os_family = os.family if os else ""
    if family == "Spider" or brand == "Spider":
        return "bot"
    if family in _TABLET_DEVICES or brand == "Generic_Android_Tablet":
        return "tablet"
    if os_family == "BlackBerry Tablet OS":
        return "tablet"
    if os_family == "Android":
        # Android browsers mark phones "Mobile" (Firefox: "Mobile"/"Tablet"); a browser
        # UA without it is a tablet. App HTTP stacks (okhttp, Dalvik) say neither.
        if "Tablet" in ua or ("Mobile" not in ua and "AppleWebKit" in ua):
            return "tablet"
        return "mobile"
    if family in _MOBILE_DEVICES or brand == "Generic_Android" or os_family in _MOBILE_OS:
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(ua: str) -> ClientInfo:
    if not ua:
        return UNKNOWN_CLIENT
    result = _get_resolver()(ua, Domain.ALL)
    agent, os, device = result.user_agent, result.os, result.device
    return ClientInfo(
        browser=agent.family if agent else "Other",
        browser_version=_version(agent.major, agent.minor) if agent else "",
        os=os.family if os else "Other",
        os_version=_version(os.major, os.minor) if os else "",
        device_type=_device_type(ua, os, device),
    )


def parse_user_agent(ua: str) -> ClientInfo:
    """Parse a User-Agent header value; never raises.

    The value is stripped and cut to :data:`MAX_USER_AGENT_LENGTH` characters first,
    which bounds both the regex work and the cache's memory.
    """
    text = ua.strip()[:MAX_USER_AGENT_LENGTH]
    if not text.isascii():
        # Lone surrogates cannot cross into the Rust parser; make them "?".
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _parse(text)


# ---- device cookie -----------------------------------------------------------------
# A random 128-bit device ID, signed with the service key (itsdangerous) so a forged or garbled
# cookie is refused without a database lookup. Only the ID's SHA-256 is stored, bound to an
# account at a successful sign-up or login; a cookie bound to the account being logged into makes
# the client "recognized".

_DEVICE_SALT: Final = "mamori/device-cookie"


@functools.lru_cache(maxsize=4)
def _signer(key: str) -> Signer:
    """One signer per service key (making one derives its key: a few HMACs per request)."""
    return Signer(key, salt=_DEVICE_SALT)


def new_device_cookie(*, key: str) -> tuple[str, str]:
    """(cookie value, device hash to store)."""
    device_id = secrets.token_urlsafe(16)
    return _signer(key).sign(device_id).decode("ascii"), _hash(device_id)


def device_hash_from_cookie(value: str | None, *, key: str) -> str | None:
    """The device hash of a validly signed cookie, or None."""
    if not value or len(value) > 200:
        return None
    try:
        device_id = _signer(key).unsign(value).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
    return _hash(device_id)


def _hash(device_id: str) -> str:
    return hashlib.sha256(device_id.encode("ascii")).hexdigest()
