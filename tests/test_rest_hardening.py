"""REST input that used to answer 500 (issue 10 §4): each answers a 4xx in the error envelope."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from tests.conftest import AppFactory
from tests.helpers import bearer, new_user, registration

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}


async def assert_envelope(resp: Any, *statuses: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status in statuses, (resp.method, resp.url, resp.status, text[:300])
    body: dict[str, Any] = await resp.json()
    assert body["status"] == "error" and body["error"]["code"] and body["error"]["message"], body
    return body


async def test_unicode_digits_and_huge_numbers_in_paths_are_not_found(client: Client) -> None:
    user = await new_user(client)
    auth = bearer(user.token)
    for path in ("/api/v1/users/²", "/api/v1/rooms/①", "/api/user/٣", "/api/v1/users/" + "9" * 30,
                 "/api/v1/rooms/" + "9" * 5000, "/api/v1/users/18446744073709551616"):  # fmt: skip
        await assert_envelope(await client.get(path, headers=auth), 404)
    await assert_envelope(await client.post("/api/frame/①/activate", headers=auth), 404)
    await assert_envelope(await client.delete(f"/api/v1/rooms/{user.room}/bans/²", headers=auth), 404)


async def test_unicode_digits_in_integer_query_parameters_are_refused(client: Client) -> None:
    user = await new_user(client)
    auth = bearer(user.token)
    for path in ("/api/v1/rooms?limit=²", "/api/rooms?offset=①", "/api/v1/gifts?max_price=²",
                 "/api/v1/wallet/recharges?limit=" + "9" * 5000, "/api/v1/wallet/transactions?limit=²",
                 "/api/v1/wallet/transactions?cursor=٣"):  # fmt: skip
        body = await assert_envelope(await client.get(path, headers=auth), 422)
        assert body["error"]["code"] == "validation_failed"


async def test_form_bodies_on_json_routes_are_client_errors(client: Client) -> None:
    user = await new_user(client)
    auth = bearer(user.token)
    form = {"name": "x", "phone": "+15550000000", "package_id": "①", "type": "image²", "extension": "png"}
    for path in ("/api/register", "/api/v1/wallet/recharge", "/api/signed-url", "/api/login"):
        await assert_envelope(await client.post(path, data=form, headers=auth), 400, 415, 422)
        multipart = FormData(form)
        multipart.add_field("file", b"\x00\xff", filename="a.bin")
        await assert_envelope(await client.post(path, data=multipart, headers=auth), 400, 415, 422)


async def test_broken_bodies_are_client_errors(client: Client) -> None:
    user = await new_user(client)
    auth = bearer(user.token)
    broken_multipart = {"Content-Type": "multipart/form-data; boundary=xyz", **auth}
    attempts: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("POST", "/api/signed-url", b'{"type": "image", "extension": ', {**JSON, **auth}),
        ("POST", "/api/signed-url", b"\xff\xfe", {**JSON, **auth}),
        ("POST", "/api/register", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx", broken_multipart),
        ("POST", "/api/register", b"garbage with no boundary", broken_multipart),
        ("POST", "/api/register", b"a=1", {"Content-Type": "multipart/form-data", **auth}),
        ("POST", "/api/login", b"[1, 2]", JSON),
        ("POST", "/api/login", b'{"phone": {"a": 1}, "password": [1]}', JSON),
        ("POST", "/api/login", b'{"phone": "+1555", "password": "' + b"\\ud800" + b'"}', JSON),
        ("POST", "/api/v1/me/password", b'{"current_password": 1, "password": null}', {**JSON, **auth}),
        ("POST", "/api/v1/me/password", b'{"password": "a\\u0000b", "password_confirmation": "x"}', {**JSON, **auth}),
        ("PATCH", "/api/update-profile", b'{"field": "dob", "value": "99999-01-01"}', {**JSON, **auth}),
        ("PATCH", "/api/update-profile", b'{"field": "name", "value": {"x": [1]}}', {**JSON, **auth}),
        ("PATCH", "/api/update-profile", b'{"field": "gender", "value": 1e400}', {**JSON, **auth}),
        ("POST", f"/api/v1/rooms/{user.room}/bans", b'{"user_id": 1e30}', {**JSON, **auth}),
        ("POST", f"/api/v1/rooms/{user.room}/bans", b'{"user_id": 99999999999999999999999}', {**JSON, **auth}),
        ("POST", f"/api/v1/rooms/{user.room}/bans", b'{"user_id": "2", "minutes": -1}', {**JSON, **auth}),
    ]
    for method, path, data, headers in attempts:
        resp = await client.request(method, path, data=data, headers=headers)
        await assert_envelope(resp, 400, 404, 413, 415, 422)


async def test_gzip_header_on_a_plain_body_is_a_bad_request(client: Client) -> None:
    headers = {**JSON, "Content-Encoding": "gzip"}
    resp = await client.post("/api/login", data=b'{"phone": "+15550000000", "password": "x"}', headers=headers)
    await assert_envelope(resp, 400)
    # A truly gzipped body is still understood.
    body = gzip.compress(b'{"phone": "+15550000000", "password": "wrong-password"}')
    resp = await client.post("/api/login", data=body, headers=headers)
    assert resp.status in (401, 422), await resp.text()


async def test_a_body_that_never_comes_times_out(make_client: AppFactory) -> None:
    client = await make_client(body_read_timeout_seconds=0.5)
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
        )
        await writer.drain()
        # The engine answers 408 and closes: reading to EOF ends instead of hanging forever.
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"request_timeout"' in body


async def test_banning_a_user_who_does_not_exist_is_not_found(client: Client) -> None:
    owner = await new_user(client)
    resp = await client.post(f"/api/v1/rooms/{owner.room}/bans", json={"user_id": 987654321},
                             headers=bearer(owner.token))  # fmt: skip
    body = await assert_envelope(resp, 404)
    assert body["error"]["code"] == "not_found"


async def test_metrics_are_not_served_without_a_token(make_client: AppFactory) -> None:
    client = await make_client(metrics_token="")
    body = await assert_envelope(await client.get("/metrics", headers=bearer("x" * 40)), 404)
    assert body["error"]["code"] == "route_not_found"  # exactly like a route that does not exist


async def test_metrics_need_the_configured_token(make_client: AppFactory) -> None:
    token = "m" * 40
    client = await make_client(metrics_token=token)
    await assert_envelope(await client.get("/metrics"), 401)
    await assert_envelope(await client.get("/metrics", headers=bearer("x" * 40)), 401)
    resp = await client.get("/metrics", headers=bearer(token))
    assert resp.status == 200 and "flylive_http_requests_total" in await resp.text()


async def test_registration_form_still_works(client: Client) -> None:
    # Forms stay accepted where the legacy API accepted them: a well-formed one registers.
    resp = await client.post("/api/register", data=registration())
    assert resp.status == 200, await resp.text()
