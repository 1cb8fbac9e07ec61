"""Where simulated clients come from: real address ranges, and realistic user agents.

The ranges come from the geo data Mamori itself uses (geoip2fast's bundled GeoLite2 country +
ASN tables): every address handed out resolves, through `mamori.geo.GeoIP2FastResolver`, to the
country and network (AS name) its pool claims, so the server sees what the scenario meant.

Pools, with weights that stand for each network's share of the simulated population:
- `home`: Japanese fixed-line ISPs (OCN, au Hikari, SoftBank Hikari, So-net/NURO, BIGLOBE,
  J:COM, eo, IIJ, ...), weighted roughly by their share of Japanese broadband subscribers;
- `mobile`: Japanese carriers (docomo, au, SoftBank, Rakuten Mobile, an MVNO);
- `residential`: consumer ISPs abroad (residents abroad, travellers' hotel and roaming
  networks, and the residential proxies attackers rent);
- `datacenter`: hosting and cloud networks (where cheap attack traffic comes from).

`Catalog` holds the pools (the real one from `load_catalog()`, or hand-built ones in unit tests)
and picks addresses from them with the caller's `random.Random`.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mamori.geo import GeoIP2FastResolver

# (AS name as the bundled data spells it, country ("" = any), kind, weight)
POOL_TABLE: tuple[tuple[str, str, str, float], ...] = (
    # Japanese fixed-line ISPs
    ("NTT Communications Corporation", "JP", "home", 16),
    ("KDDI CORPORATION", "JP", "home", 15),
    ("SoftBank Corp.", "JP", "home", 15),
    ("Sony Network Communications Inc.", "JP", "home", 9),
    ("JCOM Co., Ltd.", "JP", "home", 8),
    ("BIGLOBE Inc.", "JP", "home", 7),
    ("OPTAGE Inc.", "JP", "home", 5),
    ("Internet Initiative Japan Inc.", "JP", "home", 3),
    ("Asahi Net", "JP", "home", 3),
    ("ARTERIA Networks Corporation", "JP", "home", 3),
    ("Chubu Telecommunications Company, Inc.", "JP", "home", 3),
    ("TOKAI Communications Corporation", "JP", "home", 2),
    ("QTnet,Inc.", "JP", "home", 2),
    ("STNet, Incorporated", "JP", "home", 1),
    # Japanese mobile carriers
    ("NTT DOCOMO, INC.", "JP", "mobile", 36),
    ("KDDI CORPORATION", "JP", "mobile", 29),
    ("SoftBank Corp.", "JP", "mobile", 26),
    ("Rakuten Mobile Network, Inc.", "JP", "mobile", 7),
    ("FreeBit Co.,Ltd.", "JP", "mobile", 2),
    # consumer networks abroad
    ("COMCAST-7922", "US", "residential", 10),
    ("Korea Telecom", "KR", "residential", 8),
    ("Data Communication Business Group", "TW", "residential", 8),
    ("China Telecom Group", "CN", "residential", 6),
    ("Viettel Group", "VN", "residential", 6),
    ("VNPT Corp", "VN", "residential", 4),
    ("AIS Fibre", "TH", "residential", 4),
    ("TRUE INTERNET Co.,Ltd.", "TH", "residential", 3),
    ("Globe Telecoms", "PH", "residential", 4),
    ("PT Telekomunikasi Indonesia", "ID", "residential", 4),
    ("Bharti Airtel Ltd., Telemedia Services", "IN", "residential", 4),
    ("TELEFONICA BRASIL S.A", "BR", "residential", 4),
    ("Deutsche Telekom AG", "DE", "residential", 3),
    # hosting and cloud
    ("AMAZON-02", "", "datacenter", 10),
    ("DIGITALOCEAN-ASN", "", "datacenter", 8),
    ("OVH SAS", "", "datacenter", 8),
    ("Hetzner Online GmbH", "", "datacenter", 8),
    ("AS-CHOOPA", "", "datacenter", 6),
    ("Akamai Connected Cloud", "", "datacenter", 5),
    ("M247 Europe SRL", "", "datacenter", 5),
    ("Alibaba US Technology Co., Ltd.", "", "datacenter", 4),
    ("GOOGLE-CLOUD-PLATFORM", "", "datacenter", 4),
)

KINDS = ("home", "mobile", "residential", "datacenter")


@dataclass(frozen=True, slots=True)
class Pool:
    name: str  # the AS name the server will see (network)
    country: str  # ISO 3166 code its addresses resolve to ("" = any, data centers)
    kind: str  # home | mobile | residential | datacenter
    weight: float
    blocks: tuple[tuple[int, int], ...]  # (first address as an integer, number of addresses)

    @property
    def size(self) -> int:
        return sum(n for _, n in self.blocks)


Locate = Callable[[str], tuple[str, str]]  # ip -> (country, AS name)


class Catalog:
    """Address pools, and addresses picked from them. `locate` (the server's own geo lookup)
    checks each picked address; without it (unit tests) the pool is believed."""

    def __init__(self, pools: Sequence[Pool], *, locate: Locate | None = None) -> None:
        self.pools = tuple(p for p in pools if p.blocks)
        self.locate = locate
        self._where: dict[str, tuple[str, str]] = {}

    def of_kind(self, kind: str, *, country: str | None = None) -> list[Pool]:
        return [
            p for p in self.pools if p.kind == kind and (country is None or p.country == country)
        ]

    def pick_pool(
        self, rng: random.Random, kind: str, *, country: str | None = None, exclude: str = ""
    ) -> Pool:
        """A pool of `kind` (in `country`; `exclude`: not that country), by weight."""
        pools = [
            p for p in self.of_kind(kind, country=country) if not (exclude and p.country == exclude)
        ]
        if not pools:
            raise LookupError(f"no {kind} network{' in ' + country if country else ''} known")
        return rng.choices(pools, weights=[p.weight for p in pools])[0]

    def address(self, rng: random.Random, pool: Pool, *, used: set[str]) -> str:
        """A fresh address of `pool` (not in `used`, which it joins), that the geo data places
        in the pool's country and network."""
        weights = [n for _, n in pool.blocks]
        for _ in range(200):
            first, size = rng.choices(pool.blocks, weights=weights)[0]
            offset = rng.randrange(1, size - 1) if size > 4 else rng.randrange(size)
            ip = str(ipaddress.IPv4Address(first + offset))
            if ip in used:
                continue
            if self.locate is not None:
                country, network = self.locate(ip)
                if network != pool.name or (pool.country and country != pool.country):
                    continue
                if not pool.country and not country:
                    continue
            else:
                country, network = pool.country, pool.name
            used.add(ip)
            self._where[ip] = (country, network)
            return ip
        raise LookupError(f"could not find a fresh address in {pool.name}")

    def where(self, ip: str) -> tuple[str, str]:
        """(country, network) of an address this catalog handed out (or looked up)."""
        if ip not in self._where and self.locate is not None:
            self._where[ip] = self.locate(ip)
        return self._where.get(ip, ("", ""))


def _geo_locate(resolver: GeoIP2FastResolver) -> Locate:
    def locate(ip: str) -> tuple[str, str]:
        info = resolver.lookup(ip)
        return info.country, info.as_name

    return locate


@functools.cache
def load_catalog() -> Catalog:
    """The pools of `POOL_TABLE` over geoip2fast's bundled data (about a second, once per
    process). Blocks are IPv4, at least /24 and at most /8, and must resolve to their pool."""
    resolver = GeoIP2FastResolver()
    resolver.warm_up()
    module = importlib.import_module("geoip2fast.geoip2fast")
    names: list[str] = module.mainListNamesASN
    wanted: dict[str, list[tuple[str, str, str, float]]] = {}
    for row in POOL_TABLE:
        wanted.setdefault(row[0], []).append(row)
    wanted_ids = {i: name for i, name in enumerate(names) if name in wanted}
    found: dict[str, list[tuple[int, int]]] = {name: [] for name in wanted}
    for firsts, ids, lengths in zip(
        module.mainListFirstIPASN, module.mainListIDASN, module.mainListNetlengthASN, strict=True
    ):
        for first, asn_id, netlen in zip(firsts, ids, lengths, strict=True):
            name = wanted_ids.get(asn_id)
            if name is None or not 8 <= netlen <= 24:
                continue
            size = 2 ** (32 - netlen)
            if first + size > 2**32:
                continue
            found[name].append((first, size))
    locate = _geo_locate(resolver)
    pools: list[Pool] = []
    for name, rows in wanted.items():
        for _, country, kind, weight in rows:
            blocks = []
            for first, size in found[name]:
                mid = str(ipaddress.IPv4Address(first + size // 2))
                got_country, got_name = locate(mid)
                if got_name == name and (got_country == country or (not country and got_country)):
                    blocks.append((first, size))
            pools.append(Pool(name, country, kind, weight, tuple(blocks)))
    return Catalog(pools, locate=locate)


# ---- user agents -------------------------------------------------------------------------

_CHROME = (129, 130, 131)
_SAFARI = (("17_6", "17.6"), ("18_0", "18.0"), ("18_1", "18.1"))


def _chrome_windows(v: int) -> str:
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36"
    )


def _edge_windows(v: int) -> str:
    return _chrome_windows(v) + f" Edg/{v}.0.0.0"


def _chrome_mac(v: int) -> str:
    return (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36"
    )


def _safari_mac(ver: str) -> str:
    return (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        f"Gecko) Version/{ver} Safari/605.1.15"
    )


def _firefox_windows(v: int) -> str:
    return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"


def _iphone(os_: str, ver: str) -> str:
    return (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {os_} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        f"like Gecko) Version/{ver} Mobile/15E148 Safari/604.1"
    )


def _ipad(os_: str, ver: str) -> str:
    return (
        f"Mozilla/5.0 (iPad; CPU OS {os_} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        f"Gecko) Version/{ver} Mobile/15E148 Safari/604.1"
    )


def _android(v: int, tablet: bool = False) -> str:
    mobile = "" if tablet else "Mobile "
    return (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 {mobile}Safari/537.36"
    )


def user_agent(rng: random.Random, device_kind: str) -> str:
    """A current browser on a `phone`, `laptop` or `tablet`, by rough Japanese market shares
    (iPhone about two thirds of phones; Chrome and Edge on Windows for most laptops)."""
    chrome = rng.choice(_CHROME)
    os_, ver = rng.choice(_SAFARI)
    if device_kind == "phone":
        return _iphone(os_, ver) if rng.random() < 0.65 else _android(chrome)
    if device_kind == "tablet":
        return _ipad(os_, ver) if rng.random() < 0.8 else _android(chrome, tablet=True)
    roll = rng.random()
    if roll < 0.48:
        return _chrome_windows(chrome)
    if roll < 0.72:
        return _edge_windows(chrome)
    if roll < 0.86:
        return _safari_mac(ver)
    if roll < 0.96:
        return _chrome_mac(chrome)
    return _firefox_windows(132)


def attacker_agent(rng: random.Random) -> str:
    """What stuffing tools send: real desktop and phone browsers' strings, rotated."""
    roll = rng.random()
    if roll < 0.75:
        return user_agent(rng, "laptop")
    return user_agent(rng, "phone")
