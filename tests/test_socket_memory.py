"""An idle socket keeps little and nothing of what it was sent (issue 11 §6).

A WebSocket without compression has no task of its own but its connection's (no writer, no ping
task, no task per wait: engine/realtime/lean_socket.py); its sink stands in for python-engineio's
queue. What that must not change: pings go out and are answered, a server-closed socket whose
client stays put is hung up on, an upgrade from long-polling keeps the order of what was sent, and a
socket with compression (which keeps python-engineio's writer) holds no packet it sent.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.appkeys import REALTIME
from engine.realtime.fastpath import FrameSink
from engine.realtime.lean_socket import SentOnce
from engine.realtime.server import RealtimeServer
from tests.helpers import join, new_user
from tests.sockets import url_of

# The coroutines python-engineio's server runs as tasks of their own, per socket (the writer's
# `wait_for(queue.get())` makes one more task per wait; this process's clients make those too).
PER_SOCKET_TASKS = (
    "_websocket_handler.<locals>.writer",
    "_websocket_handler.<locals>.websocket_wait",
    "AsyncSocket._send_ping",
)


def realtime(client: Any) -> RealtimeServer:
    rt: RealtimeServer = client.app[REALTIME]
    return rt


def task_names() -> list[str]:
    return [getattr(task.get_coro(), "__qualname__", "") for task in asyncio.all_tasks()]


def writers() -> list[Any]:
    """The frames of python-engineio's WebSocket writer coroutines, one per socket that has one."""
    frames = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        if getattr(coro, "__qualname__", "").endswith("_websocket_handler.<locals>.writer") and coro.cr_frame:
            frames.append(coro.cr_frame)
    return frames


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw_socket(
    http: aiohttp.ClientSession, app: Any, token: str, compress: int = 0
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """An Engine.IO WebSocket connected to the default namespace, read by hand; (it, Socket.IO sid)."""
    ws = await http.ws_connect(f"{url_of(app)}/socket.io/?EIO=4&transport=websocket", compress=compress)
    assert (await ws.receive_str(timeout=5)).startswith("0{")  # Engine.IO open
    await ws.send_str("40" + json.dumps({"token": token}))
    connected = await ws.receive_str(timeout=5)
    assert connected.startswith("40{"), connected
    return ws, json.loads(connected[2:])["sid"]


async def test_an_idle_websocket_socket_has_no_task_of_its_own(client: Any, connect: Any) -> None:
    owner = await new_user(client, "Owner")
    members = [await new_user(client, f"M{i}") for i in range(5)]
    peers = [await connect(client, user) for user in (owner, *members)]
    for peer in peers:
        await join(peer, owner.room)
    await asyncio.sleep(0.2)  # every ack is out; the sockets wait for their next ping
    eio = realtime(client).sio.eio
    assert len(eio.sockets) == len(peers)
    for sid, socket in eio.sockets.items():
        assert socket.queue is eio.sinks[sid]  # what is sent to it is written, nothing waits
    names = task_names()
    assert not [name for name in names if name.endswith(PER_SOCKET_TASKS)], names
    assert len(eio.pings) >= len(peers)  # their pings are due, on the server's shared timers


async def test_an_open_websocket_lets_go_of_its_handshake(client: Any, connect: Any) -> None:
    user = await new_user(client)
    await connect(client, user)
    eio = realtime(client).sio.eio
    (socket,) = eio.sockets.values()
    assert socket.upgraded
    # The socket's HTTP request (the suspended request handling holds it for the connection's life).
    requests = [r for r in gc.get_objects() if isinstance(r, web.BaseRequest) and r.path == "/socket.io/"]
    assert requests
    for request in requests:
        assert not request.headers and not request.raw_headers  # released (engineio_guard.release_handshake)
        assert request.protocol._parser is None
    assert realtime(client).sio.environ == {socket.sid: {}}  # the connect handlers' keys only: none sent


async def test_pings_are_sent_and_answered(make_client: Any, http: aiohttp.ClientSession) -> None:
    app = await make_client(socket_ping_interval=1, socket_ping_timeout=1)
    user = await new_user(app)
    ws, sid = await raw_socket(http, app, user.token)
    pings = 0
    try:
        # Through three ping intervals, longer than interval + timeout: answered, it stays.
        deadline = asyncio.get_running_loop().time() + 3.5
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                message = await ws.receive_str(timeout=left)
            except TimeoutError:
                break
            if message == "2":
                pings += 1
                await ws.send_str("3")
        assert pings >= 2
        assert realtime(app).sio.manager.is_connected(sid, "/")
        assert not [name for name in task_names() if name.endswith(PER_SOCKET_TASKS)]
    finally:
        await ws.close()


async def test_a_client_that_stays_after_the_server_closed_it_is_hung_up_on(
    make_client: Any, http: aiohttp.ClientSession
) -> None:
    app = await make_client(socket_ping_interval=1, socket_ping_timeout=1)
    user = await new_user(app)
    ws, sid = await raw_socket(http, app, user.token)
    server = realtime(app).sio
    await server.eio.disconnect(server.manager.eio_sid_from_sid(sid, "/"))  # as the guard cuts a socket
    # The client reads on and never closes the WebSocket: one ping timeout later the server hangs up.
    received = []
    while (message := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
        received.append(message.data)
    assert received == ["1"]  # Engine.IO's CLOSE, and nothing after it
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


def messages(payload: str) -> list[str]:
    """The Socket.IO events of a long-polling response (Engine.IO v4 packets, split by 0x1e)."""
    return [packet for packet in payload.split("\x1e") if packet.startswith("42")]


async def test_an_upgrade_from_long_polling_keeps_the_order(client: Any, http: aiohttp.ClientSession) -> None:
    """Room emits before the upgrade (taken by polls), during it (queued behind the probe) and after
    (written by the sink) arrive once each and in order, by hand as socket.io-client upgrades."""
    user = await new_user(client)
    server = realtime(client).sio
    base = f"{url_of(client)}/socket.io/?EIO=4&transport="
    sent = 0

    async def emit(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            await server.emit("n", sent, room="upgrade-test")
            sent += 1

    async with http.get(base + "polling") as resp:
        opening = await resp.text()
    eio_sid = json.loads(opening[1:])["sid"]
    polling = f"{base}polling&sid={eio_sid}"
    async with http.post(polling, data="40" + json.dumps({"token": user.token})) as resp:
        assert resp.status == 200
    async with http.get(polling) as resp:
        connected = await resp.text()
    assert connected.startswith("40{"), connected
    await server.enter_room(json.loads(connected[2:])["sid"], "upgrade-test")
    got: list[str] = []
    await emit(3)
    async with http.get(polling) as resp:
        got += messages(await resp.text())
    await emit(3)  # waits on the queue for the next poll
    ws = await http.ws_connect(f"{base}websocket&sid={eio_sid}")
    try:
        await ws.send_str("2probe")
        assert await ws.receive_str(timeout=5) == "3probe"
        await emit(3)  # upgrading: still the queue's
        async with http.get(polling) as resp:  # the last poll: what is queued, up to the NOOP
            got += messages(await resp.text())
        await emit(3)
        await ws.send_str("5")  # upgraded: what the queue still holds goes over the WebSocket first
        await emit(3)
        while len(got) < sent:
            message = await ws.receive_str(timeout=5)
            if message.startswith("42"):
                got.append(message)
        socket = server.eio.sockets[eio_sid]
        assert socket.queue is server.eio.sinks[eio_sid]
    finally:
        await ws.close()
    assert [json.loads(m[2:]) for m in got] == [["n", n] for n in range(sent)]


async def test_a_socket_with_compression_holds_no_packet_it_was_sent(
    make_client: Any, http: aiohttp.ClientSession
) -> None:
    app = await make_client(socket_compression=True)
    users = [await new_user(app, f"U{i}") for i in range(4)]
    sockets = [await raw_socket(http, app, user.token, compress=15) for user in users]
    try:
        # Each into a room of its own: the last packet each writer sent is its own join ack.
        for (ws, _), user in zip(sockets, users, strict=True):
            assert ws.compress  # permessage-deflate: python-engineio's writer, through aiohttp
            await ws.send_str("421" + json.dumps(["room:join", {"roomId": user.room}]))
            while not (reply := await ws.receive_str(timeout=5)).startswith("431"):
                pass
            assert json.loads(reply[3:])[0]["success"], reply
        await asyncio.sleep(0.2)  # every writer has sent its ack and waits for more
        eio = realtime(app).sio.eio
        assert not eio.sinks and not any(isinstance(s.queue, FrameSink) for s in eio.sockets.values())
        held = [frame.f_locals.get("pkt") for frame in writers()]
        assert len(held) == len(sockets)
        sent = [pkt for pkt in held if pkt is not None]
        assert sent, "no writer has sent a packet yet"
        assert all(isinstance(pkt, SentOnce) and pkt.data is None for pkt in sent), [type(p) for p in sent]
    finally:
        for ws, _ in sockets:
            await ws.close()
