"""The wheel ships every package of the layout and every data file in them, and runs once
installed (a missing subpackage or file only shows up then, since the tests import from the
checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sheetstage_tui", "screens", "services")


def test_every_package_folder_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(find_packages(where=ROOT, include=include))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in PACKAGES
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= shipped, on_disk - shipped


def test_the_wheel_installs_and_runs_sheetstage(tmp_path: Path) -> None:
    """A wheel built from the sources, installed into a folder of its own, runs the main job
    from an empty folder: its packaged default configuration, styles and data files ship."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for top in PACKAGES:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__"))
    build = [
        sys.executable,
        "-c",
        "from setuptools import build_meta; build_meta.build_wheel('..')",
    ]
    subprocess.run(build, cwd=source, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("sheetstage-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    data = {
        path.relative_to(ROOT).as_posix()
        for top in PACKAGES
        for path in (ROOT / top).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    assert data and data <= shipped, data - shipped

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
