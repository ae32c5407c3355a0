"""What a screen asks of the app that shows it. Screens call the app through `StageScreen.stage`,
typed by the `Stage` protocol, so they never import `sheetstage_tui.app` (which imports them):
every import points down (docs/architecture.md). The app is checked against the protocol,
member by member, in tests/test_architecture.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast

from rich.text import Text
from textual.screen import Screen

from services.models import Sheet
from services.overview import SheetRow


class Stage(Protocol):
    """The app's data the screens read and the work they ask it to start."""

    rows: list[SheetRow]

    def banner(self) -> Text: ...

    def reload(self) -> None: ...

    def project_files(self, sheet: Sheet) -> list[str]: ...

    def open_diff(self, key: str, at: tuple[str, int] | None = None) -> None: ...

    def open_findings(self, key: str) -> None: ...

    def open_rollback(self, key: str | None) -> None: ...

    def open_activity(self, alerts_first: bool = False) -> None: ...

    def open_health(self) -> None: ...

    def check_health(self) -> None: ...

    def start_snapshot(self, keys: Sequence[str] | None) -> None: ...

    def start_validation(self, keys: Sequence[str]) -> None: ...

    def start_tests(self, keys: Sequence[str]) -> None: ...

    def ask_test_data(self, keys: Sequence[str]) -> None: ...

    def request_review(self, key: str) -> None: ...

    def approve(self, key: str) -> None: ...

    def start_deploy(self, keys: Sequence[str], marked: bool) -> None: ...

    def start_rollback(self, tag: str) -> None: ...

    def revert(self, key: str) -> None: ...

    def adopt(self, key: str) -> None: ...

    def accept(self, key: str) -> None: ...


class StageScreen(Screen[None]):
    """A full screen of the sheetstage app."""

    @property
    def stage(self) -> Stage:
        return cast(Stage, self.app)
