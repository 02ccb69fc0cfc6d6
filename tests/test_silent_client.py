"""A member whose network goes silent must not freeze their room.

python-engineio notices a missed ping inside `send()` and closes the socket there, running the
disconnect handler inline: inside whatever room broadcast noticed it. The room's events must keep
being answered while that member is dropped (issue 10 §0).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from engine.config import Rate
from tests.helpers import join, new_user
from tests.sockets import url_of


async def silent_member(app: Any, token: str, room: int) -> aiohttp.ClientWebSocketResponse:
    """Join `room` over a raw Engine.IO WebSocket, then never read or answer a ping again."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"{url_of(app)}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0")  # Engine.IO open
    await ws.send_str("40" + json.dumps({"token": token}))
    assert (await ws.receive_str()).startswith("40")  # Socket.IO connect ack
    await ws.send_str("421" + json.dumps(["room:join", {"roomId": room}]))
    while not (reply := await ws.receive_str()).startswith("431"):
        pass
    assert json.loads(reply[3:])[0]["success"], reply
    ws._flylive_session = session  # type: ignore[attr-defined]  # closed by the test
    return ws


async def test_room_keeps_answering_while_a_silent_member_times_out(make_client: Any, connect: Any) -> None:
    app = await make_client(socket_ping_interval=1, socket_ping_timeout=1, chat_rate_limit=Rate(10_000, 60))
    owner = await new_user(app)
    talkers = [await new_user(app) for _ in range(5)]
    silent = await new_user(app)
    peers = [await connect(app, user) for user in (owner, *talkers)]
    for peer in peers:
        await join(peer, owner.room)
    ws = await silent_member(app, silent.token, owner.room)
    try:
        # Chat through the silent member's ping timeout (1 s interval + 1 s timeout) and well past it:
        # every message is a room broadcast, and one of them is the send that notices the timeout.
        for turn in range(40):
            peer = peers[turn % len(peers)]
            ack = await peer.call("chat:message", {"roomId": owner.room, "content": f"m{turn}"}, timeout=3)
            assert ack["success"], ack
            await asyncio.sleep(0.1)
        left = await peers[0].wait_for("room:userLeft", timeout=5)
        assert silent.id in {event["userId"] for event in left}
        # The room still takes joins and seat changes, not only chat.
        assert (await peers[1].call("seat:take", {"roomId": owner.room, "seatIndex": 1}, timeout=3))["success"]
    finally:
        await ws.close()
        await ws._flylive_session.close()  # type: ignore[attr-defined]
