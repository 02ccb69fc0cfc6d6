"""Presence: who is online (any socket, fleet-wide), who is in which room, and subscriptions.

A user's sockets are kept in one Redis set as "<instance>:<sid>", so a user with several sockets
counts once and the sockets of a dead process can be found and removed by the others.
"""

from __future__ import annotations

from typing import Any

from engine.realtime.server import RealtimeServer
from engine.rooms import store
from engine.rooms.model import GetRoomPayload, PresencePayload
from engine.services import Services


def presence_room(user_id: int) -> str:
    return f"presence:user:{user_id}"


def socket_member(instance_id: str, sid: str) -> str:
    return f"{instance_id}:{sid}"


async def went_online(rt: RealtimeServer, sid: str, user_id: int) -> None:
    svc = rt.services
    key = svc.keys.user_sockets(user_id)
    async with svc.redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, socket_member(rt.instance_id, sid))
        pipe.expire(key, 86400)
        pipe.scard(key)
        pipe.hset(svc.keys.instance_sockets(rt.instance_id), sid, f"{user_id}:0")
        _added, _ttl, count, _set = await pipe.execute()
    if int(count) == 1:
        await rt.sio.emit("presence.update", {"userId": user_id, "online": True}, room=presence_room(user_id))


async def went_offline(rt: RealtimeServer, instance_id: str, sid: str, user_id: int) -> None:
    svc = rt.services
    key = svc.keys.user_sockets(user_id)
    async with svc.redis.pipeline(transaction=True) as pipe:
        pipe.srem(key, socket_member(instance_id, sid))
        pipe.scard(key)
        pipe.hdel(svc.keys.instance_sockets(instance_id), sid)
        removed, count, _ = await pipe.execute()
    if int(removed) and int(count) == 0:
        await rt.sio.emit("presence.update", {"userId": user_id, "online": False}, room=presence_room(user_id))


async def online_map(svc: Services, user_ids: list[int]) -> dict[str, bool]:
    async with svc.redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.scard(svc.keys.user_sockets(user_id))
        counts = await pipe.execute()
    return {str(uid): int(n) > 0 for uid, n in zip(user_ids, counts, strict=True)}


async def do_subscribe(rt: RealtimeServer, sid: str, session: dict[str, Any], p: PresencePayload) -> dict[str, Any]:
    ids = list(dict.fromkeys(p.userIds))
    for user_id in ids:
        await rt.sio.enter_room(sid, presence_room(user_id))
    return {"success": True, "data": await online_map(rt.services, ids)}


async def do_unsubscribe(rt: RealtimeServer, sid: str, session: dict[str, Any], p: PresencePayload) -> dict[str, Any]:
    for user_id in dict.fromkeys(p.userIds):
        await rt.sio.leave_room(sid, presence_room(user_id))
    return {"success": True}


async def do_get_room(rt: RealtimeServer, sid: str, session: dict[str, Any], p: GetRoomPayload) -> dict[str, Any]:
    """Which room a user is in. Hidden rooms are only revealed to someone in the same room."""
    svc = rt.services
    raw = await svc.redis.get(svc.keys.user_room(p.userId))
    room_id = int(raw) if raw else None
    if room_id is not None and room_id != session.get("room_id"):
        async with svc.pool.acquire() as conn:
            room = await store.get_room(conn, room_id)
        if room is None or room["is_hidden"] or room["password_hash"]:
            room_id = None
    return {"success": True, "data": {"roomId": str(room_id) if room_id is not None else None}}
