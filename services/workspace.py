"""The workspace: a git repository of both environments' code (the only module that talks to
git), with atomic file writes, the exact Apps Script <-> disk round trip and the locks."""

from __future__ import annotations

import contextlib
import grp
import json
import os
import socket
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import filelock
import git

from sheetstage_tui.errors import JobFailedError, LockHeldError, UsageError
from sheetstage_tui.models import Environment, FileType, ScriptFile, Sheet

ORDER_FILE = ".sheetstage-files.json"  # the project's file order (Apps Script runs files in it)
KEY_FILE = "hmac.key"  # the local secret for HMACs of identifiers; never in git
INTERNAL = ".sheetstage"
SHARED_GROUP = "sheetstage"
_EXTENSIONS = {FileType.SERVER_JS: ".gs", FileType.HTML: ".html"}


class UnsafeFileName(ValueError):
    """A file name from the API that would leave its sheet folder."""


class PushError(RuntimeError):
    """The off-site backup rejected or failed a push."""


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file in the same folder and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def disk_name(name: object, file_type: FileType) -> str:
    """Apps Script file -> path inside the sheet folder (`lib/format` -> `lib/format.gs`)."""
    if file_type is FileType.JSON:
        if name != "appsscript":
            raise UnsafeFileName(f"JSON file {name!r} is not the manifest 'appsscript'")
        return "appsscript.json"
    if not isinstance(name, str) or not name:
        raise UnsafeFileName("a file has an empty name")
    if "\x00" in name or "\\" in name or name.startswith("/"):
        raise UnsafeFileName(f"file name {name!r} would leave the sheet folder")
    parts = PurePosixPath(name).parts
    if any(part in ("", ".", "..") for part in name.split("/")) or not parts:
        raise UnsafeFileName(f"file name {name!r} would leave the sheet folder")
    return name + _EXTENSIONS[file_type]


