"""The response envelope.

Success: `/api/v1/...` answers `{"data": ...}`; legacy `/api/...` routes keep their legacy bodies.
Error (everywhere): `{"error": {"code", "message", "fields"}, "message", "errors", "status": "error"}`.
The top-level `message`/`errors`/`status` keys are the legacy Laravel shapes, kept so old clients
still find the text they display.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from engine.errors import DomainError

_encoder = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json", headers=headers)


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response({"data": data}, status)


def error_body(
    code: str, message: str, fields: dict[str, list[str]] | None = None, request_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "error": {"code": code, "message": message, "fields": fields or {}},
    }
    if fields:
        body["errors"] = fields
    if request_id:
        body["request_id"] = request_id
    return body


def domain_error_response(exc: DomainError, request_id: str | None) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return json_response(error_body(exc.code, exc.message, exc.fields, request_id), exc.status, headers)
