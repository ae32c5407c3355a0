"""Bad input and a hostile machine: one clear line, the contract's exit code, never a
traceback, nothing lost. Each command runs as a real process, as a user would see it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.emulator.seed import demo_sheets
from services.models import Environment
from services.registry import IdMapper
from services.snapshot import disk_hash
from services.state import State
from tests.conftest import Demo

ROOT = Path(__file__).resolve().parents[1]
SHEETS = {s.number: s for s in demo_sheets()}


def sheetstage(demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sheetstage_tui.cli", "--config", str(demo.config_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def add_to_config(demo: Demo, section: str, line: str) -> None:
    text = demo.config_path.read_text()
    if f"[{section}]\n" in text:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)
    else:
        text += f"\n[{section}]\n{line}\n"
    demo.config_path.write_text(text)


CASES = {
    "invalid MRN pattern": (
        lambda d: add_to_config(d, "phi", 'mrn_id_pattern = "[A-Z"'),
        "[phi].mrn_id_pattern '[A-Z' is not a valid regular expression",
    ),
    "negative backoff cap": (
        lambda d: d.config_path.write_text(
            d.config_path.read_text().replace("backoff_cap_s = 0.05", "backoff_cap_s = -1.0")
        ),
        "[client].backoff_cap_s must be above 0 and at most 3600",
    ),
    "negative lock timeout": (
        lambda d: add_to_config(d, "git", "lock_timeout_s = -5.0"),
        "[git].lock_timeout_s must be between 0 and 3600",
    ),
    "state.json holding []": (
        lambda d: d.workspace.state_path.write_text("[]\n"),
        "state.json is not a sheetstage state (it holds a JSON list, not an object)",
    ),
    "state.json holding {}": (
        lambda d: d.workspace.state_path.write_text("{}\n"),
        "state.json is not a sheetstage state (it lacks version, sheets, alerts)",
    ),
    "state.json of an unknown version": (
        lambda d: d.workspace.state_path.write_text(
            '{"version": 99, "sheets": {}, "alerts": {}}\n'
        ),
        "state.json is not a sheetstage state (version 99 is not one this sheetstage knows)",
    ),
    "state.json with sheets as a list": (
        lambda d: d.workspace.state_path.write_text('{"version": 2, "sheets": [], "alerts": {}}\n'),
        "state.json is not a sheetstage state (`sheets` is not an object)",
    ),
    "state.json with a sheet as text": (
        lambda d: d.workspace.state_path.write_text(
            '{"version": 2, "sheets": {"001": "x"}, "alerts": {}}\n'
        ),
        "state.json is not a sheetstage state (sheet 001 is not an object)",
    ),
    "registry.toml with a name holding a newline": (
        lambda d: d.workspace.registry_path.write_text(
            d.workspace.registry_path.read_text().replace(
                f'name = "{SHEETS[0].name}"', 'name = "two\\nlines"', 1
            )
        ),
        "registry.toml: sheet entry 1: name",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", [("--batch",), ("drift",)])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    snapshotted: Demo, case: str, command: tuple[str, ...]
) -> None:
    breaks, expected = CASES[case]
    breaks(snapshotted)
    head = snapshotted.workspace.head()
    trail = snapshotted.trail_path().read_bytes()
    result = sheetstage(snapshotted, *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert snapshotted.workspace.head() == head
    assert snapshotted.trail_path().read_bytes() == trail


@pytest.fixture
def small_disk(snapshotted: Demo) -> Iterator[tuple[Demo, Path]]:
    """The demo's workspace on a filesystem of its own (a tmpfs) with hardly any room left;
    Google's side (the emulator's state) stays on the ordinary disk."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a filesystem of limited size needs root (mount -t tmpfs)")
    workspace = snapshotted.workspace.root
    original = workspace.with_name("workspace.original")
    workspace.rename(original)
    workspace.mkdir()
    used = sum(-(-p.stat().st_size // 4096) * 4096 + 4096 for p in original.rglob("*"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={used + 4 * 1024 * 1024}", "tmpfs", str(workspace)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        shutil.copytree(original, workspace, symlinks=True, dirs_exist_ok=True)
        shutil.copystat(original, workspace)
        yield snapshotted, workspace / ".sheetstage"
    finally:
        subprocess.run(["umount", "-l", str(workspace)], check=False)


def test_a_full_disk_is_one_line_and_the_next_run_finishes_the_job(
    small_disk: tuple[Demo, Path],
) -> None:
    demo, ignored = small_disk
    filler = ignored / "filler"  # on the same filesystem, never committed
    free = shutil.disk_usage(ignored).free
    filler.write_bytes(b"\0" * max(free - 256 * 1024, 0))  # 256 KB left
    for number in range(40, 90):  # 50 projects grow by 20 KB each: about 1 MB to write
        demo.edit_script(SHEETS[number].dev3_script_id, "\n// " + "x" * 20000 + "\n", "d@x")
    full = sheetstage(demo, "--batch")
    assert "Traceback" not in full.stderr
    assert full.returncode == 1
    assert "No space left on device" in full.stderr.strip().splitlines()[-1]

    filler.unlink()  # room again: the next run finishes what the last one began
    again = sheetstage(demo, "--batch")
    assert "Traceback" not in again.stderr and again.returncode in (0, 1), again.stderr
    assert sheetstage(demo, "--batch").returncode == 0
    state = State.load(demo.workspace)
    mapper = IdMapper(SHEETS.values())
    for number in range(40, 90):
        sheet = SHEETS[number]
        folder = demo.workspace.folder(sheet, Environment.STAGING)
        assert disk_hash(demo.workspace, mapper, sheet, Environment.STAGING) == state.hash(
            sheet, Environment.STAGING
        )
        assert "x" * 20000 in (folder / "Code.gs").read_text()
    status = demo.workspace.repo.git.status("--porcelain", "--", "staging-sheets", "state.json")
    assert status == ""
    assert sheetstage(demo, "audit", "verify").returncode == 0


def test_alerts_lists_the_active_alerts(snapshotted: Demo) -> None:
    result = sheetstage(snapshotted, "alerts", "--json")
    assert result.returncode == 0
    kinds = {a["kind"] for a in json.loads(result.stdout)["alerts"]}
    assert kinds == {"prod-modified", "phi-blocked"}
