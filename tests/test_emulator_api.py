"""The emulator answers what google-api-python-client sends, with Google's JSON shapes and
error format, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.config import ClientConfig
from services.emulator.server import EmulatorServer, EmulatorSettings
from services.emulator.store import InvalidArgument
from services.google_client import (
    ApiNotEnabledError,
    Endpoints,
    GoogleClient,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
)
from services.session import emulator_credentials

USER = "developer@practice.example"
FAST = ClientConfig(
    concurrency=8, backoff_initial_s=0.01, backoff_cap_s=0.02, retry_after_cap_s=0.05
)
MANIFEST = {"name": "appsscript", "type": "JSON", "source": '{"timeZone": "America/Chicago"}'}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path / "emulator.sqlite3") as running:
        store = running.store
        store.add_user(USER, "Staging Developer")
        store.create_project(
            "1" + "s" * 56,
            "Front desk script",
            "1" + "p" * 43,
            [MANIFEST, {"name": "Code", "type": "SERVER_JS", "source": "function onOpen() {}\n"}],
            "someone.else@practice.example",
        )
        store.share("1" + "s" * 56, USER, "writer")  # the owner lets the developer edit
        store.create_spreadsheet("1" + "p" * 43, "Front desk", {"Sheet1": [["a"]]})
        store.create_spreadsheet("1" + "l" * 43, "Log", {"Snapshots": [["Event ID", "Detail"]]})
        yield running


def client_for(
    server: EmulatorServer, settings: ClientConfig = FAST, **kwargs: int
) -> GoogleClient:
    client = GoogleClient(
        emulator_credentials(server, USER), settings, Endpoints(server.endpoint), **kwargs
    )
    client.authenticate()
    return client


SCRIPT = "1" + "s" * 56


def test_projects_get_and_get_content_have_googles_fields(server: EmulatorServer) -> None:
    client = client_for(server)
    project = client.get_project(SCRIPT)
    assert project["scriptId"] == SCRIPT and project["parentId"] == "1" + "p" * 43
    assert project["updateTime"].endswith("Z") and "T" in project["updateTime"]
    assert project["lastModifyUser"]["email"] == "someone.else@practice.example"
    content = client.get_content(SCRIPT)
    code = content["files"][1]
    assert code["name"] == "Code" and code["type"] == "SERVER_JS"
    assert code["functionSet"] == {"values": [{"name": "onOpen"}]}
    assert code["lastModifyUser"]["email"] == "someone.else@practice.example"


def test_update_content_replaces_all_files_and_records_the_calling_user(
    server: EmulatorServer,
) -> None:
    client = client_for(server)
    before = client.get_project(SCRIPT)["updateTime"]
    answer = client.update_content(
        SCRIPT, [MANIFEST, {"name": "Main", "type": "SERVER_JS", "source": "x"}]
    )
    assert [f["name"] for f in answer["files"]] == ["appsscript", "Main"]
    project = client.get_project(SCRIPT)
    assert project["updateTime"] > before
    assert project["lastModifyUser"]["email"] == USER


def test_update_content_without_the_manifest_is_invalid_argument(server: EmulatorServer) -> None:
    client = client_for(server)
    with pytest.raises(InvalidRequestError) as caught:
        client.update_content(SCRIPT, [{"name": "Code", "type": "SERVER_JS", "source": ""}])
    assert caught.value.status == 400 and "manifest" in caught.value.message


def test_errors_use_googles_json_shape(server: EmulatorServer) -> None:
    request = urllib.request.Request(f"{server.endpoint}v1/projects/{SCRIPT}")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(caught.value.read())
    assert caught.value.code == 401
    assert body["error"]["code"] == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["errors"][0]["domain"] == "global"

    client = client_for(server)
    with pytest.raises(NotFoundError) as not_found:
        client.get_project("1" + "x" * 56)
    assert not_found.value.status == 404 and not_found.value.attempts == 1


def test_an_expired_access_token_is_refreshed_at_the_emulators_token_uri(
    server: EmulatorServer,
) -> None:
    client = client_for(server)
    first = client.credentials.token
    server.store.expire_access_tokens()
    assert client.get_project(SCRIPT)["scriptId"] == SCRIPT
    assert client.credentials.token != first


def test_a_disabled_apps_script_api_says_what_to_switch_on_and_is_not_retried(
    server: EmulatorServer,
) -> None:
    server.store.set_api_enabled(USER, False)
    client = client_for(server)
    calls_before = server.gate.counts["calls"]
    with pytest.raises(ApiNotEnabledError) as caught:
        client.get_project(SCRIPT)
    assert caught.value.attempts == 1
    assert "https://script.google.com/home/usersettings" in caught.value.describe()
    assert "Apps Script API is switched off" in caught.value.describe()
    assert server.gate.counts["calls"] == calls_before  # refused before the gate: no retry


def test_quota_answers_429_resource_exhausted_with_retry_after(tmp_path: Path) -> None:
    settings = EmulatorSettings(quota_per_minute=3)
    with EmulatorServer(tmp_path / "q.sqlite3", settings) as server:
        server.store.create_project(SCRIPT, "t", None, [MANIFEST], USER)
        client = client_for(server, ClientConfig(max_attempts=1))
        for _ in range(3):
            client.get_project(SCRIPT)
        with pytest.raises(RateLimitedError) as caught:
            client.get_project(SCRIPT)
        assert caught.value.status == 429 and caught.value.reason == "rateLimitExceeded"
        token = client.credentials.token
        request = urllib.request.Request(
            f"{server.endpoint}v1/projects/{SCRIPT}", headers={"Authorization": f"Bearer {token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as raw:
            urllib.request.urlopen(request, timeout=5)
        assert raw.value.code == 429 and int(raw.value.headers["Retry-After"]) >= 1
        assert json.loads(raw.value.read())["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_a_paced_client_stays_under_the_quota_without_bouncing(tmp_path: Path) -> None:
    settings = EmulatorSettings(quota_per_minute=600)
    with EmulatorServer(tmp_path / "p.sqlite3", settings) as server:
        server.store.create_project(SCRIPT, "t", None, [MANIFEST], USER)
        client = client_for(server, FAST, script_requests_per_minute=600)
        for _ in range(20):
            client.get_project(SCRIPT)
        assert server.gate.counts["429-quota"] == 0


def test_sheets_values_batch_get_append_and_batch_update(server: EmulatorServer) -> None:
    client = client_for(server)
    log = "1" + "l" * 43
    answer = client.append_values(log, "'Snapshots'!A1", [[1, "first"], [2, "second"]])
    assert answer["updates"]["updatedRange"] == "Snapshots!A2:B3"
    assert answer["updates"]["updatedRows"] == 2
    client.batch_update_values(log, [("Snapshots!B3", [["changed"]])])
    ids, whole = client.batch_get_values(log, ["Snapshots!A:A", "Snapshots"])
    assert ids == [["Event ID"], ["1"], ["2"]]
    assert whole[2] == ["2", "changed"]
    meta = client.get_drive_file("1" + "p" * 43)
    assert meta == {
        "id": "1" + "p" * 43,
        "name": "Front desk",
        "mimeType": "application/vnd.google-apps.spreadsheet",
    }


def test_drive_folders_parents_and_anyone_with_the_link_have_googles_shape(
    server: EmulatorServer,
) -> None:
    sheet, folder = "1" + "p" * 43, "1" + "f" * 43
    store = server.store
    store.create_folder(folder, "Production sheets", owner=USER)
    store.move(sheet, [folder])
    with pytest.raises(InvalidArgument):
        store.move(sheet, [SCRIPT])  # a parent is a folder
    client = client_for(server)
    assert client.get_drive_file(sheet, "id,parents") == {"id": sheet, "parents": [folder]}
    assert client.get_drive_file(folder)["mimeType"] == "application/vnd.google-apps.folder"
    assert "parents" not in client.get_drive_file(SCRIPT)  # a bound script is in no folder

    store.share(sheet, USER, "writer")
    store.share(sheet, "", "reader", type="anyone")
    with pytest.raises(InvalidArgument):
        store.share(sheet, "someone@elsewhere.example", "reader", type="anyone")
    user, anyone = client.list_permissions(sheet)
    assert user["type"] == "user" and user["emailAddress"] == USER and user["role"] == "writer"
    assert anyone == {
        "id": "anyoneWithLink",
        "type": "anyone",
        "role": "reader",
        "allowFileDiscovery": False,
    }
    assert store.can(sheet, "someone@elsewhere.example", "read")  # anyone with the link reads
    assert not store.can(sheet, "someone@elsewhere.example", "write")
    store.unshare(sheet, "", "anyone")
    assert [p["type"] for p in client.list_permissions(sheet)] == ["user"]
