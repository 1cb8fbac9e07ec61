"""IP address -> country and network (ASN), for risk signals and throttles.

:class:`GeoResolver` is the role; :class:`GeoIP2FastResolver` answers from the data
bundled with the ``geoip2fast`` package (MaxMind GeoLite2 country + ASN, IPv4 and
IPv6, nothing downloaded), optionally overridden by MaxMind ``.mmdb`` databases;
:class:`StaticGeoResolver` is the fake for tests and demos.

Lookups never raise for any input: anything that is not a public unicast address
(malformed text, private, loopback, link-local, CGNAT, documentation, multicast,
reserved) gives :data:`UNKNOWN_GEO`. Only a broken installation (data file missing
or unreadable) raises, on the first lookup or on ``warm_up()``.

geoip2fast keeps its tables in module globals, so its data is loaded once per
process (lazily, on the first lookup or :meth:`GeoIP2FastResolver.warm_up`) and
shared by every resolver. Nothing else in the process should load a different
geoip2fast data file.

Known limitation: the bundled geoip2fast data carries AS *names*, not numbers, so
``GeoInfo.asn`` is None unless a MaxMind ASN database is configured; key ASN-level
throttles on ``as_name`` or ``network`` instead.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path
from typing import Any, Final, Protocol

from mamori.netaddr import Network, parse_ip

__all__ = [
    "UNKNOWN_GEO",
    "GeoIP2FastResolver",
    "GeoInfo",
    "GeoResolver",
    "StaticGeoResolver",
]

_CACHE_SIZE: Final = 65_536
_GEOIP2FAST_DATA_FILE: Final = "geoip2fast-asn-ipv6.dat.gz"
# geoip2fast's placeholders for "no answer"
_NO_COUNTRY: Final = frozenset({"", "--"})
_NO_AS_NAME: Final = frozenset({"", "<unknown>"})


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """Where an address is: country (ISO 3166-1 alpha-2, upper case) and network.

    Empty strings and None mean unknown.
    """

    country: str = ""
    country_name: str = ""
    asn: int | None = None
    as_name: str = ""
    network: str = ""  # CIDR of the ASN block, else of the country block


UNKNOWN_GEO: Final = GeoInfo()


class GeoResolver(Protocol):
    """Resolves an IP address (any spelling ``normalize_ip`` accepts) to a GeoInfo."""

    def lookup(self, ip: str) -> GeoInfo:
        """Return what is known about ``ip``; never raises for any input."""
        ...


def _public_address(ip: str) -> IPv4Address | IPv6Address | None:
    address = parse_ip(ip)
    if address is None or not address.is_global or address.is_multicast or address.is_reserved:
        # is_reserved also drops IPv6 ::/8 (IPv4-compatible, NAT64), which
        # geoip2fast would otherwise look up in its IPv4 table.
        return None
    return address


class StaticGeoResolver:
    """A GeoResolver answering from a fixed ``{cidr: GeoInfo}`` map (longest prefix wins).

    For tests and demos; unlike the real resolvers it answers for any address,
    private ones included.
    """

    def __init__(self, entries: Mapping[str, GeoInfo]) -> None:
        networks = [(ip_network(cidr, strict=False), info) for cidr, info in entries.items()]
        self._entries: list[tuple[Network, GeoInfo]] = sorted(
            networks, key=lambda item: item[0].prefixlen, reverse=True
        )

    def lookup(self, ip: str) -> GeoInfo:
        address = parse_ip(ip)
        if address is None:
            return UNKNOWN_GEO
        for network, info in self._entries:
            if address in network:
                return info
        return UNKNOWN_GEO


# ---- geoip2fast: one engine per process ---------------------------------------------

_engine_lock = threading.Lock()
_engine: Any = None


def _no_memory_probe() -> float:
    return 0.0


def _geoip2fast_engine() -> Any:
    """Load the bundled geoip2fast ASN+IPv6 data once per process (~0.3 s, ~100 MiB)."""
    global _engine
    if _engine is not None:
        return _engine
    with _engine_lock:
        if _engine is None:
            # Importing geoip2fast sets PYTHONWARNINGS=ignore and PYTHONIOENCODING in
            # os.environ, which would leak into every subprocess we start; undo that.
            saved = {name: os.environ.get(name) for name in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
            try:
                with warnings.catch_warnings():
                    # Its source has invalid escape sequences ("\."): compiling it (when
                    # no .pyc is cached) warns, an error under -W error.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    module: Any = importlib.import_module("geoip2fast.geoip2fast")
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            # Its loader measures memory by running `ps` in a subprocess; skip that.
            module.get_mem_usage = _no_memory_probe
            # An absolute path: a bare file name would be looked up in the CWD first.
            data_file = Path(module.__file__).parent / _GEOIP2FAST_DATA_FILE
            _engine = module.GeoIP2Fast(geoip2fast_data_file=str(data_file))
    return _engine


@functools.lru_cache(maxsize=8192)
def _network(cidr: str) -> tuple[Network, str] | None:
    try:
        network = ip_network(cidr, strict=False)
    except ValueError:
        return None
    return network, str(network)


def _network_containing(cidr: str, address: IPv4Address | IPv6Address) -> str:
    """``cidr`` canonicalised if it is a network containing ``address``, else ""."""
    parsed = _network(cidr)
    return parsed[1] if parsed is not None and address in parsed[0] else ""


def _from_geoip2fast(address: IPv4Address | IPv6Address) -> GeoInfo:
    result = _geoip2fast_engine().lookup(str(address))
    if result.is_private:
        return UNKNOWN_GEO
    country = str(result.country_code)
    if country in _NO_COUNTRY:
        country, country_name = "", ""
    else:
        country, country_name = country.upper(), str(result.country_name)
    # With IPv6 data loaded, geoip2fast checks an IPv4 address against the end of the
    # preceding ASN block with IPv6 sizes, so it can name an AS that does not hold
    # the address: keep the AS only if its block really contains it.
    as_network = _network_containing(str(result.asn_cidr), address)
    as_name = str(result.asn_name) if as_network else ""
    if as_name in _NO_AS_NAME:
        as_name, as_network = "", ""
    # The country block needs no check: that lookup handles IPv4 sizes correctly.
    network = as_network or str(result.cidr)
    return GeoInfo(
        country=country,
        country_name=country_name,
        asn=None,  # the bundled data has AS names only
        as_name=as_name,
        network=network,
    )


# ---- optional MaxMind databases ------------------------------------------------------


class _MaxMind:
    """A MaxMind country or ASN .mmdb, through the optional ``geoip2`` package."""

    def __init__(self, path: Path) -> None:
        try:
            self._database = importlib.import_module("geoip2.database")
            self._not_found: type[Exception] = importlib.import_module(
                "geoip2.errors"
            ).AddressNotFoundError
        except ImportError as exc:
            raise ImportError(
                f"a MaxMind database is configured ({path}) but the 'geoip2' package "
                "is not installed; install it with `pip install geoip2`"
            ) from exc
        if not path.is_file():
            raise FileNotFoundError(f"MaxMind database not found: {path}")
        self._path = path
        self._lock = threading.Lock()
        self._reader: Any = None

    def open(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    self._reader = self._database.Reader(str(self._path))
        return self._reader

    def country(self, address: IPv4Address | IPv6Address) -> tuple[str, str] | None:
        try:
            response = self.open().country(str(address))
        except (self._not_found, ValueError):
            return None
        place = response.country if response.country.iso_code else response.registered_country
        if not place.iso_code:
            return None
        return str(place.iso_code).upper(), str(place.name or "")

    def asn(self, address: IPv4Address | IPv6Address) -> tuple[int | None, str, str] | None:
        try:
            response = self.open().asn(str(address))
        except (self._not_found, ValueError):
            return None
        number = response.autonomous_system_number
        return (
            int(number) if number is not None else None,
            str(response.autonomous_system_organization or ""),
            str(response.network) if response.network is not None else "",
        )


# ---- the resolver -------------------------------------------------------------------


class GeoIP2FastResolver:
    """GeoResolver over geoip2fast's bundled data, with optional MaxMind overrides.

    If ``maxmind_country_db`` is given, countries come from it; if
    ``maxmind_asn_db`` is given, AS number, name and network come from it; the rest
    comes from geoip2fast. MaxMind needs the ``geoip2`` package (not a dependency of
    Mamori): ImportError if a path is given without it, FileNotFoundError if the
    file is missing, both at construction.

    Data is loaded on the first lookup (or :meth:`warm_up`, to pay the ~0.3 s at
    boot rather than in a request). Results are cached per resolver (LRU, 65,536
    entries). Thread-safe.
    """

    def __init__(
        self,
        *,
        maxmind_country_db: Path | None = None,
        maxmind_asn_db: Path | None = None,
    ) -> None:
        self._country_db = _MaxMind(maxmind_country_db) if maxmind_country_db else None
        self._asn_db = _MaxMind(maxmind_asn_db) if maxmind_asn_db else None
        self._cached_lookup = functools.lru_cache(maxsize=_CACHE_SIZE)(self._lookup)

    def warm_up(self) -> None:
        """Load the data now instead of on the first lookup."""
        if self._country_db is None or self._asn_db is None:
            _geoip2fast_engine()
        for database in (self._country_db, self._asn_db):
            if database is not None:
                database.open()

    def lookup(self, ip: str) -> GeoInfo:
        """Return what is known about ``ip``, or UNKNOWN_GEO; never raises for any input."""
        return self._cached_lookup(ip)

    def _lookup(self, ip: str) -> GeoInfo:
        address = _public_address(ip)
        if address is None:
            return UNKNOWN_GEO
        if self._country_db is not None and self._asn_db is not None:
            info = UNKNOWN_GEO
        else:
            info = _from_geoip2fast(address)
        if self._country_db is not None:
            country = self._country_db.country(address)
            info = GeoInfo(
                country=country[0] if country else "",
                country_name=country[1] if country else "",
                asn=info.asn,
                as_name=info.as_name,
                network=info.network,
            )
        if self._asn_db is not None:
            asn = self._asn_db.asn(address)
            info = GeoInfo(
                country=info.country,
                country_name=info.country_name,
                asn=asn[0] if asn else None,
                as_name=asn[1] if asn else "",
                network=asn[2] if asn else "",
            )
        return info
