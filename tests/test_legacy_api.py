"""The legacy Laravel REST paths (backend-contract.md §1) and their /api/v1 equivalents."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.helpers import PASSWORD, bearer, login, me, new_phone, registration

Client = TestClient[web.Request, web.Application]
PRIVATE_FIELDS = ("phone", "email", "dob", "coin_balance", "diamond_balance", "password_hash", "suspended_until")
NEW_PASSWORD = "Another-pass-2"


async def assert_invalid(resp: Any, *fields: str) -> dict[str, Any]:
    """422 in both the legacy (`errors`) and the new (`error.fields`) shapes, naming each field."""
    assert resp.status == 422, await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body["error"]["code"] in ("validation_failed", "invalid_field")
    for field in fields:
        assert body["errors"][field] and isinstance(body["errors"][field][0], str), body
        assert body["error"]["fields"][field] == body["errors"][field]
    assert body["message"].startswith(next(iter(body["errors"].values()))[0])
    return body


def years_ago(years: int, days: int = 0) -> str:
    today = dt.datetime.now(dt.UTC).date()
    try:
        then = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        then = today.replace(year=today.year - years, day=28)
    return (then - dt.timedelta(days=days)).isoformat()


# --- public endpoints ----------------------------------------------------------------------------


async def test_health_check_and_register(client: Client) -> None:
    resp = await client.get("/api/health_check")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    body = registration(name="N" * 100, country="ae", gender="others", dob=years_ago(18, days=1))
    resp = await client.post("/api/register", json=body)
    assert resp.status == 200, await resp.text()
    tokens = await resp.json()
    profile = await me(client, tokens["token"])
    assert profile["name"] == "N" * 100 and profile["phone"] == body["phone"]
    assert profile["country"] == "ae" and profile["gender"] == "others" and profile["dob"] == body["dob"]


async def test_register_and_login_form_encoded(client: Client) -> None:
    body = registration(name="Form User")
    resp = await client.post("/api/register", data=body)  # application/x-www-form-urlencoded
    assert resp.status == 200, await resp.text()
    profile = await me(client, (await resp.json())["token"])
    assert profile["name"] == "Form User" and profile["phone"] == body["phone"]
    resp = await client.post("/api/login", data={"phone": body["phone"], "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    # Legacy form clients send the optional `remember` flag as a form string.
    resp = await client.post("/api/login", data={"phone": body["phone"], "password": PASSWORD, "remember": "1"})
    assert resp.status == 200, await resp.text()


async def test_register_missing_field(client: Client) -> None:
    for field in ("name", "phone", "country", "gender", "dob", "password"):
        body = registration()
        del body[field]
        errors = await assert_invalid(await client.post("/api/register", json=body), field)
        assert errors["errors"] == {field: [f"The {field} field is required."]}


BAD_REGISTRATION_FIELDS: list[tuple[str, Any]] = [
    ("name", 123),
    ("name", ""),
    ("name", "N" * 101),
    ("name", None),
    ("phone", 923001234567),
    ("phone", "03001234567"),
    ("phone", "+0123456789"),
    ("phone", "+92 300 1234567"),
    ("phone", "+1" + "2" * 19),
    ("phone", "+\u0669\u0662\u0663\u0660\u0660\u0661\u0662\u0663\u0664\u0665"),  # Arabic-Indic digits
    ("country", 12),
    ("country", "PAK"),
    ("country", "P"),
    ("gender", 2),
    ("gender", "Female"),
    ("gender", "MALE"),
    ("gender", "unknown"),
    ("dob", 19950517),
    ("dob", "17-05-1995"),
    ("dob", "1995-02-30"),
    ("password", 12345678),
    ("password", "short7!"),
    ("password", "p" * 129),
]


async def test_register_bad_field(client: Client) -> None:
    for field, value in BAD_REGISTRATION_FIELDS:
        resp = await client.post("/api/register", json=registration(**{field: value}))
        body = await assert_invalid(resp, field)
        assert set(body["errors"]) == {field}, (field, value)


async def test_register_names_every_bad_field(client: Client) -> None:
    bad = {"name": "", "phone": "123", "country": "PAK", "gender": "Male", "dob": "nope", "password": "short"}
    body = await assert_invalid(await client.post("/api/register", json=bad), *bad)
    assert set(body["errors"]) == set(bad)


async def test_register_validation_message_counts_the_others(client: Client) -> None:
    """Legacy (contract §0): `message` is '<first error> (and N more errors)' when several fail."""
    bad = {"name": "", "phone": "123", "country": "PAK"}
    body = await (await client.post("/api/register", json=bad)).json()
    first = next(iter(body["errors"].values()))[0]
    assert body["message"] == f"{first} (and 5 more errors)"


async def test_register_under_18_and_duplicate_phone(client: Client, register: Any) -> None:
    body = await assert_invalid(await client.post("/api/register", json=registration(dob=years_ago(17))), "dob")
    assert body["errors"]["dob"] == ["You must be at least 18 years old."]
    # Turning 18 today is still refused: the legacy rule is "strictly before today - 18 years".
    await assert_invalid(await client.post("/api/register", json=registration(dob=years_ago(18))), "dob")

    taken = (await register())["phone"]
    resp = await client.post("/api/register", json=registration(phone=taken))
    body = await assert_invalid(resp, "phone")
    assert body["errors"]["phone"] == ["The phone has already been taken."]


# --- login -------------------------------------------------------------------------------------


async def test_login_adds_a_session_and_keeps_the_old_one(client: Client, register: Any) -> None:
    tokens = await register()
    resp = await client.post("/api/login", json={"phone": tokens["phone"], "password": PASSWORD, "remember": True})
    assert resp.status == 200
    new = await resp.json()
    assert new["token"] != tokens["token"] and new["token_type"] == "Bearer"
    assert (await me(client, new["token"]))["phone"] == tokens["phone"]
    assert (await me(client, tokens["token"]))["phone"] == tokens["phone"]


async def test_login_validation(client: Client, register: Any) -> None:
    phone = (await register())["phone"]
    await assert_invalid(await client.post("/api/login", json={}), "phone", "password")
    await assert_invalid(await login(client, "0300-1234567"), "phone")
    # The legacy minimum of 8 characters is enforced at login too.
    await assert_invalid(await login(client, phone, "short"), "password")
    body = await assert_invalid(await login(client, phone, PASSWORD + "x"), "phone")
    assert body["errors"]["phone"] == ["These credentials do not match our records."]


# --- GET /api/user, GET /api/user/{id} ----------------------------------------------------------


async def test_user_fields(client: Client, register: Any) -> None:
    tokens = await register(name="Field Check")
    profile = await me(client, tokens["token"])
    assert isinstance(profile["id"], int) and profile["name"] == "Field Check"
    assert profile["coin_balance"] == 0 and profile["diamond_balance"] == 0
    for key in ("created_at", "updated_at"):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", profile[key]), profile[key]  # users' dates: YYYY-MM-DD
    assert profile["deleted_at"] is None and profile["active_frame"] is None
    assert profile["status"] == "active" and profile["suspended_until"] is None
    assert "password_hash" not in profile and "password" not in profile


async def test_authenticated_routes_need_a_valid_token(client: Client) -> None:
    routes = [
        ("GET", "/api/user"),
        ("GET", "/api/user/1"),
        ("POST", "/api/reset-password"),
        ("PATCH", "/api/update-profile"),
        ("GET", "/api/v1/me"),
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/me/password"),
        ("GET", "/api/v1/users/1"),
    ]
    for header in (None, "Bearer not-a-token", "Bearer a.b.c", "Basic abc", "Bearer "):
        headers = {"Authorization": header} if header is not None else {}
        for method, path in routes:
            resp = await client.request(method, path, headers=headers, json={"field": "name", "value": "x"})
            assert resp.status == 401, (method, path, header)
            body = await resp.json()
            assert body["message"] == "Unauthenticated." and body["error"]["code"] == "unauthenticated"


async def test_public_user_hides_private_fields(client: Client, register: Any) -> None:
    target = await me(client, (await register(name="Public Person"))["token"])
    viewer = await register()
    resp = await client.get(f"/api/user/{target['id']}", headers=bearer(viewer["token"]))
    assert resp.status == 200
    public = await resp.json()
    assert public["id"] == target["id"] and public["name"] == "Public Person"
    assert public["signature"] == target["signature"] and public["gender"] == target["gender"]
    for key in PRIVATE_FIELDS:
        assert key not in public, key
    assert target["phone"] not in str(public)


async def test_public_user_not_found(client: Client, register: Any) -> None:
    token = (await register())["token"]
    for user_id in ("999999999", "0", "-1", "abc", "1.5", str(2**63), str(2**64 + 5)):
        resp = await client.get(f"/api/user/{user_id}", headers=bearer(token))
        assert resp.status == 404, user_id
        body = await resp.json()
        assert body["error"]["code"] == "not_found" and user_id in body["message"]


# --- POST /api/reset-password --------------------------------------------------------------------


def password_change(current: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str | None = None) -> dict[str, str]:
    return {"current_password": current, "password": new, "password_confirmation": confirm or new}


async def test_reset_password_validation(client: Client, register: Any) -> None:
    headers = bearer((await register())["token"])
    no_current = {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    await assert_invalid(await client.post("/api/reset-password", json=no_current, headers=headers), "current_password")
    mismatch = password_change(confirm=NEW_PASSWORD + "x")
    body = await assert_invalid(await client.post("/api/reset-password", json=mismatch, headers=headers), "password")
    assert body["errors"]["password"] == ["The password field confirmation does not match."]
    wrong = password_change(current="Wrong-pass-9")
    await assert_invalid(await client.post("/api/reset-password", json=wrong, headers=headers), "current_password")
    short = password_change(new="short")
    await assert_invalid(await client.post("/api/reset-password", json=short, headers=headers), "password")


async def test_reset_password_success(client: Client, register: Any) -> None:
    tokens = await register()
    other = await (await login(client, tokens["phone"])).json()
    resp = await client.post("/api/reset-password", json=password_change(), headers=bearer(tokens["token"]))
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"status": "success", "message": "Password updated successfully."}
    # The old password no longer works; the new one does.
    await assert_invalid(await login(client, tokens["phone"]), "phone")
    assert (await login(client, tokens["phone"], NEW_PASSWORD)).status == 200
    # Other sessions end (access and refresh token); this one keeps working.
    assert (await client.get("/api/user", headers=bearer(other["token"]))).status == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refresh.status == 401
    assert (await me(client, tokens["token"]))["phone"] == tokens["phone"]


# --- PATCH /api/update-profile -------------------------------------------------------------------


async def update(client: Client, token: str, body: dict[str, Any]) -> Any:
    return await client.patch("/api/update-profile", json=body, headers=bearer(token))


async def test_update_profile_each_field(client: Client, register: Any) -> None:
    tokens = await register()
    token = tokens["token"]
    phone = new_phone()
    for field, value, shown in (
        ("name", "Renamed Person", "Renamed Person"),
        ("phone", phone, phone),
        ("country", "AE", "ae"),
        ("gender", "male", "male"),
        ("dob", "1990-01-02", "1990-01-02"),
        ("signature", "@renamed.handle_1", "@renamed.handle_1"),
        ("avatar_image", "https://ik.imagekit.io/flylive/a.webp", "https://ik.imagekit.io/flylive/a.webp"),
    ):
        assert (await me(client, token))[field] != shown
        resp = await update(client, token, {"field": field, "value": value})
        assert resp.status == 200, await resp.text()
        label = field[0].upper() + field[1:]
        assert await resp.json() == {"status": "success", "message": f"{label} updated successfully."}
        assert (await me(client, token))[field] == shown
        again = await update(client, token, {"field": field, "value": value})
        assert again.status == 200
        assert await again.json() == {"status": "success", "message": f"{label} is already set to this value."}
    # The new phone is the login from now on.
    assert (await login(client, phone)).status == 200
    assert (await login(client, tokens["phone"])).status == 422


async def test_update_profile_unchanged(client: Client, register: Any) -> None:
    token = (await register())["token"]
    before = await me(client, token)
    # Same value as registered, in the spelling the client sent at registration.
    for field, value in (
        ("name", "Test User"),
        ("gender", "female"),
        ("country", "PK"),
        ("dob", "1995-05-17"),
        ("phone", before["phone"]),
        ("signature", before["signature"]),
    ):
        resp = await update(client, token, {"field": field, "value": value})
        assert resp.status == 200, field
        label = field.capitalize()
        assert await resp.json() == {"status": "success", "message": f"{label} is already set to this value."}
    assert await me(client, token) == before


async def test_update_profile_unknown_field(client: Client, register: Any) -> None:
    token = (await register())["token"]
    before = await me(client, token)
    for field in ("email", "coin_balance", "status", "id", "", "password_hash", "Name"):
        resp = await update(client, token, {"field": field, "value": "x"})
        assert resp.status == 422, field
        body = await resp.json()
        assert body["status"] == "error" and body["message"] == "Invalid field selected for update."
    assert await me(client, token) == before


async def test_update_profile_refuses_password(client: Client, register: Any) -> None:
    tokens = await register()
    await assert_invalid(await update(client, tokens["token"], {"field": "password", "value": NEW_PASSWORD}), "field")
    assert (await login(client, tokens["phone"])).status == 200
    assert (await login(client, tokens["phone"], NEW_PASSWORD)).status == 422


BAD_PROFILE_BODIES: list[dict[str, Any]] = [
    {"field": "name"},
    {"field": "name", "value": None},
    {"value": "x"},
    {"field": "name", "value": ""},
    {"field": "name", "value": 12},
    {"field": "phone", "value": "12345"},
    {"field": "gender", "value": "Male"},
    {"field": "country", "value": "PAK"},
    {"field": "dob", "value": "not-a-date"},
    {"field": "dob", "value": years_ago(10)},
    {"field": "signature", "value": "has space"},
    {"field": "avatar_image", "value": 5},
    {"field": "avatar_image", "value": "x" * 501},
]


async def test_update_profile_bad_value(client: Client, register: Any) -> None:
    token = (await register())["token"]
    before = await me(client, token)
    for body in BAD_PROFILE_BODIES:
        resp = await update(client, token, body)
        assert resp.status == 422, body  # a missing value is a validation error, never a 500
        await assert_invalid(resp, "field" if "field" not in body else "value")
    assert await me(client, token) == before


async def test_update_profile_value_taken(client: Client, register: Any) -> None:
    other = await me(client, (await register())["token"])
    token = (await register())["token"]
    for field in ("phone", "signature"):
        body = await assert_invalid(await update(client, token, {"field": field, "value": other[field]}), "value")
        assert body["errors"]["value"] == [f"The {field} has already been taken."]
        assert (await me(client, token))[field] != other[field]


# --- /api/v1 equivalents -------------------------------------------------------------------------


async def test_v1_register_login_me(client: Client) -> None:
    body = registration(name="Vee One")
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 201, await resp.text()
    data = (await resp.json())["data"]
    assert data["user"]["signature"].startswith(("@vee_one_", "#vee_one_")) and data["access_token"]
    dup = await client.post("/api/v1/auth/register", json=body)
    await assert_invalid(dup, "phone")
    await assert_invalid(await client.post("/api/v1/auth/register", json={**body, "gender": "x"}), "gender")

    resp = await client.post("/api/v1/auth/login", json={"phone": body["phone"], "password": PASSWORD})
    assert resp.status == 200
    token = (await resp.json())["data"]["access_token"]
    bad = await client.post("/api/v1/auth/login", json={"phone": body["phone"], "password": "Wrong-pass-1"})
    await assert_invalid(bad, "phone")

    resp = await client.get("/api/v1/me", headers=bearer(token))
    assert resp.status == 200
    mine = (await resp.json())["data"]
    assert mine["id"] == data["user"]["id"] and mine["phone"] == body["phone"]


async def test_v1_update_me_and_password(client: Client, register: Any) -> None:
    tokens = await register()
    headers = bearer(tokens["token"])
    resp = await client.patch("/api/v1/me", json={"field": "name", "value": "Vee Two"}, headers=headers)
    assert resp.status == 200
    assert await resp.json() == {"data": {"message": "Name updated successfully."}}
    assert (await me(client, tokens["token"]))["name"] == "Vee Two"
    resp = await client.patch("/api/v1/me", json={"field": "email", "value": "a@b.c"}, headers=headers)
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid_field"

    wrong = password_change(current="Wrong-pass-9")
    await assert_invalid(await client.post("/api/v1/me/password", json=wrong, headers=headers), "current_password")
    resp = await client.post("/api/v1/me/password", json=password_change(), headers=headers)
    assert resp.status == 200
    assert await resp.json() == {"data": {"message": "Password updated successfully."}}
    assert (await login(client, tokens["phone"], NEW_PASSWORD)).status == 200


async def test_v1_public_user(client: Client, register: Any) -> None:
    target = await me(client, (await register(name="Vee Public"))["token"])
    headers = bearer((await register())["token"])
    resp = await client.get(f"/api/v1/users/{target['id']}", headers=headers)
    assert resp.status == 200
    public = (await resp.json())["data"]
    assert public["id"] == target["id"] and public["name"] == "Vee Public"
    for key in PRIVATE_FIELDS:
        assert key not in public, key
    for bad in ("999999999", "abc", str(2**63)):
        resp = await client.get(f"/api/v1/users/{bad}", headers=headers)
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
