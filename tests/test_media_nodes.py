"""Media nodes on `/media`: service credentials, registration, heartbeats, room placement.

The node here is a double written with python-socketio's client speaking the node protocol
(docs/media-node-protocol.md), standing in for the Mediasoup process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
import socketio

from engine.appkeys import SERVICES
from engine.media import store
from engine.messages import decode_event
from tests.helpers import bearer, join, new_user
from tests.sockets import Peer, close_client, url_of

SECRET = "media-node-secret-" + "m" * 32
CAPS = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]}


class NodeDouble:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.errors: list[Any] = []
        self.commands: list[dict[str, Any]] = []  # every media:command received
        self.sio.on("connect_error", self.errors.append, namespace="/media")
        self.sio.on("media:command", self.commands.append, namespace="/media")

    async def connect(self, url: str, token: str) -> None:
        await self.sio.connect(url, namespaces=["/media"], auth={"token": token}, transports=["websocket"])

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace="/media", timeout=5)

    async def close(self) -> None:
        await close_client(self.sio)


async def test_nodes_register_and_rooms_are_placed(make_client: Any) -> None:
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    intruder, east, west = NodeDouble(), NodeDouble(), NodeDouble()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await intruder.connect(url, "not-the-secret")
        assert not intruder.sio.connected
        await east.connect(url, SECRET)
        await west.connect(url, SECRET)
        bad = await east.call("node:register", {"nodeId": "east-1", "region": "eu"})
        assert bad["success"] is False and bad["error"] == "Invalid payload"
        unregistered = await west.call("node:heartbeat", {"load": 1})
        assert unregistered == {"success": False, "error": "Not registered"}
        for node, node_id, region in ((east, "east-1", "eu"), (west, "west-1", "us")):
            ack = await node.call("node:register", {"nodeId": node_id, "region": region, "capacity": 10,
                                                    "rtpCapabilities": {**CAPS, "node": node_id}})  # fmt: skip
            assert ack["success"] is True
        svc = client.app[SERVICES]
        assert sorted(n.node_id for n in await store.all_nodes(svc.redis, svc.keys)) == ["east-1", "west-1"]
        assert (await west.call("node:heartbeat", {"load": 9}))["success"] is True

        owner = await new_user(client)
        room_id = owner.room
        patch = await client.patch(f"/api/v1/rooms/{room_id}", headers=bearer(owner.token), json={"region": "us"})
        assert patch.status == 200
        peer = await Peer().connect(url, owner.token)
        try:
            # The room's region is "us", and west-1 is the only node there, though busier.
            ack = await join(peer, room_id)
            assert ack["rtpCapabilities"]["node"] == "west-1"
            # west-1 goes away: its room's clients are told to set media up again, and the room is
            # placed again, on the node that is left.
            await west.close()
            notice = (await peer.wait_for("media:reconnect"))[0]
            assert notice == {"roomId": str(room_id), "reason": "node_lost"}
            decode_event("media:reconnect", notice)
            assert await store.get_node(svc.redis, svc.keys, "west-1") is None
            again = await join(peer, room_id)
            assert again["rtpCapabilities"]["node"] == "east-1"
        finally:
            await peer.close()
    finally:
        for node in (intruder, east, west):
            await node.close()


async def test_the_register_ack_lists_the_rooms_a_node_keeps(make_client: Any) -> None:
    """A node that reconnects before its old socket's close is seen keeps its rooms (media flows on,
    nobody is told to reconnect); once dropped, it has none, and its ack says so."""
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    svc = client.app[SERVICES]
    first, second, third = NodeDouble(), NodeDouble(), NodeDouble()
    owner = await new_user(client)
    room_id = owner.room
    peer = await Peer().connect(url, owner.token)
    registration = {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS}
    try:
        await first.connect(url, SECRET)
        assert (await first.call("node:register", registration))["rooms"] == []
        assert (await join(peer, room_id))["rtpCapabilities"] == CAPS
        await second.connect(url, SECRET)
        assert (await second.call("node:register", registration))["rooms"] == [str(room_id)]
        await first.close()  # the old socket's close, seen after the new registration: nothing moves
        await _sleep_for(0.3)
        assert "media:reconnect" not in peer.events
        kept = await store.assigned_node(svc.redis, svc.keys, room_id)
        assert kept is not None and kept.node_id == "n1"

        from engine.appkeys import REALTIME
        from engine.media.namespace import observe_registry
        from tests.test_ops import sample, scrape

        await observe_registry(client.app[REALTIME])
        assert (await second.call("producer:new", {"roomId": "x"}))["error"] == "Invalid payload"
        metrics = await scrape(client)
        assert sample(metrics, "flylive_media_nodes", state="live") == 1
        assert sample(metrics, "flylive_media_nodes", state="stale") == 0
        assert sample(metrics, "flylive_media_rooms_placed") == 1
        assert sample(metrics, "flylive_media_node_reports_total", event="node:register", result="ok") == 2
        assert sample(metrics, "flylive_media_node_reports_total", event="producer:new", result="invalid") == 1

        await second.close()
        assert (await peer.wait_for("media:reconnect"))[0] == {"roomId": str(room_id), "reason": "node_lost"}
        await third.connect(url, SECRET)
        assert (await third.call("node:register", registration))["rooms"] == []
        # A report about a room it no longer holds (its router was closed on release) reaches nobody.
        late = {"roomId": str(room_id), "producerId": "late", "userId": 1, "source": "mic"}
        assert (await third.call("producer:closed", late))["error"] == "Room not on this node"
    finally:
        await peer.close()
        for node in (first, second, third):
            await node.close()


async def test_a_room_pointing_at_a_vanished_node_is_placed_again(make_client: Any) -> None:
    """A placement naming a node no longer registered is replaced, by compare-and-delete."""
    client = await make_client(media_node_secrets=(SECRET,))
    svc = client.app[SERVICES]
    node = NodeDouble()
    try:
        await node.connect(url_of(client), SECRET)
        await node.call("node:register", registration_of("n1"))
        await svc.redis.set(svc.keys.room_media(77), "ghost")
        now_ms = int(time.time() * 1000)
        placed = await store.place_room(svc.redis, svc.keys, 77, None, now_ms, 15_000)
        assert placed is not None and placed.node_id == "n1"
        assert await store.room_node_id(svc.redis, svc.keys, 77) == "n1"
        again = await store.place_room(svc.redis, svc.keys, 77, None, now_ms, 15_000)  # stays put
        assert again is not None and again.node_id == "n1"
    finally:
        await node.close()


async def test_without_nodes_rooms_still_work(client: Any) -> None:
    owner = await new_user(client)
    room_id = owner.room
    peer = await Peer().connect(url_of(client), owner.token)
    try:
        ack = await join(peer, room_id)
        assert ack["success"] is True and ack["rtpCapabilities"] is None
    finally:
        await peer.close()


def registration_of(node_id: str) -> dict[str, Any]:
    return {"nodeId": node_id, "region": "eu", "capacity": 5, "rtpCapabilities": CAPS}


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_requests_are_relayed_to_the_rooms_node(make_client: Any) -> None:
    client = await make_client(media_node_secrets=(SECRET,), media_request_timeout_seconds=1.0,
                               turn_urls=("turn:turn.example.com:3478",), turn_secret="t" * 24)  # fmt: skip
    url = url_of(client)
    node = NodeDouble()
    requests: list[dict[str, Any]] = []
    silent = {"consumer:resume"}

    async def on_request(data: dict[str, Any]) -> Any:
        requests.append(data)
        if data["method"] in silent:
            await _sleep_for(2)  # longer than the engine waits
        if data["method"] == "transport:connect" and data["params"]["transportId"] == "missing":
            return {"ok": False, "error": "Transport not found"}
        return {"ok": True, "data": {"id": f"{data['method']}-{len(requests)}"}}

    node.sio.on("media:request", on_request, namespace="/media")
    owner = await new_user(client)
    guest = await new_user(client)
    room_id, owner_id = owner.room, owner.id
    a, b = await Peer().connect(url, owner.token), await Peer().connect(url, guest.token)
    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        outside = await a.call("transport:create", {"roomId": room_id, "type": "consumer"})
        assert outside == {"success": False, "error": "Not in room"}
        assert (await join(a, room_id))["rtpCapabilities"] == CAPS
        await join(b, room_id)

        created = await a.call("transport:create", {"roomId": room_id, "type": "consumer"})
        assert created["success"] is True and created["data"]["id"].startswith("transport:create")
        stun, turn = created["data"]["iceServers"]
        assert stun == {"urls": ["stun:stun.cloudflare.com:3478"]}
        # The TURN REST credential coturn's use-auth-secret checks: <expiry>:<user>, HMAC-SHA1 by the secret.
        expiry, user = turn["username"].split(":")
        assert int(user) == owner_id and 86400 - 5 <= int(expiry) - time.time() <= 86400
        digest = hmac.new(b"t" * 24, turn["username"].encode(), hashlib.sha1).digest()
        assert turn == {"urls": ["turn:turn.example.com:3478"], "username": turn["username"],
                        "credential": base64.b64encode(digest).decode()}  # fmt: skip
        assert (await a.call("transport:create", {"roomId": room_id, "type": "producer"}))["success"]
        third = await a.call("transport:create", {"roomId": room_id, "type": "producer"})
        assert third == {"success": False, "error": "Transport limit reached"}
        missing = await a.call("transport:connect", {"roomId": room_id, "transportId": "missing", "dtlsParameters": {}})
        assert missing == {"success": False, "error": "Transport not found"}

        produce = {"roomId": room_id, "transportId": "t1", "rtpParameters": {"codecs": []}}
        assert (await a.call("audio:produce", produce)) == {"success": False, "error": "You are not seated"}
        assert (await a.call("seat:take", {"roomId": room_id, "seatIndex": 0}))["success"]
        produced = await a.call("audio:produce", produce)
        assert produced["success"] is True
        sent = requests[-1]
        assert (sent["method"], sent["userId"], sent["roomId"], sent["params"]["source"]) == (
            "audio:produce", owner_id, str(room_id), "mic")  # fmt: skip
        assert (await a.call("seat:mute", {"roomId": room_id, "userId": owner_id}))["success"]
        assert (await a.call("audio:produce", produce)) == {"success": False, "error": "Not authorized"}

        muted = await a.call("audio:selfMute", {"roomId": room_id, "producerId": "p1"})
        assert muted["success"] is True and requests[-1]["method"] == "producer:pause"
        heard = [e for e in await b.wait_for("seat:userMuted", 2) if e.get("selfMuted")]
        assert [{k: v for k, v in e.items() if k != "seq"} for e in heard] == [
            {"userId": owner_id, "isMuted": True, "selfMuted": True}
        ]
        assert heard[0]["seq"] > (await b.wait_for("seat:userMuted", 2))[0]["seq"]  # sequenced after the mute

        restarted = await a.call("transport:restartIce", {"roomId": room_id, "transportId": "t1"})
        assert restarted["success"] is True and requests[-1]["method"] == "transport:restartIce"
        assert requests[-1]["params"] == {"transportId": "t1"}
        consume = {"roomId": room_id, "transportId": "t2", "producerId": "p9", "rtpCapabilities": CAPS}
        assert (await b.call("audio:consume", consume))["success"] is True
        assert (requests[-1]["method"], requests[-1]["params"]) == (
            "audio:consume", {"transportId": "t2", "producerId": "p9", "rtpCapabilities": CAPS})  # fmt: skip
        held = await a.call("audio:selfUnmute", {"roomId": room_id, "producerId": "p1"})
        assert held == {"success": False, "error": "Not authorized"}  # the seat's mute holds
        assert requests[-1]["method"] == "audio:consume"  # refused, not relayed
        assert (await a.call("seat:unmute", {"roomId": room_id, "userId": owner_id}))["success"]
        unmuted = await a.call("audio:selfUnmute", {"roomId": room_id, "producerId": "p1"})
        assert unmuted["success"] is True and requests[-1]["method"] == "producer:resume"
        heard = [e for e in await b.wait_for("seat:userMuted", 4) if e.get("selfMuted")]
        assert {k: v for k, v in heard[-1].items() if k != "seq"} == {"userId": owner_id, "isMuted": False,
                                                                     "selfMuted": True}  # fmt: skip
        bad = await a.call("audio:consume", {"roomId": room_id, "transportId": "t2", "producerId": "x" * 65,
                                             "rtpCapabilities": CAPS})  # fmt: skip
        assert bad["success"] is False and requests[-1]["method"] == "producer:resume"  # refused, not relayed

        slow = await a.call("consumer:resume", {"roomId": room_id, "consumerId": "c1"})
        assert slow == {"success": False, "error": "Media request timed out"}
        assert all(r["requestId"] for r in requests) and len({r["requestId"] for r in requests}) == len(requests)
    finally:
        await a.close()
        await b.close()
        await node.close()


async def commands_named(commands: list[dict[str, Any]], name: str, count: int) -> list[dict[str, Any]]:
    """Wait until the node double has received `count` media:commands named `name`; return them."""
    for _ in range(60):
        found = [c for c in commands if c["command"] == name]
        if len(found) >= count:
            return found
        await _sleep()
    raise AssertionError(f"{name} x{count} not received: {commands}")


async def test_setting_up_audio_in_a_full_room_is_not_rate_limited(make_client: Any) -> None:
    """A listener joining a room of 30 speakers and music sends ~66 media events at once: they fit the
    socket's budget (100) and a per-user media bucket of their own, which still has a limit."""
    import asyncio

    from engine.config import Config, Rate

    defaults = Config()  # the production limits, not the suite's raised ones
    client = await make_client(media_node_secrets=(SECRET,), socket_event_rate_limit=defaults.socket_event_rate_limit,
                               media_event_rate_limit=defaults.media_event_rate_limit)  # fmt: skip
    url = url_of(client)
    node = NodeDouble()

    async def on_request(data: dict[str, Any]) -> Any:
        return {"ok": True, "data": {"id": data["requestId"]}}

    node.sio.on("media:request", on_request, namespace="/media")
    owner = await new_user(client)
    room_id = owner.room
    a = await Peer().connect(url, owner.token)
    try:
        await node.connect(url, SECRET)
        await node.call("node:register", registration_of("n1"))
        await join(a, room_id)
        events = [("transport:create", {"roomId": room_id, "type": t}) for t in ("consumer", "producer")]
        events += [("transport:connect", {"roomId": room_id, "transportId": t, "dtlsParameters": {}})
                   for t in ("t1", "t2")]  # fmt: skip
        for i in range(31):
            events.append(("audio:consume", {"roomId": room_id, "transportId": "t1", "producerId": f"p{i}",
                                             "rtpCapabilities": CAPS}))  # fmt: skip
            events.append(("consumer:resume", {"roomId": room_id, "consumerId": f"c{i}"}))
        acks = await asyncio.gather(*(a.call(name, data) for name, data in events))
        assert [ack for ack in acks if not ack["success"]] == []
        assert len(acks) == 66
        assert (await a.call("chat:message", {"roomId": room_id, "content": "hi"}))["success"]
    finally:
        await a.close()
        await node.close()

    tight = await make_client(media_node_secrets=(SECRET,), media_event_rate_limit=Rate(3, 60))
    other = await new_user(tight)
    other_room = other.room
    b = await Peer().connect(url_of(tight), other.token)
    try:
        await join(b, other_room)
        resume = {"roomId": other_room, "consumerId": "c1"}
        answers = [await b.call("consumer:resume", resume) for _ in range(4)]
        assert [x["error"] for x in answers[:3]] == ["Media unavailable"] * 3  # allowed through, no node
        assert answers[3]["error"] == "Too many requests" and answers[3]["retry_after"] > 0
    finally:
        await b.close()


