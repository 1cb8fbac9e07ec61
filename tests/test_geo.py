"""Tests for mamori.geo, against the data bundled with geoip2fast (GeoLite2 2024-06-18)."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import types
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from mamori.geo import (
    UNKNOWN_GEO,
    GeoInfo,
    GeoIP2FastResolver,
    GeoResolver,
    StaticGeoResolver,
)


@pytest.fixture(scope="module")
def resolver() -> GeoIP2FastResolver:
    return GeoIP2FastResolver()


@pytest.mark.parametrize(
    ("ip", "as_name", "network"),
    [
        # SoftBank (AS17676), NTT OCN (AS4713), KDDI (AS2516)
        ("126.0.0.1", "SoftBank Corp.", "126.0.0.0/12"),
        ("153.156.0.1", "NTT Communications Corporation", "153.128.0.0/10"),
        ("106.128.0.1", "KDDI CORPORATION", "106.128.0.0/10"),
        ("2400:4050::1", "NTT Communications Corporation", "2400:4050::/32"),
        ("240b:10::1", "KDDI CORPORATION", "240b::/26"),
    ],
)
def test_japanese_networks(
    resolver: GeoIP2FastResolver, ip: str, as_name: str, network: str
) -> None:
    info = resolver.lookup(ip)
    assert info == GeoInfo(
        country="JP", country_name="Japan", asn=None, as_name=as_name, network=network
    )


def test_google_dns_ipv4(resolver: GeoIP2FastResolver) -> None:
    info = resolver.lookup("8.8.8.8")
    assert (info.country, info.country_name) == ("US", "United States")
    # The bundled data carries AS names only: AS15169 is "GOOGLE", number unknown.
    assert (info.asn, info.as_name, info.network) == (None, "GOOGLE", "8.8.8.0/24")


def test_google_dns_ipv6(resolver: GeoIP2FastResolver) -> None:
    info = resolver.lookup("2001:4860:4860::8888")
    assert info == GeoInfo("US", "United States", None, "GOOGLE", "2001:4860:4840::/42")


def test_accepts_any_spelling(resolver: GeoIP2FastResolver) -> None:
    expected = resolver.lookup("8.8.8.8")
    for spelling in (" 8.8.8.8 ", "8.8.8.8:443", "[8.8.8.8]:443", "::ffff:8.8.8.8"):
        assert resolver.lookup(spelling) == expected
    assert resolver.lookup("[2001:4860:4860:0::8888]:443") == resolver.lookup(
        "2001:4860:4860::8888"
    )


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "127.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",  # CGNAT
        "169.254.1.1",
        "192.0.2.1",  # documentation
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1%eth0",
        "fd00::1",
        "ff02::1",
        "2001:db8::1",
        "::8.8.8.8",  # deprecated IPv4-compatible: must not hit the IPv4 table
        "64:ff9b::808:808",  # NAT64
    ],
)
def test_non_public_addresses_are_unknown(resolver: GeoIP2FastResolver, ip: str) -> None:
    assert resolver.lookup(ip) == UNKNOWN_GEO


@pytest.mark.parametrize(
    "value", ["", "garbage", "1.2.3", "999.1.1.1", "8.8.8.8/32", "x" * 10_000, "\x00"]
)
def test_garbage_is_unknown(resolver: GeoIP2FastResolver, value: str) -> None:
    assert resolver.lookup(value) == UNKNOWN_GEO


def test_unknown_geo_is_empty() -> None:
    assert GeoInfo(country="", country_name="", asn=None, as_name="", network="") == UNKNOWN_GEO
    with pytest.raises(dataclasses.FrozenInstanceError):
        UNKNOWN_GEO.country = "JP"  # type: ignore[misc]


def test_network_always_contains_the_address(resolver: GeoIP2FastResolver) -> None:
    for ip in ("1.0.0.1", "41.0.0.1", "80.80.80.80", "133.242.0.1", "2a00:1450::1"):
        info = resolver.lookup(ip)
        assert info.network
        assert ip_address(ip) in ip_network(info.network)


@pytest.mark.parametrize(
    ("ip", "network"),
    [("96.240.126.98", "96.128.0.0/9"), ("1.2.107.199", "1.2.64.0/18")],
)
def test_no_as_borrowed_from_a_neighbouring_block(
    resolver: GeoIP2FastResolver, ip: str, network: str
) -> None:
    # Raw geoip2fast (with its IPv6 file) names the AS of the preceding block here
    # ("UUNET" 96.240.96.0/20, CNNIC 1.2.4.0/24); its IPv4-only file names none.
    info = resolver.lookup(ip)
    assert (info.as_name, info.network) == ("", network)
    assert info.country in {"US", "CN"}


def test_concurrent_lookups_agree() -> None:
    resolver = GeoIP2FastResolver()
    results: list[GeoInfo] = []

    def work() -> None:
        results.append(resolver.lookup("126.0.0.1"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert results[0].country == "JP"


def test_import_side_effects_on_environment_are_undone() -> None:
    resolver = GeoIP2FastResolver()
    resolver.warm_up()
    assert os.environ.get("PYTHONWARNINGS") != "ignore"


def test_satisfies_protocol(resolver: GeoIP2FastResolver) -> None:
    resolvers: list[GeoResolver] = [resolver, StaticGeoResolver({})]
    assert all(r.lookup("garbage") == UNKNOWN_GEO for r in resolvers)


def test_static_resolver_longest_prefix() -> None:
    wide = GeoInfo(country="JP", country_name="Japan", network="198.51.100.0/24")
    narrow = GeoInfo(country="US", country_name="United States", asn=64500, as_name="Example")
    fake = StaticGeoResolver({"198.51.100.0/24": wide, "198.51.100.128/25": narrow})
    assert fake.lookup("198.51.100.1") == wide
    assert fake.lookup("198.51.100.200:443") == narrow
    assert fake.lookup("203.0.113.1") == UNKNOWN_GEO
    assert fake.lookup("garbage") == UNKNOWN_GEO


# ---- optional MaxMind databases ------------------------------------------------------


def test_maxmind_path_without_geoip2_package_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "geoip2", None)  # makes the import fail
    monkeypatch.setitem(sys.modules, "geoip2.database", None)
    with pytest.raises(ImportError, match="'geoip2' package is not installed"):
        GeoIP2FastResolver(maxmind_asn_db=tmp_path / "GeoLite2-ASN.mmdb")


class _NotFoundError(Exception):
    pass


def _record(**fields: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**fields)


class _FakeReader:
    """Stands in for geoip2.database.Reader with one known address."""

    def __init__(self, path: str) -> None:
        self.path = path

    def country(self, ip: str) -> types.SimpleNamespace:
        if ip != "8.8.4.4":
            raise _NotFoundError(ip)
        return _record(
            country=_record(iso_code=None, name=None),
            registered_country=_record(iso_code="jp", name="Japan"),
        )

    def asn(self, ip: str) -> types.SimpleNamespace:
        if ip != "8.8.4.4":
            raise _NotFoundError(ip)
        return _record(
            autonomous_system_number=64500,
            autonomous_system_organization="Example Net",
            network="8.8.4.0/24",
        )


@pytest.fixture
def fake_geoip2(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("geoip2")
    database = types.ModuleType("geoip2.database")
    errors = types.ModuleType("geoip2.errors")
    database.Reader = _FakeReader  # type: ignore[attr-defined]
    errors.AddressNotFoundError = _NotFoundError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "geoip2", package)
    monkeypatch.setitem(sys.modules, "geoip2.database", database)
    monkeypatch.setitem(sys.modules, "geoip2.errors", errors)


@pytest.mark.usefixtures("fake_geoip2")
def test_maxmind_databases_override(tmp_path: Path) -> None:
    country_db = tmp_path / "GeoLite2-Country.mmdb"
    asn_db = tmp_path / "GeoLite2-ASN.mmdb"
    country_db.write_bytes(b"")
    asn_db.write_bytes(b"")
    both = GeoIP2FastResolver(maxmind_country_db=country_db, maxmind_asn_db=asn_db)
    both.warm_up()
    assert both.lookup("8.8.4.4:53") == GeoInfo("JP", "Japan", 64500, "Example Net", "8.8.4.0/24")
    assert both.lookup("1.1.1.1") == UNKNOWN_GEO  # in neither fake database
    assert both.lookup("10.0.0.1") == UNKNOWN_GEO

    asn_only = GeoIP2FastResolver(maxmind_asn_db=asn_db)
    assert asn_only.lookup("8.8.4.4") == GeoInfo(
        "US", "United States", 64500, "Example Net", "8.8.4.0/24"
    )


@pytest.mark.usefixtures("fake_geoip2")
def test_maxmind_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MaxMind database not found"):
        GeoIP2FastResolver(maxmind_country_db=tmp_path / "missing.mmdb")
