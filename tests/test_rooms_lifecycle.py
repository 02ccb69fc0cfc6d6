"""Room lifecycle over real sockets: join gates, moderation ranks, chat rules, presence, reconnection
(seat hold and event replay) and payload limits."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import ROOMS
from engine.config import Rate
from engine.messages import decode_event
from engine.rooms import janitor, live
from tests.helpers import User, bearer, grant_role, join, new_user
from tests.sockets import Peer, first, live_members

NOT_AUTHORIZED = "Not authorized"


async def test_unknown_and_closed_rooms(client: Any, connect: Any) -> None:
    owner, guest, late = [await new_user(client, name) for name in ("Owner", "Guest", "Late")]
    o, g, x = await connect(client, owner), await connect(client, guest), await connect(client, late)
    for ref in (999_999_999, "999999999", "abc", "12a", "-3"):
        ack = await join(x, ref, must_succeed=False)
        assert (ack["success"], ack["error"]) == (False, "Room not found"), ref

    # Closed by its owner's socket: the members are told, and nobody can join any more.
    assert (await join(o, owner.room))["success"] and (await join(g, owner.room))["success"]
    assert (await o.call("room:close", {"roomId": owner.room}))["success"]
    for peer in (o, g):
        closed = await first(peer, "room:closed")
        assert (closed.roomId, closed.reason) == (str(owner.room), "closed_by_owner")
    for peer in (x, g):
        ack = await join(peer, owner.room, must_succeed=False)
        assert (ack["success"], ack["error"]) == (False, "Room is closed")

    # Closed through the REST API.
    assert (await join(g, guest.room))["success"] and (await join(x, guest.room))["success"]
    resp = await client.post(f"/api/v1/rooms/{guest.room}/close", json={}, headers=bearer(guest.token))
    assert resp.status == 200, await resp.text()
    assert (await first(x, "room:closed")).roomId == str(guest.room)
    ack = await join(o, guest.room, must_succeed=False)
    assert (ack["success"], ack["error"]) == (False, "Room is closed")


async def test_private_room_needs_its_password(client: Any, connect: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    resp = await client.patch(f"/api/v1/rooms/{owner.room}", json={"password": "s3cret"}, headers=bearer(owner.token))
    assert resp.status == 200, await resp.text()
    o, g = await connect(client, owner), await connect(client, guest)
    for extra in ({}, {"password": "wrong"}, {"password": ""}, {"password": "S3CRET"}):
        ack = await join(g, owner.room, must_succeed=False, **extra)
        assert (ack["success"], ack["error"]) == (False, "Wrong room password"), extra
    assert (await join(o, owner.room))["success"] is True
    ack = await join(g, owner.room, password="s3cret")
    assert ack["success"] is True and [p["id"] for p in ack["participants"]] == [owner.id]


async def test_bans_block_joins_until_lifted(client: Any, connect: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    g = await connect(client, guest)
    bans = f"/api/v1/rooms/{owner.room}/bans"
    resp = await client.post(bans, json={"user_id": guest.id, "minutes": 10}, headers=bearer(owner.token))
    assert resp.status == 201, await resp.text()
    ack = await join(g, owner.room, must_succeed=False)
    assert (ack["success"], ack["error"], ack["permanent"]) == (False, "room_blocked", False)
    assert 590 <= ack["remaining_seconds"] <= 600

    resp = await client.post(bans, json={"user_id": guest.id}, headers=bearer(owner.token))
    assert resp.status == 201, await resp.text()
    ack = await join(g, owner.room, must_succeed=False)
    assert (ack["success"], ack["error"], ack["permanent"]) == (False, "room_blocked", True)

    resp = await client.delete(f"{bans}/{guest.id}", headers=bearer(owner.token))
    assert resp.status == 200 and (await resp.json())["data"]["lifted"] is True
    assert (await join(g, owner.room))["success"] is True


async def test_moderation_ranks_notices_and_audit(client: Any, connect: Any, database_url: str) -> None:
    names = ("Owner", "AdminOne", "AdminTwo", "MemberOne", "MemberTwo", "Staff", "Root")
    owner, a1, a2, m1, m2, staff, root = [await new_user(client, n) for n in names]
    room = owner.room
    for admin in (a1, a2):
        body = {"user_id": admin.id}
        resp = await client.post(f"/api/v1/rooms/{room}/admins", json=body, headers=bearer(owner.token))
        assert resp.status == 200, await resp.text()
    await grant_role(database_url, staff.id, "moderator")
    await grant_role(database_url, root.id, "super_admin")
    o, p1, p2, q1, q2 = [await connect(client, u) for u in (owner, a1, a2, m1, m2)]
    for peer in (o, p1, p2, q1, q2):
        assert (await join(peer, room))["success"]

    async def act(peer: Peer, event: str, target: User | None = None, **extra: Any) -> dict[str, Any]:
        body = {"roomId": room, **extra, **({"userId": target.id} if target else {})}
        ack: dict[str, Any] = await peer.call(event, body)
        return ack

    for event in ("room:kick", "room:ban", "room:unban"):  # a member moderates nobody
        assert (await act(q1, event, m2))["error"] == NOT_AUTHORIZED, event
    assert (await act(q1, "room:close"))["error"] == NOT_AUTHORIZED
    for event in ("room:kick", "room:ban"):  # an admin: not the owner, not another admin
        for target in (owner, a2):
            assert (await act(p1, event, target))["error"] == NOT_AUTHORIZED, (event, target)
    assert (await act(p1, "room:close"))["error"] == NOT_AUTHORIZED
    for peer, me in ((o, owner), (p1, a1), (q1, m1)):  # nobody kicks themself
        assert (await act(peer, "room:kick", me))["success"] is False
    await asyncio.sleep(0.2)
    assert not o.events["room:userLeft"] and not any(p.events["room:kicked"] for p in (o, p1, p2, q1, q2))

    # An admin kicks a seated member: they are told, leave the seat and the room, and stay blocked.
    assert (await q1.call("seat:take", {"roomId": room, "seatIndex": 4}))["success"]
    assert (await act(p1, "room:kick", m1, minutes=5))["success"]
    kicked = await first(q1, "room:kicked")
    assert (kicked.roomId, kicked.permanent, kicked.remaining_seconds) == (str(room), False, 300)
    cleared = await first(o, "seat:cleared")
    assert (cleared.seatIndex, cleared.userId) == (4, m1.id)
    assert (await first(o, "room:userLeft")).userId == m1.id
    assert (await q1.call("seat:take", {"roomId": room, "seatIndex": 5}))["error"] == "Not in room"
    ack = await join(q1, room, must_succeed=False)
    assert (ack["error"], ack["permanent"]) == ("room_blocked", False) and 290 <= ack["remaining_seconds"] <= 300

    # An admin bans a member, then lifts it.
    assert (await act(p1, "room:ban", m2, minutes=10))["success"]
    banned = await first(q2, "room:kicked")
    assert (banned.permanent, banned.remaining_seconds) == (False, 600)
    assert (await join(q2, room, must_succeed=False))["error"] == "room_blocked"
    assert await act(p1, "room:unban", m2) == {"success": True, "lifted": True}
    assert (await join(q2, room))["success"] is True

    # The owner kicks and then permanently bans an admin.
    assert (await act(o, "room:kick", a2, minutes=1))["success"]
    assert (await act(o, "room:ban", a2))["success"]
    await p2.wait_for("room:kicked", 2)
    notices = [decode_event("room:kicked", n) for n in p2.events["room:kicked"]]
    assert [(n.permanent, n.remaining_seconds) for n in notices] == [(False, 60), (True, -1)]

    # Platform staff outrank the owner; only they (or the owner) close the room.
    s = await connect(client, staff)
    assert (await join(s, room))["success"]
    assert (await act(s, "room:kick", owner))["success"]
    assert (await first(o, "room:kicked")).remaining_seconds == 600
    assert (await o.call("chat:message", {"roomId": room, "content": "hello?"}))["error"] == "Not in room"
    assert (await act(s, "room:close"))["success"]
    for peer in (p1, q2, s):
        assert (await first(peer, "room:closed")).roomId == str(room)

    resp = await client.get("/api/v1/admin/audit?limit=500", headers=bearer(root.token))
    assert resp.status == 200, await resp.text()
    moderation = {"room.kick", "room.ban", "room.unban", "room.close"}
    seen = sorted(
        (e["action"], e["actor_id"], e["details"].get("user_id"))
        for e in (await resp.json())["data"]
        if e["action"] in moderation and e["target_type"] == "room" and e["target_id"] == str(room)
    )
    assert seen == sorted([
        ("room.kick", a1.id, m1.id), ("room.ban", a1.id, m2.id), ("room.unban", a1.id, m2.id),
        ("room.kick", owner.id, a2.id), ("room.ban", owner.id, a2.id), ("room.kick", staff.id, owner.id),
        ("room.close", staff.id, None),
    ])  # fmt: skip


async def test_chat_rules_filter_and_history(client: Any, connect: Any, make_client: Any) -> None:
    owner, guest, late = [await new_user(client, name) for name in ("Owner", "Guest", "Late")]
    app = await make_client(chat_blocked_words=("badword",), chat_history=3)
    o, g, x = await connect(app, owner), await connect(app, guest), await connect(app, late)
    room = owner.room
    assert (await g.call("chat:message", {"roomId": room, "content": "hi"}))["error"] == "Not in room"
    assert (await join(o, room))["success"] and (await join(g, room))["success"]
    for body in ({"content": ""}, {"content": "x" * 501}, {"content": "hi", "type": "system"}, {"type": "text"}):
        ack = await o.call("chat:message", {"roomId": room, **body})
        assert (ack["success"], ack["error"]) == (False, "Invalid payload"), body
    ack = await o.call("chat:message", {"roomId": room, "content": "you BadWord you"})
    assert (ack["success"], ack["error"]) == (False, "Message not allowed")
    sent = ["y" * 500, "one", "two", "three", "four"]
    for content in sent:
        assert (await o.call("chat:message", {"roomId": room, "content": content}))["success"]
    for peer in (o, g):  # the sender gets its own echo; the refused message reached nobody
        await peer.wait_for("chat:message", len(sent))
    await asyncio.sleep(0.2)
    for peer in (o, g):
        messages = [decode_event("chat:message", m) for m in peer.events["chat:message"]]
        assert [(m.content, m.userId) for m in messages] == [(c, owner.id) for c in sent]
    ack = await join(x, room)
    assert [m["content"] for m in ack["recentMessages"]] == sent[-3:]

    limited = await make_client(chat_rate_limit=Rate(3, 60))
    p = await connect(limited, guest)
    assert (await join(p, guest.room))["success"]
    for n in range(3):
        assert (await p.call("chat:message", {"roomId": guest.room, "content": f"m{n}"}))["success"]
    ack = await p.call("chat:message", {"roomId": guest.room, "content": "m3"})
    assert (ack["success"], ack["error"]) == (False, "Too many requests")


async def test_get_room_hides_hidden_rooms(client: Any, connect: Any) -> None:
    owner, member, outsider = [await new_user(client, name) for name in ("Owner", "Member", "Outsider")]
    o, m, x = await connect(client, owner), await connect(client, member), await connect(client, outsider)

    async def where(peer: Peer) -> Any:
        ack = await peer.call("user:getRoom", {"userId": member.id})
        assert ack["success"] is True
        return ack["data"]["roomId"]

    assert await where(x) is None
    assert (await join(m, owner.room))["success"]
    assert await where(x) == str(owner.room)
    assert (await m.call("room:leave", {"roomId": owner.room}))["success"]
    assert await where(x) is None

    resp = await client.patch(f"/api/v1/rooms/{owner.room}", json={"is_hidden": True}, headers=bearer(owner.token))
    assert resp.status == 200, await resp.text()
    assert (await join(m, owner.room))["success"] and (await join(o, owner.room))["success"]
    assert await where(x) is None
    assert await where(o) == str(owner.room)  # someone in the same room may know


async def test_presence_subscription(client: Any, connect: Any) -> None:
    watcher, a, b = await new_user(client, "Watcher"), await new_user(client, "A"), await new_user(client, "B")
    w = await connect(client, watcher)
    await connect(client, a)
    ack = await w.call("presence:subscribe", {"userIds": [a.id, b.id]})
    assert ack == {"success": True, "data": {str(a.id): True, str(b.id): False}}
    b1 = await connect(client, b)
    update = await first(w, "presence.update")
    assert (update.userId, update.online) == (b.id, True)
    b2 = await connect(client, b)
    await b1.close()
    await asyncio.sleep(0.3)  # one socket left: still online, and the second socket announced nothing
    assert [(u["userId"], u["online"]) for u in w.events["presence.update"]] == [(b.id, True)]
    assert (await w.call("presence:subscribe", {"userIds": [b.id]}))["data"] == {str(b.id): True}
    await b2.close()
    update = await first(w, "presence.update", 1)
    assert (update.userId, update.online) == (b.id, False)


async def test_two_sockets_of_one_user_count_once(client: Any, connect: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    o, g1, g2 = await connect(client, owner), await connect(client, guest), await connect(client, guest)
    room = owner.room
    assert (await join(g1, room))["success"]
    assert await live_members(client, room) == 1
    assert (await join(o, room))["success"]
    assert (await join(g2, room))["success"]
    await asyncio.sleep(0.3)
    assert o.events["room:userJoined"] == [] and await live_members(client, room) == 2
    assert (await g1.call("room:leave", {"roomId": room}))["success"]
    await asyncio.sleep(0.3)
    assert o.events["room:userLeft"] == [] and await live_members(client, room) == 2
    assert (await g2.call("room:leave", {"roomId": room}))["success"]
    assert (await first(o, "room:userLeft")).userId == guest.id
    assert await live_members(client, room) == 1


async def seated_then_dropped(app: Any, connect: Any, owner: User, guest: User, index: int) -> Peer:
    """Owner and guest in the owner's room, guest seated at `index`, then the guest's socket drops."""
    o, g = await connect(app, owner), await connect(app, guest)
    assert (await join(o, owner.room))["success"] and (await join(g, owner.room))["success"]
    assert (await g.call("seat:take", {"roomId": owner.room, "seatIndex": index}))["success"]
    await o.wait_for("seat:updated")
    await g.close()
    cleared = await first(o, "seat:cleared")
    assert (cleared.seatIndex, cleared.userId, cleared.reason) == (index, guest.id, "disconnect")
    assert (await first(o, "room:userLeft")).userId == guest.id
    return o


async def test_rejoin_within_grace_reclaims_the_seat(client: Any, connect: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    o = await seated_then_dropped(client, connect, owner, guest, 3)
    taken = await o.call("seat:take", {"roomId": owner.room, "seatIndex": 3})  # held for the guest
    assert (taken["error"], taken["occupant"]) == ("Seat is already taken", None)
    ack = await join(await connect(client, guest), owner.room)
    assert ack["success"] and ack["reclaimedSeat"] == 3
    assert {"seatIndex": 3, "userId": guest.id, "isMuted": False} in ack["seats"]
    update = await first(o, "seat:updated", 1)
    assert (update.seatIndex, update.userId) == (3, guest.id)


async def test_seat_is_freed_after_the_grace(client: Any, connect: Any, make_client: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    app = await make_client(seat_grace_ms=300)
    o = await seated_then_dropped(app, connect, owner, guest, 3)
    await asyncio.sleep(0.5)
    await janitor.sweep_holds(app.app[ROOMS])
    assert (await o.call("seat:take", {"roomId": owner.room, "seatIndex": 3}))["success"]
    ack = await join(await connect(app, guest), owner.room)
    assert ack["success"] and ack["reclaimedSeat"] is None
    assert ack["seats"] == [{"seatIndex": 3, "userId": owner.id, "isMuted": False}]


async def test_rejoin_replays_missed_events(client: Any, connect: Any) -> None:
    owner, guest, back = [await new_user(client, name) for name in ("Owner", "Guest", "Back")]
    o, g, r = await connect(client, owner), await connect(client, guest), await connect(client, back)
    room = owner.room
    assert (await join(o, room))["success"] and (await join(g, room))["success"]
    seen = (await join(r, room))["seq"]
    await o.wait_for("room:userJoined", 2)
    assert (await r.call("room:leave", {"roomId": room}))["success"]
    await o.wait_for("room:userLeft")
    assert (await g.call("seat:take", {"roomId": room, "seatIndex": 1}))["success"]
    assert (await o.call("chat:message", {"roomId": room, "content": "while you were away"}))["success"]
    assert (await g.call("seat:leave", {"roomId": room}))["success"]
    changes = ("seat:updated", "chat:message", "seat:cleared")
    expected = [{"event": e, "data": (await o.wait_for(e))[0]} for e in changes]

    ack = await join(r, room, lastSeq=seen)
    assert ack["success"] and ack["resumed"] is True
    assert ack["missedEvents"] == expected
    for missed in ack["missedEvents"]:
        decode_event(missed["event"], missed["data"])
    seqs = [m["data"]["seq"] for m in ack["missedEvents"]]
    assert seqs == sorted(set(seqs)) and seqs[0] > seen

    assert (await r.call("room:leave", {"roomId": room}))["success"]
    ack = await join(r, room)  # no lastSeq: the full snapshot
    assert ack["resumed"] is False and "missedEvents" not in ack
    assert sorted(p["id"] for p in ack["participants"]) == sorted([owner.id, guest.id])

    # Push the stream past its cap: what followed `stale` is gone, so only a snapshot can resync.
    stale = ack["seq"]
    assert (await r.call("room:leave", {"roomId": room}))["success"]
    state = client.app[ROOMS].state
    message = live.encode({"id": "00000000-0000-0000-0000-000000000000", "userId": guest.id, "userName": "Guest",
                           "userAvatar": "", "userFrameId": None, "userChatBubbleId": None, "content": "filler",
                           "type": "text", "timestamp": 0})  # fmt: skip
    for _ in range(1300):
        assert (await state.chat(room, guest.id, message, 50)).ok
    oldest = await state.oldest_event_id(room)
    assert oldest is not None and int(oldest.split("-")[0]) > stale + 1
    ack = await join(r, room, lastSeq=stale)
    assert ack["success"] and ack["resumed"] is False and "missedEvents" not in ack
    assert ack["seq"] > stale + 1300 and sorted(p["id"] for p in ack["participants"]) == sorted([owner.id, guest.id])


async def test_malformed_payloads_leave_the_socket_usable(client: Any, connect: Any) -> None:
    owner = await new_user(client, "Owner")
    o = await connect(client, owner)
    room = owner.room
    bad: list[tuple[str, Any]] = [
        ("room:join", "not an object"), ("room:join", {}), ("room:join", {"roomId": ""}),
        ("room:join", {"roomId": room, "lastSeq": -1}), ("seat:take", {"roomId": room, "seatIndex": 1000}),
        ("seat:take", {"roomId": room}), ("chat:message", {"roomId": room, "content": "x" * 12_000}),
        ("presence:subscribe", {"userIds": []}), ("room:kick", {"roomId": room, "userId": "me"}),
    ]  # fmt: skip
    for event, body in bad:
        ack = await o.call(event, body)
        assert (ack["success"], ack["error"]) == (False, "Invalid payload"), (event, body)
    assert (await join(o, room))["success"]
    assert (await o.call("seat:take", {"roomId": room, "seatIndex": 2}))["success"]
    assert (await o.call("chat:message", {"roomId": room, "content": "still fine"}))["success"]
    assert (await first(o, "chat:message")).content == "still fine"


async def test_socket_event_rate_limit(client: Any, connect: Any, make_client: Any) -> None:
    owner = await new_user(client, "Owner")
    app = await make_client(socket_event_rate_limit=Rate(5, 60))
    p = await connect(app, owner)
    for _ in range(5):
        assert (await p.call("auth:whoami"))["success"] is True
    ack = await join(p, owner.room, must_succeed=False)
    assert (ack["success"], ack["error"]) == (False, "Too many requests")
