"""Room REST: the legacy listing and view, and /api/v1/rooms (create, get, update, list, close,
admins, bans) against real PostgreSQL, Redis and sockets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import bearer, db, join, new_user
from tests.sockets import Peer, url_of

LEGACY_ROOM_FIELDS = {
    "id", "user_id", "theme_id", "popularity_index", "country", "name", "greetings", "logo", "can_tourists_speak",
    "can_tourists_send_text", "can_tourists_send_files", "is_hidden", "type", "created_at", "updated_at", "deleted_at",
}  # fmt: skip
OWNER_FIELDS = {"id", "name", "signature", "avatar_image"}


@dataclass
class Member:
    token: str
    user_id: int
    room_id: int

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def member(client: Any, name: str = "Test User") -> Member:
    user = await new_user(client, name)
    return Member(user.token, user.id, user.room)


async def data_of(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return (await resp.json())["data"]


async def error_of(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body["status"] == "error" and body["error"]["code"] and body["message"], body
    return body


async def patch(client: Any, who: Member, room_id: int, body: dict[str, Any]) -> Any:
    return await client.patch(f"/api/v1/rooms/{room_id}", json=body, headers=who.auth)


def no_password_anywhere(value: Any) -> bool:
    if isinstance(value, dict):
        return all(k not in ("password", "password_hash") and no_password_anywhere(v) for k, v in value.items())
    if isinstance(value, list):
        return all(no_password_anywhere(v) for v in value)
    return True


async def audit_actions(database_url: str, room_id: int) -> dict[str, list[dict[str, Any]]]:
    async with db(database_url) as conn:
        rows = await conn.fetch(
            "SELECT action, actor_id, details::text AS details FROM audit_log"
            " WHERE target_type = 'room' AND target_id = $1 ORDER BY id",
            str(room_id),
        )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["action"], []).append(dict(row))
    return found


# --- legacy ------------------------------------------------------------------------------------


async def test_legacy_rooms_list_hides_hidden_rooms_and_passwords(client: Any) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    assert (await patch(client, alice, alice.room_id, {"password": "s3cret", "greetings": "hi"})).status == 200
    assert (await patch(client, bob, bob.room_id, {"is_hidden": True})).status == 200

    resp = await client.get("/api/rooms")
    assert resp.status == 200
    rooms = await resp.json()
    assert isinstance(rooms, list)
    assert [r["id"] for r in rooms] == [alice.room_id]
    room = rooms[0]
    assert set(room) >= LEGACY_ROOM_FIELDS, LEGACY_ROOM_FIELDS - set(room)
    assert set(room["user"]) == OWNER_FIELDS
    assert (room["user"]["id"], room["user"]["name"], room["user_id"]) == (alice.user_id, "Alice", alice.user_id)
    assert (room["greetings"], room["type"], room["is_hidden"]) == ("hi", 2, False)
    assert no_password_anywhere(rooms)

    view = await client.get(f"/api/room/{alice.room_id}/view")
    assert view.status == 200
    body = await view.json()
    assert set(body) >= LEGACY_ROOM_FIELDS and set(body["user"]) == OWNER_FIELDS
    assert (body["id"], body["name"], body["user"]["id"]) == (alice.room_id, room["name"], alice.user_id)
    assert no_password_anywhere(body)


@pytest.mark.parametrize("room_ref", ["987654321", "abc", "0", "99999999999999999999"])
async def test_legacy_room_view_unknown_is_404_envelope(client: Any, room_ref: str) -> None:
    body = await error_of(await client.get(f"/api/room/{room_ref}/view"), 404)
    assert body["error"]["code"] == "not_found"
    assert body["message"] == f"No query results for model [Room] {room_ref}"


# --- create and validation -------------------------------------------------------------------


async def test_create_when_already_owning_a_room_is_409(client: Any) -> None:
    alice = await member(client)
    body = await error_of(await client.post("/api/v1/rooms", json={"name": "Second room"}, headers=alice.auth), 409)
    assert body["error"]["code"] == "room_exists"
    assert (await client.post("/api/v1/rooms", json={"name": "Anonymous room"})).status == 401
    missing = await error_of(await client.post("/api/v1/rooms", json={}, headers=alice.auth), 422)
    assert "name" in missing["errors"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "n" * 41}, "name"),
        ({"seat_count": 0}, "seat_count"),
        ({"seat_count": 31}, "seat_count"),
        ({"tags": ["ok", "bad tag!"]}, "tags"),
        ({"tags": ["semi;colon"]}, "tags"),
    ],
)
async def test_create_and_update_validation_names_the_field(client: Any, changes: dict[str, Any], field: str) -> None:
    alice = await member(client)
    for resp in (
        await client.post("/api/v1/rooms", json={"name": "Valid name", **changes}, headers=alice.auth),
        await patch(client, alice, alice.room_id, changes),
    ):
        body = await error_of(resp, 422)
        assert set(body["errors"]) == {field} and body["error"]["fields"] == body["errors"]
    room = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert room["seat_count"] == 15 and room["tags"] == []


# --- get and update ----------------------------------------------------------------------------


async def test_get_and_owner_update(client: Any, database_url: str) -> None:
    alice = await member(client, "Alice")
    room = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert (room["id"], room["user"]["id"], room["has_password"], room["type"]) == (alice.room_id, alice.user_id,
                                                                                    False, 1)  # fmt: skip
    assert (room["live_members"], room["is_closed"]) == (0, False)
    await error_of(await client.get("/api/v1/rooms/987654321"), 404)
    await error_of(await client.get("/api/v1/rooms/nope"), 404)

    changes = {"name": "Alice Lounge", "description": "late talks", "tags": ["chill", "lo-fi"], "seat_count": 8,
               "announcement": "be nice"}  # fmt: skip
    updated = await data_of(await patch(client, alice, alice.room_id, changes))
    assert {k: updated[k] for k in changes} == changes
    fetched = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert {k: fetched[k] for k in changes} == changes

    locked = await data_of(await patch(client, alice, alice.room_id, {"password": "s3cret"}))
    assert (locked["has_password"], locked["type"]) == (True, 2)
    fetched = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert (fetched["has_password"], fetched["type"], fetched["name"]) == (True, 2, "Alice Lounge")
    assert no_password_anywhere(fetched)
    opened = await data_of(await patch(client, alice, alice.room_id, {"password": None}))
    assert (opened["has_password"], opened["type"]) == (False, 1)
    assert (await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}")))["has_password"] is False
    await error_of(await patch(client, alice, alice.room_id, {"password": "abc"}), 422)

    assert (await client.patch(f"/api/v1/rooms/{alice.room_id}", json={"name": "x"})).status == 401
    updates = (await audit_actions(database_url, alice.room_id))["room.update"]
    assert len(updates) == 3 and all(u["actor_id"] == alice.user_id for u in updates)
    assert '"seat_count"' in updates[0]["details"] and '"password_hash"' in updates[1]["details"]


async def test_empty_password_makes_the_room_public_again(client: Any) -> None:
    alice = await member(client)
    locked = await data_of(await patch(client, alice, alice.room_id, {"password": "s3cret"}))
    assert (locked["has_password"], locked["type"]) == (True, 2)
    opened = await data_of(await patch(client, alice, alice.room_id, {"password": ""}))
    assert (opened["has_password"], opened["type"]) == (False, 1)
    assert (await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}")))["has_password"] is False


async def test_update_by_room_admin_stranger_and_name_clash(client: Any) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    carol = await member(client, "Carol")
    stranger = await error_of(await patch(client, bob, alice.room_id, {"name": "Taken over"}), 403)
    assert stranger["error"]["code"] == "forbidden"

    resp = await client.post(f"/api/v1/rooms/{alice.room_id}/admins", json={"user_id": bob.user_id}, headers=alice.auth)
    assert await data_of(resp) == {"room_id": alice.room_id, "user_id": bob.user_id, "admin": True}
    renamed = await data_of(await patch(client, bob, alice.room_id, {"name": "Renamed by admin", "tags": ["a"]}))
    assert (renamed["name"], renamed["tags"]) == ("Renamed by admin", ["a"])
    await error_of(await patch(client, bob, alice.room_id, {"seat_count": 10}), 403)
    assert (await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}")))["seat_count"] == 15

    carol_room = await data_of(await client.get(f"/api/v1/rooms/{carol.room_id}"))
    clash = await error_of(await patch(client, alice, alice.room_id, {"name": carol_room["name"]}), 422)
    assert "name" in clash["errors"]
    room = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert room["name"] == "Renamed by admin"


# --- list, search, popularity ---------------------------------------------------------------


async def listed(client: Any, query: str = "") -> list[int]:
    return [r["id"] for r in await data_of(await client.get(f"/api/v1/rooms{query}"))]


async def test_list_filters_and_paging(client: Any) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    carol = await member(client, "Carol")
    await data_of(await patch(client, alice, alice.room_id, {"name": "Quiet Lounge", "category": "music",
                                                             "country": "US", "tags": ["chill", "lofi"]}))  # fmt: skip
    await data_of(await patch(client, bob, bob.room_id, {"name": "Debate Hall", "description": "a loud lounge",
                                                         "category": "talk", "tags": ["chill"]}))  # fmt: skip
    await data_of(await patch(client, carol, carol.room_id, {"name": "Carol Corner", "category": "music"}))

    assert set(await listed(client)) == {alice.room_id, bob.room_id, carol.room_id}
    assert set(await listed(client, "?search=LOUNGE")) == {alice.room_id, bob.room_id}
    assert await listed(client, "?search=corner") == [carol.room_id]
    assert set(await listed(client, "?category=music")) == {alice.room_id, carol.room_id}
    assert await listed(client, "?country=US") == [alice.room_id]
    assert set(await listed(client, "?country=pk")) == {bob.room_id, carol.room_id}  # registered in PK
    assert set(await listed(client, "?tag=chill")) == {alice.room_id, bob.room_id}
    assert await listed(client, "?tag=lofi&category=music") == [alice.room_id]
    assert await listed(client, "?search=nothing-like-this") == []

    everything = await listed(client)
    assert await listed(client, "?limit=1") == everything[:1]
    assert await listed(client, "?limit=2&offset=1") == everything[1:3]
    for bad in ("limit=0", "limit=101", "limit=x", "offset=-1"):
        body = await error_of(await client.get(f"/api/v1/rooms?{bad}"), 422)
        assert set(body["errors"]) == {bad.split("=")[0]}
    assert len(await listed(client, "?limit=100")) == 3


async def test_live_rooms_come_first_by_member_count(client: Any) -> None:
    a, b = await member(client, "Owner A"), await member(client, "Owner B")
    c = await member(client, "Owner C")
    peers = [Peer(), Peer(), Peer()]
    try:
        for peer, who, room in ((peers[0], a, a.room_id), (peers[1], c, a.room_id), (peers[2], b, b.room_id)):
            await peer.connect(url_of(client), who.token)
            await join(peer, room)
        rooms = await data_of(await client.get("/api/v1/rooms"))
        assert [r["id"] for r in rooms] == [a.room_id, b.room_id, c.room_id]
        assert [r["live_members"] for r in rooms] == [2, 1, 0]
        assert (await data_of(await client.get(f"/api/v1/rooms/{a.room_id}")))["live_members"] == 2
        assert (await peers[1].call("room:leave", {"roomId": a.room_id}))["success"] is True
        await peers[0].wait_for("room:userLeft")
        rooms = await data_of(await client.get("/api/v1/rooms"))
        assert [(r["id"], r["live_members"]) for r in rooms[:2]] in (
            [(a.room_id, 1), (b.room_id, 1)],
            [(b.room_id, 1), (a.room_id, 1)],
        )
    finally:
        for peer in peers:
            await peer.close()


# --- close ---------------------------------------------------------------------------------------


async def test_close_by_owner_only_and_closed_rooms_leave_lists(client: Any, database_url: str) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    guest = Peer()
    try:
        await guest.connect(url_of(client), bob.token)
        await join(guest, alice.room_id)
        await error_of(await client.post(f"/api/v1/rooms/{alice.room_id}/close", json={}, headers=bob.auth), 403)
        assert alice.room_id in await listed(client)
        await error_of(await client.post("/api/v1/rooms/987654321/close", json={}, headers=alice.auth), 404)

        resp = await client.post(f"/api/v1/rooms/{alice.room_id}/close", json={"reason": "done"}, headers=alice.auth)
        assert await data_of(resp) == {"id": alice.room_id, "is_closed": True}
        closed = (await guest.wait_for("room:closed"))[0]
        assert (closed["roomId"], closed["reason"]) == (str(alice.room_id), "done")
    finally:
        await guest.close()
    assert await listed(client) == [bob.room_id]
    assert [r["id"] for r in await (await client.get("/api/rooms")).json()] == [bob.room_id]
    room = await data_of(await client.get(f"/api/v1/rooms/{alice.room_id}"))
    assert room["is_closed"] is True and room["closed_at"] and room["live_members"] == 0
    closes = (await audit_actions(database_url, alice.room_id))["room.close"]
    assert [(c["actor_id"], '"done"' in c["details"]) for c in closes] == [(alice.user_id, True)]


# --- admins ------------------------------------------------------------------------------------


async def test_room_admins_managed_by_owner(client: Any, database_url: str) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    carol = await member(client, "Carol")
    url = f"/api/v1/rooms/{alice.room_id}/admins"
    assert await data_of(await client.get(url, headers=alice.auth)) == []
    await error_of(await client.post(url, json={"user_id": carol.user_id}, headers=bob.auth), 403)
    await data_of(await client.post(url, json={"user_id": bob.user_id}, headers=alice.auth))
    # A room admin is still not the owner: naming or removing admins stays the owner's.
    await error_of(await client.post(url, json={"user_id": carol.user_id}, headers=bob.auth), 403)
    await error_of(await client.delete(f"{url}/{bob.user_id}", headers=carol.auth), 403)
    await error_of(await client.post(url, json={"user_id": 987654321}, headers=alice.auth), 404)
    await error_of(await client.post(url, json={"user_id": 0}, headers=alice.auth), 422)
    assert (await client.get(url)).status == 401

    admins = await data_of(await client.get(url, headers=alice.auth))
    assert [(a["user_id"], a["name"], a["granted_by"]) for a in admins] == [(bob.user_id, "Bob", alice.user_id)]
    resp = await client.delete(f"{url}/{bob.user_id}", headers=alice.auth)
    assert await data_of(resp) == {"room_id": alice.room_id, "user_id": bob.user_id, "admin": False}
    assert await data_of(await client.get(url, headers=alice.auth)) == []
    await error_of(await patch(client, bob, alice.room_id, {"name": "No longer admin"}), 403)

    actions = await audit_actions(database_url, alice.room_id)
    assert [g["actor_id"] for g in actions["room.admin.grant"]] == [alice.user_id]
    assert f'"user_id": {bob.user_id}' in actions["room.admin.grant"][0]["details"]
    assert len(actions["room.admin.remove"]) == 1


# --- bans --------------------------------------------------------------------------------------


async def test_room_bans(client: Any, database_url: str) -> None:
    alice, bob = await member(client, "Alice"), await member(client, "Bob")
    carol, dave = await member(client, "Carol"), await member(client, "Dave")
    url = f"/api/v1/rooms/{alice.room_id}/bans"
    await data_of(await client.post(f"/api/v1/rooms/{alice.room_id}/admins", json={"user_id": bob.user_id},
                                    headers=alice.auth))  # fmt: skip
    await error_of(await client.get(url, headers=carol.auth), 403)
    assert await data_of(await client.get(url, headers=bob.auth)) == []
    await error_of(await client.post(url, json={"user_id": dave.user_id}, headers=carol.auth), 403)
    await error_of(await client.post(url, json={"user_id": alice.user_id}, headers=bob.auth), 403)
    await error_of(await client.post(url, json={"user_id": dave.user_id, "minutes": 0}, headers=alice.auth), 422)

    resp = await client.post(url, json={"user_id": carol.user_id, "minutes": 60, "reason": "spam"}, headers=bob.auth)
    ban = await data_of(resp, 201)
    assert (ban["room_id"], ban["user_id"]) == (alice.room_id, carol.user_id) and ban["id"] >= 1
    await data_of(await client.post(url, json={"user_id": dave.user_id}, headers=alice.auth), 201)
    bans = await data_of(await client.get(url, headers=alice.auth))
    assert {(b["user_id"], b["reason"], b["expires_at"] is None) for b in bans} == {
        (carol.user_id, "spam", False),
        (dave.user_id, None, True),
    }

    peer = Peer()
    try:
        await peer.connect(url_of(client), carol.token)
        refused = await join(peer, alice.room_id, must_succeed=False)
        assert (refused["success"], refused["error"], refused["permanent"]) == (False, "room_blocked", False)
        assert 0 < refused["remaining_seconds"] <= 3600
        lifted = await data_of(await client.delete(f"{url}/{carol.user_id}", headers=alice.auth))
        assert lifted == {"room_id": alice.room_id, "user_id": carol.user_id, "lifted": True}
        await join(peer, alice.room_id)
    finally:
        await peer.close()
    assert [b["user_id"] for b in await data_of(await client.get(url, headers=bob.auth))] == [dave.user_id]
    await error_of(await client.delete(f"{url}/{dave.user_id}", headers=carol.auth), 403)

    actions = await audit_actions(database_url, alice.room_id)
    assert [b["actor_id"] for b in actions["room.ban"]] == [bob.user_id, alice.user_id]
    assert '"spam"' in actions["room.ban"][0]["details"]
    assert [u["actor_id"] for u in actions["room.unban"]] == [alice.user_id]
