"""generate-test-data: a synthetic population written to DEV3 spreadsheets in one atomic
`spreadsheets.batchUpdate` each, or to local fixture files (DESIGN.md "Test data").

Per sheet: the DEV3 target tabs' sheet ids, grids and header rows (one spreadsheets.get), the
rows are shaped by those headers, which are the ones they land under; a DEV3 tab that has no
header row yet takes production's (one values.batchGet of header rows only, never data), and
gets it written too. Then one write replaces the target ranges' values, growing the grid when
the rows need it. Nothing is sent to any spreadsheet id the registry knows as production,
checked before the first call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services import testdata
from services.audit import utc_now
from services.emulator import a1
from services.errors import RefusedError, SheetstageError, UsageError
from services.google_client import GoogleApiError
from services.models import Sheet
from services.phi import Scanner, record_words
from services.reference import header_ranges
from services.registry import Registry
from services.scanning import scanner_for
from services.state import State
from services.testdata import Cell, Entity, Mappings, TabShape

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
    reference_checked: bool = True  # False: no production reference was cached to check

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.problems:
            return f"sheet {self.sheet.key}: not written: {'; '.join(self.problems)}"
        where = f"{len(self.files)} files" if self.files else "DEV3"
        tabs = ", ".join(
            f"{tab} {count} row{'s' if count != 1 else ''}" for tab, count in self.rows.items()
        )
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
    override lists (an override of a reference range's tab says where its data is)."""
    found = {a1.parse(r).tab: r for r in sheet.reference_ranges if "!" in r}
    for tab, cells in mappings.tabs.items():
        found[tab] = f"{_quoted(tab)}!{cells}"
    return list(found.items())


def _quoted(tab: str) -> str:
    return tab if re.fullmatch(r"[A-Za-z0-9_]+", tab) else "'" + tab.replace("'", "''") + "'"


def refuse_production_targets(registry: Registry, sheets: Sequence[Sheet]) -> None:
    """No DEV3 id of a chosen sheet may be any sheet's production id (a registry mix-up would
    otherwise write test data over patients)."""
    production: dict[str, Sheet] = {}
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
    for sheet, mappings in plans:
        for _, data_range in targets(sheet, mappings):
            if a1.parse(data_range).first_row == 0:
                raise UsageError(
                    f"sheet {sheet.key}: the data range {data_range} starts at row 1, where its "
                    "header row must be; start it at row 2 (e.g. A2:F)"
                )
    if output is not None:
        _check_output(output, plans)
    run = _Run(session, scanner_for(session.config, session.workspace), patients, seed, output)
    session.client  # noqa: B018 - the backend opens here, before the workers share it
    recorder = _Recorder(session, patients, seed)
    results: list[SheetTestData] = []
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="sheetstage-testdata") as pool:
        futures = [pool.submit(_fill_sheet, run, sheet, mappings) for sheet, mappings in plans]
        pending: set[Future[SheetTestData]] = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                finished = sorted((f.result() for f in done), key=lambda r: r.sheet.number)
                if output is None:
                    recorder.record(finished)  # each sheet as soon as it is done
                for result in finished:
                    results.append(result)
                    if progress is not None:
                        progress(len(results), len(plans), result)
        except BaseException:
            for future in futures:  # a bug or Ctrl-C: start no other sheet
                future.cancel()
            raise
    results.sort(key=lambda r: r.sheet.number)
    if output is None and results:
        _commit(session, results, patients, seed)
    return results


@dataclass(frozen=True)
class _Grid:
    """A DEV3 tab as spreadsheets.get describes it."""

    sheet_id: int
    rows: int
    columns: int
    header: list[str]


@dataclass(frozen=True)
class _Run:
    """What every sheet of one run shares."""

    session: Session
    scanner: Scanner
    patients: int
    seed: int
    output: Path | None


def _fill_sheet(run: _Run, sheet: Sheet, mappings: Mappings) -> SheetTestData:
    """One sheet, start to end; whatever stops it is that sheet's problem, not the run's."""
    result = SheetTestData(sheet, reference_checked=bool(run.scanner.reference))
    try:
        _fill(run, result, mappings)
    except GoogleApiError as error:
        result.problems.append(f"Google refused: {error.describe()}")
    except (SheetstageError, OSError) as error:
        result.problems.append(str(error))
    return result


