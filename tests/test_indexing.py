"""What the Python worker and the Functions host do at start: index the app and validate it."""

from __future__ import annotations

import json

from devhost.host_rules import HttpFunctionSpec, refusals
from devhost.indexing import trigger_binding
from devhost.routes import find_overlaps, http_routes
from shared.http.registry import OPERATIONS, function_name_for, same_template
from tests.app_functions import indexed_functions


def _http_specs() -> list[HttpFunctionSpec]:
    specs = []
    for function in indexed_functions():
        binding = trigger_binding(function)
        if binding["type"] == "httpTrigger":
            specs.append(
                HttpFunctionSpec(function.get_function_name(), binding["route"], binding["methods"])
            )
    return specs


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
            (trigger_binding_,) = [b for b in bindings if b["type"] == "httpTrigger"]
            assert trigger_binding_["authLevel"] == "ANONYMOUS"
            assert "OPTIONS" in trigger_binding_["methods"], "preflights must reach every route"
            assert not trigger_binding_["route"].startswith("/")
            assert any(b["type"] == "http" and b["direction"] == "OUT" for b in bindings)


def test_the_azure_host_would_load_every_http_function() -> None:
    # ScriptHost.ValidateFunction: equal templates with shared methods, reserved prefixes.
    assert refusals(_http_specs()) == []


def test_no_two_http_routes_overlap() -> None:
    overlaps = find_overlaps(indexed_functions())
    assert overlaps == [], [
        (o.first.function_name, o.second.function_name, o.sample_path) for o in overlaps
    ]


def test_each_route_template_is_one_function_serving_its_operations_methods() -> None:
    specs = {spec.name: spec for spec in _http_specs()}
    for operation in OPERATIONS:
        spec = specs[function_name_for(operation.route)]
        assert spec.route is not None
        assert same_template(spec.route, operation.route)
        assert operation.method in (spec.methods or [])
    for spec in specs.values():
        served = {op.method for op in OPERATIONS if same_template(op.route, spec.route or "")}
        assert set(spec.methods or []) == served | {"OPTIONS"}, spec.name


def test_http_functions_are_exactly_the_pipelines_routes() -> None:
    routes = {r.function_name for r in http_routes(indexed_functions())}
    assert routes == {function_name_for(op.route) for op in OPERATIONS}
