"""A full screen message, for when there is nothing else to show (no workspace)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static


class MessageScreen(Screen[None]):
    """Quitting (the app's ctrl+q) leaves with `exit_code`: what the CLI gives the same
    problem (2: no workspace)."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, title: str, message: str, exit_code: int = 0) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.exit_code = exit_code

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(Text(self.title_text, style="bold"), id="message-title")
            yield Static(Text(self.message), id="message-body")
        yield Footer()
