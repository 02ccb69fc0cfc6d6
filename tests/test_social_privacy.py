"""The privacy × relationship matrix (issue 12 §1) for every privacy-governed read: the profile's
online status and current room, the followers and following lists (REST), user:getRoom and
presence:subscribe (sockets), and who hears presence.update. Relationships: stranger, follower,
friend, blocked (the target blocked the viewer), blocker (the viewer blocked the target), self."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.appkeys import SERVICES
from engine.rooms import store as rooms_store
from tests.helpers import bearer, db, join, new_user
from tests.social_setup import AUDIENCES, SEES, everyone_sees, follow, set_privacy, viewers_of
from tests.sockets import Peer


async def until(condition: Callable[[], Any], tries: int = 500) -> None:
    """Wait for a state the engine reaches by itself (bounded: a broken engine fails the test)."""
    for _ in range(tries):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the engine never got there")


async def test_privacy_settings_read_back_and_refuse_unknown_values(client: Any) -> None:
    user = await new_user(client)
    resp = await client.get("/api/v1/me/privacy", headers=bearer(user.token))
    assert resp.status == 200
    assert set((await resp.json())["data"].values()) == {"everyone"}
    changed = await set_privacy(client, user, online_status="friends", messages="followers")
    assert changed["online_status"] == "friends" and changed["messages"] == "followers"
    assert changed["current_room"] == "everyone"  # untouched
    for bad in ({"online_status": "strangers"}, {"messages": "nobody"}, {"current_room": 3}):
        resp = await client.patch("/api/v1/me/privacy", json=bad, headers=bearer(user.token))
        assert resp.status == 422, bad
        assert set((await resp.json())["error"]["fields"]) == set(bad)


async def test_rest_reads_follow_the_matrix(client: Any, connect: Any) -> None:
    target = await new_user(client, "Target")
    viewers = await viewers_of(client, target)
    other = await new_user(client, "Other")
    await follow(client, other, target)
    await follow(client, target, other)
    t = await connect(client, target)
    await join(t, target.room)  # online, in a public room
    missing = await client.get("/api/v1/users/999999999", headers=bearer(viewers["stranger"].token))
    for audience in AUDIENCES:
        await everyone_sees(client, target, audience)
        for relation, viewer in viewers.items():
            headers = bearer(viewer.token)
            resp = await client.get(f"/api/v1/users/{target.id}", headers=headers)
            lists = [await client.get(f"/api/v1/users/{target.id}/{name}", headers=headers)
                     for name in ("followers", "following")]  # fmt: skip
            if relation in ("blocked", "blocker"):  # as for a user who does not exist
                for answer in (resp, *lists):
                    assert answer.status == 404 == missing.status, (audience, relation)
                    body = await answer.json()
                    assert body["error"]["code"] == "not_found"
                    assert body["message"] == f"No query results for model [User] {target.id}"
                continue
            assert resp.status == 200, await resp.text()
            profile = (await resp.json())["data"]
            sees = relation in SEES[audience]
            assert profile["online"] is (True if sees else None), (audience, relation)
            assert profile["room_id"] == (str(target.room) if sees else None), (audience, relation)
            for answer in lists:
                assert answer.status == (200 if sees else 404), (audience, relation)
                if sees:
                    assert other.id in [u["id"] for u in (await answer.json())["data"]["items"]]


async def test_socket_reads_follow_the_matrix(client: Any, connect: Any) -> None:
    target = await new_user(client, "Target")
    viewers = await viewers_of(client, target)
    t = await connect(client, target)
    await join(t, target.room)
    peers = {relation: await connect(client, viewer) for relation, viewer in viewers.items()}
    for audience in AUDIENCES:
        await everyone_sees(client, target, audience)
        for relation, peer in peers.items():
            sees = relation in SEES[audience]
            room = await peer.call("user:getRoom", {"userId": target.id})
            expected = {"roomId": str(target.room) if sees else None}
            assert room == {"success": True, "data": expected}, (audience, relation)
            presence = await peer.call("presence:subscribe", {"userIds": [target.id]})
            assert presence == {"success": True, "data": {str(target.id): sees}}, (audience, relation)


def heard(peer: Peer, user_id: int, online: bool) -> bool:
    return any(e["userId"] == user_id and e["online"] is online for e in peer.events["presence.update"])


async def test_presence_updates_reach_whom_the_setting_allows_now(client: Any, connect: Any) -> None:
    """Subscribed once; each setting applies to the next update without resubscribing."""
    target, beacon = await new_user(client, "Target"), await new_user(client, "Beacon")
    viewers = await viewers_of(client, target)
    del viewers["self"]  # online already: no first connect to hear
    peers = {relation: await connect(client, viewer) for relation, viewer in viewers.items()}
    for peer in peers.values():
        assert (await peer.call("presence:subscribe", {"userIds": [target.id, beacon.id]}))["success"]
    svc = client.app[SERVICES]

    async def offline(user_id: int) -> bool:
        return not (await rooms_store.online(svc.redis, svc.keys, [user_id]))[user_id]

    for audience in AUDIENCES:
        await everyone_sees(client, target, audience)
        t = await connect(client, target)  # the first socket: presence.update to the setting's tier
        b = await connect(client, beacon)  # then the beacon's, which everyone hears: it comes after
        for relation, peer in peers.items():
            await peer.wait_until(lambda p=peer: heard(p, beacon.id, True))
            assert heard(peer, target.id, True) == (relation in SEES[audience]), (audience, relation)
            peer.events["presence.update"].clear()
        await t.close()
        await b.close()
        await until(lambda: offline(target.id))
        await until(lambda: offline(beacon.id))


async def test_a_going_offline_is_heard_as_the_setting_allows(client: Any, connect: Any) -> None:
    target = await new_user(client, "Target")
    viewers = await viewers_of(client, target)
    friend, stranger = await connect(client, viewers["friend"]), await connect(client, viewers["stranger"])
    t = await connect(client, target)
    for peer in (friend, stranger):
        assert (await peer.call("presence:subscribe", {"userIds": [target.id]}))["data"] == {str(target.id): True}
    await everyone_sees(client, target, "friends")
    await t.close()
    await friend.wait_until(lambda: heard(friend, target.id, False))
    # The stranger was subscribed while the setting was "everyone": they hear nothing now. Their own
    # call after the friend heard it is a barrier (one process: the update went out before it).
    assert (await stranger.call("presence:subscribe", {"userIds": [target.id]}))["data"] == {str(target.id): False}
    assert not heard(stranger, target.id, False)


async def test_an_unfollow_ends_the_presence_it_entitled(client: Any, connect: Any) -> None:
    target, fan, beacon = await new_user(client, "Target"), await new_user(client, "Fan"), await new_user(client, "B")
    await follow(client, fan, target)
    await everyone_sees(client, target, "followers")
    f = await connect(client, fan)
    assert (await f.call("presence:subscribe", {"userIds": [target.id, beacon.id]}))["success"]
    resp = await client.delete(f"/api/v1/users/{target.id}/follow", headers=bearer(fan.token))
    assert resp.status == 200
    t = await connect(client, target)  # first socket: to the followers' tier, which the fan left
    b = await connect(client, beacon)
    await f.wait_until(lambda: heard(f, beacon.id, True))
    assert not heard(f, target.id, True)
    await t.close()
    await b.close()


async def test_a_setting_changed_in_sql_reaches_the_next_event_on_another_process(
    make_client: Any, connect: Any
) -> None:
    a, b = await make_client(), await make_client()
    target, viewer = await new_user(a, "Target"), await new_user(a, "Viewer")
    t, v = await connect(a, target), await connect(b, viewer)
    await join(t, target.room)
    assert (await v.call("user:getRoom", {"userId": target.id}))["data"] == {"roomId": str(target.room)}  # b cached it
    async with db(a.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO user_privacy (user_id, current_room) VALUES ($1, 'nobody')", target.id)
    for _ in range(100):  # the NOTIFY reaches b within moments of the commit
        if (await v.call("user:getRoom", {"userId": target.id}))["data"] == {"roomId": None}:
            break
        await asyncio.sleep(0.01)
    assert (await v.call("user:getRoom", {"userId": target.id}))["data"] == {"roomId": None}
