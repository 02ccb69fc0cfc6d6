"""Blocks (issue 12 §3) through the real server: follows removed both ways with their counts, the
blocked user taken out of the blocker's room and kept out (on another process too), no gifts, seat
invites or assignments between the two, user:getRoom and presence hidden, the list of blocks."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import SERVICES
from engine.rooms import store as rooms_store
from tests.helpers import bearer, db, heard_by, join, new_user
from tests.social_setup import block, follow


async def counts(client: Any, user: Any) -> tuple[int, int, int]:
    data = (await (await client.get("/api/v1/me", headers=bearer(user.token))).json())["data"]
    return data["followers_count"], data["following_count"], data["friends_count"]


async def test_a_block_removes_follows_both_ways_and_is_listed(client: Any) -> None:
    a, b, c = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "C")
    await follow(client, a, b)
    await follow(client, b, a)
    await follow(client, c, a)
    assert await counts(client, a) == (2, 1, 1)
    await block(client, a, b, reason="spam")
    await block(client, a, b)  # idempotent
    assert await counts(client, a) == (1, 0, 0) and await counts(client, b) == (0, 0, 0)
    async with db(client.app[SERVICES].config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM user_followers WHERE $1 IN (follower_id, following_id) "
                                   "AND $2 IN (follower_id, following_id)", a.id, b.id) == 0  # fmt: skip
    await block(client, a, c)
    resp = await client.get("/api/v1/me/blocks", params={"limit": "1"}, headers=bearer(a.token))
    page = (await resp.json())["data"]
    assert [i["id"] for i in page["items"]] == [c.id] and page["next_cursor"]
    resp = await client.get("/api/v1/me/blocks", params={"cursor": page["next_cursor"]}, headers=bearer(a.token))
    rest = (await resp.json())["data"]
    assert [(i["id"], i["reason"]) for i in rest["items"]] == [(b.id, "spam")] and rest["next_cursor"] is None
    resp = await client.post(f"/api/v1/users/{a.id}/block", headers=bearer(a.token))
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "cannot_block_self"
    # Unblocked, they may follow again; the follows the block removed stay removed.
    assert (await client.delete(f"/api/v1/users/{b.id}/block", headers=bearer(a.token))).status == 200
    assert await counts(client, b) == (0, 0, 0)
    await follow(client, b, a)
    # Blocked by someone: you can still block them (it says nothing about them).
    await block(client, b, a)


async def test_the_blocked_user_leaves_the_blockers_room_and_cannot_come_back(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    owner, pest, other = await new_user(a, "Owner"), await new_user(a, "Pest"), await new_user(a, "Other")
    o, p, x = await connect(b, owner), await connect(b, pest), await connect(b, other)  # sockets on process b
    for peer in (o, p, x):
        await join(peer, owner.room)
    assert (await p.call("seat:take", {"roomId": owner.room, "seatIndex": 2}))["success"]
    await block(a, owner, pest)  # made on process a
    (kicked,) = await p.wait_for("room:kicked")
    assert kicked == {"roomId": str(owner.room), "reason": "blocked", "permanent": True, "remaining_seconds": -1}
    await x.wait_until(lambda: any(e["userId"] == pest.id for e in x.events["room:userLeft"]))
    assert any(e["seatIndex"] == 2 for e in x.events["seat:cleared"])
    refused = await join(p, owner.room, must_succeed=False)
    assert (refused["success"], refused["code"], refused["error"]) == (False, "BLOCKED", "Blocked")
    # Both ways: the owner does not enter the pest's room either; someone else still may.
    assert (await join(o, pest.room, must_succeed=False))["code"] == "BLOCKED"
    await join(x, pest.room)
    assert (await a.delete(f"/api/v1/users/{pest.id}/block", headers=bearer(owner.token))).status == 200
    await join(p, owner.room)


async def test_no_gift_between_a_blocked_pair(make_client: Any, connect: Any) -> None:
    client = await make_client()
    sender = await new_user(client, "Sender", role="super_admin")
    host, blocked, fine = (
        await new_user(client, "Host"),
        await new_user(client, "Blocked"),
        await new_user(client, "Fine"),
    )
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES (901, 'Rose', 10)")
    grant = {
        "currency": "coins",
        "amount": 1000,
        "direction": "grant",
        "reason": "test",
        "idempotency_key": "social-gift-1",
    }
    resp = await client.post(f"/api/v1/admin/wallets/{sender.id}/adjust", json=grant, headers=bearer(sender.token))
    assert resp.status == 200, await resp.text()
    peers = {u: await connect(client, u) for u in (host, blocked, fine, sender)}
    for index, user in enumerate((host, blocked, fine)):
        await join(peers[user], host.room)
        assert (await peers[user].call("seat:take", {"roomId": host.room, "seatIndex": index}))["success"]
    s = peers[sender]
    await join(s, host.room)
    await block(client, blocked, sender)  # the recipient blocked the sender
    send = {"roomId": host.room, "giftId": 901}
    refused = await s.call("gift:send", {**send, "recipientId": blocked.id})
    assert (refused["success"], refused["code"]) == (False, "BLOCKED")
    several = await s.call("gift:send", {**send, "recipientIds": [blocked.id, fine.id]})
    assert several["success"] is True and several["acceptedRecipientIds"] == [fine.id]
    assert (await s.call("gift:send", {**send, "recipientIds": [blocked.id]}))["code"] == "BLOCKED"
    prepared = await s.call("gift:prepare", {"roomId": host.room, "giftId": 901, "recipientId": blocked.id})
    assert prepared["code"] == "BLOCKED"
    assert (await s.call("gift:send", {**send, "recipientId": host.id}))["success"] is True
    # The other way round: the blocker cannot gift the one they blocked either (refused before any debit).
    assert (await s.call("seat:take", {"roomId": host.room, "seatIndex": 3}))["success"]
    b = peers[blocked]
    assert (await b.call("gift:send", {**send, "recipientId": sender.id}))["code"] == "BLOCKED"


async def test_no_seat_invite_or_assignment_between_a_blocked_pair(client: Any, connect: Any) -> None:
    owner, guest, other = await new_user(client, "Owner"), await new_user(client, "Guest"), await new_user(client, "X")
    o, g, x = await connect(client, owner), await connect(client, guest), await connect(client, other)
    await join(o, owner.room)
    await join(g, owner.room)
    await join(x, owner.room)
    # The guest blocks the owner: the guest stays in (it is the owner's room they are in, not their
    # own), but neither may seat the other.
    await block(client, guest, owner)
    invite = await o.call("seat:invite", {"roomId": owner.room, "userId": guest.id, "seatIndex": 1})
    assert (invite["success"], invite["code"]) == (False, "BLOCKED")
    assign = await o.call("seat:assign", {"roomId": owner.room, "userId": guest.id, "seatIndex": 1})
    assert (assign["success"], assign["code"]) == (False, "BLOCKED")
    assert not g.events["seat:invite:received"]
    assert (await o.call("seat:invite", {"roomId": owner.room, "userId": other.id, "seatIndex": 1}))["success"]
    assert (await o.call("seat:assign", {"roomId": owner.room, "userId": other.id, "seatIndex": 2}))["success"]


async def test_a_block_hides_the_room_and_ends_presence_subscriptions(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    star, fan, beacon = await new_user(a, "Star"), await new_user(a, "Fan"), await new_user(a, "Beacon")
    await follow(a, fan, star)
    await follow(a, star, fan)  # friends: every presence tier
    f = await connect(b, fan)  # the watcher's socket is on process b
    s1 = await connect(a, star)
    await join(s1, star.room)
    assert (await f.call("user:getRoom", {"userId": star.id}))["data"] == {"roomId": str(star.room)}
    assert (await f.call("presence:subscribe", {"userIds": [star.id, beacon.id]}))["data"] == {
        str(star.id): True, str(beacon.id): False}  # fmt: skip
    # Process b forgets its cached blocks on PostgreSQL's notification, after the commit: wait for it.
    async with heard_by(a.app[SERVICES].config.database_url, a.app, b.app):
        await block(a, star, fan)
    assert (await f.call("user:getRoom", {"userId": star.id}))["data"] == {"roomId": None}
    assert (await f.call("presence:subscribe", {"userIds": [star.id]}))["data"] == {str(star.id): False}
    # The star's next update does not reach the fan: the beacon's, sent after it, does.
    await s1.close()
    svc = a.app[SERVICES]
    for _ in range(500):  # until the star is offline (its disconnect work runs by itself)
        if not (await rooms_store.online(svc.redis, svc.keys, [star.id]))[star.id]:
            break
        await asyncio.sleep(0.01)
    s2 = await connect(a, star)  # a first socket again: presence.update goes out, not to the fan
    bc = await connect(a, beacon)
    await f.wait_until(lambda: any(e["userId"] == beacon.id for e in f.events["presence.update"]))
    assert not [e for e in f.events["presence.update"] if e["userId"] == star.id]
    await s2.close()
    await bc.close()


async def test_a_blocked_profile_answers_like_a_missing_user_on_both_apis(client: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    await block(client, b, a)
    for path in (f"/api/v1/users/{b.id}", f"/api/user/{b.id}", f"/api/v1/users/{b.id}/followers"):
        resp = await client.get(path, headers=bearer(a.token))
        assert resp.status == 404, path
        assert (await resp.json())["error"]["code"] == "not_found"
    for path in (f"/api/v1/users/{a.id}", f"/api/user/{a.id}"):  # and the blocker does not see them either
        assert (await client.get(path, headers=bearer(b.token))).status == 404
