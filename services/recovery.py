"""`init --from REMOTE` (DESIGN.md "Recovery and operations"): a workspace restored from its
off-site backup.

The clone is made beside the workspace's folder and checked before anything in it is used:
every trail's chain and the anchors its commits (and the remote) recorded. A backup that does
not verify is refused and nothing is left behind. Then, in the clone: run as root, each trail
file goes back to the OS user it names (a trail whose user has no account here is history
only); the HMAC key is restored from the administrator's copy or made anew (every finding id
is keyed, so the old acknowledgements then need renewing); the pre-commit hook is installed;
the clone is renamed into place; the backend is checked with one read.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services import audit
from services.access import PRACTICE_MANAGER, read_roles, simulated_people
from services.config import Config
from services.errors import JobFailedError, SheetstageError, UsageError
from services.progress import counted
from services.workspace import (
    AUDIT_DIR,
    INTERNAL,
    KEY_FILE,
    OWN_FILE,
    SHARED_DIR,
    SHARED_FILE,
    CloneError,
    Workspace,
    atomic_write,
    building,
    clone_backup,
    current_user,
    make_dirs,
    uid_of,
)


@dataclass
class Restored:
    """What `init --from` did, for the command to say."""

    root: Path
    commit: str
    trails: list[str] = field(default_factory=list)  # "audit/dana.jsonl: intact, 12 lines"
    history_only: list[str] = field(default_factory=list)  # trails that grant nothing here
    key: str = ""  # how the key came back
    renew: list[str] = field(default_factory=list)  # acknowledgements that need renewing
    backend: str = ""  # the read that checked Google (or the emulator)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def restore_workspace(
    config: Config, source: str, key_file: Path | None, say: Callable[[str], None] | None = None
) -> Restored:
    """`say` is told when the input is checked and the clone begins (it takes a while)."""
    root = config.workspace
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(
            f"a workspace already exists at {root}; init --from restores only into a new "
            "folder: point `workspace` in the config at one, or move the old one away"
        )
    key = _read_key(key_file) if key_file is not None else None
    if say is not None:
        say(f"restoring the workspace from {source}: its audit trail is verified first…")
    with building(root, "restore") as clone:
        restored = _restore_into(config, source, clone, root, key)
    _check_backend(config, restored)
    return restored


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileNotFoundError:
        raise UsageError(
            f"--key {path}: no such file; give the key file the administrator kept"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise UsageError(
            f"--key {path} is not a sheetstage key (64 hex digits, as .sheetstage/{KEY_FILE} "
            "holds); give the key file the administrator kept, or leave --key out for a new key"
        ) from None
    if len(key) != 32:
        raise UsageError(
            f"--key {path} holds {len(key)} bytes, not 32; give the key file the administrator "
            "kept, or leave --key out for a new key"
        )
    return key


def _restore_into(
    config: Config, source: str, clone: Path, root: Path, key: bytes | None
) -> Restored:
    """Clone into `clone`, verify, settle; messages name the files where they will be
    (`root`), not in the clone."""
    try:
        commit, links = clone_backup(source, clone)
    except CloneError as error:
        raise UsageError(
            f"cannot clone {source} ({error}); give the off-site backup's URL or path as "
            "`[git] remote` names it"
        ) from None
    workspace = Workspace(clone)
    if not commit or not workspace.registry_path.is_file():
        raise UsageError(f"{source} holds no sheetstage workspace (no registry.toml); nothing done")
    if links:  # sheetstage never commits one: whoever did wants root to follow it
        raise JobFailedError(
            f"the backup holds a symbolic link ({links[0]}), which sheetstage never commits; "
            "nothing was restored: have the backup examined first"
        )
    restored = Restored(root, commit)
    report = audit.verify(workspace, remote=source)
    if not any(c.person is not None for c in report.checks):
        raise JobFailedError(
            f"{source} holds no audit trail (audit/USER.jsonl), which every sheetstage "
            "workspace has from its first commit; nothing was restored"
        )
    breaks = [c for c in report.checks if c.broken_line is not None] + report.history
    if breaks:
        first = breaks[0]
        what = first.describe() if isinstance(first, audit.TrailCheck) else first
        more = f" (and {len(breaks) - 1} more)" if len(breaks) > 1 else ""
        raise JobFailedError(
            f"the backup's audit trail does not verify: {what}{more}; nothing was restored: "
            "restore from a backup whose trail verifies, or have the break examined first"
        )
    _settle_files(config, workspace, root, restored)
    simulated = simulated_people(read_roles(workspace), config.backend)
    witness = _witness(config, workspace, restored)
    report = audit.verify(workspace, simulated=simulated, witness=witness, remote=source)
    restored.trails = [check.describe() for check in report.checks]
    lacking = [c for c in report.checks if c.broken_line is not None]
    for check in lacking:  # only the activity log can tell: the backup lacks lines it holds
        restored.problems.append(
            f"{check.describe()}: the backup never received it (a push that failed); "
            f"{check.person}'s approvals and role count for nothing until that trail is "
            "restored from a copy that holds it"
        )
    _settle_key(workspace, root, key, report, restored)
    from services.jobs import pre_commit_hook

    workspace.install_pre_commit_hook(pre_commit_hook(config))
    workspace.close()
    return restored


def _witness(
    config: Config, workspace: Workspace, restored: Restored
) -> dict[str, set[str]] | None:
    """The activity log's line hashes (None when it cannot be read: said)."""
    from services.activity_log import read_log, witness_of
    from services.registry import load_registry
    from services.session import open_backend

    log_id = load_registry(workspace.registry_path).activity_log_spreadsheet_id
    if not log_id:
        return None
    try:
        backend = open_backend(config)
        try:
            return witness_of(read_log(backend.client, log_id))
        finally:
            backend.close()
    except Exception as error:  # the backend's own errors: said, the restore goes on
        describe = getattr(error, "describe", None)
        reason = describe() if callable(describe) else str(error)
        restored.notes.append(
            f"the activity log was not read ({reason}): lines the backup lacks cannot be "
            "told; run `sheetstage audit verify` once Google answers"
        )
        return None


