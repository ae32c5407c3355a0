"""Crash drills: with `SHEETSTAGE_CRASH_AT=NAME` in the environment, the process kills itself
with SIGKILL (no cleanup, as a power cut or `kill -9` would) when it reaches the point NAME.
Tests use it to prove that the next run recovers from a crash at each step; unset, it does
nothing. Points: fetch, write, git-add, trail-append, activity-log (the snapshot job), and
deploy-backup, deploy-update (before updateContent), deploy-verify (after it), deploy-log (a
deploy or a rollback), staging-update (adopt or resync-staging, before DEV3's updateContent)."""

from __future__ import annotations

import os
import signal

VARIABLE = "SHEETSTAGE_CRASH_AT"


def armed(point: str) -> bool:
    return os.environ.get(VARIABLE) == point


def reached(point: str) -> None:
    if armed(point):
        os.kill(os.getpid(), signal.SIGKILL)
