"""The rooms domain at run time: the transport it emits on, the media side it drives, and the order
of a room's events.

Every event a room script recorded is emitted here, after the script committed, to exactly the
audience the script named: the whole room, the room but the acting socket, or one user's sockets.
Rooms drive media (a seat change pauses or closes a producer) through the `RoomMedia` port, which
the media package implements: rooms never import media.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

import msgspec

from engine.realtime.server import RealtimeServer, user_room
from engine.rooms.batching import RoomBatcher
from engine.rooms.cache import HotCache
from engine.rooms.model import room_channel
from engine.rooms.store import RoomEvent, RoomState, ScriptResult
from engine.services import Services

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def encode(value: Any) -> str:
    return _encoder.encode(value).decode()


def decode(text: str | bytes) -> Any:
    return _decoder.decode(text)


class RoomMedia(Protocol):
    """What rooms ask of the media side (engine/media/room_media.py implements it)."""

    async def place(self, room_id: int, region: str | None) -> dict[str, Any] | None:
        """Place the room on a media node (first join); the node's rtpCapabilities, or None."""

    async def existing_producers(self, room_id: int) -> list[dict[str, Any]]: ...

    async def command(self, room_id: int, name: str, **params: Any) -> None:
        """A fire-and-forget command to the room's node (pauseUser, closeUserProducers, …)."""

    async def close_user_transports(self, room_id: int, user_id: int) -> None: ...

    async def close_router(self, room_id: int) -> None: ...


class ChatWatch(Protocol):
    """What rooms tell the moderation side (engine/reports/live.py implements it): a chat message
    the word filter refused, an automated moderation rule."""

    async def filtered(self, room_id: int, user_id: int, content: str) -> None: ...


class StripedLocks:
    """Per-room locks, striped: a fixed number, shared by rooms with the same id modulo their count."""

    def __init__(self, stripes: int = 256) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    def of(self, room_id: int) -> asyncio.Lock:
        return self._locks[room_id % len(self._locks)]


class LiveRooms:
    """Built once per app (engine/app.py) and handed to every rooms action."""

    def __init__(self, rt: RealtimeServer, media: RoomMedia, locks: StripedLocks) -> None:
        self.rt = rt
        self.media = media
        # Keep this process's emits for a room in `seq` order (shared with the media side's reports).
        self.locks = locks
        self._state: RoomState | None = None
        self._cache: HotCache | None = None
        self._batcher: RoomBatcher | None = None
        self.watch: ChatWatch | None = None  # plugged in by create_app, when the moderation side runs

    async def start(self, svc: Services) -> None:
        """Bind the room scripts to the service's Redis (and load them), and start listening for the
        hot cache's invalidations, before any event runs."""
        self._state = RoomState(svc.redis, svc.keys)
        await self._state.preload()
        assert svc.config.database_url, "the rooms need DATABASE_URL (or the embedded server) resolved"
        self._cache = HotCache(svc.pool, encode)
        await self._cache.start(svc.config.database_listen_url or svc.config.database_url)
        config = svc.config
        self._batcher = RoomBatcher(self.rt.sio, self.locks, svc.metrics, config.room_batch_tick_ms,
                                    config.room_batch_min_members)  # fmt: skip

    async def stop(self) -> None:
        if self._batcher is not None:
            await self._batcher.stop()
        if self._cache is not None:
            await self._cache.stop()

    @property
    def svc(self) -> Services:
        return self.rt.services

    @property
    def state(self) -> RoomState:
        if self._state is None:
            raise RuntimeError("the rooms have not started")
        return self._state

    @property
    def cache(self) -> HotCache:
        """Rooms, users, admins, bans and staff standing, kept in process (engine/rooms/cache.py)."""
        if self._cache is None:
            raise RuntimeError("the rooms have not started")
        return self._cache

    @property
    def batcher(self) -> RoomBatcher:
        """Big rooms' pending `room:batch` frames (engine/rooms/batching.py)."""
        if self._batcher is None:
            raise RuntimeError("the rooms have not started")
        return self._batcher

    async def run(
        self, room_id: int, script: Coroutine[Any, Any, ScriptResult], *, actor_sid: str | None = None
    ) -> ScriptResult:
        """Run a room script (a `RoomState` call) and emit what it recorded.

        The lock keeps this process's emits for a room in `seq` order: without it, two actions could
        run their scripts in one order and publish their events in the other. (Across processes,
        order by `seq`; a client that sees a gap can re-join with `lastSeq`.) Nothing under the lock
        may wait on disconnect work, which takes room locks itself: the transport runs that work in
        tasks of its own (`RealtimeServer.run_detached`).
        """
        try:
            async with self.locks.of(room_id):
                result = await script
                members = result.data.get("members")
                if isinstance(members, int):  # join and leave scripts count the room's members
                    self.batcher.sized(room_id, members)
                if result.events:
                    # A script that counted the engine processes on the channel may spare the publish.
                    here_only = self.rt.sio.manager.alone(result.data.get("subscribers"))
                    await self.emit_events(room_id, result.events, actor_sid, here_only=here_only)
        except BaseException:
            script.close()  # cancelled while waiting for the lock: the script never ran
            raise
        return result

    async def emit_events(
        self, room_id: int, events: list[RoomEvent], actor_sid: str | None, *, here_only: bool = False
    ) -> None:
        """`here_only`: no other engine process is listening (nothing to publish)."""
        for event in events:
            data = msgspec.Raw(event.body)  # the script's JSON, written as it is
            if event.to == "room":
                await self.broadcast(room_id, event.name, data, here_only=here_only)
            elif event.to == "others":
                await self.broadcast(room_id, event.name, data, skip_sid=actor_sid, here_only=here_only)
            elif event.to.startswith("user:"):
                await self.batcher.flush(room_id)  # after the room's earlier events, as for everyone
                await self.rt.sio.emit(event.name, data, room=user_room(int(event.to[5:])), ignore_queue=here_only)

    async def broadcast(
        self, room_id: int, event: str, data: Any, *, skip_sid: str | None = None, here_only: bool = False
    ) -> None:
        """The one door for a room-wide event: batched for the clients that asked when the room is
        big and the event is a high-rate one, otherwise sent at once after the room's pending batch.
        `here_only`: to this process's members only (no other engine process is listening)."""
        batcher = self.batcher
        if batcher.batches(room_id, event):
            await batcher.emit(room_id, event, data, skip_sid)
            return
        await batcher.flush(room_id)
        await self.rt.sio.emit(event, data, room=room_channel(room_id), skip_sid=skip_sid, ignore_queue=here_only)
