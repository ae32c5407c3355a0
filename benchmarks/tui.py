"""TUI speed on the demo workspace (235 sheets), measured with Textual's run_test.

Prints one JSON line: startup_s, from creating the app to the sheet list showing 235
interactive rows (budget 1.5 s); filter_ms, the median time for one filter keystroke to
update the table (budget 50 ms); approval_open_ms, from `a` on a staged sheet to the approval
modal on screen (budget 200 ms: it opens at once and says what it checks), and approval_ready_s,
until it shows the proposal (live reads of both projects, validation, staging tests: bound by
Google's latency, reported without a budget); and, as the baseline run in the same process,
the startup of a bare Textual app with a 235-row DataTable.

    python benchmarks/tui.py
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from screens.deploy import ApprovalScreen
from screens.sheets import SheetsScreen
from services import jobs
from services.config import load_config_file
from services.emulator.seed import STAGED
from services.models import Environment
from services.session import session
from sheetstage_tui.app import SheetStageApp

BUDGETS = {"startup_s": 1.5, "filter_ms": 50.0, "approval_open_ms": 200.0}
QUERIES = ("lake", "prior", "billing", "150", "westside claims")


class Baseline(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "Name", "Drift", "PHI", "Deploy")
        for n in range(235):
            table.add_row(f"{n:03d}", f"Sheet {n}", "✓ in-sync", "· unscanned", "· none")


async def baseline_startup() -> float:
    started = time.perf_counter()
    app = Baseline()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.query_one(DataTable).row_count < 235:
            await pilot.pause(0.001)
    return time.perf_counter() - started


async def measure(config_path: Path) -> tuple[float, list[float], float, float]:
    """Startup, then per filter keystroke: from the key entering the app to the first screen
    update (paint) that shows the filtered table."""
    started = time.perf_counter()
    app = SheetStageApp(load_config_file(config_path))
    paints: list[float] = []
    display = app._display

    def record_paint(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        display(screen, renderable)
        paints.append(time.perf_counter())

    app._display = record_paint  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        while not (
            isinstance(app.screen, SheetsScreen)
            and app.screen.query_one(DataTable).row_count == 235
        ):
            await pilot.pause(0.001)
        startup = time.perf_counter() - started
        keystrokes: list[float] = []
        screen = app.screen
        for query in QUERIES:
            await pilot.press("slash")
            await pilot.pause()
            typed = ""
            for char in query:
                typed += char
                before = time.perf_counter()
                app.simulate_key(char)
                while screen.query_text != typed:
                    await asyncio.sleep(0.0005)
                handled = time.perf_counter()  # the table holds the filtered rows
                while not paints or paints[-1] < handled:
                    await asyncio.sleep(0.0005)
                keystrokes.append((paints[-1] - before) * 1000)
                await pilot.pause()
            await pilot.press("escape")
        screen.go_to(f"{STAGED[0]:03d}")
        await pilot.pause()
        pressed = time.perf_counter()
        app.simulate_key("a")
        while not isinstance(app.screen, ApprovalScreen):
            await asyncio.sleep(0.0005)
        shown = time.perf_counter()
        while not paints or paints[-1] < shown:
            await asyncio.sleep(0.0005)
        opened = paints[-1] - pressed
        modal = app.screen
        while modal.proposal is None:
            await asyncio.sleep(0.005)
        ready = time.perf_counter() - pressed
        await pilot.press("escape")
    return startup, keystrokes, opened, ready


def import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import sheetstage_tui.app; "
        "print(time.perf_counter() - t)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return float(result.stdout.strip())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sheetstage-tui-") as folder:
        config_path = Path(folder) / "config.toml"
        config_path.write_text('backend = "emulator"\nworkspace = "workspace"\n')
        config = load_config_file(config_path)
        jobs.init_workspace(config, demo=True)
        with session(config) as opened, contextlib.redirect_stderr(io.StringIO()):
            jobs.run_snapshot(opened, list(Environment))
        baseline = asyncio.run(baseline_startup())
        startup, keystrokes, approval_open, approval_ready = asyncio.run(measure(config_path))
    filter_ms = statistics.median(keystrokes)
    print(
        json.dumps(
            {
                "name": "tui",
                "rows": 235,
                "startup_s": round(startup, 3),
                "filter_ms": round(filter_ms, 1),
                "filter_p90_ms": round(statistics.quantiles(keystrokes, n=10)[-1], 1),
                "approval_open_ms": round(approval_open * 1000, 1),
                "approval_ready_s": round(approval_ready, 2),
                "baseline_startup_s": round(baseline, 3),
                "startup_ratio": round(startup / baseline, 2),
                "import_s": round(import_seconds(), 3),
                "budget": BUDGETS,
                "within_budget": startup < BUDGETS["startup_s"]
                and filter_ms < BUDGETS["filter_ms"]
                and approval_open * 1000 < BUDGETS["approval_open_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
