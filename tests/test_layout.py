"""The house rules of the code base, checked on the source: sizes, import direction, no cycles, no private imports.

Every import is counted, at module level or inside a function: a cycle through
a function-local import is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "training", "serving")
MAX_LINES = 500
LAYER = {"features": 0, "training": 1, "serving": 2}  # imports only point down: features <- training <- serving


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of a project module in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            out.append((base, [alias.name for alias in node.names], node.lineno))
    return [(module, names, line) for module, names, line in out if module.split(".")[0] in PACKAGES]


def _edges() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from package import module`` counts the module)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names, _ in _imports(name, path):
            graph[name].add(module)
            graph[name].update(f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES)
        graph[name] = {m for m in graph[name] if m in MODULES and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_finds_the_packages():
    assert {"features.catalog", "training.pipeline", "serving.models", "serving.api.service", "serving.cli.app"} <= set(MODULES)
    assert "serving.cli.data" in _edges()["serving.cli.app"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_500_lines(package):
    long = {str(p.relative_to(ROOT)): n for name, p in MODULES.items() if name.startswith(package) and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_no_import_cycle():
    assert _cycles(_edges()) == []


def test_a_cycle_would_be_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_point_from_serving_to_training_to_features():
    upward = [
        f"{name} imports {target}"
        for name, targets in _edges().items()
        for target in targets
        if LAYER[target.split(".")[0]] > LAYER[name.split(".")[0]]
    ]
    assert upward == []


def test_training_imports_nothing_from_the_simulator():
    found = [f"{name} imports {module}" for name, path in MODULES.items() if name.startswith("training")
             for module, _, _ in _imports(name, path) if module.startswith("features.simulator")]  # fmt: skip
    assert found == []


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{path.relative_to(ROOT)}:{line}: {name} from {module}"
        for mod, path in MODULES.items()
        for module, names, line in _imports(mod, path)
        for name in names
        if name.startswith("_") and module != mod
    ]
    assert private == []
