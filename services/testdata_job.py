"""generate-test-data: a synthetic population written to DEV3 spreadsheets in one atomic
`spreadsheets.batchUpdate` each, or to local fixture files (DESIGN.md "Test data").

Per sheet: the header rows of the production target tabs (headers only, one values.batchGet),
the DEV3 spreadsheet's tabs, grids and header rows (one spreadsheets.get), then one write that
replaces the target ranges' values, growing the grid when the rows need it. Nothing is sent
to any spreadsheet id the registry knows as production, checked before the first call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services import testdata
from services.audit import utc_now
from services.emulator import a1
from services.google_client import GoogleApiError
from services.reference import ReferenceSet, header_ranges
from services.registry import Registry
from services.state import State
from services.testdata import Cell, Mappings, TabShape
from services.validation import reference_cache
from sheetstage_tui.errors import RefusedError, UsageError
from sheetstage_tui.models import Sheet

if TYPE_CHECKING:
    from services.google_client import GoogleClient
    from services.session import Session

OVERRIDES = "test-data"  # the workspace folder of per-sheet overrides
_DEV3_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),"
    "data(rowData(values(formattedValue))))"
)
_WORKERS = 8  # sheets in flight at once; the client's pacers keep the calls under quota


@dataclass
class SheetTestData:
    sheet: Sheet
    rows: dict[str, int] = field(default_factory=dict)  # tab -> rows generated
    unmapped: list[str] = field(default_factory=list)  # "Tab: Header"
    problems: list[str] = field(default_factory=list)
    written: bool = False
    files: list[Path] = field(default_factory=list)
    redraws: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.problems:
            return f"sheet {self.sheet.key}: not written: {'; '.join(self.problems)}"
        where = f"{len(self.files)} files" if self.files else "DEV3"
        tabs = ", ".join(f"{tab} {count} rows" for tab, count in self.rows.items())
        return f"sheet {self.sheet.key}: {tabs} -> {where}"

    def as_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet.number,
            "ok": self.ok,
            "written": self.written,
            "rows": self.rows,
            "unmapped": self.unmapped,
            "problems": self.problems,
            "files": [str(f) for f in self.files],
            "redraws": self.redraws,
        }


def targets(sheet: Sheet, mappings: Mappings) -> list[tuple[str, str]]:
    """(tab, data range) of each range to fill: the reference ranges, then the tabs the sheet's
    override lists."""
    found = [(r.rpartition("!")[0].strip("'"), r) for r in sheet.reference_ranges if "!" in r]
    for tab, cells in mappings.tabs.items():
        if tab not in (t for t, _ in found):
            found.append((tab, f"{_quoted(tab)}!{cells}"))
    return found


def _quoted(tab: str) -> str:
    return tab if re.fullmatch(r"[A-Za-z0-9_]+", tab) else "'" + tab.replace("'", "''") + "'"


def refuse_production_targets(registry: Registry, sheets: Sequence[Sheet]) -> None:
    """No DEV3 id of a chosen sheet may be any sheet's production id (a registry mix-up would
    otherwise write test data over patients)."""
    production = {}
    for s in registry.sheets:
        production[s.prod_spreadsheet_id] = s
        production[s.prod_script_id] = s
    for sheet in sheets:
        other = production.get(sheet.dev3_spreadsheet_id)
        if other is not None:
            raise RefusedError(
                f"refusing to write test data: sheet {sheet.key}'s dev3_spreadsheet_id is the "
                f"production spreadsheet of sheet {other.key}; nothing was written: fix "
                "registry.toml"
            )


def generate_test_data(
    session: Session,
    numbers: Sequence[str] | None,
    patients: int | None = None,
    seed: int = 0,
    output: Path | None = None,
    progress: Callable[[int, int, SheetTestData], None] | None = None,
) -> list[SheetTestData]:
    """Fill each sheet's DEV3 target ranges (or write fixture files to `output`); every check
    that needs no call runs before the first call."""
    session.require("generate-test-data")
    settings = session.config.test_data
    patients = settings.patients if patients is None else patients
    if not 1 <= patients <= settings.max_rows:
        raise UsageError(
            f"--patients {patients} is outside 1..{settings.max_rows} ([test_data].max_rows); "
            "ask for fewer patients or raise the maximum in the config"
        )
    if not 0 <= seed < 2**63:
        raise UsageError(f"--seed {seed} must be a whole number from 0 to 2^63-1")
    sheets = session.registry.select(numbers)
    if output is None:
        refuse_production_targets(session.registry, sheets)
    overrides = session.workspace.root / OVERRIDES
    plans = [(s, testdata.mappings_for(overrides, s.number)) for s in sheets]
    plans = [(s, m) for s, m in plans if targets(s, m)]
    if numbers and len(plans) < len(sheets):
        empty = next(s for s in sheets if s not in [p[0] for p in plans])
        raise UsageError(
            f"sheet {empty.key} has no reference_ranges and no tabs in "
            f"{OVERRIDES}/sheet-{empty.number:03d}.toml: nothing to fill; add a [tabs] entry "
            'such as Patients = "A2:F"'
        )
    if output is not None:
        _check_output(output, plans)
    reference = ReferenceSet.load(reference_cache(session.workspace), session.workspace.hmac_key())
    client = session.client
    results: list[SheetTestData] = []
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="sheetstage-testdata") as pool:
        futures = [
            pool.submit(
                _fill_sheet, client, sheet, mappings, patients, seed, reference, session, output
            )
            for sheet, mappings in plans
        ]
        for future in as_completed(futures):
            results.append(future.result())
            if progress is not None:
                progress(len(results), len(plans), results[-1])
    results.sort(key=lambda r: r.sheet.number)
    if output is None and results:
        _record(session, results, patients, seed)
    return results


def _fill_sheet(
    client: GoogleClient,
    sheet: Sheet,
    mappings: Mappings,
    patients: int,
    seed: int,
    reference: ReferenceSet,
    session: Session,
    output: Path | None,
) -> SheetTestData:
    result = SheetTestData(sheet)
    settings = session.config.test_data
    ranges = targets(sheet, mappings)
    try:
        headers = client.batch_get_values(
            sheet.prod_spreadsheet_id, header_ranges([r for _, r in ranges])
        )
    except GoogleApiError as error:
        result.problems.append(f"production headers not read: {error.describe()}")
        return result
    shapes = [
        testdata.shape(tab, data_range, found[0] if found else [], mappings)
        for (tab, data_range), found in zip(ranges, headers, strict=True)
    ]
    for tab in shapes:
        result.unmapped += [f"{tab.tab}: {header}" for header in tab.unmapped]
        problem = tab.problem()
        if not problem and testdata.row_count(tab, patients) > settings.max_rows:
            problem = (
                f"tab {tab.tab} would get {testdata.row_count(tab, patients)} rows, more than "
                f"[test_data].max_rows ({settings.max_rows}); ask for fewer patients"
            )
        if problem:
            result.problems.append(problem)
    if result.problems:
        return result
    population = testdata.generate(
        patients,
        testdata.sheet_seed(seed, sheet.number),
        settings.as_of,
        reference,
        session.config.phi.name_ratio,
    )
    result.redraws = population.redraws
    rows = {tab.tab: testdata.rows_for(tab, population) for tab in shapes}
    result.rows = {tab: len(found) for tab, found in rows.items()}
    if output is not None:
        result.files = _write_fixtures(output, sheet, shapes, rows)
        return result
    try:
        dev3 = client.get_spreadsheet(
            sheet.dev3_spreadsheet_id,
            ranges=header_ranges([r for _, r in ranges]),
            fields=_DEV3_FIELDS,
        )
        requests = _requests(shapes, rows, dev3, mappings, result.problems)
        if result.problems:
            return result
        client.batch_update_spreadsheet(sheet.dev3_spreadsheet_id, requests)
    except GoogleApiError as error:
        result.problems.append(f"DEV3 not written: {error.describe()}")
        return result
    result.written = True
    return result


def _requests(
    shapes: Sequence[TabShape],
    rows: dict[str, list[list[Cell]]],
    dev3: dict[str, Any],
    mappings: Mappings,
    problems: list[str],
) -> list[dict[str, Any]]:
    """appendDimension where the grid is too small, then updateCells replacing each target
    range (cells below the new rows are cleared: Google clears what `rows` leave out of
    `range`); the DEV3 header row is written only where it is empty."""
    tabs = {s["properties"]["title"]: s for s in dev3.get("sheets", [])}
    requests: list[dict[str, Any]] = []
    for tab in shapes:
        found = tabs.get(tab.tab)
        if found is None:
            problems.append(f"the DEV3 spreadsheet has no tab {tab.tab}; add it and run again")
            continue
        properties = found["properties"]
        sheet_id = int(properties.get("sheetId", 0))
        grid = properties.get("gridProperties", {})
        first_row, first_col = _start_of(tab.data_range)
        width = len(tab.headers)
        dev3_header = _header_row(found)
        wanted = [mappings.normalize(h) for h in tab.headers]
        have = [mappings.normalize(h) for h in dev3_header[:width]]
        have += [""] * (width - len(have))
        if any(have) and have != wanted:
            column = next(i for i, (a, b) in enumerate(zip(have, wanted, strict=True)) if a != b)
            letter = a1.column_letters(first_col + column)
            problems.append(
                f"tab {tab.tab}: DEV3's header row differs from production's at column "
                f"{letter} ({dev3_header[column] if column < len(dev3_header) else ''!r} in "
                f"DEV3); the rows would not line up: make DEV3's headers match production's"
            )
            continue
        data = rows[tab.tab]
        rows_needed = first_row + len(data) - int(grid.get("rowCount", 0))
        columns_needed = first_col + width - int(grid.get("columnCount", 0))
        for dimension, missing in (("ROWS", rows_needed), ("COLUMNS", columns_needed)):
            if missing > 0:
                requests.append(
                    {
                        "appendDimension": {
                            "sheetId": sheet_id,
                            "dimension": dimension,
                            "length": missing,
                        }
                    }
                )
        if not any(have):
            requests.append(_update_start(sheet_id, first_row - 1, first_col, [list(tab.headers)]))
        requests.append(
            {
                "updateCells": {
                    "range": {
                        "sheetId": sheet_id,
                        "startRowIndex": first_row,
                        "endRowIndex": max(int(grid.get("rowCount", 0)), first_row + len(data)),
                        "startColumnIndex": first_col,
                        "endColumnIndex": first_col + width,
                    },
                    "rows": [_row_data(row) for row in data],
                    "fields": "userEnteredValue",
                }
            }
        )
    return requests


def _update_start(sheet_id: int, row: int, column: int, values: list[list[Cell]]) -> dict[str, Any]:
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column},
            "rows": [_row_data(r) for r in values],
            "fields": "userEnteredValue",
        }
    }


def _row_data(row: Sequence[Cell]) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    for value in row:
        if value == "":
            cells.append({})
        elif isinstance(value, int | float):
            cells.append({"userEnteredValue": {"numberValue": value}})
        else:
            cells.append({"userEnteredValue": {"stringValue": str(value)}})
    return {"values": cells}


def _header_row(found: dict[str, Any]) -> list[str]:
    for block in found.get("data", []):
        for row in block.get("rowData", [])[:1]:
            return [str(c.get("formattedValue", "")) for c in row.get("values", [])]
    return []


def _start_of(data_range: str) -> tuple[int, int]:
    """(0-based row, column) where a data range starts: `Patients!A2:F` -> (1, 0)."""
    cells = data_range.rpartition("!")[2]
    match = re.match(r"([A-Z]+)(\d*)", cells)
    if not match:
        return 1, 0
    return int(match.group(2) or 2) - 1, a1.column_index(match.group(1))


# local fixtures ------------------------------------------------------------------------------


def _check_output(output: Path, plans: Sequence[tuple[Sheet, Mappings]]) -> None:
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file, not a folder; name a folder")
    for sheet, mappings in plans:
        for tab, _ in targets(sheet, mappings):
            for name in testdata.fixture_names(sheet.number, tab):
                if (output / name).exists():
                    raise UsageError(
                        f"--output: {output / name} exists; nothing was written: remove it or "
                        "name another folder"
                    )


def _write_fixtures(
    output: Path,
    sheet: Sheet,
    shapes: Sequence[TabShape],
    rows: dict[str, list[list[Cell]]],
) -> list[Path]:
    """One CSV and one JSON file per tab, each complete or absent, never over another file."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for tab in shapes:
        csv_name, json_name = testdata.fixture_names(sheet.number, tab.tab)
        for name, text in (
            (csv_name, testdata.as_csv(tab, rows[tab.tab])),
            (json_name, testdata.as_json(tab, rows[tab.tab])),
        ):
            written.append(_create_new(output / name, text.encode("utf-8")))
    return written


