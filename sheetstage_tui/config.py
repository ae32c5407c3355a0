"""Configuration: tomllib into frozen dataclasses, one per [section].

Precedence: --config PATH, then $SHEETSTAGE_CONFIG, then ./config.toml, then the packaged
default. Relative paths are relative to the config file's folder (the packaged default's
relative paths resolve against the current folder, as if it were ./config.toml).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sheetstage_tui.errors import ConfigError

BACKENDS = ("emulator", "google")


@dataclass(frozen=True)
class GoogleConfig:
    token_file: Path = Path("~/.config/sheetstage/token.json")
    client_secrets_file: Path = Path("~/.config/sheetstage/client_secret.json")
    api_endpoint: str = ""
    token_uri: str = ""


@dataclass(frozen=True)
class EmulatorConfig:
    latency_ms: int = 0
    fault_rate: float = 0.0
    quota_per_minute: int = 0
    port: int = 0
    user: str = "developer@practice.example"
    state_dir: Path = Path(".sheetstage-emulator")
    failing_scripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientConfig:
    concurrency: int = 48
    requests_per_minute: int = 0
    sheets_requests_per_minute: int = 60
    max_attempts: int = 6
    max_elapsed_s: float = 300.0
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 32.0
    retry_after_cap_s: float = 120.0
    timeout_s: float = 60.0


@dataclass(frozen=True)
class GitConfig:
    remote: str = ""
    lock_timeout_s: float = 15.0


@dataclass(frozen=True)
class AlertsConfig:
    drift_threshold: int = 25
    webhook_url: str = ""
    webhook_timeout_s: float = 10.0


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
MRN_CONTEXT = (
    "mrn",
    "mr#",
    "mr #",
    "medical record number",
    "medical record no",
    "medical record #",
    "medical record",
    "chart number",
    "chart no",
    "chart #",
    "patient id",
    "patient #",
    "patient number",
    "patient no",
)


@dataclass(frozen=True)
class PhiConfig:
    synthetic_prefix: str = "SYN-"
    mrn_context: tuple[str, ...] = MRN_CONTEXT
    mrn_id_pattern: str = r"[A-Za-z]{0,3}\d{6,10}"
    allowlist: tuple[str, ...] = ()
    test_cards: tuple[str, ...] = TEST_CARDS
    max_file_mb: float = 20.0
    name_ratio: float = 92.0


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
    phi: PhiConfig = field(default_factory=PhiConfig)

    def with_changes(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


_SECTIONS: dict[str, type] = {
    "google": GoogleConfig,
    "emulator": EmulatorConfig,
    "client": ClientConfig,
    "git": GitConfig,
    "alerts": AlertsConfig,
    "phi": PhiConfig,
}
_TOP_LEVEL = {"backend": str, "workspace": Path}


def packaged_default() -> Path:
    return Path(str(resources.files("sheetstage_tui").joinpath("default_config.toml")))


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
    for key, hint in hints.items():
        if key not in values and hint is Path:
            values[key] = _resolve(folder, getattr(cls(), key))
    return cls(**values)


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
    checks = [
        ("[emulator].fault_rate", 0.0 <= config.emulator.fault_rate <= 1.0, "between 0 and 1"),
        ("[emulator].latency_ms", config.emulator.latency_ms >= 0, "0 or more"),
        ("[emulator].quota_per_minute", config.emulator.quota_per_minute >= 0, "0 or more"),
        ("[emulator].port", 0 <= config.emulator.port <= 65535, "0..65535"),
        ("[client].concurrency", 1 <= config.client.concurrency <= 256, "1..256"),
        ("[client].max_attempts", config.client.max_attempts >= 1, "1 or more"),
        ("[client].requests_per_minute", config.client.requests_per_minute >= 0, "0 or more"),
        ("[client].timeout_s", config.client.timeout_s > 0, "above 0"),
        ("[alerts].drift_threshold", config.alerts.drift_threshold >= 0, "0 or more"),
        ("[phi].max_file_mb", config.phi.max_file_mb > 0, "above 0"),
        ("[phi].name_ratio", 50 <= config.phi.name_ratio <= 100, "50..100"),
        ("[phi].synthetic_prefix", bool(config.phi.synthetic_prefix), "a non-empty prefix"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{path}: {key} must be {expected}; fix the value")