def _fill(run: _Run, result: SheetTestData, mappings: Mappings) -> None:
    session, scanner, patients, output = run.session, run.scanner, run.patients, run.output
    client = session.client
    sheet, settings = result.sheet, session.config.test_data
    ranges = targets(sheet, mappings)
    try:
        grids = _dev3_grids(client, sheet, [r for _, r in ranges])
    except GoogleApiError as error:
        result.problems.append(_unread(error))
        return
    absent = [tab for tab, _ in ranges if tab not in grids]
    if absent:
        result.problems.append(f"the DEV3 spreadsheet did not describe tab {absent[0]}")
        return
    # a DEV3 tab without a header row yet takes production's (headers only, never rows)
    bare = [(tab, r) for tab, r in ranges if not any(grids[tab].header)]
    found = (
        client.batch_get_values(sheet.prod_spreadsheet_id, header_ranges([r for _, r in bare]))
        if bare
        else []
    )
    from_production = {
        tab: (rows[0] if rows else []) for (tab, _), rows in zip(bare, found, strict=True)
    }
    headers = {tab: from_production.get(tab, grids[tab].header) for tab, _ in ranges}
    for tab, row in headers.items():
        looks_like_data = _data_in_header(scanner, row)
        if looks_like_data:
            result.problems.append(
                f"tab {tab}: its header row holds {looks_like_data}, a row of data, not column "
                "titles: put the titles back in the row above the data range"
            )
    if result.problems:
        return  # nothing of such a row is echoed anywhere
    shapes = [testdata.shape(tab, data_range, headers[tab], mappings) for tab, data_range in ranges]
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
        return
    visit_rows = [testdata.row_count(t, patients) for t in shapes if t.entity is Entity.VISIT]
    population = testdata.generate(
        patients,
        testdata.sheet_seed(run.seed, sheet.number),
        settings.as_of,
        scanner.reference,
        session.config.phi.name_ratio,
        context_words=record_words(" ".join(h for tab in shapes for h in tab.headers)),
        visits=max(visit_rows, default=0),
    )
    result.redraws = population.redraws
    rows = {tab.tab: testdata.rows_for(tab, population) for tab in shapes}
    result.rows = {tab: len(found) for tab, found in rows.items()}
    if output is not None:
        result.files = _write_fixtures(output, sheet, shapes, rows)
        return
    requests = _requests(shapes, rows, grids, set(from_production))
    client.batch_update_spreadsheet(sheet.dev3_spreadsheet_id, requests)
    result.written = True


def _data_in_header(scanner: Scanner, header: Sequence[str]) -> str:
    """What makes a header row a row of data (an identifier in a cell), masked; "" if none."""
    for cell in header:
        for hit in scanner.hits(str(cell), block_only=False):
            return f"a value like {hit.excerpt} ({hit.type})"
    return ""


def _dev3_grids(client: GoogleClient, sheet: Sheet, data_ranges: Sequence[str]) -> dict[str, _Grid]:
    """Each target tab's sheetId, grid size and header row, in one spreadsheets.get."""
    answer = client.get_spreadsheet(
        sheet.dev3_spreadsheet_id, ranges=header_ranges(data_ranges), fields=_DEV3_FIELDS
    )
    grids: dict[str, _Grid] = {}
    for found in answer.get("sheets", []):
        properties = found.get("properties", {})
        size = properties.get("gridProperties", {})
        grids[str(properties.get("title", ""))] = _Grid(
            int(properties.get("sheetId", 0)),
            int(size.get("rowCount", 0)),
            int(size.get("columnCount", 0)),
            _header_row(found),
        )
    return grids


def _unread(error: GoogleApiError) -> str:
    if "Unable to parse range" in error.message:
        tab = error.message.rpartition(": ")[2].rpartition("!")[0].strip("'")
        return (
            f"the DEV3 spreadsheet has no tab {tab}: add it, or take it out of reference_ranges "
            f"or the sheet's {OVERRIDES}/ override"
        )
    return f"not read: {error.describe()}"


