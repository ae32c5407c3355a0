"""state.json: machine-written workflow state per sheet, committed with the workspace.

It only changes when something meaningful changes (content, a failure, an alert), so a
snapshot that finds nothing new leaves it, and git, untouched. Per-run bookkeeping (when each
project was last checked, its updateTime) lives in .sheetstage/cache/, not here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from services.workspace import Workspace, atomic_write
from sheetstage_tui.models import Environment, Sheet

VERSION = 1


def _empty() -> dict[str, Any]:
    return {"version": VERSION, "sheets": {}, "alerts": []}


class State:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._saved = copy.deepcopy(data)

    @classmethod
    def load(cls, workspace: Workspace) -> State:
        try:
            data = json.loads(workspace.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = _empty()
        except ValueError:
            from sheetstage_tui.errors import UsageError

            raise UsageError(
                f"{workspace.state_path} is not valid JSON; restore it with "
                "`git checkout -- state.json` in the workspace"
            ) from None
        data.setdefault("sheets", {})
        data.setdefault("alerts", [])
        return cls(data)

    @staticmethod
    def render(data: dict[str, Any]) -> bytes:
        return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def save(self, workspace: Workspace) -> bool:
        """Write if changed; True when it did."""
        if self.data == self._saved and workspace.state_path.exists():
            return False
        atomic_write(workspace.state_path, self.render(self.data))
        self._saved = copy.deepcopy(self.data)
        return True

    def sheet(self, sheet: Sheet) -> dict[str, Any]:
        return self.data["sheets"].setdefault(sheet.key, {})

    def env(self, sheet: Sheet, env: Environment) -> dict[str, Any]:
        return self.sheet(sheet).setdefault(str(env), {})

    def hash(self, sheet: Sheet, env: Environment) -> str | None:
        return self.data["sheets"].get(sheet.key, {}).get(str(env), {}).get("hash")

    def baseline(self, sheet: Sheet) -> str | None:
        return self.data["sheets"].get(sheet.key, {}).get("baseline")

    @property
    def alerts(self) -> set[str]:
        return set(self.data["alerts"])

    @alerts.setter
    def alerts(self, keys: set[str]) -> None:
        self.data["alerts"] = sorted(keys)


def cache_path(workspace: Workspace) -> Path:
    return workspace.internal / "cache" / "snapshot.json"


def load_cache(workspace: Workspace) -> dict[str, str]:
    try:
        return dict(json.loads(cache_path(workspace).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return {}


def save_cache(workspace: Workspace, cache: dict[str, str]) -> None:
    atomic_write(cache_path(workspace), json.dumps(cache, sort_keys=True).encode(), 0o664)
