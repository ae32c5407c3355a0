"""Who is running sheetstage and what their role lets them do (DESIGN.md "Roles")."""

from __future__ import annotations

import stat
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from services.workspace import current_user
from sheetstage_tui.errors import RefusedError

DEVELOPER = "developer"
PRACTICE_MANAGER = "practice_manager"
SERVICE_ACCOUNT = "service_account"
ROLES = (DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT)

CAPABILITIES: dict[str, frozenset[str]] = {
    DEVELOPER: frozenset({"snapshot", "validate", "generate-test-data", "request-review"}),
    PRACTICE_MANAGER: frozenset(
        {
            "snapshot",
            "validate",
            "generate-test-data",
            "request-review",
            "approve",
            "deploy",
            "rollback",
            "acknowledge",
            "registry",
            "adopt",
            "revert",
            "accept",
        }
    ),
    SERVICE_ACCOUNT: frozenset({"snapshot", "deploy-approved"}),
}
_WHO_MAY = {
    action: sorted(role for role, allowed in CAPABILITIES.items() if action in allowed)
    for action in {a for allowed in CAPABILITIES.values() for a in allowed}
}


def render_roles(user: str) -> str:
    return (
        "# Who has which role. sheetstage ignores this file unless only its owner can write it.\n"
        "# Identity is the operating-system user; roles: developer, practice_manager,\n"
        "# service_account. Anyone not listed is read-only.\n"
        f'developer = []\npractice_manager = ["{user}"]\nservice_account = []\n'
    )


@dataclass(frozen=True)
class Access:
    user: str
    roles: frozenset[str]
    read_only: bool = False
    warning: str = ""

    @property
    def role_text(self) -> str:
        return ", ".join(sorted(self.roles)) or "no role (read-only)"

    def can(self, action: str) -> bool:
        if self.read_only:
            return False
        return any(action in CAPABILITIES[role] for role in self.roles)

    def require(self, action: str) -> None:
        if self.read_only:
            raise RefusedError(
                f"{action} refused: this session is --read-only; run without --read-only"
            )
        if not self.can(action):
            needed = " or ".join(_WHO_MAY.get(action, ["nobody"]))
            fix = self.warning or "ask a practice manager to add you to roles.toml"
            raise RefusedError(
                f"{action} refused: you are {self.user} with {self.role_text}; it needs {needed} "
                f"({fix})"
            )


def load_access(roles_path: Path, read_only: bool = False) -> Access:
    """Roles of the operating-system user, from the workspace's roles.toml."""
    user = current_user()
    try:
        info = roles_path.stat()
        data = tomllib.loads(roles_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Access(
            user, frozenset(), read_only, f"{roles_path} is missing: everyone is read-only"
        )
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        return Access(
            user, frozenset(), read_only, f"{roles_path} is unreadable ({error}): read-only"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        warning = (
            f"ignoring {roles_path}: users other than its owner can write it; "
            f"run `chmod go-w {roles_path}` (everyone is read-only until then)"
        )
        return Access(user, frozenset(), read_only, warning)
    roles = frozenset(
        role for role in ROLES if isinstance(data.get(role), list) and user in data[role]
    )
    return Access(user, roles, read_only)


def warn(access: Access) -> None:
    if access.warning:
        print(f"sheetstage: {access.warning}", file=sys.stderr)
