"""Pre-deployment validation (deploy pipeline step 1) and the scanner's wiring: which key,
which acknowledgements, which files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services import alerts, audit, scripttests_job
from services.access import PRACTICE_MANAGER, RolesFile, read_roles, simulated_people
from services.audit import AuditTrail, utc_now
from services.config import Config
from services.emulator.syntax import first_error_node
from services.errors import JobFailedError, RefusedError, UsageError
from services.google_client import GoogleApiError
from services.models import Environment, FileType, PhiStatus, ScriptFile, Sheet
from services.overview import short_time
from services.phi import (
    Finding,
    FindingType,
    Scanner,
    ScanResult,
    Severity,
    status_of,
    with_acknowledgements,
)
from services.reference import ReferenceSet, header_ranges
from services.registry import IdMapper
from services.scanning import open_workspace, reference_cache, scanner_for
from services.scripttests import StagingTests, TestsOutcome
from services.snapshot import files_from_api, project_hash
from services.state import State
from services.workspace import Staged, UnsafeFileName, Workspace, disk_name

if TYPE_CHECKING:
    from services.google_client import GoogleClient
    from services.session import Session


def scan(config: Config, paths: Sequence[Path], staged: bool = False) -> ScanResult:
    workspace = open_workspace(config)
    if not staged:
        return scanner_for(config, workspace).scan_paths(paths, Path.cwd())
    here = Path.cwd()
    if (here / ".git").is_dir() and (here / "registry.toml").is_file():
        workspace = Workspace(here)  # a git hook runs in the workspace it guards
    if workspace is None:
        raise UsageError(
            f"scan --staged needs the workspace at {config.workspace}; run `sheetstage init`"
        )
    scanner = scanner_for(config, workspace)
    result = ScanResult()
    for name, data in workspace.staged_files():
        result.extend(scanner.scan_bytes(data, name))
    acknowledged = workspace_acknowledgements(workspace, config.backend)
    result.findings = with_acknowledgements(result.findings, acknowledged)
    return result


# validation (deploy pipeline step 1) ------------------------------------------------------------

REQUIRED_MANIFEST = ("timeZone",)
RUNTIMES = ("V8", "STABLE", "DEPRECATED_ES5")
EXCEPTION_LOGGING = ("NONE", "STACKDRIVER")
_URL = re.compile(r"https?://[^\s'\"`)<>]+")
_EMAIL_LITERAL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_LOGS_CELLS = re.compile(
    r"(?:Logger\.log|console\.(?:log|info|warn|error))\s*\([^;\n]*\b"
    r"(?:getValues?|getDisplayValues?|getDataRange|getRange)\s*\("
)


@dataclass
class SheetValidation:
    sheet: Sheet
    phi: PhiStatus
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    risks: dict[str, list[str]] = field(default_factory=dict)
    staging_hash: str | None = None
    # DEV3 sheet data: None when not read, else how many cells match production patients
    real_data: int | None = None
    tests: TestsOutcome | None = None  # None: the project has no staging tests

    @property
    def tests_summary(self) -> str:
        return self.tests.summary if self.tests is not None else "no staging tests (passes)"

    @property
    def ok(self) -> bool:
        return self.phi is PhiStatus.CLEAN and not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet.number,
            "phi": str(self.phi),
            "ok": self.ok,
            "problems": self.problems,
            "risks": self.risks,
            "tests": self.tests_summary,
            "findings": [f.as_json() for f in self.findings],
        }

    def record(self) -> dict[str, object]:
        """What state.json keeps: masked findings only."""
        return {
            "status": str(self.phi),
            "hash": self.staging_hash,
            "time": utc_now(),
            "ok": self.ok,
            "problems": self.problems,
            "risks": self.risks,
            "tests": self.tests_summary,
            "findings": [
                {k: v for k, v in f.as_json().items() if k != "reason" or v} for f in self.findings
            ],
        }


def acknowledged_findings(report: audit.AuditReport, roles: RolesFile) -> dict[str, str]:
    """Finding id -> reason: acknowledgements that count, i.e. those in the intact trail of a
    person who is a practice manager now (editing state.json or another's trail grants
    nothing, and neither does the legacy single trail)."""
    return {
        entry.hashes["finding"]: entry.detail
        for entry in report.counting(roles.holders(PRACTICE_MANAGER), "acknowledge")
        if "finding" in entry.hashes
    }


def workspace_acknowledgements(workspace: Workspace, backend: str) -> dict[str, str]:
    """The acknowledgements that count, for a scan outside a session (the pre-commit hook)."""
    roles = read_roles(workspace)
    report = audit.verify(workspace, simulated=simulated_people(roles, backend))
    return acknowledged_findings(report, roles)


def commit_gate(scanner: Scanner, under: Sequence[str] = ()) -> Callable[[Staged], None]:
    """What sheetstage runs on what it has staged instead of the pre-commit hook: a staged
    file (or file name) with block findings refuses the commit. `under` limits the scan to
    those folders (a deploy's commits: the code it moved; the rest is sheetstage's own,
    masked writing, scanned by every snapshot). Bytes the scanner scanned before (a
    snapshot's gate, while fetching) are not read again."""

    def check(staged: Staged) -> None:
        files = [
            (name, blob)
            for name, blob in staged.files
            if not under or any(name.startswith(f"{folder}/") for folder in under)
        ]
        results: dict[tuple[str, str], ScanResult] = {}
        unread = []
        for name, blob in files:
            found = scanner.scanned(name, blob)
            if found is None:
                unread.append((name, blob))
            else:
                results[(name, blob)] = found
        contents = staged.read([blob for _, blob in unread])
        for (name, blob), data in zip(unread, contents, strict=True):
            results[(name, blob)] = scanner.scan_bytes(data, name)
        for name, blob in files:
            blocking = [f for f in results[(name, blob)].findings if f.severity is Severity.BLOCK]
            if blocking:
                first = blocking[0]
                raise JobFailedError(
                    f"commit refused: {first.path} holds {first.type} {first.excerpt} "
                    f"({len(blocking)} block finding(s)); nothing was committed: remove it "
                    "from the workspace"
                )

    return check


@cache
def _javascript_parser():  # type: ignore[no-untyped-def]
    import tree_sitter
    import tree_sitter_javascript

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


def _parse_problems(files: Sequence[ScriptFile], folder: str) -> list[str]:
    parser = _javascript_parser()
    problems = []
    for f in files:
        if f.type is not FileType.SERVER_JS:
            continue
        tree = parser.parse(f.source.encode("utf-8"))
        if tree.root_node.has_error:
            node = first_error_node(tree.root_node)
            line = node.start_point[0] + 1 if node is not None else 1
            problems.append(f"{folder}/{f.name}.gs:{line}: does not parse as JavaScript")
    return problems


def _manifest_problems(files: Sequence[ScriptFile], folder: str) -> list[str]:
    manifests = [f for f in files if f.type is FileType.JSON]
    if len(manifests) != 1:
        return [f"{folder}: needs exactly one appsscript.json manifest"]
    try:
        manifest = json.loads(manifests[0].source)
    except ValueError as error:
        return [f"{folder}/appsscript.json: not valid JSON ({error})"]
    if not isinstance(manifest, dict):
        return [f"{folder}/appsscript.json: must be a JSON object"]
    problems = [
        f"{folder}/appsscript.json: missing {key}"
        for key in REQUIRED_MANIFEST
        if key not in manifest
    ]
    runtime = manifest.get("runtimeVersion", "V8")
    if runtime not in RUNTIMES:
        problems.append(
            f"{folder}/appsscript.json: runtimeVersion {runtime!r} is not one of {RUNTIMES}"
        )
    logging = manifest.get("exceptionLogging", "NONE")
    if logging not in EXCEPTION_LOGGING:
        problems.append(f"{folder}/appsscript.json: exceptionLogging {logging!r} is not valid")
    scopes = manifest.get("oauthScopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        problems.append(f"{folder}/appsscript.json: oauthScopes must be a list of strings")
    return problems


def _production_id_problems(
    files: Sequence[ScriptFile], folder: str, sheets: Sequence[Sheet]
) -> list[str]:
    production_ids = {}
    for s in sheets:
        production_ids[s.prod_spreadsheet_id] = f"the production spreadsheet id of sheet {s.key}"
        production_ids[s.prod_script_id] = f"the production script id of sheet {s.key}"
    problems = []
    for f in files:
        for number, line in enumerate(f.source.splitlines(), start=1):
            for identifier, what in production_ids.items():
                if identifier in line:
                    problems.append(
                        f"{folder}/{disk_name(f.name, f.type)}:{number}: hard-codes {what}; use "
                        "the DEV3 id (deploys map DEV3 ids to production ids)"
                    )
    return problems


def _scopes(files: Sequence[ScriptFile]) -> set[str]:
    for f in files:
        if f.type is FileType.JSON:
            try:
                scopes = json.loads(f.source).get("oauthScopes", [])
                return {s for s in scopes if isinstance(s, str)}
            except (ValueError, AttributeError):
                return set()
    return set()


def risk_summary(
    production: Sequence[ScriptFile], staging: Sequence[ScriptFile], mapper: IdMapper
) -> dict[str, list[str]]:
    """What the change adds against production: external URLs, e-mail recipients, OAuth
    scopes, and code that logs cell values."""

    def code(files: Sequence[ScriptFile]) -> str:
        return "\n".join(
            mapper.to_production(f.source) for f in files if f.type is not FileType.JSON
        )

    before, after = code(production), code(staging)
    logs_before = {m.group(0) for m in _LOGS_CELLS.finditer(before)}
    return {
        "new_urls": sorted(set(_URL.findall(after)) - set(_URL.findall(before))),
        "new_recipients": sorted(
            {e.lower() for e in _EMAIL_LITERAL.findall(after)}
            - {e.lower() for e in _EMAIL_LITERAL.findall(before)}
        ),
        "new_scopes": sorted(_scopes(staging) - _scopes(production)),
        "logs_cell_values": sorted({m.group(0) for m in _LOGS_CELLS.finditer(after)} - logs_before),
    }


def read_ranges(
    client: GoogleClient, spreadsheet_id: str, ranges: Sequence[str]
) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) per range, in one values.batchGet."""
    answer = client.batch_get_values(spreadsheet_id, [*header_ranges(ranges), *ranges])
    headers, data = answer[: len(ranges)], answer[len(ranges) :]
    return [
        ((header[0] if header else []), rows) for header, rows in zip(headers, data, strict=True)
    ]


def validate_sheet(
    session: Session,
    sheet: Sheet,
    scanner: Scanner,
    state: State,
    mapper: IdMapper,
    acknowledged: dict[str, str],
    *,
    tests: StagingTests = scripttests_job.staging_tests,
    live: tuple[Sequence[ScriptFile], Sequence[ScriptFile]] | None = None,
) -> SheetValidation:
    """Validate the sheet's staging code as the workspace holds it, or `live` (staging,
    production) as a deploy has just read them from Google."""
    workspace, client = session.workspace, session.client
    held_back = state.held_back(sheet, Environment.STAGING)
    if live is not None:
        staging, production = list(live[0]), list(live[1])
        staging_hash = project_hash(staging, Environment.STAGING, mapper)
    else:
        staging = [] if held_back else workspace.read_project(sheet, Environment.STAGING) or []
        production = workspace.read_project(sheet, Environment.PRODUCTION) or []
        staging_hash = state.hash(sheet, Environment.STAGING)
    result = SheetValidation(sheet, PhiStatus.UNSCANNED, staging_hash=staging_hash)
    if not staging and live is None:
        # not in the workspace (the PHI gate held it back, or never snapshotted): read DEV3 live
        try:
            staging = list(files_from_api(client.get_content(sheet.dev3_script_id)))
        except (GoogleApiError, UnsafeFileName) as error:
            result.problems.append(f"staging code not read: {error}")
            return result
        result.staging_hash = project_hash(staging, Environment.STAGING, mapper)
    reference = scanner.reference
    sheet_scanner = scanner
    if sheet.reference_ranges:
        try:
            live = ReferenceSet.starting_from(scanner.key, reference)
            for header, rows in read_ranges(
                client, sheet.prod_spreadsheet_id, sheet.reference_ranges
            ):
                live.add_table(header, rows, session.config.phi)
            sheet_scanner = Scanner(scanner.settings, scanner.key, live)
        except GoogleApiError as error:
            result.problems.append(f"production reference not read: {error.describe()}")
    folder = sheet.folder(Environment.STAGING)
    for f in staging:
        found = sheet_scanner.scan_bytes(
            f.source.encode("utf-8"), f"{folder}/{disk_name(f.name, f.type)}"
        )
        result.findings.extend(found.findings)
    if sheet.reference_ranges:
        try:
            for (header, rows), range_name in zip(
                read_ranges(client, sheet.dev3_spreadsheet_id, sheet.reference_ranges),
                sheet.reference_ranges,
                strict=True,
            ):
                start = _first_row(range_name)
                cells = sheet_scanner.scan_cells(f"DEV3 {range_name}", [header, *rows], start - 1)
                result.findings.extend(cells)
                result.real_data = (result.real_data or 0) + sum(1 for f in cells if _real(f))
        except GoogleApiError as error:
            result.problems.append(f"DEV3 sheet data not read: {error.describe()}")
    result.findings = with_acknowledgements(result.findings, acknowledged)
    result.phi = status_of(result.findings)
    result.problems += _manifest_problems(staging, folder)
    result.problems += _parse_problems(staging, folder)
    result.problems += _production_id_problems(staging, folder, session.registry.sheets)
    result.tests = tests(session, sheet, staging, Environment.STAGING)
    if result.tests is not None and not result.tests.passed:
        result.problems.append(f"staging tests: {result.tests.summary}")
    result.risks = risk_summary(production, staging, mapper)
    return result


def _real(finding: Finding) -> bool:
    """A DEV3 cell that is a production patient's: an identifier of the reference, or a name
    that matches one with another of that patient's identifiers beside it."""
    return finding.type is FindingType.PRODUCTION_MATCH or (
        finding.type is FindingType.NAME and finding.severity is Severity.BLOCK
    )


