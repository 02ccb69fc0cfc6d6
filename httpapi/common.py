"""Small helpers shared by the REST views: the one place bodies, path ids and query integers are read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from engine.accounts.actions import Client
from engine.appkeys import CONFIG
from engine.errors import DomainError
from engine.validation import CheckedFields, check_fields, convert_fields, decode_json, decode_json_body

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
MAX_ID = 2**63 - 1
# ASCII digits only: `str.isdigit()` also accepts "²" or "①", which `int()` refuses. At most 19
# digits, so `int()` never parses a huge string (past 4300 digits it raises instead).
_DIGITS = re.compile(r"[0-9]{1,19}")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def client_of(request: web.Request) -> Client:
    return Client(ip=request.remote, user_agent=request.headers.get("User-Agent"))


def parse_int(raw: str) -> int | None:
    """`raw` as a non-negative integer written in ASCII digits, or None."""
    return int(raw) if _DIGITS.fullmatch(raw) else None


async def _body(request: web.Request, reading: Awaitable[R]) -> R:
    """Await a read of the body: bounded in time (a client announcing a body it never sends must
    not hold a connection and a handler forever) and with undecodable bodies answered 400."""
    try:
        async with asyncio.timeout(request.app[CONFIG].body_read_timeout_seconds):
            return await reading
    except TimeoutError as exc:
        raise DomainError("request_timeout", "The request body did not arrive in time.", status=408) from exc
    except web.RequestPayloadError as exc:  # e.g. `Content-Encoding: gzip` on a body that is not gzip
        raise DomainError("invalid_body", "The request body could not be decoded.", status=400) from exc
    except (ValueError, AssertionError) as exc:  # aiohttp's multipart reader on a malformed body
        raise DomainError("invalid_body", "The form body is malformed.", status=400) from exc


async def read_raw(request: web.Request) -> bytes:
    return await _body(request, request.read())


async def read_form(request: web.Request) -> dict[str, Any]:
    """A form body's text fields (files are ignored)."""
    form = await _body(request, request.post())
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def read_fields(request: web.Request, struct_type: type[T]) -> CheckedFields[T]:
    """A JSON (or form) body checked field by field against `struct_type` (see `CheckedFields`)."""
    if request.content_type in FORM_TYPES:
        # Form fields are all strings: let "1"/"true" stand for numbers and booleans.
        return check_fields(struct_type, await read_form(request), strict=False)
    return check_fields(struct_type, decode_json(await read_raw(request)))


async def read_body(request: web.Request, struct_type: type[T]) -> T:
    """Decode a JSON (or form) body into `struct_type`; every failure is a named 4xx error."""
    return (await read_fields(request, struct_type)).build()


async def read_body_and_keys(request: web.Request, struct_type: type[T]) -> tuple[T, set[str]]:
    """Like `read_body`, plus the names the client sent (to tell "absent" from "null" in updates)."""
    raw = await read_raw(request)
    body = decode_json_body(struct_type, raw)  # raises on bad JSON, so the second decode below is safe
    data = msgspec.json.decode(raw) if raw.strip() else {}
    return body, set(data) if isinstance(data, dict) else set()


def read_query(request: web.Request, struct_type: type[T]) -> T:
    """The query string as `struct_type` (limits in its fields); every bad parameter is named (422)."""
    return convert_fields(struct_type, dict(request.query), strict=False)


def path_id(request: web.Request, name: str = "id", what: str = "User") -> int:
    raw = request.match_info[name]
    value = parse_int(raw)
    if value is None or not 0 < value <= MAX_ID:
        raise DomainError("not_found", f"No query results for model [{what}] {raw[:32]}", status=404)
    return value


def agency_id(request: web.Request) -> int:
    """The `{id}` of an `/api/v1/agencies/{id}/…` route (a bad one reads as a missing Agency)."""
    return path_id(request, what="Agency")
