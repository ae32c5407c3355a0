"""Snapshot tests of the practice manager's screens at 80x24 and 120x40: the approval modal
(a real proposal of the demo), the live steps, the rollback screen and the activity screen.

Steps, backup points and trail lines carry times and timings, so those three pictures are
drawn from fixed (invented) values; what a real deploy puts there is tested with Pilot in
tests/test_tui_deploy.py."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from textual.app import App

from screens.activity import ActivityScreen
from screens.deploy import StepsScreen
from screens.rollback import RollbackScreen
from services.activity import ActiveAlert, Activity
from services.deploy import DeployResult, Step, StepOutcome
from services.emulator.seed import STAGED, demo_sheets
from services.models import Environment
from services.rollback import BackupPoint
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo
from tests.test_tui_snapshots import SIZES, frozen  # noqa: F401 (a fixture)

SHEETS = {s.number: s for s in demo_sheets()}
APP_STYLES = Path(__file__).resolve().parents[1] / "sheetstage_tui" / "app.tcss"


class Host(App[None]):
    """A screen alone on the app's styles: pictures drawn from fixed values need no
    workspace (and no second of copying one)."""

    CSS_PATH = str(APP_STYLES)


SHEET = SHEETS[STAGED[0]]


pytestmark = pytest.mark.usefixtures("utc")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_approval_modal(frozen: Demo, snap_compare, size: tuple[int, int]) -> None:  # noqa: F811
    frozen.fast_sheets()
    roles = frozen.workspace.roles_path  # dana's review request counts again
    roles.write_text(roles.read_text().replace("developer = []", 'developer = ["dana"]'))
    git = ["git", "-C", str(roles.parent), "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "commit", "-qm", "roles: dana", "--", "roles.toml"], check=True)

    async def ask(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.go_to(SHEET.key)
        await pilot.press("a")
        deadline = time.monotonic() + 60
        while getattr(pilot.app.screen, "proposal", None) is None:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(SheetStageApp(frozen.config), terminal_size=size, run_before=ask)


STEP_DETAILS = {
    Step.VALIDATE: (0.8, "PHI clean, manifest and syntax valid; no staging tests (passes)"),
    Step.DIFF: (0.0, "1 file changed, +12 -0"),
    Step.APPROVE: (0.0, "approval pm:7 of dana's request dana:4"),
    Step.BACKUP: (0.6, f"prod-backup-20261125T150000Z-sheet-{SHEET.key}"),
    Step.DEPLOY: (0.3, "updateContent: 3 files"),
    Step.VERIFY: (0.5, "production hash 4be1c0ffee12 as deployed"),
}


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_steps(snap_compare, size: tuple[int, int]) -> None:
    async def steps(pilot) -> None:
        await pilot.pause()
        screen = StepsScreen(f"Deploy sheet {SHEET.key} to production", [SHEET.key])
        await pilot.app.push_screen(screen)
        for step, (seconds, detail) in STEP_DETAILS.items():
            screen.step_done(SHEET.key, StepOutcome(step, True, detail), seconds)
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=steps)


@pytest.mark.parametrize("size", SIZES[:1], ids=["80x24"])
def test_deploy_results(snap_compare, size: tuple[int, int]) -> None:
    other = SHEETS[STAGED[2]]

    async def results(pilot) -> None:
        await pilot.pause()
        screen = StepsScreen("Deploy 2 sheets to production, one after another", [SHEET.key])
        await pilot.app.push_screen(screen)
        for step, (seconds, detail) in STEP_DETAILS.items():
            screen.step_done(SHEET.key, StepOutcome(step, True, detail), seconds)
        screen.step_done(SHEET.key, StepOutcome(Step.LOG, True, "trail and Deployments"), 0.4)
        tag = STEP_DETAILS[Step.BACKUP][1]
        screen.done(
            [
                DeployResult(SHEET, "deployed", "deployed and verified", 0, backup_tag=tag),
                DeployResult(other, "refused", "no approval: approve it first (a)", 5),
            ]
        )
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=results)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_rollback_screen(snap_compare, size: tuple[int, int]) -> None:
    points = [
        BackupPoint(
            f"prod-backup-2026112{day}T150000Z-sheet-{SHEET.key}",
            Environment.PRODUCTION,
            SHEET.number,
            f"2026-11-2{day}T15:00:00Z",
            "pm",
            why,
            digest * 16,
            "0" * 40,
        )
        for day, why, digest in (
            (5, "before deploy of staging 1f3a9c0d2b4e", "4be1"),
            (3, "before rollback to prod-backup-20261120T090000Z", "77ac"),
        )
    ]

    async def show(pilot) -> None:
        await pilot.pause()
        await pilot.app.push_screen(RollbackScreen(points, SHEET.key))
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_activity_screen(snap_compare, size: tuple[int, int]) -> None:
    number = SHEET.number
    lines = [
        Activity(
            f"2026-11-25T15:0{minute}:00Z",
            who,
            action,
            (number,),
            result,
            detail,
            f"audit/{who}.jsonl",
            who != "mallory",
        )
        for minute, who, action, result, detail in (
            (6, "pm", "rollback", "ok", "production restored to prod-backup-…"),
            (4, "pm", "deploy", "ok", "deployed staging 1f3a9c0d2b4e, verified"),
            (3, "mallory", "approve", "ok", "a line in a trail that does not verify"),
            (2, "pm", "approve", "ok", "approved 1 file changed, +12 -0 requested by dana"),
            (1, "dana", "request-review", "ok", "review requested"),
        )
    ]
    alerts = [ActiveAlert("2026-11-25T14:00:00Z", "prod-modified", (31,), "edited by kim")]

    async def show(pilot) -> None:
        await pilot.pause()
        verified = "audit trail broken in audit/mallory.jsonl: no approval of its owner counts"
        await pilot.app.push_screen(ActivityScreen(lines, alerts, verified, False))
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=show)
