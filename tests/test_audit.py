"""The audit trails and `sheetstage audit verify`: one chained file per person, anchored by
every commit, witnessed by the activity log, and what counts as authority."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from services.audit import AuditTrail
from services.chain import anchor_line, line_hash
from services.emulator.seed import demo_sheets
from services.workspace import current_user
from tests.conftest import Demo

ME = current_user()
SHEETS = {s.number: s for s in demo_sheets()}


def rewrite(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text().splitlines()
    path.write_text("".join(line + "\n" for line in change(lines)))


def verify(demo: Demo, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`audit verify`'s exit code and its report: stdout, verdict included (`> report.txt`)."""
    capsys.readouterr()
    code = demo.cli("audit", "verify")
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("audit trail "), out  # the verdict ends the report
    return code, out


def edited(lines: list[str], number: int) -> list[str]:
    record = json.loads(lines[number - 1])
    record["detail"] = "nothing happened here"
    lines[number - 1] = json.dumps(record, separators=(",", ":"))
    return lines


def prev_edited(lines: list[str], number: int) -> list[str]:
    record = json.loads(lines[number - 1])
    record["prev"] = "f" * 64
    lines[number - 1] = json.dumps(record, separators=(",", ":"))
    return lines


def test_entries_chain_by_the_hash_of_the_previous_line(demo: Demo) -> None:
    trail = AuditTrail(demo.workspace, ME)
    trail.append("snapshot", sheets=[3, 1, 3], detail="two sheets")
    trail.append("alert", sheets=[1], result="prod-modified")
    lines = demo.trail_path().read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[1]["prev"] == line_hash(lines[0])
    assert records[2]["prev"] == line_hash(lines[1])
    assert records[1]["sheets"] == [1, 3] and records[1]["time"].endswith("Z")
    assert {r["user"] for r in records} == {ME}


def test_verify_passes_on_an_intact_trail_and_says_what_witnessed_it(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(snapshotted, capsys)
    assert code == 0
    assert f"audit/{ME}.jsonl: intact" in out and "witnessed by the activity log" in out
    assert "audit trail intact" in out


@pytest.mark.parametrize(
    ("change", "broken_line"),
    [
        pytest.param(lambda lines: edited(lines, 5), 5, id="edited"),
        pytest.param(lambda lines: prev_edited(lines, 5), 5, id="prev-edited"),
        pytest.param(lambda lines: lines[:4] + lines[5:], 5, id="deleted"),
        pytest.param(lambda lines: [*lines[:3], lines[4], lines[3], *lines[5:]], 4, id="reordered"),
        pytest.param(lambda lines: lines[:6], 7, id="truncated"),
        pytest.param(lambda lines: [], 1, id="emptied"),
    ],
)
def test_verify_names_the_first_broken_line_of_an_anchored_trail(
    snapshotted: Demo,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[list[str]], list[str]],
    broken_line: int,
) -> None:
    rewrite(snapshotted.trail_path(), change)
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"audit/{ME}.jsonl: BROKEN at line {broken_line}:" in out


