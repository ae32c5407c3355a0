"""Staging tests against Google: the code (live DEV3, or what production reads back), the
DEV3 values it may read (each spreadsheet read once per run through the Sheets API), the run in
V8 (services/scripttests.py), and its record: state.json, the trail, the activity log, JUnit."""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.audit import AuditTrail, utc_now
from services.errors import UsageError
from services.google_client import GoogleApiError
from services.models import Environment, FileType, ScriptFile, Sheet
from services.phi import Scanner
from services.registry import IdMapper
from services.scanning import scanner_for
from services.scripttests import (
    Fixture,
    Limits,
    ProjectTests,
    Workbook,
    is_test_file,
    run_project,
    start_engine,
)
from services.snapshot import files_from_api, project_hash
from services.state import State
from services.workspace import UnsafeFileName, atomic_write, disk_name

if TYPE_CHECKING:
    from services.google_client import GoogleClient
    from services.session import Session

# what the tests may read of a spreadsheet: every tab's values, typed, dates told apart
SPREADSHEET_FIELDS = (
    "properties(title,timeZone),sheets(properties(title,sheetId,gridProperties(rowCount,"
    "columnCount)),data(rowData(values(effectiveValue,effectiveFormat/numberFormat/type))))"
)
_ID_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}")
_DATE_TYPES = {"DATE", "DATE_TIME", "TIME"}
_SHEETS_EPOCH = datetime.datetime(1899, 12, 30)
READERS = 16  # sheets whose code and data are read at once
MAX_TEXT = 1000  # a message, a problem (after masking)
MAX_LINE = 300  # a log line
MAX_NAME = 200  # a test's or file's name


@dataclass
class SheetTests:
    """One sheet's staging tests on one version of its code."""

    __test__ = False

    sheet: Sheet
    env: Environment
    hash: str  # the content hash of the code tested (staging: in production ids, as S)
    run: ProjectTests | None = None  # None: the project has no tests, or they could not run
    error: str = ""  # why they could not run

    @property
    def has_tests(self) -> bool:
        return self.run is not None

    @property
    def passed(self) -> bool:
        return not self.error and (self.run is None or self.run.passed)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.run is None:
            return "none"
        return "passed" if self.run.passed else "failed"

    @property
    def summary(self) -> str:
        if self.error:
            return f"not run: {self.error}"
        return self.run.summary if self.run is not None else "no staging tests"

    def record(self, by: str) -> dict[str, Any]:
        """What state.json keeps (messages already masked)."""
        run = self.run
        return {
            "status": self.status,
            "hash": self.hash,
            "env": str(self.env),
            "time": utc_now(),
            "by": by,
            "summary": self.summary,
            "counts": {s: run.count(s) for s in ("passed", "failed", "error")} if run else {},
            "problems": run.problems if run else ([self.error] if self.error else []),
            "results": [
                {k: v for k, v in r.as_json().items() if k != "output" or not r.passed}
                for r in (run.results if run else [])
            ],
            "seconds": round(run.seconds, 3) if run else 0,
        }

    def as_json(self) -> dict[str, Any]:
        record = self.record("")
        del record["by"]
        return {"sheet": self.sheet.number, "name": self.sheet.name, **record}


