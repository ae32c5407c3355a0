"""What the sheet list shows: one row per registered sheet, from registry.toml and state.json
(no network: the list opens instantly and works offline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.drift import sheet_drift
from services.registry import Registry, load_registry
from services.state import State
from services.workspace import Workspace
from sheetstage_tui.models import (
    DeployStatus,
    Environment,
    PhiStatus,
    Sheet,
    SheetDrift,
    TestDataStatus,
)


@dataclass(frozen=True)
class SheetRow:
    sheet: Sheet
    drift: SheetDrift
    phi: PhiStatus
    deploy: DeployStatus
    test_data: TestDataStatus
    snapshot_production: str
    snapshot_staging: str
    last_deploy: str
    test_data_note: str = ""

    @property
    def last_snapshot(self) -> str:
        return max(self.snapshot_production, self.snapshot_staging)

    @property
    def prod_edit(self) -> str:
        if not self.drift.modified_by:
            return ""
        return f"{self.drift.modified_by.split('@')[0]} {short_time(self.drift.modified_at)}"


def short_time(stamp: str) -> str:
    """`2026-05-24T12:31:00.000Z` -> `2026-05-24 12:31` (UTC)."""
    return stamp[:16].replace("T", " ") if stamp else ""


_PHI_ORDER = [PhiStatus.UNSCANNED, PhiStatus.CLEAN, PhiStatus.NEEDS_REVIEW, PhiStatus.BLOCKED]


def phi_status(record: dict) -> PhiStatus:
    """The worst of the snapshot gate's code scan and the last validation, counting each
    only while it describes the staging content now in the workspace."""
    staging = record.get("staging", {})
    current = {staging.get("held_back") or staging.get("hash")}
    found = []
    for source in ("gate", "validation"):
        entry = record.get(source, {})
        if entry.get("hash") in current and entry.get("status") in set(PhiStatus):
            found.append(PhiStatus(entry["status"]))
    return max(found, key=_PHI_ORDER.index, default=PhiStatus.UNSCANNED)


def _enum(kind: type, value: object, default: object) -> object:
    try:
        return kind(value)
    except ValueError:
        return default


def test_data_status(record: dict[str, Any]) -> TestDataStatus:
    test_data = record.get("test_data", {})
    status = test_data.get("status", "") if isinstance(test_data, dict) else ""
    return _enum(TestDataStatus, status, TestDataStatus.NONE)  # type: ignore[return-value]


def test_data_note(record: dict[str, Any]) -> str:
    """What the DEV3 data is, in one line for the detail panel."""
    test_data = record.get("test_data", {})
    if not isinstance(test_data, dict):
        return "none"
    status, when = test_data_status(record), short_time(str(test_data.get("time", "")))
    if status is TestDataStatus.REAL:
        cells = test_data.get("cells", "some")
        return f"REAL patient data: {cells} cells match production ({when}); g replaces it"
    if status is TestDataStatus.SYNTHETIC:
        rows = test_data.get("rows", {})
        tabs = ", ".join(f"{tab} {count}" for tab, count in rows.items()) if rows else ""
        return (
            f"synthetic · seed {test_data.get('seed', '?')} · {tabs} rows · {when} "
            f"by {test_data.get('by', '?')}"
        )
    return "none · g fills DEV3 with synthetic patients"


def load_rows(workspace: Workspace, registry: Registry | None = None) -> list[SheetRow]:
    registry = registry or load_registry(workspace.registry_path)
    state = State.load(workspace)
    rows = []
    for sheet in sorted(registry.sheets, key=lambda s: s.number):
        record = state.data["sheets"].get(sheet.key, {})
        rows.append(
            SheetRow(
                sheet=sheet,
                drift=sheet_drift(sheet, state),
                phi=phi_status(record),
                deploy=_enum(DeployStatus, record.get("deploy", ""), DeployStatus.NONE),  # type: ignore[arg-type]
                test_data=test_data_status(record),
                test_data_note=test_data_note(record),
                snapshot_production=record.get("production", {}).get("snapshot_at", ""),
                snapshot_staging=record.get("staging", {}).get("snapshot_at", ""),
                last_deploy=record.get("last_deploy", ""),
            )
        )
    return rows


def project_files(workspace: Workspace, sheet: Sheet, env: Environment) -> list[str]:
    """The snapshotted project's files as they are named on disk, in Apps Script order."""
    return workspace.project_files(sheet, env)
