"""`health`: every check of the design measured on the demo (emulator over HTTP, real git),
each planted or injected problem found and named with its fix."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from services.config import ClientConfig
from services.emulator.seed import (
    OUTSIDER,
    SHARED_OUTSIDE,
    SHARED_WITH_LINK,
    demo_sheets,
)
from services.emulator.server import EmulatorServer, EmulatorSettings
from services.google_client import (
    Endpoints,
    GoogleClient,
    RateLimitedError,
    usage_from_record,
    usage_record,
)
from services.health import CHECKS, HealthReport, run_health
from services.session import Backend, Session, emulator_credentials, session
from services.workspace import create_backup_remote, current_user
from tests.conftest import FAST_CLIENT_SETTINGS, Demo

NAMES = [sheet.name for sheet in demo_sheets()]


def opened(demo: Demo) -> Iterator[Session]:
    return session(demo.config)


def last_batch_time(demo: Demo) -> datetime:
    entries = [
        e
        for e in demo.trail(current_user())
        if e["action"] == "snapshot" and e["hashes"].get("run") == "batch"
    ]
    return datetime.fromisoformat(entries[-1]["time"].replace("Z", "+00:00"))


def problems(report: HealthReport) -> list[tuple[str, str, str]]:
    return [(c.name, c.detail, c.fix) for c in report.checks if not c.ok]


def test_the_demo_has_exactly_its_two_planted_sharing_problems_each_with_its_fix(
    snapshotted: Demo,
) -> None:
    # the last --batch is exactly the longest gap of [schedule] (17 h) plus an hour old: still ok
    now = last_batch_time(snapshotted) + timedelta(hours=18)
    with opened(snapshotted) as s:
        report = run_health(s, now)

    assert report.exit_code == 1 and not report.ok
    assert {c.name for c in report.checks} == set(CHECKS)
    outside, with_link = problems(report)
    assert outside[0] == with_link[0] == "drive sharing"
    assert outside[1] == (
        f"sheet {SHARED_OUTSIDE:03d} DEV3 spreadsheet: shared with {OUTSIDER} (writer), "
        "outside the dev team"
    )
    assert outside[2].startswith(
        f"in Drive, remove {OUTSIDER} from sheet {SHARED_OUTSIDE:03d}'s DEV3 spreadsheet"
    )
    assert with_link[1] == (
        f"sheet {SHARED_WITH_LINK:03d} production spreadsheet: anyone with the link can read it"
    )
    assert with_link[2].startswith(
        f"in Drive, set General access of sheet {SHARED_WITH_LINK:03d}'s production spreadsheet "
        "to Restricted"
    )
    checks = {c.name: c for c in report.checks if c.ok}
    assert checks["registry"].detail.startswith("235 sheets: 470 scripts bound")
    assert checks["drive folders"].detail.startswith(
        "235 production spreadsheets in 1 folder, 235 DEV3 spreadsheets in 1 other folder"
    )
    assert checks["state"].detail.startswith("468 projects on disk match state.json's hashes")
    assert checks["quota"].detail.startswith("the last --batch (")
    assert "Apps Script 470 calls" in checks["quota"].detail  # getContent alone, first run
    assert "0 429 answers" in checks["quota"].detail
    assert checks["last batch"].detail.startswith("last successful --batch ")
    assert ", 18 h ago; allowed: 18 h" in checks["last batch"].detail
    assert checks["remote"].detail.startswith("no [git] remote configured")

    # Drive was asked over HTTP about every DEV3 and production spreadsheet and script, in
    # batches of 100 calls: 10 for the 940 permission lists, 5 for the 470 spreadsheets' folders
    store = snapshotted.store()
    try:
        listed = [r for r in store.request_log("/permissions") if r["method"] == "GET"]
        batches = store.request_log("/batch/drive/v3")
    finally:
        store.close()
    assert len(listed) == 940 and {r["status"] for r in listed} == {200}
    assert len(batches) == 15 and {r["status"] for r in batches} == {200}

    lines = report.lines()
    text = "\n".join(lines)
    assert lines[-1] == "2 problems in 11 checks (drive sharing 2), each with its fix (exit 1)"
    fixes = [i for i, line in enumerate(lines) if line.lstrip().startswith("fix: ")]
    assert len(fixes) == 2
    for index in fixes:  # under its check, in the detail's column
        assert lines[index - 1].startswith("✗ PROBLEM  drive sharing  ")
        assert lines[index].index("fix: ") == lines[index - 1].index("sheet ")
    assert not any(name in text for name in NAMES)  # files by number and environment only

    document = json.loads(json.dumps(report.as_json()))
    assert document["ok"] is False and document["exit_code"] == 1 and document["problems"] == 2
    assert [c["name"] for c in document["checks"]] == [c.name for c in report.checks]
    assert all(set(c) == {"name", "ok", "detail", "fix"} for c in document["checks"])


def test_a_broken_chain_a_stale_batch_and_a_remote_behind_are_each_found_with_their_fix(
    snapshotted: Demo, tmp_path: Path
) -> None:
    workspace = snapshotted.workspace
    backup = tmp_path / "backup.git"
    create_backup_remote(str(backup))
    workspace.push(str(backup))
    workspace.repo.git.commit("--allow-empty", "-m", "a commit never pushed")
    with snapshotted.config_path.open("a") as config:
        config.write(f'\n[git]\nremote = "{backup}"\n')
    trail = snapshotted.trail_path("dana")
    lines = trail.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("seed 0", "seed 1")  # an edited line of a committed trail
    trail.write_text("".join(lines))
    now = last_batch_time(snapshotted) + timedelta(hours=18, seconds=1)

    with opened(snapshotted) as s:
        report = run_health(s, now)

    found = {name: (detail, fix) for name, detail, fix in problems(report)}
    assert set(found) == {"audit trail", "last batch", "remote", "drive sharing"}
    detail, fix = found["audit trail"]
    assert detail.startswith("audit/dana.jsonl: BROKEN at line 1")
    assert fix.startswith("`sheetstage audit verify` names each break; restore the file")
    detail, fix = found["last batch"]
    assert ", 18 h ago, too long ago (allowed: 18 h, the longest gap of [schedule]" in detail
    assert fix.startswith("run `sheetstage --batch` now, and check the scheduler")
    detail, fix = found["remote"]
    assert detail.endswith("the backup lacks the workspace's last 1 commit")
    assert fix.startswith("`sheetstage snapshot` pushes what the backup lacks")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once it is closed


def test_an_unreachable_api_is_named_and_the_checks_that_need_it_say_they_did_not_run(
    snapshotted: Demo, closed_port: int
) -> None:
    settings = dataclasses.replace(FAST_CLIENT_SETTINGS, max_attempts=6)
    client = GoogleClient(
        Credentials(token="a-valid-access-token"),  # no expiry: never refreshed
        settings,
        Endpoints(f"http://127.0.0.1:{closed_port}/"),
    )
    with opened(snapshotted) as s:
        report = run_health(dataclasses.replace(s, _backend=Backend(client)))

    found = {name: (detail, fix) for name, detail, fix in problems(report)}
    assert set(found) == {"api", "registry", "drive sharing", "drive folders"}
    detail, fix = found["api"]
    assert detail.startswith("Apps Script, Drive, Sheets failed; Apps Script: projects.get ")
    assert "HTTP 0 transport" in detail and "after" not in detail  # one attempt, no retries
    assert fix.startswith("check the network, any proxy and ")
    for name in ("registry", "drive sharing", "drive folders"):
        assert found[name][0].startswith("not checked: the ")
    assert {c.name for c in report.checks if c.ok} >= {"git", "audit trail", "state", "remote"}
    assert client.usage()["script"].calls == 1  # the probe, nothing after it


def test_the_client_counts_calls_their_peak_and_429s_per_quota_as_the_trail_records_them(
    tmp_path: Path,
) -> None:
    sheet = "1" + "p" * 43
    with EmulatorServer(tmp_path / "q.sqlite3", EmulatorSettings(quota_per_minute=2)) as server:
        server.store.create_spreadsheet(sheet, "s", {"Sheet1": [["a"]]})
        client = GoogleClient(
            emulator_credentials(server, "developer@practice.example"),
            ClientConfig(max_attempts=1),
            Endpoints(server.endpoint),
            script_requests_per_minute=0,  # no pacing: the third call is answered 429
        )
        client.get_drive_file(sheet)
        meter = client.meter()
        client.get_drive_file(sheet)
        with pytest.raises(RateLimitedError):
            client.get_drive_file(sheet)
        client.batch_get_values(sheet, ["Sheet1"])
        client.close()
    use = meter.snapshot()
    drive = use["drive"]
    assert (drive.calls, drive.peak_per_minute, drive.rate_limited) == (2, 2, 1)
    assert client.usage()["drive"].calls == 3 and use["sheets-read"].calls == 1
    record = usage_record(use)
    assert record["http_429"] == "script=0 drive=1 sheets-read=0 sheets-write=0"
    assert usage_from_record(record) == use
    assert usage_from_record({"calls": "drive=x"}) is None
