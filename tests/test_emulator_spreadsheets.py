"""spreadsheets.get and spreadsheets.batchUpdate on the emulator, through the one client over
real HTTP: Google's Spreadsheet JSON, field masks, updateCells' `range` and `start` semantics,
all or nothing, Google's refusals, and the request log that proves which calls arrived."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.emulator.server import EmulatorServer
from services.emulator.store import EmulatorStore
from services.google_client import (
    Endpoints,
    GoogleClient,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from services.session import emulator_credentials
from tests.conftest import FAST_CLIENT_SETTINGS as FAST

OWNER = "owner@practice.example"
READER = "reader@practice.example"
OUTSIDER = "someone@elsewhere.example"
SHEET = "1" + "p" * 43
OTHER = "1" + "o" * 43
GRID = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path / "emulator.sqlite3") as running:
        store = running.store
        tabs = {"Sheet1": [list(r) for r in GRID], "Log": [["Event ID", "Detail"], ["e1", "x"]]}
        store.create_spreadsheet(SHEET, "Front desk", tabs, owner=OWNER)
        store.share(SHEET, READER, "reader")
        store.create_spreadsheet(OTHER, "Other", {"Sheet1": [["o"]]}, owner=OWNER)
        yield running


def client_for(server: EmulatorServer, email: str = OWNER) -> GoogleClient:
    client = GoogleClient(emulator_credentials(server, email), FAST, Endpoints(server.endpoint))
    client.authenticate()
    return client


def text(value: str) -> dict[str, Any]:
    return {"userEnteredValue": {"stringValue": value}}


def row(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"values": list(cells)}


def update_cells(rows: list[dict[str, Any]], **area: Any) -> dict[str, Any]:
    return {"updateCells": {"rows": rows, "fields": "userEnteredValue", **area}}


def grid_size(client: GoogleClient, tab: str) -> tuple[int, int]:
    sheets = client.get_spreadsheet(SHEET, fields="sheets.properties")["sheets"]
    found = next(s["properties"] for s in sheets if s["properties"]["title"] == tab)
    return found["gridProperties"]["rowCount"], found["gridProperties"]["columnCount"]


def log_sheet_id(client: GoogleClient) -> int:
    sheets = client.get_spreadsheet(SHEET, fields="sheets.properties(sheetId,title)")["sheets"]
    return next(s["properties"]["sheetId"] for s in sheets if s["properties"]["title"] == "Log")


def test_get_answers_googles_spreadsheet_without_grid_data(server: EmulatorServer) -> None:
    answer = client_for(server).get_spreadsheet(SHEET)
    assert answer["spreadsheetId"] == SHEET
    assert answer["properties"] == {
        "title": "Front desk",
        "locale": "en_US",
        "autoRecalc": "ON_CHANGE",
        "timeZone": "America/Chicago",
    }
    assert answer["spreadsheetUrl"] == f"https://docs.google.com/spreadsheets/d/{SHEET}/edit"
    first, second = (s["properties"] for s in answer["sheets"])
    assert first == {
        "sheetId": 0,
        "title": "Sheet1",
        "index": 0,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 1000, "columnCount": 26},
    }
    assert second["title"] == "Log" and second["index"] == 1
    assert 0 < second["sheetId"] < 2**31
    assert all("data" not in s for s in answer["sheets"])


def test_sheet_ids_are_stable_across_restarts(server: EmulatorServer) -> None:
    before = server.store.sheet_properties(SHEET)
    reopened = EmulatorStore(server.store.path)
    try:
        assert reopened.sheet_properties(SHEET) == before
    finally:
        reopened.close()
    assert server.store.sheet_properties(OTHER)[0]["sheetId"] == 0
    assert before[1]["sheetId"] != 0


def test_grid_data_of_the_whole_sheet_and_of_ranges(server: EmulatorServer) -> None:
    client = client_for(server)
    whole = client.get_spreadsheet(SHEET, include_grid_data=True)
    (data,) = whole["sheets"][1]["data"]
    assert data == {
        "rowData": [
            row(*(_cell(v) for v in ("Event ID", "Detail"))),
            row(_cell("e1"), _cell("x")),
        ]
    }

    ranged = client.get_spreadsheet(SHEET, ranges=["Log!B2", "Log!A1:A1"], include_grid_data=True)
    assert [s["properties"]["title"] for s in ranged["sheets"]] == ["Log"]
    assert ranged["sheets"][0]["data"] == [
        {"startRow": 1, "startColumn": 1, "rowData": [row(_cell("x"))]},
        {"rowData": [row(_cell("Event ID"))]},
    ]

    without_data = client.get_spreadsheet(SHEET, ranges=["Sheet1!A1"])
    assert [s["properties"]["title"] for s in without_data["sheets"]] == ["Sheet1"]
    assert "data" not in without_data["sheets"][0]

    empty = client.get_spreadsheet(SHEET, ranges=["Sheet1!D5:E6"], include_grid_data=True)
    assert empty["sheets"][0]["data"] == [{"startRow": 4, "startColumn": 3}]


def _cell(value: str) -> dict[str, Any]:
    typed = {"stringValue": value}
    return {"userEnteredValue": typed, "effectiveValue": typed, "formattedValue": value}


def test_field_masks_pick_parts_and_decide_grid_data(server: EmulatorServer) -> None:
    client = client_for(server)
    picked = client.get_spreadsheet(SHEET, fields="sheets.properties(sheetId,title)")
    assert picked == {
        "sheets": [
            {"properties": {"sheetId": 0, "title": "Sheet1"}},
            {"properties": {"sheetId": log_sheet_id(client), "title": "Log"}},
        ]
    }
    assert client.get_spreadsheet(SHEET, fields="spreadsheetId") == {"spreadsheetId": SHEET}
    # a mask asking for grid data gets it without includeGridData, as on Google
    values = client.get_spreadsheet(
        SHEET, ranges=["Sheet1!B2:C2"], fields="sheets(data(rowData(values(formattedValue))))"
    )
    assert values == {
        "sheets": [{"data": [{"rowData": [row({"formattedValue": "e"}, {"formattedValue": "f"})]}]}]
    }


def test_get_refuses_an_unknown_tab_or_a_range_past_the_grid(server: EmulatorServer) -> None:
    client = client_for(server)
    with pytest.raises(InvalidRequestError) as unknown:
        client.get_spreadsheet(SHEET, ranges=["Nope!A1"])
    assert unknown.value.status == 400 and unknown.value.message == "Unable to parse range: Nope!A1"
    with pytest.raises(InvalidRequestError) as past:
        client.get_spreadsheet(SHEET, ranges=["Sheet1!A1:A1001"])
    assert "exceeds grid limits. Max rows: 1000, max columns: 26" in past.value.message
    with pytest.raises(NotFoundError):
        client.get_spreadsheet("1" + "z" * 43)


def test_append_rows_then_write_them_in_one_batch_and_read_them_back(
    server: EmulatorServer,
) -> None:
    client = client_for(server)
    log = log_sheet_id(client)
    cells = [
        text("e2"),
        {"userEnteredValue": {"numberValue": 5.0}},
        {"userEnteredValue": {"boolValue": True}},
        {"userEnteredValue": {"numberValue": 2.5}},
    ]
    answer = client.batch_update_spreadsheet(
        SHEET,
        [
            {"appendDimension": {"sheetId": log, "dimension": "ROWS", "length": 2}},
            update_cells([row(*cells)], start={"sheetId": log, "rowIndex": 1001}),
        ],
    )
    assert answer == {"spreadsheetId": SHEET, "replies": [{}, {}]}
    assert grid_size(client, "Log") == (1002, 26)
    assert client.batch_get_values(SHEET, ["Log!A1002:D1002"]) == [[["e2", "5", "TRUE", "2.5"]]]
    data = client.get_spreadsheet(SHEET, ranges=["Log!B1002:C1002"], include_grid_data=True)
    number, flag = data["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert number["userEnteredValue"] == {"numberValue": 5} and number["formattedValue"] == "5"
    assert flag["effectiveValue"] == {"boolValue": True} and flag["formattedValue"] == "TRUE"

    client.batch_update_spreadsheet(
        SHEET, [{"appendDimension": {"sheetId": 0, "dimension": "COLUMNS", "length": 1}}]
    )
    assert grid_size(client, "Sheet1") == (1000, 27)


def test_a_range_clears_what_the_rows_do_not_cover(server: EmulatorServer) -> None:
    client = client_for(server)
    area = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 2}
    area |= {"startColumnIndex": 0, "endColumnIndex": 2}
    client.batch_update_spreadsheet(SHEET, [update_cells([row(text("X"))], range=area)])
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [
        [["X", "", "c"], ["", "", "f"], ["g", "h", "i"]]
    ]
    # no end index: unbounded to the grid's edge, so all of column C goes
    open_area = {"sheetId": 0, "startColumnIndex": 2}
    client.batch_update_spreadsheet(SHEET, [update_cells([], range=open_area)])
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [[["X"], [], ["g", "h"]]]


def test_start_writes_only_the_cells_given(server: EmulatorServer) -> None:
    client = client_for(server)
    start = {"sheetId": 0, "rowIndex": 1, "columnIndex": 1}
    client.batch_update_spreadsheet(SHEET, [update_cells([row(text("Y")), row({})], start=start)])
    # B2 written, B3 given without a value (cleared), everything else untouched
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [
        [["a", "b", "c"], ["d", "Y", "f"], ["g", "", "i"]]
    ]


def test_a_bad_request_later_in_the_batch_stores_nothing(server: EmulatorServer) -> None:
    client = client_for(server)
    requests = [
        {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 10}},
        update_cells([row(text("Z"))], start={"sheetId": 0, "rowIndex": 1005}),
        update_cells([row(text("W"))], start={"sheetId": 12345}),
    ]
    with pytest.raises(InvalidRequestError) as caught:
        client.batch_update_spreadsheet(SHEET, requests)
    assert caught.value.message == "Invalid requests[2].updateCells: No grid with id: 12345"
    assert caught.value.attempts == 1  # a 400 is never retried
    assert grid_size(client, "Sheet1") == (1000, 26)
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [GRID]
    # the same first two requests alone succeed: it was the third that stopped them
    client.batch_update_spreadsheet(SHEET, requests[:2])
    assert client.batch_get_values(SHEET, ["Sheet1!A1006"]) == [[["Z"]]]


def test_writing_past_the_grid_without_append_dimension_is_refused(
    server: EmulatorServer,
) -> None:
    client = client_for(server)
    two_rows = [row(text("p")), row(text("q"))]
    with pytest.raises(InvalidRequestError) as rows_past:
        client.batch_update_spreadsheet(
            SHEET, [update_cells(two_rows, start={"sheetId": 0, "rowIndex": 999})]
        )
    assert rows_past.value.message == (
        "Invalid requests[0].updateCells: Attempting to write row: 1000, beyond the last "
        "requested row of: 999"
    )
    with pytest.raises(InvalidRequestError) as columns_past:
        client.batch_update_spreadsheet(
            SHEET, [update_cells([row(text("p"), text("q"))], start={"columnIndex": 25})]
        )
    assert "write column: 26, beyond the last requested column of: 25" in (
        columns_past.value.message
    )
    with pytest.raises(InvalidRequestError) as range_past:
        client.batch_update_spreadsheet(
            SHEET, [update_cells([], range={"startRowIndex": 990, "endRowIndex": 1001})]
        )
    assert range_past.value.message == (
        "Invalid requests[0].updateCells: Range ('Sheet1'!A991:Z1001) exceeds grid limits. "
        "Max rows: 1000, max columns: 26"
    )
    assert client.batch_get_values(SHEET, ["Sheet1!A1000"]) == [[]]


def test_rows_past_the_requested_range_are_refused(server: EmulatorServer) -> None:
    client = client_for(server)
    area = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1, "endColumnIndex": 1}
    with pytest.raises(InvalidRequestError) as too_many_rows:
        client.batch_update_spreadsheet(
            SHEET, [update_cells([row(text("p")), row(text("q"))], range=area)]
        )
    assert too_many_rows.value.message == (
        "Invalid requests[0].updateCells: Attempting to write row: 1, beyond the last "
        "requested row of: 0"
    )
    with pytest.raises(InvalidRequestError) as too_wide:
        client.batch_update_spreadsheet(
            SHEET, [update_cells([row(text("p"), text("q"))], range=area)]
        )
    assert "write column: 1, beyond the last requested column of: 0" in too_wide.value.message
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [GRID]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"addSheet": {"properties": {"title": "New"}}},
            "Invalid requests[0]: addSheet is not served by the emulator "
            "(it serves appendDimension and updateCells).",
        ),
        (
            {"frobnicate": {}},
            "Invalid JSON payload received. Unknown name \"frobnicate\" at 'requests[0]': "
            "Cannot find field.",
        ),
        ({}, "Invalid requests[0]: No request set."),
        (
            {
                "appendDimension": {"dimension": "ROWS", "length": 1},
                "updateCells": {"fields": "*", "start": {}},
            },
            "Invalid JSON payload received. Oneof field 'kind' is already set. "
            "Cannot set 'updateCells'",
        ),
        (
            {"updateCells": {"rows": [], "start": {}}},
            "Invalid requests[0].updateCells: At least one field must be specified.",
        ),
        (
            {"updateCells": {"rows": [], "fields": "note", "start": {}}},
            "Invalid requests[0].updateCells: the field 'note' is not served by the emulator "
            "(it writes userEnteredValue; fields may be 'userEnteredValue' or '*').",
        ),
        (
            {"updateCells": {"fields": "*", "start": {}, "range": {}}},
            "Invalid JSON payload received. Oneof field 'area' is already set. Cannot set 'range'",
        ),
        (
            update_cells([row({"userEnteredValue": {"errorValue": {}}})], start={}),
            "Invalid requests[0].updateCells: errorValue cannot be written (at "
            "'requests[0].update_cells.rows[0].values[0].user_entered_value.error_value').",
        ),
        (
            update_cells([row({"userEnteredValue": {"numberValue": "7"}})], start={}),
            "Invalid value at 'requests[0].update_cells.rows[0].values[0].user_entered_value."
            'number_value\' (TYPE_DOUBLE), "7"',
        ),
        (
            {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 0}},
            "Invalid requests[0].appendDimension: length must be greater than 0.",
        ),
    ],
)
def test_requests_google_refuses_are_refused_with_its_wording(
    server: EmulatorServer, request_: dict[str, Any], message: str
) -> None:
    client = client_for(server)
    with pytest.raises(InvalidRequestError) as caught:
        client.batch_update_spreadsheet(SHEET, [request_])
    assert caught.value.status == 400 and caught.value.message == message
    assert client.batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [GRID]


def raw_post(server: EmulatorServer, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """A body the client cannot send (it builds {"requests": [...]} only)."""
    token = client_for(server).credentials.token
    request = urllib.request.Request(
        server.endpoint + path.lstrip("/"),
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_unknown_top_level_field_and_the_updated_spreadsheet(server: EmulatorServer) -> None:
    path = f"/v4/spreadsheets/{SHEET}:batchUpdate"
    write = update_cells([row(text("N"))], start={"sheetId": 0})
    status, answer = raw_post(server, path, {"requests": [write], "x": 1})
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "x": Cannot find field.'
    )
    # a bad response range is checked before anything is stored
    status, answer = raw_post(
        server,
        path,
        {"requests": [write], "includeSpreadsheetInResponse": True, "responseRanges": ["No!A1"]},
    )
    assert (status, answer["error"]["message"]) == (400, "Unable to parse range: No!A1")
    assert server.store.get_values(SHEET, "Sheet1!A1")["values"] == [["a"]]

    status, answer = raw_post(
        server,
        path,
        {
            "requests": [write],
            "includeSpreadsheetInResponse": True,
            "responseRanges": ["Sheet1!A1"],
            "responseIncludeGridData": True,
        },
    )
    assert status == 200 and answer["replies"] == [{}]
    (sheet,) = answer["updatedSpreadsheet"]["sheets"]
    assert sheet["data"][0]["rowData"] == [row(_cell("N"))]


def test_a_reader_is_refused_and_nothing_is_written(server: EmulatorServer) -> None:
    reader = client_for(server, READER)
    assert reader.get_spreadsheet(SHEET, fields="spreadsheetId") == {"spreadsheetId": SHEET}
    write = update_cells([row(text("R"))], start={"sheetId": 0})
    with pytest.raises(PermissionDeniedError) as refused:
        reader.batch_update_spreadsheet(SHEET, [write])
    assert (refused.value.status, refused.value.message) == (
        403,
        "The caller does not have permission",
    )
    outsider = client_for(server, OUTSIDER)
    with pytest.raises(NotFoundError):
        outsider.batch_update_spreadsheet(SHEET, [write])
    with pytest.raises(NotFoundError):
        outsider.get_spreadsheet(SHEET)
    assert client_for(server).batch_get_values(SHEET, ["Sheet1!A1:C3"]) == [GRID]


def test_the_request_log_keeps_every_answered_request(server: EmulatorServer) -> None:
    client_for(server).get_spreadsheet(OTHER)
    reader = client_for(server, READER)
    reader.get_spreadsheet(SHEET, ranges=["Log!A1"])
    with pytest.raises(PermissionDeniedError):
        reader.batch_update_spreadsheet(SHEET, [update_cells([], start={})])
    anonymous = urllib.request.Request(server.endpoint + f"v4/spreadsheets/{SHEET}")
    with pytest.raises(urllib.error.HTTPError) as unauthenticated:
        urllib.request.urlopen(anonymous, timeout=10)
    assert unauthenticated.value.code == 401

    rows = server.store.request_log(SHEET)
    assert [(r["method"], r["path"], r["user"], r["status"]) for r in rows] == [
        ("GET", f"/v4/spreadsheets/{SHEET}", READER, 200),
        ("POST", f"/v4/spreadsheets/{SHEET}:batchUpdate", READER, 403),
        ("GET", f"/v4/spreadsheets/{SHEET}", "", 401),
    ]
    assert rows[0]["time"] <= rows[1]["time"] <= rows[2]["time"]
    everything = server.store.request_log()
    assert everything[0]["path"] == f"/v4/spreadsheets/{OTHER}"
    assert len(everything) == 4  # the token endpoint is not logged
    assert not any("token" in r["path"] for r in everything)

    reopened = EmulatorStore(server.store.path)  # it persists in the state file
    try:
        assert reopened.request_log(SHEET) == rows
    finally:
        reopened.close()
