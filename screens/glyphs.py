"""Status words with glyphs: meaning never rests on colour alone."""

from __future__ import annotations

from rich.text import Text

from services.overview import TestsStatus
from sheetstage_tui.models import DeployStatus, DriftState, PhiStatus, TestDataStatus

DRIFT_STYLES = {
    DriftState.IN_SYNC: "green",
    DriftState.AHEAD: "cyan",
    DriftState.PROD_MODIFIED: "bold red",
    DriftState.DIVERGED: "bold magenta",
    DriftState.UNKNOWN: "yellow",
}
PHI = {
    PhiStatus.UNSCANNED: ("·", "dim"),
    PhiStatus.CLEAN: ("✓", "green"),
    PhiStatus.NEEDS_REVIEW: ("?", "yellow"),
    PhiStatus.BLOCKED: ("✗", "bold red"),
}
DEPLOY = {
    DeployStatus.NONE: ("·", "dim"),
    DeployStatus.STAGED: ("▲", "cyan"),
    DeployStatus.APPROVED: ("✓", "green"),
    DeployStatus.DEPLOYED: ("●", "green"),
}
TEST_DATA = {
    TestDataStatus.NONE: ("·", "dim"),
    TestDataStatus.SYNTHETIC: ("✓", "green"),
    TestDataStatus.REAL: ("✗", "bold red"),
}

# a failure is a badge: bold light text on red stays readable in greys (NO_COLOR turns plain
# red text into dark grey on the dark background)
TESTS = {
    TestsStatus.FAILED: ("✗", "bold white on red"),
    TestsStatus.ERROR: ("!", "yellow"),
    TestsStatus.STALE: ("~", "yellow"),
    TestsStatus.NOT_RUN: ("○", "dim"),
    TestsStatus.PASSED: ("✓", "green"),
    TestsStatus.NONE: ("·", "dim"),
}


def drift(state: DriftState) -> Text:
    return Text(f"{state.glyph} {state}", style=DRIFT_STYLES[state])


def status(table: dict, value: object) -> Text:
    glyph, style = table[value]
    return Text(f"{glyph} {value}", style=style)
