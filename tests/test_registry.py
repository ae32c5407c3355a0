"""`sheetstage registry import` (all rows validated first) and `registry check`."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.registry import REQUIRED_COLUMNS, load_registry
from tests.conftest import Demo

COLUMNS = list(REQUIRED_COLUMNS)
SHEETS = demo_sheets()


def rows(count: int) -> list[dict[str, str]]:
    return [
        {
            "number": str(s.number),
            "name": s.name,
            "prod_spreadsheet_id": s.prod_spreadsheet_id,
            "prod_script_id": s.prod_script_id,
            "dev3_spreadsheet_id": s.dev3_spreadsheet_id,
            "dev3_script_id": s.dev3_script_id,
        }
        for s in demo_sheets()[:count]
    ]


def write_csv(path: Path, data: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(data)
    return path


def test_import_csv_fills_the_registry_and_commits(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_csv(tmp_path / "sheets.csv", rows(3))
    assert demo.cli("registry", "import", "--allow-removals", str(source)) == 0
    text = demo.workspace.registry_path.read_text()
    assert text.count("\n[[sheet]]\n") == 3
    assert not demo.workspace.repo.is_dirty(path="registry.toml")
    message = demo.workspace.repo.head.commit.message
    assert "registry: import 3 sheets from sheets.csv (0 added, 0 changed, 232 removed)" in message
    out = capsys.readouterr().out  # the plan is the result: `registry import F > plan.txt`
    assert f"remove 003 {SHEETS[3].name}\n" in out
    assert f"{source}: 0 added, 0 changed, 232 removed, 3 unchanged" in out
    assert out.splitlines()[-1] == "registry.toml now holds 3 sheets (committed)"


def test_import_json_list(demo: Demo, tmp_path: Path) -> None:
    data = rows(2)
    data[1]["reference_ranges"] = ["Patients!A2:F"]  # type: ignore[assignment]
    source = tmp_path / "sheets.json"
    source.write_text(json.dumps(data))
    assert demo.cli("registry", "import", "--allow-removals", str(source)) == 0
    assert (
        'reference_ranges = [\n    "Patients!A2:F",\n]' in demo.workspace.registry_path.read_text()
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (rows(1), "would remove 234 of 235 sheets (001, 002, 003, 004, 005, 006, 007, 008, ...)"),
        ([], "holds no sheets; "),
        (
            [{**rows(1)[0], "name": "../../etc"}],
            "sheet entry 1: name '../../etc' contains the path separator '/'",
        ),
    ],
    ids=["one-row", "header-only", "path-name"],
)
def test_an_import_that_would_empty_the_registry_is_refused_and_changes_nothing(
    demo: Demo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: list[dict[str, str]],
    message: str,
) -> None:
    before = demo.workspace.registry_path.read_bytes()
    head = demo.workspace.head()
    source = write_csv(tmp_path / "sheets.csv", data)
    capsys.readouterr()
    assert demo.cli("registry", "import", str(source)) == 2
    out, err = capsys.readouterr()
    assert message in err and "\n" not in err.strip(), err
    assert out == ""  # no plan is printed for a refused file
    assert demo.workspace.registry_path.read_bytes() == before
    assert demo.workspace.head() == head
    assert demo.workspace.repo.git.status("--porcelain") == ""


def test_a_rename_shows_old_and_new_and_keeps_owner_and_reference_ranges(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(len(SHEETS))
    data[5]["name"] = "Renamed Clinic"
    source = write_csv(tmp_path / "sheets.csv", data)  # no owner, no reference_ranges column
    capsys.readouterr()
    assert demo.cli("registry", "import", str(source)) == 0
    out = capsys.readouterr().out
    assert f"change 005: name {SHEETS[5].name!r} -> 'Renamed Clinic'\n" in out
    assert "1 changed, 0 removed, 234 unchanged" in out
    registry = load_registry(demo.workspace.registry_path)
    assert registry.by_number(5).name == "Renamed Clinic"
    assert registry.sheets == tuple(
        dataclasses.replace(s, name="Renamed Clinic") if s.number == 5 else s for s in SHEETS
    )
    head = demo.workspace.head()
    assert demo.cli("registry", "import", str(source)) == 0  # the same file again
    assert "nothing to commit" in capsys.readouterr().out
    assert demo.workspace.head() == head


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"prod_script_id": "not an id"},
            "sheet entry 3: prod_script_id 'not an id' is not a Google id",
        ),
        ({"number": "x7"}, "sheet entry 3: number 'x7' is not a whole number"),
        ({"number": "0"}, "sheet entry 3: number 0 repeats entry 1"),
        ({"name": ""}, "sheet entry 3: name is empty"),
    ],
)
def test_one_bad_row_rejects_the_whole_file_and_writes_nothing(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    before = demo.workspace.registry_path.read_bytes()
    head = demo.workspace.head()
    data = rows(4)
    data[2].update(change)
    source = write_csv(tmp_path / "sheets.csv", data)
    capsys.readouterr()
    assert demo.cli("registry", "import", str(source)) == 2
    out, err = capsys.readouterr()
    assert message in err and "\n" not in err.strip()
    assert out == ""
    assert demo.workspace.registry_path.read_bytes() == before
    assert demo.workspace.head() == head


def test_registry_check_verifies_each_scripts_parent(
    demo: Demo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert demo.cli("registry", "check") == 0
    data = rows(len(SHEETS))
    data[1]["dev3_spreadsheet_id"], data[2]["dev3_spreadsheet_id"] = (
        data[2]["dev3_spreadsheet_id"],
        data[1]["dev3_spreadsheet_id"],
    )
    assert demo.cli("registry", "import", str(write_csv(tmp_path / "s.csv", data))) == 0
    capsys.readouterr()
    assert demo.cli("registry", "check", "--json") == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert {(p["sheet"], p["env"]) for p in problems} == {(1, "staging"), (2, "staging")}
    assert "is bound to" in problems[0]["problem"]


def test_a_sheet_name_holding_patient_data_is_refused_and_never_echoed(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(3)
    data[1]["name"] = "Smith 523-71-4086"
    source = write_csv(tmp_path / "sheets.csv", data)
    head = demo.workspace.head()
    assert demo.cli("registry", "import", str(source), "--allow-removals") == 2
    err = capsys.readouterr().err
    assert "the name of sheet 001 holds what looks like patient data (SSN ***-**-4086)" in err
    assert "523-71" not in err and "Smith" not in err
    assert demo.workspace.head() == head
