"""A second instance of the app inside the test process: the same code, none of its state.

An Azure Functions instance is a worker process: everything the app keeps at module level
(cached settings, the database client and its collections, the token signer, the dummy
password hash, the mail pool, the operation registry, any counter someone might keep in a
dict) belongs to that one instance. `load_instance()` imports the app's own packages
(`shared`, `blueprints`, `function_app`) a second time under a private top-level name,
so every module, and with it all of that state, is a fresh object. Each loaded module
gets an `__import__` (and an `importlib.import_module`) that maps `shared.x` to the copy,
which covers the imports the app makes lazily inside functions too: a request served by
the copy never touches a module of the first instance. Third-party libraries (pydantic,
pymongo, bcrypt, PyJWT) are shared, as they would be code on disk; they keep no app state.

The one thing the two instances share is what real instances share: the database. On
MongoDB (TEST_DATABASE_URL) the copy opens its own client to the same database; on the
embedded mongomock, whose data lives inside one client object, the copy is handed the
first instance's database handle (with the lock that stands in for a server's atomicity).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.routes import RouteTable, http_routes

ROOT = Path(__file__).resolve().parents[1]
APP_PACKAGES = frozenset({"shared", "blueprints", "function_app"})
# Modules the copy takes from the first instance. shared.triggers defines the blob-trigger
# converter, which azurefunctions-extensions-base registers once per worker process (a
# second definition is refused); it parses trigger data and keeps nothing.
FROM_FIRST_INSTANCE = ("shared.triggers",)
_numbers = itertools.count(1)


@dataclass
class AppInstance:
    """A loaded copy of the app: its route table and its own modules."""

    prefix: str
    routes: RouteTable

    def module(self, name: str) -> Any:
        """This instance's copy of the app module `name` (e.g. "shared.clock"), imported now."""
        return importlib.import_module(f"{self.prefix}.{name}")

    def unload(self) -> None:
        """Close its database client and forget its modules (a later copy starts afresh)."""
        self.module("shared.db.client").reset_database_client()
        for name in [n for n in sys.modules if n == self.prefix or n.startswith(self.prefix + ".")]:
            del sys.modules[name]
        sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "prefix", None) != self.prefix]


def load_instance(*, database: Any = None) -> AppInstance:
    """Import a fresh copy of the app; `database` (a Database) replaces its own connection."""
    prefix = f"app_instance_{next(_numbers)}"
    package = types.ModuleType(prefix)
    package.__path__ = []  # a namespace for the copy; the finder below fills it
    sys.modules[prefix] = package
    finder = _CopyFinder(prefix)
    sys.meta_path.insert(0, finder)
    for name in FROM_FIRST_INSTANCE:
        parent, _, leaf = name.rpartition(".")
        setattr(finder.importer.import_module(parent), leaf, importlib.import_module(name))
        sys.modules[f"{prefix}.{name}"] = sys.modules[name]
    function_app = finder.importer.import_module("function_app")
    if database is not None:
        # The embedded database lives in one client object: hand it over, so both
        # instances see one database (the copy's own client would be a second, empty one).
        client_module = finder.importer.import_module("shared.db.client")
        client_module._database = database
    routes = RouteTable(http_routes(function_app.app.get_functions()), "api")
    return AppInstance(prefix, routes)


class _Importer:
    """The import functions a copied module sees: app packages resolve inside the copy."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.builtins = {**vars(builtins), "__import__": self.import_statement}
        self.importlib = _ImportlibView(self)

    def rename(self, name: str) -> str:
        if name.partition(".")[0] in APP_PACKAGES:
            return f"{self.prefix}.{name}"
        return name

    def import_module(self, name: str, package: str | None = None) -> Any:
        return importlib.import_module(self.rename(name), package)

    def import_statement(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> Any:
        if level == 0 and name == "importlib" and not fromlist:
            return self.importlib
        if level != 0 or name.partition(".")[0] not in APP_PACKAGES:
            return builtins.__import__(name, globals, locals, fromlist, level)
        found = builtins.__import__(self.rename(name), globals, locals, fromlist, level)
        if fromlist:
            return found  # `from shared.x import y`: the module itself
        # `import shared.x` binds the name `shared`: the copy's package, not the namespace.
        return sys.modules[self.rename(name.partition(".")[0])]


class _ImportlibView:
    """`importlib` as a copied module sees it: import_module resolves inside the copy."""

    def __init__(self, importer: _Importer) -> None:
        self.import_module: Callable[..., Any] = importer.import_module

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib, name)


class _CopyFinder(importlib.abc.MetaPathFinder):
    """Finds `<prefix>.shared...` in the repository and loads it with the copy's imports."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.importer = _Importer(prefix)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.prefix + "."):
            return None
        relative = fullname[len(self.prefix) + 1 :].split(".")
        location = ROOT.joinpath(*relative)
        if (location / "__init__.py").is_file():
            origin, search = location / "__init__.py", [str(location)]
        elif location.with_suffix(".py").is_file():
            origin, search = location.with_suffix(".py"), None
        else:
            return None
        loader = _CopyLoader(fullname, str(origin), self.importer)
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=loader, submodule_search_locations=search
        )


class _CopyLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, importer: _Importer) -> None:
        super().__init__(fullname, path)
        self.importer = importer

    def exec_module(self, module: types.ModuleType) -> None:
        # Functions take their builtins from their module: every import they make,
        # at load time or later inside a call, goes through the copy's __import__.
        module.__dict__["__builtins__"] = self.importer.builtins
        super().exec_module(module)
