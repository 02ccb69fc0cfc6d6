"""Big rooms batch their high-rate events for clients that announce `room:batch` (issue 11 §3)."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.realtime.server import announced_features
from tests.helpers import join, new_user
from tests.sockets import Peer

BATCH = ["room:batch"]


def flattened(peer: Peer, name: str) -> list[dict[str, Any]]:
    """Every `name` event the peer received, on its own or inside a `room:batch`, in arrival order."""
    seen: list[dict[str, Any]] = []
    for event, data in peer.timeline:
        if event == name:
            seen.append(data)
        elif event == "room:batch":
            seen += [inner["data"] for inner in data["events"] if inner["event"] == name]
    return seen


def names(peer: Peer) -> list[str]:
    return [event for event, _ in peer.timeline]


async def test_a_big_rooms_joins_reach_batch_clients_batched_and_the_others_one_by_one(
    make_client: Any, connect: Any
) -> None:
    client = await make_client(room_batch_min_members=3, room_batch_tick_ms=500)
    owner, plain = await new_user(client, "Owner"), await new_user(client, "Plain")
    guests = [await new_user(client, f"Guest {i}") for i in range(5)]
    batcher, legacy = await connect(client, owner, BATCH), await connect(client, plain)
    await join(batcher, owner.room)
    await join(legacy, owner.room)  # a room of two: below the size, sent on its own
    await batcher.wait_for("room:userJoined")
    sockets = [await connect(client, guest) for guest in guests]
    await asyncio.gather(*(join(s, owner.room) for s in sockets))

    await batcher.wait_until(lambda: len(flattened(batcher, "room:userJoined")) == 6)
    await legacy.wait_until(lambda: len(legacy.events["room:userJoined"]) == 5)
    batched = flattened(batcher, "room:userJoined")[1:]
    one_by_one = legacy.events["room:userJoined"]
    # The same events, in the same (seq) order, whichever way they travelled.
    assert [e["seq"] for e in batched] == [e["seq"] for e in one_by_one] == sorted(e["seq"] for e in one_by_one)
    assert [e["user"]["name"] for e in batched] == [e["user"]["name"] for e in one_by_one]
    assert {e["user"]["name"] for e in batched} == {f"Guest {i}" for i in range(len(guests))}
    assert len(batcher.events["room:userJoined"]) == 1  # only the join into the room of two came alone
    frames = batcher.events["room:batch"]
    assert frames and all(frame["roomId"] == str(owner.room) for frame in frames)
    assert len(frames) < 5, "five concurrent joins within one tick share frames"
    assert "room:batch" not in legacy.events


async def test_any_other_room_event_comes_after_the_pending_batch(make_client: Any, connect: Any) -> None:
    # A tick far longer than the test: only the flush before the next event can send the batch.
    client = await make_client(room_batch_min_members=2, room_batch_tick_ms=60_000)
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    a = await connect(client, owner, BATCH)
    b = await connect(client, guest)
    await join(a, owner.room)
    await join(b, owner.room)  # room:userJoined waits in the room's batch for `a`
    assert (await b.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
    await a.wait_for("seat:updated")
    assert names(a).index("room:batch") < names(a).index("seat:updated")
    [frame] = a.events["room:batch"]
    assert [inner["event"] for inner in frame["events"]] == ["room:userJoined"]
    assert frame["events"][0]["data"]["user"]["name"] == "Guest"
    assert "room:userJoined" not in a.events


async def test_an_actor_gets_the_ticks_events_but_its_own(make_client: Any, connect: Any) -> None:
    client = await make_client(room_batch_min_members=2, room_batch_tick_ms=60_000)
    owner, first, second = [await new_user(client, n) for n in ("Owner", "First", "Second")]
    host = await connect(client, owner, BATCH)
    await join(host, owner.room)
    assert (await host.call("seat:take", {"roomId": owner.room, "seatIndex": 0}))["success"]
    one = await connect(client, first, BATCH)
    await join(one, owner.room)
    two = await connect(client, second, BATCH)
    await join(two, owner.room)  # both joins wait in the room's batch (the tick is long)
    assert (await host.call("seat:reaction", {"roomId": owner.room, "code": "1f44f"}))["success"]
    assert (await host.call("chat:message", {"roomId": owner.room, "content": "flush"}))["success"]
    for peer in (host, one, two):
        await peer.wait_for("chat:message")

    def last_batch(peer: Peer) -> list[tuple[str, Any]]:
        frame = peer.events["room:batch"][-1]
        return [(inner["event"], inner["data"].get("user", {}).get("name")) for inner in frame["events"]]

    joined_first, joined_second, reacted = (
        ("room:userJoined", "First"),
        ("room:userJoined", "Second"),
        ("seat:reaction", None),
    )
    assert host.events["room:batch"] == [host.events["room:batch"][-1]]  # one frame for the whole tick
    assert last_batch(host) == [joined_first, joined_second, reacted]
    assert last_batch(one) == [joined_second, reacted]  # not its own join
    assert last_batch(two) == [reacted]  # not its own join, nor what its join snapshot held
    assert all(e["user"]["name"] != "Second" for e in flattened(two, "room:userJoined"))
    assert all(e["user"]["name"] != "First" for e in flattened(one, "room:userJoined"))
    for peer in (host, one, two):
        assert names(peer).index("room:batch") < names(peer).index("chat:message")


async def test_a_small_room_sends_everything_at_once(make_client: Any, connect: Any) -> None:
    client = await make_client(room_batch_min_members=50, room_batch_tick_ms=60_000)
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    a = await connect(client, owner, BATCH)
    await join(a, owner.room)
    await join(await connect(client, guest), owner.room)
    [joined] = await a.wait_for("room:userJoined")
    assert joined["user"]["name"] == "Guest" and "room:batch" not in a.events


async def test_a_batch_made_in_one_process_reaches_clients_of_another(make_client: Any, connect: Any) -> None:
    a = await make_client(room_batch_min_members=2, room_batch_tick_ms=100)
    b = await make_client(room_batch_min_members=2, room_batch_tick_ms=100)
    owner, guest = await new_user(a, "Owner"), await new_user(a, "Guest")
    watcher = await connect(b, owner, BATCH)
    await join(watcher, owner.room)
    await join(await connect(a, guest), owner.room)  # process a counts two members: batched there
    [frame] = await watcher.wait_for("room:batch")
    assert [(i["event"], i["data"]["user"]["name"]) for i in frame["events"]] == [("room:userJoined", "Guest")]
    assert "room:userJoined" not in watcher.events


async def test_a_rejoin_with_last_seq_replays_batched_events_one_by_one(make_client: Any, connect: Any) -> None:
    client = await make_client(room_batch_min_members=2, room_batch_tick_ms=100)
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    host = await connect(client, owner, BATCH)
    first = await join(host, owner.room)
    await join(await connect(client, guest), owner.room)
    [frame] = await host.wait_for("room:batch")
    sent = frame["events"][0]["data"]
    await host.close()
    again = await connect(client, owner, BATCH)
    ack = await join(again, owner.room, lastSeq=first["seq"])
    assert ack["resumed"] is True
    assert {"event": "room:userJoined", "data": sent} in ack["missedEvents"]


def test_features_are_read_from_the_handshake_and_unknown_ones_ignored() -> None:
    assert announced_features({"token": "t", "features": ["room:batch", "time-travel", 7]}) == {"room:batch"}
    assert announced_features({"token": "t", "features": "room:batch"}) == frozenset()
    assert announced_features({"token": "t"}) == frozenset()
    assert announced_features(None) == frozenset()
    assert announced_features({"features": ["x"] * 100 + ["room:batch"]}) == frozenset()  # at most 16 read


async def test_a_gift_storms_events_reach_batch_clients_in_order(make_client: Any, config: Any, connect: Any) -> None:
    from tests.test_gifts_basic import gift_room

    client = await make_client(room_batch_min_members=2, room_batch_tick_ms=60_000)
    watcher_user = await new_user(client, "Watcher")
    async with gift_room(client, config, coins=100, key="grant-batch") as r:
        watcher = await connect(client, watcher_user, BATCH)
        await join(watcher, r.room_id)
        for n in range(2):  # the same gift twice: the second is a combo
            payload = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "idempotencyKey": f"batch-000{n}"}
            assert (await r.a.call("gift:send", payload))["success"]
        assert (await r.b.call("chat:message", {"roomId": r.room_id, "content": "flush"}))["success"]
        await watcher.wait_for("chat:message")
        [frame] = watcher.events["room:batch"]
        shapes = [(i["event"], "recipientId" in i["data"], "recipientIds" in i["data"]) for i in frame["events"]]
        single, burst = ("gift:received", True, False), ("gift:received", False, True)
        combo = ("gift:combo", False, True)
        assert shapes == [single, burst, single, burst, combo]
        # The legacy host got the same events one by one, at once.
        assert [i["data"] for i in frame["events"] if i["event"] == "gift:received"] == r.b.events["gift:received"]
        assert [i["data"] for i in frame["events"] if i["event"] == "gift:combo"] == r.b.events["gift:combo"]
