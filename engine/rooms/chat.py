"""chat:message: limits, the word filter, the room's recent history and the echo to everyone."""

from __future__ import annotations

import re
import time
import uuid
from functools import lru_cache

from engine.realtime.acks import Ack
from engine.rooms.events import RoomCall, refuse
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


async def do_chat(rooms: LiveRooms, call: RoomCall, p: ChatPayload) -> Ack:
    room_id, session = call.room_id, call.session
    svc = rooms.svc
    user_id = int(session["user_id"])
    content = p.content.strip()
    if not content or not check_allowed(content, svc.config.chat_blocked_words):
        return refuse("MESSAGE_REJECTED")
    verdict = await svc.limiter.hit("chat", f"{room_id}:{user_id}", svc.config.chat_rate_limit)
    if not verdict.allowed:
        svc.metrics.rate_limited.labels("chat").inc()
        return refuse("RATE_LIMITED", retry_after=verdict.retry_after_seconds)
    claims = session.get("claims", {})
    message = {
        "id": str(uuid.uuid4()), "userId": user_id, "userName": session.get("name", ""),
        "userAvatar": claims.get("avatar", ""), "userFrameId": None, "userChatBubbleId": None,
        "content": content, "type": p.type, "timestamp": int(time.time() * 1000),
    }  # fmt: skip
    result = await rooms.run(room_id, rooms.state.chat(room_id, user_id, encode(message), svc.config.chat_history),
                             actor_sid=call.sid)  # fmt: skip
    return OK if result.ok else refuse(result.code or "NOT_IN_ROOM")
