"""audit/audit.jsonl: an append-only, hash-chained trail of every action.

Each line is one JSON object: seq, time (UTC), user, action, sheets, hashes, result, detail
and prev, the SHA-256 of the previous line (64 zeros for the first). Lines are appended under
the workspace lock and fsynced; they are committed with the next commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.workspace import Workspace

GENESIS = "0" * 64


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    user: str
    action: str
    sheets: tuple[int, ...]
    hashes: dict[str, str]
    result: str
    detail: str
    prev: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        return cls(
            seq=int(data["seq"]),
            time=str(data["time"]),
            user=str(data["user"]),
            action=str(data["action"]),
            sheets=tuple(int(s) for s in data.get("sheets", [])),
            hashes=dict(data.get("hashes", {})),
            result=str(data.get("result", "")),
            detail=str(data.get("detail", "")),
            prev=str(data["prev"]),
        )


@dataclass(frozen=True)
class Verification:
    lines: int
    broken_line: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_line is None


class AuditTrail:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.audit_path

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return text.splitlines()

    def append(
        self,
        user: str,
        action: str,
        *,
        sheets: Sequence[int] = (),
        hashes: dict[str, str] | None = None,
        result: str = "ok",
        detail: str = "",
    ) -> AuditEntry:
        with self.workspace.lock():
            lines = self._lines()
            prev = line_hash(lines[-1]) if lines else GENESIS
            seq = 1
            if lines:
                try:
                    seq = int(json.loads(lines[-1])["seq"]) + 1
                except (ValueError, KeyError, TypeError):
                    seq = len(lines) + 1
            record = {
                "seq": seq,
                "time": utc_now(),
                "user": user,
                "action": action,
                "sheets": sorted(set(sheets)),
                "hashes": hashes or {},
                "result": result,
                "detail": detail,
                "prev": prev,
            }
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return AuditEntry.from_json(record)

    def entries(self) -> Iterator[AuditEntry]:
        for line in self._lines():
            if line.strip():
                yield AuditEntry.from_json(json.loads(line))

    def verify(self) -> Verification:
        """Recompute the chain; name the first line that does not fit."""
        prev = GENESIS
        lines = self._lines()
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                entry = AuditEntry.from_json(record)
            except (ValueError, KeyError, TypeError):
                return Verification(len(lines), number, "not a valid audit entry")
            if entry.prev != prev:
                return Verification(
                    len(lines), number, "prev does not match the line before (edited or removed)"
                )
            if entry.seq != number:
                return Verification(len(lines), number, f"seq {entry.seq}, expected {number}")
            prev = line_hash(line)
        return Verification(len(lines))


def describe(verification: Verification, path: Path) -> str:
    if verification.ok:
        return f"audit trail intact: {verification.lines} entries in {path}"
    return (
        f"audit trail broken at line {verification.broken_line} of {path}: {verification.reason};"
        " restore the file from git (`git log -p -- audit/audit.jsonl`) before any production write"
    )
