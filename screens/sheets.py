"""The sheet list: all sheets at a glance, triage (filter, quick filters, sort, marks), the
detail panel, and the background snapshot's progress."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rapidfuzz.distance import OSA
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from screens import glyphs
from screens.stage import StageScreen
from services.drift import DRIFTED
from services.models import DeployStatus, DriftState, PhiStatus
from services.overview import HELD_BACK, SheetRow, TestsStatus, short_time

DRIFT_ORDER = {
    DriftState.PROD_MODIFIED: 0,
    DriftState.DIVERGED: 1,
    DriftState.UNKNOWN: 2,
    DriftState.AHEAD: 3,
    DriftState.IN_SYNC: 4,
}
TESTS_ORDER = {
    TestsStatus.FAILED: 0,
    TestsStatus.ERROR: 1,
    TestsStatus.STALE: 2,
    TestsStatus.NOT_RUN: 3,
    TestsStatus.PASSED: 4,
    TestsStatus.NONE: 5,
}
TESTS_FAILING = (TestsStatus.FAILED, TestsStatus.ERROR)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # 0: takes the room that is left
    min_terminal: int  # shown from this terminal width on
    cell: Callable[[SheetRow], Text | str]
    sort: Callable[[SheetRow], object]


COLUMNS: tuple[Column, ...] = (
    Column("number", "#", 3, 0, lambda r: r.sheet.key, lambda r: r.sheet.number),
    Column("name", "Name", 0, 0, lambda r: r.sheet.name, lambda r: r.sheet.name.lower()),
    Column(
        "drift",
        "Drift",
        15,
        0,
        lambda r: glyphs.drift(r.drift.state),
        lambda r: DRIFT_ORDER[r.drift.state],
    ),
    Column("phi", "PHI", 14, 0, lambda r: glyphs.status(glyphs.PHI, r.phi), lambda r: str(r.phi)),
    Column(
        "deploy",
        "Deploy",
        10,
        0,
        lambda r: glyphs.status(glyphs.DEPLOY, r.deploy),
        lambda r: str(r.deploy),
    ),
    Column(
        "tests",
        "Tests",
        9,
        90,
        lambda r: glyphs.status(glyphs.TESTS, r.tests),
        lambda r: TESTS_ORDER[r.tests],
    ),
    Column(
        "test_data",
        "Test data",
        11,
        110,
        lambda r: glyphs.status(glyphs.TEST_DATA, r.test_data),
        lambda r: str(r.test_data),
    ),
    Column(
        "snapshot",
        "Last snapshot",
        len(HELD_BACK),  # a local time with its zone takes 20
        130,
        lambda r: r.snapshot_text,
        lambda r: r.last_snapshot,
    ),
    Column(
        "prod_edit",
        "Production edit",
        33,
        170,
        lambda r: r.prod_edit,
        lambda r: r.drift.modified_at,
    ),
)
MIN_NAME = 18
MIN_SIZE = (60, 16)  # below it the list has no room for a row and its detail
TALL = 34  # from this height the detail panel shows every line (ids and files too)
PROD_EDITED = (DriftState.PROD_MODIFIED, DriftState.DIVERGED)


@dataclass(frozen=True)
class QuickFilter:
    key: str
    label: str
    keep: Callable[[SheetRow, set[str]], bool]


def drift_filter(state: DriftState, label: str) -> QuickFilter:
    """A quick filter of one drift state: the same test the banner counts that state with."""
    return QuickFilter(str(state), label, lambda r, m: r.drift.state is state)


QUICK_FILTERS: tuple[QuickFilter, ...] = (
    QuickFilter("all", "all sheets", lambda r, m: True),
    QuickFilter(
        "drifted", "drifted (ahead, prod-modified, diverged)", lambda r, m: r.drift.state in DRIFTED
    ),
    drift_filter(DriftState.PROD_MODIFIED, "prod-modified: production edited outside sheetstage"),
    drift_filter(
        DriftState.DIVERGED, "diverged: production edited outside sheetstage, staging changed too"
    ),
    drift_filter(DriftState.AHEAD, "deployment candidates (ahead)"),
    QuickFilter(
        "in-review",
        "sheets in review (staged: a approves · approved: D deploys)",
        lambda r, m: r.deploy in (DeployStatus.STAGED, DeployStatus.APPROVED),
    ),
    drift_filter(DriftState.UNKNOWN, "unknown or failed"),
    QuickFilter("blocked", "PHI blocked", lambda r, m: r.phi is PhiStatus.BLOCKED),
    QuickFilter(
        "tests-failing",
        "staging tests failing or not runnable",
        lambda r, m: r.tests in TESTS_FAILING,
    ),
    QuickFilter("marked", "marked sheets", lambda r, m: r.sheet.key in m),
)


def matches(query: str, row: SheetRow) -> bool:
    """A number (7 = 007), an id or its part, or name words: each query word must be a word of
    the name, the start of one, or either with one typo (a word of 4+ letters), so "lake prior"
    finds "Lakeview — Prior Authorization" and "lakevew billng" "Lakeview — Billing Claims"."""
    sheet = row.sheet
    text = query.strip().lower()
    if not text:
        return True
    if text.isdigit():
        return sheet.key == text.zfill(3) or sheet.key.startswith(text)
    ids = (
        sheet.prod_spreadsheet_id,
        sheet.prod_script_id,
        sheet.dev3_spreadsheet_id,
        sheet.dev3_script_id,
    )
    if len(text) >= 6 and any(text in i.lower() for i in ids):
        return True
    name = f"{sheet.key} {sheet.name}".lower()
    words = re.findall(r"\w+", name)
    return all(_word_matches(word, name, words) for word in text.split())


def _word_matches(word: str, name: str, words: Sequence[str]) -> bool:
    if word in name:
        return True
    if len(word) < 4:
        return False
    # one typo (a transposition counts as one) against a whole word or its start
    return any(
        OSA.distance(word, candidate) <= 1
        for w in words
        for candidate in (w, w[: len(word)], w[: len(word) + 1])
    )


class SheetsScreen(StageScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", tooltip="Filter by number, name or id (fuzzy)"),
        Binding(
            "f",
            "quick_filter",
            "Quick",
            tooltip="Next quick filter: "
            + ", ".join(q.key for q in (*QUICK_FILTERS[1:], QUICK_FILTERS[0])),
        ),
        Binding("o", "sort", "Sort", tooltip="Sort by the next column (click a header too)"),
        Binding("O", "reverse_sort", "Reverse the sort", show=False),
        Binding(
            "space",
            "mark",
            "Mark",
            show=False,
            tooltip="Mark or unmark the sheet for a batch action (s)",
        ),
        Binding("d,enter", "diff", "Diff", tooltip="Diff production -> staging of the sheet"),
        Binding(
            "v",
            "validate",
            "Validate",
            tooltip="Validate the marked sheets, or the highlighted one (PHI, ids, syntax)",
        ),
        Binding(
            "i",
            "findings",
            "Findings",
            show=False,
            tooltip="The highlighted sheet's PHI findings (enter: diff at that line)",
        ),
        Binding(
            "t",
            "run_tests",
            "Tests",
            show=False,  # the footer is full at 80 columns; the detail panel names the key
            tooltip="Run the staging tests of the marked sheets, or the highlighted one "
            "(DEV3 code on DEV3 data)",
        ),
        Binding(
            "g",
            "generate_test_data",
            "Test data",
            show=False,
            tooltip="Fill the marked sheets', or the highlighted one's, DEV3 ranges with "
            "synthetic patients (asks how many)",
        ),
        Binding(
            "s",
            "snapshot",
            "Snapshot",
            tooltip="Snapshot the marked sheets, or the highlighted one",
        ),
        Binding("S", "snapshot_all", "Snapshot all", show=False),
        Binding(
            "R",
            "request_review",
            "Request review",
            show=False,
            tooltip="Ask a practice manager to review staging against production as they are",
        ),
        Binding(
            "a",
            "approve",
            "Approve",
            show=False,
            tooltip="Approve the highlighted sheet's reviewed change (practice manager, types yes)",
        ),
        Binding(
            "D",
            "deploy",
            "Deploy",
            show=False,
            tooltip="Deploy the highlighted sheet (approving inline), or the marked approved ones",
        ),
        Binding(
            "b",
            "rollback_points",
            "Backups",
            show=False,
            tooltip="Backup points of the highlighted sheet: diff against production, roll back",
        ),
        Binding(
            "A",
            "adopt",
            "Adopt",
            show=False,
            tooltip="Production was edited outside sheetstage: copy the edit into DEV3",
        ),
        Binding(
            "X",
            "revert",
            "Revert",
            show=False,
            tooltip="Production was edited outside sheetstage: roll it back to the last deploy",
        ),
        Binding(
            "c",
            "accept",
            "Accept",
            show=False,
            tooltip="Production was edited outside sheetstage: make it the baseline (a reason)",
        ),
        Binding(
            "l",
            "activity",
            "Activity",
            show=False,
            tooltip="The merged audit trails and the alerts, newest first",
        ),
        Binding(
            "m",
            "health",
            "Health",
            show=False,
            tooltip="Health checks, each failing one with its fix, and the five metrics",
        ),
        Binding("r", "reload", "Reload from the workspace", show=False),
        Binding("escape", "clear", "Clear the filter, then quick filter, then marks", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.quick = 0
        self.sort_key = "number"
        self.sort_reverse = False
        self.marked: set[str] = set()
        self.job_marks: dict[str, str] = {}
        self._columns: tuple[Column, ...] = ()
        self._name_width = MIN_NAME
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        yield Input(
            placeholder="filter: number, name or id · enter keeps it · esc clears", id="filter"
        )
        yield DataTable(id="sheets", cursor_type="row", zebra_stripes=True)
        yield Static(id="detail")
        width, height = MIN_SIZE
        yield Static(f"terminal too small (needs {width}x{height})", id="too-small")
        with Horizontal(id="jobbar"):
            yield Label(id="job-label")
            yield ProgressBar(id="job-progress", show_eta=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#jobbar").display = False
        self.refresh_rows()
        self.query_one(DataTable).focus()

    # rows ----------------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#sheets", DataTable)

    def visible_rows(self) -> list[SheetRow]:
        keep = QUICK_FILTERS[self.quick].keep
        rows = [r for r in self.stage.rows if keep(r, self.marked) and matches(self.query_text, r)]
        column = next(c for c in COLUMNS if c.key == self.sort_key)
        rows.sort(key=lambda r: (column.sort(r), r.sheet.number), reverse=self.sort_reverse)
        return rows

    def _fitting_columns(self) -> tuple[tuple[Column, ...], int]:
        """The columns that fit the terminal (more when wider) and the name column's width."""
        width = self.app.size.width
        columns = tuple(c for c in COLUMNS if width >= c.min_terminal)
        fixed = sum(c.width for c in columns if c.width) + 2 * (len(columns) + 1) + 2 + 3
        return columns, max(MIN_NAME, width - fixed)

    def _choose_columns(self) -> None:
        table = self.table
        columns, name_width = self._fitting_columns()
        if columns != self._columns or name_width != self._name_width or not table.columns:
            self._columns, self._name_width = columns, name_width
            table.clear(columns=True)
            self._shown = []
            table.add_column(" ", key="mark", width=2)
            for c in columns:
                table.add_column(self._column_label(c), key=c.key, width=c.width or name_width)
            return
        for c in columns:
            table.columns[ColumnKey(c.key)].label = Text(self._column_label(c))
        table.refresh()

    def _column_label(self, column: Column) -> str:
        return column.label + (f" {self._arrow}" if column.key == self.sort_key else "")

    @property
    def _arrow(self) -> str:
        return glyphs.SORT_DOWN if self.sort_reverse else glyphs.SORT_UP

    def _mark_cell(self, key: str) -> Text:
        mark = glyphs.MARKED if key in self.marked else " "
        job = self.job_marks.get(key, "")
        return Text(mark + job, style="bold")

    def refresh_rows(self, rebuild: bool = True) -> None:
        """Show the visible rows, keeping the cursor on the same sheet.

        Without `rebuild` (typing in the filter) the table is left alone while the filter
        still shows the same sheets: re-adding rows makes DataTable render every cell again."""
        table = self.table
        rows = self.visible_rows()
        keys = [r.sheet.key for r in rows]
        if rebuild or keys != self._shown:
            current = self.current_key()
            self._choose_columns()
            table.clear()
            for row in rows:
                key = row.sheet.key
                table.add_row(self._mark_cell(key), *[c.cell(row) for c in self._columns], key=key)
            self._shown = keys
            if current is not None and current in table.rows:
                table.move_cursor(row=table.get_row_index(current), animate=False)
        self.update_banner()
        self.update_detail()

    def current_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except CellDoesNotExist:
            return None

    def current_row(self) -> SheetRow | None:
        key = self.current_key()
        return next((r for r in self.stage.rows if r.sheet.key == key), None)

    def selected_keys(self) -> list[str]:
        """Marked sheets, or the highlighted one."""
        if self.marked:
            return sorted(self.marked)
        key = self.current_key()
        return [key] if key else []

    def on_resize(self) -> None:
        width, height = MIN_SIZE
        self.set_class(self.size.width < width or self.size.height < height, "-too-small")
        self.set_class(self.size.height >= TALL, "-tall")
        if self._fitting_columns() != (self._columns, self._name_width):
            self.refresh_rows()
        else:
            self.update_banner()  # its second line fits the width

    # banner and detail ---------------------------------------------------------------------

    def update_banner(self) -> None:
        """Line one: who may do what, and the sheets in each drift state. Line two: what the
        list shows (quick filter, filter, marks, sort), shortened to fit 80 columns."""
        stage = self.stage
        counts = Text()
        tally = {state: 0 for state in DriftState}
        for row in stage.rows:
            tally[row.drift.state] += 1
        for state in DriftState:
            counts.append(f" {state.glyph}{tally[state]}", style=glyphs.DRIFT_STYLES[state])
        view = self._view_line(compact=False)
        if view.cell_len > self.app.size.width - 1:
            view = self._view_line(compact=True)
        banner = Text.assemble(stage.banner(), counts, "\n", view)
        self.query_one("#banner", Static).update(banner)

    def _view_line(self, compact: bool) -> Text:
        quick = QUICK_FILTERS[self.quick].key
        shown = f"{self.table.row_count}/{len(self.stage.rows)}"
        view = Text(f" {shown}" if compact else f" {shown} shown")
        view.append(" · f " if compact else " · quick filter: ", style="dim")
        view.append(quick, style="bold" if quick != "all" else "")
        if self.query_text:
            room = 10 if compact else 20
            query = (
                self.query_text if len(self.query_text) <= room else self.query_text[:room] + "…"
            )
            view.append(" · " if compact else " · filter: ", style="dim")
            view.append(f"/{query}", style="bold")
        if self.marked:
            view.append(" · ", style="dim")
            marked = (
                f"{glyphs.MARKED}{len(self.marked)}" if compact else f"{len(self.marked)} marked"
            )
            view.append(marked, style="bold")
        column = next(c for c in COLUMNS if c.key == self.sort_key)
        view.append(" · o " if compact else " · sort: ", style="dim")
        view.append(f"{column.label} {self._arrow}", style="bold")
        if column not in self._columns:
            hidden = "hidden" if compact else f"column shown from {column.min_terminal} columns"
            view.append(f" ({hidden})", style="bold")
        return view

    def update_detail(self) -> None:
        row = self.current_row()
        detail = self.query_one("#detail", Static)
        if row is None:
            detail.update(Text("No sheet matches. esc clears the filter.", style="dim"))
            return
        sheet, drift = row.sheet, row.drift
        lines = [
            Text.assemble((f"{sheet.key} {sheet.name}", "bold"), f"   owner {sheet.owner or '—'}")
        ]
        if drift.state in PROD_EDITED:
            why = (
                "production edited outside sheetstage"
                if drift.state is DriftState.PROD_MODIFIED
                else "both changed: production outside sheetstage, and staging"
            )
            who = drift.modified_by or "an unknown user"
            when = short_time(drift.modified_at) or "an unknown time"
            lines.append(Text.assemble(glyphs.drift(drift.state), f"  {why}"))
            lines.append(Text.assemble("production edited by ", (who, "bold"), f" at {when}"))
        elif row.held_back and drift.state is DriftState.UNKNOWN:
            why = "  staging code held back by the PHI gate (not in the workspace)"
            lines.append(Text.assemble(glyphs.drift(drift.state), why))
        else:
            lines.append(Text.assemble(glyphs.drift(drift.state), f"  {drift.reason}"))
        lines.append(self._keys_line(row))
        glyph, style = glyphs.VALIDATION[row.validation]
        lines.append(Text.assemble("validation ", (f"{glyph} {row.validation_note}", style)))
        lines.append(self._tests_line(row))
        staging = HELD_BACK if row.held_back else short_time(row.snapshot_staging) or "never"
        snapshots = Text(
            f"snapshot PROD {short_time(row.snapshot_production) or 'never'} · DEV3 {staging}"
        )
        if row.last_deploy:
            snapshots.append(f" · deployed {short_time(row.last_deploy)}")
        lines.append(snapshots)
        lines.append(Text(f"test data {row.test_data_note}"))
        for env, spreadsheet, script in (
            ("PROD", sheet.prod_spreadsheet_id, sheet.prod_script_id),
            ("DEV3", sheet.dev3_spreadsheet_id, sheet.dev3_script_id),
        ):
            lines.append(Text(f"{env}  sheet {spreadsheet}  script {script}"))
        files = self.stage.project_files(sheet)
        shown = ", ".join(files[:6]) + (f" (+{len(files) - 6})" if len(files) > 6 else "")
        lines.append(Text(f"files {shown or '— not snapshotted yet'}"))
        detail.update(Text("\n").join(lines))

    @staticmethod
    def _keys_line(row: SheetRow) -> Text:
        """The keys that act on this sheet in its state, most pressing first."""
        keys: list[tuple[str, str]] = []
        if row.drift.state in PROD_EDITED:
            keys += [("A", "adopt into DEV3"), ("X", "revert production")]
            keys += [("c", "accept with a reason")]
        elif row.deploy is DeployStatus.APPROVED:
            keys += [("D", "deploy (approved)"), ("d", "diff")]
        elif row.deploy is DeployStatus.STAGED:
            keys += [("a", "approve (review requested)"), ("d", "diff")]
        elif row.drift.state is DriftState.AHEAD:
            keys += [("R", "request review"), ("v", "validate"), ("d", "diff")]
        elif row.held_back:
            keys += [("d", "diff"), ("v", "validate")]
        elif row.drift.state is DriftState.UNKNOWN:
            keys += [("s", "snapshot again")]
        if row.phi in (PhiStatus.BLOCKED, PhiStatus.NEEDS_REVIEW):
            keys.insert(0, ("i", "findings"))
        keys.append(("b", "backups"))
        if len(keys) < 4:
            keys.append(("l", "activity"))
        line = Text()
        for index, (key, what) in enumerate(keys):
            if index:
                line.append(" · ", style="dim")
            line.append(key, style="bold reverse")
            line.append(f" {what}")
        return line

    @staticmethod
    def _tests_line(row: SheetRow) -> Text:
        glyph, style = glyphs.TESTS[row.tests]
        return Text.assemble("tests ", (f"{glyph} {row.tests_note}", style))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.update_detail()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == "mark":
            return
        self.sort_by(key)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_diff()

    # filter --------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.query_text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.refresh_rows(rebuild=False)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#filter", Input).display = False  # the banner shows what it keeps
        self.table.focus()

    def action_clear(self) -> None:
        box = self.query_one("#filter", Input)
        if self.query_text or box.display:
            self.query_text = ""
            box.value = ""
            box.display = False
        elif self.quick:
            self.quick = 0
        else:
            self.marked.clear()
        self.table.focus()
        self.refresh_rows()

    def key_escape(self) -> None:
        if self.focused is self.query_one("#filter", Input):
            self.action_clear()

    def action_quick_filter(self) -> None:
        self.set_quick_filter((self.quick + 1) % len(QUICK_FILTERS))

    def set_quick_filter(self, index: int) -> None:
        self.quick = index
        self.refresh_rows()
        self.notify(f"showing {QUICK_FILTERS[index].label}", timeout=2, markup=False)

    # sort and marks ------------------------------------------------------------------------

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key, self.sort_reverse = key, reverse
        self.refresh_rows()

    def action_sort(self) -> None:
        keys = [c.key for c in self._columns]
        following = (
            keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys else keys[0]
        )
        self.sort_by(following, reverse=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def action_mark(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.table.update_cell(key, "mark", self._mark_cell(key))
        self.update_banner()
        table = self.table
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def go_to(self, key: str) -> None:
        if key not in self.table.rows:
            self.query_text, self.quick = "", 0
            self.query_one("#filter", Input).display = False
            self.refresh_rows()
        self.table.move_cursor(row=self.table.get_row_index(key))
        self.table.focus()

    # work ----------------------------------------------------------------------------------

    def action_diff(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.open_diff(key)

    def action_validate(self) -> None:
        self.stage.start_validation(self.selected_keys())

    def action_findings(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.open_findings(key)

    def action_snapshot(self) -> None:
        self.stage.start_snapshot(self.selected_keys())

    def action_run_tests(self) -> None:
        self.stage.start_tests(self.selected_keys())

    def action_generate_test_data(self) -> None:
        self.stage.ask_test_data(self.selected_keys())

    def action_snapshot_all(self) -> None:
        self.stage.start_snapshot(None)

    def action_request_review(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.request_review(key)

    def action_approve(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.approve(key)

    def action_deploy(self) -> None:
        """The marked sheets (each needs a fresh approval), or the highlighted one."""
        keys = sorted(self.marked)
        if keys:
            self.stage.start_deploy(keys, marked=True)
            return
        key = self.current_key()
        if key is not None:
            self.stage.start_deploy([key], marked=False)

    def action_rollback_points(self) -> None:
        self.stage.open_rollback(self.current_key())

    def action_adopt(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.adopt(key)

    def action_revert(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.revert(key)

    def action_accept(self) -> None:
        key = self.current_key()
        if key is not None:
            self.stage.accept(key)

    def action_activity(self) -> None:
        self.stage.open_activity()

    def action_health(self) -> None:
        self.stage.open_health()

    def action_reload(self) -> None:
        self.stage.reload()

    def job_started(self, keys: Sequence[str] | None, label: str) -> None:
        """The job's sheets show ⟳ (the last job's outcomes make way); the user's marks stay."""
        every = [r.sheet.key for r in self.stage.rows] if keys is None else list(keys)
        self.job_marks = {key: glyphs.JOB_RUNNING for key in every}
        self.query_one("#jobbar").display = True
        self.query_one("#job-label", Label).update(label)
        self.query_one("#job-progress", ProgressBar).update(total=None, progress=0)
        self.refresh_rows()

    def job_progress(self, done: int, total: int, key: str, failed: bool, label: str) -> None:
        self.query_one("#job-progress", ProgressBar).update(total=total, progress=done)
        self.query_one("#job-label", Label).update(label)
        if failed:
            self.job_marks[key] = glyphs.JOB_FAILED
        elif self.job_marks.get(key) != glyphs.JOB_FAILED:
            self.job_marks[key] = glyphs.JOB_DONE
        if key in self.table.rows:
            self.table.update_cell(key, "mark", self._mark_cell(key))

    def job_phase(self, label: str) -> None:
        """A step after the count (writing, committing): the bar stays full, the label says it."""
        self.query_one("#job-label", Label).update(label)

    def job_finished(self) -> None:
        """Each sheet keeps the job's outcome (✓ or ✗) until the next job: a passing run leaves
        a trace too. Sheets the job never reached (cancelled) lose their ⟳."""
        self.query_one("#jobbar").display = False
        self.job_marks = {k: v for k, v in self.job_marks.items() if v != glyphs.JOB_RUNNING}
        self.refresh_rows()
