"""Typed schema of recognition's server→client event: `room:recognition`, to every room the
recognised user is in (docs/progression.md "Recognition"). Followers get a `notification:new` of kind
`recognition` (engine/notifications/messages.py)."""

from __future__ import annotations

from typing import Literal

import msgspec


class RecognisedUser(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str
    avatar: str


class LevelDetail(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["wealth", "charm"]
    level: int


class BadgeDetail(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    code: str
    name: str
    rarity: Literal["common", "rare", "epic", "legendary"]
    icon_url: str


class RankingDetail(msgspec.Struct, forbid_unknown_fields=True):
    board: Literal["wealth", "charm", "room", "agency"]
    period: Literal["daily", "weekly", "monthly"]
    start: str
    """The period's first business day, YYYY-MM-DD."""
    rank: int
    score: int
    """Coins."""


class RoomRecognition(msgspec.Struct, forbid_unknown_fields=True):
    """A member was recognised: a wealth/charm level at or above `recognition_level_min`, a badge of
    rarity `recognition_badge_rarity_min` or rarer, or a finish within `recognition_ranking_top` of a
    closed ranking period (on the room and agency boards: the owner). Once per recognition; the detail
    of its `kind` is set, the other two are null."""

    roomId: str
    recognitionId: int
    userId: int
    kind: Literal["level", "badge", "ranking"]
    user: RecognisedUser
    text: str
    """A line to show as it is ("Alice reached wealth level 12.")."""
    level: LevelDetail | None
    badge: BadgeDetail | None
    ranking: RankingDetail | None


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "room:recognition": RoomRecognition,
}
