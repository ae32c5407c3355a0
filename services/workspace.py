"""The workspace: a git repository of both environments' code (the only module that talks to
git), with atomic file writes, the exact Apps Script <-> disk round trip and the locks."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import grp
import json
import os
import pwd
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import filelock
import git

from services import crashpoints
from services.chain import ANCHOR_TRAILER, anchor_line, parse_anchor
from services.errors import JobFailedError, LockHeldError, RefusedError, UsageError
from services.models import Environment, FileType, ScriptFile, Sheet

ORDER_FILE = ".sheetstage-files.json"  # the project's file order (Apps Script runs files in it)
KEY_FILE = "hmac.key"  # the local secret for HMACs of identifiers; never in git
INTERNAL = ".sheetstage"
SHARED_GROUP = "sheetstage"
_EXTENSIONS = {FileType.SERVER_JS: ".gs", FileType.HTML: ".html"}


@dataclass(frozen=True)
class Staged:
    """What the next commit adds or changes: (path, git object id) pairs, and a reader of
    objects' bytes (all those asked for in one go)."""

    files: list[tuple[str, str]]
    read: Callable[[Sequence[str]], list[bytes]]


class UnsafeFileName(ValueError):
    """A file name from the API that would leave its sheet folder."""


class PushError(RuntimeError):
    """The off-site backup rejected or failed a push."""


SHARED_FILE = 0o664  # files any member's run may rewrite
OWN_FILE = 0o644  # trails, roles.toml, .git/config: only their owner writes them
SHARED_DIR = 0o2775  # setgid: new files inherit the workspace's group
AUDIT_DIR = 0o3775  # setgid + sticky: no one deletes or replaces another person's trail
HOOK_MODE = 0o755
GIT_LOCK_NAMES = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock")


def make_dirs(path: Path, mode: int = SHARED_DIR) -> None:
    """Create missing folders group-shared (setgid, group-writable) whatever the umask, so
    another member's run can write in them."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        os.chmod(folder, mode)


def atomic_write(path: Path, data: bytes, mode: int = SHARED_FILE, durable: bool = True) -> None:
    """Write via a temporary file in the same folder and a rename: never a half-written file.
    `durable` syncs the data to the disk before the rename; a batch of writes passes False
    and calls `sync_to_disk` once after the last (one sync instead of one per file)."""
    make_dirs(path.parent)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # Linux: one file system only
    except (OSError, AttributeError):
        return None


def sync_to_disk(path: Path) -> None:
    """Everything written on the file system holding `path` reaches the disk (syncfs, or sync
    where there is none): after it, a power cut loses none of a batch of writes."""
    syncfs = _syncfs()
    if syncfs is not None:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            if syncfs(descriptor) == 0:
                return
        finally:
            os.close(descriptor)
    os.sync()


def account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def untrusted_reason(path: Path, trusted_uids: Collection[int], owner: str) -> str:
    """Why a file that sheetstage believes or executes cannot be trusted ("" when it can): it
    must be a regular file (not a symlink), owned by a trusted account (`owner` names the one
    to give it to), and writable by no one else. The reason names the fix."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"{path} is missing"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link; only a regular file counts: replace the link"
    return _untrusted_stat(path, info, trusted_uids, owner)


