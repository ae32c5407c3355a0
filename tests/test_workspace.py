"""The git workspace: layout, refusal of existing workspaces, exact file round trip, locks."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import git
import pytest

from services.errors import LockHeldError
from services.models import Environment, FileType, ScriptFile, Sheet
from services.workspace import UnsafeFileName, Workspace, current_user, disk_name, git_failure
from tests.conftest import Demo

SHEET = Sheet(4, "Test sheet", "1" + "a" * 43, "1" + "b" * 56, "1" + "c" * 43, "1" + "d" * 56)


def test_init_creates_the_layout_with_identity_and_group_sharing(demo: Demo) -> None:
    root = demo.workspace.root
    trail = f"audit/{current_user()}.jsonl"
    for name in ("registry.toml", "roles.toml", "state.json", trail):
        assert (root / name).is_file(), name
    for name in ("production-sheets", "staging-sheets", ".sheetstage"):
        assert (root / name).is_dir(), name
    repo = demo.workspace.repo
    reader = repo.config_reader("repository")
    assert reader.get_value("core", "sharedRepository") in ("group", 1, "1")
    assert reader.get_value("user", "name") == "sheetstage"
    assert ".sheetstage/" in (root / ".gitignore").read_text()
    assert not repo.is_dirty(untracked_files=True)
    first = json.loads((root / trail).read_text().splitlines()[0])
    assert first["seq"] == 1 and first["action"] == "init" and first["prev"] == "0" * 64
    assert first["user"] == current_user()
    modes = {
        name: stat.S_IMODE((root / name).stat().st_mode)
        for name in (".", "audit", trail, "roles.toml", ".git/config", "state.json")
    }
    assert modes == {
        ".": 0o2775,  # members write here; new files inherit the group
        "audit": 0o3775,  # and no one deletes another person's trail
        trail: 0o644,
        "roles.toml": 0o644,
        ".git/config": 0o644,
        "state.json": 0o664,
    }
    assert stat.S_IMODE((root / ".git/hooks/pre-commit").stat().st_mode) == 0o755
    assert "Audit-Heads: " + trail in repo.head.commit.message
    state = json.loads((root / "state.json").read_text())
    assert len(state["sheets"]) == 235 and all("baseline" in s for s in state["sheets"].values())


def test_init_refuses_an_existing_workspace_and_changes_nothing(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    head = demo.workspace.head()
    emulator_before = demo.emulator_file.stat().st_mtime_ns
    assert demo.cli("init", "--demo") == 2
    err = capsys.readouterr().err.strip()
    assert "a workspace already exists" in err and "\n" not in err
    assert demo.workspace.head() == head
    assert demo.emulator_file.stat().st_mtime_ns == emulator_before


def test_plain_init_creates_an_empty_registry(tmp_path: Path) -> None:
    from sheetstage_tui.cli import main
    from tests.conftest import write_config

    config = write_config(tmp_path)
    assert main(["--config", str(config), "init"]) == 0
    registry = (tmp_path / "workspace" / "registry.toml").read_text()
    assert "[activity_log]" in registry and "sheet = []" in registry


@pytest.mark.parametrize(
    ("name", "file_type", "expected"),
    [
        ("Code", FileType.SERVER_JS, "Code.gs"),
        ("lib/format", FileType.SERVER_JS, "lib/format.gs"),
        ("Sidebar", FileType.HTML, "Sidebar.html"),
        ("appsscript", FileType.JSON, "appsscript.json"),
    ],
)
def test_apps_script_names_map_to_disk_as_clasp_does(
    name: str, file_type: FileType, expected: str
) -> None:
    assert disk_name(name, file_type) == expected


@pytest.mark.parametrize(
    "name", ["../../x", "../x", "/etc/passwd", "a/../../b", "a\x00b", "a\\..\\b", "", "a//b", "."]
)
def test_names_that_would_leave_the_sheet_folder_are_refused(name: str, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    files = [ScriptFile(name, FileType.SERVER_JS, "x")]
    with pytest.raises(UnsafeFileName):
        workspace.write_project(SHEET, Environment.STAGING, files)
    assert list(tmp_path.rglob("*.gs")) == []


def test_a_symbolic_link_in_the_sheet_folder_is_never_written_through(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = workspace.folder(SHEET, Environment.STAGING)
    folder.mkdir(parents=True)
    (folder / "lib").symlink_to(outside)  # planted by another account
    files = [ScriptFile("lib/Alpha", FileType.SERVER_JS, "x")]
    with pytest.raises(UnsafeFileName, match="through a symbolic link"):
        workspace.write_project(SHEET, Environment.STAGING, files)
    assert list(outside.iterdir()) == []


def test_a_sheet_folder_that_is_a_symbolic_link_is_never_written_through(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("someone else's file")
    folder = workspace.folder(SHEET, Environment.STAGING)
    folder.parent.mkdir(parents=True)
    folder.symlink_to(outside)
    files = [ScriptFile("Code", FileType.SERVER_JS, "x")]
    with pytest.raises(UnsafeFileName, match="holds a symbolic link"):
        workspace.write_project(SHEET, Environment.STAGING, files)
    assert [p.name for p in outside.iterdir()] == ["keep.txt"]


def test_staged_files_are_read_byte_exact_in_one_batch(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws", {"registry.toml": b""}, user="tester")
    contents = {
        "a.bin": b"\x00\n\nnot text\n\xff",
        "b/empty.txt": b"",
        "c.txt": b"no newline at the end",
        "d.txt": b"\n" * 3,
    }
    for name, data in contents.items():
        path = workspace.root / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    workspace.repo.git.add("--", *contents)
    assert dict(workspace.staged_files()) == contents
    assert workspace.read_blobs([]) == []


def test_round_trip_is_byte_exact_and_keeps_order(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    files = [
        ScriptFile("appsscript", FileType.JSON, '{"timeZone": "America/Chicago"}'),
        ScriptFile("Zeta", FileType.SERVER_JS, "line one\r\nline two\r\n"),
        ScriptFile("Empty", FileType.SERVER_JS, ""),
        ScriptFile("lib/Alpha", FileType.SERVER_JS, "no newline at end ✓ café"),
        ScriptFile("Page", FileType.HTML, "<p>\n</p>\n\n"),
    ]
    assert workspace.write_project(SHEET, Environment.PRODUCTION, files) is True
    assert workspace.read_project(SHEET, Environment.PRODUCTION) == files
    assert workspace.write_project(SHEET, Environment.PRODUCTION, files) is False

    reordered = [files[0], files[3], files[1]]
    assert workspace.write_project(SHEET, Environment.PRODUCTION, reordered) is True
    assert workspace.read_project(SHEET, Environment.PRODUCTION) == reordered
    folder = workspace.folder(SHEET, Environment.PRODUCTION)
    assert not (folder / "Empty.gs").exists() and not (folder / "Page.html").exists()


def test_workspace_lock_is_exclusive_across_instances(tmp_path: Path) -> None:
    first, second = Workspace(tmp_path), Workspace(tmp_path)
    with (
        first.lock(),
        pytest.raises(LockHeldError, match="holds the workspace lock"),
        second.lock(timeout=0.05),
    ):
        pass
    with second.lock(timeout=0.05):
        pass


def test_sheet_lock_is_exclusive(tmp_path: Path) -> None:
    first, second = Workspace(tmp_path), Workspace(tmp_path)
    with (
        first.sheet_lock(SHEET),
        pytest.raises(LockHeldError, match="sheet 004"),
        second.sheet_lock(SHEET),
    ):
        pass


def test_threads_reaching_the_backend_at_once_share_one(demo: Demo) -> None:
    """Worker threads that first touch the session's backend together open it once (they once
    raced: resync-staging --all opened eleven emulators and stopped one)."""
    import threading

    from services.session import session

    with session(demo.config) as opened:
        start = threading.Barrier(6)
        seen: list[object] = []

        def touch() -> None:
            start.wait()
            seen.append(opened.backend)

        workers = [threading.Thread(target=touch) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert len(seen) == 6 and len({id(backend) for backend in seen}) == 1


def test_git_failure_is_gits_last_line_or_none() -> None:
    failed = git.GitCommandError(["git", "push"], 128, stderr=b"hint: one\nfatal: 'x' is gone")
    assert git_failure(failed) == "fatal: 'x' is gone"
    assert git_failure(git.GitCommandError(["git", "gc"], 3)) == "git exited 3"
    assert git_failure(ValueError("not git")) is None


def test_damage_names_a_corrupt_object_and_a_head_with_no_commit(demo: Demo) -> None:
    workspace = demo.workspace
    assert workspace.damage() == ""
    objects = workspace.root / ".git" / "objects"
    loose = next(p for p in sorted(objects.glob("??/*")) if p.parent.name not in ("info", "pack"))
    kept = loose.read_bytes()

    def replace(data: bytes) -> None:  # never in place: the object is hard-linked to a template
        spare = loose.with_name("spare")
        spare.write_bytes(data)
        spare.replace(loose)

    replace(b"not a zlib stream")
    assert "error: " in workspace.damage()
    replace(kept)
    assert workspace.damage() == ""
    (workspace.root / ".git" / "HEAD").write_text("ref: refs/heads/gone\n")
    assert "HEAD" in workspace.damage()
