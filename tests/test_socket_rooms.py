"""Each socket's rooms, indexed by the Redis manager (engine/realtime/manager.py): a disconnect
leaves exactly the socket's rooms without python-socketio's scan of every room of the namespace,
and `rooms(sid)` answers from the index. Real sockets on a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.appkeys import REALTIME
from engine.realtime.manager import FastRedisManager
from engine.rooms.model import room_channel
from tests.helpers import join, new_user
from tests.sockets import open_peers


@pytest.fixture
async def connect() -> Any:
    async with open_peers(check_schemas=False) as open_peer:
        yield open_peer


def manager(client: Any) -> FastRedisManager:
    mgr: FastRedisManager = client.app[REALTIME].sio.manager
    return mgr


def rooms_holding(mgr: FastRedisManager, sid: str) -> set[Any]:
    """What python-socketio's own scan would find: every room whose members include `sid`."""
    return {name for name, members in mgr.rooms.get("/", {}).items() if sid in members}


async def test_a_socket_s_rooms_are_indexed_as_it_enters_and_leaves_them(client: Any, connect: Any) -> None:
    alice, bob = await new_user(client, "Alice"), await new_user(client, "Bob")
    a, b = await connect(client, alice), await connect(client, bob)
    await join(a, alice.room)
    await join(b, alice.room)
    mgr, sio = manager(client), client.app[REALTIME].sio
    sid = a.sio.get_sid()
    await sio.enter_room(sid, "extra")
    assert set(mgr.rooms_of["/"][sid]) == rooms_holding(mgr, sid)
    assert room_channel(alice.room) in mgr.rooms_of["/"][sid] and "extra" in mgr.rooms_of["/"][sid]
    assert set(sio.rooms(sid)) == rooms_holding(mgr, sid) - {None}
    await sio.leave_room(sid, "extra")
    assert "extra" not in mgr.rooms_of["/"][sid] and "extra" not in mgr.rooms.get("/", {})
    assert set(mgr.rooms_of["/"][sid]) == rooms_holding(mgr, sid)


async def test_a_disconnect_leaves_every_room_of_the_socket_and_only_those(client: Any, connect: Any) -> None:
    alice, bob = await new_user(client, "Alice"), await new_user(client, "Bob")
    a, b = await connect(client, alice), await connect(client, bob)
    await join(a, alice.room)
    await join(b, alice.room)
    mgr = manager(client)
    gone, stays = a.sio.get_sid(), b.sio.get_sid()
    before = rooms_holding(mgr, stays)
    await a.sio.disconnect()
    for _ in range(500):  # the server notices the close by itself (bounded: 5 s)
        if gone not in mgr.rooms_of.get("/", {}):
            break
        await asyncio.sleep(0.01)
    assert gone not in mgr.rooms_of.get("/", {})
    assert rooms_holding(mgr, gone) == set()  # out of the room channel, its user and session rooms, its own
    assert rooms_holding(mgr, stays) == before == set(mgr.rooms_of["/"][stays])
    assert (await b.wait_for("room:userLeft"))[-1]["userId"] == alice.id
