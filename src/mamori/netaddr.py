"""IP address handling: normalisation, subnets, CIDR lists and the client address.

Pure functions over the stdlib :mod:`ipaddress`; no I/O, no settings.

Every address that leaves this module is in one canonical text form (see
:func:`normalize_ip`), so that counters, bans and history keyed on an address agree
with each other whatever spelling the address arrived in.

The client address (:func:`client_ip`) trusts ``X-Forwarded-For`` only when the TCP
peer is one of the configured trusted proxies, and then walks the list from the
right, the only end a client cannot forge::

    X-Forwarded-For: <forged by client>, <client as seen by proxy 1>, <proxy 1>
    peer:            <proxy 2>
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final, TypeAlias

__all__ = [
    "UNKNOWN_IP",
    "Network",
    "client_ip",
    "ip_in",
    "normalize_ip",
    "parse_cidrs",
    "parse_ip",
    "subnet_of",
]

Network: TypeAlias = IPv4Network | IPv6Network

UNKNOWN_IP: Final = "0.0.0.0"  # noqa: S104 - a sentinel value, never bound to
"""What :func:`client_ip` returns when the peer address is missing or malformed.

It is a valid address, so callers need no special case: it lands in one shared
bucket for counters and throttles, which is the cautious outcome.
"""

_MAX_TEXT = 100  # longer than any address with brackets, zone id and port
_SEPARATORS = re.compile(r"[,\s]+")
_IPV4_SUBNET_PREFIX: Final = 24
_IPV6_SUBNET_PREFIX: Final = 64


def _valid_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and int(text) <= 65535


def _split_host(text: str) -> str | None:
    """Return the host part of ``text``, without brackets or port, or None."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1 :]
        if rest and not (rest.startswith(":") and _valid_port(rest[1:])):
            return None
        return host
    if text.count(":") == 1:
        # "1.2.3.4:5678". A bare IPv6 address has at least two colons; a bare IPv6
        # address followed by a port is ambiguous and is read as an address.
        host, _, port = text.partition(":")
        return host if _valid_port(port) else None
    return text


@functools.lru_cache(maxsize=4096)  # each request parses its address several times
def _parse(value: str) -> IPv4Address | IPv6Address | None:
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        return None
    host = _split_host(text)
    if host is None:
        return None
    host, percent, zone = host.partition("%")
    if percent and not zone:
        return None
    try:
        address = ip_address(host)
    except ValueError:
        return None
    if percent and address.version == 4:
        return None  # zone ids exist only for IPv6
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_ip(value: str) -> IPv4Address | IPv6Address | None:
    """Like :func:`normalize_ip`, but return the address object (or None)."""
    return _parse(value)


def normalize_ip(value: str) -> str | None:
    """Return the canonical text of the address in ``value``, or None if malformed.

    Accepts surrounding whitespace, brackets (``[::1]``), a port (``1.2.3.4:5678``,
    ``[2001:db8::1]:443``) and an IPv6 zone id (``fe80::1%eth0``), all of which are
    dropped. An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) becomes the IPv4
    address. IPv6 is returned compressed and lower-case (RFC 5952). IPv4 octets
    with leading zeros are rejected (``010.0.0.1`` could mean octal).
    """
    address = _parse(value)
    return None if address is None else str(address)


@functools.lru_cache(maxsize=4096)  # every attempt is counted per subnet
def subnet_of(ip: str) -> str:
    """Return the /24 (IPv4) or /64 (IPv6) network containing ``ip`` as CIDR text.

    >>> subnet_of("203.0.113.77")
    '203.0.113.0/24'
    >>> subnet_of("2001:db8:1:2:3:4:5:6")
    '2001:db8:1:2::/64'

    Raises ValueError if ``ip`` is not an address.
    """
    address = _parse(ip)
    if address is None:
        raise ValueError(f"not an IP address: {ip!r}")
    prefix = _IPV4_SUBNET_PREFIX if address.version == 4 else _IPV6_SUBNET_PREFIX
    return str(ip_network((address, prefix), strict=False))


def parse_cidrs(text: str | Sequence[str]) -> tuple[Network, ...]:
    """Parse networks separated by commas and/or whitespace, in order.

    ``text`` is one string (``"10.0.0.0/8, 192.0.2.1"``) or a sequence of them. A bare
    address becomes a /32 or /128 network. Raises ValueError naming the bad item
    for anything else, including a network with host bits set (``10.0.0.1/8``),
    which is more likely a typo than an intent.
    """
    chunks = [text] if isinstance(text, str) else list(text)
    networks: list[Network] = []
    for chunk in chunks:
        for item in _SEPARATORS.split(chunk):
            if not item:
                continue
            try:
                networks.append(ip_network(item, strict=True))
            except ValueError as exc:
                raise ValueError(f"invalid network {item!r}: {exc}") from exc
    return tuple(networks)


def _in(address: IPv4Address | IPv6Address, networks: Iterable[Network]) -> bool:
    # `in` across IP versions is simply False.
    return any(address in network for network in networks)


def ip_in(ip: str, networks: Iterable[Network]) -> bool:
    """True if ``ip`` (any spelling :func:`normalize_ip` accepts) is in any of ``networks``.

    A malformed ``ip`` is in no network.
    """
    address = _parse(ip)
    return address is not None and _in(address, networks)


def client_ip(
    *,
    peer: str | None,
    forwarded_for: str | None,
    trusted_proxies: Sequence[Network],
) -> str:
    """Return the normalised address of the client behind any trusted proxies.

    ``peer`` is the TCP peer address; ``forwarded_for`` is the X-Forwarded-For value
    (several header lines joined with ``","``, as HTTP allows).

    - A missing or malformed ``peer`` gives :data:`UNKNOWN_IP` (``"0.0.0.0"``);
      X-Forwarded-For is not consulted, as nothing vouches for it.
    - If ``peer`` is not a trusted proxy, it is the client: X-Forwarded-For is
      ignored, since whoever connected could have written anything there.
    - Otherwise the X-Forwarded-For entries are walked from the right, skipping
      trusted proxies; the first untrusted address is the client. A malformed
      entry stops the walk and the last good address is used. If every entry is a
      trusted proxy, the leftmost one is used.
    """
    current = _parse(peer) if peer is not None else None
    if current is None:
        return UNKNOWN_IP
    if not forwarded_for or not _in(current, trusted_proxies):
        return str(current)
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry)
        if hop is None:
            break
        current = hop
        if not _in(hop, trusted_proxies):
            break
    return str(current)
