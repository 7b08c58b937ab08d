"""The request pipeline: the same behaviour for every HTTP function.

One function serves each route template (shared/http/api.py) and calls ``run`` with its
operations by method. ``run`` takes, in order: request id, HTTPS policy, the OPTIONS
answer, authentication, rate limit, role guard, body and query validation, the handler,
response rendering, security headers, problem+json errors and one structured access-log
line. CORS belongs to the platform: on Azure the host's CORS middleware answers preflights
and sets Access-Control-Allow-Origin from the Function App's allowed origins, so the app
never sends a second copy (see docs/architecture.md).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_string
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import azure.functions as func
from pydantic_core import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure

from shared import errors
from shared.http import headers
from shared.http.client_ip import client_ip, rate_limit_bucket
from shared.http.registry import Operation, RateLimit
from shared.identity import Caller, Principal, Role

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.http.ratelimit import RateLimitState

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

access_log = logging.getLogger("runtime_traitors.access")
error_log = logging.getLogger("runtime_traitors.errors")

BodyT = TypeVar("BodyT")


@dataclass(slots=True)
class ApiRequest:
    """What a handler sees besides its validated body and query: never the raw request."""

    method: str
    route_params: Mapping[str, str]
    headers: Mapping[str, str]
    request_id: str
    client_ip: str
    principal: Principal | None = None

    @property
    def caller(self) -> Caller:
        """Who is acting, for services' audit records."""
        return Caller(
            ip=self.client_ip,
            request_id=self.request_id,
            user_id=self.principal.user_id if self.principal else None,
        )

    @property
    def user(self) -> Principal:
        """The authenticated caller (only on routes that require a role)."""
        if self.principal is None:
            raise errors.Unauthorized()
        return self.principal


@dataclass
class ApiResponse(Generic[BodyT]):
    """An explicit response, for statuses or headers other than the route's default.

    ``ApiResponse[Model]`` in a handler's return annotation documents the body's schema;
    ``body`` may also be bytes already serialised.
    """

    status: int
    body: BodyT | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass(slots=True)
class _Reply:
    """A response under construction: a plain dict of headers until the very end."""

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


FunctionHandler = Callable[[func.HttpRequest], func.HttpResponse]


def _settings() -> Settings:
    from shared.config import get_settings  # deferred: pydantic-settings is slow to import

    return get_settings()


@dataclass(slots=True)
class _Exchange:
    """Per-request state the pipeline carries between its steps."""

    request_id: str
    started: float
    settings: Settings
    hsts: bool
    user_id: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    admin_request: ApiRequest | None = None  # set once an admin passed the role guard


def run(operations: Mapping[str, Operation], req: func.HttpRequest) -> func.HttpResponse:
    """Serve one request to a route template whose operations are keyed by method."""
    started = time.perf_counter()
    request_headers = req.headers
    request_id = headers.request_id_from(request_headers)
    method = req.method.upper()
    operation = operations.get(method)
    route = next(iter(operations.values())).route
    exchange: _Exchange | None = None
    try:
        settings = _settings()
        exchange = _Exchange(
            request_id=request_id,
            started=started,
            settings=settings,
            hsts=settings.is_production or headers.is_https(request_headers),
        )
        _refuse_plain_http(request_headers, settings)
        # Only OPTIONS has no operation: the host routes no method a function does not list.
        response = _options(operations) if operation is None else _handle(operation, req, exchange)
    except errors.ApiError as exc:
        response = _problem(exc, request_id)
    except Exception as exc:  # the one place unexpected failures become responses
        where = operation.name if operation else route
        response = _problem(_unexpected(exc, where, request_id), request_id)
    if operation is not None and exchange is not None and exchange.admin_request is not None:
        _audit_admin_call(operation, exchange.admin_request, response.status)
    return _finish(response, method, route, request_id, exchange, started)


def _refuse_plain_http(request_headers: Mapping[str, str], settings: Settings) -> None:
    if settings.is_production and request_headers.get("x-forwarded-proto", "").lower() == "http":
        raise errors.Forbidden("This API is only served over HTTPS", code="https_required")


