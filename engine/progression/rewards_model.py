"""The reward ledger's pure part: items, states, the reward's ledger transaction and the VIP port."""

from __future__ import annotations

import uuid
from typing import Any, Literal, Protocol

import msgspec

from engine.economy.model import Leg, Txn, make_txn

SOURCES = ("level", "ranking", "badge", "campaign", "daily_login", "vip_daily", "admin")
State = Literal["pending", "granted", "claimable", "claimed", "expired"]
NAMESPACE = uuid.UUID("5b0c6a52-2f7e-4d1c-9a43-7f1de0a0c014")
MAX_ITEMS = 10


class RewardItem(msgspec.Struct, frozen=True):
    kind: Literal["coins", "frame", "badge", "vip"]  # frame/vip: ref = mall item id / vip tier; badge: badge id
    amount: int = 0  # coins: how many
    ref: int = 0  # frame: mall_items.id; vip: tier level; badge: badges.id
    days: int = 0  # frame/vip: duration


class VipGranter(Protocol):
    """The VIP part's port (engine.vip implements it, create_app plugs it in): rewards never import vip."""

    async def grant_days(self, conn: Any, user_id: int, tier: int, days: int, ref: str) -> None: ...


class RewardError(ValueError):
    """A reward that cannot be recorded as asked (a programming error of the caller)."""


def check_items(source: str, items: list[RewardItem], vip_plugged: bool) -> None:
    if source not in SOURCES:
        raise RewardError(f"unknown reward source {source!r}")
    if not items or len(items) > MAX_ITEMS:
        raise RewardError(f"a reward has 1 to {MAX_ITEMS} items")
    for it in items:
        if it.kind == "coins" and it.amount <= 0:
            raise RewardError("a coins item needs a positive amount")
        if it.kind in ("frame", "vip", "badge") and it.ref <= 0:
            raise RewardError(f"a {it.kind} item needs a ref")
        if it.kind in ("frame", "vip") and it.days < 0:
            raise RewardError("days may not be negative")
        if it.kind == "vip" and (it.days <= 0 or not vip_plugged):
            raise RewardError("a vip item needs days > 0 and the VIP port plugged in (none is)")


def coins_of(items: list[RewardItem]) -> int:
    return sum(it.amount for it in items if it.kind == "coins")


def reward_txn_id(user_id: int, source: str, source_ref: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{user_id}:{source}:{source_ref}"))


def idempotency_key(reward_id: int) -> str:
    return f"reward:{reward_id}"


def reward_txn(row: dict[str, Any]) -> Txn:
    """The reward's coins minted into the user's live wallet (its leg first)."""
    coins = coins_of(decode_items(row["items"]))
    return make_txn(
        "reward",
        [Leg("user", row["user_id"], "coins", coins), Leg("mint", 0, "coins", -coins)],
        txn_id=str(row["txn_id"]), ref_type="reward", ref_id=str(row["id"]),
        metadata={"source": row["source"], "source_ref": row["source_ref"], "reward_id": row["id"]},
    )  # fmt: skip


def encode_items(items: list[RewardItem]) -> str:
    return msgspec.json.encode(items).decode()


def decode_items(raw: Any) -> list[RewardItem]:
    if isinstance(raw, str):
        return msgspec.json.decode(raw, type=list[RewardItem])
    return msgspec.convert(raw, list[RewardItem])


def item_out(row: dict[str, Any]) -> dict[str, Any]:
    """A reward as the API and `reward.earned` show it."""
    return {
        "id": row["id"], "source": row["source"], "source_ref": row["source_ref"],
        "items": [msgspec.to_builtins(i) for i in decode_items(row["items"])], "state": row["state"],
        "claim_by": row["claim_by"], "note": row["note"], "created_at": row["created_at"],
        "granted_at": row["granted_at"],
    }  # fmt: skip
