"""The agency chat channel (issue 13 §4) over the sockets, for the agency's members only.

`agency:chat.join {agencyId}` puts the socket in the Socket.IO room `agency:<id>` and acks the
channel's recent history (the last CHAT_HISTORY messages, kept in Redis, oldest first);
`agency:chat.leave` takes it out; `agency:chat.message {agencyId, content}` is checked as room chat
is (CHAT_RATE_LIMIT per user, across all agency channels; the CHAT_BLOCKED_WORDS filter; refused,
MUTED, while a platform mute lasts) and goes to
the room on every engine process as `agency:chat.message`. Membership is read from PostgreSQL at
each join and each message, so a member removed a moment ago can no longer send; their sockets are
also taken out of the room when they leave (Agencies.left_channel).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from engine.agency import social_store
from engine.agency.live import Agencies
from engine.agency.social_model import ChatJoinPayload, ChatMessagePayload, chat_room
from engine.realtime.acks import TOO_MANY_REQUESTS, Ack, failure
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer
from engine.rooms import store as rooms_store
from engine.rooms import word_filter_store
from engine.rooms.chat import check_allowed, message_id
from engine.rooms.model import ERRORS as ROOM_ERRORS

OK: Ack = {"success": True}
NOT_A_MEMBER = "You are not a member of this agency."
REJECTED = "Message rejected"


async def _is_member(ag: Agencies, agency_id: int, user_id: int) -> bool:
    async with ag.svc.pool.acquire() as conn:
        return await social_store.active_role(conn, agency_id, user_id) is not None


async def do_join(ag: Agencies, sid: str, user_id: int, p: ChatJoinPayload) -> Ack:
    if not await _is_member(ag, p.agencyId, user_id):
        return failure(NOT_A_MEMBER, "NOT_A_MEMBER")
    svc = ag.svc
    await ag.rt.sio.enter_room(sid, chat_room(p.agencyId))
    history = await social_store.chat_history(svc.redis, svc.keys, p.agencyId, svc.config.chat_history)
    return {"success": True, "agencyId": p.agencyId,
            "recentMessages": [msgspec.json.decode(m) for m in reversed(history)]}  # fmt: skip


async def do_leave(ag: Agencies, sid: str, p: ChatJoinPayload) -> Ack:
    await ag.rt.sio.leave_room(sid, chat_room(p.agencyId))
    return OK


async def do_message(ag: Agencies, session: dict[str, Any], p: ChatMessagePayload) -> Ack:
    svc = ag.svc
    user_id = int(session["user_id"])
    # The bucket first: a flood costs one Redis call a message, not a PostgreSQL query.
    verdict = await svc.limiter.hit("agency_chat", str(user_id), svc.config.chat_rate_limit)
    if not verdict.allowed:
        svc.metrics.rate_limited.labels("agency_chat").inc()
        return failure(TOO_MANY_REQUESTS, "RATE_LIMITED", retry_after=verdict.retry_after_seconds)
    content = p.content.strip()
    if not content:
        return failure(REJECTED, "MESSAGE_REJECTED")
    async with svc.pool.acquire() as conn:
        # The configured words and the ones edited from the dashboard (sql/0039), read at each message.
        blocked = svc.config.chat_blocked_words + await word_filter_store.blocked_words(conn)
        if not check_allowed(content, blocked):
            return failure(REJECTED, "MESSAGE_REJECTED")
        member = await social_store.active_role(conn, p.agencyId, user_id) is not None
        muted_until = await rooms_store.platform_mute_until(conn, user_id) if member else None
    if not member:
        return failure(NOT_A_MEMBER, "NOT_A_MEMBER")
    if muted_until is not None:  # a platform mute (engine/reports) silences every chat, this one too
        return failure(ROOM_ERRORS["MUTED"], "MUTED", mutedUntil=int(muted_until.timestamp() * 1000))
    message = {"agencyId": p.agencyId, "id": message_id(), "userId": user_id, "userName": session.get("name", ""),
               "content": content, "timestamp": int(time.time() * 1000)}  # fmt: skip
    await social_store.chat_append(svc.redis, svc.keys, p.agencyId, msgspec.json.encode(message).decode(),
                                   svc.config.chat_history)  # fmt: skip
    await ag.rt.sio.emit("agency:chat.message", message, room=chat_room(p.agencyId))
    return {"success": True, "id": message["id"], "timestamp": message["timestamp"]}


def register_agency_events(ag: Agencies) -> None:
    @socket_event(ag.rt, "agency:chat.join", ChatJoinPayload)
    async def join(_rt: RealtimeServer, sid: str, session: dict[str, Any], p: ChatJoinPayload) -> Ack:
        return await do_join(ag, sid, int(session["user_id"]), p)

    @socket_event(ag.rt, "agency:chat.leave", ChatJoinPayload)
    async def leave(_rt: RealtimeServer, sid: str, _session: dict[str, Any], p: ChatJoinPayload) -> Ack:
        return await do_leave(ag, sid, p)

    @socket_event(ag.rt, "agency:chat.message", ChatMessagePayload)
    async def message(_rt: RealtimeServer, _sid: str, session: dict[str, Any], p: ChatMessagePayload) -> Ack:
        return await do_message(ag, session, p)
