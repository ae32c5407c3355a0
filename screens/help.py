"""Every key, generated from the screens' own bindings so it cannot go stale, and every glyph
of the sheet list, generated from screens/glyphs.py."""

from __future__ import annotations

from rich.columns import Columns
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from screens import glyphs
from screens.diff import FILE_GLYPHS

KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "space",
    "enter": "enter",
    "escape": "esc",
}
KEY_WIDTH = 12
# the diff's glyphs: its file list, then its lines
DIFF_LEGEND = (
    ("Diff files", tuple((glyph, status) for status, glyph in FILE_GLYPHS.items())),
    (
        "Diff lines",
        (
            ("−", "production only"),
            ("+", "staging only"),
            ("~", "changed"),
            ("≈", "DEV3 id mapped, not a change"),
        ),
    ),
)


def key_label(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


def _grid() -> Table:
    """Two columns: the key (or a legend's title), then its text, wrapped lines indented
    under the text's start."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=KEY_WIDTH, no_wrap=True, style="bold")
    grid.add_column(ratio=1, overflow="fold")
    return grid


def bindings_table(bindings: list[BindingType]) -> Table:
    """One row a key: a key bound twice shows once, with its longer text."""
    texts: dict[str, str] = {}
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            label, text = key_label(binding.key), binding.tooltip or binding.description
            if len(text) > len(texts.get(label, "")):
                texts[label] = text
    grid = _grid()
    for label, text in texts.items():
        grid.add_row(label, text)
    return grid


def legend_table() -> Table:
    """Each column's glyphs with their meaning, styled as the list draws them."""
    grid = _grid()
    rows: list[tuple[str, list[tuple[str, str, str]]]] = glyphs.legend()
    rows += [(title, [(g, word, "") for g, word in entries]) for title, entries in DIFF_LEGEND]
    for title, entries in rows:
        # an entry never breaks between its glyph and its meaning: they flow as units
        units = [Text.assemble((glyph, style), f" {meaning}") for glyph, meaning, style in entries]
        grid.add_row(title, Columns(units, padding=(0, 2)))
    return grid


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close help"),
    ]

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(Text("sheetstage — keys", style="bold"), id="help-title")
            for title, bindings in self.sections:
                yield Static(Text(title, style="bold underline"), classes="help-heading")
                yield Static(bindings_table(bindings), classes="help-keys")
            yield Static(Text("Glyphs", style="bold underline"), classes="help-heading")
            yield Static(legend_table(), classes="help-keys")
            yield Static(Text("esc, ? or q closes", style="dim"), classes="help-heading")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