def _handle(operation: Operation, req: func.HttpRequest, exchange: _Exchange) -> _Reply:
    settings = exchange.settings
    request_headers = req.headers
    ip = client_ip(request_headers, settings.TRUSTED_PROXY_COUNT)
    bucket = rate_limit_bucket(ip)  # IPv6 clients share their /64
    principal = None
    if operation.min_role is not None:
        principal = _authenticate(request_headers, bucket, exchange)
    elif operation.rate_limit is not RateLimit.NONE:
        limit = (
            settings.RATE_LIMIT_AUTH_PER_MINUTE
            if operation.rate_limit is RateLimit.AUTH
            else settings.RATE_LIMIT_ANON_PER_MINUTE
        )
        _limit(f"{operation.rate_limit.value}:{bucket}", limit, exchange)

    request = ApiRequest(
        method=operation.method,
        route_params=req.route_params,
        headers=request_headers,
        request_id=exchange.request_id,
        client_ip=ip,
        principal=principal,
    )
    if operation.min_role is Role.ADMIN:
        # Audited from here on, whatever the outcome: refused roles and bad input included,
        # so probing the admin routes leaves a trail.
        exchange.admin_request = request
    required = operation.min_role
    if principal is not None and required is not None and not principal.role.allows(required):
        raise errors.Forbidden(f"This action requires the {required.value} role")
    inputs: dict[str, Any] = {}
    if operation.takes_body:
        inputs["body"] = _parse_body(operation, req, settings.MAX_BODY_BYTES)
    else:
        _check_body_size(req, settings.MAX_BODY_BYTES)
    if operation.takes_query:
        inputs["query"] = _parse_query(operation, req)
    return _render(operation, operation.handler(request, **inputs))


def _audit_admin_call(operation: Operation, request: ApiRequest, status: int) -> None:
    """Every admin call leaves a trace: which operation, on what, with what outcome."""
    from shared.services import audit

    try:
        audit.record(
            f"admin.{operation.name}",
            caller=request.caller,
            # Ids are hexadecimal: one spelling, so the audit log filters by them reliably.
            target_id=next((v.lower() for v in request.route_params.values()), None),
            details={"method": request.method, "route": operation.route, "status": status},
        )
    except Exception:  # the answer stands; a lost audit line is logged for operators
        error_log.exception(json.dumps({"event": "audit_failed", "request_id": request.request_id}))


def _authenticate(request_headers: Mapping[str, str], ip: str, exchange: _Exchange) -> Principal:
    from shared.services import sessions  # loaded on the first authenticated request

    scheme, _, token = request_headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _limit(
            f"{RateLimit.ANONYMOUS.value}:{ip}",
            exchange.settings.RATE_LIMIT_ANON_PER_MINUTE,
            exchange,
        )
        raise errors.Unauthorized("A bearer access token is required")
    try:
        claims = sessions.verify_access_token(token.strip())
    except errors.Unauthorized:
        # Forged or stale tokens still draw from the caller's address bucket.
        _limit(
            f"{RateLimit.ANONYMOUS.value}:{ip}",
            exchange.settings.RATE_LIMIT_ANON_PER_MINUTE,
            exchange,
        )
        raise
    from shared.http import ratelimit

    settings = exchange.settings
    limit = settings.RATE_LIMIT_USER_PER_MINUTE
    window, reset_seconds = ratelimit.current_window()
    try:
        # One round trip: the revocation check and the per-user count are one update.
        admission = sessions.admit(
            claims, window=window if settings.RATE_LIMIT_ENABLED else None, limit=limit
        )
    except errors.Unauthorized:
        # Revoked tokens and closed accounts draw from the address bucket, not the owner's.
        _limit(f"{RateLimit.ANONYMOUS.value}:{ip}", settings.RATE_LIMIT_ANON_PER_MINUTE, exchange)
        raise
    exchange.user_id = claims.user_id
    if admission.count is not None:
        state = ratelimit.RateLimitState(limit, limit - admission.count, reset_seconds)
        _apply_limit(state, exchange)
    return admission.principal


