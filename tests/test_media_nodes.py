"""Media nodes on `/media`: service credentials, registration, heartbeats, room placement.

The node here is a double written with python-socketio's client speaking the node protocol
(docs/media-node-protocol.md), standing in for the Mediasoup process.
"""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from engine.appkeys import SERVICES
from engine.media import store
from tests.conftest import bearer
from tests.sockets import Peer, url_of

SECRET = "media-node-secret-" + "m" * 32
CAPS = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2}]}


class NodeDouble:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.errors: list[Any] = []
        self.sio.on("connect_error", self.errors.append, namespace="/media")

    async def connect(self, url: str, token: str) -> None:
        await self.sio.connect(url, namespaces=["/media"], auth={"token": token}, transports=["websocket"])

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace="/media", timeout=5)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


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

        owner = await (await client.post("/api/register", json=_registration())).json()
        room_id = (await (await client.get("/api/user", headers=bearer(owner["token"]))).json())["room"]["id"]
        patch = await client.patch(f"/api/v1/rooms/{room_id}", headers=bearer(owner["token"]), json={"region": "us"})
        assert patch.status == 200
        peer = await Peer().connect(url, owner["token"])
        try:
            # The room's region is "us", and west-1 is the only node there, though busier.
            ack = await peer.call("room:join", {"roomId": room_id})
            assert ack["rtpCapabilities"]["node"] == "west-1"
            await peer.call("room:leave", {"roomId": room_id})
            # west-1 goes away: the room is placed again, on the node that is left.
            await west.close()
            for _ in range(50):
                if await store.get_node(svc.redis, svc.keys, "west-1") is None:
                    break
                await _sleep()
            again = await peer.call("room:join", {"roomId": room_id})
            assert again["rtpCapabilities"]["node"] == "east-1"
        finally:
            await peer.close()
    finally:
        for node in (intruder, east, west):
            await node.close()


async def test_without_nodes_rooms_still_work(client: Any, register: Any) -> None:
    owner = await register()
    room_id = (await (await client.get("/api/user", headers=bearer(owner["token"]))).json())["room"]["id"]
    peer = await Peer().connect(url_of(client), owner["token"])
    try:
        ack = await peer.call("room:join", {"roomId": room_id})
        assert ack["success"] is True and ack["rtpCapabilities"] is None
    finally:
        await peer.close()


def _registration() -> dict[str, Any]:
    from tests.conftest import registration

    return registration()


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)
