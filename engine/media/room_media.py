"""The media side as rooms see it: the `RoomMedia` port (engine/rooms/live.py), over media nodes."""

from __future__ import annotations

import time
from typing import Any

from engine.media import node_events, store
from engine.realtime.server import RealtimeServer


class NodeMedia:
    """Rooms' requests of the media side, carried out on the room's media node."""

    def __init__(self, rt: RealtimeServer) -> None:
        self._rt = rt

    async def place(self, room_id: int, region: str | None) -> dict[str, Any] | None:
        svc = self._rt.services
        node = await store.place_room(svc.redis, svc.keys, room_id, region, int(time.time() * 1000),
                                      int(svc.config.media_node_stale_seconds * 1000))  # fmt: skip
        return node.rtp_capabilities if node is not None else None

    async def existing_producers(self, room_id: int) -> list[dict[str, Any]]:
        return await node_events.existing_producers(self._rt, room_id)

    async def command(self, room_id: int, name: str, **params: Any) -> None:
        await node_events.command(self._rt, room_id, name, **params)

    async def close_user_transports(self, room_id: int, user_id: int) -> None:
        await node_events.close_user_transports(self._rt, room_id, user_id)

    async def close_router(self, room_id: int) -> None:
        await node_events.close_router(self._rt, room_id)
