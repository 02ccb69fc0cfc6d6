"""Live room plumbing shared by the room actions: emitting script events, entering and leaving.

Every event a script recorded is emitted here, after the script committed, to exactly the audience
the script named: the whole room, the room but the acting socket, or one user's sockets.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from engine.realtime.server import RealtimeServer, user_room
from engine.rooms.scripts import COMPARE_DELETE, RoomEvent, RoomScripts, ScriptResult, as_list
from engine.services import Services

log = logging.getLogger("flylive.rooms")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
__all__ = ["as_list"]


def text(value: object) -> str:
    """A Redis reply as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def encode(value: Any) -> str:
    return _encoder.encode(value).decode()


def decode(text: str | bytes) -> Any:
    return _decoder.decode(text)


def room_channel(room_id: int) -> str:
    """The Socket.IO room every member socket of a room is in."""
    return f"room:{room_id}"


async def emit_events(rt: RealtimeServer, room_id: int, events: list[RoomEvent], actor_sid: str | None) -> None:
    for event in events:
        data = _decoder.decode(event.body)
        if event.to == "room":
            await rt.sio.emit(event.name, data, room=room_channel(room_id))
        elif event.to == "others":
            await rt.sio.emit(event.name, data, room=room_channel(room_id), skip_sid=actor_sid)
        elif event.to.startswith("user:"):
            await rt.sio.emit(event.name, data, room=user_room(int(event.to[5:])))


def scripts(rt: RealtimeServer) -> RoomScripts:
    return rt.room_scripts


async def run(
    rt: RealtimeServer, name: str, room_id: int, *args: str | int, actor_sid: str | None = None
) -> ScriptResult:
    """Run a room script and emit what it recorded.

    The lock keeps this process's emits for a room in `seq` order: without it, two actions could
    run their scripts in one order and publish their events in the other. (Across processes, order
    by `seq`; a client that sees a gap can re-join with `lastSeq`.)
    """
    async with rt.room_locks[room_id % len(rt.room_locks)]:
        result = await rt.room_scripts.run(name, room_id, *args)
        if result.events:
            await emit_events(rt, room_id, result.events, actor_sid)
    return result


async def record_membership(
    svc: Services, instance_id: str, sid: str, room_id: int, user_id: int, members: int
) -> None:
    """Bookkeeping outside the room's slot: user -> room, this process's sockets, popularity."""
    async with svc.redis.pipeline(transaction=False) as pipe:
        pipe.set(svc.keys.user_room(user_id), room_id, ex=86400)
        pipe.hset(svc.keys.instance_sockets(instance_id), sid, f"{user_id}:{room_id}")
        pipe.zadd(svc.keys.live_rooms(), {str(room_id): members})
        await pipe.execute()


async def forget_membership(
    svc: Services, instance_id: str | None, sid: str | None, room_id: int, user_id: int, result: ScriptResult
) -> None:
    async with svc.redis.pipeline(transaction=False) as pipe:
        if instance_id and sid and result.data.get("sids"):
            # Still connected (or about to be removed by the disconnect hook), no longer in a room.
            pipe.hset(svc.keys.instance_sockets(instance_id), sid, f"{user_id}:0")
        if result.data.get("left"):
            members = int(result.data.get("members", 0))
            if members > 0:
                pipe.zadd(svc.keys.live_rooms(), {str(room_id): members})
            else:
                pipe.zrem(svc.keys.live_rooms(), str(room_id))
            held = int(result.data.get("held", -1))
            if held >= 0:
                hold = f"{room_id}:{user_id}:{held}:{result.data['held_at']}"
                pipe.zadd(svc.keys.seat_holds(), {hold: int(result.data["held_at"]) + svc.config.seat_grace_ms})
        await pipe.execute()
    if result.data.get("left"):
        # Only clear the pointer if it still names this room (the user may have joined another).
        await rt_compare_delete(svc, svc.keys.user_room(user_id), str(room_id))


async def rt_compare_delete(svc: Services, key: str, expected: str) -> None:
    await COMPARE_DELETE.bind(svc.redis)(keys=[key], args=[expected])


def decode_all(raw: Any) -> list[Any]:
    return [_decoder.decode(item) for item in as_list(raw)]
