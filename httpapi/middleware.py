"""HTTP middleware: request ids and logs, the error envelope, metrics, CORS, default rate limit."""

from __future__ import annotations

import logging
import re
import time
import uuid

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from engine.appkeys import CONFIG, METRICS, SERVICES
from engine.errors import DomainError
from engine.logs import request_id_var
from httpapi.responses import domain_error_response, error_body, json_response

log = logging.getLogger("flylive.http")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Probes and scrapes must keep answering when a client floods the API; sockets are limited per event.
_UNLIMITED_PREFIXES = ("/healthz", "/readyz", "/metrics", "/socket.io/")
_HTTP_ERROR_CODES = {
    404: "route_not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    400: "bad_request",
    415: "unsupported_media_type",
}


def _route_label(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"


async def _send_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Answer, then drop the connection. After a body read timed out (the rest may still come, or
    never) or failed to decode, the connection cannot carry another request, and aiohttp would
    otherwise linger reading the rest (and, on a broken body, fail doing so and reset the connection
    before the answer is read)."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()  # the transport flushes the answer before it closes


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
    request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = await handler(request)
    except DomainError as exc:
        response = domain_error_response(exc, request_id)
    except asyncpg.DataError as exc:
        # Input the database refused (a value out of range, an unencodable character): the client's fault.
        log.info("database refused a value", extra={"path": request.path, "error": type(exc).__name__})
        response = json_response(error_body("invalid_value", "A value was not accepted.", request_id=request_id), 422)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_ERROR_CODES.get(exc.status, "http_error")
        message = {404: "Route not found.", 413: "Request body is too large."}.get(exc.status, exc.reason)
        response = json_response(error_body(code, message, request_id=request_id), exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        response = json_response(error_body("internal_error", "Internal server error.", request_id=request_id), 500)
    elapsed = time.perf_counter() - started
    route = _route_label(request)
    metrics = request.app[METRICS]
    metrics.http_requests.labels(request.method, route, str(response.status)).inc()
    metrics.http_latency.labels(request.method, route).observe(elapsed)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
        if response.status == 408 or request.content.exception() is not None:
            await _send_and_close(request, response)
    if not request.path.startswith(("/healthz", "/metrics")):
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status,
                "ms": round(elapsed * 1000, 2),
                "ip": request.remote,
            },
        )
    return response


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in request.app[CONFIG].cors_origins
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
    else:
        response = await handler(request)
    if allowed and origin is not None and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
        response.headers["Vary"] = "Origin"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Authorization, Content-Type"
            )
            response.headers["Access-Control-Max-Age"] = "600"
    return response


@web.middleware
async def default_rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(_UNLIMITED_PREFIXES):
        svc = request.app[SERVICES]
        subject = f"{request.remote}:{request.method}:{_route_label(request)}"
        verdict = await svc.limiter.hit("http", subject, svc.config.http_rate_limit)
        if not verdict.allowed:
            svc.metrics.rate_limited.labels("http").inc()
            raise DomainError("rate_limited", "Too many requests.", status=429, retry_after=verdict.retry_after_seconds)
    return await handler(request)


# CORS is outermost so that error responses (built by request_context) carry its headers too.
# (permessage-deflate is refused by the WebSocket itself: engine/realtime/engineio_guard.py.)
MIDDLEWARES: list[Middleware] = [cors, request_context, default_rate_limit]
