"""Production -> staging differences of one sheet, per file, with DEV3 ids mapped.

Staging code names its own DEV3 spreadsheet and script ids where production names the
production ones. Lines that differ only by such an id are *id substitutions*: reported as
such, never as changes. The rows here are aligned for a side-by-side view; `unified()` gives
the classic text diff for the command line.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass

from services.errors import UsageError
from services.models import Environment, ScriptFile, Sheet
from services.registry import IdMapper
from services.workspace import Workspace, disk_name


class RowKind(enum.StrEnum):
    EQUAL = "equal"
    ID = "id"  # equal once DEV3 ids are mapped to production ids
    DELETE = "delete"  # only in production
    INSERT = "insert"  # only in staging
    CHANGE = "change"  # a production line replaced by a staging line


CHANGES = (RowKind.DELETE, RowKind.INSERT, RowKind.CHANGE)


@dataclass(frozen=True)
class DiffRow:
    kind: RowKind
    left_no: int | None  # 1-based line numbers
    left: str | None
    right_no: int | None
    right: str | None


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str  # "same", "modified", "added" (staging only), "removed" (production only)
    rows: tuple[DiffRow, ...]
    production: tuple[str, ...]
    staging: tuple[str, ...]
    staging_mapped: tuple[str, ...]  # staging with DEV3 ids replaced by production ids

    @property
    def added(self) -> int:
        return sum(1 for r in self.rows if r.kind in (RowKind.INSERT, RowKind.CHANGE))

    @property
    def removed(self) -> int:
        return sum(1 for r in self.rows if r.kind in (RowKind.DELETE, RowKind.CHANGE))

    @property
    def id_substitutions(self) -> int:
        return sum(1 for r in self.rows if r.kind is RowKind.ID)

    @property
    def changed(self) -> bool:
        return self.status != "same"

    @property
    def language(self) -> str:
        return {".gs": "javascript", ".html": "html", ".json": "json"}.get(
            self.path[self.path.rfind(".") :], "text"
        )


@dataclass(frozen=True)
class SheetDiff:
    sheet: Sheet
    files: tuple[FileDiff, ...]
    order_changed: bool

    @property
    def files_changed(self) -> int:
        return sum(1 for f in self.files if f.changed)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    @property
    def id_substitutions(self) -> int:
        return sum(f.id_substitutions for f in self.files)

    @property
    def identical(self) -> bool:
        return self.files_changed == 0 and not self.order_changed

    def summary(self) -> str:
        ids = self.id_substitutions
        mapped = f"≈ {ids} DEV3 id{'s' if ids != 1 else ''} mapped, not changes"
        if self.identical:
            return f"No differences: production and staging are the same · {mapped}"
        return f"{self.stat} · {mapped}"

    @property
    def stat(self) -> str:
        """Files and lines changed, where no ids are mapped (both sides in the same ids)."""
        order = " · file order changed" if self.order_changed else ""
        return (
            f"{self.files_changed} of {len(self.files)} files changed · +{self.added} "
            f"−{self.removed} lines{order}"
        )


def split_lines(source: str) -> list[str]:
    """Lines as a person reads them: CRLF, CR and LF all end a line; no trailing empty line."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def file_diff(path: str, production: str | None, staging: str | None, mapper: IdMapper) -> FileDiff:
    left = split_lines(production) if production is not None else []
    right = split_lines(staging) if staging is not None else []
    mapped = [mapper.to_production(line) for line in right]
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, left, mapped, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                kind = RowKind.ID if right[j] != mapped[j] else RowKind.EQUAL
                rows.append(DiffRow(kind, i + 1, left[i], j + 1, right[j]))
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            rows.append(
                DiffRow(RowKind.CHANGE, i1 + k + 1, left[i1 + k], j1 + k + 1, right[j1 + k])
            )
        for i in range(i1 + pairs, i2):
            rows.append(DiffRow(RowKind.DELETE, i + 1, left[i], None, None))
        for j in range(j1 + pairs, j2):
            rows.append(DiffRow(RowKind.INSERT, None, None, j + 1, right[j]))
    if production is None:
        status = "added"
    elif staging is None:
        status = "removed"
    elif any(r.kind in CHANGES for r in rows) or production != mapper.to_production(staging):
        status = "modified"  # includes changes a line view cannot show (line endings)
    else:
        status = "same"
    return FileDiff(path, status, tuple(rows), tuple(left), tuple(right), tuple(mapped))


def sheet_diff(workspace: Workspace, mapper: IdMapper, sheet: Sheet) -> SheetDiff:
    production = workspace.read_project(sheet, Environment.PRODUCTION)
    staging = workspace.read_project(sheet, Environment.STAGING)
    missing = [
        env
        for env, files in ((Environment.PRODUCTION, production), (Environment.STAGING, staging))
        if files is None
    ]
    if missing:
        names = " and ".join(str(env) for env in missing)
        raise UsageError(
            f"sheet {sheet.key} has no {names} snapshot yet; snapshot it first "
            f"(`sheetstage snapshot --sheet {sheet.number}`, or s in the sheet list)"
        )
    assert production is not None and staging is not None
    return diff_projects(sheet, production, staging, mapper)


def diff_projects(
    sheet: Sheet, production: list[ScriptFile], staging: list[ScriptFile], mapper: IdMapper
) -> SheetDiff:
    left = {disk_name(f.name, f.type): f.source for f in production}
    right = {disk_name(f.name, f.type): f.source for f in staging}
    order = list(left) + [path for path in right if path not in left]
    files = tuple(file_diff(path, left.get(path), right.get(path), mapper) for path in order)
    common = [p for p in right if p in left]
    order_changed = common != [p for p in left if p in right]
    return SheetDiff(sheet, files, order_changed)


def unified(
    diff: SheetDiff, context: int = 3, sides: tuple[str, str] = ("production", "staging")
) -> str:
    """The classic unified diff production -> staging (staging with DEV3 ids mapped); `sides`
    names the two (a rollback shows `now` -> `backup`)."""
    out: list[str] = []
    for f in diff.files:
        if not f.changed:
            continue
        out.extend(
            difflib.unified_diff(
                list(f.production),
                list(f.staging_mapped),
                fromfile=f"{sides[0]}/{f.path}" if f.status != "added" else "/dev/null",
                tofile=f"{sides[1]}/{f.path}" if f.status != "removed" else "/dev/null",
                n=context,
                lineterm="",
            )
        )
    return "\n".join(out) + ("\n" if out else "")
