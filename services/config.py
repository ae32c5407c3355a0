"""Configuration: tomllib into frozen dataclasses, one per [section].

Precedence: --config PATH, then $SHEETSTAGE_CONFIG, then ./config.toml, then the packaged
default. Relative paths are relative to the config file's folder (the packaged default's
relative paths resolve against the current folder, as if it were ./config.toml).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import itertools
import math
import os
import re
import tomllib
import types
import typing
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from services.errors import ConfigError

BACKENDS = ("emulator", "google")
HOUR_S, DAY_S = 3600.0, 86400.0  # no wait or timeout needs more: a typo of a few zeros does
T = TypeVar("T")


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting may take; a float must also be finite (TOML has nan, inf)."""

    low: float
    high: float = math.inf
    above: bool = False  # low itself is not allowed

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def describe(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.high == math.inf:
            return f"above {low}" if self.above else f"{low} or more"
        return f"above {low} and at most {high}" if self.above else f"between {low} and {high}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def bounded(default: T, low: float, high: float = math.inf, *, above: bool = False) -> T:
    """A numeric setting with its allowed range (every int and float setting needs one)."""
    return field(default=default, metadata={"bounds": Bounds(low, high, above)})


def http_url(default: str = "") -> str:
    """A setting that is empty or an http(s) URL."""
    return field(default=default, metadata={"url": True})


@dataclass(frozen=True)
class GoogleConfig:
    token_file: Path = Path("~/.config/sheetstage/token.json")
    client_secrets_file: Path = Path("~/.config/sheetstage/client_secret.json")
    api_endpoint: str = http_url()
    token_uri: str = http_url()


@dataclass(frozen=True)
class EmulatorConfig:
    latency_ms: int = bounded(0, 0, 600_000)
    fault_rate: float = bounded(0.0, 0, 1)
    quota_per_minute: int = bounded(0, 0, 1_000_000)
    port: int = bounded(0, 0, 65535)
    user: str = "developer@practice.example"
    state_dir: Path = Path(".sheetstage-emulator")
    failing_scripts: tuple[str, ...] = ()
    tampered_scripts: tuple[str, ...] = ()  # first updateContent stored with a change (drill)


@dataclass(frozen=True)
class ClientConfig:
    concurrency: int = bounded(64, 1, 256)
    requests_per_minute: int = bounded(0, 0, 1_000_000)  # 0 = the emulator's quota or none
    sheets_requests_per_minute: int = bounded(60, 1, 1_000_000)
    max_attempts: int = bounded(6, 1, 100)
    max_elapsed_s: float = bounded(300.0, 0, DAY_S, above=True)
    backoff_initial_s: float = bounded(1.0, 0, HOUR_S, above=True)
    backoff_cap_s: float = bounded(32.0, 0, HOUR_S, above=True)  # >= backoff_initial_s
    retry_after_cap_s: float = bounded(120.0, 0, HOUR_S)
    timeout_s: float = bounded(60.0, 0, HOUR_S, above=True)


@dataclass(frozen=True)
class GitConfig:
    remote: str = ""
    lock_timeout_s: float = bounded(15.0, 0, HOUR_S)


@dataclass(frozen=True)
class AlertsConfig:
    drift_threshold: int = bounded(25, 0, 100_000)
    webhook_url: str = http_url()
    webhook_timeout_s: float = bounded(10.0, 0, HOUR_S, above=True)


@dataclass(frozen=True)
class DeployConfig:
    approval_expiry_days: float = bounded(7.0, 0, 365, above=True)  # an approval then lapses
    verify_attempts: int = bounded(3, 1, 20)  # read-backs before a mismatch counts


@dataclass(frozen=True)
class TestDataConfig:
    __test__ = False  # not a pytest class

    as_of: datetime.date = datetime.date(2026, 1, 1)  # ages and visit dates count from here
    patients: int = bounded(100, 1, 1_000_000)  # generate-test-data's default --patients
    max_rows: int = bounded(5000, 1, 1_000_000)  # a tab never gets more generated rows


@dataclass(frozen=True)
class TestsConfig:
    __test__ = False

    time_limit_s: float = bounded(5.0, 0, HOUR_S, above=True)  # each test, its loading included
    sheet_time_limit_s: float = bounded(60.0, 0, DAY_S, above=True)  # all of a sheet's tests
    memory_limit_mb: int = bounded(512, 16, 65_536)  # each test's V8 heap
    workers: int = bounded(2, 1, 64)  # sheets tested at once (V8 runs on the CPU)


TEST_CARDS = (
    "4111111111111111",
    "4012888888881881",
    "4242424242424242",
    "5555555555554444",
    "5105105105105100",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "30569309025904",
    "3530111333300000",
)


@dataclass(frozen=True)
class PhiConfig:
    synthetic_prefix: str = "SYN-"
    # context words added to the defaults of each identifier (services/phi_words.py)
    ssn_context: tuple[str, ...] = ()
    mrn_context: tuple[str, ...] = ()
    dob_context: tuple[str, ...] = ()
    phone_context: tuple[str, ...] = ()
    member_context: tuple[str, ...] = ()
    mrn_id_pattern: str = field(default=r"[A-Za-z]{0,3}\d{6,10}", metadata={"regex": True})
    allowlist: tuple[str, ...] = ()
    test_cards: tuple[str, ...] = TEST_CARDS
    max_file_mb: float = bounded(20.0, 0, 100_000, above=True)
    name_ratio: float = bounded(92.0, 50, 100)


_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class ScheduleConfig:
    """When the scheduler runs `sheetstage --batch` (the systemd timer and the workflow read
    the same key); `health` allows the longest gap between two runs plus an hour."""

    times: tuple[str, ...] = ("09:00", "17:00")  # local times of day, HH:MM
    timezone: str = "America/Chicago"  # the IANA zone of those times

    def run_times(self, first_day: datetime.date, days: int) -> list[datetime.datetime]:
        """Every scheduled run on `days` days from `first_day`, in UTC, oldest first. A time
        that a change to daylight saving time skips runs an hour later, as the wall clock
        reads it before the change."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        moments = set()
        for offset in range(days):
            day = first_day + datetime.timedelta(days=offset)
            for text in self.times:
                hour, minute = (int(part) for part in text.split(":"))
                local = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                moments.add(local.astimezone(datetime.UTC))
        return sorted(moments)

    def longest_gap(self, around: datetime.date | None = None) -> datetime.timedelta:
        """The longest real time between two consecutive runs over the year from `around`
        (today by default): the gap across midnight counts, and so do the nights the clocks
        change (09:00 and 17:00 in Chicago: 16 hours most nights, 17 the night summer time
        ends)."""
        first_day = (around or datetime.date.today()) - datetime.timedelta(days=1)
        moments = self.run_times(first_day, 368)
        return max(later - earlier for earlier, later in itertools.pairwise(moments))


@dataclass(frozen=True)
class Config:
    source: Path  # the file this came from
    backend: str = "emulator"
    workspace: Path = Path("workspace")
    google: GoogleConfig = field(default_factory=GoogleConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    client: ClientConfig = field(default_factory=ClientConfig)
    git: GitConfig = field(default_factory=GitConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    phi: PhiConfig = field(default_factory=PhiConfig)
    test_data: TestDataConfig = field(default_factory=TestDataConfig)
    tests: TestsConfig = field(default_factory=TestsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def with_changes(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


_SECTIONS: dict[str, type] = {
    "google": GoogleConfig,
    "emulator": EmulatorConfig,
    "client": ClientConfig,
    "git": GitConfig,
    "alerts": AlertsConfig,
    "deploy": DeployConfig,
    "phi": PhiConfig,
    "test_data": TestDataConfig,
    "tests": TestsConfig,
    "schedule": ScheduleConfig,
}
_TOP_LEVEL = {"backend": str, "workspace": Path}


def packaged_default() -> Path:
    return Path(str(resources.files("services").joinpath("default_config.toml")))


def find_config(flag: str | None) -> Path:
    """The config file to use, by the precedence in the module docstring."""
    if flag:
        return Path(flag)
    from_env = os.environ.get("SHEETSTAGE_CONFIG")
    if from_env:
        return Path(from_env)
    local = Path.cwd() / "config.toml"
    if local.is_file():
        return local
    return packaged_default()


def load_config(flag: str | None = None) -> Config:
    path = find_config(flag)
    base = Path.cwd() if path == packaged_default() else path.resolve().parent
    return load_config_file(path, base)


def load_config_file(path: Path, base: Path | None = None) -> Config:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; pass an existing file with --config "
            "or run from a folder with a config.toml"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: broken TOML ({error}); fix the syntax at that spot") from None
    folder = base if base is not None else path.resolve().parent
    return _build(path, folder, data)


def _build(path: Path, folder: Path, data: dict[str, Any]) -> Config:
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    known = sorted([*_TOP_LEVEL, *_SECTIONS])
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table; write it as a [{key}] section")
            sections[key] = _section(path, folder, key, _SECTIONS[key], value)
        elif key in _TOP_LEVEL:
            top[key] = _value(path, folder, key, _TOP_LEVEL[key], value)
        else:
            raise ConfigError(f"{path}: unknown key {key!r}{_did_you_mean(key, known)}")
    backend = top.get("backend", "emulator")
    if backend not in BACKENDS:
        raise ConfigError(f'{path}: backend = "{backend}" is unknown; use "emulator" or "google"')
    if "workspace" not in top:
        top["workspace"] = folder / "workspace"
    emulator = sections.get("emulator", _section(path, folder, "emulator", EmulatorConfig, {}))
    sections["emulator"] = emulator
    config = Config(source=path, **top, **sections)
    _check_ranges(path, config)
    return config


def _section(path: Path, folder: Path, name: str, cls: type, table: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in hints:
            raise ConfigError(
                f"{path}: unknown key [{name}].{key}{_did_you_mean(key, sorted(hints))}"
            )
        values[key] = _value(path, folder, f"[{name}].{key}", hints[key], value)
        _check(path, f"[{name}].{key}", _field(cls, key), values[key])
    for key, hint in hints.items():
        if key not in values and hint is Path:
            values[key] = _resolve(folder, getattr(cls(), key))
    return cls(**values)


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _check(path: Path, key: str, spec: dataclasses.Field[Any], value: Any) -> None:
    """The value's range or form, from its field's metadata (`bounded`, `http_url`, `regex`)."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{path}: {key} must be {expected}, not {value!r}; fix the value")

    if isinstance(value, int | float) and not isinstance(value, bool):
        bounds = spec.metadata.get("bounds")
        if not isinstance(bounds, Bounds):  # a numeric setting was added without a range
            raise AssertionError(f"{key} has no bounds: declare it with bounded(...)")
        if not bounds.admits(value):
            finite = "" if math.isfinite(value) else " (a finite number)"
            raise bad(bounds.describe() + finite)
    elif spec.metadata.get("url") and value:
        if not _is_http_url(value):
            raise bad("empty or an http(s) URL such as https://host.example/path")
    elif spec.metadata.get("regex"):
        try:  # and as the scanner embeds it, so `(?i)` after the start is caught here too
            compiled = re.compile(value)
            re.compile(f"(?:{value})")
        except re.error as error:
            raise ConfigError(
                f"{path}: {key} {value!r} is not a valid regular expression ({error}); "
                "fix the pattern (backslashes need doubling inside double quotes)"
            ) from None
        if compiled.fullmatch(""):
            raise bad("a pattern that matches at least one character")
    elif isinstance(value, tuple):
        for index, entry in enumerate(value, start=1):
            if not entry.strip():
                raise ConfigError(f"{path}: {key} entry {index} is empty; remove it or fill it in")


