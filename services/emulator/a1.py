"""A1 notation for the emulator's Sheets values: `Tab`, `Tab!A2:F`, `'My tab'!A:A`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


@dataclass(frozen=True)
class A1Range:
    tab: str
    first_row: int  # 0-based, inclusive
    last_row: int | None  # 0-based, inclusive; None = open
    first_col: int
    last_col: int | None

    def label(self, rows: int | None = None, cols: int | None = None) -> str:
        """Google's spelling of the range (`Tab!A2:B3`, `'My tab'!C4`); rows/cols: the size
        actually written, from the first cell."""
        last_row = self.last_row if rows is None else self.first_row + rows - 1
        last_col = self.last_col if cols is None else self.first_col + cols - 1
        plain = re.fullmatch(r"[A-Za-z0-9_]+", self.tab)
        tab = self.tab if plain else "'" + self.tab.replace("'", "''") + "'"
        return f"{tab}!{self._cells(last_row, last_col)}"

    def quoted(self) -> str:
        """The range as Google's error messages spell it: the tab always quoted."""
        tab = self.tab.replace("'", "''")
        return f"'{tab}'!{self._cells(self.last_row, self.last_col)}"

    def _cells(self, last_row: int | None, last_col: int | None) -> str:
        start = f"{column_letters(self.first_col)}{self.first_row + 1}"
        if last_row == self.first_row and last_col == self.first_col:
            return start
        end = column_letters(last_col if last_col is not None else 25)
        return f"{start}:{end}" if last_row is None else f"{start}:{end}{last_row + 1}"


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - ord("A") + 1)
    return index - 1


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def parse(text: str) -> A1Range:
    """Parse an A1 range; raises ValueError with Google's wording on nonsense."""
    if "!" in text:
        tab, _, cells = text.rpartition("!")
    else:
        tab, cells = text, ""
    if tab.startswith("'") and tab.endswith("'") and len(tab) >= 2:
        tab = tab[1:-1].replace("''", "'")
    if not tab:
        raise ValueError(f"Unable to parse range: {text}")
    if not cells:
        return A1Range(tab, 0, None, 0, None)
    start, _, end = cells.partition(":")
    first = _CELL.match(start)
    last = _CELL.match(end) if end else first
    if not first or not last or not (start.strip()):
        raise ValueError(f"Unable to parse range: {text}")
    first_col = column_index(first.group(1)) if first.group(1) else 0
    first_row = int(first.group(2)) - 1 if first.group(2) else 0
    last_col = column_index(last.group(1)) if last.group(1) else None
    last_row = int(last.group(2)) - 1 if last.group(2) else None
    if not end:
        last_col, last_row = first_col, first_row
    return A1Range(tab, first_row, last_row, first_col, last_col)
