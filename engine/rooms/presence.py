"""Presence: who is online (any socket, fleet-wide), who is in which room, and subscriptions.

A user's sockets are kept in one Redis set as "<instance>:<sid>", so a user with several sockets
counts once and the sockets of a dead process can be found and removed by the others.
"""

from __future__ import annotations

from typing import Any

from engine.realtime.server import user_room
from engine.rooms import store
from engine.rooms.events import refuse
from engine.rooms.live import LiveRooms
from engine.rooms.model import GetRoomPayload, PresencePayload


def presence_room(user_id: int) -> str:
    return f"presence:user:{user_id}"


async def went_online(rooms: LiveRooms, sid: str, user_id: int) -> None:
    svc = rooms.svc
    if await store.add_socket(svc.redis, svc.keys, rooms.rt.instance_id, sid, user_id) == 1:
        await rooms.rt.sio.emit("presence.update", {"userId": user_id, "online": True}, room=presence_room(user_id))


async def went_offline(rooms: LiveRooms, instance_id: str, sid: str, user_id: int) -> None:
    svc = rooms.svc
    if await store.remove_socket(svc.redis, svc.keys, instance_id, sid, user_id) == 0:
        await rooms.rt.sio.emit("presence.update", {"userId": user_id, "online": False}, room=presence_room(user_id))


def _subscriptions(session: dict[str, Any]) -> set[int]:
    """The ids this socket watches (its presence rooms), kept in its session to count them cheaply."""
    subscribed: set[int] = session.setdefault("presence_subscriptions", set())
    return subscribed


async def _others_subscriptions(rooms: LiveRooms, sid: str, user_id: int) -> int:
    """How many ids the user's other sockets on this process watch: each one costs this process memory."""
    sio = rooms.rt.sio
    others = [other for other, _ in sio.manager.get_participants("/", user_room(user_id)) if other != sid]
    return sum([len(_subscriptions(await sio.get_session(other))) for other in others])


async def do_subscribe(rooms: LiveRooms, sid: str, session: dict[str, Any], p: PresencePayload) -> dict[str, Any]:
    ids = list(dict.fromkeys(p.userIds))
    others = await _others_subscriptions(rooms, sid, int(session["user_id"]))
    # From here to the update nothing awaits, so two subscribes of this socket cannot both pass.
    subscribed = _subscriptions(session)
    new = [user_id for user_id in ids if user_id not in subscribed]
    config = rooms.rt.config
    per_socket, per_user = config.presence_subscriptions_per_socket, config.presence_subscriptions_per_user
    if len(subscribed) + len(new) > per_socket:
        return refuse("PRESENCE_LIMIT", limit=per_socket, scope="socket")
    if others + len(subscribed) + len(new) > per_user:
        return refuse("PRESENCE_LIMIT", limit=per_user, scope="user")
    subscribed.update(new)
    for user_id in new:
        await rooms.rt.sio.enter_room(sid, presence_room(user_id))
    online = await store.online(rooms.svc.redis, rooms.svc.keys, ids)
    return {"success": True, "data": {str(uid): on for uid, on in online.items()}}


async def do_unsubscribe(rooms: LiveRooms, sid: str, session: dict[str, Any], p: PresencePayload) -> dict[str, Any]:
    subscribed = _subscriptions(session)
    for user_id in dict.fromkeys(p.userIds):
        subscribed.discard(user_id)
        await rooms.rt.sio.leave_room(sid, presence_room(user_id))
    return {"success": True}


async def do_get_room(rooms: LiveRooms, sid: str, session: dict[str, Any], p: GetRoomPayload) -> dict[str, Any]:
    """Which room a user is in. Hidden rooms are only revealed to someone in the same room."""
    svc = rooms.svc
    room_id = await rooms.state.room_of(p.userId)
    if room_id is not None and room_id != session.get("room_id"):
        async with svc.pool.acquire() as conn:
            room = await store.get_room(conn, room_id)
        if room is None or room["is_hidden"] or room["password_hash"]:
            room_id = None
    return {"success": True, "data": {"roomId": str(room_id) if room_id is not None else None}}
