"""The wheel ships every package of the layout (a missing subpackage only shows up when
installed, since the tests import from the checkout)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(find_packages(where=ROOT, include=include))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("sheetstage_tui", "screens", "services")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= shipped, on_disk - shipped
    data = config["tool"]["setuptools"]["package-data"]["sheetstage_tui"]
    assert "default_config.toml" in data and "*.tcss" in data
