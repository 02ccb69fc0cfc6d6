"""Register, log in, refresh with rotation and reuse detection, log out, banned users."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.helpers import bearer, login

Client = TestClient[web.Request, web.Application]


async def test_register_returns_working_tokens(client: Client, register: Any) -> None:
    tokens = await register(name="John Doe")
    assert tokens["token"] == tokens["access_token"]
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    resp = await client.get("/api/user", headers=bearer(tokens["token"]))
    assert resp.status == 200
    me = await resp.json()
    assert me["phone"] == tokens["phone"]
    assert me["signature"].startswith(("@john_doe_", "#john_doe_"))
    assert me["email"] == f"{me['signature']}@flylive.com"
    assert me["gender"] == "female" and me["country"] == "pk" and me["dob"] == "1995-05-17"
    assert me["room"]["name"] == me["signature"] and me["room"]["user_id"] == me["id"]
    assert me["roles"][0]["name"] == "user"
    assert me["can"] == []  # legacy: an empty JSON array when no permission is held
    assert "password_hash" not in me and "password" not in me


async def test_login_and_wrong_password(client: Client, register: Any) -> None:
    tokens = await register()
    ok = await login(client, tokens["phone"])
    assert ok.status == 200
    assert (await ok.json())["refresh_token"]
    bad = await login(client, tokens["phone"], "wrong-password")
    assert bad.status == 422
    body = await bad.json()
    assert body["errors"]["phone"] == ["These credentials do not match our records."]
    assert body["error"]["code"] == "validation_failed"
    unknown = await login(client, "+19999999999")
    assert unknown.status == 422


async def test_refresh_rotates_and_reuse_revokes_family(client: Client, register: Any) -> None:
    first = await (await login(client, (await register())["phone"])).json()
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status == 200
    second = (await resp.json())["data"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/user", headers=bearer(second["access_token"]))).status == 200

    # The spent token comes back: the whole session ends, including the token just issued.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    assert (await reuse.json())["error"]["code"] == "invalid_refresh_token"
    assert (await client.get("/api/user", headers=bearer(second["access_token"]))).status == 401
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status == 401


async def test_refresh_rejects_unknown_and_malformed(client: Client) -> None:
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert resp.status == 401
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": 12})
    assert resp.status == 422
    assert "refresh_token" in (await resp.json())["errors"]


async def test_logout_revokes_every_session(client: Client, register: Any) -> None:
    tokens = await register()
    other = await (await login(client, tokens["phone"])).json()
    resp = await client.post("/api/logout", headers=bearer(tokens["token"]))
    assert resp.status == 200
    assert (await resp.json()) == {"message": "You have been successfully logged out."}
    for token in (tokens["token"], other["token"]):
        assert (await client.get("/api/user", headers=bearer(token))).status == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refresh.status == 401


async def test_v1_logout_ends_only_this_session(client: Client, register: Any) -> None:
    tokens = await register()
    other = await (await login(client, tokens["phone"])).json()
    resp = await client.post("/api/v1/auth/logout", headers=bearer(tokens["token"]))
    assert resp.status == 200
    assert (await client.get("/api/user", headers=bearer(tokens["token"]))).status == 401
    assert (await client.get("/api/user", headers=bearer(other["token"]))).status == 200
