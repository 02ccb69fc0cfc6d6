"""A small Socket.IO test client: records every server event, and `call`s events with acks."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio


class Peer:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.timeline: list[tuple[str, Any]] = []  # every event in the order it arrived
        self._arrived = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events[event].append(data)
        self.timeline.append((event, data))
        self._arrived.set()

    async def connect(self, url: str, token: str, *, features: list[str] | None = None) -> Peer:
        """Connect with `token`, announcing `features` (auth.features) when given."""
        auth: dict[str, Any] = {"token": token} if features is None else {"token": token, "features": features}
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 5) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 5) -> list[Any]:
        """Wait until `count` events named `event` have arrived; return them all."""

        async def arrived() -> None:
            while len(self.events[event]) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(arrived(), timeout)
        return self.events[event]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5) -> None:
        """Wait until `condition()` holds, checking it each time an event arrives."""

        async def arrived() -> None:
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(arrived(), timeout)

    async def close(self) -> None:
        await close_client(self.sio)


async def close_client(sio: socketio.AsyncClient) -> None:
    """Disconnect, then close the HTTP session Engine.IO keeps: after a server-side close of a
    polling connection it can stay open and be garbage-collected with a ResourceWarning."""
    if sio.connected:
        await sio.disconnect()
    http = getattr(sio.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


def url_of(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def first(peer: Peer, event: str, index: int = 0) -> Any:
    """The `index`-th `event` the peer received (waiting for it), decoded against its schema."""
    from engine.messages import decode_event

    return decode_event(event, (await peer.wait_for(event, index + 1))[index])


async def live_members(app: Any, room: int) -> int:
    """A room's live member count, as the REST API reports it."""
    resp = await app.get(f"/api/v1/rooms/{room}")
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["data"]["live_members"])


@contextlib.asynccontextmanager
async def open_peers(*, check_schemas: bool = True) -> AsyncIterator[Callable[..., Awaitable[Peer]]]:
    """`open_peer(app, user)` opens a socket (user: anything with a `.token`); at the end every event
    any of them received is checked against its typed schema (unless told not to), and all close."""
    from engine.messages import decode_event

    opened: list[Peer] = []

    async def open_peer(app: Any, user: Any, features: list[str] | None = None) -> Peer:
        peer = Peer()
        opened.append(peer)
        return await peer.connect(url_of(app), user.token, features=features)

    try:
        yield open_peer
        if check_schemas:
            for peer in opened:
                for name, payloads in peer.events.items():
                    for payload in payloads:
                        decode_event(name, payload)
    finally:
        for peer in opened:
            await peer.close()
