"""services/ never imports textual, screens or sheetstage_tui, and the headless --batch path
never imports textual (DESIGN.md "Layout")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Demo

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_every_services_module_imports_without_textual() -> None:
    result = run_python(
        "import importlib, pkgutil, sys, services\n"
        "for m in pkgutil.walk_packages(services.__path__, 'services.'):\n"
        "    importlib.import_module(m.name)\n"
        "above = ('textual', 'screens', 'sheetstage_tui')\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in above]\n"
        "print(len(sys.modules)); assert not bad, bad\n"
    )
    assert result.returncode == 0, result.stderr


def test_the_batch_run_never_imports_textual(snapshotted: Demo) -> None:
    result = run_python(
        "import sys\n"
        "from sheetstage_tui.cli import main\n"
        f"code = main(['--config', {str(snapshotted.config_path)!r}, '--batch'])\n"
        "assert code == 0, code\n"
        "assert 'textual' not in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr
