"""Seat actions: take, leave, assign, remove, mute, lock, invite, reactions.

Permission checks read roles (owner, room admins, platform staff) and VIP levels with their
tiers' privileges through the hot cache, which forgets them when their rows change — never from
the client (docs/vip.md: anti-mute, anti-kick). Each change is one Lua script; its events are emitted
after it committed.
"""

from __future__ import annotations

from typing import Any

from engine.accounts.vip_model import NO_PRIVILEGES, VipPrivileges
from engine.audit.store import record_txn
from engine.realtime.acks import Ack
from engine.rooms.events import RoomCall, muted_refusal, refuse
from engine.rooms.live import LiveRooms
from engine.rooms.model import (
    AssignPayload,
    InviteAnswerPayload,
    ReactionPayload,
    SeatPayload,
    TargetPayload,
    may_manage,
    may_moderate,
    vip_protected,
)  # fmt: skip
from engine.rooms.roles import ranks_and_vip

OK: Ack = {"success": True}


async def _vip_of(rooms: LiveRooms, user_id: int) -> VipPrivileges:
    """The privileges of the user's VIP tier in force now (the hot cache: no PostgreSQL read once seen)."""
    user = await rooms.cache.user(user_id)
    return user.vip if user is not None else NO_PRIVILEGES


def _result_ack(result: Any) -> Ack:
    return OK if result.ok else refuse(result.code or "NOT_AUTHORIZED")


async def _audited(rooms: LiveRooms, actor: int, action: str, room_id: int, result: Any, **details: Any) -> Any:
    """Write a moderation action that took effect to the audit log; return the script result."""
    if result.ok:
        async with rooms.svc.pool.acquire() as conn:
            await record_txn(conn, actor_id=actor, action=action, target_type="room", target_id=room_id,
                             details=details)  # fmt: skip
    return result


async def do_take(rooms: LiveRooms, call: RoomCall, p: SeatPayload) -> Ack:
    room_id = call.room_id
    result = await rooms.run(room_id, rooms.state.seat_take(room_id, call.user_id, p.seatIndex), actor_sid=call.sid)
    if result.code == "SEAT_TAKEN":
        occupant = result.data.get("occupant") or None
        if occupant:
            occupant["user"] = await rooms.state.profile(room_id, int(occupant["userId"]))
        return refuse("SEAT_TAKEN", occupant=occupant)
    return _result_ack(result)


async def do_leave_seat(rooms: LiveRooms, call: RoomCall, p: Any) -> Ack:
    room_id, user_id = call.room_id, call.user_id
    leaving = rooms.state.seat_leave(room_id, user_id, reason="", actor_id=user_id)
    result = await rooms.run(room_id, leaving, actor_sid=call.sid)
    if result.ok:  # off the seat, off the air (the legacy server left the producer open)
        await rooms.media.command(room_id, "closeUserProducers", userId=user_id)
    return _result_ack(result)


async def do_assign(rooms: LiveRooms, call: RoomCall, p: AssignPayload) -> Ack:
    """The owner seats someone (who may: owner)."""
    room_id = call.room_id
    if (await rooms.cache.blocks(call.user_id)).either(p.userId):
        return refuse("BLOCKED")
    result = await rooms.run(room_id, rooms.state.seat_assign(room_id, p.userId, p.seatIndex), actor_sid=call.sid)
    await _audited(rooms, call.user_id, "seat.assign", room_id, result, user_id=p.userId, seat=p.seatIndex)
    if result.ok and result.data.get("displaced"):  # off the seat, off the air (legacy left it open)
        await rooms.media.command(room_id, "closeUserProducers", userId=int(result.data["displaced"]))
    return _result_ack(result)


async def do_remove(rooms: LiveRooms, call: RoomCall, p: TargetPayload) -> Ack:
    """The owner takes someone off their seat (who may: owner), unless VIP protects them."""
    assert call.standing is not None
    room_id = call.room_id
    if p.userId != call.user_id and vip_protected(await _vip_of(rooms, p.userId), "anti_kick", call.standing.actor):
        return refuse("VIP_PROTECTED")
    removing = rooms.state.seat_leave(room_id, p.userId, reason="removed", actor_id=call.user_id)
    removed = await rooms.run(room_id, removing, actor_sid=call.sid)
    await _audited(rooms, call.user_id, "seat.remove", room_id, removed, user_id=p.userId)
    if removed.ok:
        await rooms.media.command(room_id, "closeUserProducers", userId=p.userId)
    return _result_ack(removed)


