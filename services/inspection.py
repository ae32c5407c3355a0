"""Code as people see it: masked, and for a project the PHI gate held back, read live.

A project with `block` findings never reaches the workspace (DESIGN "PHI rules"), so the
developer who has to fix it cannot find the line in a diff. Here its code is read from Google
on demand, scanned, and masked before anything shows it; it lives in memory only and is never
written to disk or git. The same masking serves every code view (DESIGN: everything the TUI
displays, the diff view included, shows findings masked)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.audit import utc_now
from services.config import Config
from services.diff import SheetDiff, diff_projects
from services.errors import JobFailedError, UsageError
from services.google_client import GoogleApiError
from services.models import Environment, FileType, ScriptFile, Sheet
from services.phi import Finding, Scanner, with_acknowledgements
from services.reference import ReferenceSet
from services.registry import IdMapper
from services.scanning import scanner_for
from services.snapshot import files_from_api, project_hash
from services.state import State
from services.validation import (
    findings_of,
    read_ranges,
    risk_summary,
    workspace_acknowledgements,
)
from services.workspace import UnsafeFileName, Workspace, disk_name

if TYPE_CHECKING:
    from services.session import Session

_EXTENSIONS = {FileType.SERVER_JS: ".gs", FileType.HTML: ".html"}
_WORD = re.compile(r"[^\W_]")
_MAYBE = re.compile(r"[\d@]")


# masking ---------------------------------------------------------------------------------------


def _blank(text: str) -> str:
    """Letters and digits become `*`; separators stay (a value whose kind is unknown)."""
    return _WORD.sub("*", text)


def mask_line(scanner: Scanner, text: str, columns: Iterable[int] = ()) -> str:
    """One line with every identifier the scanner finds in it masked. `columns` (1-based)
    are where findings start that the line's own scan may not see (a name matched against a
    production reference no longer at hand, a JSON value found under its key): from each such
    column not already masked to the end of the line, everything is masked; an unknown column
    (0) masks the whole line."""
    hits = scanner.hits(text) if _MAYBE.search(text) else []  # what hits() needs to start
    hits += scanner.name_hits(text, text)
    spans = [(hit.start, hit.end, hit.excerpt) for hit in hits]
    for column in columns:
        start = column - 1 if 0 < column <= len(text) else 0
        if not any(s <= start < e for s, e, _ in spans):
            spans.append((start, len(text), _blank(text[start:])))
    pieces, cursor = [], 0
    for start, end, shown in sorted(spans):
        if end <= cursor:
            continue
        if start < cursor:  # overlaps what is masked already: mask the rest of it
            start, shown = cursor, _blank(text[cursor:end])
        pieces += [text[cursor:start], shown]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def mask_source(scanner: Scanner, source: str, columns: dict[int, list[int]] | None = None) -> str:
    """A file's text masked line by line (lines numbered as the scanner numbers them, line
    endings kept); `columns` maps a line to findings' columns (see `mask_line`)."""
    columns = columns or {}
    out = []
    for number, chunk in enumerate(source.split("\n"), start=1):  # as physical_lines numbers
        body = chunk[:-1] if chunk.endswith("\r") else chunk
        out.append(mask_line(scanner, body, columns.get(number, ())) + chunk[len(body) :])
    return "\n".join(out)


def _shown_name(scanner: Scanner, folder: str, file: ScriptFile) -> str:
    """The file's Apps Script name as a screen may show it: masked whole where it holds PHI."""
    path = f"{folder}/{disk_name(file.name, file.type)}"
    shown = scanner.scan_name(path)[0]
    if shown == path:
        return str(file.name)
    return shown.removeprefix(f"{folder}/").removesuffix(_EXTENSIONS.get(file.type, ".json"))