def load_or_create_key(path: Path) -> bytes:
    """A 32-byte secret, created on first use (0640: the workspace's group shares it)."""
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
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: git.Repo | None = None
        self._lock = filelock.FileLock(
            str(self.internal / "locks" / "workspace.lock"), mode=0o664, is_singleton=False
        )

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
    def audit_path(self) -> Path:
        return self.root / "audit" / "audit.jsonl"

    @property
    def internal(self) -> Path:
        return self.root / INTERNAL

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
        cls, root: Path, files: dict[str, bytes], remote: str = "", user: str = ""
    ) -> Workspace:
        """A new workspace holding `files` (relative path -> bytes) in its first commit.

        Refuses an existing workspace. Built in a temporary sibling folder and renamed into
        place, so a failure leaves nothing behind."""
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise UsageError(
                f"{root} already exists and is not empty; init never touches an existing "
                "workspace: choose another `workspace` path or remove it yourself"
            )
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.init-", dir=root.parent))
        try:
            repo = git.Repo.init(staging, initial_branch="main", shared="group")
            with repo.config_writer() as config:
                config.set_value("user", "name", "sheetstage")
                config.set_value("user", "email", f"sheetstage@{socket.gethostname()}")
                config.set_value("core", "sharedRepository", "group")
            for relative, data in files.items():
                atomic_write(staging / relative, data)
            atomic_write(staging / ".gitignore", f"/{INTERNAL}/\n".encode())
            (staging / INTERNAL / "locks").mkdir(parents=True, exist_ok=True)
            (staging / INTERNAL / "cache").mkdir(parents=True, exist_ok=True)
            load_or_create_key(staging / INTERNAL / KEY_FILE)
            workspace = cls(staging)
            workspace.commit("init: sheetstage workspace", user=user)
            if remote:
                repo.create_remote("backup", remote)
            repo.close()
            if root.exists():
                root.rmdir()
            os.rename(staging, root)
        except BaseException:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            raise
        _share_with_group(root)
        return cls(root)

    # locks -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 15.0) -> Iterator[None]:
        """The workspace lock: serialises every git write (snapshots, batch, deploys)."""
        (self.internal / "locks").mkdir(parents=True, exist_ok=True)
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
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(path), mode=0o664, is_singleton=False)
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
        """Raise UnsafeFileName if any file would land outside the sheet's folder."""
        folder = self.folder(sheet, env).resolve() if self.folder(sheet, env).exists() else None
        base = folder or (self.root.resolve() / sheet.folder(env))
        seen: set[str] = set()
        for f in files:
            relative = disk_name(f.name, f.type)
            target = (base / relative).resolve()
            if not target.is_relative_to(base):
                raise UnsafeFileName(f"file name {f.name!r} would leave the sheet folder")
            if relative in seen:
                raise UnsafeFileName(f"two files map to {relative}")
            seen.add(relative)

    def write_project(self, sheet: Sheet, env: Environment, files: Sequence[ScriptFile]) -> bool:
        """Write a project's files exactly as the API gave them; True if anything changed."""
        self.plan_project(sheet, env, files)
        folder = self.folder(sheet, env)
        changed = False
        wanted: set[Path] = set()
        for f in files:
            path = folder / disk_name(f.name, f.type)
            wanted.add(path)
            data = f.source.encode("utf-8")
            if not path.is_file() or path.read_bytes() != data:
                atomic_write(path, data)
                changed = True
        order = [{"name": f.name, "type": str(f.type)} for f in files]
        index = (json.dumps(order, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        order_path = folder / ORDER_FILE
        wanted.add(order_path)
        if not order_path.is_file() or order_path.read_bytes() != index:
            atomic_write(order_path, index)
            changed = True
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_file() and path not in wanted:
                path.unlink()
                changed = True
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
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

    # git ---------------------------------------------------------------------------------

    @property
    def repo(self) -> git.Repo:
        if self._repo is None:
            self._repo = git.Repo(self.root)
            # a group-shared workspace is owned by whoever created it
            self._repo.git.set_persistent_git_options(c=f"safe.directory={self.root}")
        return self._repo

    def staged_files(self) -> list[tuple[str, bytes]]:
        """Files added or changed in the index (what the next commit holds), with their bytes,
        read through one persistent `git cat-file --batch` rather than a process per file."""
        listing = self.repo.git.diff("--cached", "--name-only", "--diff-filter=ACMR", "-z")
        names = [n for n in listing.split("\0") if n]
        entries = self.repo.index.entries
        return [(name, self.repo.odb.stream(entries[(name, 0)].binsha).read()) for name in names]

    def install_pre_commit_hook(self, script: str) -> None:
        hook = self.root / ".git" / "hooks" / "pre-commit"
        if hook.is_file() and hook.read_text(encoding="utf-8") == script:
            return
        atomic_write(hook, script.encode("utf-8"), mode=0o775)

    def has_changes(self, paths: Sequence[str]) -> bool:
        status = self.repo.git.status("--porcelain", "--untracked-files=all", "--", *paths)
        return bool(status.strip())

    def commit(self, message: str, paths: Sequence[str] = (".",), user: str = "") -> str | None:
        """Stage `paths` (deletions too) and commit; None when nothing was staged."""
        repo = self.repo
        repo.git.add("-A", "--", *paths)
        try:
            repo.git.diff("--cached", "--quiet")
            return None
        except git.GitCommandError:
            pass  # exit 1: something is staged
        author = user or current_user()
        try:
            repo.git.commit(
                "-q", "-m", message, f"--author={author} <{author}@{socket.gethostname()}>"
            )
        except git.GitCommandError as error:
            lines = [line for line in (error.stderr or "").splitlines() if line.strip()]
            reason = lines[-1].strip().removeprefix("stderr: ").strip("'") if lines else str(error)
            raise JobFailedError(
                f"git refused the commit ({reason}); nothing was committed"
            ) from None
        return repo.head.commit.hexsha

    def head(self) -> str | None:
        try:
            return self.repo.head.commit.hexsha
        except ValueError:
            return None

    def commit_paths(self, revision: str) -> list[str]:
        """Paths a commit changed."""
        return self.repo.git.show("--name-only", "--format=", revision).split()

    def commit_count(self) -> int:
        return int(self.repo.git.rev_list("--count", "HEAD"))

    def push(self, remote_url: str) -> None:
        """Push main (and tags) to the off-site backup; a rejection raises PushError."""
        repo = self.repo
        try:
            remote = repo.remote("backup")
            if remote.url != remote_url:
                remote.set_url(remote_url)
        except ValueError:
            remote = repo.create_remote("backup", remote_url)
        try:
            results = remote.push(["refs/heads/main:refs/heads/main", "refs/tags/*:refs/tags/*"])
        except git.GitCommandError as error:
            detail = (error.stderr or str(error)).strip().splitlines()
            raise PushError(
                f"push to {remote_url} failed: {detail[-1] if detail else error}"
            ) from None
        failed = git.PushInfo.ERROR | git.PushInfo.REJECTED | git.PushInfo.REMOTE_REJECTED
        failed |= git.PushInfo.REMOTE_FAILURE
        for info in results:
            if info.flags & failed:
                raise PushError(
                    f"push to {remote_url} rejected for {info.local_ref or info.remote_ref_string}:"
                    f" {info.summary.strip()}"
                )
        if not results:
            raise PushError(f"push to {remote_url} did nothing: the remote gave no answer")


def _share_with_group(root: Path) -> None:
    """Give the workspace to the `sheetstage` group (setgid folders) when that group exists."""
    try:
        gid = grp.getgrnam(SHARED_GROUP).gr_gid
    except KeyError:
        return
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, gid, follow_symlinks=False)
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_ISGID | stat.S_IRWXG)