def _first_row(range_name: str) -> int:
    match = re.search(r"!\D*(\d+)", range_name)
    return int(match.group(1)) if match else 1


def validate(
    session: Session,
    numbers: Sequence[str] | None,
    progress: Callable[[int, int, SheetValidation], None] | None = None,
) -> list[SheetValidation]:
    """Validate sheets, store each result, audit the run and log it to the PHI Checks tab.

    Reading Google and the workspace takes no lock (a long `--all`, paced by the Sheets
    quota, blocks no one); the results are written under the workspace lock at the end."""
    session.require("validate")
    sheets = session.registry.select(numbers)
    workspace, config = session.workspace, session.config
    scanner = scanner_for(config, workspace)
    mapper = IdMapper(session.registry.sheets)
    state = State.load(workspace)
    report = session.verify()
    acknowledged = acknowledged_findings(report, read_roles(workspace))  # once for the run
    results = []
    for sheet in sheets:
        results.append(validate_sheet(session, sheet, scanner, state, mapper, acknowledged))
        if progress is not None:
            progress(len(results), len(sheets), results[-1])
    tally = {s: sum(1 for r in results if r.phi is s) for s in PhiStatus}
    failed = sum(1 for r in results if r.problems)
    detail = (
        f"{len(results)} sheets: {tally[PhiStatus.CLEAN]} clean, "
        f"{tally[PhiStatus.NEEDS_REVIEW]} needs-review, {tally[PhiStatus.BLOCKED]} blocked, "
        f"{failed} with other problems"
    )
    trail = session.trail()
    with workspace.lock(config.git.lock_timeout_s):
        state = State.load(workspace)  # what other runs wrote meanwhile stays
        newly_real = []
        for result in results:
            state.sheet(result.sheet)["validation"] = result.record()
            if _record_test_data(state.sheet(result.sheet), result):
                newly_real.append(result)
        tested = [r.tests for r in results if isinstance(r.tests, scripttests_job.SheetTests)]
        scripttests_job.record_results(state, trail, tested, session.access.user)
        state.save(workspace)
        found = [f for r in results for f in r.findings]
        trail.append(
            "validate",
            sheets=[r.sheet.number for r in results],
            hashes={  # the findings' ids, for `metrics` (PHI false positives)
                str(severity): " ".join(sorted({f.id for f in found if f.severity is severity}))
                for severity in (Severity.REVIEW, Severity.BLOCK)
            },
            result="ok" if all(r.ok for r in results) else "failed",
            detail=detail,
        )
        _audit_inline_allows(trail, results)
        for result in newly_real:
            alerts.raise_alert(
                session,
                "test-data-real",
                result.sheet,
                f"DEV3 sheet {result.sheet.key} holds production patient data "
                f"({result.real_data} cells match the production reference): replace it with "
                f"`sheetstage generate-test-data --sheet {result.sheet.number}`",
            )
        session.commit(f"validate: {detail}", ["state.json"])
    if session.registry.activity_log_spreadsheet_id:
        session.sync_log()
    return results


