"""`m`: is sheetstage healthy, and how is the practice doing. Health first: each check of
`sheetstage health` with its status and what it measured, the failing ones first, each with its
fix beneath it (whole in the detail line); then the seed's five metrics from the trails, each
with its value, target, verdict and weekly trend. The checks call Google and git, so the app
runs them in a worker: the panel says "checking…" at once and fills in when they end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from screens import glyphs
from screens.deploy import fill_width
from screens.stage import StageScreen
from services.health import Check, HealthReport
from services.metrics import Metric, MetricsReport, sparkline
from services.overview import short_time
from services.progress import counted

OK_BADGE = ("✓ ok", "green")
PROBLEM_BADGE = ("✗ PROBLEM", glyphs.ALARM)  # the brightest cell, in colour and under NO_COLOR
VERDICT_STYLES = {True: "green", False: glyphs.ALARM, None: "yellow"}
NO_WEEK = "·"  # a week the trails say nothing about, in the trend
TREND_WEEKS = 12  # the trend's width: the newest weeks of the window
WEEKS_IN_DETAIL = 6
CHECKING = (
    "checking…: registry, git fsck, audit verify, state, the APIs and their quota, Drive "
    "sharing and folders of every file, the last --batch, the remote"
)


class HealthScreen(StageScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding(
            "r",
            "recheck",
            "Check again",
            tooltip="Run every health check again (and read the metrics again)",
        ),
        Binding("tab", "switch", "Health / metrics", priority=True),
    ]
    DEFAULT_CSS = """
    #health-banner, #metrics-heading {
        height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    #health-checks { height: 1fr; }
    #metrics-heading { background: $panel; }
    #metrics-table { height: auto; max-height: 8; }
    #metrics-notes { height: auto; max-height: 2; padding: 0 1; }
    #health-detail { height: 6; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(self, metrics: MetricsReport | str, report: HealthReport | None = None) -> None:
        """`metrics`: the report, or why there is none. `report`: the checks, when they have
        run already (None: "checking…" until `show_health`)."""
        super().__init__()
        self.metrics = metrics
        self.report = report
        self.failure = ""  # the checks could not run at all: why
        self._details: dict[str, list[Text]] = {"health-checks": [], "metrics-table": []}

    @property
    def checking(self) -> bool:
        return self.report is None and not self.failure

    def compose(self) -> ComposeResult:
        yield Static(id="health-banner")
        yield DataTable(id="health-checks", cursor_type="row")
        yield Static(id="metrics-heading")
        yield DataTable(id="metrics-table", cursor_type="row")
        yield Static(id="metrics-notes")
        yield Static(id="health-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        room = self.app.size.width - 2
        checks = self.query_one("#health-checks", DataTable)
        fixed = (("Status", "status", len(PROBLEM_BADGE[0])), ("Check", "check", 13))
        for label, key, width in fixed:
            checks.add_column(label, key=key, width=width)
        checks.add_column("Detail", key="detail", width=fill_width(room, [w for *_, w in fixed]))
        self.show_metrics(self.metrics)
        if self.report is not None:
            self.show_health(self.report)
        else:
            self.show_checking()
        checks.focus()

    # health ----------------------------------------------------------------------------------

    def show_checking(self) -> None:
        """The checks are running: say so at once."""
        self.report, self.failure = None, ""
        self.query_one("#health-banner", Static).update(Text("checking…", style="bold"))
        table = self.query_one("#health-checks", DataTable)
        table.clear()
        table.add_row(Text("…", style="bold"), Text("all", style="bold"), Text(CHECKING))
        self._details["health-checks"] = [Text(CHECKING)]
        self._show_detail()

    def show_health(self, report: HealthReport) -> None:
        """The checks' outcome: the failing ones first (each with its fix beneath it), then
        the passing ones, in the order `sheetstage health` prints them."""
        self.report, self.failure = report, ""
        self.query_one("#health-banner", Static).update(banner(report))
        table = self.query_one("#health-checks", DataTable)
        table.clear()
        details: list[Text] = []
        for check in [*report.problems, *(c for c in report.checks if c.ok)]:
            text, style = OK_BADGE if check.ok else PROBLEM_BADGE
            table.add_row(Text(text, style=style), Text(check.name), Text(check.detail))
            details.append(check_detail(check))
            if not check.ok and check.fix:
                table.add_row("", Text("  fix:", style="bold"), Text(check.fix))
                details.append(check_detail(check))
        self._details["health-checks"] = details
        table.move_cursor(row=0)
        self._show_detail()

    def show_failure(self, why: str) -> None:
        """The checks could not run at all (not one of them failing: the run itself)."""
        self.report, self.failure = None, why
        self.query_one("#health-banner", Static).update(
            Text.assemble((" ✗ HEALTH NOT CHECKED ", glyphs.ALARM), " r tries again")
        )
        table = self.query_one("#health-checks", DataTable)
        table.clear()
        table.add_row(Text(PROBLEM_BADGE[0], style=PROBLEM_BADGE[1]), "health", Text(why))
        self._details["health-checks"] = [Text(f"health could not run: {why}")]
        self._show_detail()

    # metrics ---------------------------------------------------------------------------------

    def show_metrics(self, metrics: MetricsReport | str) -> None:
        self.metrics = metrics
        heading = self.query_one("#metrics-heading", Static)
        notes = self.query_one("#metrics-notes", Static)
        table = self.query_one("#metrics-table", DataTable)
        table.clear(columns=True)
        if isinstance(metrics, str):
            heading.update(Text.assemble(("Metrics", "bold"), " not read"))
            notes.update(Text(metrics))
            table.display = False
            self._details["metrics-table"] = []
            return
        table.display = True
        weeks = min(TREND_WEEKS, len(metrics.weeks))
        heading.update(
            Text.assemble(
                ("Metrics", "bold"),
                f" · {counted(len(metrics.weeks), 'week')}, {metrics.since} to "
                f"{metrics.until} UTC · a bar a week, {NO_WEEK} no data",
            )
        )
        room = self.app.size.width - 2
        fixed = (
            ("Verdict", "verdict", len("✗ NOT MET")),
            ("Metric", "metric", max(len(m.title) for m in metrics.metrics)),
            ("Target", "target", max(len("Target"), *(len(m.target) for m in metrics.metrics))),
            ("Trend", "trend", max(len("Trend"), weeks)),
        )
        value_width = fill_width(room, [width for *_, width in fixed])
        for label, key, width in fixed[:2]:
            table.add_column(label, key=key, width=width)
        table.add_column("Value", key="value", width=value_width)
        for label, key, width in fixed[2:]:
            table.add_column(label, key=key, width=width)
        details = []
        for metric in metrics.metrics:
            table.add_row(
                Text(metric.verdict, style=VERDICT_STYLES[metric.met]),
                Text(metric.title),
                Text(value_cell(metric.shown, value_width)),
                Text(metric.target),
                Text(trend(metric.weekly[-weeks:] if weeks else [])),
            )
            details.append(metric_detail(metric, metrics.weeks))
        self._details["metrics-table"] = details
        lines = [f"left out, does not verify: {problem}" for problem in metrics.left_out]
        lines += [f"note: {note}" for note in metrics.notes]
        notes.update(Text("\n".join(lines)))
        notes.display = bool(lines)

    # the detail line -------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.focused:
            self._show_detail()

    def on_descendant_focus(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted row of the focused table whole: the tables cut long text."""
        table = self.focused if isinstance(self.focused, DataTable) else None
        if table is None:
            table = self.query_one("#health-checks", DataTable)
        details = self._details.get(table.id or "", [])
        row = table.cursor_row
        shown = details[row] if 0 <= row < len(details) and table.row_count else Text("")
        self.query_one("#health-detail", Static).update(shown)

    # keys ------------------------------------------------------------------------------------

    def action_switch(self) -> None:
        checks = self.query_one("#health-checks", DataTable)
        metrics = self.query_one("#metrics-table", DataTable)
        target = metrics if self.focused is checks and metrics.display else checks
        target.focus()

    def action_recheck(self) -> None:
        if self.checking:
            self.notify("the health checks are still running", severity="warning")
            return
        self.stage.check_health()

    def action_back(self) -> None:
        self.dismiss(None)


def banner(report: HealthReport) -> Text:
    """`healthy` or `N problems`, in how many checks, when, and of which kinds (the table
    names them too: on a narrow terminal the line may end before them)."""
    checks = counted(len(report.checks), "check")
    when = f" · checked {short_time(report.time)}" if report.time else ""
    if report.ok:
        return Text.assemble(("✓ healthy", "bold green"), f": {checks} passed{when}")
    kinds: dict[str, int] = {}
    for check in report.problems:
        kinds[check.name] = kinds.get(check.name, 0) + 1
    which = ", ".join(f"{name} {n}" if n > 1 else name for name, n in kinds.items())
    return Text.assemble(
        (f" ✗ {counted(len(report.problems), 'problem').upper()} ", glyphs.ALARM),
        f" in {checks}{when} · {which}",
    )


def check_detail(check: Check) -> Text:
    text = Text.assemble((f"{check.name}: ", "bold"), check.detail)
    if not check.ok and check.fix:
        text.append("\n")
        text.append("fix: ", style="bold")
        text.append(check.fix)
    return text


def trend(weekly: Sequence[float | None]) -> str:
    """The weekly sparkline, a week without data drawn as a dot (a blank is invisible)."""
    return sparkline(weekly).replace(" ", NO_WEEK)


def value_cell(shown: str, width: int) -> str:
    """The metric's value as it is shown, or its figure alone (before the parenthesis) when
    the whole does not fit: the detail line has it whole."""
    if len(shown) <= width or " (" not in shown:
        return shown
    return shown.partition(" (")[0]


def metric_detail(metric: Metric, weeks: Sequence[object]) -> Text:
    """The metric whole, and its newest weeks' values as figures."""
    text = Text.assemble(
        (f"{metric.title}: ", "bold"),
        metric.shown,
        f"; target {metric.target}; ",
        (metric.verdict, VERDICT_STYLES[metric.met]),
    )
    recent = list(zip(weeks, metric.weekly, strict=True))[-WEEKS_IN_DETAIL:]
    if recent:
        text.append("\nweek of: ")
        text.append(" · ".join(f"{monday} {metric.cell(value)}" for monday, value in recent))
    return text
