"""The TUI, driven with Textual's Pilot on a real demo workspace (and the emulator over HTTP
for snapshots)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.color import Color
from textual.widgets import DataTable, Static
from textual.widgets._toast import Toast
from textual.worker import WorkerFailed

from screens import glyphs
from screens.diff import DiffScreen
from screens.help import KEY_WIDTH, HelpScreen
from screens.message import MessageScreen
from screens.sheets import QUICK_FILTERS, SheetsScreen
from services import overview
from services.emulator.seed import BROKEN_TEST, STAGED, TESTED, demo_sheets
from services.models import DeployStatus, DriftState, PhiStatus
from services.overview import TestsStatus
from services.workspace import Workspace
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo

SHEETS = {s.number: s for s in demo_sheets()}
DRIFTED = {12, 31, 47, 64, 88, 119, 140, 177, 203, 215}  # 150, 199: held back, unknown
PROD_MODIFIED = {31, 119, 177}
DIVERGED = {64, 215}


def app_for(demo: Demo, read_only: bool = False) -> SheetStageApp:
    return SheetStageApp(demo.config, read_only)


def sheets_screen(app: SheetStageApp) -> SheetsScreen:
    assert isinstance(app.screen, SheetsScreen), type(app.screen)
    return app.screen


def visible(app: SheetStageApp) -> list[int]:
    table = sheets_screen(app).query_one(DataTable)
    return [int(str(key.value)) for key in table.rows]


def cursor(app: SheetStageApp) -> int:
    key = sheets_screen(app).current_key()
    assert key is not None
    return int(key)


def banner(app: SheetStageApp) -> str:
    return str(sheets_screen(app).query_one("#banner", Static).render())


def cell(app: SheetStageApp, number: int, column: str) -> str:
    table = sheets_screen(app).query_one(DataTable)
    return str(table.get_cell(f"{number:03d}", column))


def notifications(app: SheetStageApp) -> list[str]:
    return [n.message for n in app._notifications]


def detail(app: SheetStageApp) -> str:
    return str(sheets_screen(app).query_one("#detail", Static).render())


def rendered(static: Static, width: int) -> str:
    """A Static's content as plain text, drawn `width` columns wide (help draws tables)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(static.content)
    return console.file.getvalue()  # type: ignore[attr-defined]


def screen_lines(app: SheetStageApp) -> list[str]:
    """The screen as the terminal shows it, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def quick_filter(key: str) -> int:
    return [q.key for q in QUICK_FILTERS].index(key)


def quick_tests(demo: Demo) -> Demo:
    """Sheets paced for the emulator, and a half-second limit for sheet 040's slow test."""
    return demo.fast_sheets().set_time_limit(0.5)


