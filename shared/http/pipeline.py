"""The request pipeline: one decorator that gives every HTTP function the same behaviour.

``@endpoint(bp, ...)`` registers a Functions HTTP trigger (OPTIONS included, so CORS
preflights reach it) and wraps the handler with, in order: request id, HTTPS policy,
preflight, authentication, rate limit, role guard, body and query validation, the
handler itself, response rendering, security and CORS headers, problem+json errors
and one structured access-log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import azure.functions as func
from pydantic_core import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure

from shared import errors
from shared.http import headers, registry
from shared.http.client_ip import client_ip
from shared.http.registry import Operation, RateLimit
from shared.identity import Principal, Role

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.config import Settings
    from shared.identity import Caller

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

access_log = logging.getLogger("runtime_traitors.access")
error_log = logging.getLogger("runtime_traitors.errors")


@dataclass(slots=True)
class ApiRequest:
    """What a handler sees: validated input and the caller, never the raw Functions request."""

    method: str
    route_params: Mapping[str, str]
    headers: Mapping[str, str]
    request_id: str
    client_ip: str
    body: Any = None
    query: Any = None
    principal: Principal | None = None

    @property
    def caller(self) -> Caller:
        """Who is acting, for services' audit records."""
        from shared.identity import Caller

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
class ApiResponse:
    """An explicit response, for statuses or headers other than the route's default."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass(slots=True)
class _Reply:
    """A response under construction: a plain dict of headers until the very end."""

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], Any]
FunctionHandler = Callable[[func.HttpRequest], func.HttpResponse]


def _settings() -> Settings:
    from shared.config import get_settings  # deferred: pydantic-settings is slow to import

    return get_settings()


def endpoint(
    bp: func.Blueprint,
    *,
    name: str,
    route: str,
    method: str,
    summary: str,
    tags: Sequence[str],
    status: int = 200,
    role: Role | None = None,
    rate_limit: RateLimit = RateLimit.ANONYMOUS,
    body: type[BaseModel] | str | None = None,
    body_optional: bool = False,
    query: type[BaseModel] | str | None = None,
    response: type[BaseModel] | str | None = None,
    errors_: Sequence[int] = (),
    content_type: str = JSON,
    documented: bool = True,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the HTTP function ``name`` behind the full pipeline."""

    def decorate(handler: Handler) -> Handler:
        operation = Operation(
            name=name,
            route=route,
            method=method.upper(),
            summary=summary,
            description=(handler.__doc__ or "").strip(),
            tags=tuple(tags),
            status=status,
            role=role,
            rate_limit=rate_limit,
            body_ref=body,
            body_optional=body_optional,
            query_ref=query,
            response_ref=response,
            errors=tuple(errors_),
            content_type=content_type,
            documented=documented,
        )
        registry.register(operation)

        def http_function(req: func.HttpRequest) -> func.HttpResponse:
            return _run(operation, handler, req)

        http_function.__name__ = name
        http_function.__qualname__ = name
        http_function.__doc__ = operation.summary
        bp.function_name(name)(
            bp.route(
                route=route,
                methods=[operation.method, "OPTIONS"],
                auth_level=func.AuthLevel.ANONYMOUS,
            )(http_function)
        )
        return handler

    return decorate


@dataclass(slots=True)
class _Exchange:
    """Per-request state the pipeline carries between its steps."""

    request_id: str
    started: float
    settings: Settings
    origin: str | None
    hsts: bool
    user_id: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    admin_request: ApiRequest | None = None  # set once an admin passed the role guard


