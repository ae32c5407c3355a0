"""Every key, generated from the screens' own bindings so it cannot go stale."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "space",
    "enter": "enter",
    "escape": "esc",
}


def key_label(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


def bindings_text(title: str, bindings: list[BindingType]) -> Text:
    text = Text(title, style="bold underline")
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            text.append("\n")
            text.append(f"{key_label(binding.key):<12}", style="bold")
            text.append(f" {binding.tooltip or binding.description}")
    return text


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
                yield Static(bindings_text(title, bindings), classes="help-section")
            yield Static(
                Text(
                    "Glyphs: ✓ in-sync  ▲ ahead  ! prod-modified  ⇅ diverged  ? unknown · "
                    "diff: − production only  + staging only  ~ changed  ≈ DEV3 id mapped",
                    style="dim",
                ),
                classes="help-section",
            )
            yield Static(Text("esc, ? or q closes", style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
