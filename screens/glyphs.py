"""Status words with glyphs: meaning never rests on colour alone. Each glyph means one thing
in the sheet list (help's legend is built from these tables)."""

from __future__ import annotations

from rich.text import Text

from services.models import DeployStatus, DriftState, PhiStatus, TestDataStatus
from services.overview import TestsStatus, ValidationStatus

# What needs someone is a badge: bold bright white text on a red (or magenta) ground stays the
# most visible cell in colour and in greys alike (NO_COLOR turns plain red text into dark grey
# on the dark background, dimmer than the safe states' green; the theme's plain white is
# no brighter than green in greys, its bright white is the brightest text on the screen).
ALARM = "bold bright_white on red"
DRIFT_STYLES = {
    DriftState.IN_SYNC: "green",
    DriftState.AHEAD: "cyan",
    DriftState.PROD_MODIFIED: ALARM,
    DriftState.DIVERGED: "bold bright_white on magenta",
    DriftState.UNKNOWN: "yellow",
}
# a PHI finding to look at: a flag, not `?` (that is drift's unknown)
REVIEW = "⚑"
PHI = {
    PhiStatus.UNSCANNED: ("·", "dim"),
    PhiStatus.CLEAN: ("✓", "green"),
    PhiStatus.NEEDS_REVIEW: (REVIEW, "yellow"),
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

VALIDATION = {
    ValidationStatus.PASSED: ("✓", "green"),
    ValidationStatus.FAILED: ("✗", ALARM),
    ValidationStatus.STALE: ("~", "yellow"),
    ValidationStatus.NOT_RUN: ("○", "dim"),
}

# the first column: the user's mark, then the last background job's outcome for the sheet
MARKED = "■"
JOB_RUNNING, JOB_DONE, JOB_FAILED = "⟳", "✓", "✗"
MARK_COLUMN = (
    (MARKED, "marked (space)", "bold"),
    (JOB_RUNNING, "in the running job", "bold"),
    (JOB_DONE, "last job done", "bold"),
    (JOB_FAILED, "last job failed", "bold"),
)
SORT_UP, SORT_DOWN = "▲", "▼"


def drift(state: DriftState) -> Text:
    return Text(f"{state.glyph} {state}", style=DRIFT_STYLES[state])


def status(table: dict, value: object) -> Text:
    glyph, style = table[value]
    return Text(f"{glyph} {value}", style=style)


def legend() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Every glyph of the sheet list, by column: (title, [(glyph, meaning, style)])."""

    def entries(table: dict) -> list[tuple[str, str, str]]:
        return [(glyph, str(value), style) for value, (glyph, style) in table.items()]

    return [
        ("Drift", [(s.glyph, str(s), DRIFT_STYLES[s]) for s in DriftState]),
        ("PHI", entries(PHI)),
        ("Deploy", entries(DEPLOY)),
        ("Tests", entries(TESTS)),
        ("Test data", entries(TEST_DATA)),
        ("Validation", entries(VALIDATION)),
        ("First column", list(MARK_COLUMN)),
        ("Sort", [(SORT_UP, "ascending", "bold"), (SORT_DOWN, "descending (O)", "bold")]),
    ]
