"""What happens when a media node is gone, and the sweep that notices nodes nobody saw leave.

A node leaves cleanly when its socket closes: the engine process holding that socket drops it at
once. Two cases have no such moment, and the sweep (run by every engine process, a few seconds
apart) covers them:
- the engine process holding the node's socket died without shutting down, so no disconnect
  handler ran (and the node, if it is alive, has not re-registered through another process yet);
- the node stopped heart-beating but its socket stayed open (a hung process): after
  LOST_AFTER_STALE_PERIODS stale periods it is dropped; if it wakes up its next heartbeat is
  answered `Not registered` and it registers again.
Either way its rooms are unplaced and their clients get `media:reconnect`. Dropping is
compare-and-delete on the registration's socket id, so of several processes sweeping at once only
one releases the rooms.
"""

from __future__ import annotations

import logging
import time

from engine.media import store
from engine.media.model import NodeInfo
from engine.realtime.server import RealtimeServer
from engine.rooms import store as rooms_store
from engine.rooms.model import room_channel

log = logging.getLogger("flylive.media")
LOST_AFTER_STALE_PERIODS = 2


async def lose_node(rt: RealtimeServer, node_id: str, sid: str, reason: str) -> list[int] | None:
    """Drop the registration made on `sid`, unplace its rooms and tell their clients.

    None when that registration is no longer there (another process got to it, or the node
    registered again): nothing to do then.
    """
    svc = rt.services
    if not await store.drop_node(svc.redis, svc.keys, node_id, sid):
        return None
    # Its rooms lost their router: they are placed afresh on the next join or request, and their
    # clients set media up again (a new room:join gives the new node's rtpCapabilities).
    rooms = await store.release_rooms(svc.redis, svc.keys, node_id)
    for room_id in rooms:
        await rt.sio.emit("media:reconnect", {"roomId": str(room_id), "reason": "node_lost"},
                          room=room_channel(room_id))  # fmt: skip
    svc.metrics.media_nodes_lost.labels(reason).inc()
    log.warning("media node lost", extra={"node_id": node_id, "rooms": len(rooms), "reason": reason})
    return rooms


def is_lost(node: NodeInfo, live_instances: set[str], now_ms: int, stale_ms: int) -> str | None:
    """Why a registration should go, or None while it is fine."""
    if node.instance not in live_instances:
        return "engine_died"
    if now_ms - node.seen_ms > LOST_AFTER_STALE_PERIODS * stale_ms:
        return "silent"
    return None


async def sweep_lost_nodes(rt: RealtimeServer) -> int:
    """Drop registrations whose engine process died or whose node went silent; return how many."""
    svc = rt.services
    now_ms = int(time.time() * 1000)
    cutoff = now_ms - int(svc.config.instance_dead_after_seconds * 1000)
    live_instances = set(await rooms_store.live_instances(svc.redis, svc.keys, cutoff))
    live_instances.add(rt.instance_id)  # this process is alive whatever its last heartbeat says
    stale_ms = int(svc.config.media_node_stale_seconds * 1000)
    dropped = 0
    for node in await store.all_nodes(svc.redis, svc.keys):
        reason = is_lost(node, live_instances, now_ms, stale_ms)
        if reason is not None and await lose_node(rt, node.node_id, node.sid, reason) is not None:
            dropped += 1
    return dropped
