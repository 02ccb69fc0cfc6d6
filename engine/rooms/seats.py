"""Seat actions: take, leave, assign, remove, mute, lock, invite, reactions.

Permission checks read roles from PostgreSQL (owner, room admins, platform staff) and VIP levels
from the users table — never from the client. Each change is one Lua script; its events are emitted
after it committed.
"""

from __future__ import annotations

from typing import Any

from engine.audit.store import record_txn
from engine.media import node_events
from engine.realtime.server import RealtimeServer
from engine.rooms import live
from engine.rooms.membership import failure
from engine.rooms.model import (
    VIP_GUARD_MUTE,
    VIP_GUARD_REMOVE,
    AssignPayload,
    InviteAnswerPayload,
    Rank,
    ReactionPayload,
    SeatPayload,
    TargetPayload,
    may_manage,
    may_moderate,
    room_id_of,
    vip_protected,
)  # fmt: skip
from engine.rooms.roles import ranks_and_vip

OK: dict[str, Any] = {"success": True}


def in_room(session: dict[str, Any], room_ref: int | str) -> int | None:
    """The room id when this socket is in that room, else None (the NOT_IN_ROOM case)."""
    room_id = room_id_of(room_ref)
    return room_id if room_id is not None and session.get("room_id") == room_id else None


def _result_ack(result: Any) -> dict[str, Any]:
    return OK if result.ok else failure(result.code or "NOT_AUTHORIZED")


async def _audited(rt: RealtimeServer, actor: int, action: str, room_id: int, result: Any, **details: Any) -> Any:
    """Write a moderation action that took effect to the audit log; return the script result."""
    if result.ok:
        async with rt.services.pool.acquire() as conn:
            await record_txn(conn, actor_id=actor, action=action, target_type="room", target_id=room_id,
                             details=details)  # fmt: skip
    return result


async def do_take(rt: RealtimeServer, sid: str, session: dict[str, Any], p: SeatPayload) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    result = await live.run(rt, "seat_take", room_id, session["user_id"], p.seatIndex, 0, actor_sid=sid)
    if result.code == "SEAT_TAKEN":
        occupant = result.data.get("occupant") or None
        if occupant:
            profile = await rt.services.redis.hget(rt.services.keys.room(room_id)[8], str(occupant["userId"]))
            occupant["user"] = live.decode(profile) if profile else None
        return failure("SEAT_TAKEN", occupant=occupant)
    return _result_ack(result)


async def do_leave_seat(rt: RealtimeServer, sid: str, session: dict[str, Any], p: Any) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    user_id = session["user_id"]
    result = await live.run(rt, "seat_leave", room_id, user_id, "", user_id, actor_sid=sid)
    if result.ok:  # off the seat, off the air (the legacy server left the producer open)
        await node_events.command(rt, room_id, "closeUserProducers", userId=user_id)
    return _result_ack(result)


async def do_assign(rt: RealtimeServer, sid: str, session: dict[str, Any], p: AssignPayload) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    ranks, _vip = await ranks_and_vip(rt.services, room_id, session["user_id"], p.userId)
    if ranks[0] < Rank.OWNER:
        return failure("NOT_AUTHORIZED")
    result = await live.run(rt, "seat_assign", room_id, p.userId, p.seatIndex, actor_sid=sid)
    await _audited(rt, session["user_id"], "seat.assign", room_id, result, user_id=p.userId, seat=p.seatIndex)
    if result.ok and result.data.get("displaced"):  # off the seat, off the air (legacy left it open)
        await node_events.command(rt, room_id, "closeUserProducers", userId=int(result.data["displaced"]))
    return _result_ack(result)


async def do_remove(rt: RealtimeServer, sid: str, session: dict[str, Any], p: TargetPayload) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    ranks, vip = await ranks_and_vip(rt.services, room_id, session["user_id"], p.userId)
    if ranks[0] < Rank.OWNER:
        return failure("NOT_AUTHORIZED")
    if p.userId != session["user_id"] and vip_protected(vip, VIP_GUARD_REMOVE, ranks[0]):
        return failure("VIP_PROTECTED")
    removed = await live.run(rt, "seat_leave", room_id, p.userId, "removed", session["user_id"], actor_sid=sid)
    await _audited(rt, session["user_id"], "seat.remove", room_id, removed, user_id=p.userId)
    if removed.ok:
        await node_events.command(rt, room_id, "closeUserProducers", userId=p.userId)
    return _result_ack(removed)


