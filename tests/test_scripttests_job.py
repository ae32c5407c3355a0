"""`sheetstage test` on the demo: live DEV3 code and data through the emulator, the planted
failures with their files and lines, the record (state.json, the trail, the activity log,
JUnit XML), and validation's "tests pass" check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from services.emulator.seed import (
    BROKEN_TEST,
    DEVELOPER,
    TESTED,
    TIMED_OUT_TEST,
    demo_sheets,
)
from services.registry import load_registry
from tests.conftest import Demo

SHEETS = {s.number: s for s in demo_sheets()}
SYNC_TESTED = next(n for n in TESTED if n % 5 == 1)  # its tests push to the dashboard


def run_json(demo: Demo, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = demo.cli("test", *args, "--json")
    return code, json.loads(capsys.readouterr().out)


def test_the_demo_tests_pass_but_the_planted_failure_and_time_out(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    demo = snapshotted  # its time limit is 2 s (tests/conftest.py)
    junit = tmp_path / "staging-tests.xml"
    code, report = run_json(demo, capsys, "--all", "--junit", str(junit))
    assert code == 1
    by_number = {s["sheet"]: s for s in report["sheets"]}
    tested = {n for n, s in by_number.items() if s["status"] != "none"}
    assert tested == set(TESTED)
    failing = {n: s for n, s in by_number.items() if s["status"] not in ("passed", "none")}
    assert set(failing) == {BROKEN_TEST, TIMED_OUT_TEST}

    broken = [r for r in failing[BROKEN_TEST]["results"] if r["status"] != "passed"]
    assert [(r["name"], r["status"]) for r in broken] == [
        ("testRefreshStatusCountsOpenRows", "failed")
    ]
    assert broken[0]["where"] == "tests/Queue.gs:30"
    assert broken[0]["message"] == "open items: expected 6, got 4"
    timed_out = [r for r in failing[TIMED_OUT_TEST]["results"] if r["status"] != "passed"]
    assert [(r["name"], r["where"]) for r in timed_out] == [
        ("testNightlyWaitsForTheSummary", "tests/Nightly.gs:2")
    ]
    assert timed_out[0]["message"] == "timed out: stopped at the time limit (2 s)"
    assert sum(s["counts"].get("passed", 0) for s in by_number.values() if s["counts"]) > 100

    suites = ET.parse(junit).getroot()
    assert (suites.get("failures"), suites.get("errors")) == ("1", "1")
    assert len(suites.findall("testsuite")) == len(SHEETS)
    failure = suites.find(".//testcase[@name='testRefreshStatusCountsOpenRows']/failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("tests/Queue.gs:30: open items")


def test_results_are_stored_with_the_hash_they_ran_on_and_audited(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[TESTED[0]]
    assert snapshotted.cli("test", "--sheet", str(sheet.number)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{sheet.key} {sheet.name}: passed · 7 passed")
    state = json.loads((snapshotted.workspace.root / "state.json").read_text())
    record = state["sheets"][sheet.key]
    assert record["tests"]["hash"] == record["staging"]["hash"]  # the snapshot's S: fresh
    assert record["tests"]["status"] == "passed" and record["tests"]["counts"]["passed"] == 7
    entry = snapshotted.trail()[-1]
    assert entry["action"] == "test" and entry["sheets"] == [sheet.number]
    assert entry["hashes"] == {"staging": record["staging"]["hash"]}
    store = snapshotted.store()
    try:
        log_id = load_registry(snapshotted.workspace.registry_path).activity_log_spreadsheet_id
        rows = store.get_values(log_id, "'Test Data'!A:H").get("values", [])
    finally:
        store.close()
    assert any(row[3] == "test" and sheet.key in row[4] for row in rows[1:])


def test_nothing_reaches_production_or_the_network(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[SYNC_TESTED]
    store = snapshotted.store()
    try:
        before = len(store.request_log())
    finally:
        store.close()
    code, report = run_json(snapshotted, capsys, "--sheet", str(sheet.number))
    assert code == 0
    names = [r["name"] for r in report["sheets"][0]["results"]]
    assert "testDashboardPushIsRecordedNotSent" in names  # UrlFetchApp.fetch, recorded
    store = snapshotted.store()
    try:
        during = store.request_log()[before:]
    finally:
        store.close()
    production = (sheet.prod_script_id, sheet.prod_spreadsheet_id)
    assert not [r for r in during if any(i in r["path"] for i in production)]
    assert {(r["method"], r["path"].split("/")[1]) for r in during} <= {
        ("GET", "v1"),  # DEV3 code
        ("GET", "v4"),  # DEV3 values
        ("POST", "v4"),  # the activity log's append (and only that)
    }
    posts = [r for r in during if r["method"] == "POST"]
    log_id = load_registry(snapshotted.workspace.registry_path).activity_log_spreadsheet_id
    assert all(log_id in r["path"] for r in posts)


def test_validation_runs_the_tests_and_a_project_without_tests_passes_saying_so(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    untested = next(n for n in range(1, 20) if n not in TESTED and n % 3 == 2)
    capsys.readouterr()
    code = snapshotted.fast_sheets().cli(
        "validate", "--sheet", str(BROKEN_TEST), "--sheet", str(untested), "--json"
    )
    assert code == 1
    report = {s["sheet"]: s for s in json.loads(capsys.readouterr().out)["sheets"]}
    assert report[untested]["ok"] and report[untested]["tests"] == "no staging tests (passes)"
    assert not report[BROKEN_TEST]["ok"]
    assert any(
        p.startswith("staging tests: ") and "tests/Queue.gs:30" in p
        for p in report[BROKEN_TEST]["problems"]
    )


def test_a_test_file_that_does_more_than_declare_is_reported(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[TESTED[1]]
    store = snapshotted.store()
    try:
        files = store.content(sheet.dev3_script_id)["files"]
        for f in files:
            if f["name"] == "tests/Queue":
                f["source"] += "\nPropertiesService.getScriptProperties().deleteAllProperties();\n"
        store.update_content(sheet.dev3_script_id, files, DEVELOPER)
    finally:
        store.close()
    code, report = run_json(snapshotted, capsys, "--sheet", str(sheet.number))
    assert code == 1
    problems = report["sheets"][0]["problems"]
    assert len(problems) == 1 and problems[0].startswith("tests/Queue.gs:")
    assert "runs in production too" in problems[0]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--sheet", "999"), "999"),
        (("--sheet", "0", "--junit", "/nonexistent-folder/x.xml"), "does not exist"),
        (("--all", "--junit", "."), "that is a folder"),
        (("--sheet", "0", "--junit", "/proc/junit.xml"), "cannot write in /proc"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    demo: Demo, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], complaint: str
) -> None:
    assert demo.cli("test", *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and complaint in err[0]


def test_identifiers_in_file_names_and_messages_are_masked_everywhere(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Invented values: a file named after a patient's SSN, and a message that quotes one after
    990 characters (cut before masking, its first digits would survive)."""
    sheet = SHEETS[TESTED[1]]
    store = snapshotted.store()
    try:
        files = store.content(sheet.dev3_script_id)["files"]
        files.append(
            {
                "name": "tests/Patient 523-71-4086",
                "type": "SERVER_JS",
                "source": "var calls = 0;\ncalls++;\nfunction testQuotes() {\n"
                "  Staging.fail('x'.repeat(990) + ' 523-71-4086');\n}\n",
            }
        )
        store.update_content(sheet.dev3_script_id, files, DEVELOPER)
    finally:
        store.close()
    junit = tmp_path / "junit.xml"
    code, report = run_json(
        snapshotted, capsys, "--sheet", str(sheet.number), "--junit", str(junit)
    )
    assert code == 1
    shown = json.dumps(report)
    assert '"where": "tests/******* ***-**-****.gs:4"' in shown  # the file, masked whole
    written = [
        shown,
        junit.read_text(),
        (snapshotted.workspace.root / "state.json").read_text(),
        snapshotted.trail_path().read_text(),
    ]
    store = snapshotted.store()
    try:
        log_id = load_registry(snapshotted.workspace.registry_path).activity_log_spreadsheet_id
        written.append(json.dumps(store.get_values(log_id, "'Test Data'!A:H")))
    finally:
        store.close()
    for text in written:
        assert "523-71" not in text and "71-40" not in text
