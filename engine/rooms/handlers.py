"""Socket.IO events of the rooms domain: one table row per event (decoded and checked by the room
prologue in `events.py`), and the hooks for sockets arriving and going away."""

from __future__ import annotations

from functools import partial
from typing import Any

from engine.jobs import Periodic
from engine.realtime.acks import Ack
from engine.rooms import chat, janitor, membership, moderation, presence, seats
from engine.rooms.events import RoomCall, RoomEvent, register
from engine.rooms.live import LiveRooms
from engine.rooms.model import (
    AssignPayload,
    BanPayload,
    ChatPayload,
    ClosePayload,
    GetRoomPayload,
    InviteAnswerPayload,
    JoinPayload,
    KickPayload,
    Payload,
    PresencePayload,
    Rank,
    ReactionPayload,
    SeatPayload,
    TargetPayload,
    in_room,
)  # fmt: skip
from engine.rooms.seats import OK


async def join(rooms: LiveRooms, call: RoomCall, p: JoinPayload) -> Ack:
    return await membership.do_join(rooms, call.sid, call.session, p)


async def leave(rooms: LiveRooms, call: RoomCall, p: Payload) -> Ack:
    room_id = in_room(call.session, p.roomId)
    if room_id is not None:
        await membership.do_leave(rooms, call.sid, call.session, room_id, mode="leave")
    return OK  # the contract: leaving always succeeds


async def kick(rooms: LiveRooms, call: RoomCall, p: KickPayload) -> Ack:
    await moderation.do_kick(rooms, call.room_id, call.user_id, p.userId, p.minutes, p.reason)
    return OK


async def ban(rooms: LiveRooms, call: RoomCall, p: BanPayload) -> Ack:
    await moderation.do_ban(rooms, call.room_id, call.user_id, p.userId, p.minutes, p.reason)
    return OK


async def unban(rooms: LiveRooms, call: RoomCall, p: TargetPayload) -> Ack:
    return {"success": True, "lifted": await moderation.do_unban(rooms, call.room_id, call.user_id, p.userId)}


async def close(rooms: LiveRooms, call: RoomCall, p: ClosePayload) -> Ack:
    await moderation.do_close(rooms, call.room_id, call.user_id, p.reason)
    return OK


async def get_room(rooms: LiveRooms, call: RoomCall, p: GetRoomPayload) -> Ack:
    return await presence.do_get_room(rooms, call.sid, call.session, p)


async def subscribe(rooms: LiveRooms, call: RoomCall, p: PresencePayload) -> Ack:
    return await presence.do_subscribe(rooms, call.sid, call.session, p)


async def unsubscribe(rooms: LiveRooms, call: RoomCall, p: PresencePayload) -> Ack:
    return await presence.do_unsubscribe(rooms, call.sid, call.session, p)


# (event, payload, action, who may). Moderation's rank rules (kick, ban, unban, close) are checked
# by its actions, which the REST API shares; seat locks and invites check against the seat's state.
EVENTS: list[RoomEvent[Any]] = [
    RoomEvent("room:join", JoinPayload, join, needs_room=False),
    RoomEvent("room:leave", Payload, leave, needs_room=False),
    RoomEvent("seat:take", SeatPayload, seats.do_take),
    RoomEvent("seat:leave", Payload, seats.do_leave_seat),
    RoomEvent("seat:assign", AssignPayload, seats.do_assign, Rank.OWNER),
    RoomEvent("seat:remove", TargetPayload, seats.do_remove, Rank.OWNER),
    RoomEvent("seat:mute", TargetPayload, partial(seats.do_mute, muted=True), Rank.ADMIN),
    RoomEvent("seat:unmute", TargetPayload, partial(seats.do_mute, muted=False), Rank.ADMIN),
    RoomEvent("seat:lock", SeatPayload, partial(seats.do_lock, lock=True)),
    RoomEvent("seat:unlock", SeatPayload, partial(seats.do_lock, lock=False)),
    RoomEvent("seat:invite", AssignPayload, seats.do_invite),
    RoomEvent("seat:invite:accept", InviteAnswerPayload, partial(seats.do_answer_invite, accept=True)),
    RoomEvent("seat:invite:decline", InviteAnswerPayload, partial(seats.do_answer_invite, accept=False)),
    RoomEvent("seat:reaction", ReactionPayload, seats.do_reaction),
    RoomEvent("chat:message", ChatPayload, chat.do_chat),
    RoomEvent("room:kick", KickPayload, kick),
    RoomEvent("room:ban", BanPayload, ban),
    RoomEvent("room:unban", TargetPayload, unban),
    RoomEvent("room:close", ClosePayload, close),
    RoomEvent("user:getRoom", GetRoomPayload, get_room),
    RoomEvent("presence:subscribe", PresencePayload, subscribe),
    RoomEvent("presence:unsubscribe", PresencePayload, unsubscribe),
]


def register_room_events(rooms: LiveRooms) -> None:
    register(rooms, EVENTS)
    rt = rooms.rt

    async def on_connect(sid: str, session: dict[str, Any]) -> None:
        await presence.went_online(rooms, sid, int(session["user_id"]))

    async def on_disconnect(sid: str, session: dict[str, Any]) -> None:
        room_id = session.get("room_id")
        if room_id is not None:
            await membership.do_leave(rooms, sid, session, room_id, mode="disconnect")
        await presence.went_offline(rooms, rt.instance_id, sid, int(session["user_id"]))

    rt.connect_hooks.append(on_connect)
    rt.disconnect_hooks.append(on_disconnect)
    rt.stop_hooks.append(lambda: janitor.forget_this_process(rooms))
    rt.stop_hooks.append(rooms.stop)
    every = rt.config.instance_heartbeat_seconds
    rt.background.append(Periodic("instance-heartbeat", janitor.Heartbeat(rooms).step, every))
    rt.background.append(Periodic("room-janitor", lambda: janitor.janitor_pass(rooms), every))
