"""A production -> staging diff of one file, side by side or unified, in one scroll view, so
both panes always scroll together, down and sideways. Changes carry a glyph as well as a
colour, and inside a changed line the changed words are bold and reversed, which a terminal
without colour (NO_COLOR) still shows."""

from __future__ import annotations

import difflib
import re
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
_CHANGED = Style(bold=True, reverse=True)  # the changed words: visible without colour too
_MORE = Style(color="#808080", bold=True)
_THEME = "monokai"
GUTTER_WIDTH = 6  # glyph and line number before each side's code
SCROLL_STEP = 8  # columns a left or right key moves
TAB_SIZE = 4
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
_ALIKE = 0.3  # lines sharing less of their text are replaced whole: no words to point at

Spans = list[tuple[int, int]]


def changed_spans(left: str, right: str) -> tuple[Spans, Spans]:
    """Where a production line and the staging line replacing it differ, word by word: the
    (start, end) character spans of each side that the other side does not have."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    opcodes = matcher.get_opcodes()
    shared = sum(_solid("".join(a[i1:i2])) for tag, i1, i2, _, _ in opcodes if tag == "equal")
    if shared < _ALIKE * max(_solid(left), _solid(right), 1):
        return [], []
    starts_a, starts_b = _starts(a), _starts(b)
    spans_a: Spans = []
    spans_b: Spans = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        if i1 < i2:
            spans_a.append((starts_a[i1], starts_a[i2]))
        if j1 < j2:
            spans_b.append((starts_b[j1], starts_b[j2]))
    return spans_a, spans_b


def _solid(text: str) -> int:
    """Characters that are not spaces (what two lines can share that means anything)."""
    return len(text) - text.count(" ")


def _starts(tokens: list[str]) -> list[int]:
    """Each token's offset, and the end of the line last."""
    out, offset = [], 0
    for token in tokens:
        out.append(offset)
        offset += len(token)
    return [*out, offset]


@dataclass(frozen=True)
class _Line:
    """One display line: a side-by-side row, or one half of a unified change."""

    row: DiffRow
    side: str  # "both", "left", "right"
    hunk: int | None  # index of the change block it belongs to


def _highlight(lines: tuple[str, ...], language: str) -> list[Text]:
    if not lines:
        return []
    if language == "text":
        texts = [Text(line) for line in lines]
    else:
        code = "\n".join(lines)
        parts = Syntax(code, language, theme=_THEME).highlight(code).split("\n", allow_blank=True)
        texts = [parts[i] if i < len(parts) else Text(lines[i]) for i in range(len(lines))]
    for text in texts:
        text.expand_tabs(TAB_SIZE)  # a tab is as wide as it looks, for scrolling and cutting
    return texts


