"""Shared fixtures: a demo workspace on the emulator, built once and copied per test.

Everything runs for real: the emulator serves HTTP on 127.0.0.1, the one Google client talks
to it, and the workspace is a real git repository in tmp_path."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from services.config import ClientConfig, Config, load_config_file
from services.emulator.seed import DemoSeed, demo_sheets
from services.emulator.store import EmulatorStore
from services.workspace import Workspace, current_user
from sheetstage_tui.cli import main

FAST_CLIENT = """
[client]
concurrency = 24
backoff_initial_s = 0.01
backoff_cap_s = 0.05
retry_after_cap_s = 0.2
max_elapsed_s = 30.0
"""

# the demo's planted time-out costs this, not the default 5 s, wherever a test runs it
DEMO_TESTS = "\n[tests]\ntime_limit_s = 2\n"

# a client built directly on an emulator, without pacing and with near-instant retries
FAST_CLIENT_SETTINGS = ClientConfig(
    concurrency=4,
    sheets_requests_per_minute=6000,
    backoff_initial_s=0.01,
    backoff_cap_s=0.02,
    retry_after_cap_s=0.05,
)


def write_config(
    root: Path, extra: str = "", emulator: str = "", client: str = FAST_CLIENT
) -> Path:
    text = f'backend = "emulator"\nworkspace = "workspace"\n{client}\n[emulator]\n{emulator}\n'
    text += extra
    path = root / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)  # whatever the umask: a config others could write is refused
    return path


@dataclass
class Demo:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def config(self) -> Config:
        return load_config_file(self.config_path)

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.root / "workspace")

    @property
    def emulator_file(self) -> Path:
        return self.root / ".sheetstage-emulator" / "emulator.sqlite3"

    def store(self) -> EmulatorStore:
        return EmulatorStore(self.emulator_file)

    def cli(self, *args: str) -> int:
        return main(["--config", str(self.config_path), *args])

    def trail_path(self, person: str | None = None) -> Path:
        return self.workspace.trail_path(person or current_user())

    def trail(self, person: str | None = None) -> list[dict]:
        """The lines of a person's audit trail (the runner's by default)."""
        return [json.loads(line) for line in self.trail_path(person).read_text().splitlines()]

    def edit_script(self, script_id: str, addition: str, user: str) -> str:
        """Someone edits the project in the Apps Script editor: `addition` is appended to its
        first code file (the one after the manifest). Returns that file's new source."""
        store = self.store()
        try:
            files = store.content(script_id)["files"]
            files[1]["source"] += addition
            store.update_content(script_id, files, user)
        finally:
            store.close()
        return str(files[1]["source"])

    def fast_sheets(self) -> Demo:
        """No Sheets pacing: the emulator has no quota, and validation reads two ranges a sheet."""
        text = self.config_path.read_text()
        self.config_path.write_text(
            text.replace("[client]\n", "[client]\nsheets_requests_per_minute = 6000\n", 1)
        )
        return self

    def set_time_limit(self, seconds: float) -> Demo:
        """The staging tests' time limit (the demo plants a test that always reaches it)."""
        limit = f"\n[tests]\ntime_limit_s = {seconds}\n"
        self.config_path.write_text(self.config_path.read_text().replace(DEMO_TESTS, limit))
        return self

    def set_emulator(self, emulator: str) -> None:
        """The [emulator] section becomes `emulator`; the rest of the config stays."""
        text = self.config_path.read_text()
        head, _, rest = text.partition("[emulator]\n")
        tail = rest[rest.find("\n[") + 1 :] if "\n[" in rest else ""
        self.config_path.write_text(f"{head}[emulator]\n{emulator}\n{tail}")


def _build(root: Path, batch: bool) -> Path:
    root.mkdir(parents=True)
    write_config(root, extra=DEMO_TESTS)
    assert main(["--config", str(root / "config.toml"), "init", "--demo"]) == 0
    if batch:
        assert main(["--config", str(root / "config.toml"), "--batch"]) == 1  # seeded alerts
    return root


def _template(tmp_path_factory: pytest.TempPathFactory, worker_id: str, batch: bool) -> Path:
    """Built once per test run: pytest-xdist's workers share it (the first builds it under a
    file lock in the run's temporary folder, the others wait and copy from it); tests copy it,
    never change it. A worker that finds it being built builds the other template meanwhile,
    when no one is building that one (at the start every worker waits for a template)."""
    name = "demo-batch" if batch else "demo-init"
    if worker_id == "master":  # no xdist: this run's own folder
        return _build(tmp_path_factory.getbasetemp() / name, batch)
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, above each worker's
    if not _shared_template(shared, batch, wait=False):
        _shared_template(shared, not batch, wait=False)
        _shared_template(shared, batch, wait=True)
    return shared / name


