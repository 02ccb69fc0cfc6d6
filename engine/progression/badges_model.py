"""Badges (issue 14 §2, docs/progression.md "Badges"): the rules as data and what a user's figures
meet, the catalog's bodies and the shapes the API shows. Pure: no I/O."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Category = Literal["achievement", "activity", "personal", "room", "event"]
Rarity = Literal["common", "rare", "epic", "legendary"]
Count = Annotated[int, msgspec.Meta(ge=1, le=10**9)]
Board = Literal["wealth", "charm", "room", "agency"]
Period = Literal["daily", "weekly", "monthly", "all_time"]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{2,40}$")]


class FirstGiftSent(msgspec.Struct, tag="first_gift_sent", tag_field="kind", forbid_unknown_fields=True):
    """The user has sent a gift."""


class GiftsSent(msgspec.Struct, tag="gifts_sent", tag_field="kind", forbid_unknown_fields=True):
    """Gifts given (quantities, once per recipient; the `gift_stats` rollup) reach `count`."""

    count: Count


class GiftsReceived(msgspec.Struct, tag="gifts_received", tag_field="kind", forbid_unknown_fields=True):
    count: Count


class Followers(msgspec.Struct, tag="followers", tag_field="kind", forbid_unknown_fields=True):
    count: Count


class VipTier(msgspec.Struct, tag="vip_tier", tag_field="kind", forbid_unknown_fields=True):
    """The user holds VIP `level` or higher (7 = FLSVIP); kept once earned."""

    level: Annotated[int, msgspec.Meta(ge=1, le=7)]


class DaysActive(msgspec.Struct, tag="days_active", tag_field="kind", forbid_unknown_fields=True):
    """Distinct business days with activity (`user_activity`, within its retention) reach `days`."""

    days: Annotated[int, msgspec.Meta(ge=1, le=3650)]


class RankingTop(msgspec.Struct, tag="ranking_top", tag_field="kind", forbid_unknown_fields=True):
    """A finish in the top `top` of a `board`'s closed `period` (awarded by the rankings job)."""

    board: Board
    period: Period
    top: Annotated[int, msgspec.Meta(ge=1, le=100)]


class Event(msgspec.Struct, tag="event", tag_field="kind", forbid_unknown_fields=True):
    """Taking part in the campaign/event `code` (awarded by the campaigns part)."""

    code: Code


class Manual(msgspec.Struct, tag="manual", tag_field="kind", forbid_unknown_fields=True):
    """No rule: granted only through a reward item (`RewardItem(kind="badge")`)."""


Rule = FirstGiftSent | GiftsSent | GiftsReceived | Followers | VipTier | DaysActive | RankingTop | Event | Manual
# The kinds the watcher evaluates from a user's figures; the others are awarded by their callers.
FIGURE_KINDS = ("first_gift_sent", "gifts_sent", "gifts_received", "followers", "vip_tier", "days_active")


class Figures(msgspec.Struct, frozen=True):
    """What the figure rules read of one user."""

    gifts_sent: int = 0
    gifts_received: int = 0
    followers: int = 0
    vip_level: int = 0
    days_active: int = 0


def decode_rule(raw: Any) -> Rule:
    rule: Rule = msgspec.convert(raw, Rule)
    return rule


def encode_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(rule)
    return out


def met(rule: Rule, f: Figures) -> bool:
    """Whether the figures meet a figure rule (the other kinds never: their callers award them)."""
    match rule:
        case FirstGiftSent():
            return f.gifts_sent >= 1
        case GiftsSent(count=n):
            return f.gifts_sent >= n
        case GiftsReceived(count=n):
            return f.gifts_received >= n
        case Followers(count=n):
            return f.followers >= n
        case VipTier(level=n):
            return f.vip_level >= n
        case DaysActive(days=n):
            return f.days_active >= n
    return False


def ranking_matches(rule: Rule, board: str, period: str, rank: int) -> bool:
    return isinstance(rule, RankingTop) and rule.board == board and rule.period == period and rank <= rule.top


def event_matches(rule: Rule, code: str) -> bool:
    return isinstance(rule, Event) and rule.code == code


class BadgeBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new catalog badge (staff)."""

    code: Code
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    category: Category
    rarity: Rarity
    rule: Rule
    description: Annotated[str, msgspec.Meta(max_length=300)] = ""
    icon_url: Annotated[str, msgspec.Meta(max_length=2048)] = ""
    is_active: bool = True
    sort: Annotated[int, msgspec.Meta(ge=-(10**6), le=10**6)] = 0


class BadgePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A change to a catalog badge (staff): the fields sent; the code never changes."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] | None = None
    category: Category | None = None
    rarity: Rarity | None = None
    rule: Rule | None = None
    description: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    icon_url: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    is_active: bool | None = None
    sort: Annotated[int, msgspec.Meta(ge=-(10**6), le=10**6)] | None = None


class EquipBody(msgspec.Struct, forbid_unknown_fields=True):
    badge_ids: Annotated[list[int], msgspec.Meta(max_length=50)]
    """In the order they are shown (first first); [] takes them all off."""


def badge_out(row: dict[str, Any]) -> dict[str, Any]:
    """A catalog badge as the API shows it."""
    return {"id": row["id"], "code": row["code"], "name": row["name"], "description": row["description"],
            "category": row["category"], "rarity": row["rarity"], "icon_url": row["icon_url"],
            "rule": row["rule"], "is_active": row["is_active"], "sort": row["sort"]}  # fmt: skip


def owned_out(row: dict[str, Any]) -> dict[str, Any]:
    """One of a user's badges: the catalog entry, when and how it was earned, whether it is worn."""
    return {**badge_out(row), "awarded_at": row["awarded_at"], "source": row["source"],
            "equipped": row["position"] is not None, "position": row["position"]}  # fmt: skip


def equip_problems(badge_ids: list[int], owned: set[int], limit: int) -> dict[str, list[str]]:
    """The 422 field errors of an equip request (empty: fine)."""
    problems: list[str] = []
    if len(badge_ids) > limit:
        problems.append(f"At most {limit} badges may be equipped (badges_equipped_max).")
    if len(set(badge_ids)) != len(badge_ids):
        problems.append("A badge may be equipped once.")
    problems += [f"Badge {b} is not yours." for b in dict.fromkeys(badge_ids) if b not in owned]
    return {"badge_ids": problems} if problems else {}


def earned_event(row: dict[str, Any]) -> dict[str, Any]:
    """The `badge.earned` payload."""
    return {"badge": badge_out(row), "awarded_at": row["awarded_at"], "source": row["source"]}