def _untrusted_stat(
    path: Path, info: os.stat_result, trusted_uids: Collection[int], owner: str
) -> str:
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file; move it away"
    if info.st_uid not in trusted_uids:
        who = "root" if owner == "root" else f"root or {owner}"
        return (
            f"{path} is owned by {account_name(info.st_uid)}; only {who} may own it: "
            f"check its content, then `chown {owner} {path}`"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by users other than its owner; run `chmod go-w {path}`"
    return ""


class UntrustedFile(Exception):
    """A file sheetstage was about to believe, that someone else could have written."""


def read_trusted(path: Path, trusted_uids: Collection[int], owner: str) -> str:
    """A trusted file's text, checked and read through one descriptor (never a symlink), so
    it cannot be swapped between the check and the read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise UntrustedFile(f"{path} is missing") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UntrustedFile(
                f"{path} is a symbolic link; only a regular file counts: replace the link"
            ) from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        problem = _untrusted_stat(path, os.fstat(descriptor), trusted_uids, owner)
        if problem:
            raise UntrustedFile(problem)
        return handle.read().decode("utf-8")


def masked_name(name: object) -> str:
    """A refused file name as messages may show it: letters and digits masked like PHI
    findings, control characters as `?`, so no identifier a name carries is echoed."""
    text = name if isinstance(name, str) else repr(name)
    shown = "".join("*" if c.isalnum() else "?" if not c.isprintable() else c for c in text[:80])
    return shown + ("…" if len(text) > 80 else "")


def disk_name(name: object, file_type: FileType) -> str:
    """Apps Script file -> path inside the sheet folder (`lib/format` -> `lib/format.gs`)."""
    if file_type is FileType.JSON:
        if name != "appsscript":
            raise UnsafeFileName(
                f"a JSON file named {masked_name(name)!r} is not the manifest 'appsscript'"
            )
        return "appsscript.json"
    if not isinstance(name, str) or not name:
        raise UnsafeFileName("a file has an empty name")
    unsafe = "\x00" in name or "\\" in name or name.startswith("/")
    unsafe = unsafe or any(not c.isprintable() for c in name)
    if unsafe or any(part in ("", ".", "..") for part in name.split("/")):
        raise UnsafeFileName(f"file name {masked_name(name)!r} would leave the sheet folder")
    if not PurePosixPath(name).parts:
        raise UnsafeFileName("a file has an empty name")
    return name + _EXTENSIONS[file_type]


def load_or_create_key(path: Path) -> bytes:
    """A 32-byte secret, created on first use (0640: the workspace's group shares it)."""
    try:
        return _create_key(path)
    except PermissionError as error:
        raise UsageError(
            f"{error.filename or path} cannot be read or created ({error.strerror}); a member of "
            "the workspace's group can read its key: ask its owner to add you to the group"
        ) from None


def _create_key(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise UsageError(
            f"{path} is not a sheetstage key; move it away to create a new one"
        ) from None
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor, temporary = tempfile.mkstemp(prefix=".key.", dir=path.parent)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    os.chmod(temporary, 0o640)
    try:
        os.link(temporary, path)  # never replaces a key another process just made
    except FileExistsError:
        os.unlink(temporary)
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    os.unlink(temporary)
    return key


def current_user() -> str:
    """The operating-system account running sheetstage: who someone is, here."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise UsageError(
            f"your user id {uid} has no account name (no passwd entry); sheetstage tells people "
            "apart by account: run it under a named account"
        ) from None


def uid_of(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


@dataclass(frozen=True)
class CommitAnchors:
    """A commit and the trail heads its `Audit-Heads:` trailers recorded (None: no trailer,
    a commit not made by sheetstage)."""

    commit: str
    parents: tuple[str, ...]
    heads: dict[str, tuple[int, str]] | None


@dataclass(frozen=True)
class TagInfo:
    name: str
    commit: str
    time: str
    message: str


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: git.Repo | None = None
        self._lock = filelock.FileLock(
            str(self.internal / "locks" / "workspace.lock"), mode=SHARED_FILE, is_singleton=False
        )
        self.notices: list[str] = []  # what recovery did, for the caller to show
        self._checked_config: tuple[int, ...] | None = None

    # layout ------------------------------------------------------------------------------

    @property
    def registry_path(self) -> Path:
        return self.root / "registry.toml"

    @property
    def roles_path(self) -> Path:
        return self.root / "roles.toml"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def legacy_audit_path(self) -> Path:
        """The single trail of earlier versions: kept as history, grants nothing."""
        return self.audit_dir / "audit.jsonl"

    def trail_path(self, person: str) -> Path:
        return self.audit_dir / f"{person}.jsonl"

    @property
    def internal(self) -> Path:
        return self.root / INTERNAL

    @property
    def owner_uid(self) -> int:
        return self.root.stat().st_uid

    @property
    def owner(self) -> str:
        return account_name(self.owner_uid)

    def hmac_key(self) -> bytes:
        return load_or_create_key(self.internal / KEY_FILE)

    def folder(self, sheet: Sheet, env: Environment) -> Path:
        return self.root / sheet.folder(env)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        workspace = cls(root)
        if not (root / ".git").is_dir() or not workspace.registry_path.is_file():
            raise UsageError(
                f"no sheetstage workspace at {root}; run `sheetstage init` "
                "(or `sheetstage init --demo`), or fix `workspace` in the config"
            )
        if not os.access(root, os.R_OK | os.X_OK):
            raise UsageError(f"workspace {root} is not readable; ask its owner for group access")
        return workspace

    @classmethod
    def create(
        cls,
        root: Path,
        files: dict[str, bytes],
        *,
        own_files: Collection[str] = (),
        remote: str = "",
        user: str = "",
        hook: str = "",
    ) -> Workspace:
        """A new workspace holding `files` (relative path -> bytes) in its first commit;
        `own_files` are written 0644 (only their owner may change them), the rest group-shared.

        Refuses an existing workspace. Built in a temporary sibling folder and renamed into
        place, so a failure leaves nothing behind."""
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise UsageError(
                f"{root} already exists and is not empty; init never touches an existing "
                "workspace: choose another `workspace` path or remove it yourself"
            )
        with building(root, "init") as staging:
            os.chmod(staging, SHARED_DIR)
            repo = git.Repo.init(staging, initial_branch="main", shared="group")
            with repo.config_writer() as config:
                config.set_value("user", "name", "sheetstage")
                config.set_value("user", "email", f"sheetstage@{socket.gethostname()}")
                config.set_value("core", "sharedRepository", "group")
            repo.close()
            os.chmod(staging / ".git" / "config", OWN_FILE)
            make_dirs(staging / "audit", AUDIT_DIR)
            for relative, data in files.items():
                mode = OWN_FILE if relative in own_files else SHARED_FILE
                atomic_write(staging / relative, data, mode)
            atomic_write(staging / ".gitignore", f"/{INTERNAL}/\n".encode())
            for folder in ("locks", "cache"):
                make_dirs(staging / INTERNAL / folder)
            load_or_create_key(staging / INTERNAL / KEY_FILE)
            workspace = cls(staging)
            if hook:
                workspace.install_pre_commit_hook(hook)
            workspace.commit("init: sheetstage workspace", [*files, ".gitignore"], user=user)
            workspace.close()
            if remote:
                create_backup_remote(remote)
        return cls(root)

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    # locks -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 15.0) -> Iterator[None]:
        """The workspace lock: serialises every write (snapshots, batch, deploys). Reads never
        take it."""
        make_dirs(self.internal / "locks")
        try:
            self._lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockHeldError(
                f"another sheetstage run holds the workspace lock "
                f"({self._lock.lock_file}); wait for it to finish and run again"
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def sheet_lock(self, sheet: Sheet, timeout: float = 0.0) -> Iterator[None]:
        """The per-sheet lock: one deploy of a sheet at a time."""
        path = self.internal / "locks" / f"sheet-{sheet.key}.lock"
        make_dirs(path.parent)
        lock = filelock.FileLock(str(path), mode=SHARED_FILE, is_singleton=False)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockHeldError(
                f"sheet {sheet.key} is being deployed by another session ({path}); "
                "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            lock.release()

    # project files -----------------------------------------------------------------------

    def plan_project(self, sheet: Sheet, env: Environment, files: Sequence[ScriptFile]) -> None:
        """Raise UnsafeFileName if any file would land outside the sheet's folder: a name
        that climbs out (`disk_name` refuses those) or a symbolic link on its way there (the
        sheet folder itself included: the workspace is group-writable)."""
        folder = sheet.folder(env)
        if self.linked(folder):
            raise UnsafeFileName(f"{folder} holds a symbolic link: replace it with a folder")
        seen: set[str] = set()
        for f in files:
            relative = disk_name(f.name, f.type)
            if relative in seen:
                raise UnsafeFileName(f"two files map to {masked_name(relative)!r}")
            seen.add(relative)
            if self.linked(f"{folder}/{relative}"):
                raise UnsafeFileName(
                    f"file name {masked_name(f.name)!r} would leave the sheet folder "
                    "through a symbolic link"
                )

    def linked(self, relative: str) -> bool:
        """Whether a symbolic link stands on the way to `relative` (a path inside the
        workspace) or is the path itself: nothing is written or committed through one."""
        path = str(self.root)  # plain strings: thousands of paths a run, no Path objects
        for part in relative.split("/"):
            path = os.path.join(path, part)
            if os.path.islink(path):
                return True
        return False

    def write_project(
        self,
        sheet: Sheet,
        env: Environment,
        files: Sequence[ScriptFile],
        durable: bool = True,
    ) -> bool:
        """Write a project's files exactly as the API gave them and remove any other file in
        its folder; True if anything changed. Many projects written together pass `durable`
        False and call `sync_to_disk` after the last."""
        self.plan_project(sheet, env, files)
        folder = self.folder(sheet, env)
        changed = False
        wanted: set[Path] = set()
        for f in files:
            path = folder / disk_name(f.name, f.type)
            wanted.add(path)
            data = f.source.encode("utf-8")
            if not path.is_file() or path.read_bytes() != data:
                atomic_write(path, data, durable=durable)
                changed = True
        order_path = folder / ORDER_FILE
        wanted.add(order_path)
        index = order_index(files)
        if not order_path.is_file() or order_path.read_bytes() != index:
            atomic_write(order_path, index, durable=durable)
            changed = True
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
            elif path not in wanted:
                path.unlink()
                changed = True
        return changed

    def read_project(self, sheet: Sheet, env: Environment) -> list[ScriptFile] | None:
        """The files of a snapshotted project, byte-exact and in Apps Script order."""
        folder = self.folder(sheet, env)
        try:
            order = json.loads((folder / ORDER_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        files = []
        for entry in order:
            file_type = FileType(entry["type"])
            data = (folder / disk_name(entry["name"], file_type)).read_bytes()
            files.append(ScriptFile(entry["name"], file_type, data.decode("utf-8")))
        return files

    def project_files(self, sheet: Sheet, env: Environment) -> list[str]:
        """The project's files as named on disk, in Apps Script order (its order file says
        which); [] when the folder holds no readable project."""
        try:
            order = json.loads((self.folder(sheet, env) / ORDER_FILE).read_text("utf-8"))
            return [disk_name(entry["name"], FileType(entry["type"])) for entry in order]
        except (OSError, ValueError, KeyError, TypeError, UnsafeFileName):
            return []

    def project_on_disk(self, sheet: Sheet, env: Environment) -> list[ScriptFile] | None:
        """The project's files if its folder holds exactly them (no stray, missing or
        undecodable file); None otherwise, so the next snapshot fetches it again."""
        folder = self.folder(sheet, env)
        try:
            files = self.read_project(sheet, env)
        except (OSError, ValueError, KeyError, TypeError, UnsafeFileName):
            return None
        if files is None:
            return None
        expected = {ORDER_FILE, *(disk_name(f.name, f.type) for f in files)}
        present = {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}
        return files if present == expected else None

    # git ---------------------------------------------------------------------------------

    @property
    def repo(self) -> git.Repo:
        """The repository, opened only while what git reads from it can be trusted: git runs
        what .git/config names (filters, pagers), and sheetstage runs git as whoever runs it.
        The check is repeated whenever .git/config is another file than the one checked."""
        config = self.root / ".git" / "config"
        try:
            info = os.lstat(config)
            seen: tuple[int, ...] | None = (
                info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode, info.st_uid
            )  # fmt: skip
        except FileNotFoundError:
            seen = None
        if self._repo is not None and seen == self._checked_config:
            return self._repo
        problem = self.git_config_problem()
        if problem:
            raise RefusedError(f"git refused: {problem}")
        self._checked_config = seen
        if self._repo is None:
            self._repo = git.Repo(self.root)
            git_dir = str(self.root / ".git")
            # the repository is this folder's .git and nothing it points elsewhere (commondir)
            self._repo.git.update_environment(
                GIT_DIR=git_dir,
                GIT_COMMON_DIR=git_dir,
                GIT_WORK_TREE=str(self.root),
                GIT_LITERAL_PATHSPECS="1",  # file names from Google are names, not patterns
            )
            # hooks are for people committing by hand: sheetstage scans what it stages itself
            self._repo.git.set_persistent_git_options(
                c=[
                    f"safe.directory={self.root}",  # a group-shared workspace has one owner
                    "core.hooksPath=/dev/null",
                    "core.fsmonitor=false",
                ],
                no_optional_locks=True,
            )
        return self._repo

    def git_config_problem(self) -> str:
        """Why what git reads from .git cannot be trusted, or ""."""
        git_dir = self.root / ".git"
        path = git_dir / "config"
        problem = untrusted_reason(path, {0, self.owner_uid}, self.owner)
        if problem:
            return problem
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        if "[include" in text:
            return f"{path} includes other files ([include]); remove that section"
        if (git_dir / "commondir").exists():
            return f"{git_dir / 'commondir'} points git elsewhere; remove it"
        return ""

    def uncommitted_problems(self) -> list[str]:
        """registry.toml and roles.toml change only through their own commands or a reviewed
        commit: before a privileged action believes them, each must be what was committed."""
        if self.git_config_problem() or self.head() is None:
            return []  # git cannot be asked (reported apart), or nothing was committed yet
        return [
            f"{self.root / name} differs from the last commit (never reviewed, or someone "
            f"changed git's copy): see `git diff {name}`, then commit it by hand or "
            f"`git checkout -- {name}`"
            for name in self.changed_paths(["registry.toml", "roles.toml"])
        ]

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def hook_problems(self) -> list[str]:
        hooks = self.root / ".git" / "hooks"
        if not hooks.is_dir():
            return []
        return [
            problem
            for path in sorted(hooks.iterdir())
            if not path.name.endswith(".sample")
            for problem in [untrusted_reason(path, {0, self.owner_uid}, self.owner)]
            if problem
        ]

    def recover_git_locks(self) -> list[str]:
        """Remove lock files a killed git left in .git, when no running git can hold them."""
        git_dir = self.root / ".git"
        present = [git_dir / name for name in GIT_LOCK_NAMES if (git_dir / name).exists()]
        present += sorted((git_dir / "refs").rglob("*.lock"))
        if not present:
            return []
        held = _locks_held_by_running_git(present)
        notices = []
        for lock in present:
            shown = lock.relative_to(self.root)
            if lock in held:
                notices.append(f"{shown} is held by a running git ({held[lock]}); left alone")
                continue
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            notices.append(f"removed {shown}, left behind by an interrupted git")
        self.notices += notices
        return notices

    def changed_paths(self, paths: Sequence[str]) -> list[str]:
        """Paths under `paths` whose files differ from the last commit (untracked included)."""
        if not paths:
            return []
        out = self.repo.git.status(
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            *paths,
            strip_newline_in_stdout=False,
        )
        tokens = out.split("\0")
        changed, skip = [], False
        for token in tokens:
            if skip:
                skip = False
                continue
            if len(token) < 4:
                continue
            changed.append(token[3:])
            skip = token[0] in "RC"  # a rename's old name follows
        return changed

    def staged(self) -> Staged:
        """What the index adds or changes for the next commit: each path with its blob id."""
        # `--raw` names each staged blob: no parse of the whole index (thousands of entries)
        listing = self.repo.git.diff(
            "--cached", "--raw", "--no-abbrev", "--no-renames", "--diff-filter=ACM", "-z"
        )
        fields = listing.split("\0")
        names = fields[1::2]
        blobs = [header.split()[3] for header in fields[0:-1:2]]  # ":mode mode sha sha status"
        return Staged(list(zip(names, blobs, strict=True)), self.read_blobs)

    def staged_files(self) -> list[tuple[str, bytes]]:
        """The staged files with their bytes."""
        staged = self.staged()
        names = [name for name, _ in staged.files]
        return list(zip(names, staged.read([blob for _, blob in staged.files]), strict=True))

    def read_blobs(self, blobs: Sequence[str]) -> list[bytes]:
        """The bytes of git objects, asked for all at once (one request and answer, not one
        per object)."""
        if not blobs:
            return []
        with tempfile.TemporaryFile() as asked:
            asked.write("".join(f"{blob}\n" for blob in blobs).encode("ascii"))
            asked.seek(0)
            answer = self.repo.git.cat_file(
                "--batch", istream=asked, stdout_as_string=False, strip_newline_in_stdout=False
            )
        contents, at = [], 0
        for blob in blobs:
            end = answer.index(b"\n", at)
            header = answer[at:end].split()
            if len(header) != 3 or header[0].decode() != blob:
                raise JobFailedError(f"git could not read object {blob} ({header[-1].decode()})")
            size = int(header[2])
            contents.append(answer[end + 1 : end + 1 + size])
            at = end + 1 + size + 1  # the object, then a newline
        return contents

    def install_pre_commit_hook(self, script: str) -> None:
        """The hook for people committing by hand; written only by the workspace's owner (a
        hook anyone else wrote would be untrusted)."""
        hook = self.root / ".git" / "hooks" / "pre-commit"
        if hook.is_file() and hook.read_text(encoding="utf-8") == script:
            return
        if os.geteuid() != self.owner_uid:
            return  # a hook anyone else wrote would be untrusted
        atomic_write(hook, script.encode("utf-8"), mode=HOOK_MODE)

    def commit(
        self,
        message: str,
        paths: Sequence[str],
        user: str = "",
        check_staged: Callable[[Staged], None] | None = None,
    ) -> str | None:
        """Stage exactly `paths` (deletions too; nothing else, whatever the index held), let
        `check_staged` refuse what is staged, anchor every trail in an `Audit-Heads:` trailer
        and commit. None when nothing changed. The caller holds the workspace lock."""
        self.recover_git_locks()
        repo = self.repo
        try:
            if self.head() is not None:
                repo.git.reset("-q")  # the index a killed run left is not ours to commit
            present = [p for p in paths if (self.root / p).exists() or self._tracked(p)]
            if present:
                repo.git.add("-A", "--", *present)
            crashpoints.reached("git-add")
            try:
                repo.git.diff("--cached", "--quiet")
                return None
            except git.GitCommandError:
                pass  # exit 1: something is staged
            if check_staged is not None:
                try:
                    check_staged(self.staged())
                except BaseException:
                    if self.head() is not None:
                        repo.git.reset("-q")
                    raise
            anchors = "\n".join(self._anchor_lines())
            return self._commit_index(f"{message.rstrip()}\n\n{anchors}", user)
        except git.GitCommandError as error:
            raise JobFailedError(
                f"git refused the commit ({_git_reason(error)}); nothing was committed"
            ) from None

    def _commit_index(self, message: str, user: str) -> str:
        """Commit the index with git's plumbing (write-tree, commit-tree, update-ref): no hook
        can run, and no file left by another member's commit (COMMIT_EDITMSG) is needed."""
        repo = self.repo
        parent = self.head()
        author = user or current_user()
        identity = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": f"{author}@{socket.gethostname()}",
        }
        tree = repo.git.write_tree()
        parents = ["-p", parent] if parent else []
        commit = repo.git.commit_tree(tree, *parents, "-m", message, env=identity)
        title = message.splitlines()[0] if message else ""
        repo.git.update_ref("-m", f"commit: {title}", "HEAD", commit, parent or "0" * 40)
        return str(commit)

    def _tracked(self, path: str) -> bool:
        return bool(self.repo.git.ls_files("--", path))

    def _anchor_lines(self) -> list[str]:
        """`Audit-Heads: audit/NAME.jsonl COUNT HASH` for every trail in the index."""
        listing = self.repo.git.ls_files("-s", "-z", "--", "audit")
        lines = []
        for record in filter(None, listing.split("\0")):
            info, path = record.split("\t", 1)
            if not path.endswith(".jsonl") or path.count("/") != 1:
                continue
            sha = info.split()[1]
            data = self.repo.odb.stream(bytes.fromhex(sha)).read()
            lines.append(anchor_line(path, data))
        return lines

    def anchor_history(self, revision: str = "HEAD") -> list[CommitAnchors]:
        """Every commit reachable from `revision`, newest first, with its recorded anchors."""
        if self.head() is None:
            return []
        fmt = f"%H%x1f%P%x1f%(trailers:key={ANCHOR_TRAILER},valueonly,separator=%x1e)%x1d"
        out = self.repo.git.log(f"--format={fmt}", revision, strip_newline_in_stdout=False)
        history = []
        for record in out.split("\x1d"):
            record = record.strip("\n")
            if not record:
                continue
            commit, parents, trailers = ([*record.split("\x1f"), "", ""])[:3]
            heads: dict[str, tuple[int, str]] | None = None
            values = [v.strip() for v in trailers.split("\x1e") if v.strip()]
            if values:
                heads = {}
                for value in values:
                    parsed = parse_anchor(value)
                    if parsed is not None:
                        heads[parsed[0]] = (parsed[1], parsed[2])
            history.append(CommitAnchors(commit, tuple(parents.split()), heads))
        return history

    def tag(self, name: str, message: str, revision: str, user: str = "") -> None:
        """An annotated tag (who, why, content hash in its message); never moved once made."""
        author = user or current_user()
        identity = {
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": f"{author}@{socket.gethostname()}",
        }
        self.repo.git.tag("-a", name, revision, "-m", message, env=identity)

    def tags(self, pattern: str) -> list[TagInfo]:
        """Annotated tags matching `pattern` (a glob), each with its commit and message."""
        fmt = "%(refname:short)%1f%(*objectname)%1f%(taggerdate:iso-strict)%1f%(contents)%1e"
        out = self.repo.git.for_each_ref(
            f"--format={fmt}", f"refs/tags/{pattern}", strip_newline_in_stdout=False
        )
        found = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 4 and fields[1]:  # a lightweight tag has no peeled commit
                found.append(TagInfo(fields[0], fields[1], fields[2], fields[3].strip()))
        return found

    def read_project_at(
        self, revision: str, sheet: Sheet, env: Environment
    ) -> list[ScriptFile] | None:
        """A project's files as a commit holds them, byte-exact and in Apps Script order."""
        folder = sheet.folder(env)
        order_data = self.file_at(revision, f"{folder}/{ORDER_FILE}")
        if order_data is None:
            return None
        files = []
        for entry in json.loads(order_data.decode("utf-8")):
            file_type = FileType(entry["type"])
            data = self.file_at(revision, f"{folder}/{disk_name(entry['name'], file_type)}")
            if data is None:
                return None
            files.append(ScriptFile(entry["name"], file_type, data.decode("utf-8")))
        return files

    def commits_touching(self, path: str, limit: int = 200) -> list[str]:
        """The newest commits (at most `limit`) that changed anything under `path`."""
        out = self.repo.git.log("--format=%H", f"-n{limit}", "--", path)
        return out.split()

    def file_at(self, revision: str, path: str) -> bytes | None:
        """A file's exact bytes in a commit; None when the commit does not hold it."""
        try:
            return self.repo.commit(revision).tree[path].data_stream.read()
        except (KeyError, ValueError, git.BadName):
            return None

    def remote_head(self, url: str) -> str:
        """The backup's main commit, fetched here when missing (objects only, no ref moves);
        raises PushError when the backup cannot be reached."""
        try:
            listing = self.repo.git.ls_remote(url, "refs/heads/main", kill_after_timeout=60)
            sha = listing.split()[0] if listing.strip() else ""
            if sha and not self._has_object(sha):
                self.repo.git.fetch(
                    "--quiet",
                    "--no-write-fetch-head",
                    url,
                    "refs/heads/main",
                    kill_after_timeout=300,
                )
        except git.GitCommandError as error:
            raise PushError(f"{url} cannot be read: {_git_reason(error)}") from None
        return sha

    def _has_object(self, sha: str) -> bool:
        try:
            self.repo.git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    def head(self) -> str | None:
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None

    def commit_paths(self, revision: str) -> list[str]:
        """Paths a commit changed."""
        return self.repo.git.show("--name-only", "--format=", revision).split()

    def damage(self) -> str:
        """What `git fsck` finds damaged in the object store, or that HEAD names no commit, from
        git's first lines ("": none)."""
        try:
            self.repo.git.fsck("--no-dangling", "--no-progress", kill_after_timeout=600)
            self.repo.git.rev_list("--count", "HEAD")
        except git.GitCommandError as error:
            lines = [line.strip() for line in str(error.stderr or "").splitlines() if line.strip()]
            return "; ".join(lines[:2]) or f"exit {error.status}"
        return ""

    def ahead_behind(self, other: str) -> tuple[int, int]:
        """Commits HEAD has that `other` lacks, and the other way round."""
        counts = self.repo.git.rev_list("--left-right", "--count", f"HEAD...{other}")
        ahead, behind = (int(n) for n in counts.split())
        return ahead, behind

    def commit_count(self) -> int:
        return int(self.repo.git.rev_list("--count", "HEAD"))

    def push(self, remote_url: str) -> None:
        """Push main (and tags) to the off-site backup by URL (sheetstage never writes
        .git/config after init); a rejection raises PushError."""
        refspecs = ["refs/heads/main:refs/heads/main", "refs/tags/*:refs/tags/*"]
        try:
            self.repo.git.push("--porcelain", remote_url, *refspecs, kill_after_timeout=300)
        except git.GitCommandError as error:
            rejected = [
                line.split("\t")
                for line in str(error.stdout or "").splitlines()
                if line.startswith("!")
            ]
            if rejected:
                fields = rejected[0] + ["", ""]
                raise PushError(
                    f"push to {remote_url} rejected for {fields[1].split(':')[-1]}: "
                    f"{fields[2].strip() or 'refused'}"
                ) from None
            local = _local_path(remote_url)
            if local is not None and not local.exists():
                raise PushError(
                    f"push to {remote_url} failed: no repository there; fix `[git] remote`, or "
                    f"create it: `git init --bare {local}` and `git -C {local} config "
                    "receive.denyNonFastForwards true`"
                ) from None
            raise PushError(f"push to {remote_url} failed: {_git_reason(error)}") from None


