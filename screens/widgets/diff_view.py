"""A production -> staging diff of one file, side by side or unified, in one scroll view, so
both panes always scroll together. Changes carry a glyph as well as a colour."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from services.diff import CHANGES, DiffRow, FileDiff, RowKind
from services.registry import IdMapper

GLYPHS = {
    RowKind.EQUAL: " ",
    RowKind.ID: "≈",
    RowKind.DELETE: "−",
    RowKind.INSERT: "+",
    RowKind.CHANGE: "~",
}
_BACKGROUNDS = {
    RowKind.DELETE: Style(bgcolor="#4b1d1d"),
    RowKind.INSERT: Style(bgcolor="#173d1f"),
    RowKind.CHANGE: Style(bgcolor="#4a3b12"),
}
_GUTTER = Style(color="#808080")
_CURRENT = Style(color="#ffd75f", bold=True)
_ID = Style(color="#5fafff", underline=True)
_THEME = "monokai"


@dataclass(frozen=True)
class _Line:
    """One display line: a side-by-side row, or one half of a unified change."""

    row: DiffRow
    side: str  # "both", "left", "right"
    hunk: int | None  # index of the change block it belongs to


def _highlight(lines: tuple[str, ...], language: str) -> list[Text]:
    if not lines:
        return []
    code = "\n".join(lines)
    if language == "text":
        return [Text(line) for line in lines]
    highlighted = Syntax(code, language, theme=_THEME).highlight(code)
    parts = highlighted.split("\n", allow_blank=True)
    return [parts[i] if i < len(parts) else Text(lines[i]) for i in range(len(lines))]


class DiffView(ScrollView, can_focus=True):
    """Render with the Line API: only the visible lines are built."""

    DEFAULT_CSS = """
    DiffView { background: $surface; }
    """
    unified: reactive[bool] = reactive(False)

    def __init__(self, mapper: IdMapper, *, unified: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mapper = mapper
        self.file: FileDiff | None = None
        self._lines: list[_Line] = []
        self._hunk_starts: list[int] = []
        self._left: list[Text] = []
        self._right: list[Text] = []
        self.current_hunk: int | None = None
        self.set_reactive(DiffView.unified, unified)

    # data ----------------------------------------------------------------------------------

    def show(self, file: FileDiff) -> None:
        self.file = file
        self._left = _highlight(file.production, file.language)
        self._right = _highlight(file.staging, file.language)
        self.current_hunk = None
        self._layout_lines()
        self.scroll_to(0, 0, animate=False)

    def watch_unified(self) -> None:
        self._layout_lines()
        if self.current_hunk is not None:
            self._scroll_to_hunk(self.current_hunk)

    def _layout_lines(self) -> None:
        lines: list[_Line] = []
        starts: list[int] = []
        hunk = -1
        previous_changed = False
        rows = self.file.rows if self.file else ()
        for row in rows:
            changed = row.kind in CHANGES
            if changed and not previous_changed:
                hunk += 1
                starts.append(len(lines))
            previous_changed = changed
            number = hunk if changed else None
            if self.unified and row.kind is RowKind.CHANGE:
                lines.append(_Line(row, "left", number))
                lines.append(_Line(row, "right", number))
            else:
                lines.append(_Line(row, "both", number))
        self._lines = lines
        self._hunk_starts = starts
        self.virtual_size = Size(1, len(lines))  # lines fit the width: never a sideways scroll
        self.refresh()

    @property
    def hunks(self) -> int:
        return len(self._hunk_starts)

    # navigation ----------------------------------------------------------------------------

    def next_change(self) -> bool:
        if not self._hunk_starts:
            return False
        if self.current_hunk is None:
            top = self.scroll_offset.y
            following = [i for i, start in enumerate(self._hunk_starts) if start >= top]
            target = following[0] if following else len(self._hunk_starts) - 1
        else:
            target = min(self.current_hunk + 1, len(self._hunk_starts) - 1)
        self._scroll_to_hunk(target)
        return True

    def previous_change(self) -> bool:
        if not self._hunk_starts:
            return False
        target = 0 if self.current_hunk is None else max(self.current_hunk - 1, 0)
        self._scroll_to_hunk(target)
        return True

    def _scroll_to_hunk(self, index: int) -> None:
        self.current_hunk = index
        line = self._hunk_starts[index]
        self.scroll_to(y=max(line - 2, 0), animate=False)
        self.refresh()

    def scroll_to_staging_line(self, number: int) -> bool:
        for index, line in enumerate(self._lines):
            if line.row.right_no == number and line.side != "left":
                self.scroll_to(y=max(index - 2, 0), animate=False)
                return True
        return False

    @property
    def current_line(self) -> int | None:
        return None if self.current_hunk is None else self._hunk_starts[self.current_hunk]

    # rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines) or width <= 0:
            return Strip.blank(width, self.rich_style)
        text = self._line_text(self._lines[index], width)
        console: Console = self.app.console
        segments = list(text.render(console, end=""))
        return Strip(segments).adjust_cell_length(width, self.rich_style).simplify()

    def _number(self, value: int | None) -> str:
        return f"{value:>4} " if value is not None else "     "

    def _content(self, side: str, row: DiffRow) -> Text:
        if side == "left":
            if row.left_no is None:
                return Text("")
            return (
                self._left[row.left_no - 1].copy()
                if row.left_no <= len(self._left)
                else Text(row.left or "")
            )
        if row.right_no is None:
            return Text("")
        text = (
            self._right[row.right_no - 1].copy()
            if row.right_no <= len(self._right)
            else Text(row.right or "")
        )
        if row.kind is RowKind.ID:
            for offset, dev3_id, _ in self.mapper.find(text.plain):
                text.stylize(_ID, offset, offset + len(dev3_id))
        return text

    def _cell(
        self, glyph: str, number: int | None, content: Text, kind: RowKind, width: int
    ) -> Text:
        cell = Text(glyph, style=_GUTTER if kind in (RowKind.EQUAL,) else Style(bold=True))
        cell.append(self._number(number), style=_GUTTER)
        body = content.copy()
        body.truncate(max(width - len(cell), 0), overflow="ellipsis", pad=True)
        cell.append_text(body)
        background = _BACKGROUNDS.get(kind)
        if background is not None:
            cell.stylize(background)
        return cell

    def _side_cell(self, side: str, row: DiffRow, width: int) -> Text:
        """One half of a side-by-side row; a side without the line stays blank."""
        number = row.left_no if side == "left" else row.right_no
        if number is None:
            return self._cell(" ", None, Text(""), RowKind.EQUAL, width)
        glyph = " " if row.kind is RowKind.ID and side == "left" else GLYPHS[row.kind]
        return self._cell(glyph, number, self._content(side, row), row.kind, width)

    def _line_text(self, line: _Line, width: int) -> Text:
        row = line.row
        current = line.hunk is not None and line.hunk == self.current_hunk
        marker = Text("▶" if current else " ", style=_CURRENT)
        usable = width - 1
        if line.side == "both" and not self.unified:
            half = (usable - 1) // 2
            left = self._side_cell("left", row, half)
            right = self._side_cell("right", row, usable - 1 - half)
            return Text.assemble(marker, left, Text("│", style=_GUTTER), right)
        if line.side == "left" or row.kind is RowKind.DELETE:
            return Text.assemble(
                marker,
                self._cell("−", row.left_no, self._content("left", row), RowKind.DELETE, usable),
            )
        if line.side == "right" or row.kind is RowKind.INSERT:
            return Text.assemble(
                marker,
                self._cell("+", row.right_no, self._content("right", row), RowKind.INSERT, usable),
            )
        return Text.assemble(
            marker,
            self._cell(
                GLYPHS[row.kind], row.right_no, self._content("right", row), row.kind, usable
            ),
        )
