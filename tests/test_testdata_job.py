"""generate-test-data on the demo: the real client writes through the emulator's
spreadsheets.batchUpdate, and what comes back lines up with each sheet's headers."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import re
from pathlib import Path

import pytest

from services import testdata
from services.emulator.seed import (
    APPOINTMENT_HEADER,
    demo_patients,
    demo_sheets,
    log_spreadsheet_id,
    patient_tab,
)
from services.errors import RefusedError
from services.phi import record_words
from services.reference import ReferenceSet
from services.registry import Registry
from services.testdata import FIELDS, Entity, TabShape
from services.testdata_job import refuse_production_targets
from tests.conftest import Demo

SHEETS = demo_sheets()
FILLED = (0, 1, 3, 4, 9)  # the Appointments tab, and four header variants


def dev3_values(demo: Demo, number: int, range_text: str) -> list[list[str]]:
    store = demo.store()
    try:
        return store.get_values(SHEETS[number].dev3_spreadsheet_id, range_text).get("values", [])
    finally:
        store.close()


def request_log(demo: Demo, contains: str = "") -> list[dict]:
    store = demo.store()
    try:
        return store.request_log(contains)
    finally:
        store.close()


def test_generated_rows_line_up_with_each_sheets_headers_and_are_recorded(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.fast_sheets()
    args = [a for n in FILLED for a in ("--sheet", str(n))]
    assert demo.cli("generate-test-data", *args, "--patients", "40", "--seed", "7") == 0
    out, err = capsys.readouterr()
    assert "sheet 009: no generator for header Patients: Preferred Pharmacy" in err
    assert "sheet 004: no generator for header Patients: Last Visit" in err
    assert "sheet 003" not in err  # its override leaves the pharmacy empty on purpose
    assert "sheet 000: Patients 40 rows, Appointments 80 rows -> DEV3" in out
    mappings = testdata.packaged_mappings()
    for number in FILLED:
        tab = patient_tab(number)
        rows = dev3_values(demo, number, "Patients")
        assert rows[0] == list(tab.headers)  # DEV3's header row is left as it was
        assert len(rows) == 41
        for header, column in zip(
            tab.headers, zip(*[r + [""] * 9 for r in rows[1:]], strict=True), strict=False
        ):
            field = mappings.field_for(header)
            if field in ("mrn", "member_id"):
                assert all(v.startswith("SYN-") for v in column if v), header
            elif field == "dob":
                assert all(datetime.datetime.strptime(v, "%m/%d/%Y") for v in column)
            elif field == "phone":
                assert all(re.fullmatch(r"\(\d{3}\) 555-01\d\d", v) for v in column)
            elif field == "email":
                assert all(v.split("@")[1].startswith("example.") for v in column)
            elif field is None or field == testdata.SKIP:
                assert not any(column), header  # left empty
    visits = dev3_values(demo, 0, "Appointments")
    assert visits[0] == list(APPOINTMENT_HEADER) and len(visits) == 81
    patients = {r[1] for r in dev3_values(demo, 0, "Patients")[1:]}
    assert {v[3] for v in visits[1:]} <= patients  # visits reference generated patients
    assert all(testdata.valid_npi(v[5]) for v in visits[1:])

    state = json.loads(demo.workspace.state_path.read_text())["sheets"]
    assert state["000"]["test_data"] | {"time": "", "by": ""} == {
        "status": "synthetic",
        "seed": 7,
        "patients": 40,
        "rows": {"Patients": 40, "Appointments": 80},
        "time": "",
        "by": "",
    }
    entries = [e for e in demo.trail() if e["action"] == "generate-test-data"]
    assert sorted(e["sheets"] for e in entries) == [[n] for n in FILLED]  # one per sheet
    assert all(e["result"] == "ok" and "seed 7, 40 patients" in e["detail"] for e in entries)
    log = demo.store()
    try:
        rows = log.get_values(log_spreadsheet_id(), "'Test Data'!A:H")["values"]
    finally:
        log.close()
    assert any(r[3] == "generate-test-data" for r in rows)

    # a second run with fewer patients replaces the rows: nothing of the first stays below
    assert demo.cli("generate-test-data", "--sheet", "1", "--patients", "5") == 0
    assert len(dev3_values(demo, 1, "Patients")) == 6
    # only DEV3 spreadsheets and the activity log were written; production was only read
    for sheet in SHEETS:
        assert not [r for r in request_log(demo, sheet.prod_spreadsheet_id) if r["method"] != "GET"]


def test_the_grid_grows_when_the_rows_need_it_in_the_same_atomic_write(demo: Demo) -> None:
    demo.fast_sheets()
    assert demo.cli("generate-test-data", "--sheet", "6", "--patients", "1200") == 0
    store = demo.store()
    try:
        assert store.grid(SHEETS[6].dev3_spreadsheet_id, "Patients")[0] == 1201
        assert store.grid(SHEETS[6].dev3_spreadsheet_id, "Appointments")[0] == 2401
    finally:
        store.close()
    writes = [r for r in request_log(demo, SHEETS[6].dev3_spreadsheet_id) if r["method"] == "POST"]
    assert len(writes) == 1 and writes[0]["path"].endswith(":batchUpdate")
    assert dev3_values(demo, 6, "Patients!B1201")[0][0].startswith("SYN-")


def test_a_production_id_is_refused_before_any_call(demo: Demo, capsys) -> None:
    """registry.toml refuses an id that stands twice; the generator checks again itself, in
    case a registry reaches it some other way."""
    registry = demo.workspace.registry_path
    text = registry.read_text()
    registry.write_text(text.replace(SHEETS[5].dev3_spreadsheet_id, SHEETS[6].prod_spreadsheet_id))
    before = len(request_log(demo))
    assert demo.cli("generate-test-data", "--sheet", "5") == 2
    assert "repeats the id" in capsys.readouterr().err
    assert len(request_log(demo)) == before  # not one call, not even a read
    assert dev3_values(demo, 6, "Patients") == [list(patient_tab(6).headers)]
    mixed_up = dataclasses.replace(SHEETS[5], dev3_spreadsheet_id=SHEETS[6].prod_spreadsheet_id)
    with pytest.raises(RefusedError, match="is the production spreadsheet of sheet 006"):
        refuse_production_targets(Registry((mixed_up, *SHEETS[6:])), [mixed_up])
    refuse_production_targets(Registry(tuple(SHEETS)), SHEETS)  # the demo's own ids pass


def test_bad_requests_change_nothing(demo: Demo, capsys, tmp_path: Path) -> None:
    before = len(request_log(demo))
    patients_before = dev3_values(demo, 0, "Patients")  # the demo's synthetic rows
    assert demo.cli("generate-test-data", "--sheet", "0", "--patients", "5001") == 2
    assert "[test_data].max_rows" in capsys.readouterr().err
    assert demo.cli("generate-test-data", "--sheet", "2") == 2  # no ranges, no override
    assert "nothing to fill" in capsys.readouterr().err
    assert demo.cli("generate-test-data", "--sheet", "0", "--patients", "many") == 2
    assert demo.cli("generate-test-data", "--sheet", "999") == 2
    assert len(request_log(demo)) == before
    # 3000 patients fit the Patients tab, but their 6000 visits do not fit the maximum:
    # that sheet is refused whole, nothing is written to it
    assert demo.cli("generate-test-data", "--sheet", "0", "--patients", "3000") == 1
    assert "more than [test_data].max_rows" in capsys.readouterr().out
    assert not [
        r for r in request_log(demo, SHEETS[0].dev3_spreadsheet_id) if r["method"] == "POST"
    ]
    assert dev3_values(demo, 0, "Patients") == patients_before
    # a tab the sheet's override lists but DEV3 lacks: that sheet is refused whole
    override = demo.workspace.root / "test-data" / "sheet-001.toml"
    override.write_text('[tabs]\nVisits = "A2:E"\n')
    assert demo.cli("generate-test-data", "--sheet", "1") == 1
    assert "the DEV3 spreadsheet has no tab Visits" in capsys.readouterr().out
    assert len(dev3_values(demo, 1, "Patients")) == 1
    override.unlink()
    # a patient's row where DEV3's header row should be: refused, and nothing of it echoed
    store = demo.store()
    try:
        row = demo_patients(SHEETS[4])[0]
        store.update_values(
            SHEETS[4].dev3_spreadsheet_id, [{"range": "Patients!A1", "values": [row]}]
        )
    finally:
        store.close()
    assert demo.cli("generate-test-data", "--sheet", "4", "--json") == 1
    out, err = capsys.readouterr()
    assert "its header row holds a value like" in out and "row of data" in out
    for value in row:
        assert len(value) < 4 or value not in out + err, value
    assert dev3_values(demo, 4, "Patients") == [row]
    # a data range that starts on the header row, and an output folder that cannot be made
    before_others = len(request_log(demo))
    override = demo.workspace.root / "test-data" / "sheet-001.toml"
    override.write_text('[tabs]\nPatients = "A1:G"\n')
    assert demo.cli("generate-test-data", "--sheet", "1") == 2
    assert "starts at row 1, where its header row must be" in capsys.readouterr().err
    override.unlink()
    assert (
        demo.cli("generate-test-data", "--sheet", "1", "--output", str(demo.config_path / "x")) == 2
    )
    assert "--output" in capsys.readouterr().err
    assert len(request_log(demo)) == before_others
    # a read-only session writes nothing
    assert demo.cli("--read-only", "generate-test-data", "--sheet", "4") == 5
    assert len(dev3_values(demo, 4, "Patients")) == 1


def test_rows_follow_dev3s_headers_and_an_empty_header_row_takes_productions(
    demo: Demo,
) -> None:
    """The rows land under DEV3's header row, so that row shapes them (a column a developer
    renamed in DEV3 gets what its new name asks for); a DEV3 tab without headers yet gets
    production's header row, read without a single data row."""
    demo.fast_sheets()
    store = demo.store()
    try:
        store.update_values(
            SHEETS[0].dev3_spreadsheet_id, [{"range": "Patients!C1", "values": [["Sex"]]}]
        )
        store.update_values(
            SHEETS[1].dev3_spreadsheet_id, [{"range": "Patients!A1:G1", "values": [[""] * 7]}]
        )
    finally:
        store.close()
    assert demo.cli("generate-test-data", "--sheet", "0", "--sheet", "1", "--patients", "9") == 0
    renamed = dev3_values(demo, 0, "Patients")
    assert renamed[0][2] == "Sex" and {r[2] for r in renamed[1:]} <= {"F", "M"}
    rebuilt = dev3_values(demo, 1, "Patients")
    assert rebuilt[0] == list(patient_tab(1).headers) and len(rebuilt) == 10
    reads = [r["path"] for r in request_log(demo, SHEETS[1].prod_spreadsheet_id)]
    assert reads == [f"/v4/spreadsheets/{SHEETS[1].prod_spreadsheet_id}/values:batchGet"]
    assert not request_log(demo, SHEETS[0].prod_spreadsheet_id)  # DEV3 had its headers


