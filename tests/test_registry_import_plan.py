"""The registry import plan: every row validated and compared with registry.toml before
anything is written; names are plain text; nothing is removed unless asked for."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from services.emulator.seed import demo_sheets
from services.errors import UsageError
from services.models import Sheet
from services.registry import (
    REQUIRED_COLUMNS,
    Registry,
    load_registry,
    plan_import,
    read_import_file,
    render_registry,
)

SHEETS = tuple(demo_sheets())
CURRENT = Registry(SHEETS)
CSV_COLUMNS = frozenset(REQUIRED_COLUMNS)  # an export without owner and reference_ranges


def row(sheet: Sheet, **change: Any) -> dict[str, Any]:
    data: dict[str, Any] = {column: str(getattr(sheet, column)) for column in REQUIRED_COLUMNS}
    data.update(change)
    return data


def every_row() -> list[dict[str, Any]]:
    return [row(s) for s in SHEETS]


def refusal(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(UsageError) as caught:
        plan_import(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_importing_the_registrys_own_sheets_plans_nothing_and_keeps_owner_and_ranges() -> None:
    plan = plan_import(CURRENT, every_row(), CSV_COLUMNS, "sheets.csv")
    assert plan.changes_nothing and plan.lines() == []
    assert plan.sheets == SHEETS  # owner and reference_ranges kept: the file has no column
    assert plan.counts() == (
        "sheets.csv: 0 added, 0 changed, 0 removed, 235 unchanged "
        "(235 sheets; owner and reference_ranges kept from registry.toml)"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc", "contains the path separator '/'"),
        ("Billing\\Claims", "contains the path separator '\\\\'"),
        ("Check-In\nrm -rf", "contains U+000A"),
        ("Check-In\tLobby", "contains U+0009"),
        ("Check-In\x7f", "contains U+007F"),
        ("Check-In \u202egpj.exe", "contains U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("Check\u200bIn", "contains U+200B (ZERO WIDTH SPACE)"),
        ("Check-In\u2028Lobby", "contains U+2028 (LINE SEPARATOR)"),
        (" Check-In", "starts or ends with whitespace"),
        ("Check-In ", "starts or ends with whitespace"),
        ("x" * 201, "is 201 characters long"),
    ],
)
def test_a_name_that_is_not_plain_text_is_refused_in_one_line_naming_entry_and_fix(
    name: str, expected: str
) -> None:
    rows = every_row()
    rows[6]["name"] = name
    message = refusal(CURRENT, rows, CSV_COLUMNS, "sheets.csv")
    assert message.startswith("sheets.csv: sheet entry 7: name ")
    assert expected in message
    assert "; " in message  # the fix follows the problem
    assert all(c.isprintable() for c in message)  # the name is shown escaped, never raw


@pytest.mark.parametrize("allow_removals", [False, True])
def test_a_file_without_rows_is_refused_even_with_allow_removals(allow_removals: bool) -> None:
    message = refusal(CURRENT, [], CSV_COLUMNS, "sheets.csv", allow_removals=allow_removals)
    assert message.startswith("sheets.csv holds no sheets; ")


def test_a_one_row_file_would_remove_234_sheets_and_is_refused() -> None:
    message = refusal(CURRENT, [row(SHEETS[0])], CSV_COLUMNS, "sheets.csv")
    assert message == (
        "sheets.csv would remove 234 of 235 sheets "
        "(001, 002, 003, 004, 005, 006, 007, 008, ...); pass --allow-removals if that is intended"
    )


def test_a_few_removals_are_all_listed() -> None:
    rows = [r for r in every_row() if r["number"] not in ("3", "117")]
    message = refusal(CURRENT, rows, CSV_COLUMNS, "sheets.csv")
    assert "would remove 2 of 235 sheets (003, 117); pass --allow-removals" in message


def test_removals_go_ahead_when_allowed_and_each_is_listed() -> None:
    plan = plan_import(CURRENT, [row(SHEETS[0])], CSV_COLUMNS, "one.csv", allow_removals=True)
    assert plan.sheets == (SHEETS[0],)
    assert len(plan.removals) == 234
    assert plan.lines()[0] == f"remove 001 {SHEETS[1].name}"
    assert plan.counts().startswith("one.csv: 0 added, 0 changed, 234 removed, 1 unchanged")


def test_adds_and_changes_name_each_field_from_old_to_new() -> None:
    current = Registry(SHEETS[:10])
    rows = [row(s, owner=s.owner) for s in SHEETS[:11]]
    rows[2]["name"] = "Main Clinic — Intake"
    rows[5]["owner"] = "billing@practice.example"
    rows[5]["dev3_script_id"] = "1" + "D" * 56
    plan = plan_import(current, rows, {*REQUIRED_COLUMNS, "owner"}, "sheets.csv")
    assert plan.lines() == [
        f"add 010 {SHEETS[10].name}",
        f"change 002: name {SHEETS[2].name!r} -> 'Main Clinic — Intake'",
        f"change 005: dev3_script_id {SHEETS[5].dev3_script_id!r} -> '{'1' + 'D' * 56}', "
        f"owner {SHEETS[5].owner!r} -> 'billing@practice.example'",
    ]
    assert plan.counts() == (
        "sheets.csv: 1 added, 2 changed, 0 removed, 8 unchanged "
        "(11 sheets; reference_ranges kept from registry.toml)"
    )
    assert plan.sheets[5].reference_ranges == SHEETS[5].reference_ranges  # kept
    assert plan.sheets[10].reference_ranges == ()  # a new sheet has nothing to keep


def test_a_json_key_present_in_some_objects_counts_as_a_column(tmp_path: Path) -> None:
    rows = every_row()
    rows[0]["reference_ranges"] = list(SHEETS[0].reference_ranges)
    source = tmp_path / "sheets.json"
    source.write_text(json.dumps(rows))
    exported = read_import_file(source)
    assert "reference_ranges" in exported.columns and "owner" not in exported.columns
    plan = plan_import(CURRENT, exported.rows, exported.columns, str(source))
    # every other object lacks the key, so its sheet's ranges are cleared, and the plan says so
    cleared = [s for s in SHEETS[1:] if s.reference_ranges]
    assert [c.after.number for c in plan.changes] == [s.number for s in cleared]
    assert plan.lines()[0] == (
        f"change {cleared[0].key}: reference_ranges {list(cleared[0].reference_ranges)!r} -> []"
    )
    assert [s.owner for s in plan.sheets] == [s.owner for s in SHEETS]  # no owner key: kept


@pytest.mark.parametrize(
    ("text", "suffix"), [("[]", ".json"), (",".join(REQUIRED_COLUMNS) + "\n", ".csv")]
)
def test_a_header_only_csv_or_an_empty_json_list_holds_no_sheets(
    tmp_path: Path, text: str, suffix: str
) -> None:
    source = tmp_path / f"sheets{suffix}"
    source.write_text(text)
    exported = read_import_file(source)
    message = refusal(CURRENT, exported.rows, exported.columns, str(source))
    assert message.startswith(f"{source} holds no sheets; ")


@pytest.mark.parametrize(
    ("toml_name", "expected"),
    [
        ('"../../etc"', "contains the path separator '/'"),
        ('"Check-In \\u202Egpj.exe"', "contains U+202E"),
        ('"Check-In\\nLobby"', "contains U+000A"),
        ('"Check-In "', "starts or ends with whitespace"),
    ],
)
def test_a_hand_edited_registry_toml_with_a_bad_name_is_refused_at_load(
    tmp_path: Path, toml_name: str, expected: str
) -> None:
    path = tmp_path / "registry.toml"
    sheets = [dataclasses.replace(SHEETS[1], name="PLACEHOLDER"), SHEETS[2]]
    path.write_text(render_registry(sheets).replace('"PLACEHOLDER"', toml_name))
    with pytest.raises(UsageError) as caught:
        load_registry(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: sheet entry 1: name ")
    assert expected in message and "\n" not in message
