"""The import graph of shared/ and blueprints/ runs one way, as DESIGN.md draws it.

blueprints → shared.http → shared.services → shared.repositories → shared.db, with schemas,
security and the foundation below them. Deferred imports inside functions count too: a
lower layer that needs a higher one at run time is still upside down.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Highest first; a module may import its own layer and any layer below it.
LAYERS: list[tuple[str, ...]] = [
    ("function_app",),
    ("blueprints",),
    ("shared.http",),
    ("shared.services",),
    ("shared.repositories",),
    ("shared.db",),
    ("shared.schemas", "shared.security"),
    (
        "shared.identity",
        "shared.errors",
        "shared.config",
        "shared.production_policy",
        "shared.clock",
        "shared.triggers",
        "shared.telemetry",  # imports nothing of the app; the HTTP layer and services use it
    ),
]


def layer_of(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    paths = [ROOT / "function_app.py", *(ROOT / "blueprints").rglob("*.py")]
    paths += (ROOT / "shared").rglob("*.py")
    return {module_name(path): path for path in paths}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every app module this file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def test_every_app_module_belongs_to_a_layer() -> None:
    unplaced = [name for name in app_modules() if name != "shared" and layer_of(name) is None]
    assert unplaced == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{importer} → {imported}"
        for importer, imported_set in import_graph().items()
        for imported in imported_set
        if (mine := layer_of(importer)) is not None
        and (theirs := layer_of(imported)) is not None
        and theirs < mine
    ]
    assert sorted(upward) == []


def test_there_is_no_import_circle() -> None:
    graph = {name: {m for m in deps if m != "shared"} for name, deps in import_graph().items()}
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            circles.append([*visiting[visiting.index(module) :], module])
            return
        visiting.append(module)
        for imported in sorted(graph.get(module, ())):
            # A package importing its own submodule (shared.db → shared.db.client) is not a
            # circle unless the submodule imports the package's other members back.
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("shared.services.users", "shared.http.pipeline", False),
        ("shared.repositories.users", "shared.services.users", False),
        ("blueprints.users", "shared.services.users", True),
        ("shared.schemas.users", "shared.identity", True),
    ],
)
def test_the_rule_itself(importer: str, imported: str, allowed: bool) -> None:
    mine, theirs = layer_of(importer), layer_of(imported)
    assert mine is not None
    assert theirs is not None
    assert (theirs >= mine) is allowed


def test_blob_storage_needs_nothing_of_the_app_but_its_settings() -> None:
    # The storage package is a client layer the services share, like shared.db: it must
    # never reach up into services, repositories or the HTTP layer.
    package = "shared.services.storage"
    reached = {
        imported
        for importer, imported_set in import_graph().items()
        if importer == package or importer.startswith(package + ".")
        for imported in imported_set
        if imported != package and not imported.startswith(package + ".")
    }
    assert reached == {"shared.config"}