def _settle_files(config: Config, workspace: Workspace, final: Path, restored: Restored) -> None:
    """Modes as `init` makes them (no symbolic link is in the clone: refused before); as
    root, each trail goes back to the person it names."""
    root = workspace.root
    with workspace.repo.config_writer() as settings:
        settings.set_value("user", "name", "sheetstage")
        settings.set_value("user", "email", f"sheetstage@{socket.gethostname()}")
    for folder, subfolders, files in os.walk(root):
        os.chmod(folder, SHARED_DIR)
        for name in files:
            path = Path(folder) / name
            os.chmod(path, (path.stat().st_mode & 0o111) | SHARED_FILE)
        subfolders.sort()
    os.chmod(root / ".git" / "config", OWN_FILE)
    os.chmod(workspace.audit_dir, AUDIT_DIR)
    for folder in ("locks", "cache"):
        make_dirs(root / INTERNAL / folder)
    with contextlib.suppress(FileNotFoundError):
        os.chmod(workspace.roles_path, OWN_FILE)
    simulated = simulated_people(read_roles(workspace), config.backend)
    me = current_user()
    for trail in sorted(workspace.audit_dir.glob("*.jsonl")):
        os.chmod(trail, OWN_FILE)
        person = trail.stem
        if trail.name == "audit.jsonl" or person == me or person in simulated:
            continue  # legacy history; the runner's own; the emulator's simulated people
        uid = uid_of(person)
        shown = final / trail.relative_to(root)
        if uid is None:
            restored.history_only.append(
                f"audit/{trail.name}: {person} has no account here, so it is history only "
                f"(grants nothing) until `useradd {person}` and `chown {person} {shown}`"
            )
        elif os.geteuid() == 0:
            os.chown(trail, uid, -1)
        else:
            restored.history_only.append(
                f"audit/{trail.name}: restored by {me}, not root, so it is not {person}'s "
                f"and grants nothing until root runs `chown {person} {shown}`"
            )


def _settle_key(
    workspace: Workspace,
    final: Path,
    key: bytes | None,
    report: audit.AuditReport,
    restored: Restored,
) -> None:
    path = workspace.internal / KEY_FILE
    if key is not None:
        atomic_write(path, (key.hex() + "\n").encode("ascii"), mode=0o640)
        restored.key = "the HMAC key restored from the administrator's copy"
        return
    workspace.hmac_key()  # made anew
    restored.key = (
        f"a new HMAC key was made (no --key): every finding id changes, so keep a copy of "
        f"{final / INTERNAL / KEY_FILE} with the administrator"
    )
    roles = read_roles(workspace)
    for entry in report.counting(roles.holders(PRACTICE_MANAGER), "acknowledge"):
        restored.renew.append(
            f"{entry.event_id}: finding {entry.hashes.get('finding', '?')} of sheet "
            f"{', '.join(f'{n:03d}' for n in entry.sheets)} acknowledged by {entry.user}: "
            "validate the sheet and acknowledge its finding again"
        )


def _check_backend(config: Config, restored: Restored) -> None:
    """One read of the first registered sheet's production script, as every command makes."""
    from services.session import session

    try:
        with session(config, read_only=True) as opened:
            sheets = opened.registry.sheets
            if not sheets:
                restored.backend = "no sheets registered: the backend was not asked"
                return
            sheet = sheets[0]
            opened.client.get_project(sheet.prod_script_id)
            where = "the emulator" if config.backend == "emulator" else "Google"
            restored.backend = (
                f"{where} answers: sheet {sheet.key}'s production script read; "
                f"{counted(len(sheets), 'sheet')} registered"
            )
    except SheetstageError as error:
        restored.problems.append(f"the backend did not answer: {error}")
    except Exception as error:  # a GoogleApiError or a transport failure: said, not raised
        describe = getattr(error, "describe", None)
        reason = describe() if callable(describe) else str(error)
        restored.problems.append(
            f"the backend did not answer ({reason}); the workspace is restored: fix the "
            "credentials or the network, then run `sheetstage health`"
        )
