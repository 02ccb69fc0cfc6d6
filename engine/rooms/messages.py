"""Typed schema of every server→client event of the rooms domain (realtime-contract.md §3).

The Lua scripts build these payloads; `engine.messages` gathers every domain's events (tests
decode what clients really received with it; docs/asyncapi.yaml is generated from it). `seq` is the room's
sequence number (absent on events that change no room state: reactions, presence, kicks).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Sequenced(Event):
    seq: int


class EquippedBadge(msgspec.Struct, forbid_unknown_fields=True):
    """A badge the user wears (realtime-contract §3: `{slot_position, badge_id, image_url}`)."""

    slot_position: int
    """0 first."""
    badge_id: int
    image_url: str
    code: str
    name: str
    rarity: str


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
    wealth_level: int
    charm_level: int
    frame_id: int | None
    chat_bubble_id: int | None
    entry_animation_id: int | None
    data_card_id: int | None
    mice_wave_id: int | None
    slides_id: int | None
    equipped_badges: list[EquippedBadge]
    vip_badge: str | None
    """The badge of the user's VIP tier in force (docs/vip.md)."""
    vip_entry_effect: str | None
    """The entry effect of the user's VIP tier, played when they join."""


class Participant(RoomUser):
    """A member in the `room:join` snapshot (§5 Join): the profile, and whether they hold a seat."""

    isSpeaker: bool


class UserJoined(Sequenced):
    userId: int
    user: RoomUser


class UserLeft(Sequenced):
    userId: int


class RoomClosed(Sequenced):
    roomId: str
    reason: str
    timestamp: int


class SeatUpdated(Sequenced):
    seatIndex: int
    userId: int
    isMuted: bool


class SeatCleared(Sequenced):
    seatIndex: int
    userId: int
    reason: Literal["removed", "shrink", "disconnect"] | None = None


class SeatLocked(Sequenced):
    seatIndex: int
    isLocked: bool


class SeatUserMuted(Sequenced):
    userId: int
    isMuted: bool
    selfMuted: bool | None = None


class InvitePending(Sequenced):
    seatIndex: int
    isPending: bool
    invitedUserId: int | None = None


class InviteReceived(Sequenced):
    seatIndex: int
    invitedById: int
    expiresAt: int
    targetUserId: int


class SeatEvicted(Sequenced):
    roomId: str
    seatIndex: int
    newSeatCount: int


class SeatReaction(Event):
    userId: int
    code: str


class ChatMessage(Sequenced):
    id: str
    userId: int
    userName: str
    userAvatar: str
    userFrameId: int | None
    userChatBubbleId: int | None
    content: str
    type: Literal["text", "emoji", "sticker", "gift", "system"]
    timestamp: int
    userVipLevel: int = 0
    """The sender's VIP level in force (docs/vip.md)."""
    userVipBubble: str | None = None
    """The chat bubble of the sender's VIP tier, if it has one."""


class ChatDeleted(Sequenced):
    """Staff deleted a chat message (a report's action, issue 12 §4): it is gone from the room's
    history (recentMessages); clients remove it from what they show."""

    roomId: str
    messageId: str
    """The `id` of the `chat:message`."""


class RoomKicked(Event):
    roomId: str
    reason: str
    permanent: bool
    remaining_seconds: int


class PresenceUpdate(Event):
    userId: int
    online: bool


class ForceDisconnect(Event):
    reason: str


class ProfileUpdated(Sequenced):
    """A member changed their profile (user:profileSync or a profile update): the fields that
    changed, named as in the room profile (`name`, `signature`, `avatar`, the cosmetic ids)."""

    user_id: int
    profile: dict[str, Any]


class BatchedEvent(msgspec.Struct, forbid_unknown_fields=True):
    event: str  # one of engine/rooms/batching.py BATCHED
    data: dict[str, Any]  # the event's payload, exactly as it is sent on its own


class RoomBatch(Event):
    """A big room's high-rate events of one tick, in order (engine/rooms/batching.py)."""

    roomId: str
    events: list[BatchedEvent]


SERVER_EVENTS: dict[str, type[Event]] = {
    "room:batch": RoomBatch,
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
    "chat:deleted": ChatDeleted,
    "presence.update": PresenceUpdate,
    "user:profile_updated": ProfileUpdated,
    "auth:force_disconnect": ForceDisconnect,
}
