"""The emulator refuses what Google refuses, with Google's error JSON: per-user permissions,
code that does not parse, an invalid manifest, unknown fields, bad Sheets enums, ranges past
the grid, per-API quotas. Everything goes over real HTTP through google-api-python-client
(or urllib where the client cannot send the bad request)."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from services.config import ClientConfig
from services.emulator.seed import (
    DEVELOPER,
    DIVERGED,
    MANAGER,
    PROD_MODIFIED,
    SCHEDULER,
    SOMEONE_ELSE,
    seed_demo,
)
from services.emulator.seed_tests import main_tab
from services.emulator.server import EmulatorServer, EmulatorSettings
from services.emulator.store import EmulatorStore
from services.emulator.syntax import SyntaxProblem, tree_sitter_syntax_error
from services.google_client import (
    Endpoints,
    GoogleClient,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from services.models import Environment, FileType, ScriptFile, content_hash
from services.registry import IdMapper
from services.session import emulator_credentials
from services.snapshot import project_hash
from tests.conftest import FAST_CLIENT_SETTINGS as FAST
from tests.conftest import Demo

OWNER = "owner@practice.example"
WRITER = "writer@practice.example"
READER = "reader@practice.example"
OUTSIDER = "someone@elsewhere.example"
SCRIPT = "1" + "s" * 56
SHEET = "1" + "p" * 43
OPEN_SHEET = "1" + "o" * 43
ONE_ATTEMPT = ClientConfig(max_attempts=1, sheets_requests_per_minute=6000)
MANIFEST = {"name": "appsscript", "type": "JSON", "source": '{"timeZone": "America/Chicago"}'}
CODE = {"name": "Code", "type": "SERVER_JS", "source": "function onOpen() {}\n"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path / "emulator.sqlite3") as running:
        store = running.store
        store.create_project(SCRIPT, "Front desk script", SHEET, [MANIFEST, CODE], OWNER)
        store.create_spreadsheet(SHEET, "Front desk", {"Sheet1": [["a", "b"]]}, owner=OWNER)
        store.create_spreadsheet(OPEN_SHEET, "Legacy", {"Sheet1": [["x"]]})  # no permissions
        for file_id in (SCRIPT, SHEET):
            store.share(file_id, WRITER, "writer")
            store.share(file_id, READER, "reader")
        yield running


def client_for(
    server: EmulatorServer, email: str, settings: ClientConfig = FAST, **kwargs: int
) -> GoogleClient:
    client = GoogleClient(
        emulator_credentials(server, email), settings, Endpoints(server.endpoint), **kwargs
    )
    client.authenticate()
    return client


def raw(
    server: EmulatorServer, method: str, path: str, email: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """One HTTP call with a bearer token of `email`: for requests the client cannot send."""
    client = client_for(server, email)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.endpoint + path.lstrip("/"),
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {client.credentials.token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def drive_service(server: EmulatorServer, email: str) -> Any:
    """Drive v3 through google-api-python-client (GoogleClient has no permissions call)."""
    credentials = emulator_credentials(server, email)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=10))
    return build_from_document(
        discovery_cache.get_static_doc("drive", "v3"),
        http=http,
        client_options={"api_endpoint": f"{server.endpoint}drive/v3/"},
    )


# permissions ----------------------------------------------------------------------------------


def test_store_permissions_have_drives_shape_and_roles_decide_read_and_write(
    tmp_path: Path,
) -> None:
    store = EmulatorStore(tmp_path / "s.sqlite3")
    try:
        store.create_project(SCRIPT, "t", None, [MANIFEST], OWNER)
        store.share(SCRIPT, WRITER, "writer")
        store.share(SCRIPT, "practice.example", "reader", type="domain")
        store.share(SCRIPT, OWNER, "reader")  # an owner stays owner
        listed = store.permissions(SCRIPT)
        assert [(p["type"], p["role"]) for p in listed] == [
            ("user", "owner"),
            ("user", "writer"),
            ("domain", "reader"),
        ]
        assert listed[0]["emailAddress"] == OWNER and listed[2]["domain"] == "practice.example"
        assert all(p["kind"] == "drive#permission" and p["id"] for p in listed)
        assert listed[2]["id"].endswith("k")

        assert store.can(SCRIPT, OWNER, "write") and store.can(SCRIPT, WRITER, "write")
        assert store.can(SCRIPT, READER, "read")  # by the domain permission
        assert not store.can(SCRIPT, READER, "write")
        assert not store.can(SCRIPT, OUTSIDER, "read")
        assert not store.can(SCRIPT, "x@sub.practice.example", "read")

        store.share(SCRIPT, WRITER, "reader")  # sharing again changes the role
        assert not store.can(SCRIPT, WRITER, "write")
        store.create_spreadsheet(OPEN_SHEET, "Legacy", {"Sheet1": []})
        assert store.permissions(OPEN_SHEET) == []
        assert store.can(OPEN_SHEET, OUTSIDER, "write")  # no permissions at all: open
        with pytest.raises(ValueError):
            store.share(SCRIPT, "practice.example", "owner", type="domain")
    finally:
        store.close()


def test_a_reader_reads_but_cannot_write_and_an_outsider_finds_nothing(
    server: EmulatorServer,
) -> None:
    reader = client_for(server, READER)
    before = reader.get_project(SCRIPT)
    assert reader.get_content(SCRIPT)["files"][1]["name"] == "Code"
    assert reader.batch_get_values(SHEET, ["Sheet1"]) == [[["a", "b"]]]
    with pytest.raises(PermissionDeniedError) as denied:
        reader.update_content(SCRIPT, [MANIFEST, {**CODE, "source": "function x() {}\n"}])
    assert denied.value.status == 403 and denied.value.attempts == 1
    assert denied.value.message == "The caller does not have permission"
    with pytest.raises(PermissionDeniedError):
        reader.append_values(SHEET, "Sheet1!A1", [["new"]])
    with pytest.raises(PermissionDeniedError):
        reader.batch_update_values(SHEET, [("Sheet1!A1", [["new"]])])
    assert server.store.project(SCRIPT)["updateTime"] == before["updateTime"]
    assert server.store.get_values(SHEET, "Sheet1")["values"] == [["a", "b"]]

    outsider = client_for(server, OUTSIDER)
    with pytest.raises(NotFoundError) as hidden:
        outsider.get_project(SCRIPT)
    assert hidden.value.message == "Requested entity was not found."
    with pytest.raises(NotFoundError):
        outsider.get_content(SCRIPT)
    with pytest.raises(NotFoundError):
        outsider.update_content(SCRIPT, [MANIFEST])
    with pytest.raises(NotFoundError) as drive_hidden:
        outsider.get_drive_file(SHEET)
    assert drive_hidden.value.message == f"File not found: {SHEET}."
    with pytest.raises(NotFoundError):
        outsider.batch_get_values(SHEET, ["Sheet1"])
    with pytest.raises(NotFoundError):
        outsider.append_values(SHEET, "Sheet1!A1", [["new"]])
    # a file nobody shared (a store from before permissions) stays open to everyone
    outsider.batch_update_values(OPEN_SHEET, [("Sheet1!A2", [["y"]])])
    assert outsider.batch_get_values(OPEN_SHEET, ["Sheet1"]) == [[["x"], ["y"]]]


def test_permissions_list_is_drives_shape_and_only_for_those_who_may_share(
    server: EmulatorServer,
) -> None:
    listing = drive_service(server, WRITER).permissions().list(fileId=SHEET).execute()
    assert listing["kind"] == "drive#permissionList"
    assert [(p["role"], p.get("emailAddress")) for p in listing["permissions"]] == [
        ("owner", OWNER),
        ("writer", WRITER),
        ("reader", READER),
    ]
    narrow = (
        drive_service(server, OWNER)
        .permissions()
        .list(fileId=SHEET, fields="permissions(role,emailAddress)")
        .execute()
    )
    assert narrow == {
        "permissions": [
            {"role": r, "emailAddress": e}
            for r, e in [
                ("owner", OWNER),
                ("writer", WRITER),
                ("reader", READER),
            ]
        ]
    }
    with pytest.raises(HttpError) as reader_error:
        drive_service(server, READER).permissions().list(fileId=SHEET).execute()
    body = json.loads(reader_error.value.content)["error"]
    assert reader_error.value.status_code == 403
    assert body["errors"][0]["reason"] == "insufficientFilePermissions"
    with pytest.raises(HttpError) as outsider_error:
        drive_service(server, OUTSIDER).permissions().list(fileId=SHEET).execute()
    assert outsider_error.value.status_code == 404


def test_two_clients_on_one_server_each_act_under_their_own_permissions(
    server: EmulatorServer,
) -> None:
    writer, reader = client_for(server, WRITER), client_for(server, READER)
    changed = [MANIFEST, {**CODE, "source": "function changed() {}\n"}]
    writer.update_content(SCRIPT, changed)
    with pytest.raises(PermissionDeniedError):
        reader.update_content(SCRIPT, [MANIFEST, CODE])
    seen_by_reader = reader.get_project(SCRIPT)
    assert seen_by_reader["lastModifyUser"]["email"] == WRITER
    server.store.share(SCRIPT, READER, "writer")  # the owner promotes the reader
    reader.update_content(SCRIPT, [MANIFEST, CODE])
    assert writer.get_project(SCRIPT)["lastModifyUser"]["email"] == READER


def test_the_seeded_demo_gives_developers_read_only_production(demo: Demo) -> None:
    from services.emulator.seed import demo_sheets, log_spreadsheet_id

    sheet = demo_sheets()[3]
    with EmulatorServer(demo.emulator_file) as server:
        developer = client_for(server, DEVELOPER)
        production = developer.get_content(sheet.prod_script_id)["files"]
        with pytest.raises(PermissionDeniedError) as denied:
            developer.update_content(sheet.prod_script_id, production)
        assert "The caller does not have permission" in denied.value.describe()
        developer.update_content(
            sheet.dev3_script_id, developer.get_content(sheet.dev3_script_id)["files"]
        )
        tab = main_tab(sheet)
        developer.batch_get_values(sheet.prod_spreadsheet_id, [f"'{tab}'!A1:F1"])
        with pytest.raises(PermissionDeniedError):
            developer.batch_update_values(sheet.prod_spreadsheet_id, [(f"'{tab}'!A2", [["x"]])])
        for account in (MANAGER, SCHEDULER, SOMEONE_ELSE):
            client_for(server, account).update_content(sheet.prod_script_id, production)
        client_for(server, SCHEDULER).append_values(
            log_spreadsheet_id(), "Snapshots!A1", [["emu-1", "x"]]
        )
        with pytest.raises(NotFoundError):
            client_for(server, OUTSIDER).get_project(sheet.prod_script_id)


# Apps Script content -------------------------------------------------------------------------


BROKEN_CODE = [
    ("function a() {\n  return 1;\n}\n}\n", 4, "Unexpected token '}'"),
    ("function a() {\n  var x = ;\n}\n", 2, "Unexpected token ';'"),
    ("function a() {\n  return 1;\n", 3, "Unexpected end of input"),
    ("const a = {b: 1 c: 2};\n", 1, "Unexpected identifier 'c'"),
    ("var s = 'open;\n", 1, "Invalid or unexpected token"),
    ("function f() {\n  foo(\n}\n", 3, "Unexpected token '}'"),
]


@pytest.mark.parametrize(("source", "line", "detail"), BROKEN_CODE)
def test_code_that_does_not_parse_is_refused_like_apps_script_and_nothing_is_written(
    server: EmulatorServer, source: str, line: int, detail: str
) -> None:
    client = client_for(server, WRITER)
    before = client.get_content(SCRIPT)
    broken = {"name": "lib/helpers", "type": "SERVER_JS", "source": source}
    with pytest.raises(InvalidRequestError) as refused:
        client.update_content(SCRIPT, [MANIFEST, CODE, broken])
    assert refused.value.status == 400
    assert refused.value.message == (
        f"Syntax error: SyntaxError: {detail} line: {line} file: lib/helpers"
    )
    assert client.get_content(SCRIPT) == before


@pytest.mark.parametrize(("source", "line", "detail"), BROKEN_CODE)
def test_without_v8_tree_sitter_names_the_same_token_and_line(
    source: str, line: int, detail: str
) -> None:
    assert tree_sitter_syntax_error(source) == SyntaxProblem(line, detail)
    assert tree_sitter_syntax_error("function ok() { return [1, 2].map((x) => x * 2); }\n") is None


@pytest.mark.parametrize(
    ("source", "line", "detail"),
    [
        ("\nlet twice = 1;\nlet twice = 2;\n", 3, "Identifier 'twice' has already been declared"),
        ("'use strict';\nwith (Math) { max(1, 2); }\n", 2, "Strict mode code may not include"),
        ("function ok() {}\nreturn 1;\n", 2, "Illegal return statement"),
    ],
)
def test_v8_refuses_what_a_grammar_alone_accepts(
    server: EmulatorServer, source: str, line: int, detail: str
) -> None:
    pytest.importorskip("py_mini_racer")
    client = client_for(server, WRITER)
    with pytest.raises(InvalidRequestError) as refused:
        client.update_content(SCRIPT, [MANIFEST, {**CODE, "source": source}])
    assert refused.value.message.startswith(f"Syntax error: SyntaxError: {detail}")
    assert refused.value.message.endswith(f" line: {line} file: Code")
    # files are compiled one by one: the same global in two files is not a save-time error
    other = {"name": "Other", "type": "SERVER_JS", "source": "let shared = 2;\n"}
    client.update_content(SCRIPT, [MANIFEST, {**CODE, "source": "let shared = 1;\n"}, other])


def test_syntax_errors_answer_invalid_argument_in_googles_json(server: EmulatorServer) -> None:
    broken = {"name": "Code", "type": "SERVER_JS", "source": "function a() {\n}\n}\n"}
    status, body = raw(
        server, "PUT", f"v1/projects/{SCRIPT}/content", WRITER, {"files": [MANIFEST, broken]}
    )
    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["message"] == (
        "Syntax error: SyntaxError: Unexpected token '}' line: 3 file: Code"
    )


def test_html_and_valid_modern_javascript_are_accepted(server: EmulatorServer) -> None:
    client = client_for(server, WRITER)
    modern = (
        "const pick = ({ a, ...rest }) => rest;\n"
        "class Box { #v = 1; get v() { return this.#v; } }\n"
        "async function f() { await null; return `t ${1 + 1}`; }\n// a comment {\n"
    )
    html = {"name": "Sidebar", "type": "HTML", "source": "<div>{ not js }</div>"}
    answer = client.update_content(SCRIPT, [MANIFEST, {**CODE, "source": modern}, html])
    assert [f["name"] for f in answer["files"]] == ["appsscript", "Code", "Sidebar"]


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "must be a JSON object"),
        ('{"timeZone": 5}', "timeZone must be a string"),
    ],
)
def test_an_invalid_manifest_is_refused(server: EmulatorServer, manifest: str, words: str) -> None:
    client = client_for(server, WRITER)
    with pytest.raises(InvalidRequestError) as refused:
        client.update_content(SCRIPT, [{**MANIFEST, "source": manifest}, CODE])
    assert refused.value.status == 400
    assert refused.value.message.startswith("Invalid manifest") and words in refused.value.message
    assert server.store.content(SCRIPT)["files"][0]["source"] == MANIFEST["source"]


def test_unknown_fields_are_refused_with_googles_wording(server: EmulatorServer) -> None:
    client = client_for(server, WRITER)
    with pytest.raises(InvalidRequestError) as in_file:
        client.update_content(SCRIPT, [{**MANIFEST, "foo": 1}, CODE])
    assert in_file.value.message == (
        "Invalid JSON payload received. Unknown name \"foo\" at 'content.files[0]': "
        "Cannot find field."
    )
    status, body = raw(
        server,
        "PUT",
        f"v1/projects/{SCRIPT}/content",
        WRITER,
        {"scriptId": SCRIPT, "files": [MANIFEST, CODE], "versions": []},
    )
    assert status == 400 and body["error"]["message"] == (
        "Invalid JSON payload received. Unknown name \"versions\" at 'content': Cannot find field."
    )
    # what getContent answers can be sent back as it is
    files = client.get_content(SCRIPT)["files"]
    assert "functionSet" in files[1] and "lastModifyUser" in files[1]
    client.update_content(SCRIPT, files)


# Sheets -----------------------------------------------------------------------------------------


def test_value_input_option_must_be_raw_or_user_entered(server: EmulatorServer) -> None:
    status, body = raw(
        server,
        "POST",
        f"v4/spreadsheets/{SHEET}/values/Sheet1!A1:append?valueInputOption=FOO",
        WRITER,
        {"values": [["x"]]},
    )
    expected = (
        "Invalid value at 'value_input_option' "
        '(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "FOO"'
    )
    assert status == 400 and body["error"]["message"] == expected
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    status, body = raw(
        server,
        "POST",
        f"v4/spreadsheets/{SHEET}/values:batchUpdate",
        WRITER,
        {"valueInputOption": "FOO", "data": [{"range": "Sheet1!A1", "values": [["x"]]}]},
    )
    assert status == 400 and body["error"]["message"] == expected
    status, _ = raw(
        server,
        "POST",
        f"v4/spreadsheets/{SHEET}/values:batchUpdate",
        WRITER,
        {"valueInputOption": "USER_ENTERED", "data": [{"range": "Sheet1!C1", "values": [["z"]]}]},
    )
    assert status == 200
    assert server.store.get_values(SHEET, "Sheet1")["values"] == [["a", "b", "z"]]


def test_ranges_past_the_grid_are_refused_with_the_grids_size(server: EmulatorServer) -> None:
    client = client_for(server, WRITER)
    assert server.store.grid(SHEET, "Sheet1") == (1000, 26)
    with pytest.raises(InvalidRequestError) as read_past:
        client.batch_get_values(SHEET, ["Sheet1!A1001:B1001"])
    assert read_past.value.message == (
        "Range ('Sheet1'!A1001:B1001) exceeds grid limits. Max rows: 1000, max columns: 26"
    )
    with pytest.raises(InvalidRequestError) as write_past:
        client.batch_update_values(SHEET, [("Sheet1!AA1", [["x"]])])
    assert "exceeds grid limits" in write_past.value.message
    with pytest.raises(InvalidRequestError) as too_many:
        client.batch_update_values(SHEET, [("Sheet1!A999", [["x"], ["y"], ["z"]])])
    assert too_many.value.message.startswith("Range ('Sheet1'!A999:A1001) exceeds grid limits")
    status, answer = raw(
        server,
        "GET",
        f"v4/spreadsheets/{SHEET}/values:batchGet?ranges=Sheet1&ranges=Sheet1!B1",
        WRITER,
    )
    assert status == 200
    assert [r["range"] for r in answer["valueRanges"]] == ["Sheet1!A1:Z1000", "Sheet1!B1"]


def test_append_with_insert_rows_grows_the_grid(server: EmulatorServer) -> None:
    client = client_for(server, WRITER)
    server.store.set_grid(SHEET, "Sheet1", 2, 26)
    client.append_values(SHEET, "Sheet1!A1", [["r2"], ["r3"], ["r4"]])
    assert server.store.grid(SHEET, "Sheet1") == (5, 26)
    assert client.batch_get_values(SHEET, ["Sheet1!A4"]) == [[["r4"]]]
    with pytest.raises(InvalidRequestError):
        client.append_values(SHEET, "Sheet1!A1", [["x"] * 27])  # rows grow, columns do not


def test_batch_update_writes_all_entries_or_none(server: EmulatorServer) -> None:
    client = client_for(server, WRITER)
    for bad in ("Missing!A1", "Sheet1!A1001", "Sheet1!!"):
        with pytest.raises(InvalidRequestError):
            client.batch_update_values(SHEET, [("Sheet1!A1", [["changed"]]), (bad, [["x"]])])
        assert server.store.get_values(SHEET, "Sheet1")["values"] == [["a", "b"]]
    with pytest.raises(InvalidRequestError) as wider:
        client.batch_update_values(SHEET, [("Sheet1!A1:A2", [["1", "2"]])])
    assert wider.value.message == (
        "Requested writing within range [Sheet1!A1:A2], but tried writing to column [B]"
    )
    client.batch_update_values(SHEET, [("Sheet1!D5", [["1", "2"], ["3", "4"]])])  # an anchor
    assert server.store.get_values(SHEET, "Sheet1!D5:E6")["values"] == [["1", "2"], ["3", "4"]]
    client.batch_update_values(SHEET, [("Sheet1!D5:E6", [["", ""], ["", ""]])])
    answer = client.batch_update_values(
        SHEET, [("Sheet1!A1", [["changed"]]), ("Sheet1!B2:C2", [["d", "e"]])]
    )
    assert answer["totalUpdatedCells"] == 3
    assert server.store.get_values(SHEET, "Sheet1")["values"] == [["changed", "b"], ["", "d", "e"]]


def test_a_store_from_before_grids_gets_one_fitted_to_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE tabs (spreadsheet_id TEXT NOT NULL, tab TEXT NOT NULL, "
        "position INTEGER NOT NULL, rows_json TEXT NOT NULL, PRIMARY KEY (spreadsheet_id, tab));"
        "CREATE TABLE drive_files (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "mime_type TEXT NOT NULL, created_time TEXT NOT NULL, modified_time TEXT NOT NULL);"
    )
    long_tab = json.dumps([["row"]] * 1200)
    wide_tab = json.dumps([["c"] * 30])
    db.executemany(
        "INSERT INTO tabs VALUES (?, ?, ?, ?)",
        [(SHEET, "Long", 0, long_tab), (SHEET, "Wide", 1, wide_tab), (SHEET, "Small", 2, "[]")],
    )
    db.execute("INSERT INTO drive_files VALUES (?, 'x', 'sheet', 't', 't')", (SHEET,))
    db.commit()
    db.close()
    store = EmulatorStore(path)
    try:
        assert store.grid(SHEET, "Long") == (1200, 26)
        assert store.grid(SHEET, "Wide") == (1000, 30)
        assert store.grid(SHEET, "Small") == (1000, 26)
        assert len(store.get_values(SHEET, "Long")["values"]) == 1200
        assert store.can(SHEET, OUTSIDER, "write")
    finally:
        store.close()
    EmulatorStore(path).close()  # opening again migrates nothing twice


# quotas and tokens ------------------------------------------------------------------------------


def test_each_api_has_its_own_quota_window(tmp_path: Path) -> None:
    settings = EmulatorSettings(quota_per_minute=2)
    with EmulatorServer(tmp_path / "q.sqlite3", settings) as server:
        server.store.create_project(SCRIPT, "t", SHEET, [MANIFEST, CODE], WRITER)
        server.store.create_spreadsheet(SHEET, "s", {"Sheet1": [["a"]]}, owner=WRITER)
        client = client_for(server, WRITER, ONE_ATTEMPT)
        for _ in range(2):
            client.get_project(SCRIPT)
            client.get_drive_file(SHEET)
            client.batch_get_values(SHEET, ["Sheet1"])
            client.batch_update_values(SHEET, [("Sheet1!B1", [["b"]])])
        for call in (
            lambda: client.get_content(SCRIPT),
            lambda: client.get_drive_file(SCRIPT),
            lambda: client.batch_get_values(SHEET, ["Sheet1"]),
            lambda: client.append_values(SHEET, "Sheet1!A1", [["x"]]),
        ):
            with pytest.raises(RateLimitedError) as caught:
                call()
            assert caught.value.status == 429
        counts = server.gate.counts
        assert counts["429-quota"] == 4 and counts["calls"] == 12
        assert [counts[f"api:{api}"] for api in ("script", "drive", "sheets-read")] == [3, 3, 3]
        assert counts["api:sheets-write"] == 3 and counts["values_update"] == 2
        # another user has windows of their own
        server.store.share(SCRIPT, OWNER, "reader")
        client_for(server, OWNER, ONE_ATTEMPT).get_project(SCRIPT)


def test_a_tampered_script_is_stored_altered_once(tmp_path: Path) -> None:
    settings = EmulatorSettings(tampered_scripts=(SCRIPT,))
    with EmulatorServer(tmp_path / "t.sqlite3", settings) as server:
        server.store.create_project(SCRIPT, "t", None, [MANIFEST, CODE], WRITER)
        client = client_for(server, WRITER)
        sent = [MANIFEST, {**CODE, "source": "function deployed() {}\n"}]
        client.update_content(SCRIPT, sent)
        stored = client.get_content(SCRIPT)["files"][1]["source"]
        assert stored != sent[1]["source"] and stored.startswith(sent[1]["source"])
        client.update_content(SCRIPT, [MANIFEST, CODE])  # the next write lands as sent
        assert client.get_content(SCRIPT)["files"][1]["source"] == CODE["source"]
        assert server.gate.counts["tampered"] == 1


def test_the_token_endpoint_answers_oauth_errors_in_oauths_format(
    server: EmulatorServer,
) -> None:
    def post(form: str) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(server.token_uri, data=form.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("grant_type=refresh_token&refresh_token=revoked") == (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    status, body = post("grant_type=password&username=x")
    assert status == 400 and body["error"] == "unsupported_grant_type"
    assert set(body) == {"error", "error_description"}
    token = server.store.issue_refresh_token(WRITER)
    status, body = post(f"grant_type=refresh_token&refresh_token={token}")
    assert status == 200 and body["token_type"] == "Bearer"


def test_google_auth_and_the_client_name_invalid_grant(server: EmulatorServer) -> None:
    import google.auth.exceptions
    import google.auth.transport.requests
    from google.oauth2.credentials import Credentials

    from services.google_client import AuthError

    def revoked() -> Credentials:
        return Credentials(
            token=None,
            refresh_token="1//revoked",
            token_uri=server.token_uri,
            client_id="sheetstage-emulator",
            client_secret="emulator",
        )

    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        revoked().refresh(google.auth.transport.requests.Request())
    client = GoogleClient(revoked(), FAST, Endpoints(server.endpoint))
    with pytest.raises(AuthError) as caught:
        client.authenticate()
    assert "invalid_grant" in str(caught.value)
    assert "Token has been expired or revoked" in str(caught.value)
    assert "\n" not in str(caught.value)


# the demo seed ----------------------------------------------------------------------------------


def test_demo_seed_records_both_heads_and_the_production_files_before_the_edits(
    tmp_path: Path,
) -> None:
    store = EmulatorStore(tmp_path / "seed.sqlite3")
    try:
        seed = seed_demo(store)
        mapper = IdMapper(seed.sheets)
        assert set(seed.heads) == {s.number for s in seed.sheets}
        assert set(seed.baseline_files) == set(PROD_MODIFIED) | set(DIVERGED)
        for sheet in seed.sheets[:40] + [seed.sheets[n] for n in (*PROD_MODIFIED, *DIVERGED)]:
            n = sheet.number
            stored = {}
            for env in Environment:
                files = [
                    ScriptFile(f["name"], FileType(f["type"]), f["source"])
                    for f in store.content(sheet.script_id(env))["files"]
                ]
                stored[env] = project_hash(files, env, mapper)
            assert seed.heads[n] == (stored[Environment.STAGING], stored[Environment.PRODUCTION])
            if n in seed.baseline_files:
                assert content_hash(seed.baseline_files[n]) == seed.baselines[n]
                assert seed.heads[n][1] != seed.baselines[n]
            else:
                assert seed.heads[n][1] == seed.baselines[n]
        in_sync = [n for n, state in seed.expected.items() if state.value == "in-sync"]
        assert in_sync and all(seed.heads[n][0] == seed.heads[n][1] for n in in_sync)
    finally:
        store.close()


# Drive batch requests -------------------------------------------------------------------------


def test_a_drive_batch_answers_each_call_as_if_alone_and_counts_each(
    server: EmulatorServer,
) -> None:
    """Through google-api-python-client's own BatchHttpRequest (GoogleClient's batch calls)."""
    missing = "1" + "m" * 43
    writer = client_for(server, WRITER)
    alone = writer.list_permissions(SHEET)
    before = server.gate.counts["api:drive"]
    listed = writer.list_permissions_of([SHEET, SCRIPT, OPEN_SHEET, missing])
    assert listed[0] == alone and [p["role"] for p in alone] == ["owner", "writer", "reader"]
    assert [p.get("emailAddress") for p in listed[1]] == [OWNER, WRITER, READER]  # type: ignore[union-attr]
    assert listed[2] == []  # nobody shared it
    assert isinstance(listed[3], NotFoundError)
    assert listed[3].what == f"permissions.list {missing}" and listed[3].status == 404
    refused = client_for(server, READER).list_permissions_of([SHEET])[0]
    assert isinstance(refused, PermissionDeniedError)
    assert refused.reason == "insufficientFilePermissions"
    files = writer.get_drive_files([SHEET, missing], "id,mimeType")
    assert files[0] == {"id": SHEET, "mimeType": "application/vnd.google-apps.spreadsheet"}
    assert isinstance(files[1], NotFoundError) and files[1].message == f"File not found: {missing}."
    assert server.gate.counts["api:drive"] - before == 4 + 1 + 2  # each call, not each batch
    log = server.store.request_log()
    batches = [r for r in log if r["path"] == "/batch/drive/v3"]
    assert [(r["method"], r["status"], r["user"]) for r in batches] == [
        ("POST", 200, WRITER),
        ("POST", 200, READER),
        ("POST", 200, WRITER),
    ]
    calls = [(r["path"], r["status"]) for r in log if r["path"].endswith("/permissions")]
    assert calls[-5:] == [
        (f"/drive/v3/files/{SHEET}/permissions", 200),
        (f"/drive/v3/files/{SCRIPT}/permissions", 200),
        (f"/drive/v3/files/{OPEN_SHEET}/permissions", 200),
        (f"/drive/v3/files/{missing}/permissions", 404),
        (f"/drive/v3/files/{SHEET}/permissions", 403),
    ]


def test_each_call_of_a_drive_batch_counts_against_the_quota(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "q.sqlite3", EmulatorSettings(quota_per_minute=3)) as server:
        server.store.create_spreadsheet(SHEET, "s", {"Sheet1": [["a"]]}, owner=WRITER)
        client = client_for(server, WRITER, ONE_ATTEMPT)
        found = client.get_drive_files([SHEET] * 5, "id")
        assert found[:3] == [{"id": SHEET}] * 3
        assert all(isinstance(f, RateLimitedError) and f.status == 429 for f in found[3:])
        assert server.gate.counts["api:drive"] == 5 and server.gate.counts["429-quota"] == 2
        use = client.usage()["drive"]
        assert (use.calls, use.rate_limited) == (5, 2)


def batch_post(server: EmulatorServer, body: bytes, content_type: str) -> tuple[int, str, bytes]:
    token = client_for(server, WRITER).credentials.token
    request = urllib.request.Request(
        server.endpoint + "batch/drive/v3",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_a_drive_batch_written_as_googles_documentation_shows_is_answered_in_its_format(
    server: EmulatorServer,
) -> None:
    """CRLF line ends, Content-IDs, a call of another API refused on its own, the batch's
    answer multipart/mixed with each part's Content-ID prefixed `response-`."""
    parts = [
        ("item1", f"GET /drive/v3/files/{SHEET}?fields=id,name"),
        ("item2", "GET /drive/v3/files/nosuchfile"),
        ("item3", f"GET /v4/spreadsheets/{SHEET}"),
    ]
    body = "".join(
        f"--batch_foo\r\nContent-Type: application/http\r\nContent-ID: <{cid}>\r\n\r\n"
        f"{line} HTTP/1.1\r\n\r\n\r\n"
        for cid, line in parts
    )
    status, kind, answer = batch_post(server, (body + "--batch_foo--\r\n").encode(), MIXED)
    assert status == 200 and kind.startswith("multipart/mixed; boundary=")
    boundary = kind.split("boundary=")[1]
    assert answer.endswith(f"--{boundary}--\r\n".encode())
    chunks = answer.decode().split(f"--{boundary}")[1:-1]
    answers = []
    for chunk in chunks:
        head, _, inner = chunk.strip("\r\n").partition("\r\n\r\n")
        status_line, _, rest = inner.partition("\r\n")
        inner_head, _, data = rest.partition("\r\n\r\n")
        assert "Content-Type: application/http" in head.splitlines()
        assert "Content-Type: application/json; charset=UTF-8" in inner_head.splitlines()
        assert f"Content-Length: {len(data.encode())}" in inner_head.splitlines()
        answers.append((head.splitlines()[-1], status_line, json.loads(data)))
    assert answers[0] == (
        "Content-ID: <response-item1>",
        "HTTP/1.1 200 OK",
        {"id": SHEET, "name": "Front desk"},
    )
    assert answers[1][:2] == ("Content-ID: <response-item2>", "HTTP/1.1 404 Not Found")
    assert answers[1][2]["error"]["status"] == "NOT_FOUND"
    assert answers[2][:2] == ("Content-ID: <response-item3>", "HTTP/1.1 400 Bad Request")
    assert "Drive v3 calls only" in answers[2][2]["error"]["message"]


MIXED = "multipart/mixed; boundary=batch_foo"


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (
            "".join(
                f"--batch_foo\r\nContent-Type: application/http\r\n\r\nGET /drive/v3/files/{i}"
                " HTTP/1.1\r\n\r\n\r\n"
                for i in range(101)
            )
            + "--batch_foo--\r\n",
            MIXED,
            "at most 100 calls; this one holds 101",
        ),
        ("{}", "application/json", "must be multipart/mixed"),
        ("--batch_foo\r\nContent-Type: application/http\r\n\r\nGET /x", MIXED, "closing boundary"),
        ("--batch_foo\r\nContent-Type: text/plain\r\n\r\nhi\r\n--batch_foo--", MIXED, "text/plain"),
    ],
)
def test_a_drive_batch_google_would_refuse_is_400_and_no_call_is_made(
    server: EmulatorServer, body: str, content_type: str, words: str
) -> None:
    before = server.gate.counts["calls"]
    status, kind, answer = batch_post(server, body.encode(), content_type)
    assert status == 400 and kind.startswith("application/json")
    error = json.loads(answer)["error"]
    assert error["status"] == "INVALID_ARGUMENT" and words in error["message"]
    assert server.gate.counts["calls"] == before
