"""The health and metrics panel (`m`), driven with Pilot on the snapshotted demo: "checking…"
at once, then every check `sheetstage health` measures, the demo's planted sharing mistakes
failing with their fixes, the five metrics with their trends; `r` checks again; escape goes
back. The palette and help list it."""

from __future__ import annotations

import io

from rich.console import Console
from textual.command import CommandList
from textual.widgets import DataTable, Static

from screens import glyphs
from screens.health import PROBLEM_BADGE, HealthScreen, trend
from screens.help import HelpScreen
from screens.sheets import SheetsScreen
from services import metrics
from services.emulator.seed import OUTSIDER, SHARED_OUTSIDE, SHARED_WITH_LINK
from services.health import HealthReport
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo


def text_of(app: SheetStageApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows(app: SheetStageApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def expected_rows(report: HealthReport) -> list[list[str]]:
    """Failing checks first, each fix on the row beneath; then every passing check."""
    want = []
    for check in report.problems:
        want += [[PROBLEM_BADGE[0], check.name, check.detail], ["", "  fix:", check.fix]]
    return want + [["✓ ok", check.name, check.detail] for check in report.checks if check.ok]


def help_text(app: SheetStageApp) -> str:
    console = Console(width=120, file=io.StringIO(), color_system=None)
    for static in app.screen.query(Static).results(Static):
        console.print(static.content)
    return " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


async def test_m_checks_health_in_the_background_and_shows_each_problem_with_its_fix(
    snapshotted: Demo,
) -> None:
    app = SheetStageApp(snapshotted.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HealthScreen)
        assert text_of(app, "#health-banner") == "checking…"  # at once, before any answer
        assert rows(app, "#health-checks")[0][2].startswith("checking…")
        # the metrics are there already: they read only the trails
        assert app.session is not None
        expected = metrics.for_session(app.session, None)
        shown = rows(app, "#metrics-table")
        assert [row[1] for row in shown] == [m.title for m in expected.metrics]
        assert [row[0] for row in shown] == [m.verdict for m in expected.metrics]
        assert [row[4] for row in shown] == [trend(m.weekly[-12:]) for m in expected.metrics]
        assert all(row[4] for row in shown)  # a week without data is a dot, never blank

        await app.workers.wait_for_complete()
        await pilot.pause()
        report = screen.report
        assert report is not None and not screen.checking
        # the demo's planted mistakes, and nothing else, fail: each names its sheet, its fix
        assert {check.name for check in report.problems} == {"drive sharing"}
        problems = [check.detail for check in report.problems]
        assert len(problems) == 2
        assert any(f"{SHARED_OUTSIDE:03d}" in p and OUTSIDER in p for p in problems)
        assert any(f"{SHARED_WITH_LINK:03d}" in p and "anyone" in p for p in problems)
        # failing checks first, each fix on the row beneath; then every passing check
        assert rows(app, "#health-checks") == expected_rows(report)
        badge = app.screen.query_one("#health-checks", DataTable).get_row_at(0)[0]
        assert badge.style == glyphs.ALARM  # the brightest cell, under NO_COLOR too
        assert "2 PROBLEMS" in text_of(app, "#health-banner")
        assert f"in {len(report.checks)} checks · checked " in text_of(app, "#health-banner")
        # the highlighted problem whole, its fix included, in the detail line
        detail = " ".join(text_of(app, "#health-detail").split())
        assert report.problems[0].detail in detail and report.problems[0].fix in detail
        await pilot.press("tab")  # to the metrics: the detail line follows
        assert expected.metrics[0].shown in text_of(app, "#health-detail")

        # r: checking again, then the checks again
        await pilot.press("r")
        await pilot.pause()
        assert screen.checking and text_of(app, "#health-banner") == "checking…"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.report is not None and screen.report is not report
        assert rows(app, "#health-checks") == expected_rows(screen.report)
        assert {check.name for check in screen.report.problems} == {"drive sharing"}

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SheetsScreen)

        # the palette lists it, with its key
        await pilot.press("ctrl+p")  # opened empty: the actions, each with its key
        await pilot.pause(0.2)
        palette = app.screen.query_one(CommandList)
        hits = [str(palette.get_option_at_index(i).prompt) for i in range(palette.option_count)]
        assert any(hit.startswith("Health checks") and hit.endswith("m") for hit in hits), hits
        await pilot.press("escape")

        # help lists m and the panel's keys
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        words = help_text(app)
        assert "m Health checks, each failing one with its fix" in words
        assert "Health and metrics" in words and "r Run every health check again" in words
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SheetsScreen)
