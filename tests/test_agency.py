"""Agencies §1 (issue 13): applying, staff review with its notifications, the public list and view,
the owner's edits, closing with `agency.dissolved`; the permission matrix of those routes; and the
gift split seeing an approved owner and a closed agency at once."""

from __future__ import annotations

from typing import Any

from engine.appkeys import CONFIG, SERVICES
from engine.config import Rate
from tests.agency_setup import add_member, agency_share_probe, application, apply, approve, cast, new_agency
from tests.helpers import bearer, db, heard_by, new_user


async def test_an_application_is_reviewed_and_approval_makes_the_owner_a_member(client: Any, connect: Any) -> None:
    staff, owner, other = await new_user(client, "Staff", role="admin"), await new_user(client, "Owner"), \
        await new_user(client, "Other")  # fmt: skip
    body = application(owner.id, name="Lions")
    resp = await client.post("/api/v1/agencies", json=body, headers=bearer(owner.token))
    assert resp.status == 201, await resp.text()
    created = (await resp.json())["data"]
    assert created["review_status"] == "pending" and created["status"] == "inactive"
    assert created["id_front_url"] == body["id_front_url"] and created["country"] == "PK"
    agency_id = created["id"]
    async with db(client.app[CONFIG].database_url) as conn:
        sealed = await conn.fetchrow("SELECT * FROM agencies WHERE id = $1", agency_id)
        assert body["id_front_url"].encode() not in bytes(sealed["id_front_sealed"])  # sealed at rest
        assert body["id_back_url"].encode() not in bytes(sealed["id_back_sealed"])
    # Pending: the owner and staff see it (with the documents), nobody else does.
    assert (await client.get(f"/api/v1/agencies/{agency_id}", headers=bearer(other.token))).status == 404
    mine = (await (await client.get(f"/api/v1/agencies/{agency_id}", headers=bearer(owner.token))).json())["data"]
    assert mine["id_back_url"] == body["id_back_url"]
    listed = await client.get("/api/v1/admin/agencies?review_status=pending", headers=bearer(staff.token))
    assert [a["id"] for a in (await listed.json())["data"]["items"]] == [agency_id]
    assert (await client.get("/api/v1/agencies", headers=bearer(other.token))).status == 200
    assert (await (await client.get("/api/v1/agencies", headers=bearer(other.token))).json())["data"]["items"] == []

    peer = await connect(client, owner)
    approved = await approve(client, staff, agency_id)
    assert approved["review_status"] == "approved" and approved["member_count"] == 1
    (pushed,) = await peer.wait_for("notification:new")
    assert pushed["kind"] == "agency" and pushed["data"]["review_status"] == "approved"
    public = (await (await client.get(f"/api/v1/agencies/{agency_id}", headers=bearer(other.token))).json())["data"]
    assert public["name"] == "Lions" and "id_front_url" not in public and "phone" not in public
    async with db(client.app[CONFIG].database_url) as conn:
        member = await conn.fetchrow("SELECT * FROM agency_members WHERE user_id = $1", owner.id)
        assert member["agency_id"] == agency_id and member["role"] == "owner" and member["left_at"] is None
        actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log WHERE target_type = 'agency' "
                                                          "ORDER BY id")]  # fmt: skip
        assert actions == ["agency.apply", "agency.approve"]
        events = await conn.fetch("SELECT kind, role FROM agency_member_events WHERE agency_id = $1", agency_id)
        assert [(e["kind"], e["role"]) for e in events] == [("joined", "owner")]
    again = await client.post(f"/api/v1/admin/agencies/{agency_id}/approve", headers=bearer(staff.token))
    assert again.status == 409


async def test_application_rules(make_client: Any) -> None:
    client = await make_client(agency_create_rate_limit=Rate(3, 3600))
    staff, a, b = await new_user(client, role="admin"), await new_user(client), await new_user(client)

    async def post(user: Any, **changes: Any) -> Any:
        return await client.post("/api/v1/agencies", json=application(user.id, **changes), headers=bearer(user.token))

    bad = await post(a, name="x" * 21, country="Pakistan", referee_user_id=10**9, logo_url="ftp://x")
    assert bad.status == 422
    assert set((await bad.json())["error"]["fields"]) >= {"name", "country", "logo_url"}
    unknown_referee = await post(a, referee_user_id=10**9)
    assert unknown_referee.status == 422 and "referee_user_id" in (await unknown_referee.json())["error"]["fields"]
    await apply(client, a, name="Tigers")
    taken = await post(b, name="TIGERS")  # case-insensitive
    assert taken.status == 422 and (await taken.json())["error"]["fields"]["name"]
    assert (await post(a)).status == 409  # one pending application
    assert (await post(a)).status == 429  # AGENCY_CREATE_RATE_LIMIT (3 in the window; a bad body is not counted)
    # A member of an agency may not apply.
    other = await new_agency(client, await new_user(client), staff)
    await add_member(client, other, b)
    assert (await post(b)).status == 403


