"""The Redis client manager between processes (engine/realtime/manager.py): an emit reaches the
members on every process exactly once, a process drops its own published messages without
decoding them, a stock python-socketio publisher is still understood, and the subscription comes
back after its connection is cut."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

from engine.appkeys import CONFIG
from engine.keys import Keys
from engine.realtime.manager import decode_message
from tests.helpers import new_user
from tests.sockets import Peer, open_peers
from tests.test_fast_path import ROOM, into_room, manager, realtime, until


@pytest.fixture
async def connect() -> Any:
    async with open_peers(check_schemas=False) as open_peer:
        yield open_peer


async def members_on_two_processes(make_client: Any, connect: Any) -> tuple[Any, Any, Peer, Peer]:
    a, b = await make_client(), await make_client()
    here, there = await connect(a, await new_user(a)), await connect(b, await new_user(a))
    await into_room(a, here)
    await into_room(b, there)
    return a, b, here, there


async def test_an_emit_reaches_both_processes_once_and_the_publisher_drops_its_own(make_client: Any,
                                                                                   connect: Any) -> None:  # fmt: skip
    a, b, here, there = await members_on_two_processes(make_client, connect)
    published, dropped = manager(a).published, manager(a).own_dropped
    for n in range(3):
        await realtime(a).sio.emit("both", {"n": n}, room=ROOM)
    await here.wait_for("both", count=3)
    await there.wait_for("both", count=3)
    await until(lambda: manager(a).own_dropped == dropped + 3)  # Redis sent them back to A too
    assert manager(a).published == published + 3
    await realtime(b).sio.emit("back", {"from": "b"}, room=ROOM)
    assert await here.wait_for("back") == [{"from": "b"}]
    await asyncio.sleep(0.1)  # anything delivered twice would have arrived by now
    assert here.events["both"] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert there.events["both"] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert here.events["back"] == [{"from": "b"}]


async def test_a_published_message_is_stock_json_with_its_origin_first(client: Any, redis_url: str) -> None:
    channel = Keys(client.app[CONFIG].redis_prefix).socketio_channel()
    listener = Redis.from_url(redis_url).pubsub()
    try:
        await listener.subscribe(channel)
        assert (await listener.get_message(timeout=1))["type"] == "subscribe"  # type: ignore[index]
        await realtime(client).sio.emit("seen", ["x", 1], room=ROOM)
        raw = (await listener.get_message(timeout=2))["data"]  # type: ignore[index]
    finally:
        await listener.aclose()
    origin = manager(client).host_id
    assert raw.startswith(b'{"origin":"' + origin.encode() + b'",')
    assert decode_message(raw) == {"origin": origin, "method": "emit", "event": "seen", "data": [["x", 1]],
                                   "binary": False, "namespace": "/", "room": ROOM, "skip_sid": None,
                                   "callback": None, "host_id": origin}  # fmt: skip


async def test_a_stock_publisher_reaches_the_members(client: Any, connect: Any, redis_url: str) -> None:
    peer = await connect(client, await new_user(client))
    await into_room(client, peer)
    channel = Keys(client.app[CONFIG].redis_prefix).socketio_channel()
    stock = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    try:
        await stock.emit("from-stock", {"ok": True}, room=ROOM)
        assert await peer.wait_for("from-stock") == [{"ok": True}]
    finally:
        await stock.redis.aclose()


async def test_the_subscription_comes_back_after_its_connection_is_cut(client: Any, connect: Any,
                                                                       redis_url: str) -> None:  # fmt: skip
    peer = await connect(client, await new_user(client))
    await into_room(client, peer)
    channel = Keys(client.app[CONFIG].redis_prefix).socketio_channel()
    stock = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    admin = Redis.from_url(redis_url)
    try:
        ours = [c for c in await admin.client_list() if c.get("name") == manager(client).subscriber_name]
        assert len(ours) == 1 and ours[0]["sub"] == "1"
        assert await admin.client_kill_filter(_id=ours[0]["id"]) == 1
        for _ in range(20):  # the manager subscribes again after a second
            await stock.emit("again", {"n": 1}, room=ROOM)
            with contextlib.suppress(TimeoutError):
                await peer.wait_for("again", timeout=0.5)
                break
        else:
            raise AssertionError("the manager never subscribed again")
    finally:
        await admin.aclose()
        await stock.redis.aclose()