def test_output_writes_fixtures_and_never_overwrites(demo: Demo, capsys, tmp_path: Path) -> None:
    demo.fast_sheets()
    state_before = json.loads(demo.workspace.state_path.read_text())["sheets"]["000"]
    out = tmp_path / "fixtures"
    assert (
        demo.cli("generate-test-data", "--sheet", "0", "--patients", "12", "--output", str(out))
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "sheet-000-appointments.csv",
        "sheet-000-appointments.json",
        "sheet-000-patients.csv",
        "sheet-000-patients.json",
    ]
    table = list(csv.reader(io.StringIO((out / "sheet-000-patients.csv").read_text())))
    assert table[0] == list(patient_tab(0).headers) and len(table) == 13
    records = json.loads((out / "sheet-000-appointments.json").read_text())["records"]
    assert len(records) == 24 and all(r["MRN"].startswith("SYN-") for r in records)
    assert not [r for r in request_log(demo) if r["method"] == "POST"]  # no sheet written
    assert json.loads(demo.workspace.state_path.read_text())["sheets"]["000"] == state_before
    kept = (out / "sheet-000-patients.csv").read_bytes()
    (out / "sheet-000-appointments.json").unlink()
    assert demo.cli("generate-test-data", "--sheet", "0", "--output", str(out)) == 2
    assert "exists; nothing was written" in capsys.readouterr().err
    assert (out / "sheet-000-patients.csv").read_bytes() == kept
    assert not (out / "sheet-000-appointments.json").exists()


