"""The response envelope.

Success: `/api/v1/...` answers `{"data": ...}`; legacy `/api/...` routes keep their legacy bodies.
Error (everywhere): `{"error": {"code", "message", "fields"}, "message", "errors", "status": "error"}`.
The top-level `message`/`errors`/`status` keys are the legacy Laravel shapes, kept so old clients
still find the text they display. `ErrorEnvelope` is that body; docs/openapi.json documents every
4xx/5xx answer with it.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from aiohttp import web

from engine.errors import DomainError

_encoder = msgspec.json.Encoder()


class ErrorDetail(msgspec.Struct):
    code: str
    """A stable machine code, e.g. `validation_failed`, `not_found`, `unauthenticated`, `rate_limited`."""
    message: str
    fields: dict[str, list[str]]
    """Every bad field with its messages (empty unless the request was invalid)."""


class ErrorEnvelope(msgspec.Struct, omit_defaults=True):
    """The one error body of every 4xx and 5xx answer, on legacy and v1 paths alike."""

    status: Literal["error"]
    message: str
    error: ErrorDetail
    errors: dict[str, list[str]] | None = None
    """Legacy (Laravel) copy of `error.fields`, present when some field was invalid."""
    request_id: str | None = None
    """The request's id, as in the `X-Request-ID` header and the logs."""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json", headers=headers)


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response({"data": data}, status)


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None, request_id: str | None = None
) -> ErrorEnvelope:
    return ErrorEnvelope(
        status="error",
        message=message,
        error=ErrorDetail(code=code, message=message, fields=fields or {}),
        errors=fields or None,
        request_id=request_id or None,
    )


def domain_error_response(exc: DomainError, request_id: str | None) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return json_response(error_body(exc.code, exc.message, exc.fields, request_id), exc.status, headers)
