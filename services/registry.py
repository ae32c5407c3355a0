"""registry.toml: the 235 sheets and their ids; import from CSV/JSON; parentId checks."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from services.errors import UsageError
from services.models import Environment, Sheet, parse_sheet_number
from services.progress import counted

REQUIRED_COLUMNS = (
    "number",
    "name",
    "prod_spreadsheet_id",
    "prod_script_id",
    "dev3_spreadsheet_id",
    "dev3_script_id",
)
OPTIONAL_COLUMNS = ("owner", "reference_ranges")
MAX_SHEETS = 1000
MAX_NAME = 200
# not plain text: control and format characters (newline, tab, DEL, U+202E RIGHT-TO-LEFT
# OVERRIDE, zero-width joiners), surrogates, and Unicode's own line and paragraph separators
_NOT_PLAIN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_PLAIN_FIX = "write it as plain text on one line"
_GOOGLE_ID = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_RANGE = re.compile(r"^(?:'[^']+'|[^!']+)(?:![A-Z]*\d*(?::[A-Z]*\d*)?)?$")


@dataclass(frozen=True)
class Registry:
    sheets: tuple[Sheet, ...]
    activity_log_spreadsheet_id: str = ""

    def by_number(self, number: int) -> Sheet:
        for sheet in self.sheets:
            if sheet.number == number:
                return sheet
        raise UsageError(
            f"sheet {number} is not in registry.toml (it holds {self.describe_numbers()}); "
            "pick a registered sheet number"
        )

    def describe_numbers(self) -> str:
        if not self.sheets:
            return "no sheets: run `sheetstage registry import FILE`"
        numbers = sorted(s.number for s in self.sheets)
        return f"{len(numbers)} sheets, {numbers[0]:03d}..{numbers[-1]:03d}"

    def select(self, numbers: Sequence[str] | None) -> list[Sheet]:
        """The sheets named by --sheet values (all when none)."""
        if not numbers:
            return sorted(self.sheets, key=lambda s: s.number)
        chosen = []
        for text in numbers:
            try:
                number = parse_sheet_number(text)
            except ValueError as error:
                raise UsageError(str(error)) from None
            sheet = self.by_number(number)
            if sheet not in chosen:
                chosen.append(sheet)
        return chosen


class IdMapper:
    """DEV3 ids -> production ids, for every registered sheet at once (code may reference
    another sheet's spreadsheet, not only its own)."""

    def __init__(self, sheets: Iterable[Sheet]) -> None:
        self._mapping: dict[str, str] = {}
        for s in sheets:
            self._mapping[s.dev3_spreadsheet_id] = s.prod_spreadsheet_id
            self._mapping[s.dev3_script_id] = s.prod_script_id
        keys = sorted(self._mapping, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, keys))) if keys else None

    def to_production(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._mapping[m.group(0)], text)

    def to_staging(self, text: str) -> str:
        """Production ids -> DEV3 ids (adopting production's code into staging)."""
        if self._pattern is None:
            return text
        reverse, pattern = self._reverse
        return pattern.sub(lambda m: reverse[m.group(0)], text)

    @functools.cached_property
    def _reverse(self) -> tuple[dict[str, str], re.Pattern[str]]:
        reverse = {prod: dev3 for dev3, prod in self._mapping.items()}
        keys = sorted(reverse, key=len, reverse=True)
        return reverse, re.compile("|".join(map(re.escape, keys)))

    def find(self, text: str) -> list[tuple[int, str, str]]:
        """(offset, dev3 id, production id) of every DEV3 id in text."""
        if self._pattern is None:
            return []
        return [
            (m.start(), m.group(0), self._mapping[m.group(0)]) for m in self._pattern.finditer(text)
        ]


def load_registry(path: Path) -> Registry:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path} is missing; run `sheetstage init` to create a workspace"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(
            f"{path}: broken TOML ({error}); fix it (it is in git: `git diff`)"
        ) from None
    log = data.get("activity_log", {})
    log_id = log.get("spreadsheet_id", "") if isinstance(log, dict) else ""
    rows = data.get("sheet", [])
    if not isinstance(rows, list):
        raise UsageError(f"{path}: `sheet` must be an array of tables ([[sheet]])")
    sheets = validate_rows(rows, str(path))
    return Registry(tuple(sheets), str(log_id))


def render_registry(sheets: Sequence[Sheet], activity_log_spreadsheet_id: str = "") -> str:
    header = (
        "# The practice's sheets: one [[sheet]] per production spreadsheet and its DEV3 copy.\n"
        "# Human-curated and reviewed in git; fill it with `sheetstage registry import FILE`.\n"
    )
    document: dict[str, Any] = {
        "activity_log": {"spreadsheet_id": activity_log_spreadsheet_id},
        "sheet": [
            {
                "number": s.number,
                "name": s.name,
                "prod_spreadsheet_id": s.prod_spreadsheet_id,
                "prod_script_id": s.prod_script_id,
                "dev3_spreadsheet_id": s.dev3_spreadsheet_id,
                "dev3_script_id": s.dev3_script_id,
                "owner": s.owner,
                "reference_ranges": list(s.reference_ranges),
            }
            for s in sorted(sheets, key=lambda s: s.number)
        ],
    }
    return header + tomli_w.dumps(document)