def _limit(bucket: str, limit: int, exchange: _Exchange) -> None:
    if not exchange.settings.RATE_LIMIT_ENABLED:
        return
    from shared.http import ratelimit

    _apply_limit(ratelimit.hit(bucket, limit), exchange)


def _apply_limit(state: RateLimitState, exchange: _Exchange) -> None:
    exchange.response_headers.update(state.headers())
    if state.exceeded:
        raise errors.TooManyRequests(
            "Rate limit exceeded; retry later",
            headers={"Retry-After": str(state.reset_seconds), **state.headers()},
        )


def _check_body_size(req: func.HttpRequest, max_bytes: int) -> bytes:
    raw = req.get_body() or b""
    declared = req.headers.get("content-length", "")
    if len(raw) > max_bytes or (declared.isdigit() and int(declared) > max_bytes):
        raise errors.PayloadTooLarge(f"Request bodies are limited to {max_bytes} bytes")
    return raw


def _parse_body(operation: Operation, req: func.HttpRequest, max_bytes: int) -> Any:
    raw = _check_body_size(req, max_bytes)
    model = operation.body
    if model is None:
        raise TypeError(f"{operation.name}: the body parameter names no pydantic model")
    if not raw.strip() and operation.body_optional:
        return model()
    content_type = req.headers.get("content-type", "")
    mimetype, _, params = content_type.partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if params else "utf-8"
    if mimetype.strip().lower() != JSON or charset not in ("utf-8", "utf8"):
        raise errors.UnsupportedMediaType("Send the body as application/json (UTF-8)")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise errors.InvalidJson("The request body is not valid JSON") from None
        raise _validation_failed(exc, "body") from None


def _parse_query(operation: Operation, req: func.HttpRequest) -> Any:
    model = operation.query
    if model is None:
        raise TypeError(f"{operation.name}: the query parameter names no pydantic model")
    try:
        return model.model_validate(dict(req.params))
    except ValidationError as exc:
        raise _validation_failed(exc, "query") from None


