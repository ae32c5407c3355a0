"""The TUI in a real pseudo-terminal: it starts, answers keys, and leaves cleanly when the
terminal hangs up (an SSH connection that drops)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

from tests.conftest import Demo

ANSI = re.compile(rb"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|[@-Z\\-_])")


def read_until(fd: int, needle: str, timeout: float) -> str:
    """What the app drew, escape sequences removed, once `needle` shows (or time runs out)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
        text = ANSI.sub(b"", seen).decode("utf-8", "replace")
        if needle in text:
            return text
    return ANSI.sub(b"", seen).decode("utf-8", "replace")


def test_the_app_runs_in_a_terminal_and_exits_cleanly_on_hangup(snapshotted: Demo) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # child: the controlling terminal is the pty
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(
            sys.executable,
            [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(snapshotted.config_path)],
        )
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        assert "Snapshot" in read_until(fd, "Snapshot", timeout=30)  # the footer's keys
        os.write(fd, b"?")
        assert "sheetstage — keys" in read_until(fd, "sheetstage — keys", timeout=10)
        os.close(fd)  # the terminal goes away: the kernel sends SIGHUP
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the app did not exit after the hangup")
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 129  # hung up, cleanly
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
