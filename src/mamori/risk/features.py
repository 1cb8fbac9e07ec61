"""One login as the risk model sees it, and the hierarchies its values form.

Three features, each a hierarchy of *levels* from the most specific to the most general:

    feature  levels (most specific first)               interpolation weights
    ip       ip -> network -> country                   0.6 / 0.3 / 0.1
    ua       ua -> browser -> os -> device_type         0.54 / 0.27 / 0.19 / 0.01
    device   device                                     1

(``browser`` is family + major version, "Chrome 131"; ``os`` is family + version, "iOS 17.5";
``network`` is the AS number "AS2516" when known, else the AS name, else the CIDR of the block:
see `network_key`.) A level name is also the first half of every frequency-counter key (see
`mamori.risk.frequencies`).

Values are compared as exact strings. An unknown value is a value like any other (the flow passes
"" for an unknown country or network, "Other" for an unrecognized browser), so a user who always
logs in from an unresolvable address is familiar with "". The one exception is the device cookie:
``device_id=None`` (no valid cookie) is never counted and never familiar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "FEATURES",
    "LEVELS",
    "Feature",
    "Level",
    "LoginFeatures",
    "network_key",
]

Level = Literal["ip", "network", "country", "ua", "browser", "os", "device_type", "device"]
Feature = Literal["ip", "ua", "device"]

FEATURES: Final[dict[Feature, tuple[Level, ...]]] = {
    "ip": ("ip", "network", "country"),
    "ua": ("ua", "browser", "os", "device_type"),
    "device": ("device",),
}
"""Each feature's levels, most specific first."""

LEVELS: Final[tuple[Level, ...]] = tuple(level for levels in FEATURES.values() for level in levels)
"""All eight levels, in feature order."""


def network_key(*, asn: int | None, as_name: str = "", network: str = "") -> str:
    """The ``network`` level of an address: "AS<n>" when the AS number is known, else the AS
    name (geoip2fast's bundled data has names only), else the CIDR of the block, else ""."""
    if asn is not None:
        return f"AS{asn}"
    return as_name or network


@dataclass(frozen=True, slots=True)
class LoginFeatures:
    """What one login attempt looks like: its address, its user agent, its device cookie."""

    ip: str
    network: str
    country: str
    ua: str
    browser: str  # family + major version, "Chrome 131"
    os: str  # family + version, "Windows 10"
    device_type: str  # "desktop" | "mobile" | "tablet" | "bot" | "other"
    device_id: str | None = None  # hash of a validly signed device cookie, else None

    @classmethod
    def of(
        cls,
        *,
        ip: str,
        network: str,
        country: str,
        ua: str,
        browser: str,
        browser_version: str,
        os: str,
        os_version: str,
        device_type: str,
        device_id: str | None,
    ) -> LoginFeatures:
        """Build from the parts `mamori.devices.ClientInfo` and `mamori.geo.GeoInfo` carry
        (browser_version "131.0" becomes "Chrome 131"; os_version is kept whole)."""
        major = browser_version.partition(".")[0]
        return cls(
            ip=ip,
            network=network,
            country=country,
            ua=ua,
            browser=f"{browser} {major}" if major else browser,
            os=f"{os} {os_version}" if os_version else os,
            device_type=device_type,
            device_id=device_id,
        )

    def value(self, level: Level) -> str | None:
        """The value at one level (None only for a missing device cookie)."""
        if level == "device":
            return self.device_id
        return str(getattr(self, level))

    def values(self) -> tuple[tuple[Level, str | None], ...]:
        """(level, value) for all eight levels, in `LEVELS` order."""
        return (
            ("ip", self.ip),
            ("network", self.network),
            ("country", self.country),
            ("ua", self.ua),
            ("browser", self.browser),
            ("os", self.os),
            ("device_type", self.device_type),
            ("device", self.device_id),
        )
