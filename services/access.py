"""Who is running sheetstage and what they may do (DESIGN.md "Roles and the shared host").

Identity is the operating-system account, never a flag or a variable; authority is proven by
file ownership, which only root can forge. `roles.toml` counts only as a regular file owned
by root or the workspace's owner that no one else can write. Privileged actions also refuse
while any file sheetstage believes or executes (.git/config, hooks, roles.toml, the config in
use) could have been written by someone else.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from services.errors import RefusedError, UsageError
from services.workspace import (
    UntrustedFile,
    Workspace,
    account_name,
    current_user,
    read_trusted,
    untrusted_reason,
)

DEVELOPER = "developer"
PRACTICE_MANAGER = "practice_manager"
SERVICE_ACCOUNT = "service_account"
ROLES = (DEVELOPER, PRACTICE_MANAGER, SERVICE_ACCOUNT)

_DEVELOPER_ACTIONS = frozenset(
    {
        "snapshot",
        "validate",
        "generate-test-data",
        "test",
        "request-review",
        "resync-staging",
        "adopt",
        "rollback-staging",
    }
)
CAPABILITIES: dict[str, frozenset[str]] = {
    DEVELOPER: _DEVELOPER_ACTIONS,
    PRACTICE_MANAGER: _DEVELOPER_ACTIONS
    | {
        "approve",
        "deploy",
        "rollback",
        "revert",
        "accept",
        "acknowledge",
        "registry",
        "finish-interrupted",
    },
    SERVICE_ACCOUNT: frozenset({"snapshot", "deploy-approved", "finish-interrupted"}),
}
PRIVILEGED = frozenset(
    {
        "approve",
        "deploy",
        "deploy-approved",
        "rollback",
        "revert",
        "accept",
        "acknowledge",
        "registry",
        "finish-interrupted",
    }
)
_WHO_MAY = {
    action: sorted(role for role, allowed in CAPABILITIES.items() if action in allowed)
    for action in {a for allowed in CAPABILITIES.values() for a in allowed}
}


def render_roles(user: str, accounts: dict[str, str] | None = None, **extra: list[str]) -> str:
    """A new roles.toml: `user` is the practice manager; `extra` adds people to roles."""
    roles = {role: list(extra.get(role, [])) for role in ROLES}
    roles[PRACTICE_MANAGER].insert(0, user)
    lines = [
        "# Who has which role, by operating-system account. sheetstage ignores this file unless",
        "# it is a regular file owned by root or the workspace's owner that no one else can",
        "# write (chmod 644). Anyone not listed is read-only.",
        *(f"{role} = [{', '.join(_quoted(u) for u in roles[role])}]" for role in ROLES),
        "",
        "# Each account's Google account (checked against Drive's permissions by `health`).",
        "[accounts]",
        *(f"{_quoted(u)} = {_quoted(a)}" for u, a in (accounts or {}).items()),
    ]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class RolesFile:
    """roles.toml as read; `problem` says why it does not count (everyone read-only)."""

    people: dict[str, frozenset[str]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    problem: str = ""

    def roles_of(self, user: str) -> frozenset[str]:
        return frozenset() if self.problem else self.people.get(user, frozenset())

    def holders(self, role: str) -> set[str]:
        if self.problem:
            return set()
        return {user for user, roles in self.people.items() if role in roles}

    @property
    def listed(self) -> set[str]:
        return set() if self.problem else set(self.people) | set(self.accounts)


def read_roles(workspace: Workspace) -> RolesFile:
    path = workspace.roles_path
    try:
        text = read_trusted(path, {0, workspace.owner_uid}, workspace.owner)
        data = tomllib.loads(text)
    except UntrustedFile as problem:
        return RolesFile(problem=f"{problem}; everyone is read-only until then")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return RolesFile(problem=f"{path} is unreadable ({error}); everyone is read-only")
    people: dict[str, set[str]] = {}
    for key, value in data.items():
        if key == "accounts":
            continue
        if key not in ROLES:
            return RolesFile(
                problem=f"{path}: unknown key {key!r} (roles are {', '.join(ROLES)}); fix it"
            )
        if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
            return RolesFile(problem=f"{path}: {key} must be a list of account names; fix it")
        for user in value:
            people.setdefault(user, set()).add(key)
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and "@" in v for k, v in accounts.items()
    ):
        return RolesFile(
            problem=f'{path}: [accounts] maps account names to e-mail addresses (dana = "..."); '
            "fix it"
        )
    return RolesFile({u: frozenset(r) for u, r in people.items()}, dict(accounts))


def config_problem(workspace: Workspace, config_file: Path) -> str:
    """Why the config in use cannot be trusted ("" when it can): it says where code, alerts
    and credentials go, so only root, the workspace's owner or the runner may have written it."""
    runner = os.geteuid()
    owners = {0, workspace.owner_uid, runner}
    return untrusted_reason(config_file, owners, account_name(runner))


