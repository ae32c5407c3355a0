"""The wheel ships every file of the layout's packages, and runs once installed (a missing
subpackage or data file only shows up then, since the tests import from the checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sheetstage_tui", "screens", "services")


def test_the_wheel_installs_and_runs_sheetstage(tmp_path: Path) -> None:
    """A wheel built from the repository's files, installed into a folder of its own, holds
    each of them and runs the main job from an empty folder on its packaged default config."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "pyproject.toml", "README.md", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    tracked = [name for name in listed.stdout.split("\0") if name]
    source = tmp_path / "source"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    build = [
        sys.executable,
        "-c",
        "from setuptools import build_meta; build_meta.build_wheel('..')",
    ]
    built = subprocess.run(build, cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    (wheel,) = tmp_path.glob("sheetstage-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    in_packages = {name for name in tracked if name.startswith(tuple(f"{p}/" for p in PACKAGES))}
    assert len(in_packages) > 60 and in_packages <= shipped, in_packages - shipped

    site, run = tmp_path / "site", tmp_path / "run"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, "--target", site, wheel], check=True, timeout=300)
    run.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    env.pop("SHEETSTAGE_CONFIG", None)
    where = subprocess.run(
        [sys.executable, "-c", "import services.config as c; print(c.packaged_default())"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert Path(where.stdout.strip()) == site / "services" / "default_config.toml"
    batch = subprocess.run(
        [site / "bin" / "sheetstage", "--batch", "--demo"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert batch.returncode == 1, batch.stderr  # the demo's alerts are news (DESIGN exit codes)
    assert "result: " in batch.stdout + batch.stderr
    assert (run / "workspace" / "registry.toml").is_file()
