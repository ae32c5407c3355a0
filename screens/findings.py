"""The PHI findings of one sheet: severity, type, file:line and the masked excerpt, with the
masked line of code under the table; which scan they come from (the last validation or the
snapshot gate's, or the live DEV3 code for code the gate held back); enter opens the diff at
that line."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from screens import glyphs
from screens.diff import live_note
from screens.stage import StageScreen
from services.inspection import FindingsView
from services.models import PhiStatus, Sheet

SEVERITY = {
    "block": (f"{glyphs.PHI[PhiStatus.BLOCKED][0]} block", glyphs.ALARM),
    "review": (f"{glyphs.PHI[PhiStatus.NEEDS_REVIEW][0]} review", "yellow"),
}


def where(finding: dict[str, Any]) -> str:
    """`staging-sheets/sheet-047_DEV3/lib/format.gs` -> `lib/format.gs` (DEV3 data as is)."""
    return str(finding.get("path", "")).split("/", 2)[-1]


class FindingsScreen(StageScreen):
    DEFAULT_CSS = """
    #findings-code { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Diff at line", show=False),
    ]

    def __init__(self, sheet: Sheet, shown: FindingsView) -> None:
        super().__init__()
        self.sheet = sheet
        self.source = shown.source
        self.findings: list[dict[str, Any]] = shown.findings
        self.lines = shown.lines
        self.live = shown.live

    def compose(self) -> ComposeResult:
        yield Static(id="findings-header")
        yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
        yield Static(id="findings-code")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        count = len(self.findings)
        lines = [
            Text.assemble(
                (f"{self.sheet.key} {self.sheet.name}", "bold"),
                f"  {count} PHI finding{'s' if count != 1 else ''} · values masked",
            ),
            Text(f"from: {self.source}", style="dim"),
            *(live_note(live) for live in self.live),
        ]
        if not self.findings:
            lines.append(Text("No findings: nothing to review.", style="green"))
        for line in lines:
            line.no_wrap = True
            line.overflow = "ellipsis"
        header = self.query_one("#findings-header", Static)
        header.styles.height = len(lines)
        header.update(Text("\n").join(lines))
        table = self.query_one("#findings", DataTable)
        table.add_columns("Severity", "Type", "Where", "Excerpt", "Id")
        for index, f in enumerate(self.findings):
            label, style = SEVERITY.get(str(f.get("severity")), (str(f.get("severity")), ""))
            if f.get("acknowledged"):
                label, style = "✓ acknowledged", "green"
            table.add_row(
                Text(label, style=style),
                str(f.get("type", "")),
                f"{where(f)}:{f.get('line', '')}",
                str(f.get("excerpt", "")),
                str(f.get("id", "")),
                key=str(index),
            )
        self.show_code(0)
        table.focus()

    def show_code(self, index: int) -> None:
        """The highlighted finding's line of code, masked, to find it in the script editor."""
        code = self.query_one("#findings-code", Static)
        if not self.findings:
            code.display = False
            return
        finding = self.findings[index]
        line = self.lines.get((str(finding.get("path", "")), int(finding.get("line", 0) or 0)))
        if line is None:
            code.update(Text("no line of code to show (sheet data, or a file name)", style="dim"))
            return
        code.update(
            Text.assemble((f"{where(finding)}:{finding.get('line')} ", "bold"), line.strip())
        )

    @on(DataTable.RowHighlighted, "#findings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_code(event.cursor_row)

    @on(DataTable.RowSelected, "#findings")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._open(int(str(event.row_key.value)))

    def action_open(self) -> None:
        table = self.query_one("#findings", DataTable)
        if table.row_count:
            self._open(table.cursor_row)

    def _open(self, index: int) -> None:
        finding = self.findings[index]
        self.stage.open_diff(self.sheet.key, at=(where(finding), int(finding.get("line", 0) or 0)))
