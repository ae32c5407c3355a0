"""Test data against the emulator (DESIGN.md "Budgets"): 10,000 generated patients scanned
with the production reference loaded (zero findings), one sheet filled with 100 patients at
250 ms a call (budget 2 s), and every sheet with ranges filled in one command under a Sheets
quota (budget 1.2 x the write-quota floor: one write per spreadsheet plus the log append).

Prints one JSON line. Baselines, measured in the same process against the same emulator: for
one sheet, the calls it cannot do without (DEV3's grid, the write, the log append) made one
after another; for all sheets, the quota floor, calls / quota minutes for reads and writes.

    python benchmarks/testdata.py [--latency-ms 250] [--quota 120]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import testdata, testdata_job
from services.config import load_config_file
from services.emulator.seed import demo_sheets, log_spreadsheet_id
from services.emulator.store import EmulatorStore
from services.phi import record_words
from services.scanning import scanner_for
from services.session import session
from services.testdata import FIELDS, Entity, TabShape
from sheetstage_tui.cli import main as cli

BUDGETS = {"one_sheet_s": 2.0, "all_sheets_ratio": 1.2, "ten_thousand_findings": 0}


def write_config(root: Path, latency_ms: int, quota: int) -> Path:
    path = root / "config.toml"
    path.write_text(
        'backend = "emulator"\nworkspace = "workspace"\n'
        f"[emulator]\nlatency_ms = {latency_ms}\nquota_per_minute = {quota}\n"
        "[client]\nbackoff_initial_s = 0.05\nbackoff_cap_s = 0.5\n"
        f"sheets_requests_per_minute = {quota or 6000}\n"
    )
    path.chmod(0o644)
    return path


def quiet(*args: str) -> int:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return cli(list(args))


def ten_thousand(config: Path, folder: Path) -> dict[str, float | int]:
    """Generate 10,000 patients (every patient and provider field) and a thousand visits (every
    visit field) with the production reference loaded, write them as CSV and JSON, scan them
    offline with the same reference."""
    loaded = load_config_file(config)
    with session(loaded) as opened:
        scanner = scanner_for(loaded, opened.workspace)
    assert scanner.reference is not None and scanner.reference.digests
    started = time.perf_counter()
    population = testdata.generate(
        10_000,
        testdata.sheet_seed(0, 0),
        datetime.date(2026, 1, 1),
        scanner.reference,
        context_words=record_words(" ".join(FIELDS)),  # the JSON keys and CSV headers
        visits=1_000,
    )
    generate_s = time.perf_counter() - started
    patient_fields = tuple(f for f, e in FIELDS.items() if e is not Entity.VISIT)
    files = []
    for name, fields in (("patients", patient_fields), ("visits", tuple(FIELDS))):
        tab = TabShape(name, f"{name}!A2", fields, fields)
        rows = testdata.rows_for(tab, population)
        for suffix, render in (("csv", testdata.as_csv), ("json", testdata.as_json)):
            files.append(folder / f"{name}.{suffix}")
            files[-1].write_text(render(tab, rows))
    started = time.perf_counter()
    result = scanner.scan_paths(files)
    scan_s = time.perf_counter() - started
    return {
        "generate_s": round(generate_s, 2),
        "scan_s": round(scan_s, 2),
        "megabytes": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        "findings": len(result.findings),
    }


def one_sheet(config: Path, number: int) -> tuple[float, float]:
    loaded = load_config_file(config)
    with session(loaded) as opened:
        started = time.perf_counter()
        [result] = testdata_job.generate_test_data(opened, [str(number)], 100, seed=1)
        elapsed = time.perf_counter() - started
        assert result.written, result.problems
        sheet = {s.number: s for s in demo_sheets()}[number]
        client = opened.client
        started = time.perf_counter()  # the floor: the calls it cannot do without
        grid = client.get_spreadsheet(sheet.dev3_spreadsheet_id, fields="sheets.properties")
        sheet_id = grid["sheets"][0]["properties"]["sheetId"]
        request = {"appendDimension": {"sheetId": sheet_id, "dimension": "ROWS", "length": 1}}
        client.batch_update_spreadsheet(sheet.dev3_spreadsheet_id, [request])
        client.batch_get_values(log_spreadsheet_id(), ["'Test Data'!A:A"])
        baseline = time.perf_counter() - started
    return elapsed, baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=250)
    parser.add_argument("--quota", type=int, default=120, help="Sheets calls a minute")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetstage-testdata-") as folder:
        root = Path(folder)
        config = write_config(root, 0, 0)
        assert quiet("--config", str(config), "init", "--demo") == 0
        assert quiet("--config", str(config), "reference", "refresh") == 0
        assert quiet("--config", str(config), "generate-test-data", "--sheet", "1") == 0
        scanned = ten_thousand(config, root)

        write_config(root, args.latency_ms, 0)
        one_s, one_floor_s = one_sheet(config, 0)

        write_config(root, args.latency_ms, args.quota)
        filled = [s for s in demo_sheets() if s.reference_ranges]
        with session(load_config_file(config)) as opened:
            started = time.perf_counter()
            results = testdata_job.generate_test_data(opened, None, 100, seed=2)
            all_s = time.perf_counter() - started
        assert all(r.written for r in results) and len(results) == len(filled)
        store = EmulatorStore(root / ".sheetstage-emulator" / "emulator.sqlite3")
        since = [r for r in store.request_log() if r["time"] >= time.time() - all_s - 1]
        store.close()
        writes = sum(1 for r in since if r["method"] == "POST")
        reads = sum(1 for r in since if r["method"] == "GET")
        refused = sum(1 for r in since if r["status"] == 429)
        write_floor_s = 60 * writes / args.quota
        read_floor_s = 60 * reads / args.quota

    print(
        json.dumps(
            {
                "benchmark": "testdata",
                "ten_thousand": scanned,
                "one_sheet_s": round(one_s, 2),
                "one_sheet_floor_s": round(one_floor_s, 2),
                "one_sheet_ratio": round(one_s / one_floor_s, 2),
                "all_sheets": len(filled),
                "all_sheets_s": round(all_s, 1),
                "writes": writes,
                "reads": reads,
                "http_429": refused,
                "write_floor_s": round(write_floor_s, 1),
                "read_floor_s": round(read_floor_s, 1),
                "all_sheets_ratio": round(all_s / write_floor_s, 2),
                "latency_ms": args.latency_ms,
                "quota_per_minute": args.quota,
                "budgets": BUDGETS,
                "within_budget": scanned["findings"] == 0
                and one_s < BUDGETS["one_sheet_s"]
                and all_s / write_floor_s <= BUDGETS["all_sheets_ratio"]
                and refused == 0,
            }
        )
    )


if __name__ == "__main__":
    main()
