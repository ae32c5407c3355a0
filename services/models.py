"""Dataclasses and enums shared by screens and services."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class Environment(enum.StrEnum):
    PRODUCTION = "production"
    STAGING = "staging"

    @property
    def folder(self) -> str:
        return "production-sheets" if self is Environment.PRODUCTION else "staging-sheets"

    @property
    def suffix(self) -> str:
        return "PROD" if self is Environment.PRODUCTION else "DEV3"


class DriftState(enum.StrEnum):
    IN_SYNC = "in-sync"
    AHEAD = "ahead"
    PROD_MODIFIED = "prod-modified"
    DIVERGED = "diverged"
    UNKNOWN = "unknown"

    @property
    def glyph(self) -> str:
        return _DRIFT_GLYPHS[self]


_DRIFT_GLYPHS = {
    DriftState.IN_SYNC: "✓",
    DriftState.AHEAD: "▲",
    DriftState.PROD_MODIFIED: "!",
    DriftState.DIVERGED: "⇅",
    DriftState.UNKNOWN: "?",
}


class PhiStatus(enum.StrEnum):
    UNSCANNED = "unscanned"
    CLEAN = "clean"
    NEEDS_REVIEW = "needs-review"
    BLOCKED = "blocked"


class DeployStatus(enum.StrEnum):
    NONE = "none"
    STAGED = "staged"
    APPROVED = "approved"
    DEPLOYED = "deployed"


class TestDataStatus(enum.StrEnum):
    __test__ = False  # not a pytest class

    NONE = "none"
    SYNTHETIC = "synthetic"
    REAL = "real"


class FileType(enum.StrEnum):
    SERVER_JS = "SERVER_JS"
    HTML = "HTML"
    JSON = "JSON"

    @property
    def extension(self) -> str:
        return {"SERVER_JS": ".gs", "HTML": ".html", "JSON": ".json"}[self.value]


@dataclass(frozen=True)
class ScriptFile:
    name: str
    type: FileType
    source: str


@dataclass(frozen=True)
class Project:
    """One Apps Script project's files in Apps Script's order."""

    script_id: str
    files: tuple[ScriptFile, ...]
    update_time: str = ""
    last_modify_user: str = ""


def content_hash(files: Iterable[ScriptFile]) -> str:
    """SHA-256 over the ordered list of [name, type, source] (DESIGN.md "Sheet states")."""
    canonical = json.dumps(
        [[f.name, str(f.type), f.source] for f in files], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Sheet:
    """One registered spreadsheet pair (a row of registry.toml)."""

    number: int
    name: str
    prod_spreadsheet_id: str
    prod_script_id: str
    dev3_spreadsheet_id: str
    dev3_script_id: str
    owner: str = ""
    reference_ranges: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.number:03d}"

    def script_id(self, env: Environment) -> str:
        return self.prod_script_id if env is Environment.PRODUCTION else self.dev3_script_id

    def spreadsheet_id(self, env: Environment) -> str:
        if env is Environment.PRODUCTION:
            return self.prod_spreadsheet_id
        return self.dev3_spreadsheet_id

    def folder(self, env: Environment) -> str:
        return f"{env.folder}/sheet-{self.key}_{env.suffix}"


@dataclass(frozen=True)
class SheetDrift:
    sheet: Sheet
    state: DriftState
    production_hash: str | None
    staging_hash: str | None
    baseline: str | None
    reason: str = ""
    modified_by: str = ""
    modified_at: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet.number,
            "name": self.sheet.name,
            "state": str(self.state),
            "production_hash": self.production_hash,
            "staging_hash": self.staging_hash,
            "baseline": self.baseline,
            "reason": self.reason,
            "modified_by": self.modified_by,
            "modified_at": self.modified_at,
        }


@dataclass(frozen=True)
class FetchFailure:
    sheet: Sheet
    env: Environment
    reason: str


@dataclass
class SnapshotReport:
    """What one snapshot run did."""

    checked: dict[Environment, int] = field(default_factory=dict)
    fetched: dict[Environment, int] = field(default_factory=dict)
    changed: list[tuple[Environment, Sheet]] = field(default_factory=list)
    failures: list[FetchFailure] = field(default_factory=list)
    phi_blocked: list[tuple[Environment, Sheet]] = field(default_factory=list)
    commit: str | None = None
    duration_s: float = 0.0
    audit_seq: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "checked": {str(k): v for k, v in self.checked.items()},
            "fetched": {str(k): v for k, v in self.fetched.items()},
            "changed": [{"env": str(e), "sheet": s.number} for e, s in self.changed],
            "failed": [
                {"env": str(f.env), "sheet": f.sheet.number, "reason": f.reason}
                for f in self.failures
            ],
            "phi_blocked": [{"env": str(e), "sheet": s.number} for e, s in self.phi_blocked],
            "commit": self.commit,
            "duration_s": round(self.duration_s, 3),
            "event_id": self.audit_seq,
        }


def parse_sheet_number(text: str) -> int:
    """`7`, `007` and `sheet-007` all mean sheet 7."""
    cleaned = text.strip().lower().removeprefix("sheet-")
    if not cleaned.isdigit():
        raise ValueError(f"{text!r} is not a sheet number (use 0..234, e.g. --sheet 7)")
    return int(cleaned)


def sorted_sheets(sheets: Sequence[Sheet]) -> list[Sheet]:
    return sorted(sheets, key=lambda s: s.number)
