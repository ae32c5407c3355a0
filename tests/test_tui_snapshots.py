"""Snapshot tests of the main screen, the diff screen and help at 80x24 and 120x40.

The workspace is the demo after one --batch, with its snapshot times pinned and the user
named `pm`, so the pictures do not depend on the clock or on who runs the tests."""

from __future__ import annotations

import json
import subprocess

import pytest

from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def frozen(snapshotted: Demo, monkeypatch: pytest.MonkeyPatch) -> Demo:
    state_path = snapshotted.workspace.state_path
    state = json.loads(state_path.read_text())
    for record in state["sheets"].values():
        for env in ("production", "staging"):
            if "snapshot_at" in record.get(env, {}):
                record[env]["snapshot_at"] = "2026-11-25T15:00:00Z"
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    roles = snapshotted.workspace.roles_path
    roles.write_text('developer = []\npractice_manager = ["pm"]\nservice_account = []\n')
    roles.chmod(0o644)
    git = ["git", "-C", str(roles.parent), "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "commit", "-qm", "roles: pm", "--", "roles.toml"], check=True)
    monkeypatch.setattr("services.access.current_user", lambda: "pm")
    return snapshotted


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.usefixtures("chicago")
def test_main_screen(frozen: Demo, snap_compare, size: tuple[int, int]) -> None:
    async def highlight(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.go_to("031")
        await pilot.pause()

    assert snap_compare(SheetStageApp(frozen.config), terminal_size=size, run_before=highlight)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.usefixtures("utc")  # the header says when production was edited
def test_diff_screen(frozen: Demo, snap_compare, size: tuple[int, int]) -> None:

    async def open_diff(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.go_to("064")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(SheetStageApp(frozen.config), terminal_size=size, run_before=open_diff)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.usefixtures("chicago")
def test_help_screen(frozen: Demo, snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(SheetStageApp(frozen.config), terminal_size=size, press=["question_mark"])
