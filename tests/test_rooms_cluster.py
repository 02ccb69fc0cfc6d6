"""Two engine processes sharing PostgreSQL and Redis: cross-process fan-out, a kick that crosses
processes, and the cleanup of a process that died without shutting down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from engine.appkeys import REALTIME, ROOMS
from engine.messages import decode_event
from engine.rooms import janitor, store
from tests.helpers import join, new_user
from tests.sockets import first, live_members


async def test_members_on_two_processes_see_each_other(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    assert a.app[REALTIME].instance_id != b.app[REALTIME].instance_id
    owner, guest = await new_user(a, "Owner"), await new_user(b, "Guest")
    o, g = await connect(a, owner), await connect(b, guest)
    room = owner.room
    await join(o, room)
    ack = await join(g, room)
    assert [p["id"] for p in ack["participants"]] == [owner.id]
    joined = await first(o, "room:userJoined")
    assert (joined.userId, joined.user.name) == (guest.id, "Guest")

    assert (await g.call("seat:take", {"roomId": room, "seatIndex": 2}))["success"]
    update = await first(o, "seat:updated")
    assert (update.seatIndex, update.userId) == (2, guest.id)
    assert (await o.call("seat:take", {"roomId": room, "seatIndex": 0}))["success"]
    update = await first(g, "seat:updated")
    assert (update.seatIndex, update.userId) == (0, owner.id)

    assert (await o.call("chat:message", {"roomId": room, "content": "from A"}))["success"]
    assert (await g.call("chat:message", {"roomId": room, "content": "from B"}))["success"]
    for peer in (o, g):
        messages = [decode_event("chat:message", m) for m in await peer.wait_for("chat:message", 2)]
        assert sorted((m.content, m.userId) for m in messages) == [("from A", owner.id), ("from B", guest.id)]

    assert (await g.call("room:leave", {"roomId": room}))["success"]
    assert (await first(o, "seat:cleared")).userId == guest.id
    assert (await first(o, "room:userLeft")).userId == guest.id


async def test_kick_on_one_process_removes_a_socket_on_the_other(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    owner, guest, watcher = await new_user(a, "Owner"), await new_user(b, "Guest"), await new_user(b, "Watcher")
    o, g, w = await connect(a, owner), await connect(b, guest), await connect(b, watcher)
    room = owner.room
    for peer in (o, g, w):
        await join(peer, room)
    assert (await o.call("room:kick", {"roomId": room, "userId": guest.id, "minutes": 2}))["success"]
    kicked = await first(g, "room:kicked")
    assert (kicked.roomId, kicked.remaining_seconds) == (str(room), 120)
    assert (await first(w, "room:userLeft")).userId == guest.id

    assert (await o.call("chat:message", {"roomId": room, "content": "after the kick"}))["success"]
    assert (await first(w, "chat:message")).content == "after the kick"  # B did deliver room chat
    await asyncio.sleep(0.3)
    assert g.events["chat:message"] == []
    assert (await g.call("chat:message", {"roomId": room, "content": "me again"}))["error"] == "Not in room"
    blocked = await join(g, room, must_succeed=False)
    assert blocked["error"] == "room_blocked" and 110 <= blocked["remaining_seconds"] <= 120


async def test_a_dead_process_is_cleaned_up_by_a_survivor(make_client: Any, connect: Any) -> None:
    a, b = await make_client(seat_grace_ms=300), await make_client(seat_grace_ms=300)
    rt_a, rt_b = a.app[REALTIME], b.app[REALTIME]
    owner, other, ghost = await new_user(a, "Owner"), await new_user(a, "Other"), await new_user(b, "Ghost")
    o, x, g = await connect(a, owner), await connect(a, other), await connect(b, ghost)
    room = owner.room
    for peer in (o, x, g):
        await join(peer, room)
    assert (await g.call("seat:take", {"roomId": room, "seatIndex": 5}))["success"]
    await o.wait_for("seat:updated")
    watch = await o.call("presence:subscribe", {"userIds": [ghost.id]})
    assert watch["data"] == {str(ghost.id): True}
    assert await live_members(a, room) == 3

    # B dies without a clean shutdown: its heartbeat stops and it looks long silent.
    for job in rt_b.background:
        await job.stop()
    svc = rt_a.services
    await svc.redis.zadd(svc.keys.instances(), {rt_b.instance_id: 0})
    await janitor.reap_dead(a.app[ROOMS])

    cleared = await first(o, "seat:cleared")
    assert (cleared.seatIndex, cleared.userId, cleared.reason) == (5, ghost.id, "disconnect")
    assert (await first(x, "room:userLeft")).userId == ghost.id
    offline = await first(o, "presence.update")
    assert (offline.userId, offline.online) == (ghost.id, False)
    assert (await x.call("presence:subscribe", {"userIds": [ghost.id]}))["data"] == {str(ghost.id): False}
    assert (await x.call("user:getRoom", {"userId": ghost.id}))["data"] == {"roomId": None}
    assert await live_members(a, room) == 2
    assert rt_b.instance_id.encode() not in await svc.redis.zrange(svc.keys.instances(), 0, -1)

    await asyncio.sleep(0.5)  # past the grace: the held seat is freed
    await janitor.sweep_holds(a.app[ROOMS])
    assert (await x.call("seat:take", {"roomId": room, "seatIndex": 5}))["success"]
    update = await first(o, "seat:updated", 1)
    assert (update.seatIndex, update.userId) == (5, other.id)


async def test_the_heartbeat_goes_on_while_the_janitor_is_busy_reaping(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reaping a big dead process takes minutes (a leave per socket): a heartbeat waiting behind it
    # made the reaper look dead in turn. Here the reap never ends; the heartbeat must not care.
    reaping = asyncio.Event()

    async def endless_reap(rooms: Any) -> int:
        reaping.set()
        await asyncio.Event().wait()
        return 0

    monkeypatch.setattr(janitor, "reap_dead", endless_reap)
    a = await make_client(instance_heartbeat_seconds=0.05)
    svc, me = a.app[REALTIME].services, a.app[REALTIME].instance_id
    await asyncio.wait_for(reaping.wait(), 5)
    first_beat = await svc.redis.zscore(svc.keys.instances(), me)
    for _ in range(500):  # bounded: a heartbeat stuck behind the reap fails the test after 5 s
        if (await svc.redis.zscore(svc.keys.instances(), me) or 0) > (first_beat or 0):
            break
        await asyncio.sleep(0.01)
    assert (await svc.redis.zscore(svc.keys.instances(), me) or 0) > (first_beat or 0)


async def test_a_long_reap_keeps_its_claim(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(janitor, "RENEW_EVERY", 2)
    a = await make_client()
    rooms, svc = a.app[ROOMS], a.app[REALTIME].services
    dead, claim = "deadbeef0001", f"{svc.keys.instances()}:reaping:deadbeef0001"
    await svc.redis.zadd(svc.keys.instances(), {dead: 0})
    await svc.redis.hset(svc.keys.instance_sockets(dead), mapping={f"sid{n}": f"{n + 1}:0" for n in range(5)})
    assert await store.claim_dead_instances(svc.redis, svc.keys, a.app[REALTIME].instance_id, 1) == [dead]
    await svc.redis.expire(claim, 3)  # as if the claim were nearly over when the reap got this far
    assert await janitor.reap_instance(rooms, dead) == 5
    assert await svc.redis.ttl(claim) > 3  # renewed while reaping: nobody else starts it again
    assert await svc.redis.get(claim) == a.app[REALTIME].instance_id.encode()


async def test_a_process_taken_for_dead_says_so(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    a = await make_client()
    rt, rooms = a.app[REALTIME], a.app[ROOMS]
    beat = janitor.Heartbeat(rooms)
    await beat.step()
    await beat.step()
    assert not [r for r in caplog.records if "taken for dead" in r.getMessage()]
    await rt.services.redis.zrem(rt.services.keys.instances(), rt.instance_id)  # another process reaped it
    await beat.step()
    assert [r for r in caplog.records if "taken for dead" in r.getMessage() and r.levelno == logging.ERROR]
