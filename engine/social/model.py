"""Social: privacy settings, relationships and who may see what, page cursors, profile rules. No I/O."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import (
    GENDER_NAMES,
    Bio,
    BirthdayVisibility,
    Interests,
    SocialLinks,
    current_vip_level,
    iso_timestamp,
)
from engine.errors import validation_error

Audience = Literal["everyone", "followers", "friends", "nobody"]
MessageAudience = Literal["everyone", "followers", "friends"]
PRIVACY_FIELDS = ("followers_list", "following_list", "current_room", "online_status", "activity",
                  "received_gifts", "messages")  # fmt: skip


def blocks_topic(user_id: int) -> str:
    """The hot cache's topic for a user's block set (sql/0012_social.sql's triggers NOTIFY it)."""
    return f"blocks:{user_id}"


def privacy_topic(user_id: int) -> str:
    return f"privacy:{user_id}"


class Privacy(msgspec.Struct, frozen=True):
    """Who may see each part of a user (the defaults: everyone)."""

    followers_list: Audience = "everyone"
    following_list: Audience = "everyone"
    current_room: Audience = "everyone"
    online_status: Audience = "everyone"
    activity: Audience = "everyone"
    received_gifts: Audience = "everyone"
    messages: MessageAudience = "everyone"
    """Who may start a conversation with me."""


class PrivacyBody(msgspec.Struct, omit_defaults=True):
    """PATCH /api/v1/me/privacy: the settings to change (the others stay)."""

    followers_list: Audience | None = None
    following_list: Audience | None = None
    current_room: Audience | None = None
    online_status: Audience | None = None
    activity: Audience | None = None
    received_gifts: Audience | None = None
    messages: MessageAudience | None = None

    def changes(self) -> dict[str, str]:
        return {name: value for name in PRIVACY_FIELDS if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, slots=True)
class Relationship:
    """How the viewer stands to a user: follows in both directions and blocks in both directions."""

    is_self: bool = False
    following: bool = False  # the viewer follows them
    followed_by: bool = False  # they follow the viewer
    blocking: bool = False  # the viewer blocked them
    blocked_by: bool = False  # they blocked the viewer

    @property
    def friend(self) -> bool:
        return self.following and self.followed_by

    @property
    def blocked(self) -> bool:
        """A block either way: each is hidden from the other (answered like a missing user)."""
        return self.blocking or self.blocked_by


SELF = Relationship(is_self=True)


def allows(audience: str, rel: Relationship) -> bool:
    """Whether `audience` (a privacy setting) lets this viewer see the thing it governs."""
    if rel.is_self:
        return True
    if rel.blocked:
        return False
    if audience == "everyone":
        return True
    if audience == "followers":
        return rel.following
    if audience == "friends":
        return rel.friend
    return False


# Presence: a subscriber enters the rooms of every tier its relationship reaches at subscribe time;
# an update goes to the one room the user's current setting names (engine/rooms/presence.py).
PRESENCE_TIERS: dict[str, str] = {"everyone": "", "followers": "followers", "friends": "friends"}


def presence_tiers(rel: Relationship) -> tuple[str, ...]:
    """The presence tiers a subscriber joins ("" is everyone's); none through a block."""
    if rel.blocked:
        return ()
    if rel.is_self or rel.friend:
        return ("", "followers", "friends")
    return ("", "followers") if rel.following else ("",)


def presence_tier(online_status: str) -> str | None:
    """The tier an online-status setting sends updates to; None: to nobody."""
    return PRESENCE_TIERS.get(online_status)


@dataclass(frozen=True, slots=True)
class BlockSet:
    """A user's blocks, both ways: whom they blocked, and who blocked them."""

    blocking: frozenset[int] = frozenset()
    blocked_by: frozenset[int] = frozenset()

    def either(self, other: int) -> bool:
        return other in self.blocking or other in self.blocked_by


# --- profiles ---------------------------------------------------------------------------------


class UpdateMeBody(msgspec.Struct, omit_defaults=True):
    """PATCH /api/v1/me: `{field, value}` changes one account field (as the legacy route); or any of
    the profile fields below, together (`bio: null` clears the bio)."""

    field: Annotated[str, Meta(max_length=50)] | None = None
    value: Any = None
    bio: Bio | None = None
    interests: Interests | None = None
    social_links: SocialLinks | None = None
    birthday_visibility: BirthdayVisibility | None = None


PROFILE_BODY_FIELDS = ("bio", "interests", "social_links", "birthday_visibility")


def card(row: dict[str, Any]) -> dict[str, Any]:
    """A user as lists and search show them (with `following`: the viewer follows them)."""
    body = {
        "id": row["id"], "name": row["name"], "signature": row["signature"], "avatar_image": row["avatar_image"],
        "country": row["country"], "gender": GENDER_NAMES.get(row["gender"], "unknown"),
        "vip_level": current_vip_level(row),
    }  # fmt: skip
    if "following" in row:
        body["following"] = bool(row["following"])
    if "since" in row:
        body["since"] = iso_timestamp(row["since"])
    return body


def shown_birthday(dob: dt.date | None, visibility: str) -> str | None:
    """The birthday others see: the full date, the month and day ("MM-DD"), or nothing."""
    if dob is None or visibility == "hidden":
        return None
    return dob.isoformat() if visibility == "full" else dob.strftime("%m-%d")


COMPLETION_FIELDS = ("avatar", "bio", "interests", "birthday", "country", "gender")


def profile_completion(user: dict[str, Any]) -> dict[str, Any]:
    """`{percent, missing}` over the fields a complete profile has."""
    present = {
        "avatar": bool(user["avatar_image"]),
        "bio": bool((user["bio"] or "").strip()),
        "interests": bool(user["interests"]),
        "birthday": user["dob"] is not None,
        "country": bool(user["country"]),
        "gender": user["gender"] is not None,
    }
    missing = [name for name in COMPLETION_FIELDS if not present[name]]
    done = len(COMPLETION_FIELDS) - len(missing)
    return {"percent": round(100 * done / len(COMPLETION_FIELDS)), "missing": missing}


# --- pages ------------------------------------------------------------------------------------

DEFAULT_LIMIT = 20
Limit = Annotated[int, Meta(ge=1, le=100)]
Cursor = Annotated[str, Meta(min_length=1, max_length=200)]
_BAD_CURSOR = "The cursor field is not a cursor this list gave out."


def encode_cursor(*parts: int | str) -> str:
    """An opaque cursor for a keyset position (clients pass it back as they got it)."""
    raw = msgspec.json.encode(list(parts))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *shape: type) -> tuple[Any, ...] | None:
    """The keyset position a cursor holds, checked against `shape` (e.g. `int`); None without one."""
    if cursor is None:
        return None
    try:
        parts = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise validation_error({"cursor": [_BAD_CURSOR]}) from None
    if not isinstance(parts, list) or len(parts) != len(shape):
        raise validation_error({"cursor": [_BAD_CURSOR]})
    for part, kind in zip(parts, shape, strict=True):
        if type(part) is not kind or (isinstance(part, int) and not 0 <= part < 2**63):
            raise validation_error({"cursor": [_BAD_CURSOR]})
    return tuple(parts)


