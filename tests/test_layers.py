"""The layers hold: the library never imports the front ends or the jobs, and module-level imports form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "agrisense"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if "migrations" in parts or any(p[0].isdigit() for p in parts):  # Alembic scripts, Streamlit pages
            continue
        out[".".join(parts)] = path
    return out


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("agrisense")}


def _layer(module: str) -> str:
    for layer in ("agrisense.app", "agrisense.pipelines"):
        if module == layer or module.startswith(layer + "."):
            return layer
    return "library"


def test_library_never_imports_front_ends_or_jobs() -> None:
    bad = []
    for module, path in _modules().items():
        layer = _layer(module)
        for name in _imports(path, top_level_only=False):
            target = _layer(name)
            if (layer == "library" and target != "library") or (
                layer == "agrisense.pipelines" and target == "agrisense.app"
            ):
                bad.append(f"{module} imports {name}")
    assert not bad, "\n".join(sorted(bad))


def test_module_level_imports_have_no_cycle() -> None:
    modules = _modules()
    graph = {
        module: {name for name in _imports(path, top_level_only=True) if name in modules and name != module}
        for module, path in modules.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))
