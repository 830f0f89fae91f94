"""The floors of the house (issue 11): no import cycle, and import-linter's contracts hold.

grimp reads every import statement of the package, those inside functions included, so a cycle
that a function-level import hides shows here. Imports under TYPE_CHECKING are left out, as in
the import-linter contracts: they only name types for annotations and never run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import nbauth

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        "nbauth", include_external_packages=False, exclude_type_checking_imports=True
    )


def import_cycles(graph: grimp.ImportGraph, prefix: str) -> list[list[str]]:
    """Each group of modules under ``prefix`` that import one another in a circle.

    The groups are the strongly connected components (Tarjan) of the imports among those
    modules; a module that imports itself is a circle of one.
    """
    modules = sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in edges[module]:
                cycles.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(cycles)


def describe(graph: grimp.ImportGraph, cycles: list[list[str]]) -> str:
    """The imports that close each circle, with their line numbers, to start untangling from."""
    lines = []
    for group in cycles:
        lines.append(f"{len(group)} modules import one another:")
        members = set(group)
        for importer in group:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
                details = graph.get_import_details(importer=importer, imported=imported)
                where = ", ".join(f"l.{d['line_number']}" for d in details)
                lines.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_cycle_finder_sees_a_circle_and_a_self_import():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "other.x"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=1, line_contents="")
    graph.add_import(importer="pkg.b", imported="pkg.a", line_number=2, line_contents="")
    graph.add_import(importer="pkg.c", imported="pkg.a", line_number=3, line_contents="")
    graph.add_import(importer="pkg.d", imported="pkg.d", line_number=4, line_contents="")
    graph.add_import(importer="pkg.c", imported="other.x", line_number=5, line_contents="")
    graph.add_import(importer="other.x", imported="pkg.c", line_number=6, line_contents="")

    assert import_cycles(graph, "pkg") == [["pkg.a", "pkg.b"], ["pkg.d"]]
    assert "pkg.b -> pkg.a (l.2)" in describe(graph, import_cycles(graph, "pkg"))


def test_no_import_cycle_in_the_emulator(graph):
    cycles = import_cycles(graph, "nbauth.emulator")
    assert not cycles, describe(graph, cycles)


def test_no_import_cycle_in_nbauth(graph):
    cycles = import_cycles(graph, "nbauth")
    assert not cycles, describe(graph, cycles)


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_is_on_a_floor():
    """A new module must be placed on a floor (pyproject's layers contract), or the contract
    would not see its imports."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    floors = next(c for c in config["contracts"] if c["id"] == "floors")
    placed = {name.strip() for layer in floors["layers"] for name in layer.split(":")}
    package = ROOT / "nbauth"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")} - {"emulator"}
    assert sorted(modules - placed) == [], "modules on no floor: add them to pyproject.toml"
    assert sorted(placed - modules) == [], "floors name modules that do not exist"


def test_no_module_is_over_400_lines():
    # Issue 11: a module that outgrows this has more than one job; split it by job.
    package = Path(nbauth.__file__).parent
    long = {
        str(path.relative_to(package)): n
        for path in package.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}, long