def _record_test_data(record: dict[str, Any], result: SheetValidation) -> bool:
    """The DEV3 data's status after a validation that read it: `real` when it matches the
    production reference (True when it just became so), a `real` that no longer matches
    is unknown again (`none`); `synthetic` stays while nothing matches."""
    if result.real_data is None:
        return False
    before = record.get("test_data", {})
    was_real = before.get("status") == "real"
    if result.real_data:
        record["test_data"] = {"status": "real", "cells": result.real_data, "time": utc_now()}
        return not was_real
    if was_real:
        record["test_data"] = {"status": "none", "time": utc_now()}
    return False


def _audit_inline_allows(trail: AuditTrail, results: Sequence[SheetValidation]) -> None:
    """Each inline `allow-phi` reason enters the audit trail once (by finding id)."""
    own = [t for t in audit.read_trails(trail.workspace) if t.person == trail.person]
    entries = [e for t in own for e in t.entries()]  # a record no one else can write
    known = {e.hashes.get("finding") for e in entries if e.action == "allow-phi"}
    for result in results:
        for finding in result.findings:
            if finding.allowed_inline and finding.id not in known:
                trail.append(
                    "allow-phi",
                    sheets=[result.sheet.number],
                    hashes={"finding": finding.id},
                    detail=f"{finding.type} at {finding.path}:{finding.line}: "
                    f"{finding.reason[:160]}",
                )
                known.add(finding.id)


