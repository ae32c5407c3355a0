"""Our retry policy and credentials handling, against the emulator over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.config import ClientConfig
from services.emulator.server import EmulatorServer, EmulatorSettings
from services.google_client import (
    AuthError,
    Endpoints,
    GoogleClient,
    Pacer,
    ServerError,
    load_user_credentials,
)
from services.session import emulator_credentials

USER = "developer@practice.example"
SCRIPT = "1" + "s" * 56
LOG = "1" + "l" * 43
MANIFEST = {"name": "appsscript", "type": "JSON", "source": "{}"}
FAST = ClientConfig(
    concurrency=8, backoff_initial_s=0.005, backoff_cap_s=0.02, retry_after_cap_s=0.05
)


def start(tmp_path: Path, **settings: float) -> EmulatorServer:
    server = EmulatorServer(tmp_path / "e.sqlite3", EmulatorSettings(seed=7, **settings)).start()
    server.store.create_project(SCRIPT, "t", None, [MANIFEST], USER)
    server.store.create_spreadsheet(LOG, "Log", {"Snapshots": [["Event ID"]]})
    return server


@contextlib.contextmanager
def connected(tmp_path: Path, **settings: float) -> Iterator[tuple[EmulatorServer, GoogleClient]]:
    """An emulator with one project and one spreadsheet, and a client signed in to it."""
    server = start(tmp_path, **settings)
    try:
        client = GoogleClient(emulator_credentials(server, USER), FAST, Endpoints(server.endpoint))
        client.authenticate()
        yield server, client
    finally:
        server.stop()


def test_ten_percent_faults_are_retried_until_every_call_succeeds(tmp_path: Path) -> None:
    with connected(tmp_path, fault_rate=0.10) as (server, client):
        for _ in range(150):
            assert client.get_project(SCRIPT)["scriptId"] == SCRIPT
        faults = sum(v for k, v in server.gate.counts.items() if k.endswith("-fault"))
        assert faults > 0


def test_reads_give_up_after_max_attempts_and_append_is_never_retried_blindly(
    tmp_path: Path,
) -> None:
    with connected(tmp_path, fault_rate=1.0) as (server, client):
        before = server.gate.counts["calls"]
        with pytest.raises(Exception) as read_error:
            client.get_project(SCRIPT)
        assert server.gate.counts["calls"] - before == 6
        assert read_error.value.attempts == 6  # type: ignore[attr-defined]

        before = server.gate.counts["calls"]
        with pytest.raises(Exception) as append_error:
            client.append_values(LOG, "Snapshots!A1", [[1]])
        assert server.gate.counts["calls"] - before == 1
        assert append_error.value.attempts == 1  # type: ignore[attr-defined]


def test_faulty_calls_in_a_drive_batch_go_again_in_the_next_until_each_succeeds(
    tmp_path: Path,
) -> None:
    with connected(tmp_path, fault_rate=0.10) as (server, client):
        listed = client.list_permissions_of([SCRIPT] * 150)  # two batches: 100 and 50
        assert listed == [client.list_permissions(SCRIPT)] * 150
        faults = sum(v for k, v in server.gate.counts.items() if k.endswith("-fault"))
        assert faults > 0
        assert client.usage()["drive"].calls == server.gate.counts["api:drive"] > 151
        assert len([r for r in server.store.request_log() if r["path"] == "/batch/drive/v3"]) > 2


def test_a_drive_batch_call_that_always_fails_gives_up_after_max_attempts(
    tmp_path: Path,
) -> None:
    with connected(tmp_path, fault_rate=1.0) as (server, client):
        found = client.get_drive_files([SCRIPT, LOG])
        assert all(f.attempts == 6 for f in found)  # type: ignore[union-attr]
        assert [f.what for f in found] == [f"files.get {SCRIPT}", f"files.get {LOG}"]  # type: ignore[union-attr]
        assert server.gate.counts["api:drive"] == 12  # each call, each attempt


def test_always_failing_script_is_a_server_error_naming_the_call(tmp_path: Path) -> None:
    with connected(tmp_path) as (server, client):
        server.settings.failing_scripts = (SCRIPT,)
        with pytest.raises(ServerError) as caught:
            client.get_content(SCRIPT)
        assert caught.value.describe().startswith(f"projects.getContent {SCRIPT}: HTTP 500")


def write_token(path: Path, server: EmulatorServer, mode: int) -> None:
    credentials = emulator_credentials(server, USER)
    path.write_text(credentials.to_json())
    os.chmod(path, mode)


def test_google_backend_token_file_is_used_and_refreshed_through_api_endpoint(
    tmp_path: Path,
) -> None:
    server = start(tmp_path)
    try:
        token_file = tmp_path / "token.json"
        write_token(token_file, server, 0o600)
        client = GoogleClient(
            load_user_credentials(token_file, server.token_uri), FAST, Endpoints(server.endpoint)
        )
        client.authenticate()
        assert client.get_project(SCRIPT)["scriptId"] == SCRIPT
    finally:
        server.stop()


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        token_file = tmp_path / "token.json"
        write_token(token_file, server, 0o644)
        with pytest.raises(AuthError, match="chmod 600"):
            load_user_credentials(token_file)
    finally:
        server.stop()


def test_missing_or_broken_token_files_say_run_login(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="run `sheetstage login`"):
        load_user_credentials(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"token": "x"}))
    broken.chmod(0o600)
    with pytest.raises(AuthError, match="run `sheetstage login`"):
        load_user_credentials(broken)


def test_a_revoked_refresh_token_is_a_credentials_error(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        token_file = tmp_path / "token.json"
        data = json.loads(emulator_credentials(server, USER).to_json())
        data["refresh_token"] = "revoked"
        token_file.write_text(json.dumps(data))
        token_file.chmod(0o600)
        client = GoogleClient(
            load_user_credentials(token_file, server.token_uri), FAST, Endpoints(server.endpoint)
        )
        with pytest.raises(AuthError, match="refused the stored credentials"):
            client.authenticate()
    finally:
        server.stop()


def test_retry_delay_honours_retry_after_up_to_its_cap_and_caps_backoff_at_32_s() -> None:
    from services.google_client import retry_delay

    settings = ClientConfig()
    assert retry_delay(settings, 1, 7.0) == 7.0
    assert retry_delay(settings, 1, 500.0) == 120.0
    first = [retry_delay(settings, 1, None) for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in first) and len(set(first)) > 1  # jittered
    assert all(16.0 <= retry_delay(settings, 6, None) <= 32.0 for _ in range(50))
    assert all(retry_delay(settings, 12, None) <= 32.0 for _ in range(50))


class FakeTime:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_lets_a_burst_up_to_the_quota_go_at_once_and_the_next_call_waits() -> None:
    fake = FakeTime()
    pacer = Pacer(60, fake.clock, fake.sleep)
    for _ in range(60):  # an activity log's few appends after a run: never spaced out
        pacer.wait()
    assert fake.slept == []
    pacer.wait()
    assert fake.now == pytest.approx(1000.0 + Pacer.WINDOW_S)


def test_a_long_paced_run_never_exceeds_the_quota_in_any_minute_and_stays_near_the_floor() -> None:
    fake, quota, calls = FakeTime(), 60, 1000
    pacer = Pacer(quota, fake.clock, fake.sleep)
    starts = []
    for _ in range(calls):
        pacer.wait()
        starts.append(fake.now)
        fake.now += 0.05  # each call takes a moment to send
    in_any_minute = max(
        sum(1 for other in starts if start <= other < start + 60) for start in starts
    )
    assert in_any_minute <= quota  # as the server counts: no 429
    floor = calls / quota * 60
    assert starts[-1] - starts[0] <= 1.2 * floor
