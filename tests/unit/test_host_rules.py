"""The Functions host's validation of HTTP functions, with the host's own cases.

Ported from azure-functions-host (ScriptHost.ValidateFunction / HttpRoutesConflict and
their unit tests): same template with disjoint methods is allowed; overlapping methods
conflict; an empty method list means every method; case and surrounding slashes are
ignored; the later function in name order is the one refused.
"""

from __future__ import annotations

import pytest

from devhost.host_rules import HttpFunctionSpec, refusals, routes_conflict


def spec(name: str, route: str | None, methods: list[str] | None) -> HttpFunctionSpec:
    return HttpFunctionSpec(name, route, methods)


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        (("a", "products", ["GET"]), ("b", "products", ["POST"]), False),
        (("a", "products", ["GET", "POST"]), ("b", "products", ["POST", "PUT"]), True),
        (("a", "products", None), ("b", "products", ["DELETE"]), True),
        (("a", "products", []), ("b", "products", []), True),
        (("a", "products", ["GET"]), ("b", "/Products/", ["GET"]), True),
        (("a", "products/{id}", ["GET"]), ("b", "products/{ID}", ["GET"]), True),
        (("a", "products", ["GET"]), ("b", "products/{id}", ["GET"]), False),
        (
            ("a", "v1/users/me", ["GET", "OPTIONS"]),
            ("b", "v1/users/me", ["PATCH", "OPTIONS"]),
            True,
        ),
    ],
)
def test_routes_conflict_like_the_host(
    first: tuple[str, str, list[str] | None],
    second: tuple[str, str, list[str] | None],
    conflict: bool,
) -> None:
    assert routes_conflict(spec(*first), spec(*second)) is conflict
    assert routes_conflict(spec(*second), spec(*first)) is conflict


def test_the_later_function_in_name_order_is_refused_naming_the_earlier() -> None:
    refused = refusals(
        [
            spec("users_me_update", "v1/users/me", ["PATCH", "OPTIONS"]),
            spec("users_me_delete", "v1/users/me", ["DELETE", "OPTIONS"]),
            spec("health", "v1/health", ["GET", "OPTIONS"]),
        ]
    )
    assert [r.function_name for r in refused] == ["users_me_update"]
    assert "conflicts with the route defined by function 'users_me_delete'" in refused[0].reason


def test_every_later_conflicting_function_is_refused() -> None:
    refused = refusals([spec(f"f{i}", "things", ["OPTIONS", m]) for i, m in enumerate("ABC")])
    assert [r.function_name for r in refused] == ["f1", "f2"]


@pytest.mark.parametrize(
    "route", ["admin/users", "/Admin", "administrator", "runtime/x", "RUNTIME"]
)
def test_routes_in_the_hosts_reserved_space_are_refused(route: str) -> None:
    [refused] = refusals([spec("f", route, ["GET"])])
    assert "built in routes" in refused.reason


def test_a_reserved_word_later_in_the_route_is_fine() -> None:
    assert refusals([spec("f", "v1/admin/stats", ["GET"])]) == []


def test_a_function_without_a_route_is_served_at_its_name() -> None:
    refused = refusals([spec("things", None, ["GET"]), spec("other", "things", ["GET"])])
    assert [r.function_name for r in refused] == ["things"]  # "other" comes first by name


def test_repeated_function_names_are_refused() -> None:
    refused = refusals([spec("Same", "a", ["GET"]), spec("same", "b", ["GET"])])
    assert len(refused) == 1
    assert "must be unique" in refused[0].reason
