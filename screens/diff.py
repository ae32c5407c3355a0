"""Side-by-side (or unified) diff production -> staging of one sheet, file by file."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from screens.widgets.diff_view import DiffView
from services.diff import FileDiff, SheetDiff
from services.registry import IdMapper

UNIFIED_BELOW = 100
FILE_GLYPHS = {"same": "=", "modified": "~", "added": "+", "removed": "−"}


def file_label(file: FileDiff) -> Text:
    glyph = FILE_GLYPHS[file.status]
    style = "dim" if file.status == "same" else "bold"
    label = Text(f"{glyph} {file.path}", style=style)
    if file.changed:
        label.append(f" +{file.added}−{file.removed}", style="dim")
    return label


class DiffScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("n", "next_change", "Next", tooltip="Next change"),
        Binding("p", "previous_change", "Previous", tooltip="Previous change"),
        Binding("u", "toggle_view", "Unified", tooltip="Unified or side-by-side view"),
        Binding("tab", "app.focus_next", "Files/diff", show=False),
    ]

    def __init__(
        self,
        diff: SheetDiff,
        mapper: IdMapper,
        risks: dict[str, list[str]] | None = None,
        at: tuple[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.diff = diff
        self.mapper = mapper
        self.risks = risks or {}
        self.at = at

    def compose(self) -> ComposeResult:
        yield Static(id="diff-header")
        with Horizontal(id="diff-body"):
            yield OptionList(
                *[Option(file_label(f), id=str(i)) for i, f in enumerate(self.diff.files)],
                id="diff-files",
            )
            yield DiffView(self.mapper, unified=self.app.size.width < UNIFIED_BELOW, id="diff-view")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        files = self.query_one("#diff-files", OptionList)
        first = next((i for i, f in enumerate(self.diff.files) if f.changed), 0)
        if self.at is not None:
            first = next((i for i, f in enumerate(self.diff.files) if f.path == self.at[0]), first)
        files.highlighted = first
        self.show_file(first)
        if self.at is not None:
            self.call_after_refresh(self.view.scroll_to_staging_line, self.at[1])
        self.view.focus()

    @property
    def view(self) -> DiffView:
        return self.query_one("#diff-view", DiffView)

    def show_file(self, index: int) -> None:
        self.file_index = index
        self.view.show(self.diff.files[index])
        self.update_header()

    def update_header(self) -> None:
        sheet = self.diff.sheet
        file = self.diff.files[self.file_index]
        mode = "unified" if self.view.unified else "side by side"
        title = Text.assemble(
            (f"{sheet.key} {sheet.name}", "bold"),
            "  production │ staging" if not self.view.unified else "  − production + staging",
        )
        summary = Text(self.diff.summary(), style="bold" if not self.diff.identical else "green")
        if file.changed:
            hunk = self.view.current_hunk
            position = "—" if hunk is None else str(hunk + 1)
            where = f"{file.path}: change {position} of {self.view.hunks} · {mode}"
        else:
            where = f"{file.path}: no differences · {mode}"
        title.no_wrap = summary.no_wrap = True
        lines = [title, summary, Text(where, style="dim", no_wrap=True), self.risk_line()]
        self.query_one("#diff-header", Static).update(Text("\n").join(lines))

    def risk_line(self) -> Text:
        """What the change adds against production (validation's risk summary)."""
        labels = {
            "new_urls": "new URL",
            "new_recipients": "new e-mail recipient",
            "new_scopes": "new OAuth scope",
            "logs_cell_values": "logs cell values",
        }
        parts = [
            f"{len(values)} {label}{'s' if len(values) > 1 and label != 'logs cell values' else ''}"
            f": {', '.join(values[:2])}"
            for key, label in labels.items()
            if (values := self.risks.get(key))
        ]
        if not parts:
            return Text(
                "risk: nothing new against production (URLs, recipients, scopes, logging)",
                style="dim",
            )
        return Text("⚠ risk: " + " · ".join(parts), style="bold yellow")

    @on(OptionList.OptionHighlighted, "#diff-files")
    def _file_chosen(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != getattr(self, "file_index", None):
            self.show_file(event.option_index)

    def action_next_change(self) -> None:
        if not self.view.next_change():
            self.notify("no changes in this file", timeout=2)
        self.update_header()

    def action_previous_change(self) -> None:
        if not self.view.previous_change():
            self.notify("no changes in this file", timeout=2)
        self.update_header()

    def action_toggle_view(self) -> None:
        self.view.unified = not self.view.unified
        self.update_header()
