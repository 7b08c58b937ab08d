"""Call the app in-process: route matching like the host, then the indexed function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

from devhost.routes import RouteTable
from tests.app_functions import route_table

CLIENT_IP = "203.0.113.10"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def assert_not_found(response: Response, *, path_is_malformed: bool) -> None:
    """404: the host's empty answer when the path fits no route, else the app's problem."""
    assert response.status == 404, response.body
    if path_is_malformed:  # the route's constraint refused it: no function ran
        assert response.body == b""
    else:
        assert_problem(response, 404, "not_found")


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem answer with this status and code; its body."""
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status
    assert body["code"] == code
    return body


class ApiClient:
    """A minimal HTTP client that invokes the real functions without a server."""

    def __init__(self, client_ip: str = CLIENT_IP, routes: RouteTable | None = None) -> None:
        self.client_ip = client_ip
        self.routes = routes  # another app instance's functions (None: the test's app)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        parts = urlsplit(url)
        request_headers = {"X-Forwarded-For": self.client_ip, **(headers or {})}
        if token is not None:
            request_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            request_headers.setdefault("Content-Type", "application/json")
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        match = (self.routes or route_table()).match(method, segments)
        if match is None:  # the Functions host answers: 404, empty, no headers (no 405)
            return Response(status=404, headers={}, body=b"")
        req = func.HttpRequest(
            method,
            "http://localhost" + url,
            headers=request_headers,
            params=dict(parse_qsl(parts.query)),
            route_params=match.params,
            body=body or b"",
        )
        response = match.route.user_function(req)
        assert isinstance(response, func.HttpResponse)
        return _wrap(response)

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", url, json_body=json, **kwargs)

    def patch(self, url: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", url, json_body=json, **kwargs)

    def delete(self, url: str, json: Any = None, **kwargs: Any) -> Response:
        return self.request("DELETE", url, json_body=json, **kwargs)


def _wrap(response: func.HttpResponse) -> Response:
    return Response(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=response.get_body() or b"",
    )
