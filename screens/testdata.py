"""`g`: how many synthetic patients to generate for the highlighted or marked sheets."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class TestDataScreen(ModalScreen[int | None]):
    """Dismisses with the number of patients, or None (Escape, Cancel)."""

    __test__ = False  # not a pytest class
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, sheets: list[str], default: int, maximum: int) -> None:
        super().__init__()
        self.sheets = sheets
        self.default = default
        self.maximum = maximum

    def compose(self) -> ComposeResult:
        shown = ", ".join(self.sheets[:8]) + (
            f" +{len(self.sheets) - 8}" if len(self.sheets) > 8 else ""
        )
        with Vertical(id="testdata-dialog"):
            yield Static(f"Synthetic test data for DEV3 sheet(s) {shown}", id="testdata-title")
            yield Static(
                "Replaces the DEV3 target ranges with provably synthetic patients.",
                classes="dim",
            )
            with Horizontal(id="testdata-row"):
                yield Label("Patients per sheet ")
                yield Input(
                    str(self.default),
                    type="integer",
                    max_length=7,
                    id="testdata-patients",
                    valid_empty=False,
                )
            yield Static("", id="testdata-error")
            with Horizontal(id="testdata-buttons"):
                yield Button("Generate", variant="primary", id="testdata-generate")
                yield Button("Cancel", id="testdata-cancel")

    def on_mount(self) -> None:
        field = self.query_one("#testdata-patients", Input)
        field.focus()
        field.action_end()

    def _submit(self) -> None:
        text = self.query_one("#testdata-patients", Input).value.strip()
        count = int(text) if text.isdigit() else 0
        if not 1 <= count <= self.maximum:
            self.query_one("#testdata-error", Static).update(
                f"enter a number of patients from 1 to {self.maximum}"
            )
            return
        self.dismiss(count)

    @on(Input.Submitted)
    def _entered(self) -> None:
        self._submit()

    @on(Button.Pressed, "#testdata-generate")
    def _generate(self) -> None:
        self._submit()

    @on(Button.Pressed, "#testdata-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
