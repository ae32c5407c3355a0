"""Audit trails: `audit/USER.jsonl`, one per person, append-only and hash-chained.

Each line is one JSON object: seq (per file, from 1), time (UTC), user, action, sheets,
hashes, result, detail and prev, the SHA-256 of the previous line of the same file (64 zeros
for the first). A person's file is created by that person (0644, in the setgid + sticky
`audit/`), so no one else can write, delete or replace it. Lines are appended whole and
fsynced under the workspace lock; a partial last line left by a crash is moved aside to
`.sheetstage/quarantine/` by the next append.

Tampering by the owner (or root) is caught by witnesses outside the file: every commit
anchors each trail's line count and head hash (`Audit-Heads:` trailers, see services/chain),
the off-site remote refuses rewritten history, and the activity-log sheet holds each line's
hash. `verify` checks chains, ownership and all witnesses, and names the first broken line.
The single `audit/audit.jsonl` of earlier versions is kept as history: verified by its
chain, it grants nothing.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services import crashpoints
from services.chain import GENESIS, complete_lines, line_hash
from services.chain import head as chain_head
from services.errors import RefusedError
from services.workspace import (
    AUDIT_DIR,
    OWN_FILE,
    PushError,
    Workspace,
    account_name,
    atomic_write,
    make_dirs,
    uid_of,
)

LEGACY_NAME = "audit.jsonl"
_TAIL_BYTES = 1 << 16  # enough to hold the last complete line


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    line_hash: str = ""

    @property
    def event_id(self) -> str:
        """`USER:seq`: the activity log's id for this line."""
        return f"{self.user}:{self.seq}"

    @classmethod
    def from_json(cls, data: dict[str, Any], hashed: str = "") -> AuditEntry:
        if not isinstance(data, dict):
            raise TypeError("an audit entry is a JSON object")
        return cls(
            seq=int(data["seq"]),
            time=str(data["time"]),
            user=str(data["user"]),
            action=str(data["action"]),
            sheets=tuple(int(s) for s in data.get("sheets", [])),
            hashes={str(k): str(v) for k, v in dict(data.get("hashes", {})).items()},
            result=str(data.get("result", "")),
            detail=str(data.get("detail", "")),
            prev=str(data["prev"]),
            line_hash=hashed,
        )


def parse_line(raw: bytes) -> AuditEntry | None:
    try:
        return AuditEntry.from_json(json.loads(raw.decode("utf-8")), line_hash(raw))
    except (ValueError, KeyError, TypeError):
        return None


# appending ----------------------------------------------------------------------------------