def _git_reason(error: git.GitCommandError) -> str:
    lines = [line for line in str(error.stderr or "").splitlines() if line.strip()]
    if not lines:
        return f"git exited {error.status}"
    return lines[-1].strip().removeprefix("stderr: ").strip("'").strip()


class CloneError(RuntimeError):
    """A clone git refused; the message is git's reason."""


def clone_backup(source: str, clone: Path) -> tuple[str, list[str]]:
    """Clone the off-site backup into `clone` with no hook or fsmonitor running (set for this
    clone, not kept) and objects group-writable, as `init` makes them. Returns its head commit
    ("" when it has none) and the paths of the symbolic links it holds."""
    try:
        git.Git().execute(
            [
                "git",
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
                "clone",
                "--quiet",
                "--no-hardlinks",
                "--origin=backup",
                "--branch=main",
                "--config=core.sharedRepository=group",
                source,
                str(clone),
            ]
        )
        repo = git.Repo(clone)
    except git.GitCommandError as error:
        raise CloneError(_git_reason(error)) from None
    try:
        commit = repo.head.commit.hexsha if repo.head.is_valid() else ""
        links = [
            line.split("\t", 1)[1]
            for line in repo.git.ls_files("-s").splitlines()
            if line.startswith("120000 ")
        ]
    finally:
        repo.close()
    return commit, links


