"""Socket.IO events of the inbox (realtime-contract §2.3): `dm:thread.opened` / `dm:thread.closed`
(the socket enters or leaves its user's thread room, only as a participant) and `dm:typing` (to the
peer's thread room; 1 per 2 s per user per thread; never through a block)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.inbox import store
from engine.inbox.live import Inbox, thread_room
from engine.realtime.acks import INVALID_PAYLOAD, TOO_MANY_REQUESTS, Ack, failure
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer

ThreadRef = Annotated[int, Meta(ge=1, le=2**63 - 1)]
OK: Ack = {"success": True}
THREAD_NOT_FOUND = "Thread not found"


class ThreadPayload(msgspec.Struct):
    threadId: ThreadRef


class TypingPayload(msgspec.Struct):
    threadId: ThreadRef
    peerUserId: ThreadRef
    """The other participant (not oneself)."""


async def _peer(inbox: Inbox, user_id: int, thread_id: int) -> int | None:
    async with inbox.svc.pool.acquire() as conn:
        return await store.participant_peer(conn, user_id, thread_id)


async def do_thread_opened(inbox: Inbox, sid: str, user_id: int, p: ThreadPayload) -> Ack:
    if await _peer(inbox, user_id, p.threadId) is None:
        return failure(THREAD_NOT_FOUND, "NOT_FOUND")
    await inbox.rt.sio.enter_room(sid, thread_room(p.threadId, user_id))
    return OK


async def do_thread_closed(inbox: Inbox, sid: str, user_id: int, p: ThreadPayload) -> Ack:
    await inbox.rt.sio.leave_room(sid, thread_room(p.threadId, user_id))
    return OK


async def do_typing(inbox: Inbox, user_id: int, p: TypingPayload) -> Ack:
    svc = inbox.svc
    if p.peerUserId == user_id:
        return failure(INVALID_PAYLOAD, "validation_failed", fields={"peerUserId": ["Must not be yourself."]})
    # The bucket first: a client typing fast costs one Redis call per event, not a PostgreSQL query.
    verdict = await svc.limiter.hit("dm_typing", f"{p.threadId}:{user_id}", svc.config.dm_typing_rate_limit)
    if not verdict.allowed:
        return failure(TOO_MANY_REQUESTS, "RATE_LIMITED", retry_after=verdict.retry_after_seconds)
    # Read at each event: a block made since the thread was opened stops it at once.
    if await _peer(inbox, user_id, p.threadId) != p.peerUserId:
        return failure(THREAD_NOT_FOUND, "NOT_FOUND")
    await inbox.to_thread_room(p.threadId, p.peerUserId, "dm:typing", {"threadId": p.threadId, "userId": user_id})
    return OK


def register_inbox_events(inbox: Inbox) -> None:
    @socket_event(inbox.rt, "dm:thread.opened", ThreadPayload)
    async def opened(_rt: RealtimeServer, sid: str, session: dict[str, Any], p: ThreadPayload) -> Ack:
        return await do_thread_opened(inbox, sid, int(session["user_id"]), p)

    @socket_event(inbox.rt, "dm:thread.closed", ThreadPayload)
    async def closed(_rt: RealtimeServer, sid: str, session: dict[str, Any], p: ThreadPayload) -> Ack:
        return await do_thread_closed(inbox, sid, int(session["user_id"]), p)

    @socket_event(inbox.rt, "dm:typing", TypingPayload)
    async def typing(_rt: RealtimeServer, _sid: str, session: dict[str, Any], p: TypingPayload) -> Ack:
        return await do_typing(inbox, int(session["user_id"]), p)