class AuditTrail:
    """One person's trail file; only that person appends to it."""

    def __init__(self, workspace: Workspace, person: str) -> None:
        self.workspace = workspace
        self.person = person
        self.path = workspace.trail_path(person)

    def append(
        self,
        action: str,
        *,
        sheets: Sequence[int] = (),
        hashes: dict[str, str] | None = None,
        result: str = "ok",
        detail: str = "",
    ) -> AuditEntry:
        with self.workspace.lock():
            descriptor = self._open()
            try:
                seq, prev, moved = self._position(descriptor)
                if moved:  # a partial line was moved aside: the trail says so first
                    note = self._write(descriptor, seq, prev, "quarantine", (), {}, "ok", moved)
                    seq, prev = note.seq + 1, note.line_hash
                return self._write(
                    descriptor, seq, prev, action, sheets, hashes or {}, result, detail
                )
            finally:
                os.close(descriptor)

    def _open(self) -> int:
        make_dirs(self.path.parent, AUDIT_DIR)
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW
        try:
            descriptor = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, OWN_FILE)
            os.fchmod(descriptor, OWN_FILE)  # whatever the umask
        except FileExistsError:
            try:
                descriptor = os.open(self.path, flags)
            except OSError as error:
                raise RefusedError(self._not_yours(error)) from None
        info = os.fstat(descriptor)
        if info.st_uid != os.geteuid():
            os.close(descriptor)
            raise RefusedError(
                f"{self.path} belongs to {account_name(info.st_uid)}, not to you: a trail is "
                "written only by its owner; ask the workspace's owner to move it aside"
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            os.fchmod(descriptor, OWN_FILE)
        return descriptor

    def _not_yours(self, error: OSError) -> str:
        if self.path.is_symlink():
            return f"{self.path} is a symbolic link; move it away (a trail is a regular file)"
        return (
            f"{self.path} cannot be opened ({error.strerror}): a trail is written only by its "
            "owner; ask the workspace's owner to move it aside"
        )

    def _position(self, descriptor: int) -> tuple[int, str, str]:
        """(seq, prev) of the next line, after moving a partial last line (left by a crash)
        aside to the quarantine; the third value says what was moved ("" when nothing)."""
        size = os.fstat(descriptor).st_size
        start = max(0, size - _TAIL_BYTES)
        data = os.pread(descriptor, size - start, start)
        moved = ""
        if data and not data.endswith(b"\n"):
            data = _read_all(descriptor)
            keep = data.rfind(b"\n") + 1
            moved = self._quarantine(descriptor, keep, data[keep:])
            data, start = data[:keep], 0
        if start > 0:
            data = data[data.find(b"\n") + 1 :]  # drop the piece of a line cut by the window
        lines, _ = complete_lines(data)
        if not lines and start > 0:
            lines, _ = complete_lines(_read_all(descriptor))
        if not lines:
            return 1, GENESIS, moved
        previous = parse_line(lines[-1])
        if previous is not None:
            return previous.seq + 1, previous.line_hash, moved
        count = len(complete_lines(_read_all(descriptor))[0])
        return count + 1, line_hash(lines[-1]), moved

    def _quarantine(self, descriptor: int, keep: int, partial: bytes) -> str:
        folder = self.workspace.internal / "quarantine"
        stamp = utc_now().replace(":", "")
        target = folder / f"{self.person}-{stamp}-{os.getpid()}.partial"
        atomic_write(target, partial, mode=0o640)
        os.ftruncate(descriptor, keep)
        os.fsync(descriptor)
        moved = (
            f"a partial last line ({len(partial)} bytes) left by an interrupted run was moved "
            f"to {target.relative_to(self.workspace.root)}"
        )
        self.workspace.notices.append(f"{self.path.name}: {moved}")
        return moved

    def _write(
        self,
        descriptor: int,
        seq: int,
        prev: str,
        action: str,
        sheets: Sequence[int],
        hashes: dict[str, str],
        result: str,
        detail: str,
    ) -> AuditEntry:
        line = render_line(seq, prev, self.person, action, sheets, hashes, result, detail)
        data = line + b"\n"
        if crashpoints.armed("trail-append"):
            os.write(descriptor, data[: len(data) // 2])
            os.fsync(descriptor)
            crashpoints.reached("trail-append")
        written = 0
        while written < len(data):
            written += os.write(descriptor, data[written:])
        os.fsync(descriptor)
        entry = parse_line(line)
        assert entry is not None
        return entry


def render_line(
    seq: int,
    prev: str,
    user: str,
    action: str,
    sheets: Sequence[int] = (),
    hashes: dict[str, str] | None = None,
    result: str = "ok",
    detail: str = "",
) -> bytes:
    """One trail line (without its newline)."""
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
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _read_all(descriptor: int) -> bytes:
    return os.pread(descriptor, os.fstat(descriptor).st_size, 0)


# reading ------------------------------------------------------------------------------------


@dataclass
class TrailFile:
    """One trail file as it is on disk now."""

    path: Path
    lines: list[bytes]
    tail: bytes  # after the last newline: a line still being written
    regular: bool = True  # False: a symbolic link or other non-file, never read

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def person(self) -> str | None:
        """Whose trail this is; None for the legacy single trail (history only)."""
        return None if self.name == LEGACY_NAME else self.path.stem

    def entries(self) -> Iterator[AuditEntry]:
        for raw in self.lines:
            entry = parse_line(raw)
            if entry is not None:
                yield entry


def read_trails(workspace: Workspace) -> list[TrailFile]:
    """Every trail file; a symbolic link is never followed (it is reported, not read)."""
    trails = []
    for path in sorted(workspace.audit_dir.glob("*.jsonl")):
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            trails.append(TrailFile(path, [], b"", regular=False))
            continue
        try:
            regular = stat.S_ISREG(os.fstat(descriptor).st_mode)
            data = _read_all(descriptor) if regular else b""
        finally:
            os.close(descriptor)
        lines, tail = complete_lines(data)
        trails.append(TrailFile(path, lines, tail, regular))
    return trails


# verifying ----------------------------------------------------------------------------------


@dataclass
class TrailCheck:
    name: str
    person: str | None
    lines: int
    broken_line: int | None = None
    reason: str = ""
    untrusted: str = ""
    in_progress: bool = False
    anchored: int = 0  # lines a consistent commit recorded, as they are now
    witnessed: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_line is None and not self.untrusted

    def describe(self) -> str:
        where = f"audit/{self.name}"
        if self.untrusted:  # whose file it is comes before what it says
            return f"{where}: NOT TRUSTED: {self.untrusted}"
        if self.broken_line is not None:
            return f"{where}: BROKEN at line {self.broken_line}: {self.reason}"
        kind = "history (grants nothing)" if self.person is None else "intact"
        parts = [_count(self.lines, "line"), f"{self.anchored} anchored by commits"]
        if self.witnessed:
            parts.append(f"{self.witnessed} witnessed by the activity log")
        if self.in_progress:
            parts.append("a last line still being written")
        return f"{where}: {kind}, " + ", ".join(parts)


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


@dataclass
class AuditReport:
    checks: list[TrailCheck]
    files: dict[str, TrailFile] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # commits that are breaks themselves
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks) and not self.history

    @property
    def broken(self) -> list[TrailCheck]:
        return [check for check in self.checks if not check.ok]

    def check_of(self, person: str) -> TrailCheck | None:
        return next((c for c in self.checks if c.person == person), None)

    def intact_people(self) -> set[str]:
        return {c.person for c in self.checks if c.ok and c.person is not None}

    def counting(self, holders: Collection[str], action: str) -> Iterator[AuditEntry]:
        """Lines of `action` (result ok) that grant something: in the intact trail of a person
        in `holders` (who holds the needed role now). Legacy history never counts."""
        for entry in self.trusted_entries(holders):
            if entry.action == action and entry.result == "ok":
                yield entry

    def trusted_entries(self, people: Collection[str] | None = None) -> Iterator[AuditEntry]:
        """The lines of intact trails (of `people`, or everyone's): what the activity log may
        witness and what may grant anything."""
        for person in sorted(self.intact_people()):
            trail = self.files.get(f"{person}.jsonl")
            if trail is None or (people is not None and person not in people):
                continue
            yield from (entry for entry in trail.entries() if entry.user == person)

    def summary(self) -> str:
        if self.ok:
            return f"audit trail intact: {_count(len(self.checks), 'trail file')} verified"
        parts = []
        if self.broken:
            names = ", ".join(f"audit/{c.name}" for c in self.broken)
            whose = "its owner" if len(self.broken) == 1 else "their owners"
            parts.append(
                f"broken in {names}: no approval or role of {whose} counts until it is "
                "restored (`git log -p -- audit/`)"
            )
        if self.history:
            breaks = "is a break itself" if len(self.history) == 1 else "are breaks themselves"
            parts.append(f"{_count(len(self.history), 'commit')} in the history {breaks}")
        return "audit trail " + "; ".join(parts)


def verify(
    workspace: Workspace,
    *,
    simulated: Collection[str] = (),
    witness: Mapping[str, Collection[str]] | None = None,
    remote: str = "",
) -> AuditReport:
    """Check every trail: its chain, its owner and mode, that it still holds exactly what every
    commit (and the remote's history) anchored, and what the activity log witnessed.

    `simulated` names people whose trail may be owned by the workspace's owner (the emulator's
    simulated people); `witness` maps activity-log event ids to the line hashes of their
    rows. An anchor that its own commit does not hold, or a commit that rewrote earlier
    lines, is a break of the history (reported, never blamed on a person: anyone can
    commit)."""
    report = AuditReport([], {trail.name: trail for trail in read_trails(workspace)})
    anchors = _anchors(workspace, remote, report)
    names = sorted(set(report.files) | {path.removeprefix("audit/") for path in anchors})
    for name in names:
        trail = report.files.get(name)
        gone = trail is None  # commits recorded it, but it is not on disk
        if trail is None:
            trail = report.files[name] = TrailFile(workspace.audit_dir / name, [], b"")
        check = _check_file(
            workspace, trail, anchors.get(f"audit/{name}", set()), witness or {}, report
        )
        if gone and check.broken_line is not None:
            check.reason = "the file is gone; " + check.reason
        if trail.person is not None and not gone:
            check.untrusted = _ownership_problem(workspace, trail, trail.person, simulated)
        report.checks.append(check)
    if witness is None:
        report.notes.append(
            "activity log not read: lines not yet in a commit were checked by chain only"
        )
    return report


Anchor = tuple[int, str, str]  # (line count, head hash, commit)


def _anchors(workspace: Workspace, remote: str, report: AuditReport) -> dict[str, set[Anchor]]:
    """Every anchor recorded along the local history (and the remote's), per trail path. A
    commit that records fewer lines of a trail than an earlier commit is a history break."""
    histories = [workspace.anchor_history("HEAD")]
    if remote:
        try:
            sha = workspace.remote_head(remote)
            if sha:
                histories.append(workspace.anchor_history(sha))
        except PushError as error:
            report.notes.append(f"backup not checked: {error}")
    found: dict[str, set[Anchor]] = {}
    for history in histories:
        most: dict[str, tuple[int, str]] = {}
        for commit in reversed(history):  # oldest first
            for path, (count, head) in (commit.heads or {}).items():
                earlier = most.get(path)
                if earlier is not None and count < earlier[0]:
                    _history_break(
                        report,
                        f"commit {commit.commit[:10]} records {count} lines of {path}, fewer "
                        f"than commit {earlier[1][:10]} before it",
                    )
                else:
                    most[path] = (count, commit.commit)
                found.setdefault(path, set()).add((count, head, commit.commit))
    return found


def _history_break(report: AuditReport, problem: str) -> None:
    if problem not in report.history:
        report.history.append(problem)


def _check_file(
    workspace: Workspace,
    trail: TrailFile,
    anchors: set[Anchor],
    witness: Mapping[str, Collection[str]],
    report: AuditReport,
) -> TrailCheck:
    person = trail.person
    check = TrailCheck(trail.name, person, len(trail.lines), in_progress=bool(trail.tail))
    hashes = [line_hash(raw) for raw in trail.lines]
    relative = f"audit/{trail.name}"
    breaks: list[tuple[int, str]] = []  # evidence from outside the file: exact lines
    matched: dict[int, str] = {}  # line count -> a commit whose anchor the file still matches
    for count, head, commit in sorted(anchors, key=lambda a: (a[0], a[2])):
        if count <= len(hashes) and (count == 0 or hashes[count - 1] == head):
            check.anchored = max(check.anchored, count)
            matched[count] = commit
            continue
        recorded = _consistent_copy(workspace, commit, relative, count, head, report)
        if recorded is None:
            continue
        line = _first_difference(trail.lines, recorded)
        what = "is missing" if line > len(trail.lines) else "was changed"
        breaks.append(
            (line, f"line {line} {what} after commit {commit[:10]} recorded {count} lines")
        )
    witnessed: set[int] = set()
    if person is not None:
        for event, recorded in witness.items():
            who, _, seq = event.rpartition(":")
            if who != person or not seq.isdigit() or int(seq) < 1:
                continue
            number = int(seq)
            if number <= len(hashes) and hashes[number - 1] in recorded:
                witnessed.add(number)
            elif number > len(hashes):
                breaks.append((number, f"line {number} is missing; the activity log holds it"))
            elif _committed_line(workspace, relative, matched, number) == trail.lines[number - 1]:
                report.notes.append(f"activity log row {event} differs from the committed line")
            else:
                breaks.append(
                    (number, f"line {number} differs from what the activity log recorded")
                )
        check.witnessed = len(witnessed)
    chain = _chain_break(person, trail.lines, lambda n: n in matched or n in witnessed)
    if chain is not None:
        breaks.append(chain)
    if not trail.regular:
        breaks.append((1, "not a regular file (a symbolic link?): never read"))
    if breaks:
        check.broken_line, check.reason = min(breaks, key=lambda b: b[0])
    return check


def _committed_line(
    workspace: Workspace, path: str, matched: Mapping[int, str], number: int
) -> bytes | None:
    """Line `number` as a commit the file still agrees with recorded it (None: none did)."""
    covering = [commit for count, commit in matched.items() if count >= number]
    if not covering:
        return None
    recorded = workspace.file_at(covering[0], path) or b""
    lines, _ = complete_lines(recorded)
    return lines[number - 1] if number <= len(lines) else None


def _consistent_copy(
    workspace: Workspace, commit: str, path: str, count: int, head: str, report: AuditReport
) -> bytes | None:
    """The trail as `commit` holds it, when the commit's anchor is honest: its own copy has
    those lines and extends its parent's copy. None (and a history break) otherwise."""
    recorded = workspace.file_at(commit, path)
    if recorded is None or chain_head(recorded) != (count, head):
        _history_break(
            report,
            f"commit {commit[:10]} claims {path} holds {count} lines that its own copy does not "
            "hold: a forged or damaged commit, whose claim is ignored",
        )
        return None
    parent = workspace.file_at(f"{commit}^", path)
    if parent is not None:
        before, _ = complete_lines(parent)
        if complete_lines(recorded)[0][: len(before)] != before:
            _history_break(
                report,
                f"commit {commit[:10]} changed earlier lines of {path}: the history was rewritten "
                "there, and its claim is ignored",
            )
            return None
    return recorded


def _chain_break(
    person: str | None, lines: Sequence[bytes], vouched: Callable[[int], bool]
) -> tuple[int, str] | None:
    """The first line where the chain does not hold. When a line's `prev` does not match the
    line before it, that earlier line was changed, unless a commit or the activity log vouches
    for it (`vouched`): then the line itself was."""
    previous = GENESIS
    for number, raw in enumerate(lines, start=1):
        entry = parse_line(raw)
        if entry is None:
            return number, "not a valid audit entry"
        if entry.seq > number:
            later = [parse_line(line) for line in lines[number:]]
            if any(e is not None and e.seq == number for e in later):
                return number, f"holds seq {entry.seq}: lines were reordered"
            return number, f"line {number} is missing (seq jumps to {entry.seq})"
        if entry.seq < number:
            return number, f"holds seq {entry.seq}: lines were reordered or repeated"
        if entry.prev != previous:
            if number == 1:
                return 1, "its prev is not the start of a chain"
            if vouched(number - 1):
                return number, f"its prev no longer matches line {number - 1}"
            return number - 1, f"was changed: line {number}'s prev no longer matches it"
        if person is not None and entry.user != person:
            return number, f"names {entry.user!r} in {person}'s trail: a forged line"
        previous = line_hash(raw)
    return None


def _first_difference(lines: Sequence[bytes], recorded: bytes) -> int:
    recorded_lines, _ = complete_lines(recorded)
    for number, (now, then) in enumerate(zip(lines, recorded_lines, strict=False), start=1):
        if now != then:
            return number
    return min(len(lines), len(recorded_lines)) + 1


def _ownership_problem(
    workspace: Workspace, trail: TrailFile, person: str, simulated: Collection[str]
) -> str:
    try:
        info = os.lstat(trail.path)
    except FileNotFoundError:
        return "the file is gone"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a symbolic link?): it grants nothing"
    expected = uid_of(person)
    simulated_ok = person in simulated and info.st_uid == workspace.owner_uid
    if info.st_uid != expected and not simulated_ok:
        who = "no account here" if expected is None else "someone else"
        return (
            f"owned by {account_name(info.st_uid)}, but {person} is {who}: it grants nothing; "
            "the workspace's owner should move it aside"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others can write it; its owner should run `chmod 644 {trail.path}`"
    return ""


def trails_to_commit(workspace: Workspace, simulated: Collection[str]) -> list[str]:
    """Every trail owned as it should be: each commit records them all, as their owners wrote
    them (no one else can write them), so the anchors describe the commit's own files."""
    return [
        f"audit/{trail.name}"
        for trail in read_trails(workspace)
        if trail.person is not None
        and trail.regular
        and not _ownership_problem(workspace, trail, trail.person, simulated)
    ]
