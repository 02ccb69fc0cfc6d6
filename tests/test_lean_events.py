"""Lean events (issue 11 §4): what one `chat:message` and one `gift:send` ask of Redis, watched with
MONITOR, and the publish they spare when no other engine process listens — while a second process's
members still get every event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from engine.appkeys import CONFIG, REALTIME
from engine.keys import Keys
from engine.realtime.manager import FastRedisManager
from tests.helpers import join, new_user
from tests.test_gifts_basic import gift_room


def manager(client: Any) -> FastRedisManager:
    mgr: FastRedisManager = client.app[REALTIME].sio.manager
    return mgr


@contextlib.asynccontextmanager
async def monitored(redis_url: str, *needles: str) -> AsyncIterator[list[list[str]]]:
    """The commands clients sent (not those scripts ran) that name one of `needles`, while the block runs."""
    seen: list[list[str]] = []
    admin = Redis.from_url(redis_url)
    started = asyncio.Event()

    async def watch(monitor: Any) -> None:
        started.set()
        async for info in monitor.listen():
            command = info["command"]
            if info.get("client_type") != "lua" and any(needle in command for needle in needles):
                seen.append(command.split(" ", 1))

    try:
        async with admin.monitor() as monitor:
            task = asyncio.ensure_future(watch(monitor))
            await started.wait()
            await admin.ping()  # MONITOR is on: what follows is seen
            yield seen
            await asyncio.sleep(0.2)  # the last replies' commands reach the monitor
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await admin.aclose()


def names(commands: list[list[str]]) -> list[str]:
    return [command[0] for command in commands]


async def test_a_chat_message_is_one_script_and_no_publish_when_alone(client: Any, connect: Any,
                                                                      redis_url: str) -> None:  # fmt: skip
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    o, g = await connect(client, owner), await connect(client, guest)
    for peer in (o, g):
        await join(peer, owner.room)
    prefix = client.app[CONFIG].redis_prefix  # other suites may share the server: this test's keys only
    channel = Keys(prefix).socketio_channel()
    published = manager(client).published
    async with monitored(redis_url, f"{prefix}{{r:{owner.room}}}", channel) as commands:
        ack = await o.call("chat:message", {"roomId": owner.room, "content": "hello"})
        assert ack["success"] is True, ack
        for peer in (o, g):
            assert (await peer.wait_for("chat:message"))[0]["content"] == "hello"
    assert names(commands) == ["EVALSHA"], commands  # rate limit, membership, history, event: one step
    assert manager(client).published == published  # no other process: nothing published


async def test_a_chat_message_reaches_another_process_through_one_publish(make_client: Any, connect: Any,
                                                                          redis_url: str) -> None:  # fmt: skip
    a, b = await make_client(), await make_client()
    owner, guest = await new_user(a, "Owner"), await new_user(a, "Guest")
    o, g = await connect(a, owner), await connect(b, guest)
    for peer in (o, g):
        await join(peer, owner.room)
    prefix = a.app[CONFIG].redis_prefix
    channel = Keys(prefix).socketio_channel()
    async with monitored(redis_url, f"{prefix}{{r:{owner.room}}}", channel) as commands:
        assert (await o.call("chat:message", {"roomId": owner.room, "content": "across"}))["success"] is True
        for peer in (o, g):
            assert [m["content"] for m in await peer.wait_for("chat:message")] == ["across"]
    assert names(commands) == ["EVALSHA", "PUBLISH"], commands


async def test_a_gift_spares_its_publishes_when_alone(client: Any, config: Any) -> None:
    async with gift_room(client, config, coins=100, key="lean-grant") as r:
        published = manager(client).published
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id}
        assert (await r.a.call("gift:send", send))["success"] is True
        assert len(await r.b.wait_for("gift:received", 2)) == 2  # the legacy event and the burst
        assert manager(client).published == published


async def test_a_gift_reaches_a_member_on_another_process(make_client: Any, config: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    async with gift_room(a, config, coins=100, key="lean-grant-2") as r:
        watcher = await connect(b, await new_user(a, "Watcher"))
        await join(watcher, r.room_id)
        published = manager(a).published
        assert (await r.a.call("gift:send", {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id}))["success"]
        received = await watcher.wait_for("gift:received", 2)
        assert [("recipientId" in e, "recipientIds" in e) for e in received] == [(True, False), (False, True)]
        assert manager(a).published == published + 2


async def test_a_process_whose_subscription_is_down_counts_the_one_subscriber_as_another(client: Any) -> None:
    mgr = manager(client)
    assert mgr.subscribed  # the app serves only once subscribed
    assert (mgr.alone(0), mgr.alone(1), mgr.alone(2), mgr.alone(None)) == (True, True, False, False)
    mgr.subscribed = False  # as while it subscribes again: the one subscriber Redis counts is someone else
    try:
        assert (mgr.alone(0), mgr.alone(1)) == (True, False)
    finally:
        mgr.subscribed = True
