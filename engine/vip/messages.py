"""Typed schema of the VIP domain's server→client events (realtime-contract §3 `vip.updated`,
`vip.gifted`), gathered by engine/messages.py."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class VipUpdated(msgspec.Struct, forbid_unknown_fields=True):
    """The user's VIP changed (to every socket of theirs): bought, renewed, upgraded, gifted,
    granted by a reward, or expired (level 0). Privileges change at once on their live sockets."""

    level: int
    name: str | None
    expires_at: str | None
    reason: Literal["purchase", "gift", "reward", "expired"]
    privileges: dict[str, Any] | None


class VipGifted(msgspec.Struct, forbid_unknown_fields=True):
    """Someone gave the user VIP (`vip.updated` follows with the new standing)."""

    purchase_id: int
    from_user_id: int
    from_name: str
    tier: int
    months: int
    level: int
    expires_at: str | None


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {"vip.updated": VipUpdated, "vip.gifted": VipGifted}
