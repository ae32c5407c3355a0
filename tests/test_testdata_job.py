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
from services.registry import Registry
from services.testdata import FIELDS, Entity, TabShape
from services.testdata_job import refuse_production_targets
from sheetstage_tui.errors import RefusedError
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
    entry = demo.trail()[-1]
    assert entry["action"] == "generate-test-data" and entry["sheets"] == list(FILLED)
    assert entry["result"] == "ok" and "seed 7, 40 patients" in entry["detail"]
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
    assert dev3_values(demo, 0, "Patients") == [list(patient_tab(0).headers)]
    # DEV3's headers drifted from production's: the sheet is refused, nothing is written
    store = demo.store()
    try:
        store.update_values(
            SHEETS[1].dev3_spreadsheet_id, [{"range": "Patients!C1", "values": [["Age"]]}]
        )
    finally:
        store.close()
    assert demo.cli("generate-test-data", "--sheet", "1") == 1
    assert "differs from production's at column C" in capsys.readouterr().out
    assert len(dev3_values(demo, 1, "Patients")) == 1
    # a read-only session writes nothing
    assert demo.cli("--read-only", "generate-test-data", "--sheet", "4") == 5
    assert len(dev3_values(demo, 4, "Patients")) == 1


def test_output_writes_fixtures_and_never_overwrites(demo: Demo, capsys, tmp_path: Path) -> None:
    demo.fast_sheets()
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
    assert "test_data" not in json.loads(demo.workspace.state_path.read_text())["sheets"].get(
        "000", {}
    )
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


@pytest.mark.parametrize("form", ["csv", "json"])
def test_ten_thousand_patients_scan_clean_with_the_reference_loaded(
    demo: Demo, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """10,000 patients with every field (their provider's too) and a thousand visits with
    every visit field, as CSV rows or JSON records, scanned with the production reference
    loaded. (One form per test: the two run side by side.)"""
    demo.fast_sheets()
    assert demo.cli("reference", "refresh") == 0
    folder = tmp_path / "generated"
    folder.mkdir()
    population = testdata.generate(10_000, testdata.sheet_seed(0, 0), datetime.date(2026, 1, 1))
    population.visits = population.visits[:1_000]
    patient_fields = tuple(f for f, e in FIELDS.items() if e is not Entity.VISIT)
    for name, fields in (("patients", patient_fields), ("visits", tuple(FIELDS))):
        tab = TabShape(name, f"{name}!A2", fields, fields)
        rows = testdata.rows_for(tab, population)
        write = testdata.as_csv if form == "csv" else testdata.as_json
        (folder / f"{name}.{form}").write_text(write(tab, rows))
    capsys.readouterr()
    assert demo.cli("scan", "--json", str(folder)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and report["summary"]["files"] == 2
