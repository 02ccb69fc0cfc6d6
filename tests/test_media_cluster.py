"""Media nodes seen from two engine processes sharing Redis: a client on one process reaches a node
registered on the other, placement agrees across processes, and nodes lost without a seen
disconnect (their engine process died, or they went silent) are swept exactly once.

Nodes are doubles speaking the node protocol (see tests/test_media_nodes.py); a dead engine process
is simulated as in tests/test_rooms_cluster.py (its background jobs stop, its heartbeat looks old).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from engine.appkeys import REALTIME, SERVICES
from engine.media import lost, store
from tests.helpers import join, new_user
from tests.sockets import url_of
from tests.test_media_nodes import CAPS, SECRET, NodeDouble
from tests.test_ops import sample, scrape

Answer = Callable[[dict[str, Any]], dict[str, Any]]
RECONNECT = "media:reconnect"


def caps_of(node_id: str) -> dict[str, Any]:
    """Capabilities a client can tell apart: each node's carry its id."""
    return {**CAPS, "node": node_id}


def ok_answer(request: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "data": {"id": f"{request['method']}-{request['requestId'][:8]}"}}


class Node(NodeDouble):
    """A node double that records every `media:request` and answers it with `answer`."""

    def __init__(self, node_id: str, answer: Answer = ok_answer) -> None:
        super().__init__()
        self.node_id = node_id
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.sio.on("media:request", self._on_request, namespace="/media")

    async def _on_request(self, data: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(data)
        answer = self.answer(data)
        if answer.get("ok"):
            answer = {**answer, "data": {**answer["data"], "node": self.node_id}}
        return answer

    async def register(self, region: str = "eu", capacity: int = 10) -> dict[str, Any]:
        ack: dict[str, Any] = await self.call(
            "node:register",
            {"nodeId": self.node_id, "region": region, "capacity": capacity, "rtpCapabilities": caps_of(self.node_id)},
        )
        assert ack["success"] is True, ack
        return ack


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def nodes() -> AsyncIterator[NodeFactory]:
    """`await nodes(app, "n1")`: a node double connected to that engine and registered; all closed at the end."""
    opened: list[Node] = []

    async def open_node(app: Any, node_id: str, answer: Answer = ok_answer, register: bool = True) -> Node:
        node = Node(node_id, answer)
        opened.append(node)
        await node.connect(url_of(app), SECRET)
        if register:
            await node.register()
        return node

    try:
        yield open_node
    finally:
        for node in opened:
            await node.close()


async def engines(make_client: Any, count: int = 2, **overrides: Any) -> list[Any]:
    return [await make_client(media_node_secrets=(SECRET,), **overrides) for _ in range(count)]


async def node_rooms(app: Any, node_id: str) -> set[int]:
    svc = app.app[SERVICES]
    return {int(m) for m in await svc.redis.smembers(svc.keys.node_rooms(node_id))}


def lost_count(app: Any, reason: str) -> float:
    value = app.app[SERVICES].metrics.registry.get_sample_value("flylive_media_nodes_lost_total", {"reason": reason})
    return value or 0.0


async def die(app: Any) -> None:
    """Make an engine process look dead to the others: no more heartbeats, and its last one is old."""
    rt = app.app[REALTIME]
    for job in rt.background:
        await job.stop()
    svc = rt.services
    await svc.redis.zadd(svc.keys.instances(), {rt.instance_id: 0})


async def test_a_client_on_one_process_reaches_a_node_on_the_other(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b = await engines(make_client)

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "transport:connect" and request["params"]["transportId"] == "missing":
            return {"ok": False, "error": "Transport not found"}
        return ok_answer(request)

    node = await nodes(a, "east-1", answer)
    svc = b.app[SERVICES]
    registered = await store.get_node(svc.redis, svc.keys, "east-1")
    assert registered is not None and registered.instance == a.app[REALTIME].instance_id

    user = await new_user(b, "Listener")
    peer = await connect(b, user)
    ack = await join(peer, user.room)
    assert ack["rtpCapabilities"] == caps_of("east-1")

    created = await peer.call("transport:create", {"roomId": user.room, "type": "consumer"})
    assert len(node.requests) == 1
    sent = node.requests[0]
    assert (sent["method"], sent["roomId"], sent["userId"], sent["params"]) == (
        "transport:create", str(user.room), user.id, {"type": "consumer"})  # fmt: skip
    assert sent["requestId"]
    assert created == {
        "success": True,
        "data": {"id": f"transport:create-{sent['requestId'][:8]}", "node": "east-1",
                 "iceServers": [{"urls": list(b.app[SERVICES].config.stun_urls)}]},
    }  # fmt: skip
    assert created["data"]["iceServers"] and created["data"]["iceServers"][0]["urls"]

    connect_missing = {"roomId": user.room, "transportId": "missing", "dtlsParameters": {}}
    missing = await peer.call("transport:connect", connect_missing)
    assert missing == {"success": False, "error": "Transport not found"}
    assert [r["method"] for r in node.requests] == ["transport:create", "transport:connect"]
    assert node.requests[1]["params"] == {"transportId": "missing", "dtlsParameters": {}}
    assert peer.events[RECONNECT] == []


async def test_concurrent_first_joins_on_two_processes_agree_on_one_node(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b = await engines(make_client)
    await nodes(a, "node-a")
    await nodes(b, "node-b")
    owner, guest = await new_user(a, "Owner"), await new_user(b, "Guest")
    o, g = await connect(a, owner), await connect(b, guest)
    room = owner.room

    acks = await asyncio.gather(join(o, room), join(g, room))
    svc = a.app[SERVICES]
    assigned = await store.assigned_node(svc.redis, svc.keys, room)
    assert assigned is not None and assigned.node_id in {"node-a", "node-b"}
    assert [ack["rtpCapabilities"] for ack in acks] == [caps_of(assigned.node_id)] * 2
    assert (await svc.redis.get(svc.keys.room_media(room))).decode() == assigned.node_id
    other = "node-b" if assigned.node_id == "node-a" else "node-a"
    assert await node_rooms(a, assigned.node_id) == {room}
    assert await node_rooms(a, other) == set()


async def test_processes_placing_a_room_differently_at_once_agree_on_one_node(
    make_client: Any, nodes: NodeFactory
) -> None:
    # Placement itself, racing with different preferences (the rooms' region), so the two calls
    # would choose different nodes: SET NX makes one choice win and the other call return it.
    a, b = await engines(make_client)
    east, west = await nodes(a, "east", register=False), await nodes(b, "west", register=False)
    await east.register(region="eu")
    await west.register(region="us")
    sa, sb = a.app[SERVICES], b.app[SERVICES]
    stale_ms = int(sa.config.media_node_stale_seconds * 1000)
    for room in range(900_001, 900_011):
        now_ms = int(time.time() * 1000)
        placed = await asyncio.gather(
            store.place_room(sa.redis, sa.keys, room, "eu", now_ms, stale_ms),
            store.place_room(sb.redis, sb.keys, room, "us", now_ms, stale_ms),
        )
        winner = (await sa.redis.get(sa.keys.room_media(room))).decode()
        assert [n.node_id if n else None for n in placed] == [winner, winner]
    placed_on = {"east": await node_rooms(a, "east"), "west": await node_rooms(a, "west")}
    assert placed_on["east"] | placed_on["west"] == set(range(900_001, 900_011))
    assert placed_on["east"] & placed_on["west"] == set()


async def test_a_node_lost_on_one_process_moves_a_room_with_clients_on_the_other(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b = await engines(make_client)
    first_node = await nodes(a, "first")
    user = await new_user(b, "Listener")
    peer = await connect(b, user)
    assert (await join(peer, user.room))["rtpCapabilities"] == caps_of("first")

    await first_node.close()
    notice = (await peer.wait_for(RECONNECT))[0]
    assert notice == {"roomId": str(user.room), "reason": "node_lost"}
    svc = b.app[SERVICES]
    assert await store.get_node(svc.redis, svc.keys, "first") is None
    assert await store.assigned_node(svc.redis, svc.keys, user.room) is None
    assert lost_count(a, "disconnected") == 1
    unavailable = await peer.call("transport:create", {"roomId": user.room, "type": "consumer"})
    assert unavailable == {"success": False, "error": "Media unavailable"}

    second_node = await nodes(b, "second")
    again = await join(peer, user.room)
    assert again["rtpCapabilities"] == caps_of("second")
    created = await peer.call("transport:create", {"roomId": user.room, "type": "producer"})
    assert created["success"] is True and created["data"]["node"] == "second"
    assert [(r["method"], r["roomId"], r["userId"]) for r in second_node.requests] == [
        ("transport:create", str(user.room), user.id)]  # fmt: skip
    assert first_node.requests == []
    assert len(peer.events[RECONNECT]) == 1


async def test_a_node_whose_engine_died_is_swept_by_a_survivor(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b = await engines(make_client)
    rt_b = b.app[REALTIME]
    await nodes(a, "orphan")
    owner, guest = await new_user(b, "Owner"), await new_user(b, "Guest")
    o, g = await connect(b, owner), await connect(b, guest)
    for peer in (o, g):
        assert (await join(peer, owner.room))["rtpCapabilities"] == caps_of("orphan")
    assert await lost.sweep_lost_nodes(rt_b) == 0  # A is alive: nothing to do

    await die(a)
    assert await lost.sweep_lost_nodes(rt_b) == 1
    for peer in (o, g):
        assert (await peer.wait_for(RECONNECT))[0] == {"roomId": str(owner.room), "reason": "node_lost"}
    svc = b.app[SERVICES]
    assert [n.node_id for n in await store.all_nodes(svc.redis, svc.keys)] == []
    assert await store.assigned_node(svc.redis, svc.keys, owner.room) is None
    assert await node_rooms(b, "orphan") == set()
    assert lost_count(b, "engine_died") == 1
    assert await lost.sweep_lost_nodes(rt_b) == 0
    await asyncio.sleep(0.2)
    assert [len(peer.events[RECONNECT]) for peer in (o, g)] == [1, 1]


async def test_a_node_that_registered_again_through_a_survivor_is_not_swept(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b = await engines(make_client)
    rt_b = b.app[REALTIME]
    old = await nodes(a, "phoenix")
    user = await new_user(b, "Listener")
    peer = await connect(b, user)
    assert (await join(peer, user.room))["rtpCapabilities"] == caps_of("phoenix")
    svc = b.app[SERVICES]
    on_a = await store.get_node(svc.redis, svc.keys, "phoenix")
    assert on_a is not None and on_a.instance == a.app[REALTIME].instance_id

    await die(a)
    # The node notices its engine went away and registers again, through B, under the same id
    # (its old socket on A is still open: A's process never closed it).
    again = await nodes(b, "phoenix")
    before = await store.get_node(svc.redis, svc.keys, "phoenix")
    assert before is not None and before.instance == rt_b.instance_id and before.sid != on_a.sid
    assert await lost.sweep_lost_nodes(rt_b) == 0
    # A sweep that read the old registration before the node came back must not drop the new one.
    assert await lost.lose_node(rt_b, "phoenix", on_a.sid, "engine_died") is None
    # The old socket's heartbeats no longer count (A's process would not run them, but if it did) …
    assert await old.call("node:heartbeat", {"load": 3}) == {"success": False, "error": "Not registered"}
    # … nor must its disconnect drop the new registration, when A finally closes it.
    await old.close()
    await asyncio.sleep(0.5)
    after = await store.get_node(svc.redis, svc.keys, "phoenix")
    assert after is not None and (after.instance, after.sid) == (before.instance, before.sid)
    assigned = await store.assigned_node(svc.redis, svc.keys, user.room)
    assert assigned is not None and assigned.node_id == "phoenix"
    assert await node_rooms(b, "phoenix") == {user.room}
    assert peer.events[RECONNECT] == []
    assert sum(lost_count(app, reason) for app in (a, b) for reason in ("engine_died", "disconnected", "silent")) == 0
    # Requests now reach the node on its new socket.
    created = await peer.call("transport:create", {"roomId": user.room, "type": "consumer"})
    assert created["success"] is True
    assert [r["method"] for r in again.requests] == ["transport:create"]


async def test_a_silent_node_is_dropped_after_two_stale_periods(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    stale = 0.2
    a, b = await engines(make_client, media_node_stale_seconds=stale)
    rt_a = a.app[REALTIME]
    node = await nodes(a, "sleepy", register=False)
    registered_at = time.monotonic()
    await node.register()
    user = await new_user(b, "Listener")
    peer = await connect(b, user)
    assert (await join(peer, user.room))["rtpCapabilities"] == caps_of("sleepy")
    assert await lost.sweep_lost_nodes(rt_a) == 0

    deadline = registered_at + 2.5
    dropped = 0
    while not dropped and time.monotonic() < deadline:
        await asyncio.sleep(0.03)
        dropped = await lost.sweep_lost_nodes(rt_a)
        swept_at = time.monotonic()
    assert dropped == 1
    # Stale after one period, but dropped only after LOST_AFTER_STALE_PERIODS of them.
    assert lost.LOST_AFTER_STALE_PERIODS == 2
    assert swept_at - registered_at > lost.LOST_AFTER_STALE_PERIODS * stale

    assert (await peer.wait_for(RECONNECT))[0] == {"roomId": str(user.room), "reason": "node_lost"}
    assert lost_count(a, "silent") == 1
    assert lost_count(a, "engine_died") == 0
    metrics = await scrape(a)
    assert sample(metrics, "flylive_media_nodes_lost_total", reason="silent") == 1
    svc = a.app[SERVICES]
    assert await store.get_node(svc.redis, svc.keys, "sleepy") is None
    # The node wakes up: it is told it is no longer registered, and may register again.
    assert await node.call("node:heartbeat", {"load": 1}) == {"success": False, "error": "Not registered"}
    await node.register()
    assert (await node.call("node:heartbeat", {"load": 1}))["success"] is True


async def test_two_processes_sweeping_a_silent_node_at_once_drop_it_once(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    stale = 0.2
    a, b = await engines(make_client, media_node_stale_seconds=stale)
    rt_a, rt_b = a.app[REALTIME], b.app[REALTIME]
    node = await nodes(a, "sleepy")
    owner, guest = await new_user(a, "Owner"), await new_user(b, "Guest")
    o, g = await connect(a, owner), await connect(b, guest)
    for peer in (o, g):
        assert (await node.call("node:heartbeat", {"load": 0}))["success"] is True  # fresh for placement
        assert (await join(peer, owner.room))["rtpCapabilities"] == caps_of("sleepy")

    await asyncio.sleep(lost.LOST_AFTER_STALE_PERIODS * stale + 0.1)
    results = await asyncio.gather(*(lost.sweep_lost_nodes(rt) for rt in (rt_a, rt_b, rt_a, rt_b)))
    assert sorted(results) == [0, 0, 0, 1]
    for peer in (o, g):
        assert (await peer.wait_for(RECONNECT))[0] == {"roomId": str(owner.room), "reason": "node_lost"}
    await asyncio.sleep(0.3)
    assert [len(peer.events[RECONNECT]) for peer in (o, g)] == [1, 1]
    assert lost_count(a, "silent") + lost_count(b, "silent") == 1


async def test_two_survivors_sweeping_a_dead_engines_node_at_once_drop_it_once(
    make_client: Any, connect: Any, nodes: NodeFactory
) -> None:
    a, b, c = await engines(make_client, 3)
    await nodes(a, "orphan")
    owner, guest = await new_user(b, "Owner"), await new_user(c, "Guest")
    o, g = await connect(b, owner), await connect(c, guest)
    for peer in (o, g):
        assert (await join(peer, owner.room))["rtpCapabilities"] == caps_of("orphan")

    await die(a)
    sweepers = [b.app[REALTIME], c.app[REALTIME]] * 2
    results = await asyncio.gather(*(lost.sweep_lost_nodes(rt) for rt in sweepers))
    assert sorted(results) == [0, 0, 0, 1]
    for peer in (o, g):
        assert (await peer.wait_for(RECONNECT))[0] == {"roomId": str(owner.room), "reason": "node_lost"}
    await asyncio.sleep(0.3)
    assert [len(peer.events[RECONNECT]) for peer in (o, g)] == [1, 1]
    assert lost_count(b, "engine_died") + lost_count(c, "engine_died") == 1


async def test_a_heartbeat_racing_the_sweep_does_not_bring_a_dropped_node_back(
    make_client: Any, connect: Any, nodes: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = 0.2
    a, b = await engines(make_client, media_node_stale_seconds=stale)
    rt_b = b.app[REALTIME]
    node = await nodes(a, "sleepy")
    user = await new_user(b, "Listener")
    peer = await connect(b, user)
    assert (await node.call("node:heartbeat", {"load": 0}))["success"] is True  # fresh for placement
    assert (await join(peer, user.room))["rtpCapabilities"] == caps_of("sleepy")
    await asyncio.sleep(lost.LOST_AFTER_STALE_PERIODS * stale + 0.1)

    # The node wakes up just as B sweeps: B drops it between the heartbeat's read and its write.
    real_get_node = store.get_node
    swept: list[int] = []

    async def get_node_then_sweep(redis: Any, keys: Any, node_id: str) -> Any:
        found = await real_get_node(redis, keys, node_id)
        if not swept:
            swept.append(await lost.sweep_lost_nodes(rt_b))
        return found

    monkeypatch.setattr(store, "get_node", get_node_then_sweep)
    beat = await node.call("node:heartbeat", {"load": 1})
    monkeypatch.undo()
    assert swept == [1]
    assert (await peer.wait_for(RECONNECT))[0] == {"roomId": str(user.room), "reason": "node_lost"}
    svc = b.app[SERVICES]
    # Dropped, its rooms released and their clients told: the node must not be left registered
    # (with none of its rooms) by a heartbeat it was never told failed.
    registered = await store.get_node(svc.redis, svc.keys, "sleepy")
    assert (beat, registered) == ({"success": False, "error": "Not registered"}, None)
