"""Route templates as Azure matches them, and the local host's route-overlap check."""

from __future__ import annotations

import azure.functions as func
import pytest

from devhost.route_template import RouteTemplateError, parse_template
from devhost.routes import HttpRoute, RouteTable, find_overlaps

OBJECT_ID = "64b7f0c2a1d3e4f5a6b7c8d9"


def _match(template: str, path: str) -> dict[str, str] | None:
    return parse_template(template).match(path.split("/") if path else [])


def _functions(*routes: tuple[str, str, list[str] | None]) -> list[func.Function]:
    """A FunctionApp built from a Blueprint with one HTTP function per (name, route, methods)."""
    blueprint = func.Blueprint()
    for name, route, methods in routes:

        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        blueprint.function_name(name)(blueprint.route(route=route, methods=methods)(handler))
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(blueprint)
    return app.get_functions()


# --- matching ---------------------------------------------------------------------------


def test_literal_segments_match_case_insensitively() -> None:
    assert _match("v1/Users/Me", "V1/users/ME") == {}
    assert _match("v1/users/me", "v1/users/you") is None


def test_parameter_captures_one_non_empty_segment() -> None:
    assert _match("users/{user_id}", "users/42") == {"user_id": "42"}
    assert _match("users/{user_id}", "users/42/extra") is None
    assert _match("users/{user_id}", "users/") is None
    assert _match("users/{user_id}", "users") is None


def test_optional_parameter_may_be_left_out() -> None:
    assert _match("files/{name?}", "files") == {}
    assert _match("files/{name?}", "files/report") == {"name": "report"}


def test_parameter_default_fills_an_omitted_segment() -> None:
    assert _match("items/{page=1}", "items") == {"page": "1"}
    assert _match("items/{page=1}", "items/3") == {"page": "3"}


