"""The local host's HTTP bridge: werkzeug request to func.HttpRequest and back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import azure.functions as func
import pytest
from werkzeug.test import Client, EnvironBuilder, TestResponse, run_wsgi_app

from devhost.cors import PlatformCors
from devhost.http_app import (
    MAX_REQUEST_BODY_BYTES,
    RAW_HEADERS_KEY,
    FunctionsWsgiApp,
    body_size_limit,
    to_werkzeug_response,
    worker_thread_count,
)
from devhost.invocation import FunctionInvoker
from devhost.routes import RouteTable, http_routes

blueprint = func.Blueprint()
calls: list[func.HttpRequest] = []


@blueprint.route(route="v1/echo/{name}", methods=["GET", "POST", "OPTIONS"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    calls.append(req)
    body = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "body": req.get_body().decode(),
        "forwarded_for": req.headers.get("x-forwarded-for"),
        "forwarded_proto": req.headers.get("x-forwarded-proto"),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@blueprint.route(route="v1/files/{*path}", methods=["GET"])
def file_path(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("path", "<none>"))


@blueprint.route(route="v1/cookies", methods=["GET"])
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse(
        "<p>hi</p>", status_code=201, mimetype="text/html", charset="utf-8"
    )
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    response.headers["X-Custom"] = "yes"
    return response


@blueprint.route(route="v1/text", methods=["GET"])
def plain_text(req: func.HttpRequest) -> str:
    return "just text"


@blueprint.route(route="v1/async", methods=["GET"])
async def asynchronous(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("from a coroutine")


@blueprint.route(route="v1/boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the pipeline should have caught this")


ALLOWED_ORIGINS = ["https://app.example", "http://localhost:5173"]


@pytest.fixture
def client() -> Iterator[Client]:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(blueprint)
    invoker = FunctionInvoker()
    wsgi_app = FunctionsWsgiApp(
        RouteTable(http_routes(app.get_functions()), "api"),
        invoker,
        cors=PlatformCors(ALLOWED_ORIGINS),
    )
    calls.clear()
    yield Client(wsgi_app)
    invoker.close()


def assert_host_answer(response: TestResponse, status: int) -> None:
    """The Functions host's own answer: the status, an empty body, no app headers."""
    assert response.status_code == status
    assert response.data == b""
    assert "X-Request-ID" not in response.headers
    assert "Content-Type" not in response.headers
    assert "Allow" not in response.headers


def test_request_reaches_the_function_with_route_params_query_and_body(client: Client) -> None:
    response = client.post(
        "/api/v1/echo/alice?tag=a&tag=b&q=1",
        data=b'{"x": 1}',
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 200
    assert response.json == {
        "method": "POST",
        "url": "http://localhost/api/v1/echo/alice?tag=a&tag=b&q=1",
        "route_params": {"name": "alice"},
        "params": {"tag": "a,b", "q": "1"},
        "body": '{"x": 1}',
        "forwarded_for": "127.0.0.1",
        "forwarded_proto": "http",
    }
    assert response.content_type == "application/json"


def test_client_address_is_appended_to_forwarded_for_and_proto_is_overwritten(
    client: Client,
) -> None:
    response = client.get(
        "/api/v1/echo/x",
        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "198.51.100.2"},
    )
    assert response.json is not None
    assert response.json["forwarded_for"] == "203.0.113.7, 198.51.100.2"
    assert response.json["forwarded_proto"] == "http"


def test_trailing_slash_and_encoded_characters_in_the_path(client: Client) -> None:
    response = client.get("/api/v1/echo/caf%C3%A9/")
    assert response.json is not None
    assert response.json["route_params"] == {"name": "café"}


def test_encoded_slash_stays_encoded_in_route_values(client: Client) -> None:
    assert client.get("/api/v1/files/a%2Fb/c").text == "a%2Fb/c"
    assert client.get("/api/v1/files").text == "<none>"


def test_response_status_headers_cookies_and_charset_are_kept(client: Client) -> None:
    response = client.get("/api/v1/cookies")
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Custom"] == "yes"
    assert sorted(response.headers.getlist("Set-Cookie")) == ["a=1; Path=/", "b=2; Path=/"]
    assert response.text == "<p>hi</p>"


def test_function_returning_a_string_answers_200_plain_text(client: Client) -> None:
    response = client.get("/api/v1/text")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.text == "just text"


def test_async_function_is_awaited(client: Client) -> None:
    assert client.get("/api/v1/async").text == "from a coroutine"


def test_unknown_route_is_answered_by_the_host_with_an_empty_404(client: Client) -> None:
    assert_host_answer(client.get("/api/v1/nowhere"), 404)
    assert calls == []


def test_path_outside_the_route_prefix_is_unknown(client: Client) -> None:
    assert_host_answer(client.get("/v1/echo/x"), 404)
    assert calls == []


