"""Room moderation: kick (with a temporary block), ban and unban, close. Used by socket events and
by the REST API alike; every action is checked against the actor's rank in the room and written
to the audit log. Below them, the platform staff's (the reports domain, issue 12 §4, decides who
may): a mute in every room for a period, and deleting a chat message from a room's history.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg

from engine.audit.store import record_txn
from engine.errors import DomainError, not_found
from engine.realtime.server import user_room
from engine.rooms import store
from engine.rooms.batching import batch_channel, each_channel
from engine.rooms.cache import room_topic, user_topic
from engine.rooms.live import LiveRooms, decode
from engine.rooms.membership import do_leave
from engine.rooms.model import Rank, may_moderate, room_channel
from engine.rooms.roles import ranks_and_vip
from engine.rooms.store import as_list

log = logging.getLogger("flylive.rooms.moderation")


def not_authorized() -> DomainError:
    return DomainError("NOT_AUTHORIZED", "Not authorized", status=403)


async def check_may_moderate(rooms: LiveRooms, room_id: int, actor_id: int, target_id: int) -> None:
    (actor, target), _vip = await ranks_and_vip(rooms.cache, room_id, actor_id, target_id)
    # Nobody kicks or bans themself; otherwise the rank rules of may_moderate apply.
    if actor_id == target_id or not may_moderate(actor, target, self_target=False):
        raise not_authorized()


async def _evict(rooms: LiveRooms, room_id: int, user_id: int, notice: dict[str, Any]) -> None:
    """Take every socket of the user out of the room and tell them why."""
    await do_leave(rooms, None, None, room_id, mode="kick", user_id=user_id)
    await rooms.rt.sio.emit("room:kicked", {"roomId": str(room_id), **notice}, room=user_room(user_id))


async def _audit(rooms: LiveRooms, actor_id: int, action: str, room_id: int, details: dict[str, Any]) -> None:
    async with rooms.svc.pool.acquire() as conn:
        await record_txn(conn, actor_id=actor_id, action=action, target_type="room", target_id=room_id,
                         details=details)  # fmt: skip


async def do_kick(rooms: LiveRooms, room_id: int, actor_id: int, target_id: int, minutes: int,
                  reason: str | None) -> None:  # fmt: skip
    await check_may_moderate(rooms, room_id, actor_id, target_id)
    await rooms.state.block(room_id, target_id, actor_id, minutes * 60)
    await _audit(rooms, actor_id, "room.kick", room_id, {"user_id": target_id, "minutes": minutes, "reason": reason})
    await _evict(rooms, room_id, target_id, {"reason": reason or "kicked", "permanent": False,
                                          "remaining_seconds": minutes * 60})  # fmt: skip
    log.info("user kicked", extra={"room_id": room_id, "user_id": target_id, "by": actor_id})


async def do_ban(rooms: LiveRooms, room_id: int, actor_id: int, target_id: int, minutes: int | None,
                 reason: str | None) -> int:  # fmt: skip
    await check_may_moderate(rooms, room_id, actor_id, target_id)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes) if minutes else None
    try:
        async with rooms.svc.pool.acquire() as conn, conn.transaction():
            ban_id = await store.add_ban_txn(conn, room_id, target_id, banned_by=actor_id, until=until, reason=reason)
            await record_txn(conn, actor_id=actor_id, action="room.ban", target_type="room", target_id=room_id,
                             details={"user_id": target_id, "until": until.isoformat() if until else None,
                                      "reason": reason})  # fmt: skip
    except asyncpg.ForeignKeyViolationError as exc:  # the target is no user
        raise not_found("User") from exc
    # The trigger's NOTIFY tells every process; this one forgets at once, before it evicts.
    rooms.cache.invalidate(room_topic(room_id))
    await _evict(rooms, room_id, target_id, {"reason": reason or "banned", "permanent": until is None,
                                          "remaining_seconds": minutes * 60 if minutes else -1})  # fmt: skip
    return ban_id


async def do_unban(rooms: LiveRooms, room_id: int, actor_id: int, target_id: int) -> bool:
    (actor, _), _vip = await ranks_and_vip(rooms.cache, room_id, actor_id, target_id)
    if actor < Rank.ADMIN:
        raise not_authorized()
    async with rooms.svc.pool.acquire() as conn, conn.transaction():
        lifted = await store.lift_ban_txn(conn, room_id, target_id, actor_id)
        await record_txn(conn, actor_id=actor_id, action="room.unban", target_type="room", target_id=room_id,
                         details={"user_id": target_id})  # fmt: skip
    rooms.cache.invalidate(room_topic(room_id))  # at once here; the trigger's NOTIFY tells the others
    blocked = await rooms.state.lift_block(room_id, target_id)
    return lifted or blocked


async def do_close(rooms: LiveRooms, room_id: int, actor_id: int | None, reason: str) -> None:
    """Close a room: record it, end the live state, tell and release every member."""
    svc = rooms.svc
    async with svc.pool.acquire() as conn:
        room = await store.get_room(conn, room_id)
        if room is None:
            raise not_found("Room")
        if actor_id is not None:
            (actor, _), _vip = await ranks_and_vip(rooms.cache, room_id, actor_id, actor_id)
            if actor < Rank.OWNER:
                raise not_authorized()
        async with conn.transaction():
            await store.set_closed_txn(conn, room_id, True)
            await record_txn(conn, actor_id=actor_id, action="room.close", target_type="room", target_id=room_id,
                             details={"reason": reason})  # fmt: skip
    result = await rooms.run(room_id, rooms.state.close(room_id, reason))
    await rooms.media.close_router(room_id)
    rooms.batcher.forget(room_id)
    for channel in (room_channel(room_id), batch_channel(room_id), each_channel(room_id)):
        await rooms.rt.sio.close_room(channel)
    await rooms.state.record_close(
        room_id, [int(m) for m in as_list(result.data.get("members"))], result.data.get("visits")
    )
    log.info("room closed", extra={"room_id": room_id, "by": actor_id, "reason": reason})


# --- platform-wide (staff, issue 12 §4): a mute in every room, a message deleted from a room ------


async def do_platform_mute(rooms: LiveRooms, actor_id: int | None, user_id: int, until: dt.datetime, *,
                           reason: str | None, case_id: int | None = None) -> None:  # fmt: skip
    """Mute the user in every room until `until`: chat:message and speaking (audio:produce,
    audio:selfUnmute, a moderator's unmute) are refused (MUTED) in each room from the next event on.
    A seat they hold now goes quiet at once: the node pauses their audio and the room hears
    seat:userMuted. The seat is not given a room moderator's mute: once the platform mute is over
    (its end, or an appeal lifting it), the user unmutes themselves as after their own mute."""
    try:
        async with rooms.svc.pool.acquire() as conn, conn.transaction():
            await store.set_platform_mute_txn(conn, user_id, until, reason=reason, case_id=case_id, muted_by=actor_id)
            await record_txn(conn, actor_id=actor_id, action="account.mute", target_type="user", target_id=user_id,
                             details={"until": until.isoformat(), "reason": reason, "case_id": case_id})  # fmt: skip
    except asyncpg.ForeignKeyViolationError as exc:
        raise not_found("User") from exc
    rooms.cache.invalidate(user_topic(user_id))  # here at once; the trigger's NOTIFY tells the others
    room_id = await rooms.state.room_of(user_id)
    seat = await rooms.state.seat_of(room_id, user_id) if room_id else None
    if room_id and seat is not None and not int(seat.get("m", 0)):
        await rooms.media.command(room_id, "pauseUser", userId=user_id)
        await rooms.run(room_id, rooms.state.self_mute(room_id, user_id, True, by_self=False))
    log.info("user muted in every room", extra={"user_id": user_id, "by": actor_id, "until": until.isoformat()})


async def do_lift_platform_mute(rooms: LiveRooms, actor_id: int | None, user_id: int, *,
                                case_id: int | None = None) -> bool:  # fmt: skip
    """Lift the user's platform mute (only the one `case_id` imposed, when given); whether there was one."""
    async with rooms.svc.pool.acquire() as conn, conn.transaction():
        lifted = await store.lift_platform_mute_txn(conn, user_id, case_id)
        if lifted:
            await record_txn(conn, actor_id=actor_id, action="account.unmute", target_type="user",
                             target_id=user_id, details={"case_id": case_id})  # fmt: skip
    rooms.cache.invalidate(user_topic(user_id))
    return lifted


async def do_delete_message(rooms: LiveRooms, actor_id: int | None, room_id: int, message_id: str, *,
                            reason: str | None) -> dict[str, Any] | None:  # fmt: skip
    """Delete a chat message from the room's history and send `chat:deleted` to the room; the message
    as it was, or None when the history (capped at CHAT_HISTORY) no longer holds it."""
    result = await rooms.run(room_id, rooms.state.chat_delete(room_id, message_id))
    message = decode(result.data["message"]) if result.ok else None
    async with rooms.svc.pool.acquire() as conn:
        await record_txn(conn, actor_id=actor_id, action="room.chat_delete", target_type="room", target_id=room_id,
                         details={"message_id": message_id, "deleted": message is not None, "reason": reason,
                                  "user_id": message.get("userId") if message else None})  # fmt: skip
    log.info("chat message deleted", extra={"room_id": room_id, "message_id": message_id, "by": actor_id,
                                            "found": message is not None})  # fmt: skip
    return message