def test_validation_marks_production_data_in_dev3_real_and_alerts(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.fast_sheets()
    sheet = SHEETS[1]
    store = demo.store()
    try:
        copied = demo_patients(sheet)[:2]
        store.update_values(sheet.dev3_spreadsheet_id, [{"range": "Patients!A5", "values": copied}])
    finally:
        store.close()
    assert demo.cli("validate", "--sheet", "1") == 1
    assert "ALERT test-data-real" in capsys.readouterr().err
    record = json.loads(demo.workspace.state_path.read_text())["sheets"]["001"]["test_data"]
    assert record["status"] == "real" and record["cells"] >= 2
    alerts = [e for e in demo.trail() if e["action"] == "alert"]
    assert alerts[-1]["result"] == "test-data-real"
    # generating replaces the real rows; the next validation finds nothing of production
    assert demo.cli("generate-test-data", "--sheet", "1", "--patients", "10") == 0
    assert demo.cli("validate", "--sheet", "1") == 0
    record = json.loads(demo.workspace.state_path.read_text())["sheets"]["001"]["test_data"]
    assert record["status"] == "synthetic"
    assert [e["result"] for e in demo.trail() if e["action"] == "alert"] == ["test-data-real"]


def test_ten_thousand_patients_scan_clean_with_the_reference_loaded(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """10,000 patients with every field (their provider's too) and a thousand visits with
    every visit field, as CSV rows and as JSON records, scanned with the production reference
    loaded."""
    demo.fast_sheets()
    assert demo.cli("reference", "refresh") == 0
    folder = tmp_path / "generated"
    folder.mkdir()
    key = demo.workspace.hmac_key()
    reference = ReferenceSet.load(demo.workspace.internal / "cache" / "reference.json", key)
    assert len(reference.digests) > 1000 and reference.dates_indexed
    population = testdata.generate(
        10_000,
        testdata.sheet_seed(0, 0),
        datetime.date(2026, 1, 1),
        reference,
        context_words=record_words(" ".join(FIELDS)),  # the JSON keys and CSV headers
        visits=1_000,
    )
    patient_fields = tuple(f for f, e in FIELDS.items() if e is not Entity.VISIT)
    for name, fields in (("patients", patient_fields), ("visits", tuple(FIELDS))):
        tab = TabShape(name, f"{name}!A2", fields, fields)
        rows = testdata.rows_for(tab, population)
        (folder / f"{name}.csv").write_text(testdata.as_csv(tab, rows))
        (folder / f"{name}.json").write_text(testdata.as_json(tab, rows))
    capsys.readouterr()
    assert demo.cli("scan", "--json", str(folder)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and report["summary"]["files"] == 4
