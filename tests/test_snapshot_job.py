"""The scheduled job end to end: emulator over HTTP, real git, the CLI's exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.state import cache_path
from services.workspace import Workspace, current_user
from tests.conftest import Demo, write_config

SHEETS = {s.number: s for s in demo_sheets()}


def tree(workspace: Workspace, path: str) -> str:
    return workspace.repo.git.rev_parse(f"HEAD:{path}")


def drift_json(demo: Demo, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert demo.cli("drift", "--json") == 0
    return json.loads(capsys.readouterr().out)


def edit_production(demo: Demo, number: int, marker: str, user: str) -> None:
    demo.edit_script(SHEETS[number].prod_script_id, f"\n// {marker}\n", user)


def test_first_batch_snapshots_470_projects_in_one_commit_and_reports_every_state(
    demo: Demo, capsys: pytest.CaptureFixture[str], expected_states: dict[int, str]
) -> None:
    workspace = demo.workspace
    commits_before = workspace.commit_count()

    assert demo.cli("--batch") == 1  # the demo's production edits are new alerts
    # nothing was cached: each project's content alone, no projects.get before it
    assert script_calls(demo) == {"get": 0, "content": 470}

    root = workspace.root
    production = sorted(p.name for p in (root / "production-sheets").iterdir() if p.is_dir())
    staging = sorted(p.name for p in (root / "staging-sheets").iterdir() if p.is_dir())
    assert production == [f"sheet-{n:03d}_PROD" for n in range(235)]
    held_back = {150, 199}  # the planted PHI leaks: the snapshot gate never writes them
    assert staging == [f"sheet-{n:03d}_DEV3" for n in range(235) if n not in held_back]
    for n in held_back:
        assert workspace.repo.git.log("--all", "--", f"staging-sheets/sheet-{n}_DEV3") == ""
    assert workspace.commit_count() == commits_before + 1
    changed = workspace.commit_paths("HEAD")
    assert {p.split("/")[1] for p in changed if p.startswith("production-sheets/")} == set(
        production
    )
    assert {p.split("/")[1] for p in changed if p.startswith("staging-sheets/")} == set(staging)
    assert f"audit/{current_user()}.jsonl" in changed and "state.json" in changed

    report = drift_json(demo, capsys)
    assert isinstance(report, list) and len(report) == 235
    assert {row["sheet"]: row["state"] for row in report} == expected_states
    prod_modified = next(r for r in report if r["sheet"] == 31)
    assert prod_modified["modified_by"] == "someone.else@practice.example"
    assert prod_modified["modified_at"].startswith("2026-05-24T")


def test_files_on_disk_are_byte_exact_with_folders_order_crlf_and_empty_files(
    snapshotted: Demo,
) -> None:
    store = snapshotted.store()
    workspace = snapshotted.workspace
    from services.models import Environment

    for number in (5, 8, 9, 12, 28):
        sheet = SHEETS[number]
        api_files = store.content(sheet.prod_script_id)["files"]
        disk_files = workspace.read_project(sheet, Environment.PRODUCTION)
        assert disk_files is not None
        assert [(f.name, str(f.type), f.source) for f in disk_files] == [
            (f["name"], f["type"], f["source"]) for f in api_files
        ]
    folder = workspace.folder(SHEETS[5], Environment.PRODUCTION)
    assert b"\r\n" in (folder / "Code.gs").read_bytes()
    assert (workspace.folder(SHEETS[9], Environment.PRODUCTION) / "Notes.gs").read_bytes() == b""
    assert (workspace.folder(SHEETS[0], Environment.PRODUCTION) / "lib" / "format.gs").is_file()
    assert (workspace.folder(SHEETS[0], Environment.PRODUCTION) / "Sidebar.html").is_file()
    store.close()


def test_second_batch_changes_nothing_and_an_edit_commits_exactly_that_sheet(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = snapshotted.workspace
    head = workspace.head()
    before = script_calls(snapshotted)

    assert snapshotted.cli("--batch") == 0  # the seeded alerts were raised once already
    assert workspace.head() == head
    err = capsys.readouterr().err
    assert "0 fetched" in err and "ALERT" not in err
    # the first snapshot's getContent gave each project a signal: only projects.get now
    assert script_calls(snapshotted) == {"get": before["get"] + 470, "content": before["content"]}

    edit_production(snapshotted, 42, "edited in the script editor", "developer@practice.example")
    edit_production(snapshotted, 42, "and again", "developer@practice.example")
    assert snapshotted.cli("--batch") == 1  # production edited outside sheetstage: alert
    assert workspace.head() != head
    sheet_paths = [
        p for p in workspace.commit_paths("HEAD") if p.startswith(("production-", "staging-"))
    ]
    assert sheet_paths == ["production-sheets/sheet-042_PROD/Code.gs"]
    assert "ALERT prod-modified: production sheet 042" in capsys.readouterr().err


def script_calls(demo: Demo) -> dict[str, int]:
    """The Apps Script reads the emulator answered so far: projects.get and getContent."""
    store = demo.store()
    try:
        paths = [row["path"] for row in store.request_log("/v1/projects/")]
    finally:
        store.close()
    content = sum(1 for path in paths if path.endswith("/content"))
    return {"get": len(paths) - content, "content": content}


def test_a_deleted_file_moves_no_file_time_so_the_next_run_fetches_its_project_once(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project first fetched with getContent alone has its newest file's time as its
    signal; deleting a file moves only the project's time, so the next run fetches it (and
    commits the deletion), and the run after that has the project's own time."""
    sheet = SHEETS[12]
    store = snapshotted.store()
    try:
        files = store.content(sheet.prod_script_id)["files"]
        assert len(files) > 2
        store.update_content(sheet.prod_script_id, files[:-1], "someone.else@practice.example")
        assert store.project(sheet.prod_script_id)["updateTime"] > max(
            f["updateTime"] for f in store.content(sheet.prod_script_id)["files"]
        )
    finally:
        store.close()
    deleted = f"production-sheets/sheet-012_PROD/{files[-1]['name']}"
    before = script_calls(snapshotted)
    snapshotted.cli("--batch")
    assert script_calls(snapshotted)["content"] == before["content"] + 1
    assert not any(
        path.startswith(deleted) for path in snapshotted.workspace.repo.git.ls_files().split()
    )
    before = script_calls(snapshotted)
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 0
    assert script_calls(snapshotted)["content"] == before["content"]