async def _sleep_for(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_producer_state_and_seat_commands(make_client: Any) -> None:
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    node = NodeDouble()
    commands = node.commands
    owner = await new_user(client)
    guest = await new_user(client)
    room_id = owner.room
    a, b = await Peer().connect(url, owner.token), await Peer().connect(url, guest.token)
    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        assert (await join(a, room_id))["existingProducers"] == []
        await join(b, room_id)
        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": 2}))["success"]
        started = {"roomId": str(room_id), "producerId": "p-1", "userId": guest.id, "source": "mic"}
        assert (await node.call("producer:new", started))["success"] is True
        new = (await a.wait_for("audio:newProducer"))[0]
        assert new == {"producerId": "p-1", "userId": guest.id, "kind": "audio", "source": "mic"}
        late = await Peer().connect(url, owner.token)
        try:
            snapshot = await join(late, room_id)
            expected_producer = {"producerId": "p-1", "userId": guest.id, "source": "mic", "paused": False}
            assert snapshot["existingProducers"] == [expected_producer]
        finally:
            await late.close()
        speaking = {"roomId": str(room_id), "userIds": [guest.id]}
        assert (await node.call("speakers:active", speaking))["success"]
        assert (await a.wait_for("speaker:active"))[0]["activeSpeakers"] == [guest.id]

        assert (await a.call("seat:mute", {"roomId": room_id, "userId": guest.id}))["success"]
        assert (await b.call("seat:leave", {"roomId": room_id}))["success"]
        for _ in range(40):
            if len(commands) >= 2:
                break
            await _sleep()
        expected = [("pauseUser", guest.id, str(room_id)), ("closeUserProducers", guest.id, str(room_id))]
        assert [(c["command"], c["userId"], c["roomId"]) for c in commands[:2]] == expected
        assert (await node.call("producer:closed", started))["success"]
        closed = (await a.wait_for("audio:producerClosed"))[0]
        assert closed == {"producerId": "p-1", "userId": guest.id}
        for peer in (a, b):
            for name, payloads in peer.events.items():
                for payload in payloads:
                    decode_event(name, payload)
    finally:
        await a.close()
        await b.close()
        await node.close()


async def test_being_displaced_or_evicted_from_a_seat_closes_the_producers(make_client: Any) -> None:
    """The legacy server left these producers open (realtime-contract §12.5): an owner's seat:assign
    onto an occupied seat, and a seat-count shrink, take the occupant off the air."""
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    node = NodeDouble()
    commands = node.commands
    owner = await new_user(client)
    guest = await new_user(client)
    room_id = owner.room
    guest_id = guest.id
    owner_id = owner.id
    a, b = await Peer().connect(url, owner.token), await Peer().connect(url, guest.token)

    async def closed_for(count: int) -> list[int]:
        return [c["userId"] for c in await commands_named(commands, "closeUserProducers", count)]

    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        for peer in (a, b):
            await join(peer, room_id)
        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": 3}))["success"]
        assert (await a.call("seat:assign", {"roomId": room_id, "userId": owner_id, "seatIndex": 3}))["success"]
        assert await closed_for(1) == [guest_id]

        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": 9}))["success"]
        shrink = await client.patch(f"/api/v1/rooms/{room_id}", json={"seat_count": 8}, headers=bearer(owner.token))
        assert shrink.status == 200
        assert await closed_for(2) == [guest_id, guest_id]
        # The owner, still seated below the new count, keeps their producers.
        assert owner_id not in await closed_for(2)
    finally:
        await a.close()
        await b.close()
        await node.close()


async def test_transport_lifecycle_and_producer_pause_state(make_client: Any) -> None:
    """transport:closed gives an allowance back; leaving or re-joining closes the user's transports on
    the node; producer pause reports show in existingProducers; closing the room closes the router and
    unplaces the room."""
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    svc = client.app[SERVICES]
    node = NodeDouble()
    commands = node.commands
    created: list[str] = []

    async def on_request(data: dict[str, Any]) -> Any:
        created.append(f"t{len(created) + 1}")
        return {"ok": True, "data": {"id": created[-1]}}

    node.sio.on("media:request", on_request, namespace="/media")
    owner = await new_user(client)
    room_id, user_id = owner.room, owner.id
    a = await Peer().connect(url, owner.token)
    create = {"roomId": room_id, "type": "consumer"}

    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        await join(a, room_id)
        assert (await a.call("transport:create", create))["success"]
        assert (await a.call("transport:create", create))["success"]
        assert (await a.call("transport:create", create))["error"] == "Transport limit reached"
        closed = {"roomId": str(room_id), "transportId": "t1", "userId": user_id}
        answer = await node.call("transport:closed", closed)
        assert answer["success"] is True, answer
        assert (await a.call("transport:create", create))["success"]  # the closed one's place
        bad = await node.call("transport:closed", {"roomId": "x", "transportId": "", "userId": 0})
        assert bad["success"] is False and bad["error"] == "Invalid payload"

        producer = {"roomId": str(room_id), "producerId": "p1", "userId": user_id, "source": "mic"}
        assert (await node.call("producer:new", producer))["success"]
        assert (await node.call("producer:paused", producer))["success"]
        snapshot = (await join(a, room_id))["existingProducers"]
        assert snapshot == [{"producerId": "p1", "userId": user_id, "source": "mic", "paused": True}]
        # The re-join above started the allowance again and closed the earlier transports on the node.
        assert [c["userId"] for c in await commands_named(commands, "closeUserTransports", 1)] == [user_id]
        assert await svc.redis.hget(svc.keys.room_transports(room_id), str(user_id)) is None
        assert (await node.call("producer:resumed", producer))["success"]
        assert (await node.call("producer:closed", producer))["success"]
        # A pause reported after the close must not bring the producer back.
        assert (await node.call("producer:paused", producer))["success"]
        assert (await join(a, room_id))["existingProducers"] == []

        assert (await a.call("transport:create", create))["success"]
        assert (await a.call("room:leave", {"roomId": room_id}))["success"]
        assert len(await commands_named(commands, "closeUserTransports", 2)) == 2

        await join(a, room_id)
        assert (await a.call("room:close", {"roomId": room_id}))["success"]
        assert [c["roomId"] for c in await commands_named(commands, "closeRouter", 1)] == [str(room_id)]
        assert await store.assigned_node(svc.redis, svc.keys, room_id) is None
        assert await svc.redis.smembers(svc.keys.node_rooms("n1")) == set()
    finally:
        await a.close()
        await node.close()


async def test_producer_reports_handled_in_any_order_leave_the_room_consistent(make_client: Any) -> None:
    """Each node report runs as its own task in the engine, so a producer's close can be handled
    before its start: neither is announced and no producer is left listed. A repeated start is
    announced once. A storm of start/close pairs sent without waiting ends with every listener
    told of each producer at most once, each close after its start, and nothing left listed."""
    client = await make_client(media_node_secrets=(SECRET,))
    url = url_of(client)
    node = NodeDouble()
    owner = await new_user(client)
    room_id, user_id = owner.room, owner.id
    a = await Peer().connect(url, owner.token)

    def report(producer_id: str) -> dict[str, Any]:
        return {"roomId": str(room_id), "producerId": producer_id, "userId": user_id, "source": "mic"}

    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        await join(a, room_id)
        assert (await node.call("producer:closed", report("early")))["success"]
        assert (await node.call("producer:new", report("early")))["success"]
        assert (await node.call("producer:paused", report("early")))["success"]
        for _ in range(2):
            assert (await node.call("producer:new", report("twice")))["success"]
        assert (await a.wait_for("audio:newProducer"))[0]["producerId"] == "twice"
        listed = (await join(a, room_id))["existingProducers"]
        assert [p["producerId"] for p in listed] == ["twice"]
        assert (await node.call("producer:closed", report("twice")))["success"]
        await a.wait_for("audio:producerClosed")

        other = NodeDouble()  # a node the room is not on speaks for it: refused, and nobody hears
        try:
            await other.connect(url, SECRET)
            assert (await other.call("node:register", {**registration_of("n2"), "region": "us"}))["success"]
            refused = {"success": False, "error": "Room not on this node"}
            assert await other.call("producer:new", report("stray")) == refused
            assert await other.call("producer:closed", report("twice")) == refused
            assert await other.call("speakers:active", {"roomId": str(room_id), "userIds": [user_id]}) == refused
            closed = {"roomId": str(room_id), "transportId": "t1", "userId": user_id}
            assert await other.call("transport:closed", closed) == refused
        finally:
            await other.close()

        pairs = 60
        for i in range(pairs):  # as fast as the socket takes them, no waiting for acks
            await node.sio.emit("producer:new", report(f"s{i}"), namespace="/media")
            await node.sio.emit("producer:closed", report(f"s{i}"), namespace="/media")
        for _ in range(100):
            if not await store.room_producers(client.app[SERVICES].redis, client.app[SERVICES].keys, room_id):
                break
            await _sleep()
        await _sleep_for(0.3)  # the last emits reach the listener
        producer_events = ("audio:newProducer", "audio:producerClosed")
        order = [(event, data["producerId"]) for event, data in a.timeline if event in producer_events]
        assert not any(producer in ("early", "stray") for _, producer in order)
        assert "speaker:active" not in a.events
        assert [p for e, p in order if e == "audio:newProducer"].count("twice") == 1
        assert len(order) == len(set(order))  # nobody is told anything twice
        for event, producer in order:  # a close only of a producer announced before it
            if event == "audio:producerClosed":
                assert order.index(("audio:newProducer", producer)) < order.index((event, producer))
        assert (await join(a, room_id))["existingProducers"] == []
    finally:
        await a.close()
        await node.close()


async def test_routers_of_empty_rooms_are_closed_after_the_idle_time(make_client: Any) -> None:
    from engine.appkeys import REALTIME, ROOMS
    from engine.media.idle import release_idle_rooms

    client = await make_client(media_node_secrets=(SECRET,), media_room_idle_seconds=0.3)
    url, svc, rt = url_of(client), client.app[SERVICES], client.app[REALTIME]
    node = NodeDouble()
    commands = node.commands
    first = await new_user(client)
    second = await new_user(client)
    empty_room = first.room
    busy_room = second.room
    a, b = await Peer().connect(url, first.token), await Peer().connect(url, second.token)
    try:
        await node.connect(url, SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        for peer, room in ((a, empty_room), (b, busy_room)):
            assert (await join(peer, room))["rtpCapabilities"] == CAPS
        assert (await a.call("room:leave", {"roomId": empty_room}))["success"]
        assert await release_idle_rooms(rt, client.app[ROOMS].state) == 0  # empty from now on: stamped, not closed yet
        await _sleep_for(0.4)
        assert await release_idle_rooms(rt, client.app[ROOMS].state) == 1
        assert await release_idle_rooms(rt, client.app[ROOMS].state) == 0
        for _ in range(40):
            if commands:
                break
            await _sleep()
        assert [(c["command"], c["roomId"]) for c in commands] == [("closeRouter", str(empty_room))]
        assert await store.assigned_node(svc.redis, svc.keys, empty_room) is None
        assert (await store.assigned_node(svc.redis, svc.keys, busy_room)) is not None
        assert await store.node_room_ids(svc.redis, svc.keys, "n1") == [busy_room]
        # Coming back places the room again.
        assert (await join(a, empty_room))["rtpCapabilities"] == CAPS
        assert await store.node_room_ids(svc.redis, svc.keys, "n1") == sorted([empty_room, busy_room])
    finally:
        await a.close()
        await b.close()
        await node.close()


def test_node_protocol_is_in_the_asyncapi_file() -> None:
    from pathlib import Path

    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml").read_text())
    channel = doc["channels"]["/media"]
    published = {
        doc["components"]["messages"][m["$ref"].rsplit("/", 1)[1]]["name"]
        for m in channel["publish"]["message"]["oneOf"]
    }
    received = {
        doc["components"]["messages"][m["$ref"].rsplit("/", 1)[1]]["name"]
        for m in channel["subscribe"]["message"]["oneOf"]
    }
    from engine.app import create_app
    from engine.appkeys import REALTIME
    from engine.config import Config

    app = create_app(Config(database_url="postgresql://unused", redis_url="redis://unused", jwt_secret="x" * 40))
    handled = set(app[REALTIME].sio.handlers["/media"]) - {"connect", "disconnect"}
    assert published == handled  # every event a node may send is documented, and nothing else
    assert {"node:register", "node:heartbeat", "producer:new", "transport:closed"} <= published
    assert received == {"media:request", "media:command"}
    assert set(doc["components"]["schemas"]["NodeRegister"]["required"]) >= {"nodeId", "region", "capacity"}