def page(rows: list[dict[str, Any]], limit: int, cursor_of: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The page (rows were read with `limit + 1`) and the cursor of the next one, if there is one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*cursor_of(rows[-1]))


# --- search -----------------------------------------------------------------------------------

SearchText = Annotated[str, Meta(min_length=1, max_length=50)]


def search_terms(q: str) -> tuple[str, str, int | None]:
    """(name prefix, handle prefix, exact id) for a search text; a handle is matched without its
    leading '@' or '#'. Prefixes are lower-cased in SQL (the same lower() as the index)."""
    text = q.strip()
    handle = text.lstrip("@#")
    exact = int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**63 else None
    return text, handle, exact


# --- counts -----------------------------------------------------------------------------------

# user id -> (followers, following, friends) changes, applied with the edge change that causes them.
CountDeltas = dict[int, tuple[int, int, int]]


def follow_deltas(follower: int, following: int, *, mutual: bool, sign: int = 1) -> CountDeltas:
    """What a new (sign 1) or removed (sign -1) edge follower → following changes; `mutual`: the
    edge back exists, so the two are friends from this edge on (or were, until it went)."""
    friend = sign if mutual else 0
    return {follower: (0, sign, friend), following: (sign, 0, friend)}


def merge_deltas(*deltas: CountDeltas) -> CountDeltas:
    merged: dict[int, tuple[int, int, int]] = {}
    for delta in deltas:
        for user, change in delta.items():
            old = merged.get(user, (0, 0, 0))
            merged[user] = (old[0] + change[0], old[1] + change[1], old[2] + change[2])
    return merged
