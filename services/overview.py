"""What the sheet list shows: one row per registered sheet, from registry.toml, state.json and
the snapshotted projects' file lists (no network: the list opens instantly and works offline)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.drift import sheet_drift
from services.models import (
    DeployStatus,
    Environment,
    FileType,
    PhiStatus,
    ScriptFile,
    Sheet,
    SheetDrift,
    TestDataStatus,
)
from services.registry import Registry, load_registry
from services.scripttests import is_test_file
from services.state import State
from services.workspace import Workspace


class TestsStatus(enum.StrEnum):
    """The staging tests' result as it stands for the staging code now in the workspace."""

    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the last run could not start (code or DEV3 data not read)
    STALE = "stale"  # the last result is of other staging code
    NOT_RUN = "not run"  # the project has test files; no result yet
    NONE = "none"  # the project has no test files


class ValidationStatus(enum.StrEnum):
    """The last validation as it stands for the staging code now in the workspace."""

    PASSED = "passed"
    FAILED = "failed"
    STALE = "stale"  # the last validation is of other staging code
    NOT_RUN = "not run"


HELD_BACK = "held back by the PHI gate"


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
    tests: TestsStatus = TestsStatus.NONE
    tests_note: str = ""
    held_back: bool = False  # the PHI gate held back the staging code: not in the workspace
    validation: ValidationStatus = ValidationStatus.NOT_RUN
    validation_note: str = ""

    @property
    def last_snapshot(self) -> str:
        return max(self.snapshot_production, self.snapshot_staging)

    @property
    def snapshot_text(self) -> str:
        """The Last snapshot column: a time, or why staging has none."""
        return HELD_BACK if self.held_back else short_time(self.last_snapshot)

    @property
    def prod_edit(self) -> str:
        if not self.drift.modified_by:
            return ""
        return f"{self.drift.modified_by.split('@')[0]} {short_time(self.drift.modified_at)}"


def short_time(stamp: str) -> str:
    """A recorded time (UTC, ISO 8601) as people read it, in the machine's local zone:
    `2026-05-24T12:31:00.000Z` -> `2026-05-24 07:31 CDT`. The one format for every time shown
    to a person; a stamp that is not a time comes back as written, an empty one empty."""
    if not stamp or len(stamp) <= len("2026-05-24"):  # no time of day: nothing to convert
        return stamp
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:  # sheetstage records UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"


_PHI_ORDER = [PhiStatus.UNSCANNED, PhiStatus.CLEAN, PhiStatus.NEEDS_REVIEW, PhiStatus.BLOCKED]


def staging_hash(record: dict[str, Any]) -> str | None:
    """The hash of the staging content now in the workspace (or held back by the gate)."""
    staging = record.get("staging", {})
    return staging.get("held_back") or staging.get("hash")


def phi_status(record: dict) -> PhiStatus:
    """The worst of the snapshot gate's code scan and the last validation, counting each
    only while it describes the staging content now in the workspace."""
    current = staging_hash(record)
    found = []
    for source in ("gate", "validation"):
        entry = record.get(source, {})
        if entry.get("hash") == current and entry.get("status") in set(PhiStatus):
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


_RECORDED = {TestsStatus.PASSED, TestsStatus.FAILED, TestsStatus.ERROR, TestsStatus.NONE}


def tests_status(record: dict[str, Any], has_tests: Callable[[], bool]) -> TestsStatus:
    """The last staging tests' result while it describes the staging code now in the
    workspace; else whether there are tests to run (`has_tests` reads the disk: only asked
    when needed)."""
    tests = _tests_record(record)
    status = str(tests.get("status", ""))
    if status == TestsStatus.ERROR and not tests.get("hash"):
        return TestsStatus.ERROR  # the code itself was not read: the last attempt stands
    fresh = bool(tests) and tests.get("hash") == staging_hash(record)
    if fresh and status in _RECORDED:
        return TestsStatus(status)
    if not has_tests():
        return TestsStatus.NONE
    return TestsStatus.STALE if tests else TestsStatus.NOT_RUN


def tests_note(record: dict[str, Any], status: TestsStatus) -> str:
    """The staging tests in one line for the detail panel: a failure's test, file and line
    come first, so a cut line still names them."""
    tests = _tests_record(record)
    run = f"{short_time(str(tests.get('time', '')))} by {tests.get('by') or '?'}"
    summary = one_line(str(tests.get("summary", "")))
    if status is TestsStatus.PASSED:
        return f"{summary} · {run}"
    if status is TestsStatus.FAILED:
        parts = [_first_failure(tests) or summary, _counts(tests), run]
        return " · ".join(part for part in parts if part)
    if status is TestsStatus.ERROR:
        return f"{summary} · {run} · t tries again"
    if status is TestsStatus.STALE:
        last = "could not run" if tests.get("status") == TestsStatus.ERROR else _counts(tests)
        return f"stale: {last or summary} on older staging code · t runs them again · {run}"
    if status is TestsStatus.NOT_RUN:
        return "not run yet · t runs the staging tests"
    return "none · no test files (test*.gs or tests/*.gs)"


