"""Client media requests relayed to the room's media node (realtime-contract §8.2).

Each request is checked here (in the room; at most two transports per join; produce only from an
unmuted seat), then sent to the node as `media:request {requestId, method, roomId, userId, params}`
with a timeout, and the node's answer becomes the ack (`{success, data}` or `{success:false,
error}`). The node is the authority on transports, producers and consumers.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.media import store
from engine.media.model import ice_servers
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer
from engine.rooms import live
from engine.rooms.model import RoomRef
from engine.rooms.seats import in_room

log = logging.getLogger("flylive.media.relay")
MAX_TRANSPORTS_PER_JOIN = 2
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Params = Annotated[dict[str, Any], Meta(max_length=32)]


class MediaPayload(msgspec.Struct):
    roomId: RoomRef


class TransportCreate(MediaPayload):
    type: Literal["producer", "consumer"]


class TransportConnect(MediaPayload):
    transportId: Id
    dtlsParameters: Params


class TransportRef(MediaPayload):
    transportId: Id


class Produce(MediaPayload):
    transportId: Id
    rtpParameters: Params
    kind: Literal["audio"] = "audio"
    source: Literal["mic", "music"] = "mic"


class Consume(MediaPayload):
    transportId: Id
    producerId: Id
    rtpCapabilities: Params


class ConsumerRef(MediaPayload):
    consumerId: Id


class ProducerRef(MediaPayload):
    producerId: Id


def fail(error: str) -> dict[str, Any]:
    return {"success": False, "error": error}


async def forward(
    rt: RealtimeServer, room_id: int, user_id: int, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Send one request to the room's node and turn its answer (or silence) into an ack."""
    svc = rt.services
    # The room was placed at join: read its node (two key reads) rather than the whole registry;
    # place it only when it has none (no node was up at join, or its node was lost since).
    node = await store.assigned_node(svc.redis, svc.keys, room_id)
    if node is None:
        now_ms, stale_ms = int(time.time() * 1000), int(svc.config.media_node_stale_seconds * 1000)
        node = await store.place_room(svc.redis, svc.keys, room_id, None, now_ms, stale_ms)
    if node is None:
        svc.metrics.media_requests.labels(method, "unavailable").inc()
        return fail("Media unavailable")
    request = {"requestId": uuid.uuid4().hex, "method": method, "roomId": str(room_id), "userId": user_id,
               "params": params}  # fmt: skip
    # A node whose socket this process holds is sent to directly: through the Redis queue every
    # other engine process would receive and decode the request too, for nothing.
    local = node.instance == rt.instance_id
    started = time.perf_counter()
    try:
        answer = await rt.sio.call("media:request", request, to=node.sid, namespace="/media",
                                   timeout=svc.config.media_request_timeout_seconds, ignore_queue=local)  # fmt: skip
    except Exception as exc:  # a timeout, or the node went away mid-request
        svc.metrics.media_requests.labels(method, "timeout").inc()
        log.warning("media request failed", extra={"method": method, "node": node.node_id, "error": repr(exc)})
        return fail("Media request timed out")
    svc.metrics.media_request_latency.labels(method).observe(time.perf_counter() - started)
    if not isinstance(answer, dict) or not answer.get("ok"):
        svc.metrics.media_requests.labels(method, "fail").inc()
        error = answer.get("error") if isinstance(answer, dict) else None
        return fail(str(error or "Internal server error"))
    svc.metrics.media_requests.labels(method, "ok").inc()
    return {"success": True, "data": answer.get("data")}


async def _seat_state(rt: RealtimeServer, room_id: int, user_id: int) -> str:
    """ "ok" for an unmuted, present seat holder; else the contract's error string."""
    seat = await store.seat_of(rt.services.redis, rt.services.keys, room_id, user_id)
    if seat is None or int(seat.get("u", 0)) != user_id or int(seat.get("d", 0)) != 0:
        return "You are not seated"
    return "Not authorized" if int(seat.get("m", 0)) else "ok"


def register_media_events(rt: RealtimeServer) -> None:
    @socket_event(rt, "transport:create", TransportCreate, "media")
    async def create(rt: RealtimeServer, sid: str, s: dict[str, Any], p: TransportCreate) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return fail("Not in room")
        redis, keys = rt.services.redis, rt.services.keys
        if not await store.take_transport(redis, keys, room_id, s["user_id"], MAX_TRANSPORTS_PER_JOIN):
            return fail("Transport limit reached")
        ack = await forward(rt, room_id, s["user_id"], "transport:create", {"type": p.type})
        if ack["success"]:
            cfg = rt.config
            servers = ice_servers(cfg.stun_urls, cfg.turn_urls, cfg.turn_secret, s["user_id"], int(time.time()),
                                  cfg.turn_credential_ttl_seconds)  # fmt: skip
            ack["data"] = {**(ack["data"] or {}), "iceServers": servers}
        else:
            await store.give_back_transport(redis, keys, room_id, s["user_id"])
        return ack

    simple: list[tuple[str, type[MediaPayload], str]] = [
        ("transport:connect", TransportConnect, "transport:connect"),
        ("transport:restartIce", TransportRef, "transport:restartIce"),
        ("audio:consume", Consume, "audio:consume"),
        ("consumer:resume", ConsumerRef, "consumer:resume"),
    ]
    for event, payload_type, method in simple:
        _register_simple(rt, event, payload_type, method)

    @socket_event(rt, "audio:produce", Produce, "media")
    async def produce(rt: RealtimeServer, sid: str, s: dict[str, Any], p: Produce) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return fail("Not in room")
        state = await _seat_state(rt, room_id, s["user_id"])
        if state != "ok":  # only a user on an unmuted seat may send audio (contract §12.3)
            return fail(state)
        params = {"transportId": p.transportId, "kind": p.kind, "rtpParameters": p.rtpParameters, "source": p.source}
        return await forward(rt, room_id, s["user_id"], "audio:produce", params)

    for event, paused in (("audio:selfMute", True), ("audio:selfUnmute", False)):
        _register_self_mute(rt, event, paused)


def _register_simple(rt: RealtimeServer, event: str, payload_type: type[MediaPayload], method: str) -> None:
    @socket_event(rt, event, payload_type, "media")
    async def relay(rt: RealtimeServer, sid: str, s: dict[str, Any], p: MediaPayload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return fail("Not in room")
        params = {k: v for k, v in msgspec.structs.asdict(p).items() if k != "roomId"}
        return await forward(rt, room_id, s["user_id"], method, params)


def _register_self_mute(rt: RealtimeServer, event: str, paused: bool) -> None:
    @socket_event(rt, event, ProducerRef, "media")
    async def self_mute(rt: RealtimeServer, sid: str, s: dict[str, Any], p: ProducerRef) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return fail("Not in room")
        if not paused:  # a moderator's mute of the seat holds until a moderator lifts it
            state = await _seat_state(rt, room_id, s["user_id"])
            if state != "ok":
                return fail(state)
        method = "producer:pause" if paused else "producer:resume"
        ack = await forward(rt, room_id, s["user_id"], method, {"producerId": p.producerId})
        if ack["success"]:  # the node paused (resumed) the producer: tell the room, in sequence
            await live.run(rt, "self_mute", room_id, s["user_id"], int(paused), actor_sid=sid)
        return ack
