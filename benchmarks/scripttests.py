"""Staging tests against the emulator (DESIGN.md "Budgets"): one sheet's tests once its code
and data are read (budget 1 s), and every tested demo sheet in one `sheetstage test` at 250 ms
a call (budget 30 s, the planted 5 s time-out included), with that command's peak memory.

Prints one JSON line. Baselines, measured in the same process: for one sheet, one V8 context
loading the stand-ins and the project once (what each of its tests repeats in a fresh
context); for all sheets, the reads they cannot do without (each sheet's code and DEV3 values)
made 16 at a time at the same latency, plus the time-out.

    python benchmarks/scripttests.py [--latency-ms 250]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from py_mini_racer import MiniRacer

from services import scripttests, scripttests_job
from services.config import load_config_file
from services.emulator.seed import TESTED, demo_sheets
from services.models import Environment, FileType
from services.scripttests import Limits, run_project, standins
from services.session import session
from services.snapshot import files_from_api
from sheetstage_tui.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"one_sheet_s": 1.0, "all_tested_s": 30.0}
SHEET = TESTED[0]  # the most tests of any demo sheet


def write_config(root: Path, latency_ms: int) -> Path:
    path = root / "config.toml"
    path.write_text(
        'backend = "emulator"\nworkspace = "workspace"\n'
        f"[emulator]\nlatency_ms = {latency_ms}\n"
        "[client]\nsheets_requests_per_minute = 6000\n"
    )
    path.chmod(0o644)
    return path


def quiet(*args: str) -> int:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return cli(list(args))


def one_sheet(config: Path) -> dict[str, float | int]:
    """The sheet's tests after its code and data are read; the baseline loads it once."""
    loaded = load_config_file(config)
    sheet = {s.number: s for s in demo_sheets()}[SHEET]
    with session(loaded) as opened:
        files = list(files_from_api(opened.client.get_content(sheet.dev3_script_id)))
        reader = scripttests_job.DataReader(opened.client, opened.registry.sheets)
        fixture = reader.fixture(sheet, files, Environment.STAGING, "bench@practice.example")
    scripttests.start_engine()
    run_project(files, fixture)  # warm: V8 and the stand-ins' first compile
    started = time.perf_counter()
    result = run_project(files, fixture, Limits())
    elapsed = time.perf_counter() - started
    assert result.passed and result.has_tests, result.summary
    started = time.perf_counter()
    context = MiniRacer()
    try:
        context.eval(standins())
        context.eval(f"__sheetstage.setup({json.dumps(fixture.settings())})")
        for f in files:
            if f.type is FileType.SERVER_JS:
                context.eval(f.source)
    finally:
        context.close()
    baseline = time.perf_counter() - started
    return {"one_sheet_s": round(elapsed, 3), "tests": len(result.results), "load_s": baseline}


def all_tested(config: Path) -> tuple[float, float, int]:
    loaded = load_config_file(config)
    numbers = [str(n) for n in TESTED]
    command = [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(config), "test"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *[a for n in numbers for a in ("--sheet", n)]],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 1, done.stderr  # the planted failure and time-out
    sheets = [s for s in demo_sheets() if s.number in TESTED]
    with session(loaded) as opened:
        client = opened.client
        started = time.perf_counter()
        with ThreadPoolExecutor(scripttests_job.READERS) as pool:
            list(pool.map(lambda s: client.get_content(s.dev3_script_id), sheets))
            list(
                pool.map(
                    lambda s: client.get_spreadsheet(
                        s.dev3_spreadsheet_id, fields=scripttests_job.SPREADSHEET_FIELDS
                    ),
                    sheets,
                )
            )
        floor = time.perf_counter() - started + loaded.tests.time_limit_s
    return elapsed, floor, len(sheets)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetstage-tests-") as folder:
        root = Path(folder)
        config = write_config(root, 0)
        assert quiet("--config", str(config), "init", "--demo") == 0
        one = one_sheet(config)
        config = write_config(root, args.latency_ms)
        elapsed, floor, count = all_tested(config)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "benchmark": "staging tests",
                "latency_ms": args.latency_ms,
                "one_sheet_s": one["one_sheet_s"],
                "one_sheet_tests": one["tests"],
                "one_sheet_ratio_to_one_load": round(one["one_sheet_s"] / one["load_s"], 1),
                "all_tested_s": round(elapsed, 2),
                "all_tested_sheets": count,
                "all_tested_ratio_to_read_floor": round(elapsed / floor, 2),
                "all_tested_peak_rss_mb": round(peak_mb),
                "budgets": BUDGETS,
                "within_budget": one["one_sheet_s"] < BUDGETS["one_sheet_s"]
                and elapsed < BUDGETS["all_tested_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