async def do_mute(
    rt: RealtimeServer, sid: str, session: dict[str, Any], p: TargetPayload, *, muted: bool
) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    actor = session["user_id"]
    ranks, vip = await ranks_and_vip(rt.services, room_id, actor, p.userId)
    if not may_moderate(ranks[0], ranks[1], self_target=p.userId == actor):
        return failure("NOT_AUTHORIZED")
    if muted and p.userId != actor and vip_protected(vip, VIP_GUARD_MUTE, ranks[0]):
        return failure("VIP_PROTECTED")
    result = await live.run(rt, "seat_mute", room_id, p.userId, int(muted), actor_sid=sid)
    if result.ok:  # a moderator mute silences the producer for everyone, with no client action
        await node_events.command(rt, room_id, "pauseUser" if muted else "resumeUser", userId=p.userId)
    if p.userId != actor:
        await _audited(rt, actor, "seat.mute" if muted else "seat.unmute", room_id, result, user_id=p.userId)
    return _result_ack(result)


async def do_lock(
    rt: RealtimeServer, sid: str, session: dict[str, Any], p: SeatPayload, *, lock: bool
) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    actor = session["user_id"]
    for _attempt in range(3):
        occupant = await _occupant(rt, room_id, p.seatIndex)
        ranks, _vip = await ranks_and_vip(rt.services, room_id, actor, occupant or actor)
        allowed = may_manage(ranks[0]) and (
            not lock or not occupant or may_moderate(ranks[0], ranks[1], self_target=occupant == actor)
        )  # fmt: skip
        if not allowed:
            return failure("NOT_AUTHORIZED")
        result = await live.run(rt, "seat_lock", room_id, p.seatIndex, int(lock), occupant or 0, actor_sid=sid)
        if result.code != "STATE_CHANGED":  # the occupant changed between our check and the lock
            action = "seat.lock" if lock else "seat.unlock"
            await _audited(rt, actor, action, room_id, result, seat=p.seatIndex, occupant=occupant)
            if result.ok and lock and occupant:
                await node_events.command(rt, room_id, "closeUserProducers", userId=occupant)
            return _result_ack(result)
    return failure("STATE_CHANGED")


async def _occupant(rt: RealtimeServer, room_id: int, index: int) -> int | None:
    raw = await rt.services.redis.hget(rt.services.keys.room(room_id)[1], str(index))
    return int(live.decode(raw)["u"]) if raw else None


async def do_invite(rt: RealtimeServer, sid: str, session: dict[str, Any], p: AssignPayload) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    actor = session["user_id"]
    if p.userId == actor:
        return failure("CANNOT_INVITE_SELF")
    ranks, _vip = await ranks_and_vip(rt.services, room_id, actor, p.userId)
    if not may_manage(ranks[0]):
        return failure("NOT_AUTHORIZED")
    ttl = rt.services.config.seat_invite_ttl_ms
    return _result_ack(await live.run(rt, "seat_invite", room_id, actor, p.userId, p.seatIndex, ttl, actor_sid=sid))


async def do_answer_invite(
    rt: RealtimeServer, sid: str, session: dict[str, Any], p: InviteAnswerPayload, *, accept: bool
) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    index = -1 if p.seatIndex is None else p.seatIndex
    result = await live.run(rt, "seat_invite_answer", room_id, session["user_id"], index, int(accept), actor_sid=sid)
    return _result_ack(result)


async def do_reaction(rt: RealtimeServer, sid: str, session: dict[str, Any], p: ReactionPayload) -> dict[str, Any]:
    room_id = in_room(session, p.roomId)
    if room_id is None:
        return failure("NOT_IN_ROOM")
    svc = rt.services
    user_id = session["user_id"]
    if not await svc.redis.hexists(svc.keys.room(room_id)[2], str(user_id)):
        return failure("NOT_SEATED")
    verdict = await svc.limiter.hit("reaction", f"{room_id}:{user_id}", svc.config.reaction_rate_limit)
    if not verdict.allowed:
        return failure("RATE_LIMITED")
    # A reaction changes no state: it is not sequenced or replayed.
    await rt.sio.emit("seat:reaction", {"userId": user_id, "code": p.code}, room=live.room_channel(room_id))
    return OK