def _create_new(path: Path, data: bytes) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails when the name exists: nothing is overwritten
        except FileExistsError:
            raise UsageError(
                f"--output: {path} appeared meanwhile; it was left as it is: remove it or "
                "name another folder"
            ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


# the record ----------------------------------------------------------------------------------


def _record(session: Session, results: Sequence[SheetTestData], patients: int, seed: int) -> None:
    """state.json's test-data status, one trail entry for the run, the activity log."""
    written = [r for r in results if r.written]
    failed = [r for r in results if not r.ok]
    workspace = session.workspace
    when = utc_now()
    with workspace.lock(session.config.git.lock_timeout_s):
        state = State.load(workspace)
        for result in written:
            state.sheet(result.sheet)["test_data"] = {
                "status": "synthetic",
                "seed": seed,
                "patients": patients,
                "rows": result.rows,
                "time": when,
                "by": session.access.user,
            }
        state.save(workspace)
        detail = f"seed {seed}, {patients} patients: {len(written)} sheets written" + (
            f", {len(failed)} failed" if failed else ""
        )
        session.trail().append(
            "generate-test-data",
            sheets=[r.sheet.number for r in results],
            result="failed" if failed else "ok",
            detail=detail,
        )
        session.commit(f"generate-test-data: {detail}", ["state.json"])
    if session.registry.activity_log_spreadsheet_id:
        session.sync_log()
