"""Status words with glyphs: meaning never rests on colour alone."""

from __future__ import annotations

from rich.text import Text

from services.overview import TestsStatus
from sheetstage_tui.models import DeployStatus, DriftState, PhiStatus, TestDataStatus

# What needs someone is a badge: bold light text on a red (or magenta) ground stays the most
# visible cell in colour and in greys alike (NO_COLOR turns plain red text into dark grey on
# the dark background, dimmer than the safe states' green).
ALARM = "bold white on red"
DRIFT_STYLES = {
    DriftState.IN_SYNC: "green",
    DriftState.AHEAD: "cyan",
    DriftState.PROD_MODIFIED: ALARM,
    DriftState.DIVERGED: "bold white on magenta",
    DriftState.UNKNOWN: "yellow",
}
PHI = {
    PhiStatus.UNSCANNED: ("·", "dim"),
    PhiStatus.CLEAN: ("✓", "green"),
    PhiStatus.NEEDS_REVIEW: ("?", "yellow"),
    PhiStatus.BLOCKED: ("✗", ALARM),
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
    TestDataStatus.REAL: ("✗", ALARM),
}

TESTS = {
    TestsStatus.FAILED: ("✗", ALARM),
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