async def test_rejection_needs_a_reason_notifies_and_frees_the_name(client: Any, connect: Any) -> None:
    staff, owner, other = await new_user(client, role="admin"), await new_user(client), await new_user(client)
    agency = await apply(client, owner, name="Eagles")
    url = f"/api/v1/admin/agencies/{agency['id']}/reject"
    assert (await client.post(url, json={}, headers=bearer(staff.token))).status == 422
    assert (await client.post(url, json={"reason": "x"}, headers=bearer(owner.token))).status == 403
    peer = await connect(client, owner)
    resp = await client.post(url, json={"reason": "The ID is unreadable."}, headers=bearer(staff.token))
    assert resp.status == 200 and (await resp.json())["data"]["rejection_reason"] == "The ID is unreadable."
    (pushed,) = await peer.wait_for("notification:new")
    assert pushed["data"] == {"agency_id": agency["id"], "review_status": "rejected", "reason": "The ID is unreadable."}
    assert (await client.get(f"/api/v1/agencies/{agency['id']}", headers=bearer(other.token))).status == 404
    await apply(client, other, name="eagles")  # the name is free again
    await apply(client, owner, name="Eagles 2")  # and the applicant may apply again


async def test_the_list_searches_and_pages(client: Any) -> None:
    staff, viewer = await new_user(client, role="admin"), await new_user(client)
    ids = [await new_agency(client, await new_user(client), staff, name=name)
           for name in ("Red Stars", "Blue Stars", "Green 100%")]  # fmt: skip
    await apply(client, await new_user(client), name="Pending Stars")

    async def listed(query: str) -> Any:
        return await client.get(f"/api/v1/agencies?{query}", headers=bearer(viewer.token))

    assert (await listed("search=st")).status == 422
    assert (await listed("search=%20st%20")).status == 422  # spaces do not count
    found = (await (await listed("search=STARS")).json())["data"]
    assert [a["id"] for a in found["items"]] == [ids[1], ids[0]]
    assert found["items"][0] == {
        "id": ids[1],
        "name": "Blue Stars",
        "logo_url": "https://cdn.example/logo.png",
        "country": "PK",
        "member_count": 1,
        "member_limit": 50,
        "recruiting": True,
    }
    assert [a["id"] for a in (await (await listed("search=00%25")).json())["data"]["items"]] == [ids[2]]
    first = (await (await listed("limit=2")).json())["data"]
    second = (await (await listed(f"limit=2&cursor={first['next_cursor']}")).json())["data"]
    assert [a["id"] for a in first["items"] + second["items"]] == ids[::-1] and second["next_cursor"] is None


async def test_the_owner_edits_the_agency_within_the_limits(make_client: Any) -> None:
    client = await make_client(agency_member_limit_max=100)
    c = await cast(client)
    url = f"/api/v1/agencies/{c.agency_id}"
    change = {"description": "We sing.", "recruiting": False, "member_limit": 80, "rules": "Be kind.",
              "logo_url": "https://cdn.example/new.png"}  # fmt: skip
    resp = await client.patch(url, json=change, headers=bearer(c.owner.token))
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    assert (data["description"], data["recruiting"], data["member_limit"], data["rules"]) == \
        ("We sing.", False, 80, "Be kind.")  # fmt: skip
    refused = (
        ({"name": "New"}, "name"),
        ({"member_limit": 101}, "member_limit"),
        ({"member_limit": 3}, "member_limit"),
        ({"description": "x" * 501}, "description"),
    )
    for body, field in refused:
        bad = await client.patch(url, json=body, headers=bearer(c.owner.token))
        assert bad.status == 422 and field in (await bad.json())["error"]["fields"], body
    for name in ("admin", "moderator", "member", "outsider", "staff"):
        user = c.everyone()[name]
        assert (await client.patch(url, json={"rules": "x"}, headers=bearer(user.token))).status == 403, name
    assert (await client.patch("/api/v1/agencies/999999", json={}, headers=bearer(c.owner.token))).status == 404


