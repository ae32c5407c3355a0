"""Snapshot tests of the sheet list as a new user meets it at 80x24 and wider: the filter and
the sort always in sight (a sort by a column the width hides says so), a production edit with
who, when and the keys that act, a sheet the PHI gate held back, and help's glyph legend.

The workspace is the snapshot tests' frozen demo; times show in America/Chicago's zone."""

from __future__ import annotations

import pytest

from screens.sheets import QUICK_FILTERS
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo
from tests.test_tui_snapshots import frozen  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("chicago")


def quick(key: str) -> int:
    return [q.key for q in QUICK_FILTERS].index(key)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_production_edits_sorted_by_a_hidden_column(
    frozen: Demo,  # noqa: F811
    snap_compare,
    size: tuple[int, int],
) -> None:
    async def production_edits(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        screen.set_quick_filter(quick("prod-modified"))
        screen.sort_by("prod_edit", True)  # the palette's "Sort by production edit", reversed
        screen.go_to("031")
        await pilot.pause()
        pilot.app.clear_notifications()  # "showing …" would cover the detail panel
        await pilot.pause()

    app = SheetStageApp(frozen.config)
    assert snap_compare(app, terminal_size=size, run_before=production_edits)


@pytest.mark.parametrize("size", [(80, 24), (130, 40)], ids=["80x24", "130x40"])
def test_a_sheet_held_back_by_the_phi_gate(
    frozen: Demo,  # noqa: F811
    snap_compare,
    size: tuple[int, int],
) -> None:
    async def held_back(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        screen.set_quick_filter(quick("unknown"))
        screen.go_to("150")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    app = SheetStageApp(frozen.config)
    assert snap_compare(app, terminal_size=size, run_before=held_back)


def test_help_ends_with_the_glyph_legend(frozen: Demo, snap_compare) -> None:  # noqa: F811
    app = SheetStageApp(frozen.config)
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark", "end"])
