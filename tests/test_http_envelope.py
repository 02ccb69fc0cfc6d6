"""The error envelope, request ids and CORS, for every kind of failure the HTTP edge can meet."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from engine.config import Rate
from tests.conftest import AppFactory
from tests.helpers import METRICS_TOKEN, bearer, registration

Client = TestClient[web.Request, web.Application]
ALLOWED_ORIGIN = "https://flyliveapp.com"
FOREIGN_ORIGIN = "https://evil.example"
JSON_HEADERS = {"Content-Type": "application/json"}


async def envelope(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is JSON in the error envelope, never HTML or a stack trace."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/json", text
    assert "Traceback" not in text and "<html" not in text.lower()
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == "error"
    assert body["message"] and body["error"]["message"] == body["message"]
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body


async def test_unknown_route_is_json_404(client: Client) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/api/nope"), ("POST", "/api/v1/nope"), ("GET", "/")):
        resp = await client.request(method, path, headers={"Accept": "text/html"})
        body = await envelope(resp, 404, "route_not_found")
        assert body["message"] == "Route not found."


async def test_wrong_method_is_json_405(client: Client) -> None:
    resp = await client.delete("/api/health_check")
    await envelope(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]
    resp = await client.get("/api/login")
    await envelope(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


async def test_bad_json_bodies_are_400(client: Client) -> None:
    for raw in (b"{not json", b'{"phone": "+15550000001",}', b"\xff\xfe\x00", b'{"phone": "+1555'):
        resp = await client.post("/api/login", data=raw, headers=JSON_HEADERS)
        body = await envelope(resp, 400, "invalid_json")
        assert body["message"] == "The body is not valid JSON."
    # Valid JSON that is not an object (an array, a string, a number, null) is refused too.
    for raw in (b'[{"phone": "+15550000001", "password": "Secret-pass-1"}]', b'"text"', b"42", b"null"):
        resp = await client.post("/api/login", data=raw, headers=JSON_HEADERS)
        body = await envelope(resp, 400)
        assert body["error"]["code"] in ("invalid_body", "invalid_json")


async def test_deeply_nested_json_is_400(client: Client) -> None:
    raw = b"[" * 5000 + b"]" * 5000
    resp = await client.post("/api/login", data=raw, headers=JSON_HEADERS)
    await envelope(resp, 400)


async def test_body_too_large_is_413(make_client: AppFactory) -> None:
    small = await make_client(max_body_bytes=2048)
    big = registration(name="x" * 10_000)
    for kwargs in ({"json": big}, {"data": big}):
        resp = await small.post("/api/register", **kwargs)
        body = await envelope(resp, 413, "body_too_large")
        assert body["message"] == "Request body is too large."
    # Under the limit the same route still works.
    resp = await small.post("/api/register", json=registration())
    assert resp.status == 200, await resp.text()


async def test_wrong_types_are_422(client: Client) -> None:
    resp = await client.post("/api/login", json={"phone": ["+15550000001"], "password": 12345678})
    body = await envelope(resp, 422, "validation_failed")
    assert set(body["errors"]) == {"phone", "password"} == set(body["error"]["fields"])
    resp = await client.post("/api/login", data=b"", headers=JSON_HEADERS)  # empty body: every field missing
    body = await envelope(resp, 422, "validation_failed")
    assert body["errors"]["phone"] == ["The phone field is required."]


async def test_odd_input_is_never_a_server_error(client: Client, register: Any) -> None:
    """Input a client can send must give a 4xx answer, not a 500."""
    token = (await register())["token"]
    auth = bearer(token)
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/register", {"json": registration(name="nul\u0000byte")}),
        ("POST", "/api/register", {"json": registration(name="\U0001f600 emoji \u202e rtl")}),
        ("PATCH", "/api/update-profile", {"json": {"field": "name", "value": "a\u0000b"}, "headers": auth}),
        ("PATCH", "/api/update-profile", {"json": {"field": ["name"], "value": "x"}, "headers": auth}),
        ("GET", f"/api/user/{'9' * 400}", {"headers": auth}),
        ("POST", "/api/login", {"json": {"phone": "+1" + "5" * 10_000, "password": "p" * 10_000}}),
    ]
    failures = []
    for method, path, kwargs in attempts:
        resp = await client.request(method, path, **kwargs)
        text = await resp.text()
        assert "Traceback" not in text
        if resp.status >= 500:
            failures.append((method, path, str(kwargs.get("json"))[:80], resp.status))
    assert failures == []


async def test_every_response_has_a_request_id(client: Client, make_client: AppFactory) -> None:
    small = await make_client(max_body_bytes=2048)
    responses = [
        await client.get("/api/health_check"),
        await client.get("/healthz"),
        await client.get("/metrics", headers=bearer(METRICS_TOKEN)),
        await client.get("/nope"),
        await client.delete("/api/health_check"),
        await client.get("/api/user"),
        await client.post("/api/login", json={}),
        await client.post("/api/login", data=b"{", headers=JSON_HEADERS),
        await small.post("/api/register", json={"name": "x" * 5000}),
    ]
    seen = set()
    for resp in responses:
        request_id = resp.headers.get("X-Request-ID", "")
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", request_id), (resp.url, request_id)
        seen.add(request_id)
        assert "Traceback" not in await resp.text()
    assert len(seen) == len(responses)  # generated ids are unique per request


async def test_request_id_echoed_only_when_sane(client: Client) -> None:
    for incoming in ("abc-123", "trace.id:42_x", "A" * 64, "0af7651916cd43dd8448eb211c80319c"):
        resp = await client.get("/api/health_check", headers={"X-Request-ID": incoming})
        assert resp.headers["X-Request-ID"] == incoming
        resp = await client.get("/api/user", headers={"X-Request-ID": incoming})
        assert resp.headers["X-Request-ID"] == incoming
        assert (await resp.json())["request_id"] == incoming
    # Too long, or with characters a log line or header should not carry: a fresh id replaces it.
    for incoming in ("x" * 200, "A" * 65, "has spaces in it", "<script>alert(1)</script>", "a/b", "id;drop"):
        resp = await client.get("/api/user", headers={"X-Request-ID": incoming})
        replaced = resp.headers["X-Request-ID"]
        assert replaced != incoming and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", replaced), replaced
        assert (await resp.json())["request_id"] == replaced
        assert incoming not in await resp.text()


async def test_cors_allowed_origin_and_preflight(client: Client) -> None:
    resp = await client.get("/api/health_check", headers={"Origin": ALLOWED_ORIGIN})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in resp.headers.get("Vary", "")
    local = await client.get("/api/health_check", headers={"Origin": "http://localhost:3000"})
    assert local.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    # Preflight.
    resp = await client.options(
        "/api/update-profile",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "PATCH" in resp.headers["Access-Control-Allow-Methods"]
    allowed_headers = resp.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    assert await resp.read() == b""


async def test_cors_on_error_responses(make_client: AppFactory) -> None:
    """A browser app must be able to read validation, auth and limit errors, so they carry CORS headers too."""
    client = await make_client(http_rate_limit=Rate(1, 60))
    headers = {"Origin": ALLOWED_ORIGIN}
    assert (await client.get("/api/health_check", headers=headers)).status == 200
    for resp in (
        await client.post("/api/login", json={}, headers=headers),
        await client.get("/api/user", headers=headers),
        await client.get("/api/nope", headers=headers),
        await client.get("/api/health_check", headers=headers),
    ):
        assert resp.status in (401, 404, 422, 429)
        assert resp.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN, (resp.url, resp.status)


async def test_cors_foreign_origin_gets_no_allow_header(client: Client) -> None:
    for origin in (FOREIGN_ORIGIN, "https://flyliveapp.com.evil.example", "null", "http://flyliveapp.com"):
        resp = await client.get("/api/health_check", headers={"Origin": origin})
        assert resp.status == 200
        assert "Access-Control-Allow-Origin" not in resp.headers, origin
        preflight = await client.options(
            "/api/login", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers, origin
        assert "Access-Control-Allow-Methods" not in preflight.headers
        assert preflight.status != 204