def masked_files(
    scanner: Scanner,
    folder: str,
    files: Sequence[ScriptFile],
    also: Sequence[dict[str, Any]] = (),
) -> tuple[list[ScriptFile], list[Finding]]:
    """A project's files with names and contents masked, and the scan that masked them.
    `also` are findings recorded earlier for this content (state.json's masked dicts): where
    this scan does not report one of them (by id, or by line and masked value), its place is
    masked too."""
    findings: list[Finding] = []
    shown_files = []
    for file in files:
        path = f"{folder}/{disk_name(file.name, file.type)}"
        found = scanner.scan_bytes(file.source.encode("utf-8"), path).findings
        findings.extend(found)
        paths = {path, scanner.scan_name(path)[0]}  # findings name a file masked
        known = {f.id for f in found} | {(f.line, f.excerpt) for f in found}
        columns: dict[int, list[int]] = {}
        for f in found:
            columns.setdefault(f.line, []).append(f.column)
        for entry in also:
            line, column = int(entry.get("line") or 0), int(entry.get("column") or 0)
            seen = entry.get("id") in known or (line, entry.get("excerpt")) in known
            if entry.get("path") in paths and not seen:
                columns.setdefault(line, []).append(column)
        source = mask_source(scanner, file.source, columns)
        shown_files.append(ScriptFile(_shown_name(scanner, folder, file), file.type, source))
    return shown_files, findings


# what a diff or a findings list shows ------------------------------------------------------------


@dataclass(frozen=True)
class LiveCode:
    """A project read live because the PHI gate held it back: masked, in memory only."""

    env: Environment
    read_at: str  # UTC
    current: bool  # the same code the gate held back (False: it changed since)
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class FindingsView:
    """A sheet's staging findings, where they come from, and the masked line of code each
    points at ((finding path, line) -> line)."""

    source: str
    findings: list[dict[str, object]]
    lines: dict[tuple[str, int], str] = field(default_factory=dict)
    live: tuple[LiveCode, ...] = ()


@dataclass(frozen=True)
class SheetView:
    """One sheet's code as the diff and findings screens show it, masked."""

    diff: SheetDiff
    risks: dict[str, list[str]]
    findings: FindingsView
    live: tuple[LiveCode, ...] = ()


def _lines_of(files: Sequence[ScriptFile], folder: str) -> dict[tuple[str, int], str]:
    out = {}
    for file in files:
        path = f"{folder}/{disk_name(file.name, file.type)}"
        for number, line in enumerate(file.source.splitlines(), start=1):
            out[(path, number)] = line
    return out


def _snapshotted(workspace: Workspace, sheet: Sheet, env: Environment) -> list[ScriptFile]:
    files = workspace.read_project(sheet, env)
    if files is None:
        raise UsageError(
            f"sheet {sheet.key} has no {env} snapshot yet; snapshot it first "
            f"(`sheetstage snapshot --sheet {sheet.number}`, or s in the sheet list)"
        )
    return files


def _record(workspace: Workspace, sheet: Sheet) -> dict[str, Any]:
    return State.load(workspace).data["sheets"].get(sheet.key, {})


def _held_back(record: dict[str, Any]) -> bool:
    return any(record.get(str(env), {}).get("held_back") for env in Environment)


def workspace_view(
    workspace: Workspace, config: Config, sheet: Sheet, mapper: IdMapper
) -> SheetView | None:
    """The snapshotted code (no network), masked, with the staging findings recorded for it;
    None when the PHI gate held back the newest code of either side (`inspect` reads it)."""
    record = _record(workspace, sheet)
    if _held_back(record):
        return None
    production = _snapshotted(workspace, sheet, Environment.PRODUCTION)
    staging = _snapshotted(workspace, sheet, Environment.STAGING)
    source, findings = findings_of(record)
    scanner = scanner_for(config, workspace)
    folder = sheet.folder(Environment.STAGING)
    shown_production, _ = masked_files(scanner, sheet.folder(Environment.PRODUCTION), production)
    shown_staging, _ = masked_files(scanner, folder, staging, findings)
    return SheetView(
        diff=diff_projects(sheet, shown_production, shown_staging, mapper),
        risks=risk_summary(shown_production, shown_staging, mapper),
        findings=FindingsView(source, findings, _lines_of(shown_staging, folder)),
    )


