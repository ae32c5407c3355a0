"""Snapshot tests of the diff and findings screens at 80x24, as a new user over SSH sees
them: side by side, moved sideways to the change with its words marked; and the findings of
code the PHI gate held back, read live and masked (the read time and the key behind the
finding ids pinned)."""

from __future__ import annotations

import pytest

from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo
from tests.test_tui_snapshots import frozen  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("utc")


def test_side_by_side_diff_at_80_columns(frozen: Demo, snap_compare) -> None:  # noqa: F811
    async def change(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.go_to("064")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("u", "n")
        await pilot.pause()

    assert snap_compare(SheetStageApp(frozen.config), terminal_size=(80, 24), run_before=change)


def test_held_back_findings_at_80_columns(
    frozen: Demo,  # noqa: F811
    snap_compare,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.inspection.utc_now", lambda: "2026-11-25T15:05:00Z")
    # finding ids are HMACs under the workspace's key, which each test session makes anew
    monkeypatch.setattr("services.workspace.Workspace.hmac_key", lambda self: b"k" * 32)

    async def findings(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.go_to("150")
        await pilot.press("i")
        await pilot.app.workers.wait_for_complete()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(SheetStageApp(frozen.config), terminal_size=(80, 24), run_before=findings)
