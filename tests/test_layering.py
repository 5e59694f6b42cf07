"""The layers import only downwards: solver < scenarios < api < carerota (the command line),
and no module imports itself round a cycle.

Every import counts, including the lazy ones inside functions that used to hide cycles: a lazy
import of an outer layer still makes the inner one unusable without it, and a lazy import that
closes a cycle only hides it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Inner first: a package may import itself and anything before it, nothing after it.
LAYERS = ("solver", "scenarios", "api", "carerota")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it is written.

    Relative imports stay inside their own package, so they can never cross a layer and are left
    out; ``importlib.import_module("x")`` with a literal name counts as an import of ``x``.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def back_imports(source: str, layer: str) -> list[str]:
    """The imports in a module of ``layer`` that reach an outer layer, as ``line N: name``."""
    outer = LAYERS[LAYERS.index(layer) + 1 :]
    return [
        f"line {line}: {name}"
        for line, name in imported_modules(source)
        if name.split(".")[0] in outer
    ]


def layer_breaches(root: Path, layer: str) -> dict[str, list[str]]:
    """Every module of ``root/layer`` with a back-import, and its offending imports."""
    return {
        str(path.relative_to(root)): found
        for path in sorted((root / layer).rglob("*.py"))
        if (found := back_imports(path.read_text(encoding="utf-8"), layer))
    }


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_no_layer_imports_an_outer_one(layer: str) -> None:
    assert list((ROOT / layer).rglob("*.py")), f"no modules found under {layer}/"
    assert layer_breaches(ROOT, layer) == {}


def test_the_command_line_is_assembled_above_every_layer() -> None:
    # The console script must point at the top package, or the CLI would be rebuilt in a layer.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'carerota = "carerota.cli:main"' in pyproject


SYNTHETIC = """
import json
import api
from solver.data import build
from scenarios.generator import generate


def later():
    from api.jobs import run  # lazy, as the old cycles were
    import importlib
    return importlib.import_module("scenarios.whatif")


class Inside:
    def method(self):
        import carerota.cli
        from . import sibling
"""


def test_the_checker_finds_every_back_import_in_a_synthetic_module() -> None:
    # The same module judged from each layer: only what lies above that layer is a breach.
    assert sorted(back_imports(SYNTHETIC, "solver")) == [
        "line 11: scenarios.whatif",
        "line 16: carerota.cli",
        "line 3: api",
        "line 5: scenarios.generator",
        "line 9: api.jobs",
    ]
    assert sorted(back_imports(SYNTHETIC, "scenarios")) == [
        "line 16: carerota.cli",
        "line 3: api",
        "line 9: api.jobs",
    ]
    assert back_imports(SYNTHETIC, "api") == ["line 16: carerota.cli"]
    assert back_imports(SYNTHETIC, "carerota") == []


def test_a_deliberate_back_import_fails_the_layering_check(tmp_path: Path) -> None:
    # A copy of the real solver package plus one module with a lazy back-import into the service.
    (tmp_path / "solver").mkdir()
    for path in (ROOT / "solver").glob("*.py"):
        (tmp_path / "solver" / path.name).write_text(path.read_text(encoding="utf-8"))
    assert layer_breaches(tmp_path, "solver") == {}
    (tmp_path / "solver" / "shortcut.py").write_text(
        "def jobs():\n    from api.jobs import Job\n    return Job\n", encoding="utf-8"
    )
    assert layer_breaches(tmp_path, "solver") == {"solver/shortcut.py": ["line 2: api.jobs"]}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``root``'s layers it imports, lazily or not.

    ``from api.db import Job`` is an import of ``api.db``; ``from api.jobs import claims`` of
    ``api.jobs.claims``.
    """
    paths = {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for layer in LAYERS
        for path in (root / layer).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        names = [name for _, name in imported_modules(path.read_text(encoding="utf-8"))]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names += [f"{node.module}.{alias.name}" for alias in node.names]
        targets = set()
        for name in names:
            while name and name not in paths:  # "api.db.Job" is the module api.db
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected parts of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graphs here are a few hundred deep
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    graph = import_graph(ROOT)
    assert "api.jobs.dispatch" in graph and graph["solver.search"] >= {"solver.options"}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_lazy_cycle() -> None:
    # The old solver/search.py <-> solver/solve.py: search imported the options from its caller,
    # which imports search lazily.
    graph = {
        "solver.solve": {"solver.search", "solver.data"},
        "solver.search": {"solver.solve"},
        "solver.data": set(),
    }
    assert cycles(graph) == [["solver.search", "solver.solve"]]
    graph["solver.search"] = {"solver.options"}
    graph["solver.options"] = set()
    assert cycles(graph) == []
