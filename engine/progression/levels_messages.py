"""Typed schema of the levels' server→client events (realtime-contract §3 `user.progression`, and
the level-up announcement in rooms)."""

from __future__ import annotations

from typing import Literal

import msgspec

LevelType = Literal["wealth", "charm", "room"]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class UserProgression(Event):
    """A level of yours changed → every socket of yours (for a room level: of the room's owner).
    One event per type with the final level, however many levels a batch of gifts crossed."""

    type: LevelType
    level: int
    previous_level: int
    reached: list[int]
    """The levels reached by this change, lowest first (each one's rewards are granted once); empty
    for a fall (an admin raised the ladder)."""
    xp: str
    level_min_xp: int
    next_level: int | None
    next_level_xp: int | None
    """None at the top of the ladder."""
    xp_to_next: str | None
    progress_bps: int
    """The share of the way from this level to the next, in basis points."""
    room_id: int | None
    """The room, for a room level."""


class LevelUser(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str
    avatar: str


class RoomLevelUp(Event):
    """A member reached a wealth or charm level at or above `level_announce_min` (→ each room they are
    in), or the room reached such a room level (→ that room)."""

    roomId: str
    type: LevelType
    level: int
    user: LevelUser | None
    """Who levelled up; None for the room's own level."""


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "user.progression": UserProgression,
    "room:levelUp": RoomLevelUp,
}
