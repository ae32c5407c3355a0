"""Pre-deployment validation (deploy pipeline step 1) and the scanner's wiring: which key,
which acknowledgements, which files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.phi import Scanner, ScanResult
from services.workspace import Workspace, load_or_create_key
from sheetstage_tui.config import Config
from sheetstage_tui.errors import UsageError

USER_KEY = Path("~/.config/sheetstage/hmac.key")


def open_workspace(config: Config) -> Workspace | None:
    root = config.workspace
    return Workspace(root) if (root / ".git").is_dir() else None


def scanner_for(config: Config, workspace: Workspace | None) -> Scanner:
    """The workspace's key keeps finding ids stable; without a workspace, the user's key."""
    key = workspace.hmac_key() if workspace else load_or_create_key(USER_KEY.expanduser())
    return Scanner(config.phi, key)


def scan(config: Config, paths: Sequence[Path], staged: bool = False) -> ScanResult:
    workspace = open_workspace(config)
    scanner = scanner_for(config, workspace)
    if not staged:
        return scanner.scan_paths(paths, Path.cwd())
    here = Path.cwd()
    if (here / ".git").is_dir() and (here / "registry.toml").is_file():
        workspace = Workspace(here)  # a git hook runs in the workspace it guards
        scanner = scanner_for(config, workspace)
    if workspace is None:
        raise UsageError(
            f"scan --staged needs the workspace at {config.workspace}; run `sheetstage init`"
        )
    result = ScanResult()
    for name, data in workspace.staged_files():
        result.extend(scanner.scan_bytes(data, name))
    return result
