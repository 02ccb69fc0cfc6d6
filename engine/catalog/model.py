"""What staff edit in the catalog (issue 15 §7): gifts, the mall's frames, themes and entry effects,
and recharge packages. The bodies (limits in the types), the kinds and their tables, and the sale
window's state. No I/O. (Badges, VIP tiers and level ladders have their own domains' actions.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.errors import validation_error

Name100 = Annotated[str, Meta(min_length=1, max_length=100)]
Src = Annotated[str, Meta(max_length=500, pattern=r"^(https?://|/)\S*$")]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
When = Annotated[dt.datetime, Meta(tz=True)]
Coins = Annotated[int, Meta(ge=0, le=10**12)]
VipLevel = Annotated[int, Meta(ge=0, le=100)]
Kind = Literal["gift", "frame", "theme", "entry_effect", "package"]
MALL_KINDS = ("frame", "theme", "entry_effect")


class GiftBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name100
    price: Annotated[int, Meta(ge=1, le=10**12)]
    category: Literal["normal", "lucky", "cp", "vip", "country"] = "normal"
    rarity: Literal["common", "rare", "epic", "legendary"] = "common"
    static_src: Src | None = None
    animated_src: Src | None = None
    animated_file_type: Literal["svga", "mp4"] | None = None
    animation_duration: Annotated[int, Meta(ge=0, le=600_000)] | None = None
    """Milliseconds."""
    sound_src: Src | None = None
    vip_level_required: VipLevel = 0
    country: Country | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    is_active: bool = False


class MallItemBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=60)]
    price: Coins
    static_src: Src | None = None
    animated_src: Src | None = None
    valid_duration: Annotated[int, Meta(ge=0, le=10 * 365 * 86_400)] | None = None
    """Seconds a purchase lasts; empty or 0: permanent."""
    vip_level_required: VipLevel = 0
    is_active: bool = False


class PackageBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name100
    coins: Annotated[int, Meta(ge=1, le=10**12)]
    price_cents: Annotated[int, Meta(ge=1, le=10**10)]
    bonus_coins: Coins = 0
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")] = "USD"
    country: Country | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    is_active: bool = False


Body = GiftBody | MallItemBody | PackageBody


@dataclass(frozen=True)
class KindInfo:
    kind: str
    label: str
    table: str
    body: type[GiftBody] | type[MallItemBody] | type[PackageBody]
    windowed: bool  # has a sale window (starts_at, ends_at)


KINDS: dict[str, KindInfo] = {
    "gift": KindInfo("gift", "Gifts", "gifts", GiftBody, True),
    "frame": KindInfo("frame", "Frames", "mall_items", MallItemBody, False),
    "theme": KindInfo("theme", "Room themes", "mall_items", MallItemBody, False),
    "entry_effect": KindInfo("entry_effect", "Entry effects", "mall_items", MallItemBody, False),
    "package": KindInfo("package", "Recharge packages", "recharge_packages", PackageBody, True),
}


def values_of(info: KindInfo, body: Body) -> dict[str, Any]:
    """The row's columns for a body (a mall item's category is its kind); 422 for a window that
    ends before it starts."""
    values = {f: getattr(body, f) for f in body.__struct_fields__}
    if info.windowed and values["starts_at"] and values["ends_at"] and values["ends_at"] <= values["starts_at"]:
        raise validation_error({"ends_at": ["The window must end after it starts."]})
    if info.table == "mall_items":
        values["category"] = info.kind
    return values


def window_state(row: dict[str, Any], now: dt.datetime) -> str:
    """inactive (switched off), scheduled (before its window), ended (after it) or live."""
    if not row["is_active"]:
        return "inactive"
    if row.get("starts_at") is not None and row["starts_at"] > now:
        return "scheduled"
    if row.get("ends_at") is not None and row["ends_at"] <= now:
        return "ended"
    return "live"


def audit_view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row as the audit log keeps it (timestamps as text)."""
    if row is None:
        return None
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}