async def test_main_screen_lists_all_235_sheets_with_their_states(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert len(visible(app)) == 235
        assert cell(app, 31, "drift") == "! prod-modified"
        assert cell(app, 12, "drift") == "▲ ahead"
        assert cell(app, 0, "phi") == "✓ clean"  # the snapshot gate scanned its code
        assert cell(app, 150, "phi") == "✗ blocked"
        assert cell(app, 0, "deploy") == "· none"
        assert "✓223 ▲5 !3 ⇅2 ?2" in banner(app)
        assert "MAY WRITE PRODUCTION" in banner(app)


async def test_filter_keeps_the_cursor_on_the_same_sheet(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("012")
        await pilot.press("slash", *"lake prior")
        await pilot.pause()
        assert all("Lakeview" in SHEETS[n].name for n in visible(app))
        assert 12 in visible(app) and len(visible(app)) < 235
        assert cursor(app) == 12
        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.press("escape")  # clear it
        await pilot.pause()
        assert len(visible(app)) == 235 and cursor(app) == 12


async def test_filter_finds_numbers_ids_and_names_with_a_typo(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = sheets_screen(app)
        screen.query_text = "7"
        screen.refresh_rows()
        assert visible(app)[0] == 7
        screen.query_text = SHEETS[150].dev3_script_id[5:20]
        screen.refresh_rows()
        assert visible(app) == [150]
        screen.query_text = "lakeveiw"
        screen.refresh_rows()
        assert visible(app) and all("Lakeview" in SHEETS[n].name for n in visible(app))
        billing = [n for n, s in SHEETS.items() if s.name.endswith("Billing Claims")]
        for query, expected in (
            ("billng", billing),
            ("biling claims", billing),
            ("main clinc billing", [n for n in billing if "Main Clinic" in SHEETS[n].name]),
            ("lakevew billng", [n for n in billing if "Lakeview" in SHEETS[n].name]),
        ):
            screen.query_text = query
            screen.refresh_rows()
            assert visible(app) == expected, query


async def test_quick_filters_show_drifted_then_production_edits_then_ahead(
    snapshotted: Demo,
) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f")
        assert set(visible(app)) == DRIFTED
        await pilot.press("f")
        assert set(visible(app)) == PROD_MODIFIED  # DESIGN's prod-modified: staging untouched
        await pilot.press("f")
        assert set(visible(app)) == DIVERGED  # its own state, its own filter
        await pilot.press("f")
        assert set(visible(app)) == DRIFTED - PROD_MODIFIED - DIVERGED
        assert "ahead" in banner(app)
        await pilot.press("f")  # what a practice manager approves, then deploys
        assert set(visible(app)) == set(STAGED) and "in-review" in banner(app)
        await pilot.press("escape")
        assert len(visible(app)) == 235
        counts = banner(app).splitlines()[0]
        assert "!3 ⇅2" in counts
        filtered = [s for s in DriftState if s is not DriftState.IN_SYNC]
        for state in filtered:  # the banner's count of a state is the rows of its filter
            sheets_screen(app).set_quick_filter(quick_filter(str(state)))
            assert f"{state.glyph}{len(visible(app))} " in f"{counts} ", state


async def test_sorting_by_name_drift_and_reversed(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("o")  # next column: name
        names = [SHEETS[n].name.lower() for n in visible(app)]
        assert names == sorted(names)
        await pilot.press("o")  # drift: production edits first
        assert set(visible(app)[:3]) == {31, 119, 177}
        await pilot.press("O")
        assert set(visible(app)[-3:]) == {31, 119, 177}


async def test_marking_sheets_for_a_batch_action(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("space", "space", "down", "space")
        screen = sheets_screen(app)
        assert screen.marked == {"000", "001", "003"}
        assert screen.selected_keys() == ["000", "001", "003"]
        assert "3 marked" in banner(app)
        assert cell(app, 0, "mark").startswith("■")
        screen.set_quick_filter(quick_filter("marked"))
        assert visible(app) == [0, 1, 3]


async def test_diff_opens_and_jumps_between_changes(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("064")
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        view = screen.view
        assert not view.unified  # 120 columns: side by side
        assert view.hunks == 2
        await pilot.press("n")
        assert view.current_hunk == 0
        await pilot.press("n")
        assert view.current_hunk == 1 and view.scroll_offset.y > 0
        await pilot.press("p")
        assert view.current_hunk == 0
        header = str(screen.query_one("#diff-header", Static).render())
        assert "1 of 9 files changed · +12 −1 lines" in header  # 5 files and 4 of tests
        assert "≈ 2 DEV3 ids mapped, not changes" in header
        await pilot.press("u")
        assert view.unified
        await pilot.press("escape")
        assert isinstance(app.screen, SheetsScreen)


async def test_diff_below_100_columns_starts_unified_and_says_when_nothing_differs(
    snapshotted: Demo,
) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # sheet 000, in sync
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.view.unified
        header = str(screen.query_one("#diff-header", Static).render())
        assert "No differences" in header


async def test_snapshot_of_one_sheet_runs_in_the_background_and_changes_its_row(
    snapshotted: Demo,
) -> None:
    snapshotted.edit_script(
        SHEETS[42].prod_script_id,
        "\n// edited in the script editor\n",
        "someone.else@practice.example",
    )
    head = snapshotted.workspace.head()

    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = sheets_screen(app)
        screen.go_to("042")
        assert cell(app, 42, "drift") == "✓ in-sync"
        labels: list[str] = []
        show_phase = screen.job_phase

        def seen_and_shown(label: str) -> None:  # what the job bar is told, still shown
            labels.append(label)
            show_phase(label)

        screen.job_phase = seen_and_shown  # type: ignore[method-assign]
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 42, "drift") == "! prod-modified"
        # after the count, the job bar says each step as it starts
        assert labels[:2] == [
            "snapshot · writing 1 fetched project…",
            "snapshot · committing 2 files…",
        ]
        assert any("snapshot: 1 changed, 0 failed" in m for m in notifications(app))
        assert any("ALERT prod-modified" in m for m in notifications(app))
    assert snapshotted.workspace.head() != head


async def test_a_failed_snapshot_shows_the_reason_not_a_traceback(snapshotted: Demo) -> None:
    config = snapshotted.config_path
    config.write_text(config.read_text() + "\n[git]\nlock_timeout_s = 0.1\n")
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        with Workspace(snapshotted.workspace.root).lock():
            await pilot.press("s")
            with contextlib.suppress(WorkerFailed):  # it failed: that is the point
                await app.workers.wait_for_complete()
            await pilot.pause()
        messages = notifications(app)
        assert any(
            "snapshot failed: another sheetstage run holds the workspace lock" in m
            for m in messages
        ), messages
        assert not any("Traceback" in m for m in messages)


async def test_failed_sheets_are_named_with_their_reason(snapshotted: Demo) -> None:
    broken = SHEETS[5].dev3_script_id
    config = snapshotted.config_path
    config.write_text(
        config.read_text().replace("[emulator]\n", f'[emulator]\nfailing_scripts = ["{broken}"]\n')
    )
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("005")
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(
            "staging 005 failed: projects.get" in m and "HTTP 500" in m for m in notifications(app)
        )
        assert cell(app, 5, "drift") == "? unknown"
        assert "✗" in cell(app, 5, "mark")


async def test_help_lists_every_key(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        width = app.screen.query_one(".help-keys").content_region.width
        parts = [rendered(s, width) for s in app.screen.query(Static)]
        text = " ".join(parts)
        for key in (
            "/",
            "f",
            "o",
            "v",
            "i",
            "O",
            "space",
            "d, enter",
            "s",
            "S",
            "t",
            "r",
            "esc",
            "n",
            "p",
            "u",
            "ctrl+q",
            "?",
            "ctrl+p",
        ):
            assert f" {key} " in f" {text} " or key in text, key
        assert sum(line.split()[:1] == ["ctrl+p"] for line in text.splitlines()) == 1
        # a description that wraps goes on under its own start, not under the keys
        lines = [line for part in parts[1:] for line in part.splitlines()]
        wrapped = [line for line in lines if line[: KEY_WIDTH + 1].isspace()]
        assert wrapped and all(line[KEY_WIDTH + 1] != " " for line in wrapped)
        # a legend of every glyph the list draws, each meaning one thing
        glyph_table = rendered(list(app.screen.query(".help-keys").results(Static))[-1], width)
        legend = " ".join(" ".join(line.split()) for line in glyph_table.splitlines())
        for _title, entries in glyphs.legend():
            for glyph, meaning, _style in entries:
                assert f"{glyph} {meaning}" in legend, meaning
        assert glyphs.PHI[PhiStatus.NEEDS_REVIEW][0] != DriftState.UNKNOWN.glyph
        assert "? unknown" in legend and legend.count("? ") == 1
        await pilot.press("escape")
        assert isinstance(app.screen, SheetsScreen)


async def test_read_only_session_shows_the_banner_and_refuses_snapshots(snapshotted: Demo) -> None:
    head = snapshotted.workspace.head()
    app = app_for(snapshotted, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "READ-ONLY" in banner(app)
        await pilot.press("s")
        await pilot.pause()
        assert any("refused: this session is --read-only" in m for m in notifications(app))
        assert not list(app.workers)
    assert snapshotted.workspace.head() == head


async def test_a_user_without_a_role_sees_read_only(snapshotted: Demo) -> None:
    roles = snapshotted.workspace.roles_path
    roles.write_text('practice_manager = ["somebody-else"]\n')
    roles.chmod(0o644)
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "READ-ONLY" in banner(app)


async def test_missing_workspace_starts_with_a_readable_message(tmp_path: Path) -> None:
    from services.config import load_config_file
    from tests.conftest import write_config

    app = SheetStageApp(load_config_file(write_config(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "run `sheetstage init`" in text
        await pilot.press("ctrl+q")
    assert app.return_code == 2  # as `sheetstage` without a workspace exits on the command line


async def test_command_palette_goes_to_a_sheet(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to sheet 150")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert cursor(app) == 150


async def test_browsing_changes_nothing_in_the_workspace(snapshotted: Demo) -> None:
    workspace = snapshotted.workspace
    state = workspace.state_path.read_bytes()
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f", "o", "space", "slash", *"lake", "enter", "d")
        await pilot.pause()
        await pilot.press("n", "u", "escape", "r", "question_mark", "escape")
        await pilot.pause()
    assert workspace.state_path.read_bytes() == state
    assert workspace.repo.git.status("--porcelain") == ""


async def test_validate_runs_in_the_background_and_feeds_the_phi_column(snapshotted: Demo) -> None:
    snapshotted.fast_sheets()
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("150")
        await pilot.press("v")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 150, "phi") == "✗ blocked"
        assert any("validate: 0 of 1 sheets pass" in m for m in notifications(app))
        assert any("150: PHI blocked" in m for m in notifications(app))


async def test_findings_screen_lists_masked_findings_and_opens_the_diff_at_the_line(
    snapshotted: Demo,
) -> None:
    from screens.findings import FindingsScreen

    source = snapshotted.edit_script(
        SHEETS[47].dev3_script_id,
        "\n// vendor hotline (773) 268-4411\nUrlFetchApp.fetch('https://collector.invalid/x');\n",
        "developer@practice.example",
    )
    # the CLI runs its own event loop: give it a thread, as a terminal would be separate
    assert await asyncio.to_thread(snapshotted.cli, "snapshot", "--sheet", "47") in (0, 1)
    line = len(source.splitlines()) - 1

    app = app_for(snapshotted)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("047")
        assert cell(app, 47, "phi") == "⚑ needs-review"
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FindingsScreen)
        table = screen.query_one(DataTable)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[1] == "PHONE" and row[2] == f"Code.gs:{line}" and row[3] == "(***) ***-4411"
        await pilot.press("enter")
        await pilot.pause()
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        header = str(diff.query_one("#diff-header", Static).render())
        assert "⚠ risk: 1 new URL: https://collector.invalid/x" in header
        assert diff.view.scroll_offset.y > 0  # scrolled to the finding's line


async def test_g_asks_how_many_patients_and_fills_dev3_in_the_background(snapshotted: Demo) -> None:
    from screens.testdata import TestDataScreen

    snapshotted.fast_sheets()
    app = app_for(snapshotted)
    async with app.run_test(size=(140, 30)) as pilot:  # wide: the Test data column
        await pilot.pause()
        sheets_screen(app).go_to("001")
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, TestDataScreen)
        await pilot.press("escape")  # cancel: nothing runs
        await pilot.pause()
        assert isinstance(app.screen, SheetsScreen) and not list(app.workers)
        await pilot.press("space", "down", "space", "g")  # marks 001 and 003 (space moves on)
        await pilot.pause()
        await pilot.press("backspace", "backspace", "backspace", "0", "enter")
        await pilot.pause()
        assert "enter a number of patients" in str(app.screen.query_one("#testdata-error").render())
        await pilot.press("backspace", "1", "2", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 1, "test_data") == "✓ synthetic"
        assert cell(app, 3, "test_data") == "✓ synthetic"
        messages = notifications(app)
        assert any("sheet 001: Patients 12 rows -> DEV3" in m for m in messages)
        assert any("sheet 003: Patients 12 rows -> DEV3" in m for m in messages)
        assert any("test data: 2 of 2 sheets filled" in m for m in messages)
        sheets_screen(app).go_to("001")
        await pilot.pause()
        detail = str(sheets_screen(app).query_one("#detail", Static).render())
        assert "test data synthetic · seed 0 · Patients 12 rows" in detail


async def test_t_runs_the_staging_tests_and_shows_the_failing_test_and_line(
    snapshotted: Demo,
) -> None:
    quick_tests(snapshotted)
    app = app_for(snapshotted)
    async with app.run_test(size=(100, 30)) as pilot:  # from 90 columns: the Tests column
        await pilot.pause()
        sheets_screen(app).go_to(f"{BROKEN_TEST:03d}")
        await pilot.pause()
        assert cell(app, BROKEN_TEST, "tests") == "○ not run"
        assert "tests ○ not run yet · t runs the staging tests" in detail(app)
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, BROKEN_TEST, "tests") == "✗ failed"
        assert (
            "tests ✗ testRefreshStatusCountsOpenRows at tests/Queue.gs:30: open items: "
            "expected 6, got 4 · 1 passed, 1 failed" in detail(app)
        )
        messages = notifications(app)
        assert any(
            m.startswith("203 Westside — Onboarding Checklist: tests 1 passed, 1 failed")
            for m in messages
        ), messages
        assert "staging tests of 1 sheet: 1 failed" in messages
        sheets_screen(app).set_quick_filter(quick_filter("tests-failing"))
        assert visible(app) == [BROKEN_TEST]


async def test_t_on_marked_sheets_shows_passed_and_none(snapshotted: Demo) -> None:
    quick_tests(snapshotted)
    app = app_for(snapshotted)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert cell(app, 0, "tests") == "○ not run"  # sheet 000 has tests, sheet 001 none
        assert cell(app, 1, "tests") == "· none"
        await pilot.press("space", "space", "t")  # marks 000 and 001
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 0, "tests") == "✓ passed"
        assert cell(app, 1, "tests") == "· none"
        assert "staging tests of 2 sheets: 1 passed, 1 no tests" in notifications(app)
        sheets_screen(app).go_to("000")
        await pilot.pause()
        assert "tests ✓ 7 passed · " in detail(app)
        sheets_screen(app).sort_by("tests")  # as a click on its header: failures first
        rows = visible(app)  # the 30 not run, then 000 passed, then those without tests
        assert set(rows[:31]) == set(TESTED) and rows[30] == 0


async def test_a_result_of_older_staging_code_shows_stale(snapshotted: Demo) -> None:
    quick_tests(snapshotted)
    app = app_for(snapshotted)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("008")
        await pilot.pause()
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 8, "tests") == "✓ passed"
        snapshotted.edit_script(
            SHEETS[8].dev3_script_id, "\n// a staging edit\n", "developer@practice.example"
        )
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 8, "drift") == "▲ ahead"
        assert cell(app, 8, "tests") == "~ stale"
        assert "tests ~ stale: 3 passed on older staging code · t runs them again" in detail(app)


async def test_at_80_columns_the_tests_show_in_the_detail_panel_only(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = sheets_screen(app).query_one(DataTable)
        assert [str(c.value) for c in table.columns] == [
            "mark",
            "number",
            "name",
            "drift",
            "phi",
            "deploy",
        ]
        sheets_screen(app).go_to("001")
        await pilot.pause()
        assert "tests · none · no test files" in detail(app)


def test_tests_status_counts_a_result_only_for_the_staging_code_it_ran_on() -> None:
    staging = {"staging": {"hash": "new"}}

    def status(tests: dict[str, object], has_tests: bool = True) -> TestsStatus:
        return overview.tests_status({**staging, "tests": tests}, lambda: has_tests)

    assert status({"status": "passed", "hash": "new"}) is TestsStatus.PASSED
    assert status({"status": "failed", "hash": "new"}) is TestsStatus.FAILED
    assert status({"status": "failed", "hash": "old"}) is TestsStatus.STALE
    assert status({"status": "failed", "hash": "old"}, has_tests=False) is TestsStatus.NONE
    assert status({"status": "error", "hash": ""}) is TestsStatus.ERROR  # code not read
    assert status({"status": "none", "hash": "new"}, has_tests=True) is TestsStatus.NONE
    assert overview.tests_status(staging, lambda: True) is TestsStatus.NOT_RUN
    assert overview.tests_status(staging, lambda: False) is TestsStatus.NONE


async def test_a_terminal_too_small_says_so_and_the_list_comes_back(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        message = app.screen.query_one("#too-small", Static)
        assert message.display and str(message.render()) == "terminal too small (needs 60x16)"
        assert not app.screen.query_one("#sheets").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not message.display and app.screen.query_one("#sheets").display
        assert len(visible(app)) == 235


def test_times_show_in_the_local_zone_with_its_name(chicago: None) -> None:
    assert overview.short_time("2026-05-24T12:31:00.000Z") == "2026-05-24 07:31 CDT"
    assert overview.short_time("2026-11-30T05:41:27Z") == "2026-11-29 23:41 CST"
    assert overview.short_time("") == ""
    assert overview.short_time("2026-05-24") == "2026-05-24"  # a day has no zone to convert


async def test_at_80_columns_the_banner_shows_the_filter_the_marks_and_the_sort(
    snapshotted: Demo,
) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        def view() -> str:  # the banner's second line, as the terminal shows it
            return screen_lines(app)[1].strip()

        assert view() == "235/235 shown · quick filter: all · sort: # ▲"
        await pilot.press("f", "f", "o", "o")  # prod-modified; name, then drift
        await pilot.pause()
        assert view() == "3/235 shown · quick filter: prod-modified · sort: Drift ▲"
        await pilot.press("slash", *"north", "enter", "space")
        await pilot.pause()
        assert not sheets_screen(app).query_one("#filter").display  # the banner says it
        # too long in full for 80 columns: the short form, every part still there
        assert view() == "1/235 · f prod-modified · /north · ■1 · o Drift ▲"
        assert "Drift ▲" in screen_lines(app)[2]
        sheets_screen(app).sort_by("prod_edit", False)  # the palette's "Sort by production edit"
        await pilot.pause()
        assert view() == "1/235 · f prod-modified · /north · ■1 · o Production edit ▲ (hidden)"
        assert "▲" not in screen_lines(app)[2]  # no column of the list carries the arrow
        await pilot.resize_terminal(170, 30)
        await pilot.pause()
        assert "Production edit ▲" in screen_lines(app)[2]
        assert view().endswith("sort: Production edit ▲")


async def test_production_edits_and_held_back_sheets_say_who_when_and_which_keys_act(
    snapshotted: Demo, chicago: None
) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = sheets_screen(app)
        for key, state, when in (
            ("031", "! prod-modified", "2026-05-24 07:31 CDT"),
            ("064", "⇅ diverged", "2026-05-24 08:04 CDT"),
        ):
            screen.go_to(key)
            await pilot.pause()
            shown = "\n".join(screen_lines(app)[-9:])  # the detail panel, as drawn at 80x24
            assert f"{state}  " in shown
            assert f"production edited by someone.else@practice.example at {when}" in shown
            assert "A adopt into DEV3 · X revert production · c accept with a reason" in shown
        screen.go_to("012")  # ahead, a review requested
        await pilot.pause()
        assert "a approve (review requested)" in detail(app)
        row = screen.current_row()
        assert row is not None
        for deploy, key in (("none", "R request review"), ("approved", "D deploy (approved)")):
            keys = str(screen._keys_line(replace(row, deploy=DeployStatus(deploy))))
            assert keys.startswith(key), keys
        screen.go_to("000")
        await pilot.pause()
        assert "b backups" in detail(app) and "A adopt" not in detail(app)
        screen.go_to("150")
        await pilot.pause()
        assert "? unknown  staging code held back by the PHI gate" in detail(app)
        assert "· DEV3 held back by the PHI gate" in "\n".join(screen_lines(app)[-9:])
        await pilot.resize_terminal(130, 40)  # wide enough for the Last snapshot column
        await pilot.pause()
        assert cell(app, 150, "snapshot") == "held back by the PHI gate"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T", cell(app, 0, "snapshot"))


async def test_a_passing_validation_leaves_its_result_and_marks_outlive_jobs(
    snapshotted: Demo, chicago: None
) -> None:
    snapshotted.fast_sheets()
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert "validation ○ not run" in detail(app)
        await pilot.press("space", "v")  # marks 000 and validates it
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cell(app, 0, "mark") == "■✓"  # the job's outcome stays after it ends
        sheets_screen(app).go_to("000")
        await pilot.pause()
        assert re.search(r"validation ✓ passed \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T", detail(app))
        # the result's toast is whole and on top: no cell of it belongs to the detail panel
        toast = next(t for t in app.screen.query(Toast) if "1 of 1 sheets pass" in str(t.render()))
        region = toast.region
        assert region.right == app.size.width and region.bottom < app.size.height
        assert all(
            app.screen.get_widget_at(x, y)[0] is toast
            for x in range(region.x, region.right)
            for y in range(region.y, region.bottom)
        )
        assert any("validate: 1 of 1 sheets pass" in line for line in screen_lines(app))
        await pilot.press("S")  # snapshot all: the user's mark stays through it and a reload
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert sheets_screen(app).marked == {"000"}
        assert cell(app, 0, "mark") == "■✓" and "1 marked" in banner(app)


async def test_without_colour_the_risky_statuses_are_the_brightest_boldest_cells(
    snapshotted: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # read when the app is made: greys only
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = sheets_screen(app)
        screen.sort_by("drift")  # prod-modified, diverged, unknown (PHI blocked), ahead, in-sync
        screen.go_to("140")  # the cursor's row is drawn its own way: keep it off the risky rows
        await pilot.pause()
        table = screen.table
        top = table.region.y + 1  # below the header
        rows = range(top, top + table.row_count - table.scroll_offset.y)
        cursor = top + table.cursor_row - table.scroll_offset.y
        risky: list[tuple[float, float, bool]] = []
        others: list[tuple[float, float, bool]] = []
        strips = app.screen._compositor.render_strips()
        for y in (y for y in rows if y != cursor and y < table.region.bottom):
            for segment in strips[y]:
                text, style = segment.text.strip(), segment.style
                if not text or style is None or style.color is None or style.bgcolor is None:
                    continue
                fg = Color.from_rich_color(style.color).brightness
                bg = Color.from_rich_color(style.bgcolor).brightness
                kind = risky if text in ("! prod-modified", "⇅ diverged", "✗ blocked") else others
                kind.append((fg, bg, bool(style.bold)))
        assert len(risky) >= 7  # 3 prod-modified, 2 diverged, 2 blocked
        assert all(bold for _fg, _bg, bold in risky)
        assert min(fg for fg, _bg, _ in risky) > max(fg for fg, _bg, _ in others)
        assert min(bg for _fg, bg, _ in risky) > max(bg for _fg, bg, _ in others)
