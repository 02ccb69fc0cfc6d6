"""Socket.IO events of the rooms domain: decode (in `socket_event`), call one action, ack."""

from __future__ import annotations

from typing import Any

from engine.jobs import Periodic
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer
from engine.rooms import chat, janitor, membership, moderation, presence, seats
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
    ReactionPayload,
    SeatPayload,
    TargetPayload,
)  # fmt: skip
from engine.rooms.seats import OK, in_room

Session = dict[str, Any]


def register_room_events(rt: RealtimeServer) -> None:
    on = socket_event

    @on(rt, "room:join", JoinPayload)
    async def join(rt: RealtimeServer, sid: str, s: Session, p: JoinPayload) -> dict[str, Any]:
        return await membership.do_join(rt, sid, s, p)

    @on(rt, "room:leave", Payload)
    async def leave(rt: RealtimeServer, sid: str, s: Session, p: Payload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is not None:
            await membership.do_leave(rt, sid, s, room_id, mode="leave")
        return OK  # the contract: leaving always succeeds

    @on(rt, "seat:take", SeatPayload)
    async def take(rt: RealtimeServer, sid: str, s: Session, p: SeatPayload) -> dict[str, Any]:
        return await seats.do_take(rt, sid, s, p)

    @on(rt, "seat:leave", Payload)
    async def leave_seat(rt: RealtimeServer, sid: str, s: Session, p: Payload) -> dict[str, Any]:
        return await seats.do_leave_seat(rt, sid, s, p)

    @on(rt, "seat:assign", AssignPayload)
    async def assign(rt: RealtimeServer, sid: str, s: Session, p: AssignPayload) -> dict[str, Any]:
        return await seats.do_assign(rt, sid, s, p)

    @on(rt, "seat:remove", TargetPayload)
    async def remove(rt: RealtimeServer, sid: str, s: Session, p: TargetPayload) -> dict[str, Any]:
        return await seats.do_remove(rt, sid, s, p)

    @on(rt, "seat:mute", TargetPayload)
    async def mute(rt: RealtimeServer, sid: str, s: Session, p: TargetPayload) -> dict[str, Any]:
        return await seats.do_mute(rt, sid, s, p, muted=True)

    @on(rt, "seat:unmute", TargetPayload)
    async def unmute(rt: RealtimeServer, sid: str, s: Session, p: TargetPayload) -> dict[str, Any]:
        return await seats.do_mute(rt, sid, s, p, muted=False)

    @on(rt, "seat:lock", SeatPayload)
    async def lock(rt: RealtimeServer, sid: str, s: Session, p: SeatPayload) -> dict[str, Any]:
        return await seats.do_lock(rt, sid, s, p, lock=True)

    @on(rt, "seat:unlock", SeatPayload)
    async def unlock(rt: RealtimeServer, sid: str, s: Session, p: SeatPayload) -> dict[str, Any]:
        return await seats.do_lock(rt, sid, s, p, lock=False)

    @on(rt, "seat:invite", AssignPayload)
    async def invite(rt: RealtimeServer, sid: str, s: Session, p: AssignPayload) -> dict[str, Any]:
        return await seats.do_invite(rt, sid, s, p)

    @on(rt, "seat:invite:accept", InviteAnswerPayload)
    async def accept(rt: RealtimeServer, sid: str, s: Session, p: InviteAnswerPayload) -> dict[str, Any]:
        return await seats.do_answer_invite(rt, sid, s, p, accept=True)

    @on(rt, "seat:invite:decline", InviteAnswerPayload)
    async def decline(rt: RealtimeServer, sid: str, s: Session, p: InviteAnswerPayload) -> dict[str, Any]:
        return await seats.do_answer_invite(rt, sid, s, p, accept=False)

    @on(rt, "seat:reaction", ReactionPayload)
    async def reaction(rt: RealtimeServer, sid: str, s: Session, p: ReactionPayload) -> dict[str, Any]:
        return await seats.do_reaction(rt, sid, s, p)

    @on(rt, "chat:message", ChatPayload)
    async def chat_message(rt: RealtimeServer, sid: str, s: Session, p: ChatPayload) -> dict[str, Any]:
        return await chat.do_chat(rt, sid, s, p)

    @on(rt, "room:kick", KickPayload)
    async def kick(rt: RealtimeServer, sid: str, s: Session, p: KickPayload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return membership.failure("NOT_IN_ROOM")
        await moderation.do_kick(rt, room_id, s["user_id"], p.userId, p.minutes, p.reason)
        return OK

    @on(rt, "room:ban", BanPayload)
    async def ban(rt: RealtimeServer, sid: str, s: Session, p: BanPayload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return membership.failure("NOT_IN_ROOM")
        await moderation.do_ban(rt, room_id, s["user_id"], p.userId, p.minutes, p.reason)
        return OK

    @on(rt, "room:unban", TargetPayload)
    async def unban(rt: RealtimeServer, sid: str, s: Session, p: TargetPayload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return membership.failure("NOT_IN_ROOM")
        return {"success": True, "lifted": await moderation.do_unban(rt, room_id, s["user_id"], p.userId)}

    @on(rt, "room:close", ClosePayload)
    async def close(rt: RealtimeServer, sid: str, s: Session, p: ClosePayload) -> dict[str, Any]:
        room_id = in_room(s, p.roomId)
        if room_id is None:
            return membership.failure("NOT_IN_ROOM")
        await moderation.do_close(rt, room_id, s["user_id"], p.reason)
        return OK

    @on(rt, "user:getRoom", GetRoomPayload)
    async def get_room(rt: RealtimeServer, sid: str, s: Session, p: GetRoomPayload) -> dict[str, Any]:
        return await presence.do_get_room(rt, sid, s, p)

    @on(rt, "presence:subscribe", PresencePayload)
    async def subscribe(rt: RealtimeServer, sid: str, s: Session, p: PresencePayload) -> dict[str, Any]:
        return await presence.do_subscribe(rt, sid, s, p)

    @on(rt, "presence:unsubscribe", PresencePayload)
    async def unsubscribe(rt: RealtimeServer, sid: str, s: Session, p: PresencePayload) -> dict[str, Any]:
        return await presence.do_unsubscribe(rt, sid, s, p)

    async def on_connect(sid: str, session: Session) -> None:
        await presence.went_online(rt, sid, int(session["user_id"]))

    async def on_disconnect(sid: str, session: Session) -> None:
        room_id = session.get("room_id")
        if room_id is not None:
            await membership.do_leave(rt, sid, session, room_id, mode="disconnect")
        await presence.went_offline(rt, rt.instance_id, sid, int(session["user_id"]))

    rt.connect_hooks.append(on_connect)
    rt.disconnect_hooks.append(on_disconnect)

    rt.background.append(
        Periodic("room-janitor", lambda: janitor.janitor_pass(rt), rt.config.instance_heartbeat_seconds)
    )
