"""`l`: what happened, newest first: the merged audit trails (or the active alerts), filtered
by sheet, person and action, under a banner that says whether the trails verify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from screens import glyphs
from screens.deploy import fill_width
from services.activity import ActiveAlert, Activity, ActivityFilter
from services.overview import short_time

GOOD = ("ok", "deployed", "restored", "verified")


class ActivityScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("slash", "filter", "Filter", tooltip="sheet number, person or action words"),
        Binding("tab", "switch", "Trail / alerts", priority=True),
    ]
    DEFAULT_CSS = """
    #activity-banner { height: auto; padding: 0 1; }
    #activity-view { height: 1; background: $panel; padding: 0 1; }
    #activity-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #activity-table { height: 1fr; }
    #activity-detail { height: 3; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(
        self,
        lines: Sequence[Activity],
        alerts: Sequence[ActiveAlert],
        verified: str,
        intact: bool,
        alerts_first: bool = False,
    ) -> None:
        super().__init__()
        self.lines = list(lines)
        self.alerts = list(alerts)
        self.verified = verified
        self.intact = intact
        self.showing_alerts = alerts_first
        self.query_words = ""
        self._shown: list[str] = []  # the rows' whole text, for the detail line
        self._fill = 40

    def compose(self) -> ComposeResult:
        yield Static(id="activity-banner")
        yield Static(id="activity-view")
        yield Input(
            placeholder="filter: 31 · dana · deploy · user:pat action:approve · esc clears",
            id="activity-filter",
        )
        yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="activity-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        banner = self.query_one("#activity-banner", Static)
        if self.intact:
            banner.update(Text(f"✓ {self.verified}", style="green"))
        else:
            banner.update(
                Text.assemble(("✗ AUDIT VERIFY FAILS ", glyphs.ALARM), " ", self.verified)
            )
        self.query_one("#activity-filter", Input).display = False
        self.refresh_table()
        self.query_one(DataTable).focus()

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        rule = ActivityFilter.parse(self.query_words)
        if self.showing_alerts:
            self._columns(
                table, (("Since", "time", 20), ("Kind", "kind", 14), ("Sheets", "sheets", 7))
            )
            table.add_column("Alert", key="message", width=self._fill)
            alerts = rule.alerts(self.alerts)
            self._shown = [f"{a.kind}: {a.message}" for a in alerts]
            for alert in alerts:
                table.add_row(
                    short_time(alert.since),
                    Text(alert.kind, style="bold yellow"),
                    _sheets(alert.sheets),
                    Text(alert.message),
                )
            shown, total, what = len(alerts), len(self.alerts), "active alerts"
        else:
            self._columns(
                table,
                (
                    ("When", "time", 20),
                    ("Who", "user", 8),
                    ("Action", "action", 16),
                    ("Sheets", "sheets", 7),
                    ("Result", "result", 6),
                ),
            )
            table.add_column("Detail", key="detail", width=self._fill)
            lines = rule.activity(self.lines)
            self._shown = [_whole(line) for line in lines]
            for line in lines:
                result = Text(line.result, style="green" if line.result in GOOD else glyphs.ALARM)
                who = Text(line.user, style="" if line.trusted else glyphs.ALARM)
                table.add_row(
                    short_time(line.time),
                    who,
                    Text(line.action),
                    _sheets(line.sheets),
                    result,
                    Text(line.detail),
                )
            shown, total, what = len(lines), len(self.lines), "trail lines"
        view = Text.assemble(
            (what, "bold"),
            f" · {shown}/{total} shown",
            (f" · /{self.query_words}" if self.query_words else "", "bold"),
            ("  tab: " + ("trail" if self.showing_alerts else "alerts"), "dim"),
        )
        self.query_one("#activity-view", Static).update(view)
        if not self._shown:
            self.query_one("#activity-detail", Static).update("")

    def _columns(self, table: DataTable, fixed: Sequence[tuple[str, str, int]]) -> None:
        for label, key, width in fixed:
            table.add_column(label, key=key, width=width)
        self._fill = fill_width(self.app.size.width - 2, [width for _, _, width in fixed])

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted line whole: the table cuts long details."""
        shown = self._shown[event.cursor_row] if event.cursor_row < len(self._shown) else None
        self.query_one("#activity-detail", Static).update(Text(shown or ""))

    def action_switch(self) -> None:
        if self.focused is self.query_one("#activity-filter", Input):
            self.query_one(DataTable).focus()
            return
        self.showing_alerts = not self.showing_alerts
        self.refresh_table()

    def action_filter(self) -> None:
        box = self.query_one("#activity-filter", Input)
        box.display = True
        box.value = self.query_words
        box.focus()

    @on(Input.Changed, "#activity-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_words = event.value
        self.refresh_table()

    @on(Input.Submitted, "#activity-filter")
    def _filter_done(self) -> None:
        self.query_one("#activity-filter", Input).display = bool(self.query_words)
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#activity-filter", Input)
        if self.query_words or box.display:
            self.query_words, box.value, box.display = "", "", False
            self.query_one(DataTable).focus()
            self.refresh_table()
            return
        self.dismiss(None)


def _whole(line: Activity) -> str:
    trust = "" if line.trusted else " (its trail does not verify: it counts for nothing)"
    return f"{line.user} {line.action} {_sheets(line.sheets)} {line.result}{trust}: {line.detail}"


def _sheets(numbers: Sequence[int]) -> str:
    if len(numbers) > 2:
        return f"{numbers[0]:03d} +{len(numbers) - 1}"
    return " ".join(f"{n:03d}" for n in numbers)
