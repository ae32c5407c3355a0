"""Progress on stderr: a bar on a terminal, plain lines otherwise (logs, schedulers)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO


def counted(count: int, noun: str, plural: str = "") -> str:
    """`1 sheet`, `2 sheets`, `0 sheets`; `plural` where adding an s is wrong (`fetches`)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    """Called as (done, total, item). `note` says what paces the job (a quota), shown with the
    time left, estimated from the pace so far."""

    def __init__(
        self, label: str, stream: TextIO | None = None, width: int = 30, note: str = ""
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.note = note
        self.tty = self.stream.isatty()
        self._last_tenth = -1
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._bar_open = False  # a terminal's bar line not yet ended by a newline

    def _left(self, done: int, total: int) -> str:
        if not done or done >= total:
            return ""
        elapsed = time.monotonic() - self._started
        return f"~{duration(elapsed / done * (total - done))} left"

    def __call__(self, done: int, total: int, item: object = "") -> None:
        with self._lock:
            extra = " · ".join(p for p in (self._left(done, total), self.note) if p)
            if self.tty:
                filled = self.width * done // max(total, 1)
                bar = "█" * filled + "░" * (self.width - filled)
                text = str(item)[:30]
                tail = f" {extra}" if extra else ""
                self.stream.write(f"\r{self.label} {bar} {done}/{total} {text:<30}{tail}\x1b[K")
                self._bar_open = done < total
                if not self._bar_open:
                    self.stream.write("\n")
                self.stream.flush()
                return
            tenth = 10 * done // max(total, 1)
            if tenth != self._last_tenth or done >= total:
                self._last_tenth = tenth
                tail = f" ({extra})" if extra else ""
                self.stream.write(f"{self.label}: {done}/{total}{tail}\n")
                self.stream.flush()

    def phase(self, text: str) -> None:
        """A step of the job that has no count (scanning, committing, syncing), said as it
        starts, on its own line: a long step never looks like a hang."""
        with self._lock:
            if self._bar_open:
                self.stream.write("\n")
                self._bar_open = False
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()


class PhaseClock:
    """Where a command's time goes (`--verbose`): each phase lasts from its start to the next
    phase's start, the last one to `stop`. Thread-safe; phases are named as progress says
    them ("committing 2902 files…" is timed as "committing 2902 files")."""

    def __init__(self) -> None:
        self._marks: list[tuple[str, float]] = []
        self._stopped: float | None = None
        self._lock = threading.Lock()

    def start(self, name: str, ago: float = 0.0) -> None:
        """A phase starts (started `ago` seconds back: the process's own start)."""
        with self._lock:
            self._marks.append((name.rstrip("…. "), time.monotonic() - ago))
            self._stopped = None

    def stop(self) -> None:
        with self._lock:
            if self._stopped is None:
                self._stopped = time.monotonic()

    @property
    def stopped(self) -> bool:
        with self._lock:
            return self._stopped is not None

    def phases(self) -> list[tuple[str, float]]:
        """(name, seconds) of each phase so far; a running phase counts until now."""
        with self._lock:
            end = self._stopped if self._stopped is not None else time.monotonic()
            ends = [moment for _, moment in self._marks[1:]] + [end]
            marks = zip(self._marks, ends, strict=True)
            return [(name, finished - started) for (name, started), finished in marks]

    def lines(self) -> list[str]:
        phases = self.phases()
        width = max((len(name) for name, _ in phases), default=0)
        total = sum(seconds for _, seconds in phases)
        return [f"time: {name:<{width}} {seconds:6.2f} s" for name, seconds in phases] + [
            f"time: {'total':<{width}} {total:6.2f} s"
        ]


def process_age() -> float:
    """Seconds since this process started (0 where /proc does not say): Python's start and
    the imports before any code of ours ran count too."""
    try:
        after_name = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(after_name[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