def test_a_known_project_whose_signal_is_lost_is_blamed_on_its_editor_not_an_older_file(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """The change-signal cache is not in git (a workspace restored from the backup has none):
    projects the workspace knows are read with projects.get, whose time and editor a deleted
    file moves, never by their newest file."""
    sheet = SHEETS[20]
    store = snapshotted.store()
    try:
        files = store.content(sheet.prod_script_id)["files"]
        store.update_content(sheet.prod_script_id, files[:-1], "mallory@practice.example")
    finally:
        store.close()
    cache_path(snapshotted.workspace).unlink()
    before = script_calls(snapshotted)
    assert snapshotted.cli("snapshot") == 1  # production edited outside sheetstage: an alert
    assert script_calls(snapshotted)["get"] == before["get"] + 470
    drift = {row["sheet"]: row for row in drift_json(snapshotted, capsys)}
    assert drift[20]["modified_by"] == "mallory@practice.example"


def test_a_symbolic_link_planted_in_a_sheet_folder_is_never_followed_nor_committed(
    snapshotted: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("someone else's file\n")
    root = snapshotted.workspace.root
    folder = root / "staging-sheets" / "sheet-006_DEV3"
    folder.rename(tmp_path / "sheet-006_DEV3")
    folder.symlink_to(victim)  # the sheet folder itself replaced by a link
    code = root / "staging-sheets" / "sheet-005_DEV3" / "Code.gs"
    code.unlink()
    code.symlink_to(victim / "keep.txt")  # a project file replaced by a link
    head = snapshotted.workspace.head()

    assert snapshotted.cli("snapshot", "--env", "staging") == 1
    err = capsys.readouterr().err
    assert (
        "FAILED staging sheet 006: refused: staging-sheets/sheet-006_DEV3 holds a symbolic" in err
    )
    assert "FAILED staging sheet 005: refused: file name '****' would leave the sheet" in err
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]  # nothing written or removed
    workspace = snapshotted.workspace
    changed = workspace.repo.git.diff("--name-status", head, "HEAD", "--", "staging-sheets")
    assert changed == ""  # neither link nor a deletion behind one reached git


def test_faults_of_ten_percent_still_give_a_byte_identical_snapshot(
    demo: Demo, snapshotted: Demo
) -> None:
    clean = snapshotted  # the same demo's first batch, run without faults
    demo.set_emulator("fault_rate = 0.10\n")
    assert demo.cli("--batch") == 1
    for folder in ("production-sheets", "staging-sheets"):
        assert tree(demo.workspace, folder) == tree(clean.workspace, folder)
    assert (
        json.loads(demo.workspace.state_path.read_text())["sheets"].keys()
        == json.loads(clean.workspace.state_path.read_text())["sheets"].keys()
    )
    store = demo.store()
    assert store.user("developer@practice.example") is not None
    store.close()


def test_a_sheet_that_always_fails_is_named_and_the_other_469_are_committed(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = SHEETS[77]
    demo.set_emulator(f'failing_scripts = ["{broken.dev3_script_id}"]\n')

    assert demo.cli("--batch") == 1

    err = capsys.readouterr().err
    assert "FAILED staging sheet 077: projects.getContent" not in err or "HTTP 500" in err
    assert "FAILED staging sheet 077:" in err and "HTTP 500" in err and "after 6 attempts" in err
    workspace = demo.workspace
    assert not (workspace.root / "staging-sheets" / "sheet-077_DEV3").exists()
    assert (workspace.root / "production-sheets" / "sheet-077_PROD").is_dir()
    committed = {p.split("/")[1] for p in workspace.commit_paths("HEAD") if "-sheets/" in p}
    assert len(committed) == 469 - 2  # and the PHI gate holds back the two planted leaks
    drift = {row["sheet"]: row for row in drift_json(demo, capsys)}
    assert drift[77]["state"] == "unknown" and "HTTP 500" in drift[77]["reason"]


def test_a_file_name_that_escapes_the_sheet_folder_is_refused_and_nothing_is_written_outside(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = SHEETS[3]
    store = demo.store()
    files = store.content(sheet.dev3_script_id)["files"]
    files.append({"name": "../../x", "type": "SERVER_JS", "source": "// escape"})
    store.update_content(sheet.dev3_script_id, files, "developer@practice.example")
    store.close()

    assert demo.cli("snapshot", "--env", "staging") == 1

    err = capsys.readouterr().err
    assert (
        "FAILED staging sheet 003: refused: file name '../../*' would leave the sheet folder" in err
    )
    root = demo.workspace.root
    assert not (root / "x.gs").exists() and not (root.parent / "x.gs").exists()
    assert not (root / "staging-sheets" / "x.gs").exists()
    assert not any(p.name == "x.gs" for p in demo.root.rglob("x.gs"))
    assert not (root / "staging-sheets" / "sheet-003_DEV3").exists()


def test_snapshot_of_one_sheet_accepts_padded_numbers_and_prints_json(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.cli("snapshot", "--sheet", "007", "--sheet", "7", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert {(c["env"], c["sheet"]) for c in document["changed"]} == {
        ("production", 7),
        ("staging", 7),
    }
    assert document["failed"] == [] and document["commit"]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("broken_toml", ["--batch"], "broken TOML"),
        ("none", ["snapshot", "--sheet", "999"], "sheet 999 is not in registry.toml"),
        ("none", ["snapshot", "--sheet", "abc"], "'abc' is not a sheet number"),
        ("missing_workspace", ["--batch"], "no sheetstage workspace at"),
        ("google_without_token", ["--batch"], "no Google credentials at"),
        ("unknown_key", ["drift"], "unknown key [emulator].latency"),
    ],
)
def test_bad_input_gets_one_clear_line_exit_2_and_changes_nothing(
    snapshotted: Demo,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    message: str,
) -> None:
    workspace = snapshotted.workspace
    head = workspace.head()
    status = workspace.repo.git.status("--porcelain")
    config = snapshotted.config_path
    if setup == "broken_toml":
        config.write_text('backend = "emulator"\n[emulator\nlatency_ms = 1\n')
    elif setup == "missing_workspace":
        write_config(snapshotted.root, extra="")
        config.write_text(config.read_text().replace('"workspace"', '"nowhere"'))
    elif setup == "google_without_token":
        config.write_text(
            'backend = "google"\nworkspace = "workspace"\n[google]\n'
            f'token_file = "{snapshotted.root / "no-token.json"}"\n'
        )
    elif setup == "unknown_key":
        config.write_text('backend = "emulator"\n[emulator]\nlatency = 5\n')
    capsys.readouterr()

    assert snapshotted.cli(*args) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert workspace.head() == head
    assert workspace.repo.git.status("--porcelain") == status


def test_read_only_session_refuses_snapshot_with_exit_5(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    head = snapshotted.workspace.head()
    assert snapshotted.cli("--read-only", "--batch") == 5
    assert "read-only" in capsys.readouterr().err
    assert snapshotted.cli("snapshot", "--read-only") == 5
    assert snapshotted.workspace.head() == head


def test_a_held_workspace_lock_refuses_with_exit_5(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.config_path.write_text(
        snapshotted.config_path.read_text() + "\n[git]\nlock_timeout_s = 0.2\n"
    )
    holder = Workspace(snapshotted.workspace.root)
    with holder.lock():
        assert snapshotted.cli("snapshot", "--sheet", "1") == 5
    assert "holds the workspace lock" in capsys.readouterr().err


def test_user_without_a_role_is_refused_and_told_what_it_needs(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    roles = snapshotted.workspace.roles_path
    roles.write_text('developer = []\npractice_manager = ["somebody-else"]\n')
    roles.chmod(0o644)
    assert snapshotted.cli("snapshot", "--sheet", "1") == 5
    err = capsys.readouterr().err
    assert (
        "no role (read-only)" in err and "developer or practice_manager or service_account" in err
    )


def test_roles_file_writable_by_others_is_ignored_and_said_so(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshotted.workspace.roles_path.chmod(0o666)
    assert snapshotted.cli("snapshot", "--sheet", "1") == 5
    err = capsys.readouterr().err
    assert "can be written by users other than its owner" in err and "chmod go-w" in err
    assert "everyone is read-only" in err


def test_workspace_push_goes_to_the_backup_remote_and_a_rejection_is_reported(
    snapshotted: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "backup.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    config = snapshotted.config_path
    config.write_text(config.read_text() + f'\n[git]\nremote = "{remote}"\n')

    edit_production(snapshotted, 10, "first", "developer@practice.example")
    assert snapshotted.cli("snapshot", "--sheet", "10") == 1  # new prod-modified alert
    head = snapshotted.workspace.head()
    remote_head = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "refs/heads/main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert remote_head == head

    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(other)], check=True)
    (other / "elsewhere.txt").write_text("a commit the workspace does not have\n")
    subprocess.run(["git", "-C", str(other), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(other),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "x",
        ],
        check=True,
    )
    subprocess.run(["git", "-C", str(other), "push", "-q"], check=True)

    edit_production(snapshotted, 10, "second", "developer@practice.example")
    capsys.readouterr()
    assert snapshotted.cli("snapshot", "--sheet", "10") == 1
    err = capsys.readouterr().err
    assert "rejected" in err and str(remote) in err
    assert any(entry["action"] == "push" for entry in snapshotted.trail())


def test_each_run_appends_its_row_to_the_activity_log_and_resync_adds_only_missing_rows(
    snapshotted: Demo,
) -> None:
    from services.emulator.seed import log_spreadsheet_id

    store = snapshotted.store()
    log = log_spreadsheet_id()
    snapshots = store.get_values(log, "Snapshots")["values"]
    alerts = store.get_values(log, "Alerts")["values"]
    # init, and the first run: the baselines it found, its snapshot
    assert snapshots[0][0] == "Event ID" and [r[3] for r in snapshots[1:]] == [
        "init",
        "baseline",
        "snapshot",
    ]
    assert len(alerts) == 1 + 7  # five production edits and two PHI blocks, once each
    snapshot = next(e for e in snapshotted.trail() if e["action"] == "snapshot")
    assert snapshots[3][0] == f"{snapshot['user']}:{snapshot['seq']}"
    assert len(snapshots[3][7]) == 64  # the line's SHA-256: the log witnesses the trail

    # a lost append: the row is gone from the sheet; the next run puts exactly it back
    store.update_values(log, [{"range": "Alerts!A3:H3", "values": [[""] * 8]}])
    rows_before = store.get_values(log, "Alerts").get("values", [])
    store.close()
    assert snapshotted.cli("--batch") == 0
    store = snapshotted.store()
    snapshots = store.get_values(log, "Snapshots")["values"]
    ids = [r[0] for r in store.get_values(log, "Alerts")["values"][1:] if r and r[0]]
    store.close()
    assert len(snapshots) == 5
    assert len(ids) == 7 and len(set(ids)) == 7
    assert len(rows_before) == 8


def test_alerts_reach_the_webhook_once_per_new_event(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = snapshotted.config_path
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        config.write_text(config.read_text() + f'\n[alerts]\nwebhook_url = "{url}"\n')
        assert snapshotted.cli("--batch") == 0  # nothing new to show...
        assert len(received) == 1 and len(received[0]["alerts"]) == 7  # ...the backlog is sent
        edit_production(snapshotted, 100, "hotfix", "someone.else@practice.example")
        assert snapshotted.cli("--batch") == 1
        assert snapshotted.cli("--batch") == 0
    finally:
        server.shutdown()
    assert len(received) == 2
    assert received[1]["alerts"][0]["kind"] == "prod-modified"
    assert received[1]["alerts"][0]["sheets"] == [100]


def test_drift_threshold_alert_fires_once_when_crossed(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = snapshotted.config_path
    config.write_text(config.read_text() + "\n[alerts]\ndrift_threshold = 9\n")
    assert snapshotted.cli("--batch") == 1
    assert "ALERT drift-threshold: 10 sheets have drifted" in capsys.readouterr().err
    assert snapshotted.cli("--batch") == 0


def test_google_backend_runs_the_same_client_path_against_a_standalone_emulator(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.emulator.server import EmulatorServer
    from services.session import emulator_credentials

    server = EmulatorServer(snapshotted.emulator_file).start()
    try:
        token_file = snapshotted.root / "token.json"
        token_file.write_text(emulator_credentials(server, "developer@practice.example").to_json())
        token_file.chmod(0o600)
        snapshotted.config_path.write_text(
            'backend = "google"\nworkspace = "workspace"\n[google]\n'
            f'token_file = "{token_file}"\napi_endpoint = "{server.endpoint}"\n'
            f'token_uri = "{server.token_uri}"\n'
        )
        edit_production(snapshotted, 20, "edited", "someone.else@practice.example")
        capsys.readouterr()
        assert snapshotted.cli("snapshot", "--sheet", "20", "--json") == 1  # new alert
        document = json.loads(capsys.readouterr().out)
        assert document["changed"] == [{"env": "production", "sheet": 20}]
    finally:
        server.stop()


def test_diff_command_prints_a_unified_diff_with_dev3_ids_mapped(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert snapshotted.cli("diff", "--sheet", "64") == 0
    out, err = capsys.readouterr()
    assert out.startswith("--- production/Code.gs\n+++ staging/Code.gs\n")
    assert "+function countByStatus() {" in out
    assert "-const STALE_AFTER_DAYS = 2; // hotfix" in out
    assert SHEETS[64].dev3_spreadsheet_id not in out  # mapped, so not shown as a change
    assert "1 of 9 files changed · +12 −1 lines" in err
    assert snapshotted.cli("diff", "--sheet", "0") == 0
    out, err = capsys.readouterr()
    assert out == "" and "No differences" in err


def test_an_alert_the_webhook_did_not_take_is_sent_by_the_next_run(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    with socket.socket() as probe:  # a port nothing listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = snapshotted.config_path
    url = f"http://127.0.0.1:{port}/hook"
    config.write_text(config.read_text() + f'\n[alerts]\nwebhook_url = "{url}"\n')
    edit_production(snapshotted, 100, "hotfix", "someone.else@practice.example")
    capsys.readouterr()
    assert snapshotted.cli("--batch") == 1
    # the demo's earlier alerts wait for a webhook too: no run has had one to send them to
    assert "8 alerts kept in the outbox for the next run" in capsys.readouterr().err

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert snapshotted.cli("--batch") == 0  # nothing new; the stored alert goes out
        assert snapshotted.cli("--batch") == 0
    finally:
        server.shutdown()
    assert len(received) == 1 and len(received[0]["alerts"]) == 8
    assert [a["sheets"] for a in received[0]["alerts"]].count([100]) == 1
    capsys.readouterr()
    assert snapshotted.cli("alerts", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["webhook_pending"] == 0 and document["report_pending"] == 0
    assert any(a["kind"] == "prod-modified" and a["sheets"] == [100] for a in document["alerts"])


def test_an_alert_that_clears_and_comes_back_is_raised_again(
    snapshotted: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = f'failing_scripts = ["{SHEETS[7].prod_script_id}"]'
    snapshotted.set_emulator(failing)
    assert snapshotted.cli("snapshot", "--sheet", "7") == 1
    assert "ALERT snapshot-failed: snapshot of production sheet 007" in capsys.readouterr().err
    snapshotted.set_emulator("")
    assert snapshotted.cli("snapshot", "--sheet", "7") == 0  # recovered: the alert clears
    snapshotted.set_emulator(failing)
    capsys.readouterr()
    assert snapshotted.cli("snapshot", "--sheet", "7") == 1
    assert "ALERT snapshot-failed: snapshot of production sheet 007" in capsys.readouterr().err
    alerts = [e for e in snapshotted.trail() if e["action"] == "alert" and e["sheets"] == [7]]
    assert len(alerts) == 2