async def do_mute(rooms: LiveRooms, call: RoomCall, p: TargetPayload, *, muted: bool) -> Ack:
    """A moderator mutes or unmutes a seat (who may: admin, then the rank rules of may_moderate)."""
    assert call.standing is not None
    room_id, actor, standing = call.room_id, call.user_id, call.standing
    if not may_moderate(standing.actor, standing.target, self_target=p.userId == actor):
        return refuse("NOT_AUTHORIZED")
    if muted and p.userId != actor and vip_protected(await _vip_of(rooms, p.userId), "anti_mute", standing.actor):
        return refuse("VIP_PROTECTED")
    if not muted and (refused := await muted_refusal(rooms, p.userId)) is not None:
        return refused  # a platform mute outranks the room's moderators
    result = await rooms.run(room_id, rooms.state.seat_mute(room_id, p.userId, muted), actor_sid=call.sid)
    if result.ok:  # a moderator mute silences the producer for everyone, with no client action
        await rooms.media.command(room_id, "pauseUser" if muted else "resumeUser", userId=p.userId)
    if p.userId != actor:
        await _audited(rooms, actor, "seat.mute" if muted else "seat.unmute", room_id, result, user_id=p.userId)
    return _result_ack(result)


async def do_lock(rooms: LiveRooms, call: RoomCall, p: SeatPayload, *, lock: bool) -> Ack:
    """Lock or unlock a seat. Who may depends on who sits there, so the check is made against the
    occupant seen, and the script refuses (STATE_CHANGED) if the occupant changed since."""
    room_id, actor = call.room_id, call.user_id
    for _attempt in range(3):
        occupant = await rooms.state.occupant(room_id, p.seatIndex)
        ranks, _vip = await ranks_and_vip(rooms.cache, room_id, actor, occupant or actor)
        allowed = may_manage(ranks[0]) and (
            not lock or not occupant or may_moderate(ranks[0], ranks[1], self_target=occupant == actor)
        )  # fmt: skip
        if not allowed:
            return refuse("NOT_AUTHORIZED")
        locking = rooms.state.seat_lock(room_id, p.seatIndex, lock, occupant)
        result = await rooms.run(room_id, locking, actor_sid=call.sid)
        if result.code != "STATE_CHANGED":  # the occupant changed between our check and the lock
            action = "seat.lock" if lock else "seat.unlock"
            await _audited(rooms, actor, action, room_id, result, seat=p.seatIndex, occupant=occupant)
            if result.ok and lock and occupant:
                await rooms.media.command(room_id, "closeUserProducers", userId=occupant)
            return _result_ack(result)
    return refuse("STATE_CHANGED")


async def do_invite(rooms: LiveRooms, call: RoomCall, p: AssignPayload) -> Ack:
    room_id, actor = call.room_id, call.user_id
    if p.userId == actor:
        return refuse("CANNOT_INVITE_SELF")
    ranks, _vip = await ranks_and_vip(rooms.cache, room_id, actor, p.userId)
    if not may_manage(ranks[0]):
        return refuse("NOT_AUTHORIZED")
    if (await rooms.cache.blocks(actor)).either(p.userId):
        return refuse("BLOCKED")
    inviting = rooms.state.seat_invite(room_id, actor, p.userId, p.seatIndex, rooms.svc.config.seat_invite_ttl_ms)
    return _result_ack(await rooms.run(room_id, inviting, actor_sid=call.sid))


async def do_answer_invite(rooms: LiveRooms, call: RoomCall, p: InviteAnswerPayload, *, accept: bool) -> Ack:
    answer = rooms.state.seat_invite_answer(call.room_id, call.user_id, p.seatIndex, accept)
    return _result_ack(await rooms.run(call.room_id, answer, actor_sid=call.sid))


async def do_reaction(rooms: LiveRooms, call: RoomCall, p: ReactionPayload) -> Ack:
    svc, room_id, user_id = rooms.svc, call.room_id, call.user_id
    if not await rooms.state.is_seated(room_id, user_id):
        return refuse("NOT_SEATED")
    verdict = await svc.limiter.hit("reaction", f"{room_id}:{user_id}", svc.config.reaction_rate_limit)
    if not verdict.allowed:
        return refuse("RATE_LIMITED")
    # A reaction changes no state: it is not sequenced or replayed.
    await rooms.broadcast(room_id, "seat:reaction", {"userId": user_id, "code": p.code})
    return OK