class DataReader:
    """DEV3 values for the tests of one run: each spreadsheet read once, on first use, shared
    by the sheets (and threads) that read it. A production id opens its DEV3 copy."""

    def __init__(
        self, client: GoogleClient, sheets: Sequence[Sheet], mapper: IdMapper | None = None
    ) -> None:
        self.client = client
        self.mapper = mapper or IdMapper(sheets)  # once a run: it is not cheap (3 ms)
        self.aliases: dict[str, str] = {}
        for sheet in sheets:
            self.aliases[sheet.prod_spreadsheet_id] = sheet.dev3_spreadsheet_id
            self.aliases[sheet.dev3_spreadsheet_id] = sheet.dev3_spreadsheet_id
        self._books: dict[str, Workbook] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def fixture(
        self, sheet: Sheet, files: Sequence[ScriptFile], env: Environment, user: str
    ) -> Fixture:
        """The sheet's DEV3 spreadsheet and every registered spreadsheet its code names."""
        code = "\n".join(f.source for f in files if f.type is FileType.SERVER_JS)
        named = {self.aliases[t] for t in _ID_TOKEN.findall(code) if t in self.aliases}
        wanted = sorted({sheet.dev3_spreadsheet_id, *named})
        return Fixture(
            workbooks={key: self.workbook(key) for key in wanted},
            aliases=self.aliases,
            active=sheet.spreadsheet_id(env),
            user=user,
            time_zone=manifest_time_zone(files)[0],
        )

    def workbook(self, spreadsheet_id: str) -> Workbook:
        with self._guard:
            lock = self._locks.setdefault(spreadsheet_id, threading.Lock())
        with lock:
            if spreadsheet_id not in self._books:
                answer = self.client.get_spreadsheet(spreadsheet_id, fields=SPREADSHEET_FIELDS)
                self._books[spreadsheet_id] = workbook_of(answer)
            return self._books[spreadsheet_id]


def manifest_time_zone(files: Sequence[ScriptFile]) -> tuple[str, str]:
    """The project's time zone (its manifest's timeZone), and what is wrong with it."""
    for file in files:
        if file.type is FileType.JSON:
            try:
                zone = json.loads(file.source).get("timeZone")
            except (ValueError, AttributeError):
                return "Etc/UTC", ""  # validation reports a broken manifest
            if isinstance(zone, str) and _known_zone(zone):
                return zone, ""
            return "Etc/UTC", (
                f"appsscript.json: timeZone {zone!r} is not a time zone Apps Script knows; "
                "the tests ran in Etc/UTC"
            )
    return "Etc/UTC", ""


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def workbook_of(answer: dict[str, Any]) -> Workbook:
    """A spreadsheets.get answer (SPREADSHEET_FIELDS) as the stand-ins take it."""
    properties = answer.get("properties", {})
    zone = properties.get("timeZone", "Etc/UTC")
    zone = zone if _known_zone(zone) else "Etc/UTC"
    tabs = []
    for entry in answer.get("sheets", []):
        tab = entry.get("properties", {})
        grid = tab.get("gridProperties", {})
        rows: list[list[Any]] = []
        for data in entry.get("data", []):
            start = int(data.get("startRow", 0))
            rows.extend([] for _ in range(start - len(rows)))
            for row in data.get("rowData", []):
                rows.append([_cell(cell, zone) for cell in row.get("values", [])])
        tabs.append(
            {
                "name": tab.get("title", ""),
                "sheetId": tab.get("sheetId", 0),
                "values": rows,
                "maxRows": grid.get("rowCount", len(rows)),
                "maxColumns": grid.get("columnCount", 26),
            }
        )
    return Workbook(properties.get("title", ""), zone, tabs)


def _cell(cell: dict[str, Any], zone: str) -> Any:
    value = cell.get("effectiveValue", {})
    if "numberValue" in value:
        number = value["numberValue"]
        kind = cell.get("effectiveFormat", {}).get("numberFormat", {}).get("type")
        if kind in _DATE_TYPES:
            wall = _SHEETS_EPOCH + datetime.timedelta(days=number)
            return {"$date": wall.replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000}
        return number
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "errorValue" in value:
        return "#ERROR!"
    return ""


# one sheet ------------------------------------------------------------------------------------


