"""The scanner a command uses: keyed with the workspace's HMAC key (finding ids stay stable)
and holding the cached production reference."""

from __future__ import annotations

from pathlib import Path

from services.config import Config
from services.phi import Scanner
from services.reference import ReferenceSet
from services.workspace import Workspace, load_or_create_key

USER_KEY = Path("~/.config/sheetstage/hmac.key")


def open_workspace(config: Config) -> Workspace | None:
    root = config.workspace
    return Workspace(root) if (root / ".git").is_dir() else None


def scanner_for(config: Config, workspace: Workspace | None) -> Scanner:
    """The workspace's key keeps finding ids stable (without a workspace, the user's key);
    the cached production reference makes offline scans catch production identifiers."""
    if workspace is None:
        return Scanner(config.phi, load_or_create_key(USER_KEY.expanduser()))
    key = workspace.hmac_key()
    return Scanner(config.phi, key, ReferenceSet.load(reference_cache(workspace), key))


def reference_cache(workspace: Workspace) -> Path:
    return workspace.internal / "cache" / "reference.json"
