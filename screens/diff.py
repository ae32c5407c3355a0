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

from screens import glyphs
from screens.widgets.diff_view import DiffView
from services.diff import FileDiff, SheetDiff
from services.inspection import LiveCode, env_name
from services.models import DriftState, Environment, SheetDrift
from services.overview import short_time
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


def production_edit(drift: SheetDrift | None) -> Text | None:
    """Who edited production outside sheetstage, and when, for a sheet off its baseline (the
    time first: at 80 columns a long address is what gets cut)."""
    if drift is None or drift.state not in (DriftState.PROD_MODIFIED, DriftState.DIVERGED):
        return None
    when = short_time(drift.modified_at) if drift.modified_at else "at an unknown time"
    return Text.assemble(
        (f" {drift.state.glyph} {drift.state} ", glyphs.DRIFT_STYLES[drift.state]),
        (f" production edited {when} by {drift.modified_by or 'an unknown user'}", "bold"),
    )


def live_note(live: LiveCode) -> Text:
    """Says the code shown is the live code the PHI gate held back: masked, not stored (that
    first, so 80 columns keep it)."""
    where = env_name(live.env)
    held = "held back by the PHI gate" if live.current else "changed since the PHI gate held it"
    return Text.assemble(
        (f" LIVE {where.upper()} ", glyphs.ALARM),
        (" masked, not stored", "bold"),
        f" · {held} · read {short_time(live.read_at)}",
    )


class DiffScreen(Screen[None]):
    DEFAULT_CSS = """
    #diff-files { text-wrap: nowrap; text-overflow: ellipsis; }
    """
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
        *,
        drift: SheetDrift | None = None,
        live: tuple[LiveCode, ...] = (),
    ) -> None:
        super().__init__()
        self.diff = diff
        self.mapper = mapper
        self.risks = risks or {}
        self.at = at
        self.drift = drift
        self.live = live

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
        self.call_after_refresh(self.update_header)  # sideways scrolling needs the view's size
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
        view = self.view
        mode = "unified" if view.unified else "side by side"
        sides = {
            env: f"live {env_name(env)}" if self._is_live(env) else str(env) for env in Environment
        }
        production, staging = sides[Environment.PRODUCTION], sides[Environment.STAGING]
        title = Text.assemble(
            (f"{sheet.key} {sheet.name}", "bold"),
            f"  − {production} + {staging}" if view.unified else f"  {production} │ {staging}",
        )
        summary = Text(self.diff.summary(), style="bold" if not self.diff.identical else "green")
        if file.changed:
            hunk = view.current_hunk
            position = "—" if hunk is None else str(hunk + 1)
            where = f"{file.path}: change {position} of {view.hunks} · {mode}"
        else:
            where = f"{file.path}: no differences · {mode}"
        if view.sideways:
            where += " · ←→ scroll sideways"
        edit = production_edit(self.drift)
        lines = [
            title,
            summary,
            *([edit] if edit is not None else []),
            *(live_note(live) for live in self.live),
            Text(where, style="dim"),
            self.risk_line(),
        ]
        for line in lines:
            line.no_wrap = True
            line.overflow = "ellipsis"
        header = self.query_one("#diff-header", Static)
        header.styles.height = len(lines)  # a line more for a production edit or live code
        header.update(Text("\n").join(lines))

    def _is_live(self, env: Environment) -> bool:
        return any(live.env is env for live in self.live)

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
