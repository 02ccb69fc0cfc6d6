"""Typed schema of every server→client event of the rooms domain (realtime-contract.md §3).

The Lua scripts build these payloads; tests decode what clients really received with
`SERVER_EVENTS[name]`, and docs/asyncapi.yaml is checked against this module. `seq` is the room's
sequence number (absent on events that change no room state: reactions, presence, kicks).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Sequenced(Event):
    seq: int


class RoomUser(msgspec.Struct):
    id: int
    name: str
    signature: str
    avatar: str
    gender: int
    country: str
    vip_level: int
    wealth_xp: str
    charm_xp: str
    frame_id: int | None
    chat_bubble_id: int | None
    entry_animation_id: int | None
    data_card_id: int | None
    mice_wave_id: int | None
    slides_id: int | None
    equipped_badges: list[Any]


class UserJoined(Sequenced):
    userId: int  # noqa: N815
    user: RoomUser


class UserLeft(Sequenced):
    userId: int  # noqa: N815


class RoomClosed(Sequenced):
    roomId: str  # noqa: N815
    reason: str
    timestamp: int


class SeatUpdated(Sequenced):
    seatIndex: int  # noqa: N815
    userId: int  # noqa: N815
    isMuted: bool  # noqa: N815


class SeatCleared(Sequenced):
    seatIndex: int  # noqa: N815
    userId: int  # noqa: N815
    reason: Literal["removed", "shrink", "disconnect"] | None = None


class SeatLocked(Sequenced):
    seatIndex: int  # noqa: N815
    isLocked: bool  # noqa: N815


class SeatUserMuted(Sequenced):
    userId: int  # noqa: N815
    isMuted: bool  # noqa: N815
    selfMuted: bool | None = None  # noqa: N815


class InvitePending(Sequenced):
    seatIndex: int  # noqa: N815
    isPending: bool  # noqa: N815
    invitedUserId: int | None = None  # noqa: N815


class InviteReceived(Sequenced):
    seatIndex: int  # noqa: N815
    invitedById: int  # noqa: N815
    expiresAt: int  # noqa: N815
    targetUserId: int  # noqa: N815


class SeatEvicted(Sequenced):
    roomId: str  # noqa: N815
    seatIndex: int  # noqa: N815
    newSeatCount: int  # noqa: N815


class SeatReaction(Event):
    userId: int  # noqa: N815
    code: str


class ChatMessage(Sequenced):
    id: str
    userId: int  # noqa: N815
    userName: str  # noqa: N815
    userAvatar: str  # noqa: N815
    userFrameId: int | None  # noqa: N815
    userChatBubbleId: int | None  # noqa: N815
    content: str
    type: Literal["text", "emoji", "sticker", "gift", "system"]
    timestamp: int


class RoomKicked(Event):
    roomId: str  # noqa: N815
    reason: str
    permanent: bool
    remaining_seconds: int


class PresenceUpdate(Event):
    userId: int  # noqa: N815
    online: bool


class ForceDisconnect(Event):
    reason: str


SERVER_EVENTS: dict[str, type[Event]] = {
    "room:userJoined": UserJoined,
    "room:userLeft": UserLeft,
    "room:closed": RoomClosed,
    "room:kicked": RoomKicked,
    "seat:updated": SeatUpdated,
    "seat:cleared": SeatCleared,
    "seat:locked": SeatLocked,
    "seat:userMuted": SeatUserMuted,
    "seat:invite:pending": InvitePending,
    "seat:invite:received": InviteReceived,
    "seat:evicted": SeatEvicted,
    "seat:reaction": SeatReaction,
    "chat:message": ChatMessage,
    "presence.update": PresenceUpdate,
    "auth:force_disconnect": ForceDisconnect,
}


def decode_event(name: str, data: Any) -> Event:
    """Check a received payload against its schema (raises msgspec.ValidationError)."""
    return msgspec.convert(data, SERVER_EVENTS[name])