def _shared_template(shared: Path, batch: bool, wait: bool) -> bool:
    """The template built in `shared` unless it is already; False when another worker holds
    its lock and `wait` is False."""
    name = "demo-batch" if batch else "demo-init"
    lock = FileLock(shared / f"{name}.lock")
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return False
    try:
        if not (shared / f"{name}.built").exists():
            if (shared / name).exists():  # a worker died while building it
                shutil.rmtree(shared / name)
            _build(shared / name, batch)
            (shared / f"{name}.built").touch()
    finally:
        lock.release()
    return True


@pytest.fixture(scope="session")
def _initialized_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return _template(tmp_path_factory, worker_id, batch=False)


@pytest.fixture(scope="session")
def _snapshotted_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return _template(tmp_path_factory, worker_id, batch=True)


# Files a copy of the template shares with it by hard link instead of copying them (creating
# some 4,400 files was most of a copy's cost, 1.5 s of CPU each time): the project files, which
# sheetstage replaces (a new file renamed over the old, or git's unlink and create), never
# writes in place; and git's objects, which git never changes. Everything else is copied.
_SHARED = re.compile(
    r"workspace/(?:(?:production|staging)-sheets/.+"
    r"|\.git/objects/(?:[0-9a-f]{2}/[0-9a-f]{38}|pack/pack-[0-9a-f]+\.(?:pack|idx)))"
)


@functools.cache
def _shared_files(template: Path) -> dict[str, os.stat_result]:
    """The template's files its copies share, by path within a copy (the template never
    changes once built)."""
    found = {}
    for path in template.rglob("*"):
        relative = path.relative_to(template).as_posix()
        if _SHARED.fullmatch(relative) and path.is_file() and not path.is_symlink():
            found[relative] = path.lstat()
    return found


def _still_as_shared(copy: Path, shared: dict[str, os.stat_result]) -> None:
    """No test may change a file in place while it is shared with the template (the template
    and every later copy would change with it): it must be replaced (written anew and renamed
    over, as sheetstage does). Git freshens an object's time when it writes it again: only an
    object's size, mode and owner count."""
    for relative, was in shared.items():
        try:
            now = (copy / relative).lstat()
        except FileNotFoundError:
            continue
        if now.st_ino != was.st_ino or now.st_dev != was.st_dev:
            continue  # replaced: the copy's own file now
        same = (now.st_size, now.st_mode, now.st_uid, now.st_gid) == (
            was.st_size,
            was.st_mode,
            was.st_uid,
            was.st_gid,
        ) and ("/objects/" in relative or now.st_mtime_ns == was.st_mtime_ns)
        assert same, (
            f"{relative} was changed in place, but the demo's copies share it with their "
            "template by hard link (tests/conftest.py _SHARED): replace the file instead (write "
            "a new one and rename it over the old)"
        )


def copy_demo(template: Path, target: Path) -> Iterator[Demo]:
    """A copy of a demo template at `target` (its files shared as _SHARED says); resumed
    after the test, it checks that no shared file was changed in place."""
    shared = _shared_files(template)
    prefix = len(str(template)) + 1

    def link_or_copy(source: str, destination: str) -> str:
        if source[prefix:] in shared:
            os.link(source, destination)
            return destination
        return shutil.copy2(source, destination)

    shutil.copytree(template, target, symlinks=True, copy_function=link_or_copy)
    # the emulator state dir and config are relative, so the copy is self-contained
    yield Demo(target)
    _still_as_shared(target, shared)


@pytest.fixture
def demo(_initialized_template: Path, tmp_path: Path) -> Iterator[Demo]:
    """`sheetstage init --demo` done, no snapshot yet."""
    yield from copy_demo(_initialized_template, tmp_path / "demo")


@pytest.fixture
def snapshotted(_snapshotted_template: Path, tmp_path: Path) -> Iterator[Demo]:
    """`init --demo` then one `--batch` (beside `demo` when a test takes both)."""
    yield from copy_demo(_snapshotted_template, tmp_path / "snapshotted")


@pytest.fixture
def expected_states() -> dict[int, str]:
    from services.emulator import seed

    states = {s.number: "in-sync" for s in demo_sheets()}
    for n in seed.STAGED:
        states[n] = "ahead"
    for n in seed.PHI_LEAKS:
        states[n] = "unknown"  # their staging code was held back by the PHI gate
    for n in seed.PROD_MODIFIED:
        states[n] = "prod-modified"
    for n in seed.DIVERGED:
        states[n] = "diverged"
    return states


Edit = Callable[[Demo, int, str], None]
__all__ = ["Demo", "DemoSeed", "write_config"]


CHICAGO = "CST6CDT,M3.2.0,M11.1.0"  # America/Chicago's rules, without a tz database


def _in_zone(zone: str) -> Iterator[None]:
    """Times shown to people in `zone`, whatever the host's; the host's zone comes back after
    (time.tzset() again: the process keeps the zone it last read)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def chicago() -> Iterator[None]:
    """A zone that is not UTC (times are converted, with the zone's name)."""
    yield from _in_zone(CHICAGO)


@pytest.fixture
def utc() -> Iterator[None]:
    yield from _in_zone("UTC")
