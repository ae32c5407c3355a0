"""`b`: the backup points of a sheet (or of every sheet), newest first; enter rolls back to
one after showing what changes and asking for `yes`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from screens.deploy import fill_width
from screens.stage import StageScreen
from services.models import Environment
from services.overview import short_time
from services.rollback import BackupPoint


class RollbackScreen(StageScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("enter", "roll_back", "Roll back", tooltip="Diff to production now, then yes"),
        Binding("w", "widen", "All sheets / this sheet"),
    ]
    DEFAULT_CSS = """
    #rollback-header { height: auto; background: $panel; padding: 0 1; }
    #rollback-points { height: 1fr; }
    """

    def __init__(self, points: Sequence[BackupPoint], sheet: str | None) -> None:
        super().__init__()
        self.points = list(points)
        self.sheet = sheet  # None: every sheet's points

    def compose(self) -> ComposeResult:
        yield Static(id="rollback-header")
        yield DataTable(id="rollback-points", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        fixed = (("When", "time", 20), ("#", "sheet", 3), ("Env", "env", 4))
        fixed += (("Who", "who", 10), ("Hash", "hash", 12))
        why = fill_width(self.app.size.width - 2, [width for _, _, width in fixed])
        for label, key, width in (*fixed, ("Why", "why", why)):
            table.add_column(label, key=key, width=width)
        self.show(self.points, self.sheet)
        table.focus()

    def show(self, points: Sequence[BackupPoint], sheet: str | None) -> None:
        self.points, self.sheet = list(points), sheet
        table = self.query_one(DataTable)
        table.clear()
        for point in self.points:
            env = "PROD" if point.env is Environment.PRODUCTION else "DEV3"
            table.add_row(
                short_time(point.time),
                f"{point.sheet:03d}",
                Text(env, style="bold" if env == "PROD" else "cyan"),
                Text(point.who),
                point.hash[:12],
                Text(point.why),
                key=point.tag,
            )
        whose = f"sheet {sheet}" if sheet is not None else "every sheet"
        header = Text.assemble(
            (f"Backup points of {whose}", "bold"),
            f" · {len(self.points)} newest first · enter: diff to production now, then yes",
        )
        if not self.points:
            header.append("\nno backup points: a deploy or rollback takes one before it writes")
        self.query_one("#rollback-header", Static).update(header)

    def selected(self) -> BackupPoint | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return self.points[table.cursor_row]

    @on(DataTable.RowSelected)
    def action_roll_back(self) -> None:
        point = self.selected()
        if point is not None:
            self.stage.start_rollback(point.tag)

    def action_widen(self) -> None:
        self.stage.open_rollback(None if self.sheet is not None else self._current_sheet())

    def _current_sheet(self) -> str | None:
        point = self.selected()
        return f"{point.sheet:03d}" if point is not None else None

    def action_back(self) -> None:
        self.dismiss(None)