def acknowledge(session: Session, number: str, finding_id: str, reason: str) -> Finding:
    """A practice manager acknowledges a review finding of the sheet's last validation."""
    session.require("acknowledge")
    if not reason.strip():
        raise UsageError("acknowledge needs --reason TEXT: say why this is not patient data")
    sheet = session.registry.select([number])[0]
    workspace = session.workspace
    with workspace.lock(session.config.git.lock_timeout_s):
        record = State.load(workspace).data["sheets"].get(sheet.key, {})
        known = [
            *record.get("validation", {}).get("findings", []),
            *record.get("gate", {}).get("findings", []),
        ]
        finding = next((f for f in known if f.get("id") == finding_id), None)
        if finding is None:
            raise UsageError(
                f"no finding {finding_id} in sheet {sheet.key}'s last validation; run "
                f"`sheetstage validate --sheet {sheet.number}` and copy an id from it"
            )
        if finding.get("severity") == "block":
            raise RefusedError(
                f"finding {finding_id} is a block finding ({finding.get('type')}): it cannot be "
                "acknowledged; remove the value from staging"
            )
        session.trail().append(
            "acknowledge",
            sheets=[sheet.number],
            hashes={"finding": finding_id},
            result="ok",
            detail=reason.strip()[:200],
        )
        session.commit(f"acknowledge: finding {finding_id} of sheet {sheet.key}", [])
    session.sync_log()
    return Finding(
        id=finding_id,
        path=str(finding.get("path", "")),
        line=int(finding.get("line", 0)),
        column=0,
        type=FindingType(finding["type"]),
        severity=Severity.REVIEW,
        excerpt=str(finding.get("excerpt", "")),
        acknowledged=True,
        reason=reason.strip(),
    )


