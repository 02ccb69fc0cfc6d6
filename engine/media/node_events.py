"""Node → engine producer state, and seat/room changes → node commands (realtime-contract §8.3).

The node reports producers as they start, stop, pause and resume, transports it closed, and who is
speaking; the engine keeps each room's producers in Redis (for `existingProducers` in the join ack)
and tells the room with the contract's events. In the other direction, seat changes drive the node: a moderator mute
pauses the user's mic, leaving the seat or the room closes their producers, closing the room closes
its router. Commands are fire-and-forget `media:command` messages; the node is idempotent on them.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.errors import DomainError
from engine.media import store
from engine.media.model import ProducerRecord
from engine.realtime.acks import INVALID_PAYLOAD, failure
from engine.realtime.server import RealtimeServer
from engine.rooms.live import LiveRooms
from engine.validation import convert_fields

log = logging.getLogger("flylive.media.events")
NAMESPACE = "/media"
Id = Annotated[str, Meta(min_length=1, max_length=64)]


class ProducerEvent(msgspec.Struct):
    roomId: Annotated[str, Meta(pattern=r"^\d{1,19}$")]
    producerId: Id
    userId: Annotated[int, Meta(ge=1)]
    source: Literal["mic", "music"] = "mic"


class TransportClosed(msgspec.Struct):
    roomId: Annotated[str, Meta(pattern=r"^\d{1,19}$")]
    transportId: Id
    userId: Annotated[int, Meta(ge=1)]


class SpeakersEvent(msgspec.Struct):
    roomId: Annotated[str, Meta(pattern=r"^\d{1,19}$")]
    userIds: Annotated[list[Annotated[int, Meta(ge=1)]], Meta(max_length=64)]


async def existing_producers(rt: RealtimeServer, room_id: int) -> list[dict[str, Any]]:
    return await store.room_producers(rt.services.redis, rt.services.keys, room_id)


async def command(rt: RealtimeServer, room_id: int, name: str, **params: Any) -> None:
    """Send a command to the room's node, if the room has one."""
    svc = rt.services
    node = await store.assigned_node(svc.redis, svc.keys, room_id)
    if node is not None:  # direct when this process holds the node's socket (see relay.forward)
        await rt.sio.emit("media:command", {"command": name, "roomId": str(room_id), **params}, to=node.sid,
                          namespace=NAMESPACE, ignore_queue=node.instance == rt.instance_id)  # fmt: skip


async def close_router(rt: RealtimeServer, room_id: int) -> None:
    """The room closed: its node closes the router (and everything on it); the room is unplaced."""
    await command(rt, room_id, "closeRouter")
    await store.unplace_room(rt.services.redis, rt.services.keys, room_id)


async def close_user_transports(rt: RealtimeServer, room_id: int, user_id: int) -> None:
    """The user left the room or joined it afresh: the node closes their transports, and with them
    their producers (reported back as producer:closed) and consumers; their allowance starts again."""
    if await store.forget_transports(rt.services.redis, rt.services.keys, room_id, user_id):
        await command(rt, room_id, "closeUserTransports", userId=user_id)


def register_node_events(rt: RealtimeServer, rooms: LiveRooms) -> None:
    sio, locks = rt.sio, rooms.locks

    def handler(event: str, payload_type: type[msgspec.Struct], act: Any) -> Any:
        async def on_event(sid: str, data: Any = None) -> dict[str, Any]:
            counted = rt.services.metrics.media_node_reports
            session = await sio.get_session(sid, namespace=NAMESPACE)
            node_id = session.get("node_id")
            if not node_id:
                counted.labels(event, "unregistered").inc()
                return failure("Not registered")
            try:
                payload = convert_fields(payload_type, data if data is not None else {})
            except DomainError as exc:
                counted.labels(event, "invalid").inc()
                log.warning("invalid media node report", extra={"event": event, "node_id": node_id})
                return failure(INVALID_PAYLOAD, fields=exc.fields)
            if not await act(payload, node_id):
                # A node speaks only for its own rooms: a late report from a node the room was
                # moved off (or a confused one) must not reach the room's clients.
                counted.labels(event, "elsewhere").inc()
                return failure("Room not on this node")
            counted.labels(event, "ok").inc()
            return {"success": True}

        return on_event

    # Each report runs as its own task, so a producer's close may be handled before its start: the
    # script in store.record_producer decides what the room is told whatever the order, and the
    # room's lock keeps this process's emits for the room in the order the script decided them.
    async def new_producer(p: ProducerEvent, node_id: str) -> bool:
        room = int(p.roomId)
        async with locks.of(room):
            record = ProducerRecord(p.userId, p.source)
            outcome = await store.record_producer(rt.services.redis, rt.services.keys, room, node_id, "new",
                                                  p.producerId, record)  # fmt: skip
            if outcome == "tell":
                await rooms.broadcast(room, "audio:newProducer", {"producerId": p.producerId, "userId": p.userId,
                                                                  "kind": "audio", "source": p.source})  # fmt: skip
        return outcome != "elsewhere"

    async def producer_closed(p: ProducerEvent, node_id: str) -> bool:
        room = int(p.roomId)
        async with locks.of(room):
            now_ms = int(time.time() * 1000)
            outcome = await store.record_producer(rt.services.redis, rt.services.keys, room, node_id, "closed",
                                                  p.producerId, now_ms=now_ms)  # fmt: skip
            if outcome == "tell":
                await rooms.broadcast(room, "audio:producerClosed", {"producerId": p.producerId, "userId": p.userId})
        return outcome != "elsewhere"

    def producer_paused(paused: bool) -> Any:
        async def act(p: ProducerEvent, node_id: str) -> bool:
            # Kept for the join ack's existingProducers; clients already got seat:userMuted from the
            # engine, which decided the pause (self mute, or a moderator's mute of the seat).
            record = ProducerRecord(p.userId, p.source, paused)
            outcome = await store.record_producer(rt.services.redis, rt.services.keys, int(p.roomId), node_id,
                                                  "paused", p.producerId, record)  # fmt: skip
            return outcome != "elsewhere"

        return act

    async def on_this_node(room_id: int, node_id: str) -> bool:
        return await store.room_node_id(rt.services.redis, rt.services.keys, room_id) == node_id

    async def transport_closed(p: TransportClosed, node_id: str) -> bool:
        # ICE or DTLS failed, or it was closed on the node: the user may create another one.
        if not await on_this_node(int(p.roomId), node_id):
            return False
        await store.give_back_transport(rt.services.redis, rt.services.keys, int(p.roomId), p.userId)
        return True

    async def speakers(p: SpeakersEvent, node_id: str) -> bool:
        if not await on_this_node(int(p.roomId), node_id):
            return False
        first = p.userIds[0] if p.userIds else ""
        data = {"userId": first, "activeSpeakers": p.userIds, "timestamp": int(time.time() * 1000)}
        await rooms.broadcast(int(p.roomId), "speaker:active", data)
        return True

    reports: list[tuple[str, type[msgspec.Struct], Any]] = [
        ("producer:new", ProducerEvent, new_producer),
        ("producer:closed", ProducerEvent, producer_closed),
        ("speakers:active", SpeakersEvent, speakers),
        ("producer:paused", ProducerEvent, producer_paused(True)),
        ("producer:resumed", ProducerEvent, producer_paused(False)),
        ("transport:closed", TransportClosed, transport_closed),
    ]
    for event, payload_type, act in reports:
        sio.on(event, handler(event, payload_type, act), namespace=NAMESPACE)
