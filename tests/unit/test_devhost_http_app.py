"""The local host's HTTP bridge: werkzeug request to func.HttpRequest and back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import azure.functions as func
import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from devhost.http_app import MAX_REQUEST_BODY_BYTES, FunctionsWsgiApp
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


unmatched: list[tuple[str, int]] = []


def fake_unmatched_route_response(req: func.HttpRequest, status: int) -> func.HttpResponse:
    unmatched.append((req.url, status))
    return func.HttpResponse(
        json.dumps({"status": status}),
        status_code=status,
        mimetype="application/problem+json",
        headers={"X-Request-ID": "from-pipeline"},
    )


@pytest.fixture
def client() -> Iterator[Client]:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(blueprint)
    invoker = FunctionInvoker()
    wsgi_app = FunctionsWsgiApp(
        RouteTable(http_routes(app.get_functions()), "api"),
        invoker,
        unmatched_route_response=fake_unmatched_route_response,
    )
    calls.clear()
    unmatched.clear()
    yield Client(wsgi_app)
    invoker.close()


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


def test_unknown_route_is_answered_by_the_pipeline_with_404(client: Client) -> None:
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "from-pipeline"
    assert unmatched == [("http://localhost/api/v1/nowhere", 404)]


def test_path_outside_the_route_prefix_is_unknown(client: Client) -> None:
    assert client.get("/v1/echo/x").status_code == 404
    assert calls == []


def test_known_path_with_unserved_method_answers_405_with_allow(client: Client) -> None:
    response = client.delete("/api/v1/echo/x")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, OPTIONS, POST"
    assert unmatched == [("http://localhost/api/v1/echo/x", 405)]


def test_exception_escaping_a_function_answers_plain_500_problem_and_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="devhost.http_app"):
        response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == "internal_error"
    assert response.json["request_id"] == response.headers["X-Request-ID"]
    assert "pipeline should have caught" not in response.text
    assert "boom" in caplog.text
    assert "RuntimeError" in caplog.text  # the traceback is in the log


def test_body_over_100_mib_is_refused_with_413_before_it_is_read(client: Client) -> None:
    environ = EnvironBuilder(path="/api/v1/echo/x", method="POST", data=b"tiny").get_environ()
    environ["CONTENT_LENGTH"] = str(MAX_REQUEST_BODY_BYTES + 1)
    app_iter, status, headers = run_wsgi_app(client.application, environ)
    body = b"".join(app_iter)
    assert status.startswith("413")
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["code"] == "payload_too_large"
    assert calls == []


def test_body_shorter_than_its_content_length_is_refused_with_400(client: Client) -> None:
    environ = EnvironBuilder(path="/api/v1/echo/x", method="POST", data=b"tiny").get_environ()
    environ["CONTENT_LENGTH"] = "10"
    app_iter, status, _ = run_wsgi_app(client.application, environ)
    b"".join(app_iter)
    assert status.startswith("400")
    assert calls == []
