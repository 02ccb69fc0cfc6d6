"""The `/media` Socket.IO namespace where media nodes register and report their load.

Nodes authenticate with a service credential (one of MEDIA_NODE_SECRETS in `auth.token`), never a
user token. A node's registration lives as long as its socket: on disconnect it leaves the registry
(and, being stale, it gets no new rooms after MEDIA_NODE_STALE_SECONDS without a heartbeat). Nodes
that leave without anyone seeing their socket close are swept by `engine.media.lost`.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

import socketio

from engine.errors import DomainError
from engine.jobs import Periodic
from engine.media import store
from engine.media.idle import release_idle_rooms
from engine.media.lost import lose_node, sweep_lost_nodes
from engine.media.model import NodeHeartbeat, NodeInfo, NodeRegister
from engine.realtime.acks import INVALID_PAYLOAD, failure
from engine.realtime.server import RealtimeServer
from engine.rooms.live import LiveRooms
from engine.validation import convert_fields

log = logging.getLogger("flylive.media")
NAMESPACE = "/media"


def _now_ms() -> int:
    return int(time.time() * 1000)


async def observe_registry(rt: RealtimeServer) -> None:
    """Set the registry gauges: how many nodes are live or stale, how many rooms they hold."""
    svc = rt.services
    nodes = await store.all_nodes(svc.redis, svc.keys)
    stale_ms, now_ms = int(svc.config.media_node_stale_seconds * 1000), _now_ms()
    live = sum(1 for n in nodes if now_ms - n.seen_ms <= stale_ms)
    svc.metrics.media_nodes.labels("live").set(live)
    svc.metrics.media_nodes.labels("stale").set(len(nodes) - live)
    svc.metrics.media_rooms_placed.set(await store.placed_room_count(svc.redis, svc.keys, [n.node_id for n in nodes]))


def register_media_namespace(rt: RealtimeServer, rooms: LiveRooms) -> None:
    sio = rt.sio

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        secrets = rt.config.media_node_secrets
        if not isinstance(token, str) or not any(hmac.compare_digest(token, s) for s in secrets):
            rt.services.metrics.auth_attempts.labels("media_node", "refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("Invalid credentials")
        await sio.save_session(sid, {"node_id": None}, namespace=NAMESPACE)

    async def register(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            p = convert_fields(NodeRegister, data if data is not None else {})
        except DomainError as exc:
            rt.services.metrics.media_node_reports.labels("node:register", "invalid").inc()
            return failure(INVALID_PAYLOAD, fields=exc.fields)
        svc = rt.services
        node = NodeInfo(p.nodeId, p.region, p.capacity, 0, _now_ms(), rt.instance_id, sid, p.rtpCapabilities)
        await store.save_node(svc.redis, svc.keys, node)
        await sio.save_session(sid, {"node_id": p.nodeId}, namespace=NAMESPACE)
        # The rooms still placed on this node id: kept when the node reconnected before its old
        # registration was dropped (their clients' media flows on), released (so absent here) when it
        # was dropped. The node closes every other router it holds: nobody is told of those anymore.
        rooms = [str(r) for r in await store.node_room_ids(svc.redis, svc.keys, p.nodeId)]
        log.info("media node registered", extra={"node_id": p.nodeId, "region": p.region, "capacity": p.capacity,
                                                 "rooms": len(rooms)})  # fmt: skip
        svc.metrics.media_node_reports.labels("node:register", "ok").inc()
        return {"success": True, "instanceId": rt.instance_id, "rooms": rooms}

    async def heartbeat(sid: str, data: Any = None) -> dict[str, Any]:
        session = await sio.get_session(sid, namespace=NAMESPACE)
        if not session.get("node_id"):
            return failure("Not registered")
        try:
            p = convert_fields(NodeHeartbeat, data if data is not None else {})
        except DomainError as exc:
            return failure(INVALID_PAYLOAD, fields=exc.fields)
        svc = rt.services
        node = await store.get_node(svc.redis, svc.keys, session["node_id"])
        if node is None or node.sid != sid:
            return failure("Not registered")
        node.load, node.seen_ms = p.load, _now_ms()
        if not await store.refresh_node(svc.redis, svc.keys, node):  # dropped since the read
            return failure("Not registered")
        return {"success": True}

    async def disconnect(sid: str, reason: Any = None) -> None:
        try:
            session = await sio.get_session(sid, namespace=NAMESPACE)
        except KeyError:
            return
        node_id = session.get("node_id")
        if node_id:
            # Not inline: this may run inside an emit that noticed the node's ping timeout.
            rt.run_detached(lose_node_quietly(node_id, sid), f"media-disconnect:{sid}")

    async def lose_node_quietly(node_id: str, sid: str) -> None:
        try:
            await lose_node(rt, node_id, sid, "disconnected")
        except Exception:
            log.exception("losing a disconnected media node failed", extra={"node_id": node_id})

    sio.on("connect", connect, namespace=NAMESPACE)
    sio.on("node:register", register, namespace=NAMESPACE)
    sio.on("node:heartbeat", heartbeat, namespace=NAMESPACE)
    sio.on("disconnect", disconnect, namespace=NAMESPACE)

    async def upkeep() -> None:
        await sweep_lost_nodes(rt)
        await release_idle_rooms(rt, rooms.state)
        await observe_registry(rt)

    rt.background.append(Periodic("media-upkeep", upkeep, rt.config.instance_heartbeat_seconds))