def git_failure(error: BaseException) -> str | None:
    """Why a git command failed, from the last line git wrote; None when `error` is not git's."""
    return _git_reason(error) if isinstance(error, git.GitCommandError) else None


def _locks_held_by_running_git(locks: Sequence[Path]) -> dict[Path, str]:
    """Locks a running git process may hold. A git whose open files this account cannot see
    (another user's) is assumed to hold all of them."""
    wanted = {os.path.realpath(lock): lock for lock in locks}
    held: dict[Path, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if not os.path.basename(argv0).startswith(b"git"):
            continue
        try:
            targets = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except PermissionError:
            for lock in locks:
                held[lock] = f"pid {proc.name}, another account's"
            continue
        except OSError:
            continue
        for target in targets:
            if os.path.realpath(target) in wanted:
                held[wanted[os.path.realpath(target)]] = f"pid {proc.name}"
    return held


def order_index(files: Sequence[ScriptFile]) -> bytes:
    order = [{"name": f.name, "type": str(f.type)} for f in files]
    return (json.dumps(order, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if "://" in url or (":" in url.split("/")[0]):
        return None  # https://, ssh://, or scp-like host:path
    return Path(url)


def create_backup_remote(url: str) -> None:
    """A local off-site backup that does not exist yet is created bare, refusing
    non-fast-forward pushes and deletions, so history once pushed cannot be rewritten there."""
    path = _local_path(url)
    if path is None or path.exists():
        return
    remote = git.Repo.init(path, bare=True, initial_branch="main")
    with remote.config_writer() as config:
        config.set_value("receive", "denyNonFastForwards", "true")
        config.set_value("receive", "denyDeletes", "true")
    remote.close()


@contextlib.contextmanager
def building(root: Path, purpose: str) -> Iterator[Path]:
    """A folder built beside `root` and renamed into place when the block ends, then given to
    the group; removed with whatever it holds when the block fails, so nothing is left."""
    root.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{root.name}.{purpose}-", dir=root.parent))
    try:
        yield folder
        if root.exists():
            root.rmdir()
        os.rename(folder, root)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    share_with_group(root)


def share_with_group(root: Path, gid: int | None = None) -> None:
    """Give the workspace to its group (by default `sheetstage`, when it exists): every file
    and folder group-owned, folders setgid so new files inherit the group."""
    if gid is None:
        try:
            gid = grp.getgrnam(SHARED_GROUP).gr_gid
        except KeyError:
            return
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, gid, follow_symlinks=False)
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_ISGID | stat.S_IRWXG)
