"""Every import points down, and nothing goes round in a circle (docs/architecture.md).

The floors, top to bottom: `sheetstage_tui` (the entry points and the app), `screens`, then
`services`, which stands on the domain's words (models, config, errors) and a few helpers. The
graph is read from the source with `ast`: every import counts, the ones made only for type
checking and the ones inside functions too, since each is a dependency a reader follows."""

from __future__ import annotations

import ast
import graphlib
import inspect
from dataclasses import dataclass
from pathlib import Path

from screens.stage import Stage
from services.config import load_config_file, packaged_default
from sheetstage_tui.app import SheetStageApp

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("services", "screens", "sheetstage_tui")  # bottom to top
THE_FLOOR = {f"services.{name}" for name in ("models", "config", "errors")} | {
    f"services.{name}" for name in ("chain", "crashpoints", "progress", "phi_words")
}
DOORS = {"services.google_client", "services.workspace"}  # to Google, to git
JOBS = {
    f"services.{name}"
    for name in (
        *("jobs", "deploy", "rollback", "resync", "validation"),
        *("scripttests_job", "testdata_job", "inspection", "health", "recovery"),
    )
}
DEMO_SEED = {"services.emulator.seed", "services.emulator.seed_tests"}
THIRD_PARTY_DOORS = {  # a library and the only modules that may use it
    "git": ("services.workspace",),
    "google": ("services.google_client",),
    "google_auth_httplib2": ("services.google_client",),
    "google_auth_oauthlib": ("services.google_client",),
    "googleapiclient": ("services.google_client", "services.emulator."),  # the emulator reads
    "httplib2": ("services.google_client",),  # the discovery documents the client ships
    "textual": ("screens.", "sheetstage_tui."),
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def modules(root: Path) -> dict[str, Path]:
    """Each module of the floors by dotted name (a package by its own name)."""
    found = {}
    for top in FLOORS:
        for path in (root / top).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def written_imports(root: Path) -> list[Import]:
    """Every import in the floors as written (a relative one made absolute), and each call of
    `__import__` or `import_module` (or import of the latter) as an import of `<dynamic>`: the
    graph cannot follow it."""
    found = []
    for name, path in modules(root).items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names]
                if "importlib.import_module" in targets:  # called under any name from here on
                    targets.append("<dynamic>")
            elif isinstance(node, ast.Call):
                called = node.func
                callee = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
                if callee in ("__import__", "import_module"):
                    targets = ["<dynamic>"]
            found += [Import(name, target, node.lineno) for target in targets]
    return found


def imports(root: Path) -> list[Import]:
    """Every import from one module of the floors of another."""
    known = modules(root)

    def nearest(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for i in written_imports(root):
        imported = nearest(i.imported)
        if imported is not None and imported != i.importer:
            found.add(Import(i.importer, imported, i.line))
    return sorted(found, key=str)


def floor(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def upward(found: list[Import]) -> list[Import]:
    return [i for i in found if floor(i.imported) > floor(i.importer)]


def circle(found: list[Import]) -> list[str]:
    """Modules that lead back to the first of them, import by import ([] when there are none)."""
    graph: dict[str, set[str]] = {}
    for i in found:
        graph.setdefault(i.importer, set()).add(i.imported)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_every_import_points_down() -> None:
    found = imports(ROOT)
    assert len(found) > 200  # the graph was read, not an empty walk
    assert not upward(found), "\n".join(map(str, upward(found)))


def test_no_module_imports_itself_round_a_circle() -> None:
    assert circle(imports(ROOT)) == []


def test_no_import_the_graph_cannot_see() -> None:
    dynamic = [i for i in written_imports(ROOT) if i.imported == "<dynamic>"]
    assert not dynamic, "\n".join(map(str, dynamic))


def test_the_floor_and_the_doors_stand_on_the_floor_alone() -> None:
    """The domain's words and the small helpers import nothing of the project but one another;
    the only doors to Google and to git import only them."""
    above = [
        i for i in imports(ROOT) if i.importer in THE_FLOOR | DOORS and i.imported not in THE_FLOOR
    ]
    assert not above, "\n".join(map(str, above))


def test_no_part_imports_a_job_and_googles_side_stands_alone() -> None:
    """The jobs stand on the parts, never the other way round; the emulator (but the demo's
    seed) imports nothing outside itself."""
    found = imports(ROOT)
    strays = [
        i
        for i in found
        if (i.imported in JOBS and i.importer.startswith("services.") and i.importer not in JOBS)
        or (
            i.importer.startswith("services.emulator")
            and i.importer not in DEMO_SEED
            and not i.imported.startswith("services.emulator")
        )
    ]
    assert not strays, "\n".join(map(str, strays))


def test_only_the_doors_talk_to_google_and_to_git() -> None:
    strays = [
        i
        for i in written_imports(ROOT)
        for library, doors in THIRD_PARTY_DOORS.items()
        if i.imported.split(".")[0] == library and not i.importer.startswith(doors)
    ]
    assert not strays, "\n".join(map(str, strays))


def test_the_checks_see_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """The same checks on a planted tree: a service reaching up to the app, and two services
    importing each other (one inside a function, one only for type checking), and an import
    by name at run time."""
    for top in FLOORS:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / "sheetstage_tui" / "app.py").write_text("from screens import sheets\n")
    (tmp_path / "screens" / "sheets.py").write_text("from services.models import Sheet\n")
    (tmp_path / "services" / "models.py").write_text("from sheetstage_tui.app import App\n")
    (tmp_path / "services" / "deploy.py").write_text(
        "def finish():\n    from services.rollback import settle\n"
    )
    (tmp_path / "services" / "rollback.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import deploy\n"
    )
    found = imports(tmp_path)
    assert [str(i) for i in upward(found)] == ["services.models:1 imports sheetstage_tui.app"]
    first = circle(found)
    assert first[0] == first[-1] and set(first) in (
        {"screens.sheets", "services.models", "sheetstage_tui.app"},
        {"services.deploy", "services.rollback"},
    )
    (tmp_path / "services" / "models.py").write_text("")
    assert set(circle(imports(tmp_path))) == {"services.deploy", "services.rollback"}
    (tmp_path / "services" / "rollback.py").write_text(
        "import importlib\nimportlib.import_module('x')\n"
    )
    (tmp_path / "services" / "alerts.py").write_text(
        "from importlib import import_module as load\nload('y')\n"
    )
    assert circle(imports(tmp_path)) == []
    assert sorted(str(i) for i in written_imports(tmp_path) if i.imported == "<dynamic>") == [
        "services.alerts:1 imports <dynamic>",
        "services.rollback:2 imports <dynamic>",
    ]


def test_the_app_is_the_stage_its_screens_call() -> None:
    """Screens call the app only through the `Stage` protocol's methods, and the app has each of
    them with the same parameters, defaults and annotations."""
    app = SheetStageApp(load_config_file(packaged_default()))
    methods = {name for name in vars(Stage) if not name.startswith("_")}
    for name in methods:
        member = inspect.getattr_static(Stage, name)
        assert inspect.isfunction(member), f"Stage.{name} is not a method"
        assert str(inspect.signature(getattr(app, name))) == str(
            inspect.signature(member.__get__(app))
        ), name
    for name in Stage.__annotations__:
        assert hasattr(app, name), name
    called = {
        node.attr
        for path in (ROOT / "screens").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and "stage" in (getattr(node.value, "attr", None), getattr(node.value, "id", None))
    }
    assert called and called <= methods | set(Stage.__annotations__), called - methods
