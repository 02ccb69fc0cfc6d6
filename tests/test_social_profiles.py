"""Profiles (issue 12 §1): the new fields on GET/PATCH /api/v1/me, profile completion, what others
see (the birthday as its visibility says), and user:profileSync — the database's values only, told
to every room the user is in, on any engine process."""

from __future__ import annotations

from typing import Any

from engine.appkeys import SERVICES
from tests.helpers import bearer, db, join, new_user
from tests.sockets import first


async def patch_me(client: Any, user: Any, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    resp = await client.patch("/api/v1/me", json=body, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    answer: dict[str, Any] = await resp.json()
    return answer


async def get_me(client: Any, user: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await (await client.get("/api/v1/me", headers=bearer(user.token))).json())["data"]
    return data


async def test_profile_fields_are_updated_together_or_one_by_one(client: Any) -> None:
    user = await new_user(client)
    before = await get_me(client, user)
    assert (before["bio"], before["interests"], before["social_links"], before["birthday_visibility"]) == (
        None, [], [], "hidden")  # fmt: skip
    assert (before["followers_count"], before["following_count"], before["friends_count"]) == (0, 0, 0)
    links = [{"kind": "instagram", "url": "https://instagram.com/me"}]
    body = {"bio": "Singer.", "interests": ["Music", " music ", "Travel"], "social_links": links,
            "birthday_visibility": "month_day"}  # fmt: skip
    assert (await patch_me(client, user, body))["data"] == {"message": "Profile updated successfully."}
    after = await get_me(client, user)
    assert (after["bio"], after["interests"], after["social_links"], after["birthday_visibility"]) == (
        "Singer.", ["Music", "Travel"], links, "month_day")  # fmt: skip
    await patch_me(client, user, {"field": "bio", "value": "Still singing."})
    await patch_me(client, user, {"bio": None})  # null clears
    assert (await get_me(client, user))["bio"] is None
    assert (await get_me(client, user))["interests"] == ["Music", "Travel"]  # untouched


async def test_bad_profile_fields_name_every_problem(client: Any) -> None:
    user = await new_user(client)
    body = {"bio": "x" * 501, "interests": ["a"] * 11, "birthday_visibility": "friends",
            "social_links": [{"kind": "web", "url": "http://plain.example"}]}  # fmt: skip
    fields = (await patch_me(client, user, body, 422))["error"]["fields"]
    assert fields == {
        "bio": ["The bio field must be at most 500 characters."],
        "interests": ["The interests field must be at most 10 tags of 1 to 30 characters."],
        "social_links": ["The social_links field must be at most 5 {kind, url} with https URLs."],
        "birthday_visibility": ["The selected birthday_visibility is invalid."],
    }
    for bad in (
        {"interests": ["x" * 31]},
        {"social_links": [{"kind": "x", "url": "https://a.b"}] * 6},
        {"social_links": [{"kind": "x", "url": "javascript:alert(1)"}]},
        {"birthday_visibility": None},
    ):
        assert (await patch_me(client, user, bad, 422))["error"]["fields"].keys() == bad.keys(), bad
    assert "body" in (await patch_me(client, user, {}, 422))["error"]["fields"]
    one = await patch_me(client, user, {"field": "interests", "value": "music"}, 422)
    assert "value" in one["error"]["fields"]


async def test_profile_completion_counts_what_is_filled(client: Any) -> None:
    user = await new_user(client)  # registered with a birthday, a country and a gender
    resp = await client.get("/api/v1/me/profile-completion", headers=bearer(user.token))
    assert (await resp.json())["data"] == {"percent": 50, "missing": ["avatar", "bio", "interests"]}
    await patch_me(client, user, {"bio": "Hi", "interests": ["Art"]})
    await patch_me(client, user, {"field": "avatar_image", "value": "https://cdn.example/a.png"})
    resp = await client.get("/api/v1/me/profile-completion", headers=bearer(user.token))
    assert (await resp.json())["data"] == {"percent": 100, "missing": []}


async def test_others_see_the_birthday_as_its_visibility_says(client: Any) -> None:
    user, other = await new_user(client), await new_user(client)

    async def shown() -> Any:
        resp = await client.get(f"/api/v1/users/{user.id}", headers=bearer(other.token))
        return (await resp.json())["data"]["birthday"]

    assert await shown() is None  # hidden by default
    await patch_me(client, user, {"birthday_visibility": "month_day"})
    assert await shown() == "05-17"
    await patch_me(client, user, {"birthday_visibility": "full"})
    assert await shown() == "1995-05-17"


async def frames(database_url: str, user_id: int) -> tuple[int, int]:
    """Two mall frames: one the user owns, one they do not."""
    async with db(database_url) as conn:
        frame = await conn.fetchval(
            "INSERT INTO mall_items (category, name, price) VALUES ('frame', 'Gold', 10) RETURNING id"
        )
        await conn.execute("INSERT INTO user_items (user_id, item_id, category) VALUES ($1, $2, 'frame')",
                           user_id, frame)  # fmt: skip
        unowned = await conn.fetchval(
            "INSERT INTO mall_items (category, name, price) VALUES ('frame', 'Ruby', 10) RETURNING id"
        )
    return int(frame), int(unowned)


async def test_profile_sync_changes_what_the_database_allows_and_tells_the_room(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    user, watcher = await new_user(a, "Synced"), await new_user(a, "Watcher")
    frame, unowned = await frames(a.app[SERVICES].config.database_url, user.id)
    u, w = await connect(a, user), await connect(b, watcher)  # the room hears it on another process
    await join(u, watcher.room)
    await join(w, watcher.room)
    ack = await u.call("user:profileSync", {"profile": {
        "name": "Renamed", "avatar": "https://cdn.example/new.png", "frame_id": frame, "chat_bubble_id": 3,
        "vip_level": 7, "wealth_xp": "999999.0000", "charm_xp": "999999.0000", "gender": 1,
    }})  # fmt: skip
    assert ack == {"success": True, "ignored": ["chat_bubble_id"]}
    updated = await first(w, "user:profile_updated")
    assert updated.user_id == user.id  # type: ignore[attr-defined]
    assert updated.profile == {"name": "Renamed", "avatar": "https://cdn.example/new.png",  # type: ignore[attr-defined]
                               "frame_id": frame}  # fmt: skip
    async with db(a.app[SERVICES].config.database_url) as conn:
        row = await conn.fetchrow("SELECT name, vip_level, wealth_xp, charm_xp, gender FROM users WHERE id = $1",
                                  user.id)  # fmt: skip
    assert (row["name"], row["vip_level"], int(row["wealth_xp"]), int(row["charm_xp"]), row["gender"]) == (
        "Renamed", 0, 0, 0, 2)  # fmt: skip
    # Someone joining later sees the new profile (with the database's VIP level), from any process.
    late = await connect(b, await new_user(a, "Late"))
    snapshot = await join(late, watcher.room)
    mine = next(p for p in snapshot["participants"] if p["id"] == user.id)
    assert (mine["name"], mine["avatar"], mine["frame_id"], mine["vip_level"]) == (
        "Renamed", "https://cdn.example/new.png", frame, 0)  # fmt: skip
    # A frame the user does not own is ignored; nothing changed, nothing is told.
    assert (await u.call("user:profileSync", {"profile": {"frame_id": unowned}}))["ignored"] == ["frame_id"]
    # A client that missed it while away replays it with lastSeq.
    assert (await w.call("room:leave", {"roomId": watcher.room}))["success"]
    resumed = await join(w, watcher.room, lastSeq=updated.seq - 1)  # type: ignore[attr-defined]
    assert resumed["resumed"] and "user:profile_updated" in [e["event"] for e in resumed["missedEvents"]]


async def test_profile_sync_refuses_a_taken_handle_and_bad_values(client: Any, connect: Any) -> None:
    user, other = await new_user(client), await new_user(client)
    handle = (await get_me(client, other))["signature"]
    u = await connect(client, user)
    taken = await u.call("user:profileSync", {"profile": {"signature": handle}})
    assert (taken["success"], taken["code"]) == (False, "SIGNATURE_TAKEN")
    for bad in ({"name": ""}, {"avatar": "x" * 501}, {"frame_id": 0}, {"signature": "a b"}):
        ack = await u.call("user:profileSync", {"profile": bad})
        assert (ack["success"], ack["error"]) == (False, "Invalid payload"), bad


async def test_a_rest_name_change_is_told_to_the_room(client: Any, connect: Any) -> None:
    user, watcher = await new_user(client, "Before"), await new_user(client, "Watcher")
    u, w = await connect(client, user), await connect(client, watcher)
    await join(u, watcher.room)
    await join(w, watcher.room)
    await patch_me(client, user, {"field": "name", "value": "After"})
    updated = await first(w, "user:profile_updated")
    assert updated.profile == {"name": "After"}  # type: ignore[attr-defined]


async def test_a_legacy_update_profile_is_told_to_the_room_too(client: Any, connect: Any) -> None:
    user, watcher = await new_user(client, "Legacy"), await new_user(client, "Watcher")
    u, w = await connect(client, user), await connect(client, watcher)
    await join(u, watcher.room)
    await join(w, watcher.room)
    resp = await client.patch("/api/update-profile", json={"field": "name", "value": "Renamed"},
                              headers=bearer(user.token))  # fmt: skip
    assert resp.status == 200, await resp.text()
    updated = await first(w, "user:profile_updated")
    assert (updated.user_id, updated.profile) == (user.id, {"name": "Renamed"})  # type: ignore[attr-defined]
