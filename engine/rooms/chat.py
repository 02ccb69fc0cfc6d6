"""chat:message: limits, the word filter, the room's recent history and the echo to everyone."""

from __future__ import annotations

import os
import re
import time
from functools import lru_cache

from engine.ratelimit.store import Verdict
from engine.realtime.acks import Ack
from engine.rooms.events import RoomCall, muted_refusal, refuse
from engine.rooms.live import LiveRooms, encode
from engine.rooms.model import ChatPayload
from engine.rooms.seats import OK


@lru_cache(maxsize=8)
def _filter(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def check_allowed(content: str, blocked: tuple[str, ...]) -> bool:
    pattern = _filter(blocked)
    return pattern is None or pattern.search(content) is None


def message_id() -> str:
    """A random (version 4) UUID as text: what `str(uuid.uuid4())` gives, at half its cost."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def do_chat(rooms: LiveRooms, call: RoomCall, p: ChatPayload) -> Ack:
    room_id, session = call.room_id, call.session
    svc = rooms.svc
    user_id = int(session["user_id"])
    if (muted := await muted_refusal(rooms, user_id)) is not None:
        return muted
    content = p.content.strip()
    if not content:
        return refuse("MESSAGE_REJECTED")
    # The configured words and the ones edited from the dashboard (live: the hot cache hears edits).
    if not check_allowed(content, svc.config.chat_blocked_words + await rooms.cache.blocked_words()):
        if rooms.watch is not None:  # the word filter is an automated moderation rule too
            await rooms.watch.filtered(room_id, user_id, content)
        return refuse("MESSAGE_REJECTED")
    # The sender's VIP level and bubble come from the hot cache (the database), not the session or token.
    sender = await rooms.cache.user(user_id)
    message = {
        "id": message_id(), "userId": user_id, "userName": session.get("name", ""),
        "userAvatar": session.get("avatar", ""), "userFrameId": None, "userChatBubbleId": None,
        "userVipLevel": sender.vip_level if sender else 0, "userVipBubble": sender.vip.chat_bubble if sender else None,
        "content": content, "type": p.type, "timestamp": int(time.time() * 1000),
    }  # fmt: skip
    # One script: the sender's rate limit for the room, membership, the history and the event.
    chatting = rooms.state.chat(room_id, user_id, encode(message), svc.config.chat_history, svc.config.chat_rate_limit)
    result = await rooms.run(room_id, chatting, actor_sid=call.sid)
    if result.code == "RATE_LIMITED":
        svc.metrics.rate_limited.labels("chat").inc()
        refused = Verdict(allowed=False, retry_after_ms=int(result.data["retry_after_ms"]), remaining=0)
        return refuse("RATE_LIMITED", retry_after=refused.retry_after_seconds)
    return OK if result.ok else refuse(result.code or "NOT_IN_ROOM")
