"""The shared host: a second member of the workspace's group, as a real second OS account.

As root, the tests give the workspace a group, make `nobody` a member for the run (setpriv's
supplementary groups, no /etc/group change), and run sheetstage as `nobody` through a Python
that account can execute. Without root (or setpriv) they skip and say why."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.workspace import current_user, share_with_group
from tests.conftest import Demo

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534
ROOT_UID = 0
GROUP = 4242  # the workspace's group for the run; nobody is made a member by setpriv
SHEETS = {s.number: s for s in demo_sheets()}
ME = current_user()


def _python_for_others() -> str | None:
    """A Python another account can run that can import this project and its packages."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}"):
        probe = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", candidate,
             "-c", "import services.workspace, git, rapidfuzz, tree_sitter_javascript"],
            env=_environment(),
            capture_output=True,
        )  # fmt: skip
        if probe.returncode == 0:
            return candidate
    return None


def _environment(home: str = "/nonexistent") -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *site.getsitepackages()]),
        "LANG": "C.UTF-8",
    }


def _skip_reason() -> str:
    if os.geteuid() != 0:
        return "acting as a second account needs root (setpriv)"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    if not os.access(ROOT, os.R_OK | os.X_OK) or _python_for_others() is None:
        return "no Python here that another account can run with this project importable"
    return ""


pytestmark = pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "ok")


