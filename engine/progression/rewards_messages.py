"""Typed schema of the reward ledger's server→client events (realtime-contract §3, Economy), sent to
every socket of the user it concerns (the Socket.IO room `user:<id>`), on any engine process."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec


class ItemOut(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["coins", "frame", "badge", "vip"]
    amount: int = 0
    """coins: how many."""
    ref: int = 0
    """frame: mall item id; vip: tier level; badge: badge id."""
    days: int = 0
    """frame/vip: duration in days (0: permanent frame)."""


class RewardEarned(msgspec.Struct, forbid_unknown_fields=True):
    """A reward was recorded for you (`state` claimable: claim it before `claim_by`) or paid to you."""

    id: int
    source: Literal["level", "ranking", "badge", "campaign", "daily_login", "vip_daily", "admin"]
    source_ref: str
    items: list[ItemOut]
    state: Literal["pending", "granted", "claimable", "claimed", "expired"]
    claim_by: dt.datetime | None
    note: str
    created_at: dt.datetime
    granted_at: dt.datetime | None


class BalanceUpdated(msgspec.Struct, forbid_unknown_fields=True):
    """Your balances after coins landed outside a gift (a reward) (realtime-contract §3)."""

    coins: int
    diamonds: int
    wealth_xp: str
    charm_xp: str


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "reward.earned": RewardEarned,
    "balance.updated": BalanceUpdated,
}
