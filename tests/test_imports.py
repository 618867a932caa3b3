"""Import hygiene: every module of the product imports on its own, there are no import cycles among
module-level imports, and tests and benchmarks import helpers, never a test module, conftest or bench/."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "models", "config")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> list[str]:
    return sorted(module_name(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_level_imports(path: Path) -> set[str]:
    """The modules a file imports when it is imported: statements at module level (also inside a
    module-level try/if), not inside functions or classes, not under `if TYPE_CHECKING:`."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, is_package, node)
                found.add(target)
                # `from pkg import sub` imports the submodule pkg.sub when there is one
                found.update(f"{target}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def import_graph() -> dict[str, set[str]]:
    """module → the product modules it imports at module level."""
    paths = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = {m for m in top_level_imports(path) if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def test_cycle_finder_finds_a_cycle_and_nothing_else():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_graph_reads_module_level_imports_only(tmp_path, monkeypatch):
    pkg = tmp_path / "bot"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "m.py").write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING
        from . import a
        from .b import thing
        try:
            import bot.c
        except ImportError:
            pass
        if TYPE_CHECKING:
            import bot.d
        def f():
            import bot.e
    """))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert top_level_imports(pkg / "m.py") >= {"bot.a", "bot.b", "bot.c", "typing"}
    assert not top_level_imports(pkg / "m.py") & {"bot.d", "bot.e"}


def test_no_import_cycles_among_module_level_imports():
    graph = import_graph()
    assert "bot.core.runtime" in graph and graph["handlers"]  # the graph is not empty by mistake
    assert cycles(graph) == []


# Third-party packages the product imports, loaded once before the per-module children fork, so that each
# child pays only for its own project imports. No project module may be loaded before the fork.
_FORK_RUNNER = r"""
import importlib, os, sys, traceback
for lib in ("flask", "sqlalchemy", "sqlalchemy.orm", "alembic", "pydantic", "pydantic_settings", "jinja2",
            "yaml", "requests", "click", "apscheduler", "redis"):
    importlib.import_module(lib)
project = set(sys.argv[1].split(","))
assert not [m for m in sys.modules if m.split(".")[0] in project], "a project module was loaded before the fork"
failed = 0
for name in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            sys.stderr.write(f"--- {name}\n{traceback.format_exc()}")
            sys.stderr.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        print(name)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_every_module_imports_on_its_own():
    """Each module in a fresh process of its own (forked from one that has loaded only third-party
    libraries): a module that works only because another one was imported first fails here."""
    modules = product_modules()
    assert len(modules) > 60
    run = subprocess.run([sys.executable, "-c", _FORK_RUNNER, ",".join(PACKAGES)], input="\n".join(modules),
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [], run.stderr


def test_an_import_that_fails_is_reported(tmp_path):
    (tmp_path / "broken.py").write_text("import does_not_exist_anywhere\n")
    (tmp_path / "fine.py").write_text("X = 1\n")
    run = subprocess.run([sys.executable, "-c", _FORK_RUNNER, "broken,fine"], input="fine\nbroken",
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.stdout.split() == ["broken"] and "does_not_exist_anywhere" in run.stderr


def _imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_tests_and_benchmarks_import_helpers_never_test_modules():
    bad = []
    for path in sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]):
        for name in _imports_of(path):
            last = name.split(".")[-1]
            if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if path.parent.name == "tests" and (name == "bench" or name.startswith("bench.")):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def _environment_reads(path: Path) -> list[int]:
    """Lines that read the process environment: os.environ, os.getenv, environ imported from os."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(a.name in ("environ", "getenv", "environb") for a in node.names):
            lines.append(node.lineno)
    return lines


def test_the_environment_is_read_only_in_config(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\nX = os.environ.get('A')\n")
    assert _environment_reads(probe) == [2, 3]
    readers = [f"{p.relative_to(ROOT)}:{n}" for pkg in ("bot", "handlers", "models", "migrations")
               for p in sorted((ROOT / pkg).rglob("*.py")) for n in _environment_reads(p)]
    readers += [f"gunicorn.conf.py:{n}" for n in _environment_reads(ROOT / "gunicorn.conf.py")]
    assert readers == []
