"""Presence: who is online (any socket, fleet-wide), who is in which room, and subscriptions.

A user's sockets are kept in one Redis set as "<instance>:<sid>", so a user with several sockets
counts once and the sockets of a dead process can be found and removed by the others.

Privacy (issue 12 §1): a user's `online_status` and `current_room` settings say who may see them,
and a block hides each from the other. A subscriber enters one Socket.IO room per tier its
relationship reached when it subscribed (everyone's, followers', friends'; none through a block);
each update goes to the one tier the user's setting names now, so a changed setting applies to the
next update with no resubscription. An unfollow or a block takes the subscribers out of the tiers
they lost (engine/rooms/social.py); a new follow counts from the next subscribe.
"""

from __future__ import annotations

from typing import Any

from engine.realtime.server import user_room
from engine.rooms import store
from engine.rooms.events import refuse
from engine.rooms.live import LiveRooms
from engine.rooms.model import GetRoomPayload, PresencePayload
from engine.social import store as social_store
from engine.social.model import PRESENCE_TIERS, Relationship, allows, presence_tier, presence_tiers


def presence_room(user_id: int, tier: str = "") -> str:
    """The room of a user's presence subscribers at a tier ("": everyone's, as the contract names it)."""
    return f"presence:user:{user_id}" + (f":{tier}" if tier else "")


ALL_TIERS = tuple(PRESENCE_TIERS.values())


async def _announce(rooms: LiveRooms, user_id: int, online: bool) -> None:
    tier = presence_tier((await rooms.cache.privacy(user_id)).online_status)
    if tier is not None:  # "nobody": no one hears it
        await rooms.rt.sio.emit("presence.update", {"userId": user_id, "online": online},
                                room=presence_room(user_id, tier))  # fmt: skip


async def went_online(rooms: LiveRooms, sid: str, user_id: int) -> None:
    svc = rooms.svc
    if await store.add_socket(svc.redis, svc.keys, rooms.rt.instance_id, sid, user_id) == 1:
        await _announce(rooms, user_id, True)


async def went_offline(rooms: LiveRooms, instance_id: str, sid: str, user_id: int) -> None:
    svc = rooms.svc
    if await store.remove_socket(svc.redis, svc.keys, instance_id, sid, user_id) == 0:
        await _announce(rooms, user_id, False)


async def _relationships(rooms: LiveRooms, viewer: int, ids: list[int]) -> dict[int, Relationship]:
    """How the viewer stands to each of `ids`: one PostgreSQL query (a subscribe is not on the
    per-message hot path; the blocks and settings that gate every update come from the cache)."""
    async with rooms.svc.pool.acquire() as conn:
        return await social_store.relationships(conn, viewer, ids)


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
    rels = await _relationships(rooms, int(session["user_id"]), ids)
    others = await _others_subscriptions(rooms, sid, int(session["user_id"]))
    # From here to the update nothing awaits, so two subscribes of this socket cannot both pass.
    subscribed = _subscriptions(session)
    # Through a block: not subscribed (and reported offline below).
    new = [user_id for user_id in ids if user_id not in subscribed and presence_tiers(rels[user_id])]
    config = rooms.rt.config
    per_socket, per_user = config.presence_subscriptions_per_socket, config.presence_subscriptions_per_user
    if len(subscribed) + len(new) > per_socket:
        return refuse("PRESENCE_LIMIT", limit=per_socket, scope="socket")
    if others + len(subscribed) + len(new) > per_user:
        return refuse("PRESENCE_LIMIT", limit=per_user, scope="user")
    subscribed.update(new)
    for user_id in new:
        for tier in presence_tiers(rels[user_id]):
            await rooms.rt.sio.enter_room(sid, presence_room(user_id, tier))
    online = await store.online(rooms.svc.redis, rooms.svc.keys, ids)
    # Hidden (by the setting or a block) reads as offline: no oracle for "online but hidden".
    seen = {uid: on and allows((await rooms.cache.privacy(uid)).online_status, rels[uid]) for uid, on in online.items()}
    return {"success": True, "data": {str(uid): on for uid, on in seen.items()}}


async def do_unsubscribe(rooms: LiveRooms, sid: str, session: dict[str, Any], p: PresencePayload) -> dict[str, Any]:
    subscribed = _subscriptions(session)
    for user_id in dict.fromkeys(p.userIds):
        subscribed.discard(user_id)
        for tier in ALL_TIERS:
            await rooms.rt.sio.leave_room(sid, presence_room(user_id, tier))
    return {"success": True}


async def do_get_room(rooms: LiveRooms, sid: str, session: dict[str, Any], p: GetRoomPayload) -> dict[str, Any]:
    """Which room a user is in, if their `current_room` setting lets the caller see it (never
    through a block). Hidden rooms are only revealed to someone in the same room."""
    svc = rooms.svc
    room_id = await rooms.state.room_of(p.userId)
    viewer = int(session["user_id"])
    if room_id is not None and p.userId != viewer and not await _may_see_room(rooms, viewer, p.userId):
        room_id = None
    if room_id is not None and room_id != session.get("room_id"):
        async with svc.pool.acquire() as conn:
            room = await store.get_room(conn, room_id)
        if room is None or room["is_hidden"] or room["password_hash"]:
            room_id = None
    return {"success": True, "data": {"roomId": str(room_id) if room_id is not None else None}}


async def _may_see_room(rooms: LiveRooms, viewer: int, user_id: int) -> bool:
    if (await rooms.cache.blocks(viewer)).either(user_id):
        return False
    setting = (await rooms.cache.privacy(user_id)).current_room
    if setting == "everyone":
        return True
    return allows(setting, (await _relationships(rooms, viewer, [user_id]))[user_id])
