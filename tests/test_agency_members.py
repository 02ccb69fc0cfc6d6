"""Agencies §2 (issue 13): join requests (with the member limit under racing approvals),
invitations, the members list, role changes, removal and leaving — each route's permission matrix,
the `agency.*` events their users really receive, the history kept, and the gift split seeing a
membership change on another process at once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from engine.appkeys import CONFIG, SERVICES
from engine.config import Rate
from tests.agency_setup import Cast, agency_share_probe, cast, new_agency
from tests.helpers import User, bearer, db, heard_by, new_user


async def ask(client: Any, user: User, agency_id: int, message: str | None = "Let me in") -> Any:
    return await client.post(f"/api/v1/agencies/{agency_id}/join-requests", json={"message": message},
                             headers=bearer(user.token))  # fmt: skip


async def asked(client: Any, user: User, agency_id: int) -> int:
    resp = await ask(client, user, agency_id)
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["data"]["id"])


async def member_rows(client: Any, agency_id: int) -> dict[int, str]:
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT user_id, role FROM agency_members WHERE agency_id = $1 AND left_at IS NULL",
                                agency_id)  # fmt: skip
    return {r["user_id"]: r["role"] for r in rows}


async def test_join_requests_are_asked_answered_and_told(client: Any, connect: Any) -> None:
    c = await cast(client)
    joiner, refused = await new_user(client, "Joiner"), await new_user(client, "Refused")
    peers = {name: await connect(client, c.everyone()[name]) for name in ("owner", "moderator", "member")}
    j, r = await connect(client, joiner), await connect(client, refused)
    rid = await asked(client, joiner, c.agency_id)
    for name in ("owner", "moderator"):
        (event,) = await peers[name].wait_for("agency.join_request")
        assert event["request_id"] == rid and event["user"]["id"] == joiner.id and event["message"] == "Let me in"
    assert (await ask(client, joiner, c.agency_id)).status == 409  # one pending request
    url = f"/api/v1/agencies/{c.agency_id}/join-requests"
    for name, user in c.everyone().items():
        expected = 200 if name in ("owner", "admin", "moderator") else 403
        assert (await client.get(url, headers=bearer(user.token))).status == expected, name
    listed = (await (await client.get(url, headers=bearer(c.owner.token))).json())["data"]["items"]
    assert [(i["id"], i["user"]["id"], i["status"]) for i in listed] == [(rid, joiner.id, "pending")]
    for name in ("member", "outsider", "staff"):
        resp = await client.post(f"{url}/{rid}/approve", headers=bearer(c.everyone()[name].token))
        assert resp.status == 403, name
    resp = await client.post(f"{url}/{rid}/approve", headers=bearer(c.moderator.token))
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "approved"
    (approved,) = await j.wait_for("agency.join_request_approved")
    assert approved["request_id"] == rid
    (joined,) = await peers["member"].wait_for("agency.member_joined")
    assert joined["user"]["id"] == joiner.id and joined["member_count"] == 5
    await j.wait_for("agency.member_joined")
    assert (await member_rows(client, c.agency_id))[joiner.id] == "member"
    assert (await client.post(f"{url}/{rid}/approve", headers=bearer(c.owner.token))).status == 409
    assert (await ask(client, joiner, c.agency_id)).status == 409  # in an agency now

    rid2 = await asked(client, refused, c.agency_id)
    resp = await client.post(f"{url}/{rid2}/reject", json={"reason": "Full of singers."}, headers=bearer(c.admin.token))
    assert resp.status == 200 and (await resp.json())["data"]["reason"] == "Full of singers."
    (rejected,) = await r.wait_for("agency.join_request_rejected")
    assert rejected == {"agency": rejected["agency"], "request_id": rid2, "reason": "Full of singers."}
    assert refused.id not in await member_rows(client, c.agency_id)
    # Another agency's request id is not found under this agency; nor is an unknown one.
    other = await new_agency(client, await new_user(client), c.staff)
    rid3 = await asked(client, await new_user(client), other)
    assert (await client.post(f"{url}/{rid3}/approve", headers=bearer(c.owner.token))).status == 404
    assert (await client.post(f"{url}/999999/reject", json={}, headers=bearer(c.owner.token))).status == 404
    assert (await ask(client, refused, 999999)).status == 404
    async with db(client.app[CONFIG].database_url) as conn:
        audited = {r["action"] for r in await conn.fetch("SELECT action FROM audit_log")}
    assert {"agency.join_request", "agency.join_request_approve", "agency.join_request_reject"} <= audited


async def test_two_approvals_racing_for_the_last_place_one_wins(client: Any) -> None:
    c = await cast(client)  # 4 members
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE agencies SET member_limit = 5 WHERE id = $1", c.agency_id)
    users = [await new_user(client, f"Racer {i}") for i in range(2)]
    rids = [await asked(client, user, c.agency_id) for user in users]
    url = f"/api/v1/agencies/{c.agency_id}/join-requests"
    answers = await asyncio.gather(client.post(f"{url}/{rids[0]}/approve", headers=bearer(c.owner.token)),
                                   client.post(f"{url}/{rids[1]}/approve", headers=bearer(c.admin.token)))  # fmt: skip
    assert sorted(a.status for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status == 409)
    assert (await loser.json())["error"]["code"] == "agency_full"
    assert len(await member_rows(client, c.agency_id)) == 5
    # A full agency takes no new requests either.
    assert (await ask(client, await new_user(client), c.agency_id)).status == 409


async def test_join_requests_are_rate_limited_and_need_a_recruiting_agency(make_client: Any) -> None:
    client = await make_client(agency_join_request_rate_limit=Rate(2, 3600))
    c = await cast(client)
    user = await new_user(client)
    assert (await client.patch(f"/api/v1/agencies/{c.agency_id}", json={"recruiting": False},
                               headers=bearer(c.owner.token))).status == 200  # fmt: skip
    assert (await ask(client, user, c.agency_id)).status == 409
    assert (await ask(client, user, c.agency_id, "x" * 501)).status == 422
    assert (await ask(client, user, c.agency_id)).status == 409
    assert (await ask(client, user, c.agency_id)).status == 429


async def test_invitations_are_sent_listed_and_answered(client: Any, connect: Any) -> None:
    c = await cast(client)
    guest, other = await new_user(client, "Guest"), await new_user(client, "Other")
    g = await connect(client, guest)
    url = f"/api/v1/agencies/{c.agency_id}/invitations"
    for name in ("member", "outsider", "staff"):
        resp = await client.post(url, json={"user_id": guest.id}, headers=bearer(c.everyone()[name].token))
        assert resp.status == 403, name
    resp = await client.post(url, json={"user_id": guest.id}, headers=bearer(c.moderator.token))
    assert resp.status == 201, await resp.text()
    iid = (await resp.json())["data"]["id"]
    (event,) = await g.wait_for("agency.invitation")
    assert event["invitation_id"] == iid and event["invited_by"]["id"] == c.moderator.id
    assert (await client.post(url, json={"user_id": guest.id}, headers=bearer(c.owner.token))).status == 409
    assert (await client.post(url, json={"user_id": c.member.id}, headers=bearer(c.owner.token))).status == 409
    assert (await client.post(url, json={"user_id": 10**9}, headers=bearer(c.owner.token))).status == 422
    mine = (await (await client.get("/api/v1/me/agency-invitations", headers=bearer(guest.token))).json())["data"]
    assert [(i["id"], i["agency"]["id"], i["status"]) for i in mine["items"]] == [(iid, c.agency_id, "pending")]
    theirs = await client.post(f"/api/v1/me/agency-invitations/{iid}/accept", headers=bearer(other.token))
    assert theirs.status == 404  # not yours
    accepted = await client.post(f"/api/v1/me/agency-invitations/{iid}/accept", headers=bearer(guest.token))
    assert accepted.status == 200 and (await accepted.json())["data"]["status"] == "accepted"
    await g.wait_for("agency.member_joined")
    assert (await member_rows(client, c.agency_id))[guest.id] == "member"
    assert (
        await client.post(f"/api/v1/me/agency-invitations/{iid}/decline", headers=bearer(guest.token))
    ).status == 409
    resp = await client.post(url, json={"user_id": other.id}, headers=bearer(c.admin.token))
    iid2 = (await resp.json())["data"]["id"]
    declined = await client.post(f"/api/v1/me/agency-invitations/{iid2}/decline", headers=bearer(other.token))
    assert declined.status == 200 and (await declined.json())["data"]["status"] == "declined"
    assert other.id not in await member_rows(client, c.agency_id)


async def test_the_members_list_searches_pages_and_is_for_members(client: Any) -> None:
    c = await cast(client)
    url = f"/api/v1/agencies/{c.agency_id}/members"
    for name, user in c.everyone().items():
        expected = 403 if name == "outsider" else 200
        assert (await client.get(url, headers=bearer(user.token))).status == expected, name
    first = (await (await client.get(f"{url}?limit=3", headers=bearer(c.member.token))).json())["data"]
    rest = (await (await client.get(f"{url}?limit=3&cursor={first['next_cursor']}",
                                    headers=bearer(c.member.token))).json())["data"]  # fmt: skip
    everyone = first["items"] + rest["items"]
    assert [m["user_id"] for m in everyone] == [c.member.id, c.moderator.id, c.admin.id, c.owner.id]
    assert everyone[-1]["role"] == "owner" and everyone[0]["monthly_income"] == 0
    by_name = (await (await client.get(f"{url}?search=moder", headers=bearer(c.owner.token))).json())["data"]
    assert [m["user_id"] for m in by_name["items"]] == [c.moderator.id]
    by_id = (await (await client.get(f"{url}?search={c.admin.id}", headers=bearer(c.owner.token))).json())["data"]
    assert c.admin.id in [m["user_id"] for m in by_id["items"]]
    assert (await client.get("/api/v1/agencies/999999/members", headers=bearer(c.owner.token))).status == 404


async def role(client: Any, c: Cast, actor: User, target: User, new: str) -> int:
    resp = await client.patch(f"/api/v1/agencies/{c.agency_id}/members/{target.id}", json={"role": new},
                              headers=bearer(actor.token))  # fmt: skip
    return resp.status


async def test_role_changes_follow_the_ranks(client: Any) -> None:
    c = await cast(client)
    assert await role(client, c, c.admin, c.member, "admin") == 403  # an admin makes no admins
    assert await role(client, c, c.admin, c.admin, "member") == 403  # nor changes an admin
    for name in ("moderator", "member", "outsider", "staff"):
        assert await role(client, c, c.everyone()[name], c.member, "moderator") == 403, name
    assert await role(client, c, c.owner, c.owner, "member") == 403
    assert await role(client, c, c.admin, c.member, "moderator") == 200
    assert await role(client, c, c.owner, c.moderator, "admin") == 200
    assert await role(client, c, c.owner, c.outsider, "admin") == 404
    bad = await client.patch(f"/api/v1/agencies/{c.agency_id}/members/{c.member.id}", json={"role": "owner"},
                             headers=bearer(c.owner.token))  # fmt: skip
    assert bad.status == 422
    rows = await member_rows(client, c.agency_id)
    assert (rows[c.member.id], rows[c.moderator.id]) == ("moderator", "admin")
    async with db(client.app[CONFIG].database_url) as conn:
        changes = await conn.fetch("SELECT user_id, role, actor_id FROM agency_member_events WHERE kind = "
                                   "'role_changed' ORDER BY id")  # fmt: skip
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'agency.member_role'")
    assert [(r["user_id"], r["role"], r["actor_id"]) for r in changes] == \
        [(c.member.id, "moderator", c.admin.id), (c.moderator.id, "admin", c.owner.id)]  # fmt: skip
    assert audited == 2


async def test_removal_and_leaving(client: Any, connect: Any) -> None:
    c = await cast(client)
    base = f"/api/v1/agencies/{c.agency_id}/members"
    peers = {name: await connect(client, c.everyone()[name]) for name in ("owner", "admin", "member")}

    async def remove(actor: User, target: User) -> int:
        return (await client.delete(f"{base}/{target.id}", headers=bearer(actor.token))).status

    assert await remove(c.moderator, c.admin) == 403
    assert await remove(c.admin, c.owner) == 403
    for name in ("member", "outsider", "staff"):
        assert await remove(c.everyone()[name], c.moderator) == 403, name
    assert await remove(c.owner, c.owner) == 403  # the owner closes the agency instead
    assert await remove(c.owner, c.outsider) == 404
    assert await remove(c.moderator, c.member) == 200
    (kicked,) = await peers["member"].wait_for("agency.member_kicked")
    assert kicked["user_id"] == c.member.id and kicked["by_user_id"] == c.moderator.id and kicked["member_count"] == 3
    await peers["owner"].wait_for("agency.member_kicked")
    assert await remove(c.admin, c.admin) == 403  # leaving is a leave request
    assert set(await member_rows(client, c.agency_id)) == {c.owner.id, c.admin.id, c.moderator.id}
    async with db(client.app[CONFIG].database_url) as conn:
        history = await conn.fetch("SELECT user_id, kind FROM agency_member_events WHERE kind IN ('kicked', 'left')")
        ended = await conn.fetch("SELECT user_id, left_reason FROM agency_members WHERE left_at IS NOT NULL")
    assert {(r["user_id"], r["kind"]) for r in history} == {(c.member.id, "kicked")}
    assert {(r["user_id"], r["left_reason"]) for r in ended} == {(c.member.id, "kicked")}
    # A removed member may ask to join another agency at once (the cooldown is for leavers).
    assert (await ask(client, c.member, await new_agency(client, await new_user(client), c.staff))).status == 201


async def leave(client: Any, user: User, agency_id: int, reason: str | None = "Moving abroad.") -> Any:
    return await client.post(f"/api/v1/agencies/{agency_id}/leave-requests", json={"reason": reason},
                             headers=bearer(user.token))  # fmt: skip


async def test_leave_requests_are_decided_by_the_owner_then_a_cooldown(client: Any, connect: Any) -> None:
    c = await cast(client)
    url = f"/api/v1/agencies/{c.agency_id}/leave-requests"
    assert (await leave(client, c.member, c.agency_id, None)).status == 422
    assert (await leave(client, c.outsider, c.agency_id)).status == 403
    resp = await leave(client, c.member, c.agency_id)
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["data"]["id"]
    assert (await leave(client, c.member, c.agency_id)).status == 409
    for name, user in c.everyone().items():
        expected = 200 if name in ("owner", "staff") else 403
        assert (await client.get(url, headers=bearer(user.token))).status == expected, name
    for name in ("admin", "moderator", "member", "outsider"):
        resp = await client.post(f"{url}/{rid}/approve", headers=bearer(c.everyone()[name].token))
        assert resp.status == 403, name
    o = await connect(client, c.owner)
    resp = await client.post(f"{url}/{rid}/approve", headers=bearer(c.owner.token))
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "approved"
    (left,) = await o.wait_for("agency.member_left")
    assert left["user_id"] == c.member.id and left["member_count"] == 3
    async with db(client.app[CONFIG].database_url) as conn:
        ended = await conn.fetchval("SELECT left_reason FROM agency_members WHERE user_id = $1", c.member.id)
    assert ended == "left"
    other = await new_agency(client, await new_user(client), c.staff)
    refused = await ask(client, c.member, other)
    assert refused.status == 409 and (await refused.json())["error"]["code"] == "cooldown"
    # Rejected: the member stays.
    rid2 = (await (await leave(client, c.admin, c.agency_id)).json())["data"]["id"]
    resp = await client.post(f"{url}/{rid2}/reject", json={"reason": "Stay a month."}, headers=bearer(c.owner.token))
    assert resp.status == 200 and c.admin.id in await member_rows(client, c.agency_id)


async def test_the_owners_leave_request_is_staffs_and_closes_the_agency(client: Any, connect: Any) -> None:
    c = await cast(client)
    url = f"/api/v1/agencies/{c.agency_id}/leave-requests"
    rid = (await (await leave(client, c.owner, c.agency_id, "Retiring.")).json())["data"]["id"]
    assert (await client.post(f"{url}/{rid}/approve", headers=bearer(c.owner.token))).status == 403
    m = await connect(client, c.member)
    resp = await client.post(f"{url}/{rid}/approve", headers=bearer(c.staff.token))
    assert resp.status == 200, await resp.text()
    (event,) = await m.wait_for("agency.dissolved")
    assert event["by"] == "staff" and event["reason"] == "Retiring."
    assert await member_rows(client, c.agency_id) == {}
    async with db(client.app[CONFIG].database_url) as conn:
        status = await conn.fetchval("SELECT status FROM agencies WHERE id = $1", c.agency_id)
    assert status == "closed"


async def test_a_user_is_in_one_agency_at_a_time_in_the_database(client: Any) -> None:
    c = await cast(client)
    other = await new_agency(client, await new_user(client), c.staff)
    async with db(client.app[CONFIG].database_url) as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO agency_members (agency_id, user_id) VALUES ($1, $2)", other, c.member.id)


async def test_a_removed_host_earns_the_agency_nothing_on_the_next_gift(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    c = await cast(a)
    sender, host = c.staff, await new_user(a, "Host")
    database_url = a.app[SERVICES].config.database_url
    async with db(database_url) as conn:
        await conn.execute("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = "
                           "'super_admin'", sender.id)  # fmt: skip
    agency_share_of_next_gift = await agency_share_probe(a, b, connect, sender, host, "agency-g2")

    assert await agency_share_of_next_gift() == []  # B has read: no agency
    rid = await asked(a, host, c.agency_id)
    async with heard_by(database_url, b.app):
        resp = await a.post(
            f"/api/v1/agencies/{c.agency_id}/join-requests/{rid}/approve", headers=bearer(c.owner.token)
        )
        assert resp.status == 200
    assert await agency_share_of_next_gift() == [c.agency_id]
    async with heard_by(database_url, b.app):
        assert (await a.delete(f"/api/v1/agencies/{c.agency_id}/members/{host.id}",
                               headers=bearer(c.owner.token))).status == 200  # fmt: skip
    assert await agency_share_of_next_gift() == []