@dataclass
class SharedHost:
    demo: Demo
    python: str

    @property
    def workspace(self) -> Path:
        return self.demo.workspace.root

    def run_as(
        self, uid: int, *args: str, cwd: Path | None = None, groups: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """A command as another account (a member of the workspace's group)."""
        membership = [f"--groups={GROUP}"] if groups else ["--clear-groups"]
        return subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", *membership, *args],
            env=_environment(),
            cwd=cwd or self.demo.root,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def sheetstage(self, uid: int, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run_as(
            uid, self.python, "-m", "sheetstage_tui.cli", "--config", str(self.demo.config_path),
            *args,
        )  # fmt: skip

    def add_to_roles(self, role: str, user: str) -> None:
        roles = self.demo.workspace.roles_path
        text = roles.read_text()
        roles.write_text(text.replace(f"{role} = [", f'{role} = ["{user}", ', 1))


@pytest.fixture
def shared(snapshotted: Demo) -> Iterator[SharedHost]:
    """The snapshotted demo moved where other accounts can reach it, group-shared."""
    base = Path(tempfile.mkdtemp(prefix="sheetstage-shared-", dir="/tmp"))
    base.chmod(0o755)
    demo = Demo(base / "demo")
    shutil.copytree(snapshotted.root, demo.root, symlinks=True)
    demo.root.chmod(0o755)
    share_with_group(demo.workspace.root, GROUP)
    emulator = demo.root / ".sheetstage-emulator"  # Google's side: everyone may call it
    for path in [emulator, *emulator.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    host = SharedHost(demo, _python_for_others() or "")
    host.add_to_roles("developer", "nobody")
    demo.workspace.commit("roles: nobody is a developer", ["roles.toml"])  # reviewed
    try:
        yield host
    finally:
        shutil.rmtree(base, ignore_errors=True)


def no_traceback(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def report(result: subprocess.CompletedProcess[str]) -> str:
    """The command's result (stdout), once its stderr shows no traceback."""
    no_traceback(result)
    return result.stdout


def test_a_second_member_snapshots_and_the_first_carries_on(shared: SharedHost) -> None:
    shared.demo.edit_script(SHEETS[8].prod_script_id, "\n// a\n", "someone.else@practice.example")
    result = shared.sheetstage(NOBODY, "--batch")
    no_traceback(result)
    assert result.returncode == 1, result.stderr  # the production edit is a new alert
    trail = shared.workspace / "audit" / "nobody.jsonl"
    info = trail.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (NOBODY, 0o644)
    assert "audit/nobody.jsonl" in shared.demo.workspace.commit_paths("HEAD")

    shared.demo.edit_script(SHEETS[9].dev3_script_id, "\n// b\n", "developer@practice.example")
    assert shared.demo.cli("--batch") == 0
    assert shared.demo.cli("audit", "verify") == 0
    assert report(shared.sheetstage(NOBODY, "audit", "verify")).count("intact") >= 2


def test_a_member_cannot_make_themselves_practice_manager(
    shared: SharedHost, capsys: pytest.CaptureFixture[str]
) -> None:
    roles = shared.demo.workspace.roles_path
    own = shared.workspace / "staging-sheets" / "evil-roles.toml"  # a folder nobody may write
    forged = 'practice_manager = ["nobody"]\n'
    shared.run_as(NOBODY, "sh", "-c", f"printf '{forged}' > {own}")
    moved = shared.run_as(NOBODY, "sh", "-c", f"mv {roles} {roles}.old && cp {own} {roles}")
    assert moved.returncode == 0  # the folder is the group's: the file can be replaced...

    refused = shared.sheetstage(NOBODY, "acknowledge", "--sheet", "47", "--finding", "x",
                                "--reason", "mine now")  # fmt: skip
    assert refused.returncode == 5 and "roles.toml is owned by nobody" in no_traceback(refused)
    capsys.readouterr()
    assert shared.demo.cli("snapshot", "--sheet", "1") == 5  # ...but then it counts for no one
    assert "everyone is read-only" in capsys.readouterr().err

    roles.unlink()
    shared.run_as(NOBODY, "ln", "-s", str(own), str(roles))
    assert shared.demo.cli("snapshot", "--sheet", "1") == 5
    assert "roles.toml is a symbolic link" in capsys.readouterr().err
    log = shared.demo.workspace.repo.git.log("--format=%s", "--", "roles.toml").splitlines()
    assert log == ["roles: nobody is a developer", "init: sheetstage workspace"]  # no others


def test_a_member_cannot_write_or_replace_anothers_trail(shared: SharedHost) -> None:
    mine = shared.workspace / "audit" / f"{ME}.jsonl"
    before = mine.read_bytes()
    for command in (f"echo x >> {mine}", f"rm -f {mine}", f"mv {mine} {mine}.x"):
        result = shared.run_as(NOBODY, "sh", "-c", command)
        assert result.returncode != 0, command
    assert mine.read_bytes() == before

    forged = shared.workspace / "audit" / "erin.jsonl"  # a person who has no trail yet
    shared.run_as(NOBODY, "sh", "-c", f"echo '{{}}' > {forged}")
    result = shared.sheetstage(NOBODY, "audit", "verify")
    assert result.returncode == 1
    assert "audit/erin.jsonl: NOT TRUSTED: owned by nobody" in report(result)


def test_a_trail_someone_planted_is_refused_then_moved_aside_by_the_owners_run(
    shared: SharedHost,
) -> None:
    """Someone made `nobody.jsonl` before nobody did: nobody's runs refuse to append to it, and
    the workspace owner's next run moves it to the quarantine, so nobody can work again."""
    planted = shared.workspace / "audit" / "nobody.jsonl"
    stranger = 12345  # another member of the group
    assert shared.run_as(stranger, "sh", "-c", f": > {planted}").returncode == 0
    result = shared.sheetstage(NOBODY, "snapshot", "--sheet", "1")
    assert result.returncode == 5
    assert "a trail is written only by its owner" in no_traceback(result)
    assert shared.sheetstage(ROOT_UID, "--batch").returncode in (0, 1)
    assert not planted.exists()
    assert no_traceback(shared.sheetstage(NOBODY, "snapshot", "--sheet", "1")) is not None
    assert planted.stat().st_uid == NOBODY


def test_git_is_never_pointed_elsewhere_nor_run_with_a_members_config(
    shared: SharedHost, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = shared.workspace
    marker = shared.demo.root / "ran"
    evil = shared.demo.root / "evil-git"  # a git folder of a member's, with a filter
    shutil.copytree(ws / ".git", evil)
    with (evil / "config").open("a") as config:
        config.write(f'[filter "x"]\n\tclean = touch {marker}\n')
    (evil / "info" / "attributes").write_text("* filter=x\n")
    subprocess.run(["chown", "-R", str(NOBODY), str(evil)], check=True)
    script = f"echo {evil} > {ws}/.git/commondir"  # .git is the group's: a member may
    assert shared.run_as(NOBODY, "sh", "-c", script).returncode == 0
    capsys.readouterr()
    assert shared.demo.cli("snapshot", "--sheet", "5") == 5
    assert ".git/commondir points git elsewhere; remove it" in capsys.readouterr().err
    assert not marker.exists()
    (ws / ".git" / "commondir").unlink()

    planted = ws / "config.toml"  # found as ./config.toml by a run started in the workspace
    emulator = shared.demo.root / ".sheetstage-emulator"
    text = f'workspace = "{ws}"\\n[emulator]\\nstate_dir = "{emulator}"\\n'
    shared.run_as(NOBODY, "sh", "-c", f"printf '{text}' > {planted}")
    result = shared.run_as(
        ROOT_UID, shared.python, "-m", "sheetstage_tui.cli", "snapshot", "--sheet", "5", cwd=ws
    )
    assert result.returncode == 5
    assert "refusing the config: " in no_traceback(result) and "is owned by nobody" in result.stderr


def test_a_members_run_never_writes_the_hook_and_a_forged_commit_is_noticed(
    shared: SharedHost, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = shared.workspace / ".git" / "hooks" / "pre-commit"
    hook.unlink()
    shared.demo.edit_script(SHEETS[6].dev3_script_id, "\n// d\n", "developer@practice.example")
    no_traceback(shared.sheetstage(NOBODY, "snapshot", "--sheet", "6"))
    assert not hook.exists()  # a hook nobody wrote would be untrusted: only the owner writes it

    ws = shared.workspace
    git = ["git", "-c", f"safe.directory={ws}", "-c", "user.name=root", "-c", "user.email=r@x"]
    forged = 'practice_manager = ["root", "nobody"]\n'
    script = (
        f"cd {ws} && blob=$(printf '{forged}' | {' '.join(git)} hash-object -w --stdin) && "
        f"{' '.join(git)} update-index --cacheinfo 100644,$blob,roles.toml && "
        f"{' '.join(git)} commit -q --no-verify -m 'roles: tidy'"
    )
    assert shared.run_as(NOBODY, "sh", "-c", script).returncode == 0
    capsys.readouterr()
    assert shared.demo.cli("acknowledge", "--sheet", "1", "--finding", "x", "--reason", "r") == 5
    assert "roles.toml differs from the last commit" in capsys.readouterr().err


def test_the_hook_runs_for_any_member_and_holds_no_path_of_the_installer(
    shared: SharedHost,
) -> None:
    hook = (shared.workspace / ".git" / "hooks" / "pre-commit").read_text()
    assert sys.executable not in hook and "/root/" not in hook and str(Path.home()) not in hook

    ws = shared.workspace
    git = ["git", "-c", f"safe.directory={ws}", "-c", "user.name=n", "-c", "user.email=n@x"]
    notes = ws / "staging-sheets" / "notes.txt"
    shared.run_as(NOBODY, "sh", "-c", f"echo 'patient SSN 412-83-2957' > {notes}")
    shared.run_as(NOBODY, *git, "add", str(notes), cwd=ws)
    refused = shared.run_as(NOBODY, *git, "commit", "-qm", "notes", cwd=ws)
    assert refused.returncode == 1, refused.stderr
    assert "commit refused: the staged files hold PHI" in refused.stderr
    shared.run_as(NOBODY, "sh", "-c", f"echo 'call the front desk' > {notes}")
    shared.run_as(NOBODY, *git, "add", str(notes), cwd=ws)
    allowed = shared.run_as(NOBODY, *git, "commit", "-qm", "notes", cwd=ws)
    assert allowed.returncode == 0, allowed.stderr


def test_files_a_member_could_have_written_stop_privileged_actions_and_never_run(
    shared: SharedHost, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = shared.workspace
    marker = shared.demo.root / "hook-ran"
    hook = ws / ".git" / "hooks" / "post-commit"
    result = shared.run_as(
        NOBODY, "sh", "-c", f"printf '#!/bin/sh\\ntouch {marker}\\n' > {hook} && chmod +x {hook}"
    )
    assert result.returncode == 0  # the hooks folder is the group's
    shared.demo.edit_script(SHEETS[5].dev3_script_id, "\n// c\n", "developer@practice.example")
    capsys.readouterr()
    assert shared.demo.cli("snapshot", "--sheet", "5") == 0  # commits...
    assert not marker.exists()  # ...without running a hook someone else wrote
    assert shared.demo.cli("acknowledge", "--sheet", "47", "--finding", "x", "--reason", "r") == 5
    err = capsys.readouterr().err
    assert "post-commit is owned by nobody" in err and "acknowledge refused" in err

    hook.unlink()
    config = ws / ".git" / "config"
    text = config.read_text() + "[core]\n\tpager = touch " + str(marker) + "\n"
    shared.run_as(
        NOBODY, "sh", "-c", f"mv {config} {config}.old && cat > {config} <<'EOF'\n{text}EOF"
    )
    assert shared.demo.cli("snapshot", "--sheet", "5") == 5
    assert ".git/config is owned by nobody" in capsys.readouterr().err
    assert not marker.exists()


def test_an_account_without_a_name_gets_one_line(shared: SharedHost) -> None:
    result = shared.sheetstage(12345, "drift")
    assert result.returncode == 2
    assert no_traceback(result).strip().splitlines() == [
        "sheetstage: your user id 12345 has no account name (no passwd entry); sheetstage tells "
        "people apart by account: run it under a named account"
    ]


def test_a_developer_cannot_deploy_and_touches_nothing(shared: SharedHost) -> None:
    locks = shared.workspace / ".sheetstage" / "locks"
    before = sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []
    result = shared.sheetstage(NOBODY, "deploy", "--sheet", "12")
    assert result.returncode == 5
    assert "deploy refused: you are nobody with developer" in no_traceback(result)
    assert (sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []) == before
