"""Small helpers shared by the REST views."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import web

from engine.accounts.actions import Client
from engine.errors import DomainError
from engine.validation import CheckedFields, check_fields, decode_json, decode_json_body

T = TypeVar("T", bound=msgspec.Struct)
_MAX_ID = 2**63 - 1


def client_of(request: web.Request) -> Client:
    return Client(ip=request.remote, user_agent=request.headers.get("User-Agent"))


async def read_fields(request: web.Request, struct_type: type[T]) -> CheckedFields[T]:
    """A JSON (or form) body checked field by field against `struct_type` (see `CheckedFields`)."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        # Form fields are all strings: let "1"/"true" stand for numbers and booleans.
        return check_fields(struct_type, {k: v for k, v in form.items() if isinstance(v, str)}, strict=False)
    return check_fields(struct_type, decode_json(await request.read()))


async def read_body(request: web.Request, struct_type: type[T]) -> T:
    """Decode a JSON (or form) body into `struct_type`; every failure is a named 4xx error."""
    return (await read_fields(request, struct_type)).build()


async def read_body_and_keys(request: web.Request, struct_type: type[T]) -> tuple[T, set[str]]:
    """Like `read_body`, plus the names the client sent (to tell "absent" from "null" in updates)."""
    raw = await request.read()
    body = decode_json_body(struct_type, raw)  # raises on bad JSON, so the second decode below is safe
    data = msgspec.json.decode(raw) if raw.strip() else {}
    return body, set(data) if isinstance(data, dict) else set()


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise DomainError(
            "validation_failed",
            f"The {name} must be an integer from {low} to {high}.",
            status=422,
            fields={name: [f"The {name} must be an integer from {low} to {high}."]},
        )
    return int(raw)


def path_id(request: web.Request, name: str = "id", what: str = "User") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or not 0 < int(raw) <= _MAX_ID:
        raise DomainError("not_found", f"No query results for model [{what}] {raw}", status=404)
    return int(raw)