def _requests(
    shapes: Sequence[TabShape],
    rows: dict[str, list[list[Cell]]],
    grids: dict[str, _Grid],
    header_from_production: set[str],
) -> list[dict[str, Any]]:
    """appendDimension where the grid is too small, then updateCells replacing each target
    range (cells below the new rows are cleared: Google clears what `rows` leave out of
    `range`); a header row taken from production is written above its rows."""
    requests: list[dict[str, Any]] = []
    for tab in shapes:
        grid = grids[tab.tab]
        first_row, first_col = _start_of(tab.data_range)
        width = len(tab.headers)
        data = rows[tab.tab]
        for dimension, missing in (
            ("ROWS", first_row + len(data) - grid.rows),
            ("COLUMNS", first_col + width - grid.columns),
        ):
            if missing > 0:
                requests.append(
                    {
                        "appendDimension": {
                            "sheetId": grid.sheet_id,
                            "dimension": dimension,
                            "length": missing,
                        }
                    }
                )
        if tab.tab in header_from_production:
            requests.append(
                _update_start(grid.sheet_id, first_row - 1, first_col, [list(tab.headers)])
            )
        requests.append(
            {
                "updateCells": {
                    "range": {
                        "sheetId": grid.sheet_id,
                        "startRowIndex": first_row,
                        "endRowIndex": max(grid.rows, first_row + len(data)),
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
    cells = a1.parse(data_range)
    return cells.first_row, cells.first_col


# local fixtures ------------------------------------------------------------------------------


def _check_output(output: Path, plans: Sequence[tuple[Sheet, Mappings]]) -> None:
    """The folder exists (made if need be) and is writable, and no file would be overwritten:
    all before the first call."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"--output {output}: cannot make that folder ({error.strerror}); name a folder you "
            "can write"
        ) from None
    if not os.access(output, os.W_OK | os.X_OK):
        raise UsageError(f"--output {output}: you cannot write there; name another folder")
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
    written: list[Path] = []
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


class _Recorder:
    """Each sheet's outcome in state.json and the trail as soon as it is known (a run killed
    later leaves every sheet it wrote recorded): the sheets that finished together in one
    write of state.json, then a trail line each. The state is kept from one write to the next
    and read again only when state.json is no longer the file this run wrote (another command
    wrote it meanwhile, under the workspace lock)."""

    def __init__(self, session: Session, patients: int, seed: int) -> None:
        self.session = session
        self.patients = patients
        self.seed = seed
        self._state: State | None = None
        self._written: tuple[int, ...] | None = None  # state.json as this run left it

    def record(self, results: Sequence[SheetTestData]) -> None:
        session, workspace = self.session, self.session.workspace
        with workspace.lock(session.config.git.lock_timeout_s):
            written = [r for r in results if r.written]
            if written:
                state = self._current()
                for result in written:
                    state.sheet(result.sheet)["test_data"] = {
                        "status": "synthetic",
                        "seed": self.seed,
                        "patients": self.patients,
                        "rows": result.rows,
                        "time": utc_now(),
                        "by": session.access.user,
                    }
                state.save(workspace)
                self._written = _identity(workspace.state_path)
            trail = session.trail()
            for result in results:
                trail.append(
                    "generate-test-data",
                    sheets=[result.sheet.number],
                    result="ok" if result.written else "failed",
                    detail=self._detail(result)[:300],
                )

    def _current(self) -> State:
        path = self.session.workspace.state_path
        if self._state is None or self._written is None or _identity(path) != self._written:
            self._state = State.load(self.session.workspace)
        return self._state

    def _detail(self, result: SheetTestData) -> str:
        if not result.written:
            return "not written: " + "; ".join(result.problems)
        return f"seed {self.seed}, {self.patients} patients: " + ", ".join(
            f"{tab} {count} rows" for tab, count in result.rows.items()
        )


def _identity(path: Path) -> tuple[int, ...] | None:
    """Which file `path` is, and as what it was last written (None when there is none)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _commit(session: Session, results: Sequence[SheetTestData], patients: int, seed: int) -> None:
    """The run's records in one commit, then the activity log's Test Data rows."""
    written = sum(1 for r in results if r.written)
    failed = sum(1 for r in results if not r.ok)
    summary = f"seed {seed}, {patients} patients: {written} sheets written" + (
        f", {failed} failed" if failed else ""
    )
    with session.workspace.lock(session.config.git.lock_timeout_s):
        session.commit(f"generate-test-data: {summary}", ["state.json"])
    if session.registry.activity_log_spreadsheet_id:
        session.sync_log()