def validation_status(record: dict[str, Any]) -> ValidationStatus:
    """The last validation's result while it describes the staging code now in the workspace
    (or held back by the gate)."""
    entry = _validation_record(record)
    if not entry:
        return ValidationStatus.NOT_RUN
    if entry.get("hash") != staging_hash(record):
        return ValidationStatus.STALE
    return ValidationStatus.PASSED if entry.get("ok") else ValidationStatus.FAILED


def validation_note(record: dict[str, Any], status: ValidationStatus) -> str:
    """The last validation in one line for the detail panel: result, why, and when."""
    entry = _validation_record(record)
    when = short_time(str(entry.get("time", "")))
    if status is ValidationStatus.NOT_RUN:
        return "not run · v validates (PHI, ids, syntax, tests)"
    if status is ValidationStatus.STALE:
        return f"stale: of older staging code ({when}) · v validates again"
    if status is ValidationStatus.PASSED:
        return f"passed {when} · PHI {entry.get('status', '?')}"
    problems = [f"PHI {entry.get('status', '?')}", *map(str, entry.get("problems", []))]
    return f"failed {when} · {one_line('; '.join(problems))}"


def _validation_record(record: dict[str, Any]) -> dict[str, Any]:
    entry = record.get("validation", {})
    return entry if isinstance(entry, dict) else {}


def _tests_record(record: dict[str, Any]) -> dict[str, Any]:
    tests = record.get("tests", {})
    return tests if isinstance(tests, dict) else {}


def _first_failure(tests: dict[str, Any]) -> str:
    results = tests.get("results", [])
    failing = [r for r in results if isinstance(r, dict) and r.get("status") != "passed"]
    if failing:
        first = failing[0]
        where = first.get("where") or first.get("file") or "?"
        text = f"{first.get('name', '?')} at {where}: {first.get('message', '')}"
        more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
        return one_line(text) + more
    problems = tests.get("problems", [])
    return one_line(str(problems[0])) if problems else ""


def _counts(tests: dict[str, Any]) -> str:
    counts = tests.get("counts", {})
    if not isinstance(counts, dict):
        return ""
    parts = [f"{counts[status]} {status}" for status in ("passed", "failed") if counts.get(status)]
    errors = counts.get("error")
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    return ", ".join(parts)


def one_line(text: str) -> str:
    """Text from a test (its message may span lines) on one line."""
    return " ".join(text.split())


def has_test_files(workspace: Workspace, sheet: Sheet) -> bool:
    """Whether the snapshotted staging project holds test files."""
    return any(
        name.endswith(".gs") and is_test_file(ScriptFile(name[:-3], FileType.SERVER_JS, ""))
        for name in workspace.project_files(sheet, Environment.STAGING)
    )


def load_rows(workspace: Workspace, registry: Registry | None = None) -> list[SheetRow]:
    registry = registry or load_registry(workspace.registry_path)
    state = State.load(workspace)
    rows = []
    for sheet in sorted(registry.sheets, key=lambda s: s.number):
        record = state.data["sheets"].get(sheet.key, {})
        tests = tests_status(record, lambda s=sheet: has_test_files(workspace, s))
        validated = validation_status(record)
        rows.append(
            SheetRow(
                sheet=sheet,
                drift=sheet_drift(sheet, state),
                phi=phi_status(record),
                deploy=_enum(DeployStatus, record.get("deploy", ""), DeployStatus.NONE),  # type: ignore[arg-type]
                test_data=test_data_status(record),
                test_data_note=test_data_note(record),
                tests=tests,
                tests_note=tests_note(record, tests),
                snapshot_production=record.get("production", {}).get("snapshot_at", ""),
                snapshot_staging=record.get("staging", {}).get("snapshot_at", ""),
                last_deploy=record.get("last_deploy", ""),
                held_back=bool(record.get("staging", {}).get("held_back")),
                validation=validated,
                validation_note=validation_note(record, validated),
            )
        )
    return rows


def project_files(workspace: Workspace, sheet: Sheet, env: Environment) -> list[str]:
    """The snapshotted project's files as they are named on disk, in Apps Script order."""
    return workspace.project_files(sheet, env)