@dataclass(frozen=True)
class ImportFile:
    """A registry export as read: its rows, and the columns it has (a CSV's header; for JSON,
    every key some object has)."""

    rows: list[dict[str, Any]]
    columns: frozenset[str]


def read_import_file(path: Path) -> ImportFile:
    """A CSV (header row) or JSON (list of objects) registry file; not yet validated."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(
            f"{path}: file not found; pass the CSV or JSON export of your sheets"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; export it as UTF-8 CSV or JSON") from None
    except OSError as error:  # a folder, a file it may not read
        raise UsageError(
            f"{path}: cannot be read ({error.strerror}); pass the CSV or JSON file itself"
        ) from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}: broken JSON ({error}); fix it and import again") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UsageError(
                f"{path}: expected a JSON list of objects with {', '.join(REQUIRED_COLUMNS)}"
            )
        return ImportFile(rows, frozenset(key for row in rows for key in row))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageError(f"{path}: the header row lacks {', '.join(missing)}; add those columns")
    rows = []
    for row in reader:
        if None in row:
            raise UsageError(
                f"{path}: row {reader.line_num} has more cells than the header; fix it"
            )
        rows.append(dict(row))
    return ImportFile(rows, frozenset(reader.fieldnames or ()))


def plain_text_problem(value: str) -> str | None:
    """Why `value` is not a plain-text sheet name, with the fix (None when it is one). Names
    end up in listings, commit messages, the TUI and terminals: nothing that moves the
    cursor, reorders text or reads as a path."""
    for char in value:
        if char in "/\\":
            return f"contains the path separator {char!r}; use a name without / or \\"
    control = _control_character(value)
    if control:
        return f"contains {control}; {_PLAIN_FIX}"
    if value != value.strip():
        return "starts or ends with whitespace; remove it"
    if len(value) > MAX_NAME:
        return f"is {len(value)} characters long; shorten it to {MAX_NAME} or fewer"
    return None


def _control_character(value: str) -> str | None:
    for char in value:
        if unicodedata.category(char) in _NOT_PLAIN:
            return f"U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
    return None


def validate_rows(rows: Sequence[dict[str, Any]], origin: str) -> list[Sheet]:
    """Every row checked before anything is used; the first problem is reported."""
    if len(rows) > MAX_SHEETS:
        raise UsageError(f"{origin}: {len(rows)} sheets is more than {MAX_SHEETS}; split the file")
    sheets: list[Sheet] = []
    seen_numbers: dict[int, int] = {}
    seen_ids: dict[str, str] = {}
    for index, row in enumerate(rows, start=1):
        where = f"{origin}: sheet entry {index}"
        unknown = set(row) - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS)
        if unknown:
            raise UsageError(f"{where}: unknown column {sorted(unknown)[0]!r}; remove it")
        for column in REQUIRED_COLUMNS:
            if row.get(column) is None or str(row[column]).strip() == "":
                raise UsageError(f"{where}: {column} is empty; fill it in")
        try:
            number = parse_sheet_number(str(row["number"]))
        except ValueError:
            raise UsageError(f"{where}: number {row['number']!r} is not a whole number") from None
        if number in seen_numbers:
            raise UsageError(f"{where}: number {number} repeats entry {seen_numbers[number]}")
        seen_numbers[number] = index
        name = row["name"]
        if not isinstance(name, str):
            raise UsageError(f"{where}: name {name!r} is not text; write it as a quoted string")
        problem = plain_text_problem(name)
        if problem:
            raise UsageError(f"{where}: name {name[:60]!r} {problem}")
        ids = {}
        for column in REQUIRED_COLUMNS[2:]:
            value = str(row[column]).strip()
            if not _GOOGLE_ID.match(value):
                raise UsageError(
                    f"{where}: {column} {value[:60]!r} is not a Google id (20+ letters, digits,"
                    " - or _); copy it from the sheet's or script's URL"
                )
            if value in seen_ids:
                raise UsageError(f"{where}: {column} repeats the id of {seen_ids[value]}")
            seen_ids[value] = f"entry {index} {column}"
            ids[column] = value
        ranges = row.get("reference_ranges", []) or []
        if isinstance(ranges, str):
            ranges = [r.strip() for r in ranges.replace(";", ",").split(",") if r.strip()]
        if not isinstance(ranges, list) or not all(
            isinstance(r, str) and _RANGE.match(r) and not _control_character(r) for r in ranges
        ):
            raise UsageError(
                f"{where}: reference_ranges {ranges!r} must be A1 ranges such as 'Patients!A2:F'"
            )
        owner = row.get("owner", "") or ""
        if not isinstance(owner, str) or _control_character(owner):
            raise UsageError(
                f"{where}: owner {str(owner)[:60]!r} must be plain text, such as an email address"
            )
        sheets.append(
            Sheet(
                number=number,
                name=name,
                owner=owner.strip(),
                reference_ranges=tuple(ranges),
                **ids,
            )
        )
    return sheets


@dataclass(frozen=True)
class FieldChange:
    """One field of a registered sheet, before and after an import."""

    field: str
    old: str | tuple[str, ...]
    new: str | tuple[str, ...]

    def describe(self) -> str:
        def shown(value: str | tuple[str, ...]) -> str:
            return repr(list(value)) if isinstance(value, tuple) else repr(value)

        return f"{self.field} {shown(self.old)} -> {shown(self.new)}"


@dataclass(frozen=True)
class SheetChange:
    before: Sheet
    after: Sheet
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ImportPlan:
    """What `registry import FILE` would do to registry.toml: worked out in full, and checked,
    before anything is written."""

    origin: str
    adds: tuple[Sheet, ...]
    changes: tuple[SheetChange, ...]
    removals: tuple[Sheet, ...]
    sheets: tuple[Sheet, ...]  # the registry after the import, by number
    kept: tuple[str, ...] = ()  # optional columns the file lacks: kept from the registry

    @property
    def unchanged(self) -> int:
        return len(self.sheets) - len(self.adds) - len(self.changes)

    @property
    def changes_nothing(self) -> bool:
        return not (self.adds or self.changes or self.removals)

    def lines(self) -> list[str]:
        """One line per sheet added, changed or removed, by number."""
        lines = [f"add {s.key} {s.name}" for s in self.adds]
        lines += [
            f"change {c.after.key}: {', '.join(f.describe() for f in c.fields)}"
            for c in self.changes
        ]
        lines += [f"remove {s.key} {s.name}" for s in self.removals]
        return lines

    def tally(self) -> str:
        """`1 added, 2 changed, 0 removed`: for the commit message and the audit line."""
        return f"{len(self.adds)} added, {len(self.changes)} changed, {len(self.removals)} removed"

    def counts(self) -> str:
        """The line under `lines()`."""
        kept = f"; {' and '.join(self.kept)} kept from registry.toml" if self.kept else ""
        return (
            f"{self.origin}: {self.tally()}, {self.unchanged} unchanged "
            f"({counted(len(self.sheets), 'sheet')}{kept})"
        )


_COMPARED = ("name", *REQUIRED_COLUMNS[2:], *OPTIONAL_COLUMNS)


def plan_import(
    current: Registry,
    rows: Sequence[dict[str, Any]],
    columns_present: Iterable[str],
    origin: str,
    *,
    allow_removals: bool = False,
) -> ImportPlan:
    """Every row validated, then compared with the current registry. A file without rows is
    refused; so are removals unless allowed. An optional column the file lacks (owner,
    reference_ranges) keeps each sheet's current value."""
    if not rows:
        raise UsageError(
            f"{origin} holds no sheets; export one row per sheet under the header "
            "(number,name,prod_spreadsheet_id,...) and import again"
        )
    present = set(columns_present)
    missing = tuple(c for c in OPTIONAL_COLUMNS if c not in present)
    before = {s.number: s for s in current.sheets}
    sheets = []
    for sheet in validate_rows(rows, origin):
        old = before.get(sheet.number)
        if old is not None and missing:
            sheet = dataclasses.replace(sheet, **{c: getattr(old, c) for c in missing})
        sheets.append(sheet)
    sheets.sort(key=lambda s: s.number)
    kept = missing if any(s.number in before for s in sheets) else ()
    numbers = {s.number for s in sheets}
    removals = tuple(s for number, s in sorted(before.items()) if number not in numbers)
    if removals and not allow_removals:
        listed = ", ".join(s.key for s in removals[:8]) + (", ..." if len(removals) > 8 else "")
        raise UsageError(
            f"{origin} would remove {len(removals)} of {len(before)} sheets ({listed}); "
            "pass --allow-removals if that is intended"
        )
    adds = tuple(s for s in sheets if s.number not in before)
    changes = []
    for sheet in sheets:
        old = before.get(sheet.number)
        if old is None or old == sheet:
            continue
        fields = tuple(
            FieldChange(name, getattr(old, name), getattr(sheet, name))
            for name in _COMPARED
            if getattr(old, name) != getattr(sheet, name)
        )
        changes.append(SheetChange(old, sheet, fields))
    return ImportPlan(origin, adds, tuple(changes), removals, tuple(sheets), kept)


@dataclass(frozen=True)
class RegistryProblem:
    sheet: Sheet
    env: Environment
    problem: str

    def as_json(self) -> dict[str, object]:
        return {"sheet": self.sheet.number, "env": str(self.env), "problem": self.problem}
