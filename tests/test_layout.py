"""The package is one namespace, `ticketbolt.*`, whose rooms import one way and in no circle."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("bot", "handlers", "integrations", "cache")
# Which rooms each room may import (DESIGN §2): bot → handlers → integrations, cache.
ALLOWED = {
    "bot": {"bot", "handlers", "integrations", "cache"},
    "handlers": {"handlers", "integrations", "cache"},
    "integrations": {"integrations", "cache"},
    "cache": {"cache"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "ticketbolt." + ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """Names `path` imports at module level, `if TYPE_CHECKING:` included (the commands' lazy
    imports inside functions are not): `from a import b` yields both `a.b` and `a`."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(sub, ast.Import):
                found |= {alias.name for alias in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                found |= {f"{sub.module}.{alias.name}" for alias in sub.names}
    return {name for name in found if name.startswith("ticketbolt.")}


def _graph() -> dict[str, set[str]]:
    """Module → the modules it needs loaded: `a.b` when it is a module, else the package `a`."""
    files = [p for room in ROOMS for p in (ROOT / room).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _top_level_imports(path):
            target = imported if imported in modules else imported.rsplit(".", 1)[0]
            if target in modules and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def test_rooms_import_one_way() -> None:
    """No room imports a room above it: bot → handlers → integrations, cache."""
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if target.split(".")[1] not in ALLOWED[name.split(".")[1]]
    )
    assert [] == wrong


def test_no_import_circles() -> None:
    """No module needs itself back through others when it is imported."""
    graph = _graph()
    circles: list[list[str]] = []
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for node in graph:
        if node not in index:
            visit(node)
    assert [] == circles


@pytest.mark.slow
def test_wheel_installs_only_the_ticketbolt_namespace(tmp_path: Path) -> None:
    """The wheel's top level is `ticketbolt` (and its metadata), nothing named bot, cache, …"""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ticketbolt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"ticketbolt"} == {t for t in tops if not t.endswith(".dist-info")}
    for expected in [
        "ticketbolt/__main__.py",
        "ticketbolt/bot/cli/main.py",
        "ticketbolt/bot/db/migrations/env.py",
        "ticketbolt/bot/db/migrations/versions/0001_initial.py",
        "ticketbolt/bot/db/migrations/script.py.mako",
        "ticketbolt/bot/sandbox/static/index.html",
        "ticketbolt/integrations/slack/emulator/app.py",
        "ticketbolt/integrations/intents/default_intents.yml",
        "ticketbolt/bench/e2e.py",
    ]:
        assert expected in names


def test_nothing_imports_a_room_by_its_bare_name() -> None:
    """Code and tests import `ticketbolt.bot`, never `bot`: bare names exist only in a checkout."""
    bare = {*ROOMS, "bench"}
    offenders = []
    for path in sorted(ROOT.glob("[!.]*/**/*.py")):
        if path.parts[len(ROOT.parts)] in {"ticketbolt", "build"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in bare
            ]
    assert [] == offenders
