"""Acks written by the socket's sink (engine/realtime/dispatch.py): in order behind what the socket
had queued, and python-socketio's own path for binary acks and long-polling sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from engineio import packet as eio_packet

from tests.helpers import new_user
from tests.sockets import close_client, open_peers, url_of
from tests.test_fast_path import engineio_socket, realtime


@pytest.fixture
async def connect() -> Any:
    async with open_peers(check_schemas=False) as open_peer:
        yield open_peer


async def test_an_ack_is_written_by_the_sink_after_what_was_queued(client: Any, connect: Any) -> None:
    peer = await connect(client, await new_user(client))
    sio = realtime(client).sio
    sid = peer.sio.get_sid()
    gate = asyncio.Event()

    async def slow_echo(_sid: str, data: Any) -> Any:
        await gate.wait()
        return {"echo": data}

    sio.on("test:echo", slow_echo)
    before = sio.sink_acks
    call = asyncio.ensure_future(peer.sio.call("test:echo", {"n": 1}, timeout=5))
    await asyncio.sleep(0.1)  # the event is in its handler
    eio = engineio_socket(client, sid)
    for n in (1, 2):  # queued (as a ping or another packet would be) before the handler returns
        await eio.send(eio_packet.Packet(eio_packet.MESSAGE, f'2["queued",{n}]'))
    gate.set()
    assert await call == {"echo": {"n": 1}}
    assert peer.events["queued"] == [1, 2]  # the client had them when the ack came
    assert sio.sink_acks == before + 1


async def test_a_binary_ack_takes_python_socketios_path(client: Any, connect: Any) -> None:
    peer = await connect(client, await new_user(client))
    sio = realtime(client).sio

    async def blob(_sid: str, _data: Any) -> Any:
        return {"bytes": b"\x00\xff"}

    sio.on("test:blob", blob)
    before = sio.sink_acks
    assert await peer.sio.call("test:blob", {}, timeout=5) == {"bytes": b"\x00\xff"}
    assert sio.sink_acks == before


async def test_a_long_polling_socket_gets_its_acks(client: Any) -> None:
    user = await new_user(client)
    sio = realtime(client).sio
    polling = socketio.AsyncClient(reconnection=False)
    try:
        await polling.connect(url_of(client), auth={"token": user.token}, transports=["polling"], wait_timeout=5)
        before = sio.sink_acks
        for _ in range(3):
            assert (await polling.call("auth:whoami", {}, timeout=5))["success"] is True
        assert sio.sink_acks == before  # no sink: python-engineio's queue
        # Closed from the server, as test_fast_path's polling test explains, so no poll is left waiting.
        disconnected = asyncio.Event()
        polling.on("disconnect", lambda *_: disconnected.set())
        await sio.disconnect(polling.get_sid())
        await asyncio.wait_for(disconnected.wait(), 5)
    finally:
        await close_client(polling)


async def test_an_ack_takes_the_broadcasts_waiting_in_front_of_it_along(make_client: Any, connect: Any) -> None:
    # A coalescing window far longer than the test: a broadcast frame waits in the sink for it, and
    # the ack that follows must neither overtake it nor wait for the window to end.
    client = await make_client(socket_write_coalesce_ms=60_000)
    peer = await connect(client, await new_user(client))
    sio = realtime(client).sio
    await sio.enter_room(peer.sio.get_sid(), "dispatch-room")
    await sio.emit("first", 1, room="dispatch-room")  # written at once: the server was idle
    await sio.emit("second", 2, room="dispatch-room")  # within the window: waits in the sink
    assert await peer.sio.call("auth:whoami", {}, timeout=5)
    assert [event for event, _ in peer.timeline if event in ("first", "second")] == ["first", "second"]
