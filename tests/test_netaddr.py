"""Tests for mamori.netaddr."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

import pytest

from mamori.netaddr import UNKNOWN_IP, client_ip, ip_in, normalize_ip, parse_cidrs, subnet_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("  203.0.113.7\t", "203.0.113.7"),
        ("203.0.113.7:5678", "203.0.113.7"),
        ("[203.0.113.7]:80", "203.0.113.7"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]:8080", "fe80::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:0102:0304", "1.2.3.4"),
        ("[::ffff:1.2.3.4]:443", "1.2.3.4"),
    ],
)
def test_normalize_ip_accepts(value: str, expected: str) -> None:
    assert normalize_ip(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "unknown",
        "1.2.3",
        "1.2.3.256",
        "010.0.0.1",  # leading zero: octal on some stacks
        "1.2.3.4:",
        "1.2.3.4:99999",
        "1.2.3.4:http",
        "1.2.3.4%eth0",  # zone ids are IPv6-only
        "fe80::1%",
        "[2001:db8::1",
        "[2001:db8::1]443",
        "[2001:db8::1]:",
        "2001:db8::g",
        "１.２.３.４",  # fullwidth digits
        "1.2.3.4/32",
        "1" * 200,
    ],
)
def test_normalize_ip_rejects(value: str) -> None:
    assert normalize_ip(value) is None


def test_subnet_of() -> None:
    assert subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert subnet_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert subnet_of("[2001:db8:1:2::9]:443") == "2001:db8:1:2::/64"
    assert subnet_of("::ffff:198.51.100.9") == "198.51.100.0/24"
    with pytest.raises(ValueError, match="nope"):
        subnet_of("nope")


def test_parse_cidrs() -> None:
    assert parse_cidrs("10.0.0.0/8, 192.0.2.1  2001:db8::/32,,") == (
        IPv4Network("10.0.0.0/8"),
        IPv4Network("192.0.2.1/32"),
        IPv6Network("2001:db8::/32"),
    )
    assert parse_cidrs(["127.0.0.1", "::1", "172.16.0.0/12,192.168.0.0/16"]) == (
        IPv4Network("127.0.0.1/32"),
        IPv6Network("::1/128"),
        IPv4Network("172.16.0.0/12"),
        IPv4Network("192.168.0.0/16"),
    )
    assert parse_cidrs("") == ()
    assert parse_cidrs([]) == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.com", "10.0.0.1/8", "::/129"])
def test_parse_cidrs_names_the_bad_item(bad: str) -> None:
    with pytest.raises(ValueError, match=f"invalid network '{bad}'"):
        parse_cidrs(f"10.0.0.0/8, {bad}")


def test_ip_in() -> None:
    nets = parse_cidrs("10.0.0.0/8, 2001:db8::/32")
    assert ip_in("10.1.2.3", nets)
    assert ip_in("10.1.2.3:443", nets)
    assert ip_in("::ffff:10.1.2.3", nets)
    assert ip_in("[2001:db8::5]:80", nets)
    assert not ip_in("11.0.0.1", nets)
    assert not ip_in("2001:db9::1", nets)
    assert not ip_in("garbage", nets)
    assert not ip_in("10.0.0.1", ())


PROXIES = parse_cidrs("10.0.0.0/8, 2001:db8:ffff::/48")


def test_client_ip_ignores_xff_from_untrusted_peer() -> None:
    # The client connected directly and wrote its own X-Forwarded-For.
    got = client_ip(peer="198.51.100.9", forwarded_for="1.1.1.1", trusted_proxies=PROXIES)
    assert got == "198.51.100.9"


def test_client_ip_without_trusted_proxies_ignores_xff() -> None:
    got = client_ip(peer="10.0.0.1", forwarded_for="198.51.100.9", trusted_proxies=())
    assert got == "10.0.0.1"


def test_client_ip_single_trusted_proxy() -> None:
    got = client_ip(peer="10.0.0.1", forwarded_for="198.51.100.9", trusted_proxies=PROXIES)
    assert got == "198.51.100.9"


def test_client_ip_takes_rightmost_untrusted_not_the_forged_left() -> None:
    # Client forged "1.1.1.1"; proxy 10.0.0.7 appended the real client, then a second
    # proxy appended 10.0.0.7 and connected to us from 10.0.0.1.
    got = client_ip(
        peer="10.0.0.1",
        forwarded_for="1.1.1.1, 198.51.100.9, 10.0.0.7",
        trusted_proxies=PROXIES,
    )
    assert got == "198.51.100.9"


def test_client_ip_multiple_header_lines_joined() -> None:
    got = client_ip(
        peer="10.0.0.1",
        forwarded_for="1.1.1.1,198.51.100.9,10.0.0.7",
        trusted_proxies=PROXIES,
    )
    assert got == "198.51.100.9"


def test_client_ip_all_trusted_gives_leftmost() -> None:
    got = client_ip(peer="10.0.0.1", forwarded_for="10.0.0.9, 10.0.0.7", trusted_proxies=PROXIES)
    assert got == "10.0.0.9"


def test_client_ip_empty_xff_gives_peer() -> None:
    for xff in (None, ""):
        got = client_ip(peer="10.0.0.1", forwarded_for=xff, trusted_proxies=PROXIES)
        assert got == "10.0.0.1"


def test_client_ip_ipv6() -> None:
    got = client_ip(
        peer="[2001:db8:ffff::1]:51234",
        forwarded_for="2001:DB8:1::0001, 2001:db8:ffff::2",
        trusted_proxies=PROXIES,
    )
    assert got == "2001:db8:1::1"
    direct = client_ip(peer="2001:db8:1::1", forwarded_for="1.1.1.1", trusted_proxies=PROXIES)
    assert direct == "2001:db8:1::1"


def test_client_ip_ipv4_mapped() -> None:
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    got = client_ip(
        peer="::ffff:10.0.0.1",
        forwarded_for="::ffff:198.51.100.9",
        trusted_proxies=PROXIES,
    )
    assert got == "198.51.100.9"
    direct = client_ip(peer="::ffff:198.51.100.9", forwarded_for=None, trusted_proxies=PROXIES)
    assert direct == "198.51.100.9"


def test_client_ip_ports_and_brackets_in_xff() -> None:
    got = client_ip(
        peer="10.0.0.1",
        forwarded_for="[2001:db8:1::1]:443, 10.0.0.7:8080",
        trusted_proxies=PROXIES,
    )
    assert got == "2001:db8:1::1"
    got = client_ip(peer="10.0.0.1", forwarded_for="198.51.100.9:5678", trusted_proxies=PROXIES)
    assert got == "198.51.100.9"


@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        ("198.51.100.9, unknown, 10.0.0.7", "10.0.0.7"),
        ("198.51.100.9, garbage", "10.0.0.1"),
        ("198.51.100.9,,10.0.0.7", "10.0.0.7"),
        ("unknown", "10.0.0.1"),
        ("1.1.1.1, 198.51.100.9 , ", "10.0.0.1"),
    ],
)
def test_client_ip_malformed_entry_stops_the_walk(xff: str, expected: str) -> None:
    assert client_ip(peer="10.0.0.1", forwarded_for=xff, trusted_proxies=PROXIES) == expected


@pytest.mark.parametrize("peer", [None, "", "garbage", "10.0.0.1:99999"])
def test_client_ip_missing_or_malformed_peer(peer: str | None) -> None:
    got = client_ip(peer=peer, forwarded_for="198.51.100.9", trusted_proxies=PROXIES)
    assert got == UNKNOWN_IP == "0.0.0.0"


def test_client_ip_normalizes_untrusted_peer() -> None:
    got = client_ip(peer=" 2001:0db8::0001 ", forwarded_for=None, trusted_proxies=())
    assert got == "2001:db8::1"
