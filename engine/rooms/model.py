"""Rooms: client payloads (limits in the types), error strings, roles and rank rules. No I/O."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import COSMETICS
from engine.accounts.vip_model import NO_PRIVILEGES, VipPrivileges

# realtime-contract.md §0: clients match these display strings exactly.
ERRORS = {
    "NOT_IN_ROOM": "Not in room",
    "ROOM_NOT_FOUND": "Room not found",
    "ROOM_CLOSED": "Room is closed",
    "NOT_AUTHORIZED": "Not authorized",
    "RATE_LIMITED": "Too many requests",
    "SEAT_TAKEN": "Seat is already taken",
    "SEAT_LOCKED": "Seat is locked",
    "SEAT_NOT_LOCKED": "Seat is not locked",
    "SEAT_ALREADY_LOCKED": "Seat is already locked",
    "SEAT_INVALID": "Invalid seat index",
    "NOT_SEATED": "You are not seated",
    "USER_NOT_SEATED": "User is not seated",
    "MUTE_FAILED": "Failed to mute user",
    "UNMUTE_FAILED": "Failed to unmute user",
    "VIP_PROTECTED": "User is VIP protected",
    "INVITE_FAILED": "Failed to create invite",
    "INVITE_PENDING": "Invite already pending for this seat",
    "NO_INVITE": "No pending invite found",
    "CANNOT_INVITE_SELF": "Cannot invite yourself",
    "SEAT_OCCUPIED": "Seat is already occupied",
    "ROOM_BLOCKED": "room_blocked",
    # Not in the legacy contract: cases the old server never checked.
    "USER_NOT_IN_ROOM": "User is not in room",
    "WRONG_PASSWORD": "Wrong room password",
    "MESSAGE_REJECTED": "Message not allowed",
    "STATE_CHANGED": "Seat changed, try again",
    "PRESENCE_LIMIT": "Too many presence subscriptions",
    # A block between the two users (issue 12 §3): joining the blocker's room, a seat invite or assignment.
    "BLOCKED": "Blocked",
    # Reports and moderation (issue 12 §4): a platform mute (every room, until it ends), and a
    # message moderators asked to delete that the history no longer holds.
    "MUTED": "You are muted",
    "MESSAGE_NOT_FOUND": "Message not found",
    # Maintenance mode (issue 15 §9): new joins refused for everyone but staff.
    "MAINTENANCE": "Under maintenance, try again later",
}

RoomRef = Annotated[int, Meta(ge=1, le=2**63 - 1)] | Annotated[str, Meta(min_length=1, max_length=20)]
UserId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
SeatIndex = Annotated[int, Meta(ge=0, le=99)]


def room_id_of(ref: int | str) -> int | None:
    """Room ids are numeric; a string that is not a positive integer names no room."""
    if isinstance(ref, int):
        return ref
    # isascii: str.isdigit() also accepts "²" or "①", which int() refuses.
    return int(ref) if ref.isascii() and ref.isdigit() and 0 < int(ref) < 2**63 else None


def room_channel(room_id: int) -> str:
    """The Socket.IO room every member socket of a room is in."""
    return f"room:{room_id}"


def in_room(session: dict[str, Any], room_ref: int | str) -> int | None:
    """The room id when this socket is in that room, else None (the NOT_IN_ROOM case)."""
    room_id = room_id_of(room_ref)
    return room_id if room_id is not None and session.get("room_id") == room_id else None


class Payload(msgspec.Struct):
    roomId: RoomRef


class JoinPayload(Payload):
    ownerId: int | None = None
    seatCount: Annotated[int, Meta(ge=1, le=30)] | None = None
    password: Annotated[str, Meta(max_length=64)] | None = None
    lastSeq: Annotated[int, Meta(ge=0)] | None = None


class SeatPayload(Payload):
    seatIndex: SeatIndex


class TargetPayload(Payload):
    userId: UserId


class AssignPayload(Payload):
    userId: UserId
    seatIndex: SeatIndex


class InviteAnswerPayload(Payload):
    seatIndex: SeatIndex | None = None


class ReactionPayload(Payload):
    code: Annotated[str, Meta(max_length=64, pattern=r"^[0-9a-f]{4,8}(-[0-9a-f]{4,8})*$")]


class ChatPayload(Payload):
    content: Annotated[str, Meta(min_length=1, max_length=500)]
    # "system" messages come from the server only (realtime-contract §12.6).
    type: Literal["text", "emoji", "sticker", "gift"] = "text"


class KickPayload(Payload):
    userId: UserId
    minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] = 10
    reason: Annotated[str, Meta(max_length=255)] | None = None


class BanPayload(Payload):
    userId: UserId
    minutes: Annotated[int, Meta(ge=1, le=365 * 24 * 60)] | None = None  # None: permanent
    reason: Annotated[str, Meta(max_length=255)] | None = None


class ClosePayload(Payload):
    reason: Annotated[str, Meta(max_length=64)] = "closed_by_owner"


class GetRoomPayload(msgspec.Struct):
    userId: UserId


class PresencePayload(msgspec.Struct):
    userIds: Annotated[list[UserId], Meta(min_length=1, max_length=50)]


class Rank(enum.IntEnum):
    """A user's standing in one room. Platform staff with rooms.moderate outrank the owner."""

    MEMBER = 1
    ADMIN = 2
    OWNER = 3
    STAFF = 4


def may_manage(actor: Rank) -> bool:
    """Manager tier: lock/unlock seats, invite."""
    return actor >= Rank.ADMIN


def may_moderate(actor: Rank, target: Rank, *, self_target: bool) -> bool:
    """The owner (and staff) may act on anyone; an admin on members and themself; a member on nobody."""
    if actor >= Rank.OWNER:
        return True
    if actor == Rank.ADMIN:
        return self_target or target == Rank.MEMBER
    return False


def vip_protected(target: VipPrivileges, guard: Literal["anti_mute", "anti_kick"], actor: Rank) -> bool:
    """The target's VIP tier (in force now) refuses this seat action to anyone below platform staff."""
    return actor < Rank.STAFF and bool(getattr(target, guard))


def public_profile(user: dict[str, Any], vip_level: int = 0, vip: VipPrivileges = NO_PRIVILEGES,
                   equipped_badges: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """What other members see of a user in a room (realtime-contract §3 `room:userJoined`), with the
    VIP level in force and what its tier shows on join (`vip_badge`, `vip_entry_effect`), and the
    badges they wear in order (`rooms.store.equipped_badges`)."""
    cosmetics = user.get("cosmetics") or {}  # set by user:profileSync (engine/social/sync.py)
    return {
        "id": user["id"], "name": user["name"], "signature": user["signature"],
        "avatar": user["avatar_image"] or "", "gender": user["gender"] or 0, "country": user["country"] or "",
        "vip_level": vip_level, "wealth_xp": f"{user['wealth_xp']:.4f}", "charm_xp": f"{user['charm_xp']:.4f}",
        "wealth_level": user["wealth_level"], "charm_level": user["charm_level"],
        **{name: cosmetics.get(name) for name in COSMETICS}, "equipped_badges": equipped_badges or [],
        "vip_badge": vip.badge, "vip_entry_effect": vip.entry_effect,
    }  # fmt: skip
