"""The hash chain of audit-trail lines, shared by the trails (services/audit.py) and by the
commits that anchor them (services/workspace.py): each line holds `prev`, the SHA-256 of the
line before it, so the hash of a file's last line stands for everything above it."""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64
ANCHOR_TRAILER = "Audit-Heads"


def line_hash(line: str | bytes) -> str:
    data = line.encode("utf-8") if isinstance(line, str) else line
    return hashlib.sha256(data).hexdigest()


def complete_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """The newline-terminated lines of a trail file, and what follows the last newline (a line
    still being written, or left half-written by a crash)."""
    cut = data.rfind(b"\n") + 1
    body, tail = data[:cut], data[cut:]
    return (body.split(b"\n")[:-1] if body else []), tail


def head(data: bytes) -> tuple[int, str]:
    """(number of complete lines, hash of the last one) of a trail file's bytes."""
    lines, _ = complete_lines(data)
    return len(lines), (line_hash(lines[-1]) if lines else GENESIS)


def anchor_line(path: str, data: bytes) -> str:
    count, last = head(data)
    return f"{ANCHOR_TRAILER}: {path} {count} {last}"


def parse_anchor(value: str) -> tuple[str, int, str] | None:
    """`audit/alice.jsonl 12 <sha256>` -> (path, count, head); None when malformed."""
    parts = value.split()
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
        return None
    return parts[0], int(parts[1]), parts[2]
