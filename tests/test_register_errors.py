"""Registration names every bad field in one 422, the rules that need the database included
(backend-contract.md §0, §1.1: Laravel validates every rule before answering)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.helpers import registration

Client = TestClient[web.Request, web.Application]
UNDERAGE = "You must be at least 18 years old."
TAKEN = "The phone has already been taken."


def seventeen_years_ago() -> str:
    today = dt.datetime.now(dt.UTC).date()
    return today.replace(year=today.year - 17, day=min(today.day, 28)).isoformat()


@pytest.mark.parametrize("path", ["/api/register", "/api/v1/auth/register"])
async def test_taken_phone_underage_and_bad_types_answered_at_once(client: Client, register: Any, path: str) -> None:
    taken = (await register())["phone"]
    bad = registration(phone=taken, dob=seventeen_years_ago(), gender="Male", country="PAK")
    resp = await client.post(path, json=bad)
    assert resp.status == 422, await resp.text()
    body: dict[str, Any] = await resp.json()
    # The struct's field order, as Laravel lists its rules: name, phone, country, gender, dob, password.
    assert list(body["errors"]) == ["phone", "country", "gender", "dob"]
    assert body["errors"]["phone"] == [TAKEN] and body["errors"]["dob"] == [UNDERAGE]
    assert body["errors"]["gender"] == ["The gender field must be one of male, female, others."]
    assert body["errors"]["country"] == ["The country field must be a two-letter country code."]
    assert body["message"] == f"{TAKEN} (and 3 more errors)"
    assert body["error"] == {"code": "validation_failed", "message": body["message"], "fields": body["errors"]}


async def test_form_body_names_the_taken_phone_with_the_type_errors(client: Client, register: Any) -> None:
    taken = (await register())["phone"]
    form = {**registration(phone=taken, gender="unknown"), "dob": "nope"}
    body = await (await client.post("/api/register", data=form)).json()
    assert body["errors"]["phone"] == [TAKEN]
    assert set(body["errors"]) == {"phone", "gender", "dob"}


async def test_a_phone_that_fails_its_type_is_not_also_called_taken(client: Client) -> None:
    body = await (await client.post("/api/register", json=registration(phone="123", dob="2999-01-01"))).json()
    assert body["errors"]["phone"] != [TAKEN] and body["errors"]["dob"] == [UNDERAGE]
    assert set(body["errors"]) == {"phone", "dob"}


async def test_a_refused_registration_creates_no_user(client: Client) -> None:
    fresh = registration(dob=seventeen_years_ago())
    assert (await client.post("/api/register", json=fresh)).status == 422
    login = await client.post("/api/login", json={"phone": fresh["phone"], "password": fresh["password"]})
    assert login.status == 422
