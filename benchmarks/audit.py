"""`audit verify` on about three years of a practice's history: three people's trails of
7,500 lines each, anchored by 2,200 commits (two runs a day), witnessed by an activity log.

Prints one JSON line (budget: under 3 s, so every command can afford the check of its
caller's trail); the baseline in the same process reads the same files and hashes every line
once, the floor of any chain check, so the ratio says what the anchors and witnesses cost.

    python benchmarks/audit.py [--commits 2200] [--lines 7500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import audit
from services.chain import GENESIS, complete_lines, line_hash
from services.workspace import Workspace

BUDGET_S = 3.0
PEOPLE = ("pat", "dana", "svc")


def build(root: Path, commits: int, lines: int) -> dict[str, set[str]]:
    """The trails, and a history of commits each adding their share of lines with its
    Audit-Heads trailers (git fast-import: years of runs in seconds). Only the last commit
    holds the files: verify reads a commit's own copy only when an anchor disagrees."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    trails = {person: bytearray() for person in PEOPLE}
    heads = {person: GENESIS for person in PEOPLE}
    counts = dict.fromkeys(PEOPLE, 0)
    witness: dict[str, set[str]] = {}
    stream = []
    per_commit = max(1, lines // commits)
    for number in range(1, commits + 1):
        for person in PEOPLE:
            for _ in range(per_commit):
                counts[person] += 1
                seq = counts[person]
                line = audit.render_line(seq, heads[person], person, "snapshot", detail="x" * 80)
                trails[person] += line + b"\n"
                heads[person] = line_hash(line)
                witness.setdefault(f"{person}:{seq}", set()).add(heads[person])
        anchors = "\n".join(
            f"Audit-Heads: audit/{person}.jsonl {counts[person]} {heads[person]}"
            for person in PEOPLE
        )
        message = f"snapshot {number}\n\n{anchors}\n".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer s <s@x> {1_700_000_000 + number * 43200} +0000\n".encode())
        stream.append(b"data %d\n" % len(message) + message)
        if number == commits:
            for person in PEOPLE:
                data = bytes(trails[person])
                path = f"audit/{person}.jsonl".encode()
                stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(data), data))
            stream.append(b"M 100644 inline registry.toml\ndata 0\n\n")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-f", "main"], check=True)
    for person in PEOPLE:
        os.chmod(root / "audit" / f"{person}.jsonl", 0o644)
    return witness


def baseline(workspace: Workspace) -> float:
    started = time.perf_counter()
    for person in PEOPLE:
        lines, _ = complete_lines((workspace.audit_dir / f"{person}.jsonl").read_bytes())
        for raw in lines:
            line_hash(raw)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=2200)
    parser.add_argument("--lines", type=int, default=7500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetstage-audit-") as folder:
        root = Path(folder) / "workspace"
        witness = build(root, args.commits, args.lines)
        workspace = Workspace(root)
        floor = baseline(workspace)
        started = time.perf_counter()
        report = audit.verify(workspace, simulated=PEOPLE, witness=witness)
        seconds = time.perf_counter() - started
        assert report.ok, [c.describe() for c in report.checks]
        lines = sum(c.lines for c in report.checks)
    print(
        json.dumps(
            {
                "name": "audit_verify",
                "commits": args.commits,
                "lines": lines,
                "verify_s": round(seconds, 3),
                "baseline_hash_lines_s": round(floor, 3),
                "ratio": round(seconds / floor, 1) if floor else None,
                "budget_s": BUDGET_S,
                "within_budget": seconds < BUDGET_S,
            }
        )
    )


if __name__ == "__main__":
    main()
