"""The first run: a fresh folder through `sheetstage --demo` to the interactive sheet list.

What a new user waits for after the Quick start: the emulator seeded, the workspace created,
the first snapshot of all 470 projects (fetch and PHI gate, writing, commit, activity log),
and the TUI's start, driven through the CLI's own code path (`cli.tui_app`, as `sheetstage
--demo --verbose` runs it) and Textual's Pilot at 80x24. Prints one JSON line: first_run_s
(budget 10 s), each phase, and as the baseline in this process the second start of the same
demo (the TUI alone, the workspace already there). Python's start and the imports are timed
in a fresh process and counted in both.

    python benchmarks/first_run.py
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.widgets import DataTable

from screens.sheets import SheetsScreen
from services.config import load_config_file
from services.progress import PhaseClock
from sheetstage_tui import cli

BUDGET_S = 10.0


def import_seconds() -> float:
    """Python's start and the imports of `sheetstage --demo` (in a fresh process: this one
    has them already)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import sheetstage_tui.cli, sheetstage_tui.app, services.jobs"],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return time.perf_counter() - started


def to_sheet_list(config_path: Path) -> tuple[float, PhaseClock]:
    """Seconds from `sheetstage --demo` to the sheet list taking keys, and where they went
    (imports aside: they are done in this process)."""
    started = time.perf_counter()
    clock = PhaseClock()
    args = cli.build_parser().parse_args(["--config", str(config_path), "--demo", "--verbose"])
    with contextlib.redirect_stderr(io.StringIO()):
        app = cli.tui_app(load_config_file(config_path), args, clock)

    async def until_ready() -> float:
        async with app.run_test(size=(80, 24)) as pilot:
            while not clock.stopped:
                await pilot.pause(0.001)
            ready = time.perf_counter()
            screen = app.screen
            assert isinstance(screen, SheetsScreen), screen
            rows = screen.query_one(DataTable).row_count
            assert rows == 235, rows
        return ready

    return asyncio.run(until_ready()) - started, clock


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sheetstage-first-run-") as folder:
        config_path = Path(folder) / "config.toml"
        config_path.write_text('backend = "emulator"\nworkspace = "workspace"\n')
        loading = import_seconds()
        first_s, clock = to_sheet_list(config_path)
        second_s, _ = to_sheet_list(config_path)
    first_s += loading
    second_s += loading
    phases = [("starting Python, loading sheetstage", loading), *clock.phases()]
    print(
        json.dumps(
            {
                "name": "first_run",
                "first_run_s": round(first_s, 2),
                "phases_s": {name: round(seconds, 2) for name, seconds in phases},
                "second_start_s": round(second_s, 2),
                "ratio": round(first_s / second_s, 1),
                "budget_s": BUDGET_S,
                "within_budget": first_s < BUDGET_S,
            }
        )
    )


if __name__ == "__main__":
    main()
