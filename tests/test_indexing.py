"""What the Python worker does at start: index the app's functions and their bindings."""

from __future__ import annotations

import json

from devhost.routes import find_overlaps, http_routes
from shared.http.registry import OPERATIONS
from tests.app_functions import indexed_functions


def test_every_function_has_a_unique_name_and_valid_bindings() -> None:
    functions = indexed_functions()
    names = [f.get_function_name() for f in functions]
    assert len(names) == len(set(names)) > 0
    for function in functions:
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = function.get_trigger()
        assert trigger is not None, function.get_function_name()
        assert trigger.name in {b["name"] for b in bindings}
        if trigger.get_binding_name() == "httpTrigger":
            (trigger_binding,) = [b for b in bindings if b["type"] == "httpTrigger"]
            assert trigger_binding["authLevel"] == "ANONYMOUS"
            assert "OPTIONS" in trigger_binding["methods"], "preflights must reach every route"
            assert not trigger_binding["route"].startswith("/")
            assert any(b["type"] == "http" and b["direction"] == "OUT" for b in bindings)


def test_no_two_http_routes_overlap() -> None:
    overlaps = find_overlaps(indexed_functions())
    assert overlaps == [], [
        (o.first.function_name, o.second.function_name, o.sample_path) for o in overlaps
    ]


def test_every_http_function_is_a_pipeline_operation() -> None:
    routes = {(r.function_name, r.route) for r in http_routes(indexed_functions())}
    operations = {(op.name, op.route) for op in OPERATIONS}
    assert routes == operations