def trust_problems(workspace: Workspace, config_file: Path) -> list[str]:
    """Files sheetstage executes or believes that someone else could have written."""
    owner = {0, workspace.owner_uid}
    candidates = [
        untrusted_reason(workspace.roles_path, owner, workspace.owner),
        workspace.git_config_problem(),
        *workspace.hook_problems(),
        config_problem(workspace, config_file),
        *workspace.uncommitted_problems(),
    ]
    problems = [problem for problem in candidates if problem]
    audit_dir = workspace.audit_dir
    try:
        info = audit_dir.stat()
    except FileNotFoundError:
        return problems
    if info.st_uid not in owner:
        problems.append(
            f"{audit_dir} is owned by {account_name(info.st_uid)}; only root or "
            f"{workspace.owner} may own it: put the trails back in a folder of theirs"
        )
    elif info.st_mode & stat.S_IWGRP and not info.st_mode & stat.S_ISVTX:
        problems.append(
            f"{audit_dir} lets members delete each other's trails; its owner should run "
            f"`chmod +t {audit_dir}`"
        )
    return problems


@dataclass(frozen=True)
class Access:
    user: str
    roles: frozenset[str]
    read_only: bool = False
    warning: str = ""  # why roles.toml does not count
    simulated: bool = False
    account: str = ""  # the person's Google account, from roles.toml
    untrusted: tuple[str, ...] = ()  # files privileged actions refuse to trust

    @property
    def role_text(self) -> str:
        return ", ".join(sorted(self.roles)) or "no role (read-only)"

    @property
    def who(self) -> str:
        return f"{self.user} (simulated)" if self.simulated else self.user

    def privileged(self, action: str) -> bool:
        """Actions that change production or grant something, and all a service account runs."""
        return action in PRIVILEGED or SERVICE_ACCOUNT in self.roles

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
                f"{action} refused: you are {self.who} with {self.role_text}; it needs {needed} "
                f"({fix})"
            )
        if self.privileged(action) and self.untrusted:
            more = len(self.untrusted) - 1
            also = f" (and {more} more: `sheetstage roles` lists them)" if more else ""
            raise RefusedError(
                f"{action} refused: {self.untrusted[0]}{also}; a file someone else could have "
                "written must not steer a privileged action"
            )


def load_access(
    workspace: Workspace,
    config_file: Path,
    backend: str,
    read_only: bool = False,
    as_user: str = "",
) -> Access:
    """The acting person's roles. `as_user` (emulator only) acts as a person of roles.toml."""
    runner = current_user()
    roles_file = read_roles(workspace)
    user, simulated = runner, False
    if as_user:
        check_simulation(workspace, roles_file, backend, as_user)
        user, simulated = as_user, True
    return Access(
        user=user,
        roles=roles_file.roles_of(user),
        read_only=read_only,
        warning=roles_file.problem,
        simulated=simulated,
        account=roles_file.accounts.get(user, ""),
        untrusted=tuple(trust_problems(workspace, config_file)),
    )


def check_simulation(workspace: Workspace, roles: RolesFile, backend: str, as_user: str) -> None:
    if backend != "emulator":
        raise UsageError(
            f'--as {as_user} refused: simulated people exist only with backend = "emulator"; '
            "on Google every person runs sheetstage under their own account"
        )
    if roles.problem:
        raise RefusedError(f"--as {as_user} refused: {roles.problem}")
    if as_user not in roles.listed:
        known = ", ".join(sorted(roles.listed)) or "nobody"
        raise UsageError(f"--as {as_user}: not in roles.toml (it lists {known}); pick one of them")
    if os.geteuid() != workspace.owner_uid:
        raise RefusedError(
            f"--as {as_user} refused: only the workspace's owner ({workspace.owner}) may act as "
            "simulated people, whose trails count only when that owner holds them"
        )


def simulated_people(roles: RolesFile, backend: str) -> set[str]:
    """People whose trail may be held by the workspace's owner (emulator backend only)."""
    return roles.listed if backend == "emulator" else set()
