"""A full screen message, for when there is nothing else to show (no workspace)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static


class MessageScreen(Screen[None]):
    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(Text(self.title_text, style="bold"), id="message-title")
            yield Static(Text(self.message), id="message-body")
        yield Footer()