def _run(operation: Operation, handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    started = time.perf_counter()
    request_headers = req.headers
    request_id = headers.request_id_from(request_headers)
    exchange: _Exchange | None = None
    try:
        settings = _settings()
        exchange = _Exchange(
            request_id=request_id,
            started=started,
            settings=settings,
            origin=request_headers.get("origin"),
            hsts=settings.is_production or headers.is_https(request_headers),
        )
        response = _handle(operation, handler, req, exchange)
    except errors.ApiError as exc:
        response = _problem(exc, request_id)
    except Exception as exc:  # the one place unexpected failures become responses
        response = _problem(_unexpected(exc, operation.name, request_id), request_id)
    if exchange is not None and exchange.admin_request is not None:
        _audit_admin_call(operation, exchange.admin_request, response.status)
    return _finish(response, req, operation.route, request_id, exchange, started)


def _handle(
    operation: Operation, handler: Handler, req: func.HttpRequest, exchange: _Exchange
) -> _Reply:
    settings = exchange.settings
    request_headers = req.headers
    if settings.is_production and request_headers.get("x-forwarded-proto", "").lower() == "http":
        raise errors.Forbidden("This API is only served over HTTPS", code="https_required")
    if req.method.upper() == "OPTIONS":
        return _preflight(operation, exchange)

    ip = client_ip(request_headers, settings.TRUSTED_PROXY_COUNT)
    principal = None
    if operation.role is not None:
        principal = _authenticate(operation, request_headers, ip, exchange)
    elif operation.rate_limit is not RateLimit.NONE:
        limit = (
            settings.RATE_LIMIT_AUTH_PER_MINUTE
            if operation.rate_limit is RateLimit.AUTH
            else settings.RATE_LIMIT_ANON_PER_MINUTE
        )
        _limit(f"{operation.rate_limit.value}:{ip}", limit, exchange)

    request = ApiRequest(
        method=req.method.upper(),
        route_params=req.route_params,
        headers=request_headers,
        request_id=exchange.request_id,
        client_ip=ip,
        principal=principal,
        body=_parse_body(operation, req, settings.MAX_BODY_BYTES),
        query=_parse_query(operation, req),
    )
    if operation.role is Role.ADMIN:
        exchange.admin_request = request
    return _render(operation, handler(request))


def _audit_admin_call(operation: Operation, request: ApiRequest, status: int) -> None:
    """Every admin call leaves a trace: which operation, on what, with what outcome."""
    from shared.services import audit

    try:
        audit.record(
            f"admin.{operation.name}",
            caller=request.caller,
            target_id=next(iter(request.route_params.values()), None),
            details={"method": request.method, "route": operation.route, "status": status},
        )
    except Exception:  # the answer stands; a lost audit line is logged for operators
        error_log.exception(json.dumps({"event": "audit_failed", "request_id": request.request_id}))


def _authenticate(
    operation: Operation, request_headers: Mapping[str, str], ip: str, exchange: _Exchange
) -> Principal:
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
    exchange.user_id = claims.user_id
    _limit(f"user:{claims.user_id}", exchange.settings.RATE_LIMIT_USER_PER_MINUTE, exchange)
    principal = sessions.load_principal(claims)
    assert operation.role is not None  # noqa: S101 - only called for guarded operations
    if not principal.role.allows(operation.role):
        raise errors.Forbidden(f"This action requires the {operation.role.value} role")
    return principal


def _limit(bucket: str, limit: int, exchange: _Exchange) -> None:
    if not exchange.settings.RATE_LIMIT_ENABLED:
        return
    from shared.http import ratelimit

    state = ratelimit.hit(bucket, limit)
    exchange.response_headers.update(state.headers())
    if state.exceeded:
        raise errors.TooManyRequests(
            "Rate limit exceeded; retry later",
            headers={"Retry-After": str(state.reset_seconds), **state.headers()},
        )


def _parse_body(operation: Operation, req: func.HttpRequest, max_bytes: int) -> Any:
    raw = req.get_body() or b""
    declared = req.headers.get("content-length", "")
    if len(raw) > max_bytes or (declared.isdigit() and int(declared) > max_bytes):
        raise errors.PayloadTooLarge(f"Request bodies are limited to {max_bytes} bytes")
    model = operation.body
    if model is None:
        return None
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
    if operation.query is None:
        return None
    try:
        return operation.query.model_validate(dict(req.params))
    except ValidationError as exc:
        raise _validation_failed(exc, "query") from None


def _validation_failed(exc: ValidationError, where: str) -> errors.ValidationFailed:
    # Never echo the input back: it may be a password.
    problems = [
        {
            "loc": [where, *(str(part) for part in err["loc"])],
            "msg": str(err["msg"]).removeprefix("Value error, "),
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    detail = "; ".join(f"{'.'.join(p['loc'][1:]) or where}: {p['msg']}" for p in problems[:3])
    return errors.ValidationFailed(detail, errors=problems)


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


def _preflight(operation: Operation, exchange: _Exchange) -> _Reply:
    return _response(
        204, None, extra_headers=headers.preflight_headers(registry.methods_for(operation.route))
    )


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


def _finish(
    reply: _Reply,
    req: func.HttpRequest,
    route: str,
    request_id: str,
    exchange: _Exchange | None,
    started: float,
) -> func.HttpResponse:
    response_headers = reply.headers
    if exchange is not None:
        for name, value in exchange.response_headers.items():
            response_headers.setdefault(name, value)
        allowed = exchange.settings.CORS_ORIGINS
        hsts = exchange.hsts
        origin = exchange.origin
    else:  # the settings themselves failed to load: still answer safely
        allowed, hsts, origin = [], True, None
    headers.apply_common_headers(
        response_headers, request_id=request_id, hsts=hsts, origin=origin, allowed_origins=allowed
    )
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            json.dumps(
                {
                    "event": "request",
                    "method": req.method.upper(),
                    "route": route,
                    "status": reply.status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "request_id": request_id,
                    "user_id": exchange.user_id if exchange else None,
                }
            )
        )
    return func.HttpResponse(body=reply.body, status_code=reply.status, headers=response_headers)


def unmatched_route_response(req: func.HttpRequest, status: int = 404) -> func.HttpResponse:
    """The answer for a path no function serves (used by the local host)."""
    started = time.perf_counter()
    request_id = headers.request_id_from(req.headers)
    error: errors.ApiError = (
        errors.MethodNotAllowed("This route does not serve that method")
        if status == 405
        else errors.NotFound("No route matches this path")
    )
    exchange = None
    try:
        settings = _settings()
        exchange = _Exchange(
            request_id=request_id,
            started=started,
            settings=settings,
            origin=req.headers.get("origin"),
            hsts=settings.is_production or headers.is_https(req.headers),
        )
    except Exception:  # noqa: S110 - answer the 404 even with broken settings
        pass
    return _finish(_problem(error, request_id), req, "<unmatched>", request_id, exchange, started)