class DiffView(ScrollView, can_focus=True):
    """Render with the Line API: only the visible lines are built. Sideways, one offset
    moves the code of both sides at once; the gutters (glyph, line number) stay put."""

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
        self._spans: dict[DiffRow, tuple[Spans, Spans]] = {}
        self._widest = 0
        self.current_hunk: int | None = None
        self.set_reactive(DiffView.unified, unified)

    # data ----------------------------------------------------------------------------------

    def show(self, file: FileDiff) -> None:
        self.file = file
        self._left = _highlight(file.production, file.language)
        self._right = _highlight(file.staging, file.language)
        self._widest = max((t.cell_len for t in (*self._left, *self._right)), default=0)
        self._spans = {}
        self.current_hunk = None
        self._layout_lines()
        self.scroll_to(0, 0, animate=False)

    def watch_unified(self) -> None:
        self._layout_lines()
        if self.current_hunk is not None:
            self._scroll_to_hunk(self.current_hunk)

    def on_resize(self) -> None:
        self._update_size()

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
        self._update_size()
        self.refresh()

    def _code_widths(self, width: int) -> tuple[int, int]:
        """How many columns of code each side shows in `width` (unified: one side)."""
        usable = width - 1  # the current-change marker
        if self.unified:
            return usable - GUTTER_WIDTH, usable - GUTTER_WIDTH
        half = (usable - 1) // 2
        return half - GUTTER_WIDTH, usable - 1 - half - GUTTER_WIDTH

    @property
    def code_width(self) -> int:
        """The columns of code the narrower side shows now."""
        return max(min(self._code_widths(self.scrollable_content_region.width)), 1)

    @property
    def sideways(self) -> int:
        """How far the code can move sideways: the widest line's excess over its side."""
        return max(self._widest - self.code_width, 0)

    def _update_size(self) -> None:
        """Lines too long for their side make the view scroll sideways by the excess."""
        width = self.scrollable_content_region.width
        self.virtual_size = Size(width + self.sideways, len(self._lines))

    @property
    def hunks(self) -> int:
        return len(self._hunk_starts)

    def spans(self, row: DiffRow) -> tuple[Spans, Spans]:
        """The changed words of a changed row, each side (DEV3 ids mapped first, so an id
        is never a change)."""
        if row.kind is not RowKind.CHANGE or row.left is None or row.right is None:
            return [], []
        known = self._spans.get(row)
        if known is None:  # on the lines as drawn: tabs expanded
            left, right = row.left.expandtabs(TAB_SIZE), row.right.expandtabs(TAB_SIZE)
            left_spans, mapped = changed_spans(left, self.mapper.to_production(right))
            known = (left_spans, [self._raw_span(right, span) for span in mapped])
            self._spans[row] = known
        return known

    def _raw_span(self, raw: str, span: tuple[int, int]) -> tuple[int, int]:
        """A span of the mapped staging line, on the line as written (with DEV3 ids)."""
        ids = self.mapper.find(raw)

        def position(offset: int) -> int:
            shift = 0
            for start, dev3_id, production_id in ids:
                mapped_start = start + shift
                if offset <= mapped_start:
                    break
                if offset < mapped_start + len(production_id):
                    return start + min(offset - mapped_start, len(dev3_id))
                shift += len(production_id) - len(dev3_id)
            return offset - shift

        return position(span[0]), position(span[1])

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
        """The change's first lines in view, and sideways its first changed words."""
        self.current_hunk = index
        line = self._hunk_starts[index]
        self.scroll_to(x=self._first_change_x(line), y=max(line - 2, 0), animate=False)
        self.refresh()

    def _first_change_x(self, line: int) -> int:
        """A sideways offset that shows where the change starting at `line` begins: 0 when
        it is in view from the left edge; else it sits a third of the way in."""
        starts = []
        for entry in self._lines[line:]:
            if entry.hunk is None:
                break
            left, right = self.spans(entry.row)
            starts += [s for s, _ in (*left, *right)]
        width = self.code_width
        first = min(starts, default=0)
        if first < width - 4:
            return 0
        return min(first - width // 3, self.sideways)

    def scroll_to_staging_line(self, number: int) -> bool:
        for index, line in enumerate(self._lines):
            if line.row.right_no == number and line.side != "left":
                self.scroll_to(y=max(index - 2, 0), animate=False)
                return True
        return False

    @property
    def current_line(self) -> int | None:
        return None if self.current_hunk is None else self._hunk_starts[self.current_hunk]

    def action_scroll_left(self) -> None:
        self.scroll_to(x=max(self.scroll_offset.x - SCROLL_STEP, 0), animate=False)

    def action_scroll_right(self) -> None:
        self.scroll_to(x=min(self.scroll_offset.x + SCROLL_STEP, self.sideways), animate=False)

    # rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines) or width <= 0:
            return Strip.blank(width, self.rich_style)
        return self._line_strip(self._lines[index], width).adjust_cell_length(
            width, self.rich_style
        )

    def _number(self, value: int | None) -> str:
        return f"{value:>4} " if value is not None else "     "

    def _content(self, side: str, row: DiffRow) -> Text:
        left_spans, right_spans = self.spans(row)
        if side == "left":
            if row.left_no is None:
                return Text("")
            text = (
                self._left[row.left_no - 1].copy()
                if row.left_no <= len(self._left)
                else Text(row.left or "")
            )
            for start, end in left_spans:
                text.stylize(_CHANGED, start, end)
            return text
        if row.right_no is None:
            return Text("")
        text = (
            self._right[row.right_no - 1].copy()
            if row.right_no <= len(self._right)
            else Text(row.right or "")
        )
        if row.kind in (RowKind.ID, RowKind.CHANGE):
            for offset, dev3_id, _ in self.mapper.find(text.plain):
                text.stylize(_ID, offset, offset + len(dev3_id))
        for start, end in right_spans:
            text.stylize(_CHANGED, start, end)
        return text

    def _strip(self, text: Text) -> Strip:
        """A Text's segments with its own base style (`Text.render` leaves it out of a Text
        without spans)."""
        console: Console = self.app.console
        strip = Strip(list(text.render(console, end="")))
        base = text.style if isinstance(text.style, Style) else console.get_style(text.style)
        return strip.apply_style(base) if base else strip

    def _cell(
        self, glyph: str, number: int | None, content: Text, kind: RowKind, width: int
    ) -> Strip:
        """Gutter and code of one side, the code shifted by the sideways offset; a `‹` or
        `›` says the line goes on beyond the edge."""
        background = _BACKGROUNDS.get(kind)
        base = self.rich_style + background if background else self.rich_style
        gutter = Text(glyph, style=_GUTTER if kind is RowKind.EQUAL else Style(bold=True))
        gutter.append(self._number(number), style=_GUTTER)
        code_width = max(width - GUTTER_WIDTH, 0)
        x = int(self.scroll_offset.x)
        body = content.copy()
        if background is not None:  # over the syntax colours; the changed words stay reversed
            gutter.stylize(background)
            body.stylize(background)
        code = self._strip(body).crop(x, x + code_width).adjust_cell_length(code_width, base)
        cut_left, cut_right = x > 0 and body.cell_len > 0, body.cell_len > x + code_width
        if code_width > 2 and (cut_left or cut_right):
            middle = code.crop(1 if cut_left else 0, code_width - 1 if cut_right else code_width)
            code = Strip.join(
                [
                    self._strip(Text("‹", style=base + _MORE)) if cut_left else Strip([]),
                    middle,
                    self._strip(Text("›", style=base + _MORE)) if cut_right else Strip([]),
                ]
            )
        return Strip.join([self._strip(gutter).adjust_cell_length(GUTTER_WIDTH, base), code])

    def _side_cell(self, side: str, row: DiffRow, width: int) -> Strip:
        """One half of a side-by-side row; a side without the line stays blank."""
        number = row.left_no if side == "left" else row.right_no
        if number is None:
            return self._cell(" ", None, Text(""), RowKind.EQUAL, width)
        glyph = " " if row.kind is RowKind.ID and side == "left" else GLYPHS[row.kind]
        return self._cell(glyph, number, self._content(side, row), row.kind, width)

    def _line_strip(self, line: _Line, width: int) -> Strip:
        row = line.row
        current = line.hunk is not None and line.hunk == self.current_hunk
        marker = self._strip(Text("▶" if current else " ", style=_CURRENT))
        usable = width - 1
        if line.side == "both" and not self.unified:
            half = (usable - 1) // 2
            left = self._side_cell("left", row, half)
            right = self._side_cell("right", row, usable - 1 - half)
            return Strip.join([marker, left, self._strip(Text("│", style=_GUTTER)), right])
        if line.side == "left" or row.kind is RowKind.DELETE:
            glyph, number, side, kind = "−", row.left_no, "left", RowKind.DELETE
        elif line.side == "right" or row.kind is RowKind.INSERT:
            glyph, number, side, kind = "+", row.right_no, "right", RowKind.INSERT
        else:
            glyph, number, side, kind = GLYPHS[row.kind], row.right_no, "right", row.kind
        return Strip.join(
            [marker, self._cell(glyph, number, self._content(side, row), kind, usable)]
        )
