"""Typed schema of the badges' server→client event (realtime-contract §3, Achievement), sent to every
socket of the user who earned the badge (the Socket.IO room `user:<id>`), on any engine process."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec


class Badge(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    code: str
    name: str
    description: str
    category: Literal["achievement", "activity", "personal", "room", "event"]
    rarity: Literal["common", "rare", "epic", "legendary"]
    icon_url: str
    rule: dict[str, Any]
    """`{"kind": ...}`: first_gift_sent, gifts_sent {count}, gifts_received {count}, followers {count},
    vip_tier {level}, days_active {days}, ranking_top {board, period, top}, event {code}, manual."""
    is_active: bool
    sort: int


class BadgeEarned(msgspec.Struct, forbid_unknown_fields=True):
    """You earned a badge (once per badge): `source` says how (`rule`, `reward:<id>`,
    `ranking:<board>:<period>:<start>`, `event:<code>`)."""

    badge: Badge
    awarded_at: dt.datetime
    source: str


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "badge.earned": BadgeEarned,
}