def _validation_failed(exc: ValidationError, where: str) -> errors.ValidationFailed:
    # Never echo the input back: it may be a password.
    problems: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    for err in exc.errors(include_url=False, include_input=False):
        parts = err["loc"]
        if err["type"] != "extra_forbidden":  # there the last part is the client's own key
            parts = tuple(part for part in parts if not _is_validator_tag(part))
        loc = (where, *(str(part) for part in parts))
        if loc in seen:  # one entry per field, however many union branches refused it
            continue
        seen.add(loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append({"loc": list(loc), "msg": message, "type": err["type"]})
    detail = "; ".join(f"{'.'.join(p['loc'][1:]) or where}: {p['msg']}" for p in problems[:3])
    return errors.ValidationFailed(detail, errors=problems)


# pydantic names each branch of a union in `loc` by its validator ("str-enum[Role]",
# "function-after[_clean_name(), constrained-str]", "none"): internals, not field names.
_UNION_BRANCHES = frozenset({"none", "str", "int", "float", "bool", "list", "dict"})


_VALIDATOR_NAME = re.compile(r"[a-z]+(?:-[a-z]+)+(?:\[.*\])?")


def _is_validator_tag(part: object) -> bool:
    return isinstance(part, str) and (
        part in _UNION_BRANCHES or _VALIDATOR_NAME.fullmatch(part) is not None
    )


def _render(operation: Operation, result: Any) -> _Reply:
    if isinstance(result, ApiResponse):
        return _response(result.status, result.body, result.content_type, result.headers)
    if isinstance(result, func.HttpResponse):
        return _Reply(result.status_code, result.get_body(), dict(result.headers))
    if result is None:
        return _response(204 if operation.status == 200 else operation.status, None)
    return _response(operation.status, result, operation.content_type)


def _response(
    status: int,
    body: Any,
    content_type: str = JSON,
    extra_headers: Mapping[str, str] | None = None,
) -> _Reply:
    response_headers = dict(extra_headers) if extra_headers else {}
    payload = _serialize(body)
    if payload is not None:
        response_headers["Content-Type"] = content_type
    return _Reply(status, payload, response_headers)


def _serialize(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "model_dump_json"):  # a pydantic model, without importing pydantic.main
        return str(body.model_dump_json()).encode()
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _options(operations: Mapping[str, Operation]) -> _Reply:
    """OPTIONS that reached the app: no platform CORS in front; name the methods."""
    return _response(204, None, extra_headers={"Allow": ", ".join([*operations, "OPTIONS"])})


def _problem(exc: errors.ApiError, request_id: str) -> _Reply:
    return _response(exc.status, exc.problem(request_id), PROBLEM_JSON, exc.headers)


def _unexpected(exc: Exception, where: str, request_id: str) -> errors.ApiError:
    """Map infrastructure failures to 503 and everything else to a logged 500."""
    if isinstance(exc, ConnectionFailure | ExecutionTimeout):
        error_log.warning(
            json.dumps(
                {
                    "event": "dependency_unavailable",
                    "function": where,
                    "request_id": request_id,
                    "error": type(exc).__name__,
                }
            )
        )
        return errors.ServiceUnavailable("A backing service is unavailable; retry shortly")
    if isinstance(exc, OperationFailure) and exc.code in _RETRYABLE_MONGO_CODES:
        return errors.ServiceUnavailable("The database is busy; retry shortly")
    error_log.exception(
        json.dumps({"event": "unhandled_exception", "function": where, "request_id": request_id})
    )
    return errors.InternalError("An unexpected error occurred")


# Server-side transient failures (e.g. NotWritablePrimary, InterruptedAtShutdown).
_RETRYABLE_MONGO_CODES = frozenset({91, 189, 10107, 11600, 11602, 13435, 13436})


def access_line(
    *,
    method: str,
    route: str,
    status: int,
    duration_ms: float,
    request_id: str,
    user_id: str | None,
) -> str:
    """The access-log JSON line: exactly ``json.dumps`` of its fields, at a third of the cost.

    json.dumps builds a new encoder per call; the keys here are fixed, so only the values
    are encoded (strings by json's own escaping function, numbers as json writes them).
    """
    user = "null" if user_id is None else _json_string(user_id)
    return (
        f'{{"event": "request", "method": {_json_string(method)}, '
        f'"route": {_json_string(route)}, "status": {int(status)!r}, '
        f'"duration_ms": {float(duration_ms)!r}, "request_id": {_json_string(request_id)}, '
        f'"user_id": {user}}}'
    )


def _finish(
    reply: _Reply,
    method: str,
    route: str,
    request_id: str,
    exchange: _Exchange | None,
    started: float,
) -> func.HttpResponse:
    response_headers = reply.headers
    if exchange is not None:
        for name, value in exchange.response_headers.items():
            response_headers.setdefault(name, value)
    hsts = exchange.hsts if exchange is not None else True  # settings failed: stay safe
    headers.apply_common_headers(response_headers, request_id=request_id, hsts=hsts)
    if access_log.isEnabledFor(logging.INFO):
        line = access_line(
            method=method,
            route=route,
            status=reply.status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            request_id=request_id,
            user_id=exchange.user_id if exchange else None,
        )
        # Logger.info would walk the stack to find its caller on every request; this line
        # has one known origin, so the record names it (same handlers and filters).
        origin = _finish.__code__
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            origin.co_firstlineno,
            line,
            (),
            None,
            origin.co_name,
        )
        access_log.handle(record)
    if not reply.body:
        # No body, no type: the worker adds text/plain to a response without a
        # Content-Type, while the host drops an empty one (ASP.NET Core clears it).
        response_headers["Content-Type"] = ""
    return func.HttpResponse(body=reply.body, status_code=reply.status, headers=response_headers)
