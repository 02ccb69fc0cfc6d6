"""The delivery fast path (engine/realtime/fastpath.py, manager.py; issue 11 §1, §2, §7).

Real sockets throughout: python-socketio clients (WebSocket and long-polling), and a hand-written
WebSocket client for the socket that stops reading. Every test checks what arrived, and the
manager's counters say which path delivered it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import aiohttp
import pytest
import socketio
from engineio import packet as eio_packet
from redis.asyncio import Redis

from engine.appkeys import CONFIG, REALTIME, ROOMS, SERVICES
from engine.realtime.manager import FastRedisManager
from engine.realtime.server import RealtimeServer
from engine.rooms.model import room_channel
from tests.helpers import join, new_user
from tests.sockets import Peer, close_client, open_peers, url_of

ROOM = "fast-path-test-room"


def realtime(client: Any) -> RealtimeServer:
    rt: RealtimeServer = client.app[REALTIME]
    return rt


def manager(client: Any) -> FastRedisManager:
    mgr: FastRedisManager = realtime(client).sio.manager
    return mgr


@pytest.fixture
async def connect() -> Any:
    """Sockets as the suite's fixture opens them, without its schema check: these tests send events
    of their own."""
    async with open_peers(check_schemas=False) as open_peer:
        yield open_peer


async def into_room(client: Any, peer: Peer, room: str = ROOM) -> str:
    """Put the peer's socket into a Socket.IO room on the server; its sid."""
    sid = peer.sio.get_sid()
    assert sid is not None
    await realtime(client).sio.enter_room(sid, room)
    return sid


