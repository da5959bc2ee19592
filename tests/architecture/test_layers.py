"""The import graph of jobtrail's own modules: layers only look down, bindings stand alone.

Built from the source with `ast` (every import, top-level, function-local or for type
checking), so a violation fails here before it shows anywhere else. The layers, lowest
first, are described in ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS = [
    "jobtrail.base",
    "jobtrail.store",
    "jobtrail.vocab",
    "jobtrail.shapes",
    "jobtrail.ingest",
    "jobtrail.queries",
    "jobtrail.jobs",
    "jobtrail.web",
    "jobtrail.bindings",
    "jobtrail.server",
    "jobtrail.cli",
]
"""Each package may import its own layer and those before it, never one after it."""


def _folders() -> dict[str, Path]:
    """The top-level packages and their folders, as pyproject.toml maps them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    mapped = pyproject["tool"]["setuptools"]["package-dir"]
    return {package: ROOT / folder for package, folder in mapped.items()}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in _folders().items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import of a jobtrail module in the file."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:  # `from package import module`
                    yield f"{target}.{alias.name}", node.lineno
                else:  # a name defined in the module (or package) itself
                    yield target, node.lineno


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for name, path in MODULES.items():
        for target, line in _imports(name, path):
            if target.startswith("jobtrail.") and target in MODULES and target != name:
                edges.append((name, target, line))
    return edges


EDGES = _edges()


def _layer(module: str) -> int:
    return max(
        i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")
    )


def _binding(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "bindings" else None


def test_every_module_belongs_to_a_layer() -> None:
    assert set(_folders()) == set(LAYERS)
    assert len(MODULES) > 50  # the graph is really built


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{a} (line {line}) imports {b}" for a, b, line in EDGES if _layer(b) > _layer(a)]
    assert upward == []


def test_no_binding_imports_another() -> None:
    across = [
        f"{a} (line {line}) imports {b}"
        for a, b, line in EDGES
        if _binding(a) and _binding(b) and _binding(a) != _binding(b)
    ]
    assert across == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b, _ in EDGES:
        graph[a].add(b)
    # Tarjan's strongly connected components: any component of two or more is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The graph builder finds function-local and relative imports (what the checks rely on)."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from jobtrail.server import app\nfrom . import conneg\n")
    found = sorted(t for t, _ in _imports("jobtrail.web.probe", path))
    assert found == ["jobtrail.server.app", "jobtrail.web.conneg"]
    assert _layer("jobtrail.server.app") > _layer("jobtrail.web.probe")
    assert _binding("jobtrail.bindings.uws.routes") == "uws"


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (ROOT / "bindings").iterdir() if (p / "__init__.py").exists())
)
def test_every_binding_package_is_declared_once_in_the_app(name: str) -> None:
    """Adding a binding is one package exporting `BINDING` and one line in the app's list."""
    import importlib

    from jobtrail.server.app import BINDINGS

    module = importlib.import_module(f"jobtrail.bindings.{name}")
    assert [b for b in BINDINGS if b is module.BINDING] == [module.BINDING]
    assert module.BINDING.name == name


def test_every_package_folder_is_installed() -> None:
    """A package folder missing from pyproject's list would be left out of a user's install."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    found = {
        ".".join([package, *init.parent.relative_to(folder).parts])
        for package, folder in _folders().items()
        for init in folder.rglob("__init__.py")
    }
    assert found - listed == set()
