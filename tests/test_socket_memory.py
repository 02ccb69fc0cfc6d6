"""An idle socket keeps nothing of what it was sent (issue 11 §6).

python-engineio's WebSocket writer leaves its loop variable bound to the last packet it sent while
it waits for the next; without `SentOnce` an idle member kept its whole `room:join` ack (every
participant's profile) until the next ping.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.realtime.engineio_guard import SentOnce
from tests.helpers import join, new_user


def writers() -> list[Any]:
    """The frames of python-engineio's WebSocket writer coroutines, one per socket."""
    frames = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        if getattr(coro, "__qualname__", "").endswith("_websocket_handler.<locals>.writer") and coro.cr_frame:
            frames.append(coro.cr_frame)
    return frames


async def test_an_idle_socket_holds_no_packet_it_was_sent(client: Any, connect: Any) -> None:
    owner = await new_user(client, "Owner")
    members = [await new_user(client, f"M{i}") for i in range(5)]
    peers = [await connect(client, user) for user in (owner, *members)]
    for peer in peers:
        await join(peer, owner.room)
    await asyncio.sleep(0.2)  # every writer has sent its ack and waits for more
    held = [frame.f_locals.get("pkt") for frame in writers()]
    assert len(held) >= len(peers)
    sent = [pkt for pkt in held if pkt is not None]
    assert sent, "no writer has sent a packet yet"
    assert all(isinstance(pkt, SentOnce) and pkt.data is None for pkt in sent), [type(p) for p in sent]
