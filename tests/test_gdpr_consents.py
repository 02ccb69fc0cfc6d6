"""Consents (issue 12 §8): v1 registration must accept the policies in force, a new version makes
it due (GET /api/v1/me), POST /api/v1/me/consents accepts it, the legacy registration records the
acceptance its screen implies."""

from __future__ import annotations

from typing import Any

from tests.helpers import CONSENTS, bearer, registration

Client = Any
NEW_TERMS = (("terms", "2026-06"), ("privacy", "2026-01"))


async def v1_register(client: Client, **changes: Any) -> Any:
    return await client.post("/api/v1/auth/register", json=registration(**changes))


async def test_v1_registration_needs_every_current_policy(client: Client) -> None:
    body = registration()
    del body["consents"]
    missing = await client.post("/api/v1/auth/register", json=body)
    assert missing.status == 422
    assert (await missing.json())["error"]["fields"]["consents"] == ["The consents field is required."]

    stale = await v1_register(client, consents=[{"policy": "terms", "version": "2025-01"}, CONSENTS[1]])
    assert stale.status == 422
    fields = (await stale.json())["error"]["fields"]
    assert fields == {"consents": ["Accept the current policies: terms 2026-01."]}
    # A consent problem is told with the other fields' problems, in one answer.
    both = await v1_register(client, consents=[], gender="x")
    assert set((await both.json())["error"]["fields"]) == {"gender", "consents"}
    bad_shape = await v1_register(client, consents=[{"policy": "terms"}])
    assert bad_shape.status == 422 and "consents" in (await bad_shape.json())["error"]["fields"]

    ok = await v1_register(client)
    assert ok.status == 201, await ok.text()
    token = (await ok.json())["data"]["access_token"]
    me = await (await client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["data"]["consents_due"] == []
    listed = (await (await client.get("/api/v1/me/consents", headers=bearer(token))).json())["data"]
    assert [(c["policy"], c["version"], c["source"]) for c in listed["items"]] == [
        ("terms", "2026-01", "register"), ("privacy", "2026-01", "register")]  # fmt: skip
    assert listed["due"] == []


async def test_a_new_version_is_due_until_accepted(client: Client, make_client: Any) -> None:
    token = (await (await v1_register(client)).json())["data"]["access_token"]
    later = await make_client(consent_policies=NEW_TERMS)  # the same database, after a policy change
    me = await (await later.get("/api/v1/me", headers=bearer(token))).json()
    assert me["data"]["consents_due"] == [{"policy": "terms", "version": "2026-06"}]
    # Registration asks for the new version too.
    old = await later.post("/api/v1/auth/register", json=registration())
    assert (await old.json())["error"]["fields"] == {"consents": ["Accept the current policies: terms 2026-06."]}

    stale = await later.post("/api/v1/me/consents", headers=bearer(token), json=CONSENTS[0])
    assert stale.status == 422
    assert (await stale.json())["error"]["fields"] == {"version": ["The current version of terms is 2026-06."]}
    unknown = await later.post("/api/v1/me/consents", headers=bearer(token), json={"policy": "cookies", "version": "1"})
    assert unknown.status == 422 and "policy" in (await unknown.json())["error"]["fields"]
    junk = await later.post("/api/v1/me/consents", headers=bearer(token), json={"policy": "terms"})
    assert junk.status == 422 and "version" in (await junk.json())["error"]["fields"]
    assert (await later.post("/api/v1/me/consents", json={"policy": "terms", "version": "2026-06"})).status == 401

    accepted = await later.post(
        "/api/v1/me/consents", headers=bearer(token), json={"policy": "terms", "version": "2026-06"}
    )
    assert accepted.status == 200, await accepted.text()
    data = (await accepted.json())["data"]
    assert data["due"] == [] and data["items"][-1]["source"] == "accepted"
    me = await (await later.get("/api/v1/me", headers=bearer(token))).json()
    assert me["data"]["consents_due"] == []


async def test_legacy_registration_records_the_implied_consent(client: Client) -> None:
    body = registration()
    del body["consents"]  # the legacy screen sends none
    resp = await client.post("/api/register", json=body)
    assert resp.status == 200, await resp.text()
    tokens = await resp.json()
    assert set(tokens) == {"token", "access_token", "token_type", "expires_in", "refresh_token"}  # unchanged
    listed = (await (await client.get("/api/v1/me/consents", headers=bearer(tokens["token"]))).json())["data"]
    assert {(c["policy"], c["version"], c["source"]) for c in listed["items"]} == {
        ("terms", "2026-01", "legacy_implied"), ("privacy", "2026-01", "legacy_implied")}  # fmt: skip
    me = await (await client.get("/api/v1/me", headers=bearer(tokens["token"]))).json()
    assert me["data"]["consents_due"] == []
