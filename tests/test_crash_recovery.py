"""kill -9 at each step of `--batch`: the next run finishes the job as if nothing happened.

Each case runs `sheetstage --batch` in a child process that kills itself with SIGKILL at one
point (SHEETSTAGE_CRASH_AT, services/crashpoints.py) or whose git is killed holding its lock
(a git wrapper), then runs the job again and compares everything with an uninterrupted run
from the same start: the sheet folders byte for byte, state.json against the disk, the trails
(audit verify) and every alert, on the webhook and in what the runs printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.models import Environment
from services.registry import IdMapper
from services.snapshot import disk_hash
from services.state import State
from tests.conftest import Demo, copy_demo

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {s.number: s for s in demo_sheets()}
DEVELOPER, SOMEONE = "developer@practice.example", "someone.else@practice.example"

GIT_WRAPPER = """#!/bin/sh
# git, killed while it holds a lock: for the subcommand in $CRASH_GIT, leave the lock file
# $CRASH_LOCK behind and kill sheetstage (the parent) with SIGKILL, as a power cut would.
sub=""
skip=0
for arg in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$arg" in
        -c|-C) skip=1 ;;
        -*) ;;
        *) sub="$arg"; break ;;
    esac
done
if [ "$sub" = "$CRASH_GIT" ]; then
    : > "$(git rev-parse --git-dir)/$CRASH_LOCK"
    kill -9 "$PPID"
    exit 137
fi
exec git "$@"
"""


class Webhook:
    """Collects alert deliveries per path (one path per case)."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = {}
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                webhook.received.setdefault(self.path, []).extend(body["alerts"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, case: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{case}"

    def alerts(self, case: str) -> list[tuple[str, tuple[int, ...]]]:
        return sorted((a["kind"], tuple(a["sheets"])) for a in self.received.get(f"/{case}", []))


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def prepare(demo: Demo, webhook: Webhook, case: str) -> Demo:
    """The same changes in Google before every case: edits on both sides, a new PHI leak."""
    config = demo.config_path
    config.write_text(config.read_text() + f'\n[alerts]\nwebhook_url = "{webhook.url(case)}"\n')
    demo.edit_script(SHEETS[8].prod_script_id, "\n// hotfix\n", SOMEONE)
    demo.edit_script(SHEETS[21].prod_script_id, "\n// another hotfix\n", SOMEONE)
    for number in (9, 10, 33):
        demo.edit_script(SHEETS[number].dev3_script_id, f"\n// change {number}\n", DEVELOPER)
    demo.edit_script(SHEETS[11].dev3_script_id, "\n// ssn 523-71-4086\n", DEVELOPER)
    return demo


def run_batch(demo: Demo, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(demo.config_path), "--batch"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def alert_lines(stderr: str) -> set[str]:
    """The alerts a run printed, without the edit times (each case edits at its own time)."""
    suffix = " (raised by an earlier run that was interrupted)"
    return {
        re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d \S+", "TIME", line.removesuffix(suffix))
        for line in stderr.splitlines()
        if line.startswith("ALERT ")
    }


def folders(demo: Demo) -> dict[str, bytes]:
    root = demo.workspace.root
    return {
        str(path.relative_to(root)): path.read_bytes()
        for env in ("production-sheets", "staging-sheets")
        for path in sorted((root / env).rglob("*"))
        if path.is_file()
    }


@dataclass
class Outcome:
    folders: dict[str, bytes]
    hashes: dict[str, object]
    alerts: set[str]
    delivered: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


def outcome(demo: Demo, printed: set[str], webhook: Webhook, case: str) -> Outcome:
    state = State.load(demo.workspace)
    hashes = {
        key: {
            "baseline": record.get("baseline"),
            **{env: record.get(env, {}).get("hash") for env in ("production", "staging")},
            **{f"{env}-held": record.get(env, {}).get("held_back") for env in ("staging",)},
        }
        for key, record in state.data["sheets"].items()
    }
    return Outcome(folders(demo), hashes | {"alerts": sorted(state.alerts)}, printed,
                   webhook.alerts(case))  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(
    _snapshotted_template: Path, tmp_path_factory: pytest.TempPathFactory, webhook: Webhook
) -> Iterator[Outcome]:
    copied = copy_demo(_snapshotted_template, tmp_path_factory.mktemp("uninterrupted") / "demo")
    demo = prepare(next(copied), webhook, "uninterrupted")
    result = run_batch(demo)
    assert result.returncode == 1, result.stderr
    yield outcome(demo, alert_lines(result.stderr), webhook, "uninterrupted")
    next(copied, None)  # the copy's check that the template is as it was


CASES = {
    "fetch": {"SHEETSTAGE_CRASH_AT": "fetch"},
    "write": {"SHEETSTAGE_CRASH_AT": "write"},
    "git-add-lock": {"CRASH_GIT": "add", "CRASH_LOCK": "index.lock"},
    "git-add-staged": {"SHEETSTAGE_CRASH_AT": "git-add"},
    "git-commit-lock": {"CRASH_GIT": "update-ref", "CRASH_LOCK": "refs/heads/main.lock"},
    "trail-append": {"SHEETSTAGE_CRASH_AT": "trail-append"},
    "activity-log": {"SHEETSTAGE_CRASH_AT": "activity-log"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_batch_killed_at_any_step_is_finished_by_the_next_run(
    case: str,
    snapshotted: Demo,
    uninterrupted: Outcome,
    webhook: Webhook,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = prepare(snapshotted, webhook, case)
    env = dict(CASES[case])
    if "CRASH_GIT" in env:
        wrapper = tmp_path / "git-crash"
        wrapper.write_text(GIT_WRAPPER)
        wrapper.chmod(0o755)
        env["GIT_PYTHON_GIT_EXECUTABLE"] = str(wrapper)
    crashed = run_batch(demo, **env)
    assert crashed.returncode == -9, crashed.stderr  # it did die at that point
    assert "Traceback" not in crashed.stderr

    capsys.readouterr()  # the next run in-process: no crash point is set in this process
    assert demo.cli("--batch") == 1  # the alerts, shown now
    recovered = capsys.readouterr().err
    assert demo.cli("--batch") == 0  # and nothing left over

    after = outcome(demo, alert_lines(crashed.stderr) | alert_lines(recovered), webhook, case)
    assert after.folders == uninterrupted.folders
    assert after.hashes == uninterrupted.hashes
    assert after.alerts == uninterrupted.alerts  # every alert shown to a person...
    assert sorted(set(after.delivered)) == sorted(set(uninterrupted.delivered))  # ...and sent

    workspace = demo.workspace
    state = State.load(workspace)
    mapper = IdMapper(SHEETS.values())
    for sheet in SHEETS.values():
        for side in Environment:
            assert disk_hash(workspace, mapper, sheet, side) == state.hash(sheet, side), sheet.key
    status = workspace.repo.git.status("--porcelain", "--", "production-sheets", "staging-sheets")
    assert status == "" and not workspace.changed_paths(["state.json"])
    capsys.readouterr()
    assert demo.cli("audit", "verify") == 0, capsys.readouterr().err
