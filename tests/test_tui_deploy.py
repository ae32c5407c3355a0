"""The practice manager's path in the TUI, driven with Pilot on the demo (emulator over real
HTTP, real git): request review, approve with a typed `yes`, deploy with the steps live,
roll back, the ways back for production edited outside sheetstage, and the activity screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from screens.activity import ActivityScreen
from screens.deploy import ApprovalScreen, ConfirmScreen, ReasonScreen, StepsScreen
from screens.rollback import RollbackScreen
from screens.sheets import SheetsScreen
from services.emulator.seed import STAGED, demo_sheets
from services.state import State
from sheetstage_tui.app import SheetStageApp
from tests.conftest import Demo

SHEETS = {s.number: s for s in demo_sheets()}


async def until(pilot: Pilot, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "timed out waiting for the TUI"
        await pilot.pause(0.05)


@pytest.fixture(autouse=True)
def _no_sheets_pacing(snapshotted: Demo) -> None:
    snapshotted.fast_sheets()


async def settled(pilot: Pilot, app: SheetStageApp) -> None:
    """Back on the sheet list with no change to production in flight."""
    await until(
        pilot,
        lambda: (
            isinstance(app.screen, SheetsScreen)
            and not any(w.is_running for w in app.workers if w.group == "production")
        ),
    )


def app_for(demo: Demo, as_user: str = "") -> SheetStageApp:
    return SheetStageApp(demo.config, as_user=as_user)


def text_of(app: SheetStageApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def notifications(app: SheetStageApp) -> str:
    return "\n".join(n.message for n in app._notifications)


def trail_actions(demo: Demo, person: str | None = None) -> list[tuple[str, tuple[int, ...], str]]:
    return [(e["action"], tuple(e["sheets"]), e["result"]) for e in demo.trail(person)]


async def go_to(pilot: Pilot, app: SheetStageApp, number: int) -> None:
    await until(pilot, lambda: isinstance(app.screen, SheetsScreen))
    app.screen.go_to(f"{number:03d}")  # type: ignore[attr-defined]
    await pilot.pause()


async def type_yes(pilot: Pilot, app: SheetStageApp, answer: str = "yes") -> None:
    """As a person does it: Cancel has the focus; shift+tab twice reaches the field."""
    screen = app.screen
    assert isinstance(screen, ApprovalScreen)
    await until(pilot, lambda: screen.proposal is not None)
    assert screen.focused is screen.query_one("#approval-cancel", Button)
    await pilot.press("shift+tab", "shift+tab")
    assert screen.focused is screen.query_one("#approval-input", Input)
    await pilot.press(*answer, "enter")


async def finished_steps(pilot: Pilot, app: SheetStageApp) -> StepsScreen:
    await until(pilot, lambda: isinstance(app.screen, StepsScreen) and app.screen.finished)
    screen = app.screen
    assert isinstance(screen, StepsScreen)
    return screen


def step_marks(screen: StepsScreen) -> dict[str, str]:
    table = screen.query_one("#steps-table", DataTable)
    return {
        str(table.get_cell(key, "step")): str(table.get_cell(key, "mark")) for key in table.rows
    }


async def test_approve_with_yes_then_deploy_shows_the_seven_steps_and_rolls_back(
    snapshotted: Demo,
) -> None:
    number = STAGED[0]
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to(pilot, app, number)

        await pilot.press("a")  # Escape aborts: nothing recorded
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: app.screen.proposal is not None)  # type: ignore[attr-defined]
        summary = text_of(app, "#approval-summary")
        assert "requested by dana" in summary and "risk summary" in summary
        assert "diff: " in summary
        await pilot.press("escape")
        await settled(pilot, app)
        assert "not approved" in notifications(app)

        await pilot.press("a")  # a lone enter presses Cancel, the default
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: app.screen.proposal is not None)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settled(pilot, app)

        await pilot.press("a")  # anything but `yes` aborts too (typed without tabbing)
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: app.screen.proposal is not None)  # type: ignore[attr-defined]
        await pilot.press("y", "enter")
        await settled(pilot, app)
        assert "not approved" in notifications(app)
        assert ("approve", (number,), "ok") not in trail_actions(snapshotted)

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await type_yes(pilot, app)
        await until(pilot, lambda: f"approved sheet {number:03d}" in notifications(app))
        assert ("approve", (number,), "ok") in trail_actions(snapshotted)

        await pilot.press("D")  # approved: a plain confirmation, Cancel first
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused is app.screen.query_one("#confirm-cancel", Button)
        await pilot.press("shift+tab", "enter")
        steps = await finished_steps(pilot, app)
        assert step_marks(steps) == dict.fromkeys(
            ("validate", "diff", "approve", "backup", "deploy", "verify", "log"), "✓"
        )
        assert "deployed" in text_of(app, "#steps-status")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SheetsScreen))
        assert State.load(snapshotted.workspace).data["sheets"][f"{number:03d}"]["deploy"] == (
            "deployed"
        )

        await pilot.press("b")  # the backup the deploy took, newest first
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        points = app.screen.query_one(DataTable)
        assert points.row_count == 1
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: app.screen.proposal is not None)  # type: ignore[attr-defined]
        assert "rollback to prod-backup-" in text_of(app, "#approval-summary")
        await type_yes(pilot, app)
        steps = await finished_steps(pilot, app)
        assert step_marks(steps)["deploy"] == "✓" and step_marks(steps)["verify"] == "✓"
        assert "restored" in text_of(app, "#steps-status")
        await pilot.press("escape")

        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        assert "before rollback" in str(app.screen.query_one(DataTable).get_cell_at((0, 5)))
        await pilot.press("escape", "l")  # both in the activity screen, newest first
        await until(pilot, lambda: isinstance(app.screen, ActivityScreen))
        table = app.screen.query_one(DataTable)
        actions = [str(table.get_cell_at((row, 2))) for row in range(table.row_count)]
        assert actions.index("rollback") < actions.index("deploy") < actions.index("approve")
        assert "audit trail intact" in text_of(app, "#activity-banner")


async def test_refusals_say_why_in_the_modal(snapshotted: Demo) -> None:
    app = app_for(snapshotted, as_user="dana")  # dana requested the staged reviews
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to(pilot, app, STAGED[1])
        await pilot.press("a")  # a developer may not approve: refused before anything opens
        await until(pilot, lambda: "approve" in notifications(app))
        assert isinstance(app.screen, SheetsScreen)
        await pilot.press("R")  # but asks for a review of staging as it is now
        await until(
            pilot, lambda: f"review requested for sheet {STAGED[1]:03d}" in notifications(app)
        )
        assert ("request-review", (STAGED[1],), "ok") in trail_actions(snapshotted, "dana")
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to(pilot, app, 0)  # in sync: nobody asked for a review
        await pilot.press("a")
        await until(pilot, lambda: "refused" in text_of(app, "#approval-summary"))
        assert "no review request" in text_of(app, "#approval-summary")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SheetsScreen))


async def test_marked_sheets_deploy_only_what_was_approved_and_end_with_a_table(
    snapshotted: Demo,
) -> None:
    approved, unapproved = STAGED[1], STAGED[2]
    app = app_for(snapshotted)
    async with app.run_test(size=(120, 40)) as pilot:
        await go_to(pilot, app, unapproved)  # nothing approved among the marks: said at once
        await pilot.press("space", "D")
        await finished_steps(pilot, app)
        assert "refused  no approval" in text_of(app, "#steps-status")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SheetsScreen))
        await pilot.press("escape", "escape")  # the marks go
        await go_to(pilot, app, approved)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await type_yes(pilot, app)
        await until(pilot, lambda: f"approved sheet {approved:03d}" in notifications(app))
        await pilot.press("space")
        await go_to(pilot, app, unapproved)
        await pilot.press("space", "D")
        steps = await finished_steps(pilot, app)
        board = steps.query_one("#steps-results", DataTable)
        outcomes = {
            str(board.get_cell_at((row, 0))): str(board.get_cell_at((row, 1)))
            for row in range(board.row_count)
        }
        assert outcomes == {f"{approved:03d}": "deployed", f"{unapproved:03d}": "refused"}
        assert "no approval" in str(board.get_cell(f"{unapproved:03d}", "detail"))


async def test_production_edits_accept_with_a_reason_and_adopt(snapshotted: Demo) -> None:
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to(pilot, app, 31)  # prod-modified
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ReasonScreen))
        await pilot.press("enter")  # no reason: asked again, nothing recorded
        assert "a reason is needed" in text_of(app, "#reason-status")
        await pilot.press(*"hotfix agreed by phone", "enter")
        await until(pilot, lambda: "accepted" in notifications(app))
        assert ("accept", (31,), "ok") in trail_actions(snapshotted)

        await go_to(pilot, app, 64)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # Cancel has the focus: enter cancels
        await pilot.pause()
        assert not [a for a in trail_actions(snapshotted) if a[0] == "adopt"]
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("shift+tab", "enter")
        await until(pilot, lambda: any(a[0] == "adopt" for a in trail_actions(snapshotted)))
        await asyncio.sleep(0)


async def test_a_stale_approval_stops_the_deploy_and_says_why(snapshotted: Demo) -> None:
    from services import deploy
    from services.session import session

    number = STAGED[3]
    with session(snapshotted.config) as opened:
        deploy.approve(opened, str(number), lambda proposal: True)
    snapshotted.edit_script(SHEETS[number].dev3_script_id, "\n// one more line\n", "dana")
    app = app_for(snapshotted)
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to(pilot, app, number)
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("shift+tab", "enter")
        await finished_steps(pilot, app)
        status = text_of(app, "#steps-status")
        assert "refused" in status and "stale (staging has changed since)" in status
    assert not [a for a in trail_actions(snapshotted) if a[0] == "deploy"]
