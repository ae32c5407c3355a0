"""state.json: machine-written workflow state per sheet, committed with the workspace.

It only changes when something meaningful changes (content, a failure, an alert), so a
snapshot that finds nothing new leaves it, and git, untouched. Per-run bookkeeping (when each
project was last checked, its updateTime) lives in .sheetstage/cache/, not here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.errors import UsageError
from services.models import Environment, Sheet
from services.workspace import Workspace, atomic_write

VERSION = 2
_SIDES = ("production", "staging")
_RECORDS = ("gate", "gate_production", "validation", "test_data")


def _empty() -> dict[str, Any]:
    return {"version": VERSION, "sheets": {}, "alerts": {}}


def _problem(data: object) -> str:
    """What makes `data` something other than a sheetstage state ("" when it is one)."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    missing = [key for key in ("version", "sheets", "alerts") if key not in data]
    if missing:
        return f"it lacks {', '.join(missing)}"
    if data["version"] not in (1, VERSION):
        return f"version {data['version']!r} is not one this sheetstage knows"
    sheets, alerts = data["sheets"], data["alerts"]
    if not isinstance(sheets, dict):
        return "`sheets` is not an object"
    if not isinstance(alerts, dict | list):
        return "`alerts` is neither an object nor a list"
    for key, record in sheets.items():
        if not isinstance(record, dict):
            return f"sheet {key} is not an object"
        if not isinstance(record.get("baseline", ""), str | None):
            return f"sheet {key}: baseline is not a hash"
        for name in (*_SIDES, *_RECORDS):
            part = record.get(name, {})
            if not isinstance(part, dict):
                return f"sheet {key}: {name} is not an object"
            for field in ("hash", "held_back", "error", "status"):
                if not isinstance(part.get(field, ""), str | None):
                    return f"sheet {key}: {name}.{field} is not text"
            findings = part.get("findings", [])
            if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
                return f"sheet {key}: {name}.findings is not a list of objects"
    return ""


def _upgrade_alerts(alerts: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """Version 1 kept only the active alerts' keys."""
    if isinstance(alerts, dict):
        return {str(k): v if isinstance(v, dict) else {} for k, v in alerts.items()}
    return {str(key): {"kind": str(key).split(":")[0]} for key in alerts}


def _fingerprint(data: dict[str, Any]) -> str:
    """The data in compact JSON (C-encoded: fast), to tell whether it changed since read."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class State:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._saved = _fingerprint(data)  # what is on disk; a deep copy cost 40 ms a load

    @classmethod
    def load(cls, workspace: Workspace) -> State:
        path = workspace.state_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = _empty()
        except (ValueError, UnicodeDecodeError):
            data, problem = None, "it is not valid JSON"
        else:
            problem = _problem(data)
        if data is None or problem:
            raise UsageError(
                f"{path} is not a sheetstage state ({problem}); restore it with "
                "`git checkout -- state.json` in the workspace"
            )
        data["alerts"] = _upgrade_alerts(data["alerts"])
        return cls(data)

    @staticmethod
    def render(data: dict[str, Any]) -> bytes:
        return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def save(self, workspace: Workspace) -> bool:
        """Write if changed; True when it did."""
        now = _fingerprint(self.data)
        if now == self._saved and workspace.state_path.exists():
            return False
        atomic_write(workspace.state_path, self.render(self.data))
        self._saved = now
        return True

    def sheet(self, sheet: Sheet) -> dict[str, Any]:
        return self.data["sheets"].setdefault(sheet.key, {})

    def env(self, sheet: Sheet, env: Environment) -> dict[str, Any]:
        return self.sheet(sheet).setdefault(str(env), {})

    def hash(self, sheet: Sheet, env: Environment) -> str | None:
        return self.data["sheets"].get(sheet.key, {}).get(str(env), {}).get("hash")

    def baseline(self, sheet: Sheet) -> str | None:
        return self.data["sheets"].get(sheet.key, {}).get("baseline")

    def held_back(self, sheet: Sheet, env: Environment) -> str | None:
        """The hash of content the PHI gate kept out of the workspace (disk keeps `hash`)."""
        return self.data["sheets"].get(sheet.key, {}).get(str(env), {}).get("held_back")

    @property
    def alerts(self) -> dict[str, dict[str, Any]]:
        """Active alerts by key: kind, sheets, message, since."""
        return self.data["alerts"]

    @alerts.setter
    def alerts(self, active: dict[str, dict[str, Any]]) -> None:
        self.data["alerts"] = dict(sorted(active.items()))


def cache_path(workspace: Workspace) -> Path:
    return workspace.internal / "cache" / "snapshot.json"


def load_cache(workspace: Workspace) -> dict[str, str]:
    try:
        return dict(json.loads(cache_path(workspace).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return {}


def save_cache(workspace: Workspace, cache: dict[str, str]) -> None:
    atomic_write(cache_path(workspace), json.dumps(cache, sort_keys=True).encode(), 0o664)
