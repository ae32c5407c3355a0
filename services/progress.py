"""Progress on stderr: a bar on a terminal, plain lines otherwise (logs, schedulers)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_tenth = -1
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int, item: object = "") -> None:
        with self._lock:
            if self.tty:
                filled = self.width * done // max(total, 1)
                bar = "█" * filled + "░" * (self.width - filled)
                text = str(item)[:30]
                self.stream.write(f"\r{self.label} {bar} {done}/{total} {text:<30}")
                if done >= total:
                    self.stream.write("\n")
                self.stream.flush()
                return
            tenth = 10 * done // max(total, 1)
            if tenth != self._last_tenth or done >= total:
                self._last_tenth = tenth
                self.stream.write(f"{self.label}: {done}/{total}\n")
                self.stream.flush()
