"""VIP: request bodies (limits in the types), the tier view, and the time arithmetic of a purchase,
a renewal, an upgrade and a lower tier bought while a higher one is held. Pure (docs/vip.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.vip_model import FLSVIP, VipPrivileges, decode_privileges, vip_level_at
from engine.errors import DomainError
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

MONTH_SECONDS = 30 * 86400  # a VIP month is 30 days, whatever the calendar month
DAY_SECONDS = 86400
Tier = Annotated[int, Meta(ge=1, le=FLSVIP)]
Months = Annotated[int, Meta(ge=1, le=120)]  # the economy setting vip_max_months bounds it further
Key = Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")]
UserId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Mode = Literal["new", "renew", "upgrade", "converted"]
Kind = Literal["purchase", "gift", "reward"]


class PurchaseBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/vip/purchase: buy (or renew, or upgrade to) a tier for whole months."""

    tier: Tier
    months: Months
    idempotency_key: Key


class GiftBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/vip/gift: the caller pays, `user_id` gets the tier."""

    user_id: UserId
    tier: Tier
    months: Months
    idempotency_key: Key


class TierBody(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/admin/vip/tiers/{level}: the tier's name, monthly price, privileges and sale state."""

    name: Annotated[str, Meta(min_length=1, max_length=20)]
    price_coins: Annotated[int, Meta(ge=1, le=10**12)]
    privileges: VipPrivileges
    is_active: bool = True


class HistoryQuery(msgspec.Struct):
    """GET /api/v1/me/vip/purchases: newest first."""

    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Standing:
    """A user's stored VIP (`users.vip_level`, `users.vip_expires_at`)."""

    level: int
    expires_at: dt.datetime | None

    def at(self, now: dt.datetime) -> int:
        return vip_level_at(self.level, self.expires_at, now)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying bought time does to a user's VIP."""

    level: int
    expires_at: dt.datetime
    mode: Mode


def whole_seconds(now: dt.datetime) -> dt.datetime:
    """Expiries are whole seconds (the arithmetic below rounds down to the second)."""
    return now.replace(microsecond=0)


def apply_time(current: Standing, tier: int, seconds: int, prices: dict[int, int], now: dt.datetime) -> Outcome:
    """The VIP after adding `seconds` of `tier` at `now` (a whole second), by the rules of docs/vip.md:

    - none in force: the tier from now for `seconds`;
    - the same tier: renewal, `seconds` added to the current expiry;
    - a higher tier: upgrade, the new tier from now for `seconds` plus the remaining time of the old
      tier converted by the price ratio (remaining × old price ÷ new price, rounded down);
    - a lower tier (only when it is applied after the 409 check passed: a race, a sweep, a reward):
      its value goes into the tier held, `seconds` × its price ÷ the held tier's price, rounded down.
    """
    held = current.at(now)
    if held == 0:
        return Outcome(tier, now + dt.timedelta(seconds=seconds), "new")
    assert current.expires_at is not None
    if held == tier:
        return Outcome(tier, current.expires_at + dt.timedelta(seconds=seconds), "renew")
    if tier > held:
        remaining = int((current.expires_at - now).total_seconds())
        converted = remaining * prices[held] // prices[tier]
        return Outcome(tier, now + dt.timedelta(seconds=seconds + converted), "upgrade")
    added = seconds * prices[tier] // prices[held]
    return Outcome(held, current.expires_at + dt.timedelta(seconds=added), "converted")


def check_not_downgrade(current: Standing, tier: int, now: dt.datetime) -> None:
    """A purchase or gift of a tier below the one in force is refused before any coin moves."""
    held = current.at(now)
    if tier < held:
        message = f"{tier_name(held)} is in force until it ends: buy the same tier or a higher one."
        raise DomainError("vip_downgrade", message, status=409)


def tier_name(level: int) -> str:
    return "FLSVIP" if level == FLSVIP else f"VIP{level}"


def tier_json(row: dict[str, Any]) -> dict[str, Any]:
    privileges = row["privileges"]
    return {
        "level": row["level"], "name": row["name"], "price_coins": int(row["price_coins"]),
        "month_days": MONTH_SECONDS // DAY_SECONDS, "is_active": row["is_active"],
        "privileges": msgspec.to_builtins(decode_privileges(privileges)),
    }  # fmt: skip


def iso(at: dt.datetime | None) -> str | None:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def my_vip_json(standing: Standing, privileges: VipPrivileges | None, now: dt.datetime) -> dict[str, Any]:
    """GET /api/v1/me/vip: the level in force (0 once expired), its expiry and privileges."""
    level = standing.at(now)
    return {
        "level": level, "name": tier_name(level) if level else None,
        "expires_at": iso(standing.expires_at) if level else None,
        "privileges": msgspec.to_builtins(privileges) if level and privileges is not None else None,
    }  # fmt: skip


def purchase_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "kind": row["kind"], "status": row["status"], "tier": row["tier"],
        "months": row["months"], "price_coins": int(row["price_coins"]), "buyer_id": row["buyer_id"],
        "recipient_id": row["recipient_id"], "mode": row["mode"], "level": row["level_after"],
        "expires_at": iso(row["expires_after"]), "txn_id": str(row["txn_id"]),
    }  # fmt: skip