def _is_http_url(value: str) -> bool:
    if any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _value(path: Path, folder: Path, key: str, hint: Any, value: Any) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(
            f"{path}: {key} must be {expected}, not {type(value).__name__} {value!r}; fix the value"
        )

    if hint is Path:
        if not isinstance(value, str):
            raise wrong("a path string")
        return _resolve(folder, Path(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if hint is datetime.date:
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            raise wrong("a TOML date such as 2026-01-01 (no quotes, no time)")
        return value
    origin = typing.get_origin(hint)
    if origin is tuple or isinstance(hint, types.GenericAlias):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings")
        return tuple(value)
    raise AssertionError(f"unsupported config type {hint}")  # pragma: no cover


def _resolve(folder: Path, value: Path) -> Path:
    expanded = value.expanduser()
    return expanded if expanded.is_absolute() else folder / expanded


def _did_you_mean(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}? Rename or remove it"
    return f"; known keys are {', '.join(choices)}. Remove it"


def _check_ranges(path: Path, config: Config) -> None:
    """The checks that span keys or need more than a range."""
    client = config.client
    if client.backoff_cap_s < client.backoff_initial_s:
        raise ConfigError(
            f"{path}: [client].backoff_cap_s ({client.backoff_cap_s:g}) must be at least "
            f"[client].backoff_initial_s ({client.backoff_initial_s:g}); raise the cap or lower "
            "the initial backoff"
        )
    if not config.phi.synthetic_prefix.strip():
        raise ConfigError(
            f'{path}: [phi].synthetic_prefix must be a non-empty prefix such as "SYN-"; '
            "fix the value"
        )
    _check_schedule(path, config.schedule)
    for index, card in enumerate(config.phi.test_cards, start=1):
        digits = sum(c.isdigit() for c in card)
        if not 12 <= digits <= 19 or not re.fullmatch(r"[\d -]+", card):
            raise ConfigError(
                f"{path}: [phi].test_cards entry {index} {card!r} is not a card number "
                "(12 to 19 digits, spaces or dashes allowed); fix or remove it"
            )


def _check_schedule(path: Path, schedule: ScheduleConfig) -> None:
    if not schedule.times:
        raise ConfigError(
            f'{path}: [schedule].times must list at least one time of day such as "09:00"; '
            "fix the value"
        )
    for index, text in enumerate(schedule.times, start=1):
        if not _TIME_OF_DAY.fullmatch(text):
            raise ConfigError(
                f"{path}: [schedule].times entry {index} {text!r} is not a time of day as HH:MM "
                '(00:00 to 23:59, such as "09:00"); fix the value'
            )
        if schedule.times.index(text) != index - 1:
            raise ConfigError(f"{path}: [schedule].times lists {text} twice; remove one")
    try:
        zoneinfo.ZoneInfo(schedule.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"{path}: [schedule].timezone {schedule.timezone!r} is not a time zone this machine "
            'knows; use an IANA name such as "America/Chicago" (or install the tzdata package '
            "where the system has no time zone database)"
        ) from None
