"""Typed schema of the social domain's server→client events (realtime-contract §3, relayed names).

Both go to the followed user's sockets (`user_id` names them, as the contract's routing rule reads
it), on whichever engine process holds them.
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Follower(msgspec.Struct):
    id: int
    name: str
    signature: str
    avatar_image: str | None


class UserFollowed(Event):
    user_id: int
    """The followed user (the recipient)."""
    follower: Follower
    followers_count: int
    friend: bool
    """They follow the follower too: now friends."""


class UserUnfollowed(Event):
    user_id: int
    follower_id: int
    followers_count: int


SERVER_EVENTS: dict[str, type[Event]] = {"user.followed": UserFollowed, "user.unfollowed": UserUnfollowed}
