"""Routers of rooms nobody is in are closed, so media nodes do not fill up with empty routers.

A placed room with no members is stamped idle (the first time a sweep sees it empty); a member
joining clears the stamp on the next sweep. Once a room has been empty for
MEDIA_ROOM_IDLE_SECONDS its node closes the router and the room is unplaced: the next join places
it afresh (on the least loaded node then). Deleting the stamp decides which of several sweeping
processes closes it.
"""

from __future__ import annotations

import logging
import time

from engine.media import node_events, store
from engine.realtime.server import RealtimeServer
from engine.rooms.model import room_channel
from engine.rooms.store import RoomState

log = logging.getLogger("flylive.media")


async def release_idle_rooms(rt: RealtimeServer, rooms: RoomState) -> int:
    """Close the routers of rooms empty for long enough; return how many."""
    svc = rt.services
    redis, keys = svc.redis, svc.keys
    now_ms = int(time.time() * 1000)
    idle_ms = int(svc.config.media_room_idle_seconds * 1000)
    released = 0
    for node in await store.all_nodes(redis, keys):
        for room_id in await store.node_room_ids(redis, keys, node.node_id):
            if await rooms.member_count(room_id):
                await store.clear_idle(redis, keys, room_id)
                continue
            since = await store.idle_since(redis, keys, room_id, now_ms)
            if now_ms - since >= idle_ms and await store.claim_idle(redis, keys, room_id):
                await node_events.close_router(rt, room_id)
                # Nobody should be there; one who joined in the last instant sets media up again.
                await rt.sio.emit("media:reconnect", {"roomId": str(room_id), "reason": "idle"},
                                  room=room_channel(room_id))  # fmt: skip
                log.info("idle room's router closed", extra={"room_id": room_id, "node_id": node.node_id})
                released += 1
    return released
