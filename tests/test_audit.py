"""The hash-chained audit trail and `sheetstage audit verify`."""

from __future__ import annotations

import json

import pytest

from services.audit import AuditTrail, line_hash
from tests.conftest import Demo


def test_entries_chain_by_the_hash_of_the_previous_line(demo: Demo) -> None:
    trail = AuditTrail(demo.workspace)
    trail.append("alice", "snapshot", sheets=[3, 1, 3], detail="two sheets")
    trail.append("bob", "alert", sheets=[1], result="prod-modified")
    lines = demo.workspace.audit_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[1]["prev"] == line_hash(lines[0])
    assert records[2]["prev"] == line_hash(lines[1])
    assert records[1]["sheets"] == [1, 3] and records[1]["time"].endswith("Z")
    assert trail.verify().ok


def test_verify_names_the_first_edited_line(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    trail = AuditTrail(demo.workspace)
    for n in range(4):
        trail.append("alice", "snapshot", detail=f"run {n}")
    path = demo.workspace.audit_path
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("run 1", "run 9")
    path.write_text("\n".join(lines) + "\n")

    verification = trail.verify()
    assert not verification.ok and verification.broken_line == 4
    assert demo.cli("audit", "verify") == 1
    assert "broken at line 4" in capsys.readouterr().err


def test_verify_detects_a_removed_line(demo: Demo) -> None:
    trail = AuditTrail(demo.workspace)
    for n in range(3):
        trail.append("alice", "snapshot", detail=f"run {n}")
    path = demo.workspace.audit_path
    lines = path.read_text().splitlines()
    del lines[1]
    path.write_text("\n".join(lines) + "\n")
    assert trail.verify().broken_line == 2


def test_verify_passes_on_an_intact_trail(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert snapshotted.cli("audit", "verify") == 0
    assert "audit trail intact" in capsys.readouterr().err