def test_code(
    session: Session,
    sheet: Sheet,
    files: Sequence[ScriptFile],
    env: Environment,
    reader: DataReader | None = None,
    scanner: Scanner | None = None,
    running: threading.BoundedSemaphore | None = None,
) -> SheetTests:
    """The sheet's tests on these files (`env` says whose ids they carry), on DEV3 data;
    `running` limits how many sheets run in V8 at once."""
    mapper = reader.mapper if reader else IdMapper(session.registry.sheets)
    result = SheetTests(sheet, env, project_hash(files, env, mapper))
    if not any(is_test_file(f) for f in files):
        return result  # without tests, Google is not asked for anything
    reader = reader or DataReader(session.client, session.registry.sheets, mapper)
    try:
        fixture = reader.fixture(sheet, files, env, session.access.account or session.access.user)
    except GoogleApiError as error:
        result.error = f"DEV3 data not read: {error.describe()}"
        return result
    settings = session.config.tests
    limits = Limits(settings.time_limit_s, settings.memory_limit_mb, settings.sheet_time_limit_s)
    with running or contextlib.nullcontext():
        result.run = run_project(files, fixture, limits)
    zone_problem = manifest_time_zone(files)[1]
    if zone_problem:
        result.run.problems.append(zone_problem)
    _mask(result, files, scanner or scanner_for(session.config, session.workspace))
    return result


def _mask(result: SheetTests, files: Sequence[ScriptFile], scanner: Scanner) -> None:
    """Everything a run says may quote a cell or name a file after a patient: identifiers are
    masked (a file name whole, as everywhere) before anything is shown or stored, and only
    then cut to length, so no part of one survives a cut."""
    names = {}
    for file in files:
        name = disk_name(file.name, file.type)
        shown = scanner.scan_name(name)[0]
        if shown != name:
            names[name] = shown

    def clean(text: str, limit: int) -> str:
        for name, shown in names.items():
            text = text.replace(name, shown)
        return scanner.masked(text)[:limit]

    result.error = clean(result.error, MAX_TEXT)
    if result.run is None:
        return
    result.run.problems = [clean(p, MAX_TEXT) for p in result.run.problems]
    for test in result.run.results:
        test.name = clean(test.name, MAX_NAME)
        test.file = clean(test.file, MAX_NAME)
        test.where = clean(test.where, MAX_NAME)
        test.message = clean(test.message, MAX_TEXT)
        test.output = [clean(line, MAX_LINE) for line in test.output]


def staging_tests(
    session: Session, sheet: Sheet, files: Sequence[ScriptFile], env: Environment
) -> SheetTests | None:
    """The pipeline's hook (validation, deploy steps 1 and 6, rollback): None without tests.
    Whatever goes wrong is a failing outcome, never an exception: at step 6 production has
    already changed, and a failure there must roll it back."""
    try:
        result = test_code(session, sheet, files, env)
    except Exception as error:
        problem = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        result = SheetTests(sheet, env, "", error=f"the staging tests could not run ({problem})")
    return result if result.has_tests or result.error else None


# the `test` command and the TUI's `t` -----------------------------------------------------------


def run_tests(
    session: Session,
    numbers: Sequence[str] | None,
    junit: Path | None = None,
    progress: Callable[[int, int, SheetTests], None] | None = None,
) -> list[SheetTests]:
    """The sheets' tests on their live DEV3 code; results recorded per sheet."""
    session.require("test")
    sheets = session.registry.select(numbers)
    if junit is not None:
        check_junit_path(junit)
    start_engine()
    reader = DataReader(session.client, session.registry.sheets)
    scanner = scanner_for(session.config, session.workspace)
    results: list[SheetTests] = []
    # reading waits on Google, running on the CPU: many sheets read at once, few run at once
    running = threading.BoundedSemaphore(session.config.tests.workers)
    readers = max(1, min(len(sheets), READERS))
    with ThreadPoolExecutor(readers, thread_name_prefix="sheetstage-tests") as pool:
        futures = [pool.submit(_test_live, session, s, reader, scanner, running) for s in sheets]
        try:
            for future in as_completed(futures):
                results.append(future.result())
                if progress is not None:
                    progress(len(results), len(sheets), results[-1])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    results.sort(key=lambda r: r.sheet.number)
    record(session, results)
    if junit is not None:
        write_junit(junit, results)
    return results


