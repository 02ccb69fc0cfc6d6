"""What a VIP level means where the rooms and gifts read it: the one expiry rule and a tier's
privileges. Pure. It lives under accounts (below rooms and gifts) because those read it through
their hot cache; the VIP domain itself (engine/vip/) sells and applies the tiers. docs/vip.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

FLSVIP = 7
LEVELS = range(1, FLSVIP + 1)
Asset = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]


def vip_level_at(level: int | None, expires_at: dt.datetime | None, now: dt.datetime) -> int:
    """The VIP level in force at `now`: the stored level until its expiry, 0 from the expiry on
    (whether or not the expiry job has cleared the row yet) and for a row without an expiry."""
    if not level or expires_at is None or expires_at <= now:
        return 0
    return int(level)


class VipPrivileges(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A tier's privileges (`vip_tiers.privileges`). Gifts and mall items a tier unlocks are named
    by their own `vip_level_required` columns, not here."""

    anti_mute: bool = False
    """seat:mute by a room owner or admin is refused (staff still may)."""
    anti_kick: bool = False
    """seat:remove by the room owner is refused (staff still may)."""
    entry_effect: Asset | None = None
    """Shown on join: `vip_entry_effect` in the profile of the join snapshot and room:userJoined."""
    badge: Asset | None = None
    """`vip_badge` in the same profile."""
    chat_bubble: Asset | None = None
    """`userVipBubble` in the holder's chat:message."""
    gift_xp_multiplier_bps: Annotated[int, Meta(ge=10_000, le=100_000)] = 10_000
    """Wealth XP per coin of the holder's gifts, times this / 10000."""
    daily_bonus_coins: Annotated[int, Meta(ge=0, le=1_000_000)] = 0
    """Coins granted once per business day while the tier is held (reward source `vip_daily`)."""


NO_PRIVILEGES = VipPrivileges()
_decoder = msgspec.json.Decoder(VipPrivileges)


def decode_privileges(raw: str | bytes | dict[str, object]) -> VipPrivileges:
    if isinstance(raw, dict):
        return msgspec.convert(raw, VipPrivileges)
    return _decoder.decode(raw)


def privileges_at(tiers: dict[int, VipPrivileges], level: int) -> VipPrivileges:
    """What a level in force grants (level 0 or an unknown tier: nothing)."""
    return tiers.get(level, NO_PRIVILEGES) if level else NO_PRIVILEGES