def test_a_rewritten_chain_is_caught_by_the_commits_that_anchored_it(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    def forge(lines: list[str]) -> list[str]:
        lines = edited(lines, 5)
        for index in range(5, len(lines)):  # every later prev recomputed: the chain holds
            record = json.loads(lines[index])
            record["prev"] = line_hash(lines[index - 1])
            lines[index] = json.dumps(record, separators=(",", ":"))
        return lines

    rewrite(snapshotted.trail_path(), forge)
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"audit/{ME}.jsonl: BROKEN at line 5: line 5 was changed after commit" in out


def test_a_deleted_trail_file_is_caught_by_its_anchors(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.trail_path().unlink()
    code, out = verify(snapshotted, capsys)
    assert code == 1 and f"audit/{ME}.jsonl: BROKEN at line 1: the file is gone" in out


def test_lines_not_yet_committed_are_witnessed_by_the_activity_log(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    head = snapshotted.workspace.head()
    assert snapshotted.cli("--batch") == 0  # nothing new: no commit, the line is only synced
    assert snapshotted.workspace.head() == head
    path = snapshotted.trail_path()
    count = len(path.read_text().splitlines())
    original = path.read_text()

    rewrite(path, lambda lines: edited(lines, count))
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"BROKEN at line {count}: line {count} differs from what the activity log" in out

    path.write_text(original)
    rewrite(path, lambda lines: lines[:-1])
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"BROKEN at line {count}: line {count} is missing; the activity log holds it" in out


def test_a_forged_line_with_a_valid_prev_is_caught(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    path = snapshotted.trail_path()
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    forged = {
        **last,
        "seq": last["seq"] + 1,
        "user": "dana",
        "action": "acknowledge",
        "prev": line_hash(lines[-1]),
    }
    with path.open("a") as handle:
        handle.write(json.dumps(forged, separators=(",", ":")) + "\n")
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"BROKEN at line {len(lines) + 1}: names 'dana' in {ME}'s trail: a forged line" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another account needs root")
def test_a_trail_owned_by_someone_else_grants_nothing_and_fails_verify(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert snapshotted.cli("--as", "dana", "validate", "--sheet", "1") in (0, 1)
    os.chown(snapshotted.trail_path("dana"), 65534, -1)  # nobody
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert "audit/dana.jsonl: NOT TRUSTED: owned by nobody, but dana is no account here" in out


def test_a_partial_last_line_is_in_progress_then_quarantined_by_the_next_append(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    path = snapshotted.trail_path()
    intact = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"seq":99,"time":"2026-')  # a crash mid-write
    code, out = verify(snapshotted, capsys)
    assert code == 0 and "a last line still being written" in out

    entry = AuditTrail(snapshotted.workspace, ME).append("snapshot", detail="next run")
    lines = path.read_bytes().splitlines(keepends=True)
    assert b"".join(lines[:-2]) == intact
    moved = json.loads(lines[-2])
    assert moved["action"] == "quarantine" and "23 bytes" in moved["detail"]
    assert entry.seq == moved["seq"] + 1 and entry.prev == line_hash(lines[-2].rstrip(b"\n"))
    quarantined = list((snapshotted.workspace.internal / "quarantine").iterdir())
    assert [q.read_bytes() for q in quarantined] == [b'{"seq":99,"time":"2026-']
    assert verify(snapshotted, capsys)[0] == 0


def test_the_next_batch_runs_cleanly_after_a_cut_off_trail_line(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    with snapshotted.trail_path().open("ab") as handle:
        handle.write(b'{"seq":12,"ti')
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 0
    assert "a partial last line (13 bytes)" in capsys.readouterr().err
    assert snapshotted.cli("--batch") == 0
    assert verify(snapshotted, capsys)[0] == 0


def acknowledge_by_hand(demo: Demo, person: str, finding: str) -> None:
    """Someone appends a correctly chained acknowledge line to `person`'s trail by hand."""
    path = demo.trail_path(person)
    lines = path.read_text().splitlines() if path.exists() else []
    last = json.loads(lines[-1]) if lines else None
    line = {
        "seq": last["seq"] + 1 if last else 1,
        "time": "2026-11-29T12:00:00Z",
        "user": person,
        "action": "acknowledge",
        "sheets": [47],
        "hashes": {"finding": finding},
        "result": "ok",
        "detail": "it is the vendor's line",
        "prev": line_hash(lines[-1]) if lines else "0" * 64,
    }
    with path.open("a") as handle:
        handle.write(json.dumps(line, separators=(",", ":")) + "\n")


def review_finding(demo: Demo, capsys: pytest.CaptureFixture[str]) -> str:
    demo.edit_script(
        SHEETS[47].dev3_script_id,
        "\nconst HOTLINE = '(773) 268-4411';\n",
        "developer@practice.example",
    )
    assert demo.cli("snapshot", "--sheet", "47") in (0, 1)
    capsys.readouterr()
    assert demo.cli("validate", "--sheet", "47", "--json") == 1
    result = json.loads(capsys.readouterr().out)["sheets"][0]
    return next(f["id"] for f in result["findings"] if f["type"] == "PHONE")


def phi_of_47(demo: Demo, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    demo.cli("validate", "--sheet", "47", "--json")
    return json.loads(capsys.readouterr().out)["sheets"][0]["phi"]


def test_acknowledgements_count_only_from_the_intact_trail_of_a_practice_manager(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    finding = review_finding(snapshotted, capsys)

    assert (
        snapshotted.cli(
            "--as",
            "dana",
            "acknowledge",
            "--sheet",
            "47",
            "--finding",
            finding,
            "--reason",
            "vendor line",
        )
        == 5
    )  # a developer is refused...
    acknowledge_by_hand(
        snapshotted, "dana", finding
    )  # ...and writing it herself counts for nothing
    assert phi_of_47(snapshotted, capsys) == "needs-review"

    legacy = snapshotted.workspace.legacy_audit_path  # the single trail of earlier versions
    legacy.write_text(json.dumps({"seq": 1, "time": "2026-01-01T00:00:00Z", "user": ME,
        "action": "acknowledge", "sheets": [47], "hashes": {"finding": finding},
        "result": "ok", "detail": "old", "prev": "0" * 64}) + "\n")  # fmt: skip
    assert phi_of_47(snapshotted, capsys) == "needs-review"

    assert (
        snapshotted.cli(
            "acknowledge", "--sheet", "47", "--finding", finding, "--reason", "vendor line"
        )
        == 0
    )
    assert phi_of_47(snapshotted, capsys) == "clean"

    rewrite(snapshotted.trail_path(), lambda lines: edited(lines, 3))  # the manager's trail breaks
    assert phi_of_47(snapshotted, capsys) == "needs-review"
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1
    err = capsys.readouterr().err
    assert f"ALERT audit-broken: audit/{ME}.jsonl: BROKEN at line 3" in err


def test_every_commit_anchors_every_trail_and_the_backup_refuses_rewritten_history(
    snapshotted: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "backup.git"  # does not exist: sheetstage creates it, refusing rewrites
    config = snapshotted.config_path
    config.write_text(config.read_text() + f'\n[git]\nremote = "{remote}"\n')
    from services.workspace import create_backup_remote

    create_backup_remote(str(remote))
    snapshotted.edit_script(SHEETS[11].dev3_script_id, "\n// two\n", "developer@practice.example")
    assert snapshotted.cli("--as", "dana", "snapshot", "--sheet", "11") == 0
    snapshotted.edit_script(
        SHEETS[10].prod_script_id, "\n// one\n", "someone.else@practice.example"
    )
    assert snapshotted.cli("snapshot", "--sheet", "10") == 1  # its last line: only here
    message = snapshotted.workspace.repo.head.commit.message
    pushed_head = snapshotted.workspace.head() or ""
    for person in (ME, "dana"):
        lines = snapshotted.trail_path(person).read_text().splitlines()
        committed = snapshotted.workspace.file_at("HEAD", f"audit/{person}.jsonl") or b""
        count = len(committed.splitlines())
        assert f"Audit-Heads: audit/{person}.jsonl {count} {line_hash(lines[count - 1])}" in message

    # someone rewrites local history to drop the manager's last line, anchors and all, so the
    # local history agrees with itself; only the backup still holds the original
    root = snapshotted.workspace.root
    path = snapshotted.trail_path()
    rewrite(path, lambda lines: lines[:-1])
    forged_anchor = anchor_line(f"audit/{ME}.jsonl", path.read_bytes())
    new_message = "\n".join(
        forged_anchor if line.startswith(f"Audit-Heads: audit/{ME}.jsonl") else line
        for line in message.splitlines()
    )
    git = ["git", "-C", str(root), "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "add", "-A", "audit"], check=True)
    subprocess.run([*git, "commit", "-q", "--amend", "-m", new_message], check=True)
    pushed = subprocess.run(
        [*git, "push", "-q", "--force", str(remote), "main"], capture_output=True
    )
    assert pushed.returncode != 0  # the backup refuses a non-fast-forward push

    code, out = verify(snapshotted, capsys)
    count = len(path.read_text().splitlines()) + 1
    assert code == 1
    assert (
        f"audit/{ME}.jsonl: BROKEN at line {count}: line {count} is missing after commit "
        f"{pushed_head[:10]}" in out  # the backup's commit: the local one was rewritten
    )


def test_a_commit_with_anchors_its_own_files_do_not_hold_is_a_break_of_history_not_of_a_person(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anyone can commit: a bogus `Audit-Heads` trailer must not void the person it names."""
    snapshotted.fast_sheets()
    finding = review_finding(snapshotted, capsys)
    assert (
        snapshotted.cli(
            "acknowledge", "--sheet", "47", "--finding", finding, "--reason", "vendor line"
        )
        == 0
    )
    root = snapshotted.workspace.root
    git = ["git", "-C", str(root), "-c", "core.hooksPath=/dev/null"]
    bogus = f"Audit-Heads: audit/{ME}.jsonl 999 {'a' * 64}"
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x", "-m", bogus], check=True)
    code, out = verify(snapshotted, capsys)
    assert code == 1
    assert f"audit/{ME}.jsonl: intact" in out
    assert f"claims audit/{ME}.jsonl holds 999 lines that its own copy does not hold" in out
    assert phi_of_47(snapshotted, capsys) == "clean"  # the manager's acknowledgement stands


def test_lines_of_a_trail_that_is_not_its_persons_never_reach_the_activity_log(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file claiming to be someone's lines cannot poison the witness of their real trail."""
    planted = snapshotted.workspace.audit_dir / "mallory.jsonl"
    forged = {"seq": 1, "time": "2026-11-29T12:00:00Z", "user": ME, "action": "alert",
              "sheets": [], "hashes": {}, "result": "x", "prev": "0" * 64}  # fmt: skip
    planted.write_text(json.dumps(forged, separators=(",", ":")) + "\n")
    capsys.readouterr()
    assert snapshotted.cli("--batch") in (0, 1)
    notice = "notice: audit/mallory.jsonl was not mallory's (owned by root) and never committed"
    assert notice in capsys.readouterr().err  # the owner's run moves a planted trail aside
    assert not planted.exists()
    store = snapshotted.store()
    from services.emulator.seed import log_spreadsheet_id

    alerts_tab = store.get_values(log_spreadsheet_id(), "Alerts")["values"]
    store.close()
    assert all(
        row[7] != line_hash(json.dumps(forged, separators=(",", ":"))) for row in alerts_tab[1:]
    )
    code, out = verify(snapshotted, capsys)
    assert code == 0 and f"audit/{ME}.jsonl: intact" in out


def test_a_row_appended_to_the_activity_log_cannot_void_a_committed_line(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    store = snapshotted.store()
    from services.emulator.seed import log_spreadsheet_id

    row = [f"{ME}:3", "2026-11-29T12:00:00Z", ME, "alert", "", "x", "", "f" * 64]
    store.append_values(log_spreadsheet_id(), "Alerts", [row])
    store.close()
    code, out = verify(snapshotted, capsys)
    assert code == 0 and f"audit/{ME}.jsonl: intact" in out
