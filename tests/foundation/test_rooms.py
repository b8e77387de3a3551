"""Rooms match their dependencies: each package of ``wirewatch`` imports only the rooms below it.

core <- bus, search <- pollers, processors, sinks <- embedded, cli.py. A room
that imports a room it should not (pollers importing a sink, core importing
anything first-party) fails here, with the module and line named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "wirewatch"

ROOMS = ("core", "bus", "search", "pollers", "processors", "sinks", "embedded")

ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "bus": frozenset({"core"}),
    "search": frozenset({"core"}),
    "pollers": frozenset({"core", "bus", "search"}),  # full text hashes article text as search normalises it
    "processors": frozenset({"core", "bus", "search"}),
    "sinks": frozenset({"core", "bus", "search"}),
    "embedded": frozenset(ROOMS),
}
"""Rooms each room may import besides itself; modules outside the rooms (cli.py, __main__.py) may import all."""

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("sinks/cli.py", "wirewatch.processors.rules"): (
        "`wirewatch rules backtest` replays stored items through the rules file: it needs the "
        "processor's rule loader, and only the command does (no sink at run time imports processors)"
    ),
}
"""(module, imported module) pairs allowed across rooms, each with the reason."""


def first_party_imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``wirewatch.*`` import in a file under ``root``, top-level or inside functions."""
    package = ".".join(("wirewatch", *path.relative_to(root).parent.parts))
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return [(line, module) for line, module in found if module.split(".")[0] == "wirewatch"]


def room_of(module: str) -> str | None:
    """``wirewatch.sinks.cli`` -> ``sinks``; modules outside the rooms -> ``None``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else None


def violations(package: Path) -> list[str]:
    """Every import that crosses into a room its importer may not use."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        room = room_of("wirewatch." + relative.replace("/", "."))
        if room is None:
            continue
        for line, module in first_party_imports(path, package):
            target = room_of(module)
            if target is None and module != "wirewatch":
                target = "top level"  # wirewatch.cli and friends sit above every room
            if target in (None, room) or target in ALLOWED[room] or (relative, module) in EXCEPTIONS:
                continue
            found.append(f"{relative}:{line} ({room}) imports {module} ({target})")
    return found


def test_every_room_imports_only_the_rooms_it_depends_on() -> None:
    assert violations(PACKAGE) == []


def test_the_exceptions_are_still_needed() -> None:
    """An exception nobody uses any more is a rule quietly loosened: remove it."""
    used = {
        (path.relative_to(PACKAGE).as_posix(), module)
        for path in PACKAGE.rglob("*.py")
        for _, module in first_party_imports(path)
    }
    assert set(EXCEPTIONS) <= used


@pytest.mark.parametrize(
    ("room", "module", "imports"),
    [
        ("core", "retry.py", "from wirewatch.bus.base import Message\n"),
        ("pollers", "poller.py", "from wirewatch.sinks.indexer import Indexer\n"),
        ("pollers", "group.py", "def f() -> None:\n    from wirewatch.processors import rules\n"),
        ("sinks", "indexer.py", "from wirewatch.embedded.runner import Runner\n"),
        ("sinks", "store.py", "from ..processors import pipeline\n"),
        ("bus", "kafka.py", "import wirewatch.cli\n"),
    ],
)
def test_a_forbidden_import_is_reported(tmp_path: Path, room: str, module: str, imports: str) -> None:
    package = tmp_path / "wirewatch"
    for name in ROOMS:
        (package / name).mkdir(parents=True)
    (package / room / module).write_text("from __future__ import annotations\n" + imports)
    (package / "sinks" / "cli.py").write_text("from wirewatch.processors.rules import load_rules\n")
    [violation] = violations(package)
    assert violation.startswith(f"{room}/{module}:")
