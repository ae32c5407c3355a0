"""The PHI findings of one sheet: type, severity, file:line and the masked excerpt; enter
opens the diff at that line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from screens import glyphs
from sheetstage_tui.models import Sheet

if TYPE_CHECKING:
    from sheetstage_tui.app import SheetStageApp

SEVERITY = {"block": ("✗ block", glyphs.ALARM), "review": ("? review", "yellow")}


class FindingsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Diff at line", show=False),
    ]

    def __init__(self, sheet: Sheet, source: str, findings: list[dict[str, Any]]) -> None:
        super().__init__()
        self.sheet = sheet
        self.source = source
        self.findings = findings

    def compose(self) -> ComposeResult:
        yield Static(id="findings-header")
        yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        count = len(self.findings)
        header = Text.assemble(
            (f"{self.sheet.key} {self.sheet.name}", "bold"),
            f"  {count} PHI finding{'s' if count != 1 else ''} ({self.source}) · values masked",
        )
        if not self.findings:
            header.append("\nNo findings: nothing to review.", style="green")
        self.query_one("#findings-header", Static).update(header)
        table = self.query_one("#findings", DataTable)
        table.add_columns("Severity", "Type", "Where", "Excerpt", "Id")
        for index, f in enumerate(self.findings):
            label, style = SEVERITY.get(str(f.get("severity")), (str(f.get("severity")), ""))
            if f.get("acknowledged"):
                label, style = "✓ acknowledged", "green"
            table.add_row(
                Text(label, style=style),
                str(f.get("type", "")),
                f"{str(f.get('path', '')).split('/')[-1]}:{f.get('line', '')}",
                str(f.get("excerpt", "")),
                str(f.get("id", "")),
                key=str(index),
            )
        table.focus()

    @on(DataTable.RowSelected, "#findings")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._open(int(str(event.row_key.value)))

    def action_open(self) -> None:
        table = self.query_one("#findings", DataTable)
        if table.row_count:
            self._open(table.cursor_row)

    def _open(self, index: int) -> None:
        finding = self.findings[index]
        app: SheetStageApp = self.app  # type: ignore[assignment]
        path = str(finding.get("path", "")).split("/", 2)[-1]
        app.open_diff(self.sheet.key, at=(path, int(finding.get("line", 0) or 0)))