def refresh_reference(session: Session) -> int:
    """Read every production sheet's reference ranges (paced under the Sheets quota) and cache
    only HMAC digests of their identifiers."""
    session.require("validate")
    workspace = session.workspace
    reference = ReferenceSet(workspace.hmac_key())
    sheets = [s for s in session.registry.sheets if s.reference_ranges]
    for sheet in sheets:
        for header, rows in read_ranges(
            session.client, sheet.prod_spreadsheet_id, sheet.reference_ranges
        ):
            reference.add_table(header, rows, session.config.phi)
    reference.patients.clear()  # names never leave memory
    reference.save(reference_cache(workspace), len(sheets))
    return len(reference.digests)


def current_findings(workspace: Workspace, sheet: Sheet) -> tuple[str, list[dict[str, object]]]:
    """The masked findings that describe staging now, and which scan they come from."""
    return findings_of(State.load(workspace).data["sheets"].get(sheet.key, {}))


def findings_of(record: dict[str, Any]) -> tuple[str, list[dict[str, object]]]:
    """Of a sheet's state record: of the last validation and the snapshot gate's scan, those
    of the staging code now in the workspace (or held back), the newer one, and a label that
    says which. A validation reads more than the gate (the production reference live, DEV3's
    sheet data), so on a tie, or when the gate's scan has no time, it is the one shown: `i`
    says what `validate` said."""
    staging = record.get("staging", {})
    staging_hash = staging.get("held_back") or staging.get("hash")
    validation, gate = record.get("validation", {}), record.get("gate", {})
    fresh_validation = validation.get("hash") == staging_hash and "findings" in validation
    fresh_gate = gate.get("hash") == staging_hash and "findings" in gate
    validated, scanned = str(validation.get("time", "")), _gate_time(record)
    if fresh_validation and (not fresh_gate or not scanned or validated >= scanned):
        label = f"last validation, {short_time(validated)}" if validated else "last validation"
        if fresh_gate:
            label += " · newer than the snapshot gate's scan"
        return label, list(validation["findings"])
    if fresh_gate:
        label = "snapshot gate's scan" + (f", {short_time(scanned)}" if scanned else "")
        if fresh_validation:
            label += f" · newer than the last validation ({short_time(validated)})"
        elif validation:
            label += " · the last validation was of older code: v validates this"
        else:
            label += " · not validated yet: v also checks names and DEV3 data"
        return label, list(gate["findings"])
    return "not scanned yet: press v", []


def _gate_time(record: dict[str, Any]) -> str:
    """When the snapshot gate scanned the staging code now in the workspace: its own time
    when it records one, else when that code was snapshotted ("" when unknown, as for code
    the gate held back)."""
    gate, staging = record.get("gate", {}), record.get("staging", {})
    if gate.get("time"):
        return str(gate["time"])
    if not staging.get("held_back") and gate.get("hash") == staging.get("hash"):
        return str(staging.get("snapshot_at", ""))
    return ""
