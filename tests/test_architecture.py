"""Every import points down, and nothing goes round in a circle (docs/architecture.md).

The floors, top to bottom: `sheetstage_tui` (the entry points and the app), `screens`, then
`services`, which stands on the domain's words (models, config, errors) and a few helpers. The
graph is read from the source with `ast`: every import counts, the ones made only for type
checking and the ones inside functions too, since each is a dependency a reader follows."""

from __future__ import annotations

import ast
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


def imports(root: Path) -> list[Import]:
    """Every import from one module of the floors of another."""
    known = modules(root)

    def nearest(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = []
    for name, path in known.items():
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
            for target in targets:
                imported = nearest(target)
                if imported is not None and imported != name:
                    found.append(Import(name, imported, node.lineno))
    return found


def floor(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def upward(found: list[Import]) -> list[Import]:
    return [i for i in found if floor(i.imported) > floor(i.importer)]


def circles(found: list[Import]) -> list[list[str]]:
    """The modules that import one another, directly or round a longer path (Tarjan's
    strongly connected components of more than one module)."""
    graph: dict[str, set[str]] = {}
    for i in found:
        graph.setdefault(i.importer, set()).add(i.imported)
        graph.setdefault(i.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_every_import_points_down() -> None:
    found = imports(ROOT)
    assert len(found) > 200  # the graph was read, not an empty walk
    assert not upward(found), "\n".join(map(str, upward(found)))


def test_no_module_imports_itself_round_a_circle() -> None:
    assert circles(imports(ROOT)) == []


def test_the_floor_and_the_doors_stand_on_the_floor_alone() -> None:
    """The domain's words and the small helpers import nothing of the project but one another;
    the only doors to Google and to git import only them."""
    above = [
        i for i in imports(ROOT) if i.importer in THE_FLOOR | DOORS and i.imported not in THE_FLOOR
    ]
    assert not above, "\n".join(map(str, above))


def test_the_checks_see_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """The same checks on a planted tree: a service reaching up to the app, and two services
    importing each other (one inside a function, one only for type checking)."""
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
    assert sorted(circles(found)) == [
        ["screens.sheets", "services.models", "sheetstage_tui.app"],
        ["services.deploy", "services.rollback"],
    ]


def test_the_app_is_the_stage_its_screens_call() -> None:
    """Screens call the app through the `Stage` protocol: the app has each of its members, with
    the same parameters, defaults and annotations."""
    app = SheetStageApp(load_config_file(packaged_default()))
    for name, member in vars(Stage).items():
        if name.startswith("_") or not callable(member):
            continue
        assert str(inspect.signature(getattr(app, name))) == str(
            inspect.signature(member.__get__(app))
        ), name
    for name in Stage.__annotations__:
        assert hasattr(app, name), name
