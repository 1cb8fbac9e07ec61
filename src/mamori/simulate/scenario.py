"""Scenario files (TOML, read with the standard library's tomllib) -> validated dataclasses.

A scenario is one run against one server: the population, how it behaves, the campaigns and the
time compression. Times in a scenario are *simulated* seconds; the run takes `duration /
compress` real seconds against a server started with every defense window divided by `compress`
(see `server.compressed_env`).

    extends = "population.toml"        # optional: a base file, merged table by table
    [run]        name, description, compress, duration, seed, concurrency, workers
    [population] users, seed, japan_share, devices, frequency, phone_share, ...
    [legit]      logins_per_minute, typo_rate, forgot_rate, new_phone_rate, ...
    [[campaign]] name, kind, start, duration, attempts, sources, source_kind, ...

A suite lists scenario files run one after the other, each against a fresh server:

    [suite]
    name = "default"
    scenarios = ["brute_force.toml", "stuffing_residential.toml"]

Every problem is reported with the file and the key (`ScenarioError`), unknown keys included.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

CampaignKind = Literal[
    "brute_force", "spraying", "stuffing", "low_and_slow", "targeted", "phishing_relay"
]
SourceKind = Literal["datacenter", "residential", "victim_network"]
AgentMode = Literal["rotate", "single", "victim"]

KINDS: tuple[str, ...] = get_args(CampaignKind)
SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    name: str = ""
    description: str = ""
    compress: float = 60.0  # simulated seconds per real second
    duration: float = 1800.0  # simulated seconds
    seed: int = 1  # the run's own randomness (legitimate traffic, campaigns)
    concurrency: int = 48  # requests in flight at most
    workers: int = 2  # processes of a server the simulator starts itself


@dataclass(frozen=True, slots=True)
class PopulationSpec:
    users: int = 300
    seed: int = 7
    japan_share: float = 0.95  # users living in Japan (home network on a Japanese ISP)
    devices: tuple[float, ...] = (0.35, 0.45, 0.20)  # shares of users with 1, 2, 3 devices
    frequency: tuple[float, ...] = (0.3, 0.4, 0.3)  # shares: daily, weekly, monthly
    phone_share: float = 0.3  # users with a verified phone (codes by SMS)
    english_share: float = 0.05  # users whose account language is English
    popular_password_share: float = 0.01  # users with a popular (policy-passing) password
    history_logins: int = 2  # warm-up logins per habitual device before the run


@dataclass(frozen=True, slots=True)
class LegitSpec:
    logins_per_minute: float = 10.0  # the whole population, simulated time
    typo_rate: float = 0.03  # a wrong password first, then the right one
    forgot_rate: float = 0.005  # wrong twice, then the password reset, then the new password
    new_phone_rate: float = 0.005  # the login comes from a new phone (no cookies yet)
    traveler_share: float = 0.02  # users abroad during the run (their own devices, foreign IPs)
    mobile_network_share: float = 0.5  # phone logins over the carrier instead of home Wi-Fi
    think_seconds: float = 6.0  # between a mistake and the next try
    code_seconds: float = 25.0  # reading the email/SMS and typing the code
    remember_device: bool = True  # "don't ask again" on one's own new device


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    kind: CampaignKind
    start: float  # simulated seconds from the run's start
    duration: float  # simulated seconds over which the attempts are spread
    attempts: int = 100
    sources: int = 1  # distinct IP addresses
    source_kind: SourceKind = "datacenter"
    japan_share: float = 0.0  # residential sources: share inside Japan
    attempts_per_source: int = 0  # 0: the attempts spread over the sources; 1: rotate each try
    victims: int = 1  # brute force, targeted, phishing relay: accounts attacked
    valid_share: float = 0.0  # stuffing: share of the list that is a current login/password pair
    reused_share: float = 0.0  # stuffing: existing accounts with a password they no longer use
    passwords: int = 3  # spraying: popular passwords tried on every account
    real_password_at: float = -1.0  # brute force: where the right password sits (0..1); <0 never
    knows_password: bool = True  # targeted: the attacker has the password (from another leak)
    relay_delay: float = 45.0  # phishing relay: seconds from the challenge to the relayed code
    victim_falls_share: float = 1.0  # phishing relay: victims who type the code into the page
    user_agents: AgentMode = "rotate"
    keep_cookies: bool = True  # a source's browser keeps its cookies between attempts
    guess_codes: int = 0  # codes guessed when challenged (0: the attacker gives up)

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Scenario:
    run: RunSpec
    population: PopulationSpec
    legit: LegitSpec
    campaigns: tuple[CampaignSpec, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.run.name or (self.path.stem if self.path else "scenario")


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    scenarios: tuple[Scenario, ...]
    path: Path | None = None


# ---- building dataclasses from TOML tables, with clear errors ------------------------------


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin is tuple:
        return "a list of numbers"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if origin is Literal:
        if value not in get_args(tp):
            raise ScenarioError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None) and value is None:
                return None
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, list) or not value:
            raise ScenarioError(f"{where}: expected a non-empty list of numbers, got {value!r}")
        return tuple(_coerce(v, float, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: expected a string, got {value!r}")
        return value
    raise ScenarioError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def build(cls: type[Any], table: Any, where: str) -> Any:
    """An instance of dataclass `cls` from a TOML table: unknown keys, missing required keys and
    wrong types are errors naming `where` and the key."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(fields))})"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in table:
            kwargs[name] = _coerce(table[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ScenarioError(f"{where}: missing key {name!r}")
    return cls(**kwargs)


def _share(value: float, where: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ScenarioError(f"{where}: must be between 0 and 1, got {value}")


def _positive(value: float, where: str) -> None:
    if not value > 0:
        raise ScenarioError(f"{where}: must be positive, got {value}")


def validate(s: Scenario, where: str) -> None:
    r, p, lg = s.run, s.population, s.legit
    _positive(r.compress, f"{where}: run.compress")
    _positive(r.duration, f"{where}: run.duration")
    if r.concurrency < 1:
        raise ScenarioError(f"{where}: run.concurrency must be at least 1")
    if r.workers < 1:
        raise ScenarioError(f"{where}: run.workers must be at least 1")
    if p.users < 2:
        raise ScenarioError(f"{where}: population.users must be at least 2")
    for name in ("japan_share", "phone_share", "english_share", "popular_password_share"):
        _share(getattr(p, name), f"{where}: population.{name}")
    if len(p.devices) != 3 or sum(p.devices) <= 0 or min(p.devices) < 0:
        raise ScenarioError(
            f"{where}: population.devices must be 3 non-negative weights (1, 2, 3 devices)"
        )
    if len(p.frequency) != 3 or sum(p.frequency) <= 0 or min(p.frequency) < 0:
        raise ScenarioError(
            f"{where}: population.frequency must be 3 non-negative weights (daily, weekly, monthly)"
        )
    if p.history_logins < 1:
        raise ScenarioError(f"{where}: population.history_logins must be at least 1")
    if lg.logins_per_minute < 0:
        raise ScenarioError(f"{where}: legit.logins_per_minute must not be negative")
    for name in (
        "typo_rate",
        "forgot_rate",
        "new_phone_rate",
        "traveler_share",
        "mobile_network_share",
    ):
        _share(getattr(lg, name), f"{where}: legit.{name}")
    if lg.typo_rate + lg.forgot_rate + lg.new_phone_rate > 1:
        raise ScenarioError(f"{where}: legit typo + forgot + new_phone rates exceed 1")
    names: set[str] = set()
    for c in s.campaigns:
        w = f"{where}: campaign {c.name!r}"
        if not c.name or c.name in names:
            raise ScenarioError(f"{w}: campaign names must be non-empty and unique")
        names.add(c.name)
        if c.start < 0:
            raise ScenarioError(f"{w}: start must not be negative")
        _positive(c.duration, f"{w}: duration")
        if c.end > r.duration:
            raise ScenarioError(
                f"{w}: ends at {c.end:g} s, after the run's duration ({r.duration:g} s)"
            )
        if c.attempts < 1 or c.sources < 1 or c.victims < 1:
            raise ScenarioError(f"{w}: attempts, sources and victims must be at least 1")
        if c.attempts_per_source < 0:
            raise ScenarioError(f"{w}: attempts_per_source must not be negative")
        for name in ("japan_share", "valid_share", "reused_share", "victim_falls_share"):
            _share(getattr(c, name), f"{w}: {name}")
        if c.valid_share + c.reused_share > 1:
            raise ScenarioError(f"{w}: valid_share + reused_share exceed 1")
        if c.real_password_at > 1:
            raise ScenarioError(f"{w}: real_password_at must be at most 1 (or negative: never)")
        if c.kind in ("brute_force", "targeted", "phishing_relay") and c.victims > p.users:
            raise ScenarioError(f"{w}: more victims ({c.victims}) than users ({p.users})")
        if c.kind == "spraying" and c.passwords < 1:
            raise ScenarioError(f"{w}: passwords must be at least 1")
        if c.relay_delay < 0 or c.guess_codes < 0:
            raise ScenarioError(f"{w}: relay_delay and guess_codes must not be negative")
        if c.attempts_per_source and c.attempts_per_source * c.sources < c.attempts:
            raise ScenarioError(
                f"{w}: {c.sources} sources x {c.attempts_per_source} attempts each cannot carry "
                f"{c.attempts} attempts"
            )


# ---- files ----------------------------------------------------------------------------------


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value  # arrays (campaigns) are replaced, not appended
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ScenarioError(f"{path}: 'extends' loops back to itself")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(f"{path}: 'extends' must be a file name")
    return _merge(_read(path.parent / base, (*seen, path)), data)


def parse_scenario(data: dict[str, Any], *, where: str, path: Path | None = None) -> Scenario:
    known = {"run", "population", "legit", "campaign"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError(f"{where}: unknown table {unknown[0]!r} (known: {sorted(known)})")
    campaigns = data.get("campaign", [])
    if not isinstance(campaigns, list):
        raise ScenarioError(f"{where}: 'campaign' must be an array of tables ([[campaign]])")
    scenario = Scenario(
        run=build(RunSpec, data.get("run", {}), f"{where}: [run]"),
        population=build(PopulationSpec, data.get("population", {}), f"{where}: [population]"),
        legit=build(LegitSpec, data.get("legit", {}), f"{where}: [legit]"),
        campaigns=tuple(
            build(CampaignSpec, c, f"{where}: [[campaign]] #{i + 1}")
            for i, c in enumerate(campaigns)
        ),
        path=path,
    )
    validate(scenario, where)
    return scenario


def resolve(name: str | Path) -> Path:
    """A scenario path as given, or the name of a shipped scenario ("stuffing_residential",
    "default.toml")."""
    path = Path(name)
    if path.exists():
        return path
    shipped = SCENARIO_DIR / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if shipped.exists():
        return shipped
    raise ScenarioError(f"{name}: no such scenario file (nor a shipped scenario of that name)")


def load(name: str | Path) -> Scenario | Suite:
    """A scenario or a suite, from a path or the name of a shipped file."""
    path = resolve(name)
    data = _read(path)
    if "suite" in data:
        table = data.pop("suite")
        if data:
            raise ScenarioError(f"{path}: a suite file holds only [suite]")
        if not isinstance(table, dict) or set(table) - {"name", "scenarios"}:
            raise ScenarioError(f"{path}: [suite] takes 'name' and 'scenarios'")
        files = table.get("scenarios")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise ScenarioError(f"{path}: [suite].scenarios must be a list of file names")
        scenarios = tuple(load_scenario(path.parent / f) for f in files)
        names = [s.name for s in scenarios]
        if len(set(names)) != len(names):
            raise ScenarioError(f"{path}: two scenarios of the suite have the same name")
        return Suite(name=str(table.get("name", path.stem)), scenarios=scenarios, path=path)
    return parse_scenario(data, where=str(path), path=path)


def load_scenario(name: str | Path) -> Scenario:
    loaded = load(name)
    if isinstance(loaded, Suite):
        raise ScenarioError(f"{name}: a suite, where one scenario was expected")
    return loaded


def scenarios_of(loaded: Scenario | Suite) -> tuple[Scenario, ...]:
    return loaded.scenarios if isinstance(loaded, Suite) else (loaded,)


__all__ = [
    "KINDS",
    "CampaignSpec",
    "LegitSpec",
    "PopulationSpec",
    "RunSpec",
    "Scenario",
    "ScenarioError",
    "Suite",
    "load",
    "load_scenario",
    "parse_scenario",
    "resolve",
    "scenarios_of",
]