def workspace_findings(workspace: Workspace, config: Config, sheet: Sheet) -> FindingsView | None:
    """The staging findings recorded for the snapshotted code, with the masked line each
    points at; None when the PHI gate held back the newest staging code (`inspect` reads it)."""
    record = _record(workspace, sheet)
    if record.get(str(Environment.STAGING), {}).get("held_back"):
        return None
    source, findings = findings_of(record)
    staging = workspace.read_project(sheet, Environment.STAGING)
    if not staging or not findings:
        return FindingsView(source, findings)
    folder = sheet.folder(Environment.STAGING)
    shown, _ = masked_files(scanner_for(config, workspace), folder, staging, findings)
    return FindingsView(source, findings, _lines_of(shown, folder))


def _live_scanner(session: Session, sheet: Sheet) -> Scanner:
    """The cached reference, plus this sheet's production reference read live (as validation
    reads it) when the sheet names its ranges, so names of patients are found too."""
    scanner = scanner_for(session.config, session.workspace)
    if not sheet.reference_ranges:
        return scanner
    cached = scanner.reference
    live = ReferenceSet.starting_from(scanner.key, cached)
    try:
        for header, rows in read_ranges(
            session.client, sheet.prod_spreadsheet_id, sheet.reference_ranges
        ):
            live.add_table(header, rows, session.config.phi)
    except GoogleApiError:
        return scanner  # the recorded findings still mask what this one cannot see
    return Scanner(scanner.settings, scanner.key, live)


def _read_live(session: Session, sheet: Sheet, env: Environment) -> list[ScriptFile]:
    try:
        return list(files_from_api(session.client.get_content(sheet.script_id(env))))
    except GoogleApiError as error:
        raise JobFailedError(
            f"the live {env_name(env)} code of sheet {sheet.key} was not read: {error.describe()}"
        ) from None
    except UnsafeFileName as error:
        raise JobFailedError(
            f"the live {env_name(env)} code of sheet {sheet.key} is refused: {error}"
        ) from None


def env_name(env: Environment) -> str:
    return "DEV3" if env is Environment.STAGING else "production"


def inspect(session: Session, sheet: Sheet, mapper: IdMapper) -> SheetView:
    """The code the PHI gate held back, read live from Google now, masked, never stored; the
    other side as the workspace holds it. The findings are this scan's (what a validation
    found in DEV3's sheet data is kept beside them)."""
    workspace = session.workspace
    record = _record(workspace, sheet)
    scanner = _live_scanner(session, sheet)
    acknowledged = workspace_acknowledgements(workspace, session.config.backend)
    source, recorded = findings_of(record)
    sides: dict[Environment, list[ScriptFile]] = {}
    live: list[LiveCode] = []
    for env in Environment:
        held = record.get(str(env), {}).get("held_back")
        if not held:
            files = _snapshotted(workspace, sheet, env)
            sides[env] = masked_files(scanner, sheet.folder(env), files)[0]
            continue
        files = _read_live(session, sheet, env)
        current = project_hash(files, env, mapper) == held
        gate = record.get("gate" if env is Environment.STAGING else "gate_production", {})
        also = [*(gate.get("findings", []) if gate.get("hash") == held else []), *recorded]
        also = also if current else []  # recorded line numbers fit this code only
        sides[env], found = masked_files(scanner, sheet.folder(env), files, also)
        found = with_acknowledgements(found, acknowledged)
        live.append(LiveCode(env, utc_now(), current, tuple(found)))
    production, staging = sides[Environment.PRODUCTION], sides[Environment.STAGING]
    folder = sheet.folder(Environment.STAGING)
    findings: list[dict[str, object]] = recorded
    staging_live = [c for c in live if c.env is Environment.STAGING]
    if staging_live:
        findings = [f.as_json() for f in staging_live[0].findings]
        findings += [f for f in recorded if not str(f.get("path", "")).startswith(f"{folder}/")]
        source = "a scan of the live DEV3 code, just now"
    return SheetView(
        diff=diff_projects(sheet, production, staging, mapper),
        risks=risk_summary(production, staging, mapper),
        findings=FindingsView(source, findings, _lines_of(staging, folder), tuple(live)),
        live=tuple(live),
    )
