"""The real app's functions, indexed once per test process (as the worker does)."""

from __future__ import annotations

import functools

import azure.functions as func

from devhost.indexing import load_functions
from devhost.routes import RouteTable, http_routes


@functools.cache
def indexed_functions() -> tuple[func.Function, ...]:
    """function_app.app.get_functions(), which azure-functions allows only once."""
    return tuple(load_functions())


@functools.cache
def route_table() -> RouteTable:
    return RouteTable(http_routes(indexed_functions()), "api")
