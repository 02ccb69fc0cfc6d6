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
from engine.realtime.acks import Ack, failure
from engine.realtime.server import RealtimeServer
from engine.rooms.events import RoomCall, RoomEvent, muted_refusal, register
from engine.rooms.live import LiveRooms
from engine.rooms.model import RoomRef

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
        return failure("Media unavailable")
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
        return failure("Media request timed out")
    svc.metrics.media_request_latency.labels(method).observe(time.perf_counter() - started)
    if not isinstance(answer, dict) or not answer.get("ok"):
        svc.metrics.media_requests.labels(method, "fail").inc()
        error = answer.get("error") if isinstance(answer, dict) else None
        return failure(str(error or "Internal server error"))
    svc.metrics.media_requests.labels(method, "ok").inc()
    return {"success": True, "data": answer.get("data")}


async def _seat_state(rooms: LiveRooms, room_id: int, user_id: int) -> str:
    """ "ok" for an unmuted, present seat holder; else the contract's error string."""
    seat = await rooms.state.seat_of(room_id, user_id)
    if seat is None or int(seat.get("u", 0)) != user_id or int(seat.get("d", 0)) != 0:
        return "You are not seated"
    if int(seat.get("m", 0)):
        return "Not authorized"
    muted = await muted_refusal(rooms, user_id)  # a platform mute: no speaking in any room
    return "ok" if muted is None else str(muted["error"])


async def create_transport(rooms: LiveRooms, call: RoomCall, p: TransportCreate) -> Ack:
    svc, room_id, user_id = rooms.svc, call.room_id, call.user_id
    if not await store.take_transport(svc.redis, svc.keys, room_id, user_id, MAX_TRANSPORTS_PER_JOIN):
        return failure("Transport limit reached")
    ack = await forward(rooms.rt, room_id, user_id, "transport:create", {"type": p.type})
    if ack["success"]:
        cfg = svc.config
        servers = ice_servers(cfg.stun_urls, cfg.turn_urls, cfg.turn_secret, user_id, int(time.time()),
                              cfg.turn_credential_ttl_seconds)  # fmt: skip
        ack["data"] = {**(ack["data"] or {}), "iceServers": servers}
    else:
        await store.give_back_transport(svc.redis, svc.keys, room_id, user_id)
    return ack


def relay_as(method: str) -> Any:
    """An action sending the payload (less its roomId) to the node as `method`."""

    async def relay(rooms: LiveRooms, call: RoomCall, p: MediaPayload) -> Ack:
        params = {k: v for k, v in msgspec.structs.asdict(p).items() if k != "roomId"}
        return await forward(rooms.rt, call.room_id, call.user_id, method, params)

    return relay


async def produce(rooms: LiveRooms, call: RoomCall, p: Produce) -> Ack:
    state = await _seat_state(rooms, call.room_id, call.user_id)
    if state != "ok":  # only a user on an unmuted seat may send audio (contract §12.3)
        return failure(state)
    params = {"transportId": p.transportId, "kind": p.kind, "rtpParameters": p.rtpParameters, "source": p.source}
    return await forward(rooms.rt, call.room_id, call.user_id, "audio:produce", params)


def self_mute(paused: bool) -> Any:
    async def act(rooms: LiveRooms, call: RoomCall, p: ProducerRef) -> Ack:
        room_id, user_id = call.room_id, call.user_id
        if not paused:  # a moderator's mute of the seat holds until a moderator lifts it
            state = await _seat_state(rooms, room_id, user_id)
            if state != "ok":
                return failure(state)
        method = "producer:pause" if paused else "producer:resume"
        ack = await forward(rooms.rt, room_id, user_id, method, {"producerId": p.producerId})
        if ack["success"]:  # the node paused (resumed) the producer: tell the room, in sequence
            await rooms.run(room_id, rooms.state.self_mute(room_id, user_id, paused), actor_sid=call.sid)
        return ack

    return act


EVENTS: list[RoomEvent[Any]] = [
    RoomEvent("transport:create", TransportCreate, create_transport),
    RoomEvent("transport:connect", TransportConnect, relay_as("transport:connect")),
    RoomEvent("transport:restartIce", TransportRef, relay_as("transport:restartIce")),
    RoomEvent("audio:consume", Consume, relay_as("audio:consume")),
    RoomEvent("consumer:resume", ConsumerRef, relay_as("consumer:resume")),
    RoomEvent("audio:produce", Produce, produce),
    RoomEvent("audio:selfMute", ProducerRef, self_mute(True)),
    RoomEvent("audio:selfUnmute", ProducerRef, self_mute(False)),
]


def register_media_events(rooms: LiveRooms) -> None:
    # Media acks carry the contract's error string and no code (realtime-contract §8.2).
    register(rooms, EVENTS, bucket="media", not_in_room=failure("Not in room"))
