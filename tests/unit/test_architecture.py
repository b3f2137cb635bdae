"""The dependency rule of ARCHITECTURE.md, read from the source: ``pipelines -> gallery -> tracker``,
no import cycles inside any package (between modules; in ``pipelines/`` between sub-packages too), function-local
imports only with a comment that says why, and no test module importing another test module."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tracker", "gallery", "pipelines")
# ARCHITECTURE.md's chain: each part of pipelines/ imports only parts after it.
CHAIN = ("pipelines.cli", "pipelines.mqtt", "pipelines.train", "pipelines.eval", "pipelines.app", "pipelines.web",
         "pipelines.services",
         "pipelines.signals", "pipelines.prometheus", "pipelines.live", "pipelines.events", "pipelines.annotate")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*packages: str) -> dict[str, Path]:
    return {module_name(p): p for package in packages for p in sorted((ROOT / package).rglob("*.py"))}


def imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name that ``tree`` imports (relative imports resolved)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = sources(*packages)
    edges = {}
    for name, path in modules.items():
        found = imported(ast.parse(path.read_text()), name, path.name == "__init__.py")
        edges[name] = {m for m in found if m in modules and m != name}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize(("package", "forbidden"), [("tracker", ("gallery", "pipelines")), ("gallery", ("pipelines",))])
def test_dependencies_point_one_way(package, forbidden):
    edges = graph(*PACKAGES)
    wrong = sorted(f"{m} imports {d}" for m, deps in edges.items() if m.split(".")[0] == package
                   for d in deps if d.split(".")[0] in forbidden)
    assert not wrong, wrong


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_the_modules_of_a_package(package):
    """Function-local imports count: a base class sits in a module of its own, not in the one that chooses
    among its subclasses (``tracker.face.detector``, ``tracker.face.embedders.base``)."""
    edges = {m: {d for d in deps if d.split(".")[0] == package} for m, deps in graph(package).items()}
    assert cycle(edges) is None, " -> ".join(cycle(edges))


def unit(module: str) -> str:
    """A module's place in pipelines/: its sub-package, or itself when it sits at the top."""
    parts = module.split(".")
    return ".".join(parts[:2])


def unit_edges() -> dict[str, set[str]]:
    edges = defaultdict(set)
    for module, deps in graph("pipelines").items():
        edges[unit(module)].update(unit(d) for d in deps if d.startswith("pipelines.") and unit(d) != unit(module))
    return edges


def test_no_import_cycle_between_the_sub_packages_of_pipelines():
    assert cycle(unit_edges()) is None, " -> ".join(cycle(unit_edges()))


def test_pipelines_parts_import_only_along_the_chain_of_architecture_md():
    units = set(unit_edges()) | {d for deps in unit_edges().values() for d in deps}
    assert units - {"pipelines"} == set(CHAIN), "a new part of pipelines/: place it in CHAIN and ARCHITECTURE.md"
    wrong = sorted(f"{a} imports {b}" for a, deps in unit_edges().items() if a != "pipelines"
                   for b in deps if CHAIN.index(b) <= CHAIN.index(a))
    assert not wrong, wrong


def test_the_cycle_finder_finds_cycles():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def local_imports(path: Path) -> list[tuple[int, str]]:
    """Imports inside functions that carry no comment (on their line or the line above) saying why."""
    lines = path.read_text().splitlines()
    bare = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                here, above = lines[inner.lineno - 1], lines[inner.lineno - 2]
                if "#" not in here and not above.strip().startswith("#"):
                    bare.append((inner.lineno, here.strip()))
    return bare


def test_function_local_imports_say_why():
    bare = [f"{path.relative_to(ROOT)}:{n}: {line}" for path in sources(*PACKAGES).values()
            for n, line in local_imports(path)]
    assert not bare, bare


def test_no_test_module_imports_another():
    """Shared test code and data live in tests/support/; conftest.py holds fixtures, which pytest hands out."""
    tests = sources("tests")
    shared = {m for m in tests if m.startswith("tests.support")}
    wrong = sorted(f"{m} imports {d}" for m, deps in graph("tests").items() if m not in shared
                   for d in deps if d in tests and d not in shared)
    assert not wrong, wrong