def test_known_path_with_unserved_method_is_404_not_405(client: Client) -> None:
    assert_host_answer(client.delete("/api/v1/echo/x"), 404)
    assert_host_answer(client.head("/api/v1/echo/x"), 404)  # HEAD is not GET
    assert calls == []


def test_exception_escaping_a_function_is_a_bare_500_and_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="devhost.http_app"):
        response = client.get("/api/v1/boom")
    assert_host_answer(response, 500)
    assert "boom" in caplog.text
    assert "RuntimeError" in caplog.text  # the traceback is in the log


def test_body_over_the_hosts_limit_is_refused_with_413_before_it_is_read(client: Client) -> None:
    environ = EnvironBuilder(path="/api/v1/echo/x", method="POST", data=b"tiny").get_environ()
    environ["CONTENT_LENGTH"] = str(MAX_REQUEST_BODY_BYTES + 1)
    app_iter, status, _ = run_wsgi_app(client.application, environ)
    assert b"".join(app_iter) == b""
    assert status.startswith("413")
    assert calls == []


def test_the_body_limit_follows_functions_request_body_size_limit() -> None:
    assert body_size_limit({}) == 100 * 1024 * 1024
    assert body_size_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1024"}) == 1024
    assert body_size_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "junk"}) == 100 * 1024 * 1024


def test_body_shorter_than_its_content_length_is_refused_with_400(client: Client) -> None:
    environ = EnvironBuilder(path="/api/v1/echo/x", method="POST", data=b"tiny").get_environ()
    environ["CONTENT_LENGTH"] = "10"
    app_iter, status, _ = run_wsgi_app(client.application, environ)
    b"".join(app_iter)
    assert status.startswith("400")
    assert calls == []


def test_a_url_over_4_kib_is_refused_with_414(client: Client) -> None:
    assert_host_answer(client.get("/api/v1/echo/x?q=" + "a" * 4100), 414)
    assert calls == []


def test_a_chunked_body_reaches_the_function_empty(client: Client) -> None:
    environ = EnvironBuilder(path="/api/v1/echo/x", method="POST", data=b'{"x": 1}').get_environ()
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    app_iter, status, _ = run_wsgi_app(client.application, environ)
    assert status.startswith("200")
    assert json.loads(b"".join(app_iter))["body"] == ""


def test_a_query_parameter_with_an_empty_value_is_dropped(client: Client) -> None:
    response = client.get("/api/v1/echo/x?limit=&q=1&empty")
    assert response.json is not None
    assert response.json["params"] == {"q": "1"}


def test_header_names_with_underscores_reach_the_function() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(blueprint)
    wsgi_app = FunctionsWsgiApp(
        RouteTable(http_routes(app.get_functions()), "api"), FunctionInvoker()
    )
    environ = EnvironBuilder(path="/api/v1/echo/x").get_environ()
    environ[RAW_HEADERS_KEY] = [("X_Tenant", "blue"), ("X-Trace", "1")]
    calls.clear()
    app_iter, status, _ = run_wsgi_app(wsgi_app, environ)
    b"".join(app_iter)
    assert status.startswith("200")
    assert calls[0].headers.get("x_tenant") == "blue"
    assert calls[0].headers.get("x-trace") == "1"


def test_concurrent_invocations_default_to_the_workers_thread_count() -> None:
    assert worker_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    assert 5 <= worker_thread_count({}) <= 32


# --- the platform's CORS middleware ---------------------------------------------------


def test_preflight_from_an_allowed_origin_is_answered_without_the_function(
    client: Client,
) -> None:
    response = client.options(
        "/api/v1/anything/at/all",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert response.headers["Access-Control-Allow-Methods"] == "PATCH"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert calls == []


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://app.example.evil"])
def test_preflight_from_another_origin_gets_204_without_cors_headers(
    client: Client, origin: str
) -> None:
    response = client.options(
        "/api/v1/echo/x", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    assert not [name for name, _ in response.headers if name.startswith("Access-Control")]
    assert calls == []


def test_allowed_origin_is_set_once_on_the_functions_answer(client: Client) -> None:
    response = client.get("/api/v1/echo/x", headers={"Origin": "https://app.example"})
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://app.example"]
    assert response.headers["Vary"] == "Origin"
    foreign = client.get("/api/v1/echo/x", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_options_without_a_preflight_header_reaches_the_function(client: Client) -> None:
    response = client.options("/api/v1/echo/x", headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert len(calls) == 1


def test_an_empty_content_type_is_dropped_as_the_host_drops_it() -> None:
    """The pipeline's body-less answers reach the client with no Content-Type at all."""
    empty = to_werkzeug_response(
        func.HttpResponse(status_code=204, headers={"Content-Type": "", "X-Request-ID": "r"})
    )
    assert empty.status_code == 204
    assert "Content-Type" not in empty.headers
    assert empty.headers["X-Request-ID"] == "r"
    typed = to_werkzeug_response(func.HttpResponse(b"{}", headers={"Content-Type": "a/b"}))
    assert typed.headers["Content-Type"] == "a/b"