def _test_live(
    session: Session,
    sheet: Sheet,
    reader: DataReader,
    scanner: Scanner,
    running: threading.BoundedSemaphore,
) -> SheetTests:
    try:
        files = list(files_from_api(session.client.get_content(sheet.dev3_script_id)))
    except GoogleApiError as error:
        return SheetTests(
            sheet, Environment.STAGING, "", error=f"code not read: {error.describe()}"
        )
    except UnsafeFileName as error:
        return SheetTests(sheet, Environment.STAGING, "", error=f"code not read: {error}")
    return test_code(session, sheet, files, Environment.STAGING, reader, scanner, running)


def record(session: Session, results: Sequence[SheetTests]) -> None:
    """The run's results in state.json and the trail, one commit, then the activity log's Test
    Data rows."""
    if not results:
        return
    workspace = session.workspace
    with workspace.lock(session.config.git.lock_timeout_s):
        state = State.load(workspace)
        record_results(state, session.trail(), results, session.access.user)
        state.save(workspace)
        failed = sum(1 for r in results if not r.passed)
        outcome = f"{failed} failing" if failed else "all pass"
        session.commit(f"test: {len(results)} sheets, {outcome}", ["state.json"])
    if session.registry.activity_log_spreadsheet_id:
        session.sync_log()


def record_results(state: State, trail: AuditTrail, results: Sequence[SheetTests], by: str) -> None:
    """Each sheet's result in state.json and in the trail, tied to the hash of the code tested
    (the caller holds the workspace lock and commits)."""
    for result in results:
        state.sheet(result.sheet)["tests"] = result.record(by)
        if result.status == "none":
            continue  # a project without tests: nothing happened worth a trail line
        trail.append(
            "test",
            sheets=[result.sheet.number],
            hashes={str(result.env): result.hash} if result.hash else {},
            result="failed" if not result.passed else "ok",
            detail=result.summary[:300],
        )


# JUnit XML ----------------------------------------------------------------------------------------


def check_junit_path(path: Path) -> None:
    """Before anything runs: the file can be written (tried, with a file of our own)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"--junit {path}: that is a folder; name a file such as {path}/tests.xml")
    if not folder.is_dir():
        raise UsageError(f"--junit {path}: the folder {folder} does not exist; make it first")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as error:
        raise UsageError(
            f"--junit {path}: cannot write in {folder} ({error.strerror}); name another file"
        ) from None


def write_junit(path: Path, results: Sequence[SheetTests]) -> None:
    """One testsuite per sheet; problems with the test files and runs that could not start are
    test cases in error, so a CI job fails on them too. Written whole or not at all."""
    suites = ET.Element("testsuites", name="sheetstage staging tests")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for result in results:
        run = result.run
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{result.sheet.key} {result.sheet.name}",
            timestamp=utc_now(),
            time=f"{run.seconds:.3f}" if run else "0",
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="content_hash", value=result.hash)
        ET.SubElement(properties, "property", name="environment", value=str(result.env))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        classname = f"sheet{result.sheet.key}"
        for test in run.results if run else []:
            case = ET.SubElement(
                suite,
                "testcase",
                name=test.name,
                classname=f"{classname}.{test.file.removesuffix('.gs').replace('/', '.')}",
                file=test.file,
                line=str(test.line),
                time=f"{test.seconds:.3f}",
            )
            counts["tests"] += 1
            if test.status != "passed":
                tag = "failure" if test.status == "failed" else "error"
                counts["failures" if tag == "failure" else "errors"] += 1
                element = ET.SubElement(case, tag, message=test.message, type=test.status)
                element.text = f"{test.where or test.file}: {test.message}"
                if test.output:
                    ET.SubElement(case, "system-out").text = "\n".join(test.output)
        problems = (run.problems if run else []) + ([result.error] if result.error else [])
        for problem in problems:
            case = ET.SubElement(suite, "testcase", name="test files", classname=classname)
            ET.SubElement(case, "error", message=problem, type="problem").text = problem
            counts["tests"] += 1
            counts["errors"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    data = ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
    atomic_write(path, data, mode=0o644)
