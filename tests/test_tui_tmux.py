"""The practice manager's whole path in a real terminal: tmux at 80x24 with NO_COLOR=1, keys
sent as a person types them, the screen read back as text. Filter to the sheets in review,
open the diff, approve with `yes`, deploy and watch the steps, roll back, and find both in
the activity screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from services.emulator.seed import STAGED
from tests.conftest import Demo

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    def __init__(self, socket: str, session: str) -> None:
        self.socket, self.session = socket, session

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def banner(self) -> str:
        """The sheet list's second banner line: what is shown, filtered and sorted."""
        return self.screen().splitlines()[1]

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            # a terminal cannot tell Escape from the start of alt+KEY: a person pauses
            time.sleep(0.4 if key == "Escape" else 0.05)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)

    def wait_for(self, *needles: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if all(needle in shown for needle in needles):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{needles} never showed; the screen:\n{shown}")
            time.sleep(0.1)

    def running(self) -> bool:
        command = ["tmux", "-L", self.socket, "has-session", "-t", self.session]
        return subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture
def terminal(snapshotted: Demo) -> Iterator[Terminal]:
    snapshotted.fast_sheets()
    term = Terminal(f"sheetstage-{uuid.uuid4().hex[:8]}", "pm")
    app = f"{sys.executable} -m sheetstage_tui.cli --config {snapshotted.config_path}"
    term.tmux(
        "new-session", "-d", "-s", "pm", "-x", "80", "-y", "24",
        "-e", "NO_COLOR=1", "-e", "TERM=xterm-256color", app,
    )  # fmt: skip
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)


def test_the_practice_manager_path_over_a_real_terminal(terminal: Terminal) -> None:
    sheet = f"{STAGED[0]:03d}"
    terminal.wait_for("Snapshot", "235/235")

    for _ in range(12):  # the quick filters, in turn, up to the sheets in review
        before = terminal.banner()
        terminal.keys("f")
        deadline = time.monotonic() + 10
        while terminal.banner() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        if "in-review" in terminal.banner():
            break
    shown = terminal.wait_for(f"{len(STAGED)}/235")
    assert all(f"{n:03d}" in shown for n in STAGED)

    terminal.keys("d")  # the diff of the first of them
    terminal.wait_for("Code.gs", "− production + staging")
    terminal.keys("Escape")
    terminal.wait_for(f"{len(STAGED)}/235")

    terminal.keys("a")
    terminal.wait_for("requested by dana", "Type yes to approve")
    terminal.type("yes")  # the field takes it, though Cancel has the focus
    terminal.wait_for(":  yes", timeout=10)  # in the field, before enter
    terminal.keys("Enter")
    terminal.wait_for(f"approved sheet {sheet}")

    terminal.keys("D")
    terminal.wait_for(f"Deploy sheet {sheet}", "Cancel")
    terminal.keys("BTab", "Enter")
    steps = terminal.wait_for("esc or enter closes", timeout=90)
    assert "deployed" in steps
    for step in ("validate", "diff", "approve", "backup", "deploy", "verify", "log"):
        assert any(step in line and "✓" in line for line in steps.splitlines()), step
    terminal.keys("Escape")

    terminal.keys("b", "w")  # the deployed sheet left the filter: every sheet's points
    terminal.wait_for("Backup points of every sheet", sheet)
    terminal.keys("Enter")
    terminal.wait_for("Type yes to roll back", "rollback to", "--- now/Code.gs", "+++ backup/")
    terminal.type("yes")  # the field takes it, though Cancel has the focus
    terminal.wait_for(":  yes", timeout=10)  # in the field, before enter
    terminal.keys("Enter")
    restored = terminal.wait_for("esc or enter closes", timeout=90)
    assert "restored" in restored, restored
    terminal.keys("Escape", "Escape")

    terminal.keys("l")
    activity = terminal.wait_for("trail lines", "rollback", "deploy")
    lines = activity.splitlines()
    first = {word: next(i for i, line in enumerate(lines) if f" {word} " in line)
             for word in ("rollback", "deploy", "approve")}  # fmt: skip
    assert first["rollback"] < first["deploy"] < first["approve"]  # newest first
    assert "audit trail intact" in activity

    terminal.keys("Escape", "C-q")
    deadline = time.monotonic() + 20
    while terminal.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not terminal.running()