async def test_closing_releases_the_members_and_tells_them_on_any_process(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    c = await cast(a)
    url = f"/api/v1/agencies/{c.agency_id}/close"
    for name in ("admin", "moderator", "member", "outsider"):
        assert (await a.post(url, json={}, headers=bearer(c.everyone()[name].token))).status == 403, name
    peers = {name: await connect(b, c.everyone()[name]) for name in ("admin", "moderator", "member", "outsider")}
    resp = await a.post(url, json={"reason": "Moving on."}, headers=bearer(c.owner.token))
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "closed"
    for name in ("admin", "moderator", "member"):
        (event,) = await peers[name].wait_for("agency.dissolved")
        assert event == {"agency": {"id": c.agency_id, "name": event["agency"]["name"]}, "by": "owner",
                         "reason": "Moving on."}  # fmt: skip
    assert "agency.dissolved" not in peers["outsider"].events
    async with db(a.app[CONFIG].database_url) as conn:
        active = await conn.fetchval("SELECT count(*) FROM agency_members WHERE agency_id = $1 AND left_at IS NULL",
                                     c.agency_id)  # fmt: skip
        kept = await conn.fetch("SELECT user_id, left_reason FROM agency_members WHERE agency_id = $1", c.agency_id)
        events = await conn.fetchval("SELECT count(*) FROM agency_member_events WHERE agency_id = $1 AND "
                                     "kind = 'dissolved'", c.agency_id)  # fmt: skip
    assert active == 0 and len(kept) == 4 and {r["left_reason"] for r in kept} == {"dissolved"} and events == 4
    assert (await a.post(url, json={}, headers=bearer(c.owner.token))).status == 409
    assert (await a.get(f"/api/v1/agencies/{c.agency_id}", headers=bearer(c.outsider.token))).status == 404
    # The released members may found their own agency now; staff may close any agency.
    other = await new_agency(a, c.member, c.staff)
    closed = await a.post(f"/api/v1/agencies/{other}/close", json={}, headers=bearer(c.staff.token))
    assert closed.status == 200 and (await closed.json())["data"]["closed_at"] is not None


async def test_admin_routes_are_staff_only(client: Any) -> None:
    c = await cast(client)
    pending = await apply(client, await new_user(client))
    for name, user in c.everyone().items():
        expected = 200 if name == "staff" else 403
        assert (await client.get("/api/v1/admin/agencies", headers=bearer(user.token))).status == expected, name
        if name != "staff":
            for action, body in (("approve", None), ("reject", {"reason": "no"})):
                resp = await client.post(f"/api/v1/admin/agencies/{pending['id']}/{action}", json=body,
                                         headers=bearer(user.token))  # fmt: skip
                assert resp.status == 403, (name, action)
    assert (await client.post("/api/v1/admin/agencies/999999/approve", headers=bearer(c.staff.token))).status == 404
    # Everyone signed in sees the public view of an approved agency; only owner and staff its application.
    for name, user in c.everyone().items():
        resp = await client.get(f"/api/v1/agencies/{c.agency_id}", headers=bearer(user.token))
        assert resp.status == 200, name
        assert ("id_front_url" in (await resp.json())["data"]) == (name in ("owner", "staff")), name


async def test_the_gift_split_sees_approval_and_closing_at_once(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    staff = await new_user(a, "Staff", role="super_admin")
    host = await new_user(a, "Host")
    database_url = a.app[SERVICES].config.database_url
    agency_share_of_next_gift = await agency_share_probe(a, b, connect, staff, host, "agency-g1")

    assert await agency_share_of_next_gift() == []  # B has read: no agency
    async with heard_by(database_url, b.app):
        agency = await new_agency(a, host, staff)  # approval on A makes the host the owner-member
    assert await agency_share_of_next_gift() == [agency]
    async with heard_by(database_url, b.app):
        assert (await a.post(f"/api/v1/agencies/{agency}/close", json={}, headers=bearer(host.token))).status == 200
    assert await agency_share_of_next_gift() == []
