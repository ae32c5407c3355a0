"""Snapshot tests of the health and metrics panel (`m`) at 80x24 and 120x40, drawn from fixed
invented values on a bare host with the app's styles: a health report with two sharing
mistakes and a stale --batch, and twelve weeks of metrics. What the demo really reports is
tested with Pilot in tests/test_tui_health.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from screens.health import HealthScreen
from services.health import Check, HealthReport
from services.metrics import COUNT, Metric, MetricsReport
from tests.test_tui_snapshots import SIZES
from tests.test_tui_snapshots_deploy import Host

pytestmark = pytest.mark.usefixtures("utc")

REPORT = HealthReport(
    [
        Check("registry", True, "235 sheets: 470 scripts bound to their spreadsheets (parentId)"),
        Check("git", True, "git fsck: 412 commits, no damage"),
        Check("audit trail", True, "4 trail files verified, 1,208 lines (1,190 witnessed)"),
        Check("state", True, "470 projects on disk match state.json's hashes"),
        Check("api", True, "Apps Script 182 ms, Drive 97 ms, Sheets 143 ms (one call each)"),
        Check("quota", True, "the last --batch: Apps Script 940 calls, at most 310 a minute"),
        Check(
            "drive sharing",
            False,
            "sheet 057 DEV3 spreadsheet: shared with temp.helper@elsewhere.example (writer), "
            "outside the dev team",
            "in Drive, remove temp.helper@elsewhere.example from sheet 057's DEV3 spreadsheet "
            "(Share > Remove access)",
        ),
        Check(
            "drive sharing",
            False,
            "sheet 093 production spreadsheet: anyone with the link can read it",
            "in Drive, set General access of sheet 093's production spreadsheet to Restricted",
        ),
        Check("drive folders", True, "235 production spreadsheets in 1 folder, 235 DEV3 in 1"),
        Check(
            "last batch",
            False,
            "last successful --batch 2026-11-24 09:00 UTC by svc, 30 h ago, too long ago "
            "(allowed: 18 h)",
            "run `sheetstage --batch` now, and check the systemd timer",
        ),
        Check("remote", True, "backup is at the workspace's HEAD 4be1c0ffee"),
    ],
    "2026-11-25T15:00:00Z",
)
MONDAYS = [date(2026, 9, 7) + timedelta(weeks=week) for week in range(12)]
GAP: list[float | None] = [None, None]  # the trails began in the third week
METRICS = MetricsReport(
    MONDAYS[0],
    date(2026, 11, 25),
    MONDAYS,
    [
        Metric(
            "snapshot_success",
            "Snapshot success rate",
            0.9962,
            "99.6% (9,364 of 9,400 projects)",
            "> 99%",
            True,
            [*GAP, 1.0, 1.0, 0.99, 1.0, 0.98, 1.0, 1.0, 1.0, 0.995, 1.0],
        ),
        Metric(
            "deploy_frequency",
            "Deployment frequency",
            1.4,
            "1.4 a week (14 deploys in 72 days; 2 of 10 weeks without one)",
            "weekly",
            False,
            [*GAP, 2, 1, 0, 3, 2, 1, 0, 2, 1, 2],
            COUNT,
        ),
        Metric(
            "phi_false_positives",
            "PHI false positives",
            None,
            "no data (no validation in the window lists its findings)",
            "< 5%",
            None,
            [None] * 12,
        ),
        Metric(
            "rollback_frequency",
            "Rollback frequency",
            0.8,
            "0.8 a month (2 rollbacks in 72 days, 1 automatic after a failed verify)",
            "< 1 a month",
            True,
            [*GAP, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
            COUNT,
        ),
        Metric(
            "through_staging",
            "Changes through staging",
            0.64,
            "63.6% (14 deploys, 8 direct production edits)",
            "≥ 50%",
            True,
            [*GAP, 1.0, 0.5, 0.0, 0.75, 0.67, 1.0, 0.0, 0.67, 0.5, 1.0],
        ),
    ],
    left_out=["audit/kim.jsonl: line 12 does not follow line 11 (its hash chain breaks)"],
)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_health_panel(snap_compare, size: tuple[int, int]) -> None:
    async def show(pilot) -> None:
        await pilot.pause()
        await pilot.app.push_screen(HealthScreen(METRICS, REPORT))
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=show)


def test_health_panel_while_checking(snap_compare) -> None:
    async def show(pilot) -> None:
        await pilot.pause()
        await pilot.app.push_screen(HealthScreen(METRICS))
        await pilot.press("tab")  # the metrics, with the highlighted one whole below
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=(80, 24), run_before=show)