def test_catch_all_takes_the_rest_of_the_path() -> None:
    assert _match("files/{*path}", "files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert _match("files/{*path}", "files") == {}


def test_complex_segment_splits_name_and_optional_extension() -> None:
    assert _match("files/{name}.{ext?}", "files/archive.tar.gz") == {
        "name": "archive.tar",
        "ext": "gz",
    }
    assert _match("files/{name}.{ext?}", "files/readme") == {"name": "readme"}


@pytest.mark.parametrize(
    ("template", "accepted", "refused"),
    [
        ("{v:int}", ["42", "-7"], ["4x", "2147483648", "1.5"]),
        ("{v:long}", ["2147483648"], ["9223372036854775808"]),
        ("{v:alpha}", ["Abc"], ["ab1"]),
        ("{v:bool}", ["TRUE", "false"], ["yes"]),
        ("{v:guid}", ["3fa85f64-5717-4562-b3fc-2c963f66afa6"], ["3fa85f64"]),
        ("{v:decimal}", ["1.25"], ["1,25"]),
        ("{v:datetime}", ["2024-05-01"], ["yesterday"]),
        ("{v:length(3)}", ["abc"], ["ab", "abcd"]),
        ("{v:length(2,3)}", ["ab", "abc"], ["a", "abcd"]),
        ("{v:minlength(2)}", ["ab"], ["a"]),
        ("{v:maxlength(2)}", ["ab"], ["abc"]),
        ("{v:min(10)}", ["10"], ["9", "x"]),
        ("{v:max(10)}", ["10"], ["11"]),
        ("{v:range(1,5)}", ["1", "5"], ["0", "6"]),
        ("{v:int:min(1)}", ["1"], ["0"]),
        ("{v:INT}", ["1"], ["x"]),
    ],
)
def test_inline_constraints_accept_and_refuse_values(
    template: str, accepted: list[str], refused: list[str]
) -> None:
    for value in accepted:
        assert _match(template, value) == {"v": value}, value
    for value in refused:
        assert _match(template, value) is None, value


def test_regex_constraint_with_doubled_braces_means_a_literal_brace() -> None:
    template = "users/{user_id:regex(^[0-9a-f]{{24}}$)}"
    assert _match(template, f"users/{OBJECT_ID}") == {"user_id": OBJECT_ID}
    assert _match(template, f"users/{OBJECT_ID[:-1]}") is None
    assert _match(template, "users/me") is None


def test_regex_constraint_is_an_unanchored_case_insensitive_search() -> None:
    assert _match("{code:regex([a-f]+)}", "xxABCxx") == {"code": "xxABCxx"}
    assert _match("{code:regex(^(ab|cd)+$)}", "ABcd") == {"code": "ABcd"}
    assert _match("{code:regex(^(ab|cd)+$)}", "abx") is None


@pytest.mark.parametrize(
    "template",
    [
        "users/{id:nosuch}",
        "users/{id",
        "users/id}",
        "files/{*path}/meta",
        "a/{id}/b/{ID}",
        "files/{name?}.{ext}",
        "a//b",
        "{id:regex(^a$}",
    ],
)
def test_templates_azure_would_refuse_are_refused(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        parse_template(template)


# --- the route table ---------------------------------------------------------------------


def _table(prefix: str, *routes: tuple[str, str, list[str] | None]) -> RouteTable:
    return RouteTable([HttpRoute.from_function(fn) for fn in _functions(*routes)], prefix)


def test_route_table_serves_routes_under_the_route_prefix_only() -> None:
    table = _table("api", ("get_user", "v1/users/{user_id}", ["GET"]))
    found = table.match("get", ["API", "v1", "users", "42"])
    assert found is not None
    assert found.route.function_name == "get_user"
    assert found.params == {"user_id": "42"}
    assert table.match("GET", ["v1", "users", "42"]) is None


def test_route_table_with_empty_prefix_serves_from_the_root() -> None:
    table = _table("", ("health", "v1/health", ["GET"]))
    assert table.match("GET", ["v1", "health"]) is not None
    assert table.url_path("v1/health") == "/v1/health"


def test_route_table_reports_methods_served_at_a_known_path() -> None:
    table = _table("api", ("health", "v1/health", ["GET", "OPTIONS"]))
    assert table.match("DELETE", ["api", "v1", "health"]) is None
    assert table.methods_at(["api", "v1", "health"]) == {"GET", "OPTIONS"}
    assert table.methods_at(["api", "v1", "nothing"]) == frozenset()


def test_route_without_methods_serves_every_method() -> None:
    table = _table("api", ("anything", "v1/anything", None))
    assert table.match("PATCH", ["api", "v1", "anything"]) is not None


# --- overlaps ----------------------------------------------------------------------------


def test_literal_route_overlapping_a_parameter_route_is_found() -> None:
    overlaps = find_overlaps(
        _functions(
            ("get_me", "v1/users/me", ["GET", "OPTIONS"]),
            ("get_user", "v1/users/{user_id}", ["GET", "OPTIONS"]),
        )
    )
    assert len(overlaps) == 1
    overlap = overlaps[0]
    assert {overlap.first.function_name, overlap.second.function_name} == {"get_me", "get_user"}
    assert overlap.sample_path == "v1/users/me"
    assert overlap.methods == {"GET", "OPTIONS"}


def test_parameter_constrained_to_object_ids_does_not_overlap_a_literal() -> None:
    overlaps = find_overlaps(
        _functions(
            ("get_me", "v1/users/me", ["GET", "OPTIONS"]),
            ("get_user", "v1/users/{user_id:regex(^[0-9a-f]{{24}}$)}", ["GET", "OPTIONS"]),
        )
    )
    assert overlaps == []


def test_routes_sharing_only_options_overlap() -> None:
    # Each answers OPTIONS with its own Allow list: Azure would pick one by function name.
    overlaps = find_overlaps(
        _functions(
            ("get_me", "v1/users/me", ["GET", "OPTIONS"]),
            ("update_user", "v1/users/{user_id}", ["PATCH", "OPTIONS"]),
        )
    )
    assert [overlap.methods for overlap in overlaps] == [{"OPTIONS"}]


def test_routes_with_disjoint_methods_do_not_overlap() -> None:
    overlaps = find_overlaps(
        _functions(
            ("list_users", "v1/users", ["GET"]),
            ("create_user", "v1/users", ["POST"]),
        )
    )
    assert overlaps == []


def test_route_without_methods_overlaps_any_method_of_the_same_path() -> None:
    overlaps = find_overlaps(
        _functions(("anything", "v1/things", None), ("delete_things", "v1/things", ["DELETE"]))
    )
    assert [overlap.methods for overlap in overlaps] == [{"DELETE"}]


@pytest.mark.parametrize(
    ("first", "second", "sample"),
    [
        ("{a}/x", "y/{b}", "y/x"),
        ("v1/files/{name?}", "v1/files", "v1/files"),
        ("v1/files/{*path}", "v1/files/a/b", "v1/files/a/b"),
        ("v1/items/{id:int}", "v1/items/{key:regex(^[0-9]+$)}", "v1/items/1"),
        ("v1/items/{id:guid}", "v1/items/{key}", "v1/items/3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        ("v1/Health", "v1/health", "v1/Health"),
    ],
)
def test_overlaps_found_through_parameters_optionals_and_catch_alls(
    first: str, second: str, sample: str
) -> None:
    overlaps = find_overlaps(_functions(("first", first, ["GET"]), ("second", second, ["GET"])))
    assert [overlap.sample_path for overlap in overlaps] == [sample]


def test_parameters_constrained_to_disjoint_shapes_do_not_overlap() -> None:
    overlaps = find_overlaps(
        _functions(
            ("by_number", "v1/items/{id:int}", ["GET"]),
            ("by_name", "v1/items/{name:alpha}", ["GET"]),
        )
    )
    assert overlaps == []


def test_non_http_functions_are_ignored_by_the_overlap_check() -> None:
    blueprint = func.Blueprint()

    @blueprint.blob_trigger(arg_name="blob", path="uploads/{name}", connection="Storage")
    def process_upload(blob: func.InputStream) -> None:
        return None

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(blueprint)
    assert find_overlaps(app.get_functions()) == []
