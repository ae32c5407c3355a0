"""The diff and findings screens as a new user meets them at 80x24: the change itself in
view and marked, who edited production, code the PHI gate held back (read live, masked,
never stored), and findings that say which scan they come from."""

from __future__ import annotations

import asyncio
import subprocess

from rich.segment import Segment
from textual.widgets import DataTable, Static

from screens.diff import DiffScreen
from screens.findings import FindingsScreen
from screens.widgets.diff_view import DiffView, changed_spans
from services.emulator.seed import demo_patients, patient_tab
from services.overview import short_time
from tests.conftest import Demo
from tests.test_tui import SHEETS, app_for, sheets_screen


def rendered(view: DiffView) -> list[list[Segment]]:
    """The view's visible lines as the terminal gets them."""
    return [list(view.render_line(y)) for y in range(view.scrollable_content_region.height)]


def marked(segments: list[Segment]) -> str:
    """The text drawn bold and reversed: the changed words (visible without colour too)."""
    return "".join(s.text for s in segments if s.style and s.style.bold and s.style.reverse)


def test_changed_words_of_a_line_are_found_on_each_side() -> None:
    hotfix = "const STALE_AFTER_DAYS = 2; // hotfix, was 5;"
    left, right = changed_spans(hotfix, "const STALE_AFTER_DAYS = 5;")
    assert [hotfix[a:b] for a, b in left] == ["2; // hotfix, was "] and right == []
    assert changed_spans("send('a@x.example');", "send('b@x.example');") == ([(6, 7)], [(6, 7)])
    assert changed_spans("alpha beta", "gamma delta") == ([], [])  # nothing alike: whole line


async def test_side_by_side_at_80_columns_shows_the_change_and_who_edited_production(
    snapshotted: Demo,
) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("064")  # diverged: a production hotfix and a staged change
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        header = str(screen.query_one("#diff-header", Static).render())
        drift = next(row.drift for row in app.rows if row.sheet.number == 64)
        who, when = "someone.else@practice.example", short_time(drift.modified_at)
        assert f"production edited {when} by {who}" in header and "diverged" in header
        await pilot.press("u")  # side by side: two panes of about 20 columns of code
        await pilot.press("n")
        await pilot.pause()
        view = screen.view
        assert not view.unified and view.sideways > 0
        assert view.scroll_offset.x > 0  # moved sideways to where the change starts
        changed = [marked(line) for line in rendered(view) if marked(line)]
        assert any("hotfix" in text for text in changed), changed
        assert not any("…" in "".join(s.text for s in line) for line in rendered(view))
        assert "←→ scroll sideways" in str(screen.query_one("#diff-header", Static).render())
        x = view.scroll_offset.x
        await pilot.press("left")
        assert view.scroll_offset.x < x
        for _ in range(view.sideways // 8 + 2):
            await pilot.press("right")
        assert view.scroll_offset.x == view.sideways  # as far as the longest line goes


async def test_held_back_code_is_read_live_masked_and_never_stored(snapshotted: Demo) -> None:
    workspace = snapshotted.workspace
    git = ["git", "-C", str(workspace.root), "status", "--porcelain", "--untracked-files=all"]
    before = subprocess.run(git, capture_output=True, text=True, check=True).stdout
    raw = ("Marisol", "Quenneville", "40418827", "03/14/1961", "268-4410")  # the seed's leak
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sheets_screen(app).go_to("150")
        await pilot.press("d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        header = str(diff.query_one("#diff-header", Static).render())
        assert "LIVE DEV3" in header and "masked, not stored" in header
        code = [row.right or "" for f in diff.diff.files for row in f.rows]
        assert any("MRN *****827" in line for line in code), code  # the line to fix, masked
        assert not any(value in line for line in code for value in raw)

        await pilot.press("escape", "i")
        await app.workers.wait_for_complete()
        await pilot.pause()
        findings = app.screen
        assert isinstance(findings, FindingsScreen)
        header = str(findings.query_one("#findings-header", Static).render())
        assert "from: a scan of the live DEV3 code" in header and "masked, not stored" in header
        table = findings.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        # the live reference finds the name, and the MRN as the production patient's own
        assert {row[1] for row in rows} >= {"PRODUCTION_MATCH", "NAME"}
        assert all("block" in row[0] for row in rows)  # as `validate` says
        line = str(findings.query_one("#findings-code", Static).render())
        assert line.startswith("Code.gs:60 ") and "DEBUG_PATIENT" in line
        shown = header + line + str(rows)
        assert not any(value in shown for value in raw)
    assert not (workspace.root / "staging-sheets" / "sheet-150_DEV3").exists()
    assert subprocess.run(git, capture_output=True, text=True, check=True).stdout == before


async def test_findings_show_the_latest_validation_and_say_so(snapshotted: Demo) -> None:
    sheet = SHEETS[12]
    phone = demo_patients(sheet)[0][patient_tab(12).kinds.index("phone")]  # invented by the seed
    snapshotted.edit_script(
        sheet.dev3_script_id, f"\n// callback {phone}\n", "developer@practice.example"
    )
    snapshotted.fast_sheets()
    assert await asyncio.to_thread(snapshotted.cli, "snapshot", "--sheet", "12") in (0, 1)

    async def findings(pilot) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
        app = pilot.app
        sheets_screen(app).go_to("012")
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FindingsScreen)
        table = screen.query_one(DataTable)
        header = str(screen.query_one("#findings-header", Static).render())
        line = str(screen.query_one("#findings-code", Static).render())
        assert phone not in header + line and phone[-4:] in line  # masked, last digits kept
        await pilot.press("escape")
        return header, [str(table.get_row_at(i)[0]) for i in range(table.row_count)]

    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header, severities = await findings(pilot)
        assert "from: snapshot gate's scan" in header and "not validated yet" in header
        assert severities == [severities[0]] and "review" in severities[0]  # the gate's reading
        assert await asyncio.to_thread(snapshotted.cli, "validate", "--sheet", "12") == 1
        header, severities = await findings(pilot)
        assert "from: last validation" in header and "newer than the snapshot gate" in header
        assert severities == ["✗ block"]  # a production patient's number, as validate says