async def until(condition: Any) -> None:
    """Wait for `condition()` to hold (a test that never gets there fails after a few seconds)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def engineio_socket(client: Any, sid: str) -> Any:
    sio = realtime(client).sio
    return sio.eio.sockets[sio.manager.eio_sid_from_sid(sid, "/")]


async def test_a_broadcast_keeps_its_place_among_the_sockets_own_packets(client: Any, connect: Any) -> None:
    user = await new_user(client)
    peer = await connect(client, user)
    sid = await into_room(client, peer)
    eio = engineio_socket(client, sid)
    fast_before = manager(client).fast_deliveries
    # python-engineio's own sends (acks, pings) are written as they are put, and the second of two
    # broadcasts in a row waits for the coalescing window: what is sent after it must wait too.
    await eio.send(eio_packet.Packet(eio_packet.MESSAGE, '2["own",1]'))
    await realtime(client).sio.emit("broadcast", 1, room=ROOM)
    await realtime(client).sio.emit("broadcast", 2, room=ROOM)
    await eio.send(eio_packet.Packet(eio_packet.MESSAGE, '2["own",2]'))
    await peer.wait_for("own", 2)
    order = [(event, n) for event, n in peer.timeline if event in ("own", "broadcast")]
    assert order == [("own", 1), ("broadcast", 1), ("broadcast", 2), ("own", 2)]
    assert manager(client).fast_deliveries == fast_before + 2


async def test_an_emit_from_another_process_is_delivered_by_the_fast_path(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()  # two engine processes on one Redis
    user = await new_user(a)
    peer = await connect(b, user)
    await into_room(b, peer)
    fast_before = manager(b).fast_deliveries
    await realtime(a).sio.emit("cross", {"from": "a"}, room=ROOM)
    assert await peer.wait_for("cross") == [{"from": "a"}]
    assert manager(b).fast_deliveries == fast_before + 1


async def test_long_polling_clients_are_still_served(client: Any) -> None:
    user = await new_user(client)
    sio = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    sio.on("polled", got.put)
    try:
        await sio.connect(url_of(client), auth={"token": user.token}, transports=["polling"], wait_timeout=5)
        await realtime(client).sio.enter_room(sio.get_sid(), ROOM)
        queued_before = manager(client).queued_deliveries
        await realtime(client).sio.emit("polled", {"n": 1}, room=ROOM)
        assert await asyncio.wait_for(got.get(), 5) == {"n": 1}
        assert manager(client).queued_deliveries == queued_before + 1  # python-engineio's own path
        # and an event with an ack still works over long-polling
        assert (await sio.call("auth:whoami", {}, timeout=5))["success"] is True
        # Closed from the server: its CLOSE packet ends the client's pending poll at once (a client
        # that hangs up first leaves that poll waiting for python-engineio's poll timeout).
        disconnected = asyncio.Event()
        sio.on("disconnect", lambda *_: disconnected.set())
        await realtime(client).sio.disconnect(sio.get_sid())
        await asyncio.wait_for(disconnected.wait(), 5)
    finally:
        await close_client(sio)


async def test_binary_attachments_are_still_delivered(client: Any, connect: Any) -> None:
    user = await new_user(client)
    peer = await connect(client, user)
    await into_room(client, peer)
    fast_before = manager(client).fast_deliveries
    await realtime(client).sio.emit("blob", {"bytes": b"\x00\x01\xfe\xff"}, room=ROOM)
    await realtime(client).sio.emit("text", "after the blob", room=ROOM)
    await peer.wait_for("text")
    assert peer.events["blob"] == [{"bytes": b"\x00\x01\xfe\xff"}]
    assert [event for event, _ in peer.timeline if event in ("blob", "text")] == ["blob", "text"]
    assert manager(client).fast_deliveries == fast_before + 1  # the text one; the binary took the stock path


async def test_a_disconnect_during_a_broadcast_is_fine(client: Any, connect: Any) -> None:
    owner, stays, goes = await new_user(client), await new_user(client), await new_user(client)
    room = owner.room
    stayer, leaver = await connect(client, stays), await connect(client, goes)
    await join(stayer, room)
    await join(leaver, room)
    rooms = client.app[ROOMS]
    # Hold the room's lock, as a room action does while it emits, and let the leaver's connection
    # drop meanwhile: its disconnect work (leaving the room takes this lock) must not run inside
    # the broadcast, and the broadcast must reach the others.
    async with rooms.locks.of(room):
        await leaver.sio.eio.ws.close()  # the client's WebSocket goes away without a Socket.IO disconnect
        gone = leaver.sio.get_sid()
        await until(lambda: not realtime(client).sio.manager.is_connected(gone, "/"))
        await asyncio.wait_for(realtime(client).sio.emit("during", {"n": 1}, room=room_channel(room)), 5)
    assert await stayer.wait_for("during") == [{"n": 1}]
    left = await stayer.wait_for("room:userLeft")
    assert left[-1]["userId"] == goes.id


class SilentReader:
    """A WebSocket client that connects, then never reads again (a stuck phone)."""

    def __init__(self, sock: socket.socket, sid: str) -> None:
        self.sock, self.sid = sock, sid

    @classmethod
    async def open(cls, port: int, token: str) -> SilentReader:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small, so the server's side fills up
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        request = (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        buffer = bytearray()
        texts = await cls._read_texts(sock, buffer, head=True, count=1)  # Engine.IO OPEN
        assert texts[0].startswith("0{"), texts
        payload = ("40" + json.dumps({"token": token})).encode()
        header = bytes((0x81, 0x80 | 126)) + len(payload).to_bytes(2, "big")  # masked, with a zero key
        await loop.sock_sendall(sock, header + b"\0\0\0\0" + payload)
        (connected,) = await cls._read_texts(sock, buffer, head=False, count=1)
        assert connected.startswith("40{"), connected
        return cls(sock, json.loads(connected[2:])["sid"])

    @staticmethod
    async def _read_texts(sock: socket.socket, buffer: bytearray, head: bool, count: int) -> list[str]:
        loop = asyncio.get_running_loop()
        texts: list[str] = []
        while len(texts) < count:
            buffer += await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            if head:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    continue
                assert buffer.startswith(b"HTTP/1.1 101"), bytes(buffer[:end])
                del buffer[: end + 4]
                head = False
            while len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F) and buffer[1] & 0x7F < 126:
                size = buffer[1] & 0x7F
                texts.append(buffer[2 : 2 + size].decode())
                del buffer[: 2 + size]
        return texts


async def test_a_socket_that_does_not_read_is_dropped_over_its_output_budget(
    make_client: Any, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    budget = 128 * 1024
    client = await make_client(socket_output_max_bytes=budget, socket_write_coalesce_ms=0)
    reader, listener = await new_user(client), await new_user(client)
    silent = await SilentReader.open(client.server.port, reader.token)
    peer = await connect(client, listener)
    await into_room(client, peer)
    await realtime(client).sio.enter_room(silent.sid, ROOM)
    sio = realtime(client).sio
    sink = sio.eio.sinks[sio.manager.eio_sid_from_sid(silent.sid, "/")]
    metrics = client.app[SERVICES].metrics.registry
    chunk = "x" * 8192
    sent = 0
    try:
        # A busy room: broadcast until the silent socket is cut (its budget is 16 of these; the
        # kernel's buffers take some more first). The bound only stops a broken test.
        while not sink.closed and sent < 5000:
            await sio.emit("busy", {"n": sent, "pad": chunk}, room=ROOM)
            sent += 1
            await asyncio.sleep(0)  # let the reading listener keep up
        assert sink.closed, f"not cut after {sent} broadcasts"
        assert sink.queued_bytes == 0  # the aborted transport let go of its buffer
        assert metrics.get_sample_value("flylive_socket_guard_disconnects_total", {"reason": "slow"}) == 1
        assert any("not reading its output" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        await until(lambda: not sio.manager.is_connected(silent.sid, "/"))  # its ordinary disconnect follows
        assert silent.sid not in [s for s, _ in sio.manager.get_participants("/", ROOM)]
        # the reading member got everything, in order
        got = await peer.wait_for("busy", sent)
        assert [m["n"] for m in got] == list(range(sent))
    finally:
        silent.sock.close()


async def open_in_room(client: Any, http: aiohttp.ClientSession, token: str, room: int) -> Any:
    """A raw WebSocket, connected as the token's user and joined to `room`."""
    ws = await http.ws_connect(f"{url_of(client)}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=10)).startswith("0{")
    await ws.send_str("40" + json.dumps({"token": token}))
    assert (await ws.receive_str(timeout=10)).startswith("40{")
    await ws.send_str("421" + json.dumps(["room:join", {"roomId": room}]))
    while not (message := await ws.receive_str(timeout=10)).startswith("431"):
        pass  # the room's announcements of earlier joins
    assert json.loads(message[3:])[0]["success"] is True, message
    return ws


async def test_stopping_with_hundreds_of_sockets_drains_and_leaves_no_records(make_client: Any) -> None:
    client = await make_client(shutdown_grace_seconds=20.0)
    users = [await new_user(client) for _ in range(10)]
    room = users[0].room
    rt, svc = realtime(client), client.app[SERVICES]
    redis, keys = svc.redis, svc.keys
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # no cap of 100
        sockets = [await open_in_room(client, http, users[n % len(users)].token, room) for n in range(300)]
        assert await redis.hlen(keys.instance_sockets(rt.instance_id)) == 300
        # Stop the app while every socket is still open (its clients read, but never hang up).
        await asyncio.wait_for(client.close(), 60)
        # Read with a client of our own: the app's is closed, after its last disconnect hook ran.
        reader = Redis.from_url(client.app[CONFIG].redis_url)
        try:
            assert not await reader.exists(keys.instance_sockets(rt.instance_id))
            assert await reader.zscore(keys.instances(), rt.instance_id) is None
            for user in users:
                assert int(await reader.get(keys.user_online(user.id)) or 0) == 0, user
            members = keys.room(room)
            assert not await reader.exists(members.members, members.sockets)
        finally:
            await reader.aclose()
        for ws in sockets:
            await ws.close()


async def test_a_burst_of_emits_waits_for_the_fanout_pool_instead_of_failing(
    make_client: Any, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Two connections: one is the subscription, so all 200 publishes share the other one. A pool
    # that refuses past its size (redis-py's default) fails most of them ("Too many connections").
    a, b = await make_client(socketio_redis_max_connections=2), await make_client()
    user = await new_user(a)
    peer = await connect(b, user)
    await into_room(b, peer)
    await asyncio.gather(*(realtime(a).sio.emit("burst", {"n": n}, room=ROOM) for n in range(200)))
    got = await peer.wait_for("burst", 200)
    assert sorted(m["n"] for m in got) == list(range(200))
    assert not [r for r in caplog.records if "Cannot publish" in r.getMessage()]
